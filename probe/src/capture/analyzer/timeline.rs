//! The stage timeline of a finished connection.

use crate::diagnose::StageRecord;
use crate::diagnose::{Stage, StageStatus};

use super::conn::*;

/// The stage timeline: TCP, then every stage in `events` (the connection's, an RD Gateway's,
/// or its inner connection's), the one that stopped marked failed.
pub(super) fn timeline_of(
    c: &Conn,
    events: &[crate::capture::rdp::Event],
    stopped_at: Option<Stage>,
) -> Vec<StageRecord> {
    let t0 = c.first_ts;
    let mut out = Vec::new();
    let tcp_status = match stopped_at {
        Some(Stage::Tcp) => StageStatus::Failed,
        _ if c.established_ts.is_some() || c.synack_ts.is_some() => StageStatus::Ok,
        _ => StageStatus::Skipped,
    };
    let tcp_end = c.established_ts.or(c.synack_ts).unwrap_or(c.last_ts);
    out.push(StageRecord {
        name: Stage::Tcp,
        status: tcp_status,
        elapsed_ms: ms(tcp_end - t0),
        detail: match (c.syn_ts, c.synack_ts) {
            (Some(a), Some(b)) => format!("SYN/SYN-ACK {:.2} ms", (b - a) as f64 / 1e6),
            (Some(_), None) => "no SYN-ACK".into(),
            _ => "midstream (no handshake in the capture)".into(),
        },
    });
    let mut by_stage: Vec<(Stage, i64, bool, String)> = Vec::new();
    for e in events {
        if let Some(x) = by_stage.iter_mut().find(|x| x.0 == e.stage) {
            x.1 = e.ts_ns;
            x.2 |= e.done;
            x.3 = e.detail.clone();
        } else {
            by_stage.push((e.stage, e.ts_ns, e.done, e.detail.clone()));
        }
    }
    by_stage.sort_by_key(|x| x.0);
    for (i, (name, ts, done, detail)) in by_stage.iter().enumerate() {
        let later = by_stage.get(i + 1).is_some();
        // A stage whose end was not seen still passed if a later one began.
        let status = if Some(*name) == stopped_at {
            StageStatus::Failed
        } else if *done || later {
            StageStatus::Ok
        } else {
            StageStatus::Started
        };
        out.push(StageRecord {
            name: *name,
            status,
            elapsed_ms: ms(ts - t0),
            detail: detail.clone(),
        });
    }
    if let Some(st) = stopped_at {
        if !out.iter().any(|x| x.name == st) {
            out.push(StageRecord {
                name: st,
                status: StageStatus::Failed,
                elapsed_ms: ms(c.last_ts - t0),
                detail: ended_by(c),
            });
        }
    }
    out
}
