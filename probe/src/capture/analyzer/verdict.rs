//! A finished connection's report: TCP counters, the RDP facts, and the findings the rules in
//! [`crate::diagnose`] raise from them.

use crate::diagnose::transport::{self, Establishment};
use crate::diagnose::{self, rules, Finding, FindingId, Stage, StageStatus};
use crate::facts::cert;
use crate::facts::rdp::Side;
use crate::facts::tcp::ConnState;
use crate::facts::x224::Confirm;
use crate::report::capture::{Certificate, Connection, RdpReport, TcpReport};
use crate::time::rfc3339;
use rdp_proto::nego::SecurityProtocol;

use super::conn::*;
use super::timeline::timeline;

pub(super) fn build(c: Conn, rdp_port: bool, certs: &mut cert::Cache) -> Connection {
    let state = conn_state(&c);
    let s = c.session();
    let now_s = c.first_ts.div_euclid(1_000_000_000);
    let start = rfc3339(now_s);
    let counters = c.seq[0].counters.merge(&c.seq[1].counters);
    let (cp, sp) = (c.seq[0].counters.packets, c.seq[1].counters.packets);
    let reset_by = c
        .first_rst
        .map(|(d, ..)| if d == 0 { Side::Client } else { Side::Server });
    let mut tcp = TcpReport {
        state,
        history: c.history.as_str().to_owned(),
        syn_rtt_ms: match (c.syn_ts, c.synack_ts) {
            (Some(a), Some(b)) if b >= a => Some(ms(b - a)),
            _ => None,
        },
        packets: counters.packets,
        bytes: counters.bytes,
        client_packets: cp,
        server_packets: sp,
        client_bytes: c.seq[0].counters.bytes,
        server_bytes: c.seq[1].counters.bytes,
        retransmissions: counters.retransmissions,
        fast_retransmissions: counters.fast_retransmissions,
        spurious_retransmissions: counters.spurious_retransmissions,
        lost_segments: counters.lost_segments,
        out_of_order: counters.out_of_order,
        dup_acks: counters.dup_acks,
        zero_windows: counters.zero_windows,
        keep_alives: counters.keep_alives,
        reset_by,
        reset_stage: c.first_rst.and_then(|(.., st)| st),
        injected_resets: c.injected_resets,
        conflicting_overlaps: c.payload.as_ref().map_or(0, |p| {
            p.reasm[0].conflicting_overlaps + p.reasm[1].conflicting_overlaps
        }),
        gap_bytes: c
            .payload
            .as_ref()
            .map_or(0, |p| p.reasm[0].gap_bytes + p.reasm[1].gap_bytes),
        role_guessed: c.role_guessed,
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut stopped_at: Option<Stage> = None;
    // Encrypted bulk data both ways (past any CredSSP exchange), or fast-path traffic.
    let reached_bulk = s.reached == Stage::Active || (s.appdata().0 >= 4 && s.appdata().1 >= 4);
    let midstream = c.syn_ts.is_none() && c.synack_ts.is_none();

    // TCP establishment.
    let establishment = match state {
        ConnState::REJ => Some(Establishment::Refused),
        ConnState::S0 | ConnState::SH => Some(Establishment::Unanswered {
            syns: c.seq[0].counters.packets,
        }),
        ConnState::RSTOS0 => Some(Establishment::ClientGaveUp),
        _ => None,
    };
    if let Some(e) = establishment {
        stopped_at = Some(Stage::Tcp);
        findings.push(transport::establishment(e, &c.server.to_string()));
    }

    let mut rdp = None;
    if s.is_rdp {
        let f = &s.rdp;
        let mut r = RdpReport::from(f);
        if let Some(code) = f.confirm.as_ref().and_then(Confirm::failure) {
            stopped_at = Some(Stage::X224);
            findings.push(rules::negotiation_failure(code, f.requested));
        }
        if let Some(c) = &f.confirm {
            let (of_confirm, stops) = rules::confirm(c, f.requested);
            if stops {
                stopped_at.get_or_insert(Stage::X224);
            }
            findings.extend(of_confirm);
        }
        if let Some(sel) = s.selected() {
            findings.extend(rules::open_layers(rules::OpenLayers {
                rdp: sel.is_empty(),
                rdp_only_legacy: f.confirm.is_some_and(|c| c.is_legacy()),
                ssl: sel.contains(SecurityProtocol::SSL) && !sel.is_nla(),
            }));
        }
        if let Some(sec) = f
            .connect_response
            .as_ref()
            .and_then(|f| f.security.as_ref())
        {
            findings.extend(rules::weak_rdp_encryption(&[sec.method], Some(sec.level)));
            findings.extend(rules::weak_proprietary_key(sec.rsa_bits));
        }
        let when = format!("capture time {start}");
        if let Some(cert_der) = f.rdp_x509_chain.last() {
            if let Some(facts) = certs.parse(cert_der) {
                findings.extend(rules::certificate(&facts, now_s, &when));
            }
        }
        if let Some(t) = r.tls.as_mut() {
            if let Some(der) = f.tls_chain.first() {
                if let Some(facts) = certs.parse(der) {
                    t.certificate = Some(Certificate::from_facts(&facts, now_s));
                    findings.extend(rules::certificate(&facts, now_s, &when));
                }
            }
        }
        if let Some((dir, alert)) = f.tls.as_ref().and_then(|t| t.alert) {
            if !s.tls_established() {
                stopped_at.get_or_insert(Stage::Tls);
                findings.push(rules::tls_alert(dir.sender(), &alert));
            }
        }
        if let Some(e) = f.session.error_info {
            let stage = s.error_stage.unwrap_or(Stage::Capabilities);
            let f = rules::set_error_info(e, stage);
            if rules::error_info_stops(&f) {
                stopped_at.get_or_insert(stage);
            }
            findings.push(f);
        }
        if let Some((code, transition)) = f.session.licensing.error {
            findings.extend(rules::licensing(code, transition));
        }
        rdp = Some(r);
        let open_at_end = !(c.dirs[0].fin || c.dirs[1].fin || c.dirs[0].rst || c.dirs[1].rst);
        if stopped_at.is_none() && !reached_bulk && !midstream {
            let due = due_stage_from_start(&c, s);
            let waited = c.last_ts - c.first_ts;
            if let (Stage::X224, Some(what)) = (due, &s.not_rdp) {
                stopped_at = Some(due);
                findings.push(transport::not_rdp(what));
            } else if open_at_end && !(due == Stage::X224 && waited > 5_000_000_000) {
                // Still open when the capture ends: nothing failed that we can see.
            } else {
                stopped_at = Some(due);
                let text = ended_by(&c);
                let tls_failed = findings
                    .iter()
                    .any(|f| f.id == FindingId::TlsHandshakeFailed);
                if !(due == Stage::Tls && tls_failed) {
                    findings.extend(transport::ended_during(
                        due,
                        &ending(&c, &text),
                        s.appdata(),
                        s.rdp.ended_by,
                    ));
                }
            }
        }
    } else if rdp_port && !midstream && stopped_at.is_none() {
        // A connection to an RDP port that never spoke RDP.
        let connected = c.established_ts.is_some() || c.payload_seen[0];
        if let Some(what) = &s.not_rdp {
            stopped_at = Some(if connected { Stage::X224 } else { Stage::Tcp });
            findings.push(transport::not_rdp(what));
        } else {
            let text = ended_by(&c);
            let f = transport::silent_rdp_port(&ending(&c, &text), c.payload_seen[0]);
            // Connected, nothing sent: a port check or a client that gave up.
            if f.is_some() || !connected {
                stopped_at = Some(if connected { Stage::X224 } else { Stage::Tcp });
            }
            findings.extend(f);
        }
    }
    if midstream && state == ConnState::OTH {
        tcp.role_guessed = c.role_guessed;
    }

    // Resets.
    if let Some((d, _, st)) = c.first_rst {
        let normal_end = c.first_fin == Some(0) && d == 1; // mstsc: client FIN, then server RST
        if !normal_end && state != ConnState::REJ && state != ConnState::RSTOS0 {
            findings.push(transport::reset(d == 1, st, stopped_at.is_some()));
        }
    }
    if c.injected_resets > 0 {
        findings.push(transport::injected_reset(
            c.injected_detail.as_deref().unwrap_or_default(),
        ));
    }
    // SYN retries of a connection that never got an answer are not path loss.
    let established = c.synack_ts.is_some() || midstream;
    findings.extend(transport::loss(
        established,
        counters.retransmissions,
        counters.lost_segments,
        counters.packets,
    ));
    findings.extend(transport::zero_window(counters.zero_windows));

    let stages = timeline(&c, stopped_at);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = diagnose::verdict(&findings);
    let mstsc = diagnose::mstsc::view(
        &findings,
        stopped_at.is_some(),
        s.rdp.session.error_info.map(|e| e.0),
    );
    let diagnosis = diagnose::diagnosis::diagnose(&diagnose::diagnosis::Outcome {
        findings: &findings,
        stopped_at,
        reached: stages
            .iter()
            .filter(|s| s.status == StageStatus::Ok)
            .map(|s| s.name)
            .max(),
        layer: s.is_rdp.then(|| s.selected()).flatten(),
        nla_required: None,
        mstsc: mstsc.as_ref(),
        no_credentials: false,
        passive: true,
    });
    Connection {
        client: c.client.to_string(),
        server: c.server.to_string(),
        start,
        duration_ms: ms(c.last_ts - c.first_ts),
        verdict,
        stopped_at,
        stages,
        tcp,
        rdp,
        mstsc,
        diagnosis,
        findings,
        series: c
            .payload
            .as_ref()
            .and_then(|p| p.series.as_ref())
            .map(|s| s.report()),
        first_packet: c.first_packet,
    }
}
