//! Human-readable reports. Every string that came off the wire goes through
//! [`crate::escape::terminal`].

use std::fmt::Write;

use crate::diagnose::{FindingId, Severity, Stage};
use crate::escape::terminal as esc;
use crate::report::capture::{CaptureReport, Connection};
use crate::report::scan::{Scans, TOP_SOURCES};

/// Renders one capture's report.
pub fn capture(r: &CaptureReport, out: &mut String) {
    capture_with_scans(r, &Scans::default(), out);
}

/// Renders one capture's report whose scan-like attempts were taken out into `scans`: the
/// few are printed with the other connections, many are summarised per server and outcome.
pub fn capture_with_scans(r: &CaptureReport, scans: &Scans, out: &mut String) {
    let _ = writeln!(
        out,
        "{}: {} packets, {} bytes, {} RDP connection(s)",
        esc(&r.file),
        r.packets,
        r.bytes,
        r.summary.connections.max(r.connections.len())
    );
    for n in &r.notices {
        let _ = writeln!(out, "  notice: {}", esc(n));
    }
    if !r.findings.is_empty() {
        let _ = writeln!(out, "\n== across the capture");
        findings(&r.findings, out);
    }
    let mut all: Vec<&Connection> = r.connections.iter().chain(&scans.individual).collect();
    all.sort_by_key(|c| c.first_packet);
    for c in all {
        out.push('\n');
        connection(c, out);
        // Its UDP transport, under it.
        let name = format!("{} -> {}", c.client, c.server);
        for u in r
            .udp
            .iter()
            .filter(|u| u.tcp_connection.as_deref() == Some(name.as_str()))
        {
            udp_line(u, "   ", out);
        }
    }
    if !scans.groups.is_empty() {
        let _ = writeln!(
            out,
            "\nscan-like attempts (no payload either way): {}, by server and outcome",
            scans.total
        );
        for ((server, what), g) in &scans.groups {
            let top = g
                .top_sources(TOP_SOURCES)
                .iter()
                .map(|(ip, n)| format!("{} ({n})", esc(ip)))
                .collect::<Vec<_>>()
                .join(", ");
            let more = g.distinct_sources().saturating_sub(TOP_SOURCES);
            let _ = writeln!(
                out,
                "  {} {what}: {} attempt(s), {} .. {}; from {top}{}{}",
                esc(server),
                g.count,
                g.first,
                g.last,
                if more > 0 {
                    format!(" and {more} more source(s)")
                } else {
                    String::new()
                },
                if g.other_sources > 0 {
                    format!(" (+{} attempts from further sources)", g.other_sources)
                } else {
                    String::new()
                },
            );
        }
    }
    for u in r.udp.iter().filter(|u| {
        u.tcp_connection.as_ref().is_none_or(|t| {
            !r.connections
                .iter()
                .any(|c| &format!("{} -> {}", c.client, c.server) == t)
        })
    }) {
        out.push('\n');
        udp_line(u, "", out);
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "\ntotal: {} connection(s): {} ok, {} warning, {} error; {} other TCP flow(s); {} RDP-UDP flow(s){}",
        s.connections,
        s.ok,
        s.warning,
        s.error,
        s.other_tcp_flows,
        s.udp_rdp_flows,
        if s.undecodable_packets > 0 { format!("; {} packet(s) not decodable", s.undecodable_packets) } else { String::new() }
    );
}

/// One RDP-UDP flow: its handshake, under its TCP connection (`indent`) or on its own.
fn udp_line(u: &crate::report::capture::UdpFlow, indent: &str, out: &mut String) {
    let handshake = match (&u.client_syn, &u.server_syn_ack) {
        (_, Some(s)) => format!("; version {}, MTU {}/{}", s.version, s.up_mtu, s.down_mtu),
        (Some(c), None) => format!("; the client offers version {}", c.version),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{indent}RDP over UDP {} -> {}  {}  {} datagrams, {} bytes, {} SYN, {} SYN-ACK{}{handshake}",
        u.client,
        u.server,
        u.start,
        u.datagrams,
        u.bytes,
        u.syn,
        u.syn_ack,
        if u.syn_ack == 0 { " (no answer)" } else { "" }
    );
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), |x| x.to_string())
}

/// Renders one connection block.
pub fn connection(c: &Connection, out: &mut String) {
    let _ = writeln!(
        out,
        "== {} -> {}  {}",
        c.client,
        c.server,
        esc(&c.diagnosis.headline)
    );
    let _ = writeln!(
        out,
        "   {}  {:.1} ms  verdict: {}{}",
        c.start,
        c.duration_ms,
        c.verdict.as_str().to_uppercase(),
        c.stopped_at
            .map(|s| format!(", stopped at {s}"))
            .unwrap_or_default()
    );
    mstsc(c.mstsc.as_ref(), out);
    for s in &c.stages {
        let _ = writeln!(
            out,
            "   {:<18} {:<7} {:>10.2} ms  {}",
            s.name,
            s.status,
            s.elapsed_ms,
            esc(&s.detail)
        );
    }
    if let Some(h) = &c.https {
        let _ = writeln!(
            out,
            "   https: SNI {}, {}, certificate {}{}",
            esc(h.sni.as_deref().unwrap_or("-")),
            opt(&h.version),
            h.certificate
                .as_ref()
                .map_or_else(|| "not seen".to_owned(), |c| esc(&c.subject)),
            match (h.decrypted, h.rd_gateway) {
                (true, true) => "; decrypted: an RD Gateway",
                (true, false) => "; decrypted: not an RD Gateway",
                (false, _) => "; not decrypted (--keylog reads it)",
            }
        );
    }
    if let Some(g) = &c.gateway {
        gateway_lines(g, out);
    }
    if let Some(r) = &c.rdp {
        rdp_lines(r, out);
    }
    if let Some(i) = &c.inner {
        let _ = writeln!(
            out,
            "   inside the tunnel: -> {}  verdict {}{}",
            esc(&i.server),
            i.verdict.as_str().to_uppercase(),
            i.stopped_at
                .map(|s| format!(", stopped at {s}"))
                .unwrap_or_default()
        );
        if let Some(r) = &i.rdp {
            rdp_lines(r, out);
        }
    }
    let t = &c.tcp;
    let _ = writeln!(
        out,
        "   tcp: {} {}, {} packets ({} / {}), {} bytes ({} / {}), SYN RTT {}; retransmissions {} (fast {}, spurious {}), lost {}, out of order {}, dup acks {}, zero windows {}, keep-alives {}{}",
        t.state,
        t.history,
        t.packets,
        t.client_packets,
        t.server_packets,
        t.bytes,
        t.client_bytes,
        t.server_bytes,
        t.syn_rtt_ms.map_or_else(|| "-".to_owned(), |r| format!("{r:.2} ms")),
        t.retransmissions,
        t.fast_retransmissions,
        t.spurious_retransmissions,
        t.lost_segments,
        t.out_of_order,
        t.dup_acks,
        t.zero_windows,
        t.keep_alives,
        t.reset_by.map(|b| format!(", reset by {b} during {}", t.reset_stage.map_or("a stage not in the capture", |s| s.as_str()))).unwrap_or_default()
    );
    findings(&c.findings, out);
}

/// Renders one probe result.
pub fn probe(r: &crate::report::probe::ProbeResult, out: &mut String) {
    let _ = writeln!(
        out,
        "== {}:{}  {}",
        esc(&r.target),
        r.port,
        esc(&r.diagnosis.headline)
    );
    let _ = writeln!(
        out,
        "   {:.0} ms  verdict: {}{}",
        r.elapsed_ms,
        r.verdict.as_str().to_uppercase(),
        r.stopped_at
            .map(|s| format!(", stopped at {s}"))
            .unwrap_or_default()
    );
    mstsc(r.mstsc.as_ref(), out);
    if r.addresses.len() > 1 {
        let a = r
            .addresses
            .iter()
            .map(|a| format!("{} ({})", a.address, a.outcome))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "   addresses: {a}");
    }
    for s in &r.stages {
        let _ = writeln!(
            out,
            "   {:<17} {:<8} {:>9.1} ms  {}",
            s.name,
            s.status,
            s.elapsed_ms,
            esc(&s.detail)
        );
    }
    let sec = &r.security;
    if !sec.protocols.is_empty() {
        let _ = writeln!(out, "   security layers:");
        for (k, p) in &sec.protocols {
            let _ = writeln!(
                out,
                "     {:<10} {:<9} {}",
                k,
                if p.accepted { "accepted" } else { "refused" },
                p.failure.as_deref().map(esc).unwrap_or_default()
            );
        }
        let _ = writeln!(
            out,
            "     NLA required: {}{}",
            sec.nla_required.map_or("unknown".to_owned(), |b| if b {
                "yes".into()
            } else {
                "no".into()
            }),
            if sec.neg_flags.is_empty() {
                String::new()
            } else {
                format!("; flags {}", sec.neg_flags.join(", "))
            }
        );
    }
    if let Some(t) = &r.tls {
        let versions = t
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {}", if *v { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ");
        let versions = if versions.is_empty() {
            "versions not enumerated".to_owned()
        } else {
            versions
        };
        let _ = writeln!(
            out,
            "   tls: {versions}; session {} {}",
            opt(&t.version),
            opt(&t.cipher)
        );
        if let Some(c) = &t.certificate {
            let _ = writeln!(
                out,
                "   certificate: {} issued by {}, serial {}, {} .. {}{}{}{}, {} {} bits, {}",
                esc(&c.cert.subject),
                esc(&c.cert.issuer),
                c.cert.serial,
                c.cert.not_before,
                c.cert.not_after,
                if c.cert.expired { " (EXPIRED)" } else { "" },
                if c.cert.self_signed {
                    ", self-signed"
                } else {
                    ""
                },
                if c.name_matches {
                    ", name matches"
                } else {
                    ", NAME MISMATCH"
                },
                c.cert.key_type,
                c.cert.key_bits,
                c.cert.signature
            );
        }
    }
    if let Some(u) = &r.udp {
        let rtt = u.rtt_ms.map(|ms| format!(" ({ms} ms)")).unwrap_or_default();
        let _ = writeln!(out, "   udp: {}{rtt}", u.detail);
    }
    if let Some(g) = &r.gateway {
        gateway_lines(g, out);
    }
    if let Some(c) = &r.credssp {
        let _ = write!(
            out,
            "   credssp: TSRequest version {}{}",
            c.version,
            if c.patched_cve_2018_0886 {
                ""
            } else {
                " (CVE-2018-0886 unpatched)"
            }
        );
        if let Some(n) = &c.ntlm {
            let _ = write!(
                out,
                "; NTLM {}\\{} (DNS {} / {}), Windows {}, clock {}{}",
                esc(n.netbios_domain.as_deref().unwrap_or("-")),
                esc(n.netbios_computer.as_deref().unwrap_or("-")),
                esc(n.dns_computer.as_deref().unwrap_or("-")),
                esc(n.dns_domain.as_deref().unwrap_or("-")),
                opt(&n.product_version),
                opt(&n.timestamp),
                n.clock_skew_s
                    .map(|s| format!(" (skew {s} s)"))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if let Some(k) = &r.kerberos {
        let answers: Vec<&str> = k.exchanges.iter().map(|e| e.answer.as_str()).collect();
        let _ = writeln!(
            out,
            "   kerberos: {} for {} from KDC {} ({}); {}{}",
            esc(&k.client),
            esc(&k.service),
            esc(k.kdc.as_deref().unwrap_or("-")),
            k.kdc_source.unwrap_or("-"),
            esc(&answers.join(", ")),
            k.clock_skew_secs
                .filter(|s| s.abs() >= 60)
                .map(|s| format!("; the KDC's clock {s:+} s from ours"))
                .unwrap_or_default()
        );
    }
    if let Some(a) = &r.auth {
        let _ = writeln!(
            out,
            "   auth: {} with {}{}",
            esc(&a.user),
            a.mechanism.unwrap_or("-"),
            a.fallback_reason
                .as_ref()
                .map(|w| format!(", because {}", esc(w)))
                .unwrap_or_default()
        );
    }
    if let Some(s) = &r.rdp_security {
        let _ = writeln!(
            out,
            "   rdp security: RDP {}, level {}, methods accepted {}, certificate {}{}",
            opt(&s.server_version),
            opt(&s.encryption_level),
            if s.encryption_methods.is_empty() {
                "-".to_owned()
            } else {
                s.encryption_methods.join(",")
            },
            opt(&s.certificate_type),
            s.rsa_key_bits
                .map(|b| format!(" (RSA {b} bits)"))
                .unwrap_or_default()
        );
    }
    findings(&r.findings, out);
}

/// The line of what mstsc would most likely show.
fn mstsc(v: Option<&crate::diagnose::mstsc::MstscView>, out: &mut String) {
    let Some(v) = v else { return };
    let code = match (&v.disconnect_reason, &v.extended_reason) {
        (Some(r), Some(x)) => format!("{r} / extended {x}: "),
        (Some(r), None) => format!("{r}: "),
        _ => String::new(),
    };
    let _ = writeln!(out, "   mstsc most likely shows {code}{}", v.meaning);
}

/// The findings block shared by connection and probe reports.
fn findings(list: &[crate::diagnose::Finding], out: &mut String) {
    if list.is_empty() {
        let _ = writeln!(out, "   findings: none");
    }
    for f in list {
        let _ = writeln!(out, "   [{}] {}: {}", f.severity.as_str(), f.id, f.summary);
        let _ = writeln!(out, "       evidence: {}", esc(&f.evidence));
        if !f.remediation.is_empty() {
            let _ = writeln!(out, "       fix: {}", f.remediation);
        }
    }
}

/// The table at the end of a run over several targets.
pub fn fleet(s: &crate::report::fleet::FleetSummary, out: &mut String) {
    let verdicts = s
        .verdicts
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "== {} targets: {verdicts}", s.targets);
    stopped_at(&s.stopped_at, out);
    let rows = s.finding_rows();
    let rows = rows
        .iter()
        .map(|(id, c)| (*id, c.severity, c.targets, c.examples.as_slice()));
    finding_table(rows, ("targets", "e.g."), out);
    if !s.slowest.is_empty() {
        let _ = writeln!(out, "   slowest:");
        for x in &s.slowest {
            let _ = writeln!(
                out,
                "     {:>9.0} ms  {}  {}{}",
                x.elapsed_ms,
                esc(&x.target),
                x.verdict,
                x.stopped_at
                    .map(|st| format!(", stopped at {st}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// A summary's `stopped at:` line (none when nothing stopped).
fn stopped_at(stops: &std::collections::BTreeMap<Stage, u64>, out: &mut String) {
    if stops.is_empty() {
        return;
    }
    let stops = stops
        .iter()
        .map(|(st, n)| format!("{st} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "   stopped at: {stops}");
}

/// A summary's finding table: id, severity, count and a few examples; `heads` names the count
/// and example columns.
fn finding_table<'a>(
    rows: impl ExactSizeIterator<Item = (FindingId, Severity, u64, &'a [String])>,
    heads: (&str, &str),
    out: &mut String,
) {
    if rows.len() == 0 {
        return;
    }
    let width = heads.0.len();
    let _ = writeln!(
        out,
        "   {:<34} {:<8} {:>width$}  {}",
        "finding", "severity", heads.0, heads.1
    );
    for (id, severity, n, examples) in rows {
        let _ = writeln!(
            out,
            "   {:<34} {:<8} {n:>width$}  {}",
            id.as_str(),
            severity.as_str(),
            esc(&examples.join(", "))
        );
    }
}

/// The summary of several captures: files, connections and their verdicts, where they
/// stopped, connections per finding id and the capture-level findings.
pub fn archive(s: &crate::report::archive::ArchiveSummary, out: &mut String) {
    let t = &s.summary;
    let _ = writeln!(
        out,
        "== {} capture files: {} packets, {} connection(s) ({} RDP): {} ok, {} warning, {} error",
        s.files, s.packets, t.connections, t.rdp_connections, t.ok, t.warning, t.error
    );
    if t.other_tcp_flows > 0 || t.udp_rdp_flows > 0 {
        let _ = writeln!(
            out,
            "   other TCP flows: {} ({} failed); RDP over UDP flows: {}",
            t.other_tcp_flows, t.other_tcp_failed, t.udp_rdp_flows
        );
    }
    stopped_at(&s.stopped_at, out);
    let rows = s.finding_rows();
    let rows = rows
        .iter()
        .map(|(id, c)| (*id, c.severity, c.connections, c.servers.as_slice()));
    finding_table(rows, ("connections", "e.g. servers"), out);
    for (id, c) in &s.capture_findings {
        let _ = writeln!(
            out,
            "   capture finding {} ({}): {} file(s), e.g. {}",
            id.as_str(),
            c.severity.as_str(),
            c.files,
            esc(&c.examples.join(", "))
        );
    }
}

/// One `--watch` attempt on one line: time, number, verdict, where it stopped, stage times.
pub fn attempt(a: &crate::report::watch::Attempt, out: &mut String) {
    let stages = a
        .stages
        .iter()
        .map(|(s, ms)| format!("{s} {ms:.1}"))
        .collect::<Vec<_>>()
        .join("  ");
    let stop = a
        .stopped_at
        .map(|s| format!("stopped at {s}"))
        .unwrap_or_else(|| "-".into());
    let ids = if a.findings.is_empty() {
        String::new()
    } else {
        let ids: Vec<&str> = a.findings.iter().map(|i| i.as_str()).collect();
        format!("  [{}]", ids.join(", "))
    };
    let _ = writeln!(
        out,
        "{}  #{:<4} {:<7} {:<24} {stages}  total {:.0} ms{ids}",
        a.time,
        a.n,
        a.verdict.as_str().to_uppercase(),
        stop,
        a.elapsed_ms
    );
}

/// The summary of a `--watch`.
pub fn watch_summary(target: &str, s: &crate::report::watch::WatchSummary, out: &mut String) {
    let _ = writeln!(
        out,
        "== watch of {}: {} attempts, {} ok ({:.1} %), {} failed",
        esc(target),
        s.attempts,
        s.attempts - s.failures,
        s.success_rate * 100.0,
        s.failures
    );
    let join = |m: Vec<String>| m.join(", ");
    if !s.failures_by_stage.is_empty() {
        let v = s
            .failures_by_stage
            .iter()
            .map(|(st, n)| format!("{st} {n}"))
            .collect();
        let _ = writeln!(out, "   failed at: {}", join(v));
    }
    if !s.failures_by_finding.is_empty() {
        let v = s
            .failures_by_finding
            .iter()
            .map(|(id, n)| format!("{id} {n}"))
            .collect();
        let _ = writeln!(out, "   findings of failed attempts: {}", join(v));
    }
    if !s.stages.is_empty() {
        let _ = writeln!(
            out,
            "   {:<18} {:>6} {:>10} {:>10} {:>10}",
            "stage", "count", "p50 ms", "p95 ms", "max ms"
        );
        let rows = s.stages.iter().map(|(st, t)| (st.as_str(), t));
        for (name, t) in rows.chain(s.total.as_ref().map(|t| ("total", t))) {
            let _ = writeln!(
                out,
                "   {:<18} {:>6} {:>10.1} {:>10.1} {:>10.1}",
                name, t.count, t.p50_ms, t.p95_ms, t.max_ms
            );
        }
    }
    if let Some(r) = &s.longest_failure_run {
        let _ = writeln!(
            out,
            "   longest run of failures: {} attempt(s), {} .. {}",
            r.attempts, r.from, r.to
        );
    }
}

/// One reading of `rdprobe explain`'s input.
pub fn explanation(e: &crate::explain::Explanation, out: &mut String) {
    let name = e
        .name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{}: {}{name}", e.kind.as_str(), esc(&e.code));
    let _ = writeln!(out, "   meaning: {}", e.meaning);
    let _ = writeln!(out, "   stage:   {}", e.stage);
    if e.causes.is_empty() {
        let _ = writeln!(out, "   causes:  none known to rdprobe");
    } else {
        let _ = writeln!(out, "   usual causes, most likely first:");
        for (i, c) in e.causes.iter().enumerate() {
            let _ = writeln!(out, "   {}. {} ({}): {}", i + 1, c.cause, c.finding, c.fix);
            let _ = writeln!(out, "      check: {}", c.check);
        }
    }
    let _ = writeln!(out, "   source:  {}", e.source);
}

/// The client matrix of a probe result (`--clients`).
pub fn clients(r: &crate::report::probe::ProbeResult, out: &mut String) {
    if r.clients.is_empty() {
        return;
    }
    let _ = writeln!(out, "   which clients would connect:");
    for c in &r.clients {
        let what = match (c.outcome, c.stage) {
            (crate::diagnose::clients::Outcome::Connects, _) => "connects".to_owned(),
            (_, Some(st)) => format!("FAILS at {st}"),
            (_, None) => "FAILS".to_owned(),
        };
        let _ = writeln!(out, "     {}: {what}", c.client);
        let _ = writeln!(out, "         {}", c.message);
        if let Some(fix) = c.fix {
            let _ = writeln!(out, "         fix: {fix}");
        }
    }
}

/// ANSI colours for a rendered text report (`--color`): verdicts, severities and failures in
/// red or yellow, "ok" verdicts in green, top-level lines (result headers) bold. Applied after rendering, so the
/// renderers stay plain; wire strings were escaped before (they hold no ESC of their own).
pub fn paint(text: &str) -> String {
    const RED: &str = "\x1b[31m";
    const YELLOW: &str = "\x1b[33m";
    const GREEN: &str = "\x1b[32m";
    const BOLD: &str = "\x1b[1m";
    const RESET: &str = "\x1b[0m";
    let words: [(&str, &str); 8] = [
        ("verdict: ERROR", RED),
        ("verdict: WARNING", YELLOW),
        ("verdict: OK", GREEN),
        ("[error]", RED),
        ("[warning]", YELLOW),
        ("FAILS at", RED),
        (" failed ", RED),
        (" timeout ", YELLOW),
    ];
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let mut l = line.to_owned();
        for (w, c) in words {
            if l.contains(w) {
                l = l.replacen(w, &format!("{c}{w}{RESET}"), 1);
            }
        }
        // Result headers (`== target`) and the other top-level lines (a file's or an
        // explanation's first line) in bold.
        if !l.starts_with(char::is_whitespace) && !l.trim().is_empty() {
            let body = l.trim_end_matches('\n');
            let nl = if l.ends_with('\n') { "\n" } else { "" };
            l = format!("{BOLD}{body}{RESET}{nl}");
        }
        out.push_str(&l);
    }
    out
}

/// The RD Gateway's facts: who answered, its names, the transport and the tunnel.
fn gateway_lines(g: &crate::report::gateway::GatewayReport, out: &mut String) {
    let _ = write!(out, "   gateway: {}:{}", esc(&g.host), g.port);
    if let Some(h) = &g.http {
        let _ = write!(
            out,
            "; answered {} ({}){}",
            h.status,
            h.answer,
            h.server
                .as_deref()
                .map(|s| format!(", Server {}", esc(s)))
                .unwrap_or_default()
        );
    }
    if let Some(t) = g.transport {
        let _ = write!(out, "; transport {t}");
    }
    out.push('\n');
    if let Some(c) = &g.certificate {
        let _ = writeln!(
            out,
            "     certificate: {} issued by {}, until {}{}",
            esc(&c.subject),
            esc(&c.issuer),
            c.not_after,
            if c.self_signed { ", self-signed" } else { "" }
        );
    }
    if let Some(n) = &g.ntlm {
        let _ = writeln!(
            out,
            "     NTLM: {}\\{} (DNS {} / {}), Windows {}, clock {}",
            esc(n.netbios_domain.as_deref().unwrap_or("-")),
            esc(n.netbios_computer.as_deref().unwrap_or("-")),
            esc(n.dns_computer.as_deref().unwrap_or("-")),
            esc(n.dns_domain.as_deref().unwrap_or("-")),
            opt(&n.product_version),
            opt(&n.timestamp)
        );
    }
}

/// A connection's RDP facts: negotiation, client, server, TLS, certificate, licensing, ...
fn rdp_lines(r: &crate::report::capture::RdpReport, out: &mut String) {
    let mut neg = String::new();
    if let Some(cookie) = &r.cookie {
        let _ = write!(neg, "cookie \"{}\", ", esc(cookie));
    }
    if let Some(t) = &r.routing_token {
        let _ = write!(neg, "routing token \"{}\", ", esc(t));
    }
    match &r.requested_protocols {
        Some(p) => {
            let _ = write!(neg, "requested {}", p.join("|"));
        }
        None if r.joined_midstream => {
            neg.push_str("not in the capture (it joined the connection mid-way)")
        }
        None => neg.push_str("no negotiation request (legacy client)"),
    }
    if let Some(sel) = &r.selected_protocol {
        let _ = write!(neg, ", selected {sel}");
    }
    if let Some(f) = &r.failure {
        let _ = write!(neg, ", refused: {f}");
    }
    if !r.neg_flags.is_empty() {
        let _ = write!(neg, " [{}]", r.neg_flags.join(", "));
    }
    let _ = writeln!(out, "   negotiation: {neg}");
    if let Some(cl) = &r.client {
        let _ = writeln!(
            out,
            "   client: {} build {}, RDP {}, {}x{}, {} bpp, layout 0x{:08x}, channels {}, encryption {}",
            esc(cl.name.as_deref().unwrap_or("-")),
            opt(&cl.build),
            opt(&cl.version),
            opt(&cl.desktop_width),
            opt(&cl.desktop_height),
            opt(&cl.color_depth),
            cl.keyboard_layout.unwrap_or(0),
            esc(&cl.channels.join(",")),
            cl.encryption_methods.join(",")
        );
    }
    if let Some(sv) = &r.server {
        let _ = writeln!(
            out,
            "   server: RDP {}, {}, encryption {} / {}, certificate {}{}",
            opt(&sv.version),
            opt(&sv.mcs_result),
            opt(&sv.encryption_method),
            opt(&sv.encryption_level),
            opt(&sv.certificate_type),
            sv.rsa_key_bits
                .map(|b| format!(" (RSA {b} bits)"))
                .unwrap_or_default()
        );
    }
    let handshake_seen = r
        .tls
        .as_ref()
        .is_some_and(|t| !t.client_versions.is_empty() || t.version.is_some());
    if r.tls.is_some() && !handshake_seen {
        let _ = writeln!(
            out,
            "   tls: encrypted records only (the handshake is not in the capture)"
        );
    } else if let Some(t) = &r.tls {
        let _ = writeln!(
            out,
            "   tls: client offers {} ({} suites){}; server {} {}{}",
            t.client_versions.join(","),
            t.client_suites,
            t.sni
                .as_ref()
                .map(|s| format!(", SNI {}", esc(s)))
                .unwrap_or_default(),
            opt(&t.version),
            opt(&t.cipher),
            t.alert
                .as_ref()
                .map(|a| format!(
                    "; alert {a} from {}",
                    t.alert_by.map_or("?", |s| s.as_str())
                ))
                .unwrap_or_default()
        );
        if let Some(cert) = &t.certificate {
            let _ = writeln!(
                out,
                "   certificate: {} issued by {}, serial {}, {} .. {}{}{}, {} {} bits, {}",
                esc(&cert.subject),
                esc(&cert.issuer),
                cert.serial,
                cert.not_before,
                cert.not_after,
                if cert.expired { " (EXPIRED)" } else { "" },
                if cert.self_signed {
                    ", self-signed"
                } else {
                    ""
                },
                cert.key_type,
                cert.key_bits,
                cert.signature
            );
        }
    }
    for (label, v) in [
        ("licensing", &r.licensing),
        ("error info", &r.error_info),
        ("disconnect", &r.disconnect_reason),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "   {label}: {}", esc(v));
        }
    }
    if r.prefix_bytes > 0 {
        let _ = writeln!(
            out,
            "   {} bytes before the first TPKT skipped (proxy/SOCKS prefix)",
            r.prefix_bytes
        );
    }
}
