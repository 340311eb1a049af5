//! A finished connection: its facts ([`ConnectionFacts`]) from the flow table's state and the
//! RDP reader, concluded by [`crate::diagnose::conclude::connection`], and its report built
//! from both.

use crate::capture::rdp::Session;
use crate::diagnose::conclude;
use crate::diagnose::Stage;
use crate::facts::cert;
use crate::facts::connection::{ConnectionFacts, TcpFacts};
use crate::facts::kerberos::KrbEvent;
use crate::facts::rdp::Side;
use crate::report::capture::{Certificate, Connection, HttpsReport, RdpReport, TcpReport};
use crate::report::gateway::GatewayReport;
use crate::time::rfc3339;

use super::conn::*;
use super::timeline::timeline_of;

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
    // HTTPS is never judged as RDP: its TCP, and what it is when decrypted.
    let rdp_port = rdp_port && !s.tls_first;
    let (rdp, mut conclusion) =
        conclude_session(&c, s, tcp_facts(&c, state), rdp_port, certs, kerberos);
    let mut https = None;
    let mut gateway = None;
    let mut inner = None;
    if s.tls_first {
        let h = https_report(s, certs, now_s);
        match s.gateway.as_deref().filter(|g| g.recognized) {
            Some(g) => {
                let (report, nested) =
                    gateway_conclusion(&c, s, g, &mut conclusion, certs, kerberos);
                gateway = Some(report);
                inner = nested;
            }
            None if conclusion.stopped_at.is_none() => {
                let name = h.sni.clone().unwrap_or_else(|| c.server.to_string());
                conclusion.diagnosis.headline = if h.decrypted {
                    format!("HTTPS to {name}, decrypted: not an RD Gateway (no RDG_OUT_DATA or RDG_IN_DATA request)")
                } else {
                    format!("HTTPS to {name}, not decrypted: an RD Gateway's connection is read with its key (--keylog FILE)")
                };
            }
            None => {}
        }
        https = Some(h);
    }
    Connection {
        client: c.client.to_string(),
        server: c.server.to_string(),
        start,
        duration_ms: ms(c.last_ts - c.first_ts),
        verdict: conclusion.verdict,
        stopped_at: conclusion.stopped_at,
        stages: conclusion.stages,
        tcp,
        rdp: rdp.map(Box::new),
        https: https.map(Box::new),
        gateway: gateway.map(Box::new),
        inner,
        mstsc: conclusion.mstsc,
        diagnosis: conclusion.diagnosis,
        findings: conclusion.findings,
        series: c
            .payload
            .as_ref()
            .and_then(|p| p.series.as_ref())
            .map(|s| Box::new(s.report())),
        first_packet: c.first_packet,
    }
}

/// The TCP facts of a finished flow.
fn tcp_facts(c: &Conn, state: crate::facts::tcp::ConnState) -> TcpFacts {
    let counters = c.seq[0].counters.merge(&c.seq[1].counters);
    let side = |d: usize| if d == 0 { Side::Client } else { Side::Server };
    TcpFacts {
        server: c.server.to_string(),
        state,
        syn: c.syn_ts.is_some(),
        synack: c.synack_ts.is_some(),
        established: c.established_ts.is_some(),
        client_spoke: c.payload_seen[0],
        server_spoke: c.payload_seen[1],
        first_rst: c.first_rst.map(|(d, _, st)| (side(d), st)),
        first_fin: c.first_fin.map(side),
        ended_by: ended_by(c),
        client_ended_first: client_ended(c),
        server_closed: c.dirs[1].fin || c.dirs[1].rst,
        open_at_end: !(c.dirs[0].fin || c.dirs[1].fin || c.dirs[0].rst || c.dirs[1].rst),
        duration_ns: c.last_ts - c.first_ts,
        injected_resets: c.injected_resets,
        injected_detail: c.injected_detail.clone(),
        client_packets: c.seq[0].counters.packets,
        packets: counters.packets,
        retransmissions: counters.retransmissions,
        lost_segments: counters.lost_segments,
        zero_windows: counters.zero_windows,
    }
}

/// The RDP report and conclusion of `s`, the flow's own session or an RD Gateway's inner one.
fn conclude_session(
    c: &Conn,
    s: &Session,
    tcp: TcpFacts,
    rdp_port: bool,
    certs: &mut cert::Cache,
    kerberos: &[KrbEvent],
) -> (Option<RdpReport>, conclude::Conclusion) {
    let now_s = c.first_ts.div_euclid(1_000_000_000);
    let rdp_facts = &s.rdp;
    let mut rdp = s.is_rdp.then(|| RdpReport::from(rdp_facts));
    let parse = |certs: &mut cert::Cache, der: Option<&Vec<u8>>| der.and_then(|d| certs.parse(d));
    let rdp_certificate = parse(certs, rdp_facts.rdp_x509_chain.last());
    let tls_certificate = parse(certs, rdp_facts.tls_chain.first());
    if let (Some(t), Some(cert)) = (rdp.as_mut().and_then(|r| r.tls.as_mut()), &tls_certificate) {
        t.certificate = Some(Certificate::from_facts(cert, now_s));
    }
    let facts = ConnectionFacts {
        tcp,
        rdp: rdp_facts,
        is_rdp: s.is_rdp,
        not_rdp: s.not_rdp.as_deref(),
        rdp_port,
        tls_established: s.tls_established(),
        // Encrypted bulk data both ways (past any CredSSP exchange), or fast-path traffic.
        reached_bulk: s.reached == Stage::Active || (s.appdata().0 >= 4 && s.appdata().1 >= 4),
        error_stage: s.error_stage,
        due: due_stage_from_start(c, s),
        tls_certificate,
        rdp_certificate,
        start: now_s,
        kerberos,
    };
    let conclusion = conclude::connection(&facts, |stopped| timeline_of(c, &s.events, stopped));
    (rdp, conclusion)
}

/// What a connection that began with a TLS ClientHello shows without (or before) its key: the
/// name asked for and the certificate answered.
fn https_report(s: &Session, certs: &mut cert::Cache, now_s: i64) -> HttpsReport {
    let t = s.rdp.tls.as_ref();
    HttpsReport {
        sni: t.and_then(|t| t.sni.clone()),
        version: t.and_then(|t| t.server.map(|sh| sh.version.label())),
        certificate: s
            .rdp
            .tls_chain
            .first()
            .and_then(|d| certs.parse(d))
            .map(|c| Certificate::from_facts(&c, now_s)),
        decrypted: s.rdp.decryption.is_some_and(|d| d.decrypted()),
        rd_gateway: s.gateway.as_ref().is_some_and(|g| g.recognized),
    }
}

/// An RD Gateway connection: its stages and findings on the outer connection, its inner RDP
/// connection concluded on its own (and its verdict carried up).
fn gateway_conclusion(
    c: &Conn,
    s: &Session,
    g: &crate::capture::rdp::GatewayReader,
    outer: &mut conclude::Conclusion,
    certs: &mut cert::Cache,
    kerberos: &[KrbEvent],
) -> (GatewayReport, Option<Box<Connection>>) {
    use crate::diagnose::{gateway as rules, verdict};
    let mut gf_cert = None;
    let mut gf = g.facts.clone();
    if gf.host.is_empty() {
        gf.host = c.server.ip.to_string();
    }
    gf.port = c.server.port;
    gf.address = Some(c.server.ip);
    let f = &gf;
    let who = c.server.to_string();
    // The outer timeline: TCP, TLS (the gateway's), the gateway's own stages.
    let mut events: Vec<crate::capture::rdp::Event> = s
        .events
        .iter()
        .filter(|e| e.stage == Stage::Tls)
        .map(|e| crate::capture::rdp::Event {
            stage: Stage::GatewayTls,
            ..e.clone()
        })
        .collect();
    events.extend(g.events.iter().cloned());
    let mut findings: Vec<crate::diagnose::Finding> = Vec::new();
    let mut stopped = None;
    // The gateway's certificate, judged as mstsc judges it (for the name the client used).
    let now_s = c.first_ts.div_euclid(1_000_000_000);
    if let Some(cert) = s.rdp.tls_chain.first().and_then(|d| certs.parse(d)) {
        let name = s
            .rdp
            .tls
            .as_ref()
            .and_then(|t| t.sni.clone())
            .unwrap_or_else(|| f.host.clone());
        findings.extend(rules::certificate(&cert, now_s, &name));
        gf_cert = Some(cert);
    }
    if let Some(a) = &f.answer {
        if let Some(x) = rules::answer(a, &who) {
            findings.push(x);
            stopped = Some(Stage::GatewayHttp);
        }
    }
    if let Some(x) = f.auth.as_ref().and_then(|a| rules::auth(a, &who)) {
        findings.push(x);
        stopped.get_or_insert(Stage::GatewayAuth);
    }
    let tunnel_codes = [
        f.handshake.map(|h| (h.error, "handshake")),
        f.tunnel
            .and_then(|t| t.status)
            .map(|e| (e, "tunnel create")),
        f.tunnel
            .and_then(|t| t.authorization)
            .map(|e| (e, "tunnel authorization")),
    ];
    if let Some((code, what)) = tunnel_codes
        .into_iter()
        .flatten()
        .find(|(e, _)| e.is_error())
    {
        findings.push(rules::proxy_error(code, what, &who));
        stopped.get_or_insert(Stage::GatewayTunnel);
    }
    if let Some(ch) = f.channel.filter(|ch| ch.error.is_error()) {
        let target = f
            .resource
            .as_ref()
            .map_or_else(|| "the target".to_owned(), |(r, p)| format!("{r}:{p}"));
        findings.push(rules::proxy_error(
            ch.error,
            &format!("channel to {target}"),
            &who,
        ));
        stopped.get_or_insert(Stage::GatewayChannel);
    }
    let inner = g.inner.as_deref().filter(|i| i.is_rdp).map(|i| {
        // The tunnel's end is the gateway connection's; its resets are the outer connection's.
        let tcp = TcpFacts {
            first_rst: None,
            injected_resets: 0,
            injected_detail: None,
            ..tcp_facts(c, conn_state(c))
        };
        let (rdp, cc) = conclude_session(c, i, tcp, true, certs, kerberos);
        Box::new(Connection {
            client: c.client.to_string(),
            server: f
                .resource
                .as_ref()
                .map_or_else(|| "the target".to_owned(), |(r, p)| format!("{r}:{p}")),
            start: rfc3339(c.first_ts.div_euclid(1_000_000_000)),
            duration_ms: ms(c.last_ts - c.first_ts),
            verdict: cc.verdict,
            stopped_at: cc.stopped_at,
            // The inner connection's TCP is the gateway's to the target: not in the capture.
            stages: cc
                .stages
                .into_iter()
                .filter(|st| st.name != Stage::Tcp)
                .collect(),
            tcp: TcpReport::default(),
            rdp: rdp.map(Box::new),
            https: None,
            gateway: None,
            inner: None,
            mstsc: cc.mstsc,
            diagnosis: cc.diagnosis,
            findings: cc.findings,
            series: None,
            first_packet: c.first_packet,
        })
    });
    let mut stages = timeline_of(c, &events, stopped);
    // This connection's TCP is the gateway's.
    for st in stages.iter_mut().filter(|st| st.name == Stage::Tcp) {
        st.name = Stage::GatewayTcp;
    }
    if let Some(i) = &inner {
        stages.extend(i.stages.iter().cloned());
    }
    // The outer connection: its transport findings, the gateway's, and the inner verdict.
    let transport: Vec<_> = std::mem::take(&mut outer.findings)
        .into_iter()
        .filter(|x| !matches!(x.id, crate::diagnose::FindingId::NotRdp))
        .collect();
    findings.extend(transport);
    if let Some(i) = &inner {
        findings.extend(i.findings.iter().cloned());
    }
    findings.sort_by_key(|x| std::cmp::Reverse(x.severity));
    let stopped_at = stopped.or(inner.as_ref().and_then(|i| i.stopped_at));
    outer.verdict = verdict(&findings);
    outer.stopped_at = stopped_at;
    outer.mstsc = crate::diagnose::mstsc::view(&findings, stopped_at.is_some(), None);
    outer.diagnosis = crate::diagnose::diagnosis::diagnose(&crate::diagnose::diagnosis::Outcome {
        findings: &findings,
        stopped_at,
        // The timeline's order, not the stages' (the gateway's come before dns and tcp).
        reached: stages
            .iter()
            .rev()
            .find(|st| st.status == crate::diagnose::StageStatus::Ok)
            .map(|st| st.name),
        layer: inner
            .as_ref()
            .and(g.inner.as_ref().and_then(|i| i.selected())),
        nla_required: None,
        mstsc: outer.mstsc.as_ref(),
        no_credentials: false,
        passive: true,
        gateway: true,
    });
    outer.findings = findings;
    outer.stages = stages;
    gf.cert = gf_cert;
    (GatewayReport::from(&gf), inner)
}
