//! A finished connection: its facts ([`ConnectionFacts`]) from the flow table's state and the
//! RDP reader, concluded by [`crate::diagnose::conclude::connection`], and its report built
//! from both.

use crate::diagnose::conclude;
use crate::diagnose::Stage;
use crate::facts::cert;
use crate::facts::connection::{ConnectionFacts, TcpFacts};
use crate::facts::kerberos::KrbEvent;
use crate::facts::rdp::Side;
use crate::report::capture::{Certificate, Connection, RdpReport, TcpReport};
use crate::time::rfc3339;

use super::conn::*;
use super::timeline::timeline;

pub(super) fn build(
    c: Conn,
    rdp_port: bool,
    certs: &mut cert::Cache,
    kerberos: &[KrbEvent],
) -> Connection {
    let state = conn_state(&c);
    let s = c.session();
    let now_s = c.first_ts.div_euclid(1_000_000_000);
    let start = rfc3339(now_s);
    let counters = c.seq[0].counters.merge(&c.seq[1].counters);
    let (cp, sp) = (c.seq[0].counters.packets, c.seq[1].counters.packets);
    let reset_by = c
        .first_rst
        .map(|(d, ..)| if d == 0 { Side::Client } else { Side::Server });
    let tcp = TcpReport {
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
    let rdp_facts = &s.rdp;
    let mut rdp = s.is_rdp.then(|| RdpReport::from(rdp_facts));
    let parse = |certs: &mut cert::Cache, der: Option<&Vec<u8>>| der.and_then(|d| certs.parse(d));
    let rdp_certificate = parse(certs, rdp_facts.rdp_x509_chain.last());
    let tls_certificate = parse(certs, rdp_facts.tls_chain.first());
    if let (Some(t), Some(cert)) = (rdp.as_mut().and_then(|r| r.tls.as_mut()), &tls_certificate) {
        t.certificate = Some(Certificate::from_facts(cert, now_s));
    }
    let side = |d: usize| if d == 0 { Side::Client } else { Side::Server };
    let facts = ConnectionFacts {
        tcp: TcpFacts {
            server: c.server.to_string(),
            state,
            syn: c.syn_ts.is_some(),
            synack: c.synack_ts.is_some(),
            established: c.established_ts.is_some(),
            client_spoke: c.payload_seen[0],
            server_spoke: c.payload_seen[1],
            first_rst: c.first_rst.map(|(d, _, st)| (side(d), st)),
            first_fin: c.first_fin.map(side),
            ended_by: ended_by(&c),
            client_ended_first: client_ended(&c),
            server_closed: c.dirs[1].fin || c.dirs[1].rst,
            open_at_end: !(c.dirs[0].fin || c.dirs[1].fin || c.dirs[0].rst || c.dirs[1].rst),
            duration_ns: c.last_ts - c.first_ts,
            injected_resets: c.injected_resets,
            injected_detail: c.injected_detail.clone(),
            client_packets: cp,
            packets: counters.packets,
            retransmissions: counters.retransmissions,
            lost_segments: counters.lost_segments,
            zero_windows: counters.zero_windows,
        },
        rdp: rdp_facts,
        is_rdp: s.is_rdp,
        not_rdp: s.not_rdp.as_deref(),
        rdp_port,
        tls_established: s.tls_established(),
        // Encrypted bulk data both ways (past any CredSSP exchange), or fast-path traffic.
        reached_bulk: s.reached == Stage::Active || (s.appdata().0 >= 4 && s.appdata().1 >= 4),
        error_stage: s.error_stage,
        due: due_stage_from_start(&c, s),
        tls_certificate,
        rdp_certificate,
        start: now_s,
        kerberos,
    };
    let conclusion = conclude::connection(&facts, |stopped| timeline(&c, stopped));
    Connection {
        client: c.client.to_string(),
        server: c.server.to_string(),
        start,
        duration_ms: ms(c.last_ts - c.first_ts),
        verdict: conclusion.verdict,
        stopped_at: conclusion.stopped_at,
        stages: conclusion.stages,
        tcp,
        rdp,
        mstsc: conclusion.mstsc,
        diagnosis: conclusion.diagnosis,
        findings: conclusion.findings,
        series: c
            .payload
            .as_ref()
            .and_then(|p| p.series.as_ref())
            .map(|s| s.report()),
        first_packet: c.first_packet,
    }
}
