//! One TCP connection's state in the flow table, and what it says once finished: its Zeek
//! conn_state, the stage it was in, who ended it.

use crate::facts::tcp::ConnState;
use std::sync::LazyLock;

use crate::capture::rdp::Session;
use crate::capture::tcp::{History, Reassembler, SeqState};
use crate::diagnose::Stage;

use super::flow::Endpoint;

#[derive(Debug, Default)]
pub(super) struct DirInfo {
    pub(super) syn: bool,
    pub(super) synack: bool,
    pub(super) fin: bool,
    pub(super) rst: bool,
    pub(super) isn: Option<u32>,
    pub(super) ttl_min: Option<u8>,
    pub(super) ttl_max: Option<u8>,
    pub(super) packets_before_rst: u64,
}

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) client: Endpoint,
    pub(super) server: Endpoint,
    pub(super) role_guessed: bool,
    pub(super) first_packet: u64,
    pub(super) first_ts: i64,
    pub(super) last_ts: i64,
    pub(super) syn_ts: Option<i64>,
    /// The most recent SYN before the handshake completed (Wireshark's `ts_mru_syn`): the
    /// initial RTT, the out-of-order threshold, runs from it.
    pub(super) last_syn_ts: Option<i64>,
    pub(super) synack_ts: Option<i64>,
    pub(super) established_ts: Option<i64>,
    pub(super) seq: [SeqState; 2],
    pub(super) dirs: [DirInfo; 2],
    pub(super) history: History,
    /// Reassembly and the RDP session, allocated with the first payload byte: a SYN-only flow
    /// (a scan) costs a few hundred bytes, not kilobytes.
    pub(super) payload: Option<Box<Payload>>,
    /// In the closed-flows queue already.
    pub(super) closed_queued: bool,
    /// (direction, timestamp, stage) of the first RST.
    /// `None` stage: unknown (a connection joined mid-way, before anything readable).
    pub(super) first_rst: Option<(usize, i64, Option<Stage>)>,
    pub(super) first_fin: Option<usize>,
    pub(super) first_fin_ts: i64,
    pub(super) injected_resets: u64,
    pub(super) injected_detail: Option<String>,
    pub(super) payload_seen: [bool; 2],
}

/// What a flow needs once it carries bytes.
#[derive(Debug, Default)]
pub(super) struct Payload {
    pub(super) reasm: [Reassembler; 2],
    pub(super) session: Session,
    /// A Kerberos flow's two streams (port 88), instead of the RDP session.
    pub(super) krb: [crate::capture::kerberos::KrbStream; 2],
    /// The connection over time (`Config::series`).
    pub(super) series: Option<Box<super::series::Series>>,
}

/// The session of a flow that carried no payload.
pub(super) static NO_SESSION: LazyLock<Session> = LazyLock::new(Session::new);

impl Conn {
    pub(super) fn session(&self) -> &Session {
        self.payload.as_ref().map_or(&NO_SESSION, |p| &p.session)
    }

    pub(super) fn closed(&self) -> bool {
        (self.dirs[0].fin && self.dirs[1].fin) || self.dirs[0].rst || self.dirs[1].rst
    }
}

/// The stage that was in progress (or due next) at this moment of the connection.
pub(super) fn due_stage(c: &Conn) -> Option<Stage> {
    let s = c.session();
    if s.rdp.joined_midstream {
        // Only what the capture shows: the last stage seen, if any.
        return (!s.events.is_empty()).then_some(s.reached);
    }
    Some(due_stage_from_start(c, s))
}

pub(super) fn due_stage_from_start(c: &Conn, s: &Session) -> Stage {
    if c.established_ts.is_none() && !c.payload_seen[0] {
        return Stage::Tcp;
    }
    // HTTPS: an RD Gateway's stages, then its inner connection's; else its TLS.
    if s.tls_first {
        return match s.gateway.as_deref() {
            Some(g) => match g.inner.as_deref() {
                Some(i) if i.is_rdp => due_stage_from_start(c, i),
                _ => g.events.last().map_or(Stage::GatewayHttp, |e| {
                    if e.done {
                        e.stage.after(None)
                    } else {
                        e.stage
                    }
                }),
            },
            None => Stage::Tls,
        };
    }
    if !s.is_rdp || s.selected().is_none() {
        return Stage::X224;
    }
    if s.reached == Stage::X224 || s.reached_done {
        return s.reached.after(s.selected());
    }
    s.reached
}

/// Zeek's conn_state.
pub(super) fn conn_state(c: &Conn) -> ConnState {
    let (o, r) = (&c.dirs[0], &c.dirs[1]);
    let orig_syn = o.syn;
    let resp_synack = r.synack;
    let established = orig_syn && resp_synack;
    if o.rst || r.rst {
        if established {
            return if o.rst && c.first_rst.is_some_and(|(d, ..)| d == 0) {
                ConnState::RSTO
            } else {
                ConnState::RSTR
            };
        }
        if orig_syn && !resp_synack {
            if r.rst && !o.rst {
                return ConnState::REJ;
            }
            return if o.rst {
                ConnState::RSTOS0
            } else {
                ConnState::REJ
            };
        }
        if resp_synack && !orig_syn {
            return if r.rst {
                ConnState::RSTRH
            } else {
                ConnState::RSTO
            };
        }
        return if c.first_rst.is_some_and(|(d, ..)| d == 0) {
            ConnState::RSTO
        } else {
            ConnState::RSTR
        };
    }
    if orig_syn && !resp_synack {
        return if o.fin { ConnState::SH } else { ConnState::S0 };
    }
    if resp_synack && !orig_syn {
        return if r.fin {
            ConnState::SHR
        } else {
            ConnState::OTH
        };
    }
    if established {
        return match (o.fin, r.fin) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S2,
            (false, true) => ConnState::S3,
            _ => ConnState::S1,
        };
    }
    ConnState::OTH
}

pub(super) fn ms(ns: i64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

pub(super) fn ended_by(c: &Conn) -> String {
    let who = |d: usize| if d == 0 { "the client" } else { "the server" };
    match (c.first_rst, c.first_fin) {
        (Some((r, rts, _)), Some(f)) if c.first_fin_ts <= rts => {
            if r == f {
                format!("{} closed the connection", who(f))
            } else {
                format!("{} closed the connection and {} reset it", who(f), who(r))
            }
        }
        (Some((d, ..)), _) => format!("{} reset the connection", who(d)),
        (None, Some(d)) => format!("{} closed the connection", who(d)),
        (None, None) => "the capture ends".to_owned(),
    }
}

/// The client ended the connection first (FIN or RST).
pub(super) fn client_ended(c: &Conn) -> bool {
    match (c.first_fin, c.first_rst) {
        (Some(f), Some((_, rts, _))) if c.first_fin_ts <= rts => f == 0,
        (_, Some((d, ..))) => d == 0,
        (Some(f), None) => f == 0,
        (None, None) => false,
    }
}
