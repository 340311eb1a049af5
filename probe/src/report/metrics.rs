//! One probe result as Prometheus text exposition (format 0.0.4), in the blackbox exporter's
//! shape: `rdp_probe_success` and `rdp_probe_duration_seconds` first, then what says where
//! and why (per-stage duration and status, the stop and the headline as an info metric, one
//! series per finding), and what to alert on before it breaks (the certificate's `notAfter`,
//! the TLS versions accepted, NLA, the CredSSP version). Pure: the exporter serves it.

use std::fmt::Write as _;

use super::probe::ProbeResult;
use crate::diagnose::StageStatus;

/// A label value escaped as the exposition format requires (backslash, double quote, newline),
/// with terminal controls dropped and the length bounded (a wire string can be anything).
pub fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len().min(512));
    for c in v.chars().take(512) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Unix seconds of an RFC 3339 UTC time (`2026-12-09T11:46:39Z`), as the report writes it.
pub fn unix_of_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') {
        return None;
    }
    let n = |a: usize, e: usize| s.get(a..e)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (h, mi, se) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (H. Hinnant).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// The metrics of one probe of `module`.
pub fn probe_metrics(r: &ProbeResult, module: &str) -> String {
    let mut out = String::new();
    let m = label(module);
    family(&mut out, "rdp_probe_success", "gauge", "1 when the connection an mstsc client makes went as far as asked (no stage failed), else 0");
    let success = u8::from(r.stopped_at.is_none());
    let _ = writeln!(out, "rdp_probe_success{{module=\"{m}\"}} {success}");
    family(
        &mut out,
        "rdp_probe_duration_seconds",
        "gauge",
        "how long the whole probe took",
    );
    let _ = writeln!(
        out,
        "rdp_probe_duration_seconds{{module=\"{m}\"}} {:.6}",
        r.elapsed_ms / 1000.0
    );
    family(
        &mut out,
        "rdp_stage_duration_seconds",
        "gauge",
        "how long each stage of the timeline took (from the end of the one before)",
    );
    let mut before = 0.0;
    let mut stages: Vec<_> = r.stages.iter().collect();
    stages.sort_by_key(|s| s.name);
    for s in &stages {
        if s.status == StageStatus::Skipped {
            continue;
        }
        let took = (s.elapsed_ms - before).max(0.0) / 1000.0;
        before = s.elapsed_ms.max(before);
        let _ = writeln!(
            out,
            "rdp_stage_duration_seconds{{stage=\"{}\"}} {took:.6}",
            s.name
        );
    }
    family(
        &mut out,
        "rdp_stage_status",
        "gauge",
        "1 for each stage with its status (ok, failed, timeout, started, skipped)",
    );
    for s in &stages {
        let _ = writeln!(
            out,
            "rdp_stage_status{{stage=\"{}\",status=\"{}\"}} 1",
            s.name, s.status
        );
    }
    family(&mut out, "rdp_probe_info", "gauge", "where the probe stopped, the verdict and the headline (what happens, why, the fix to try first)");
    let _ = writeln!(
        out,
        "rdp_probe_info{{stopped_at=\"{}\",verdict=\"{}\",primary_finding=\"{}\",headline=\"{}\"}} 1",
        r.stopped_at.map_or("", |s| s.as_str()),
        r.verdict.as_str(),
        r.diagnosis.primary_finding.map_or("", |f| f.as_str()),
        label(&r.diagnosis.headline)
    );
    family(
        &mut out,
        "rdp_finding",
        "gauge",
        "1 for each finding, by id and severity",
    );
    for f in &r.findings {
        let _ = writeln!(
            out,
            "rdp_finding{{id=\"{}\",severity=\"{}\"}} 1",
            f.id.as_str(),
            f.severity.as_str()
        );
    }
    if let Some(t) = &r.tls {
        if !t.versions.is_empty() {
            family(&mut out, "rdp_tls_version_accepted", "gauge", "1 for each TLS version the server accepts, 0 for each it refuses (with enumeration)");
            for (v, ok) in &t.versions {
                let _ = writeln!(
                    out,
                    "rdp_tls_version_accepted{{version=\"{}\"}} {}",
                    v.key(),
                    u8::from(*ok)
                );
            }
        }
        if let Some(c) = &t.certificate {
            if let Some(ts) = unix_of_rfc3339(&c.cert.not_after) {
                family(
                    &mut out,
                    "rdp_certificate_not_after_timestamp_seconds",
                    "gauge",
                    "the server certificate's notAfter, in Unix seconds",
                );
                let _ = writeln!(out, "rdp_certificate_not_after_timestamp_seconds {ts}");
            }
            family(
                &mut out,
                "rdp_certificate_name_matches",
                "gauge",
                "1 when the target name is in the certificate",
            );
            let _ = writeln!(
                out,
                "rdp_certificate_name_matches {}",
                u8::from(c.name_matches)
            );
        }
    }
    if let Some(nla) = r.security.nla_required {
        family(
            &mut out,
            "rdp_nla_required",
            "gauge",
            "1 when the server requires Network Level Authentication (CredSSP)",
        );
        let _ = writeln!(out, "rdp_nla_required {}", u8::from(nla));
    }
    if let Some(c) = &r.credssp {
        family(
            &mut out,
            "rdp_credssp_version",
            "gauge",
            "the server's TSRequest version (5 and later: CVE-2018-0886 fixed)",
        );
        let _ = writeln!(out, "rdp_credssp_version {}", c.version);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd\x1b[31m"), "a\\\"b\\\\c\\nd[31m");
        assert_eq!(label(&"x".repeat(2000)).len(), 512);
    }

    #[test]
    fn rfc3339_to_unix() {
        assert_eq!(unix_of_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_of_rfc3339("2026-12-07T11:14:05Z"), Some(1_796_642_045));
        assert_eq!(unix_of_rfc3339("garbage"), None);
    }
}
