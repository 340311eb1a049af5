//! `--format nagios`: the monitoring-plugins output (one status line, performance data, exit
//! code 0/1/2/3) that Nagios, Icinga, Zabbix and PRTG run. Pure: the status and the text from
//! the results and the clock.
//!
//! The status of a target:
//! - CRITICAL: the connection an mstsc client makes fails (a stage stopped it), or the
//!   certificate has expired or expires within `--cert-crit` days;
//! - WARNING: it connects, but a finding of severity warning or error stands (NLA not required,
//!   legacy TLS, an unpatched CredSSP, a certificate name mismatch, ...), or the certificate
//!   expires within `--cert-warn` days;
//! - OK: it connects and nothing stands but information;
//! - UNKNOWN: rdprobe could not judge (bad arguments, an internal error).
//!
//! Several targets give the worst status, and a line per target after the first.

use std::fmt::Write as _;

use super::metrics::unix_of_rfc3339;
use super::probe::ProbeResult;
use crate::diagnose::{FindingId, Severity, StageStatus};

/// A monitoring-plugins status (its exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// Worst first for the summary: CRITICAL, then UNKNOWN, WARNING, OK (the plugin
    /// guidelines' order of importance).
    fn weight(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Unknown => 2,
            Self::Critical => 3,
        }
    }
}

/// The certificate thresholds in days.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub cert_warn_days: u32,
    pub cert_crit_days: u32,
}

/// Days from `now` (Unix seconds) to the certificate's notAfter (negative: expired).
pub fn cert_days_left(r: &ProbeResult, now: i64) -> Option<f64> {
    let c = r.tls.as_ref()?.certificate.as_ref()?;
    let t = unix_of_rfc3339(&c.cert.not_after)?;
    Some((t - now) as f64 / 86_400.0)
}

/// The status of one target and the reason in words.
pub fn status(r: &ProbeResult, th: Thresholds, now: i64) -> (Status, String) {
    if r.findings.iter().any(|f| f.id == FindingId::InternalError) {
        return (Status::Unknown, r.diagnosis.headline.clone());
    }
    let days = cert_days_left(r, now);
    if let Some(stage) = r.stopped_at {
        return (
            Status::Critical,
            format!("fails at {stage}: {}", r.diagnosis.headline),
        );
    }
    if let Some(d) = days {
        if d < f64::from(th.cert_crit_days) {
            return (
                Status::Critical,
                format!(
                    "the certificate expires in {d:.0} days (critical below {})",
                    th.cert_crit_days
                ),
            );
        }
    }
    if r.findings.iter().any(|f| f.severity >= Severity::Warning) {
        return (Status::Warning, r.diagnosis.headline.clone());
    }
    if let Some(d) = days {
        if d < f64::from(th.cert_warn_days) {
            return (
                Status::Warning,
                format!(
                    "the certificate expires in {d:.0} days (warning below {})",
                    th.cert_warn_days
                ),
            );
        }
    }
    (Status::Ok, r.diagnosis.headline.clone())
}

/// A performance-data label: quoted when it holds spaces or quotes (doubled).
fn perf_label(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() && *c != '=' && *c != '|')
        .collect();
    if clean.contains([' ', '\'']) {
        format!("'{}'", clean.replace('\'', "''"))
    } else {
        clean
    }
}

/// One line of text: no newline or '|' (they end the status or start the performance data).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '|' { '/' } else { c })
        .filter(|c| !c.is_control())
        .collect()
}

/// The plugin output for `results` and its exit status.
pub fn render(results: &[ProbeResult], th: Thresholds, now: i64) -> (String, Status) {
    let judged: Vec<(Status, String)> = results.iter().map(|r| status(r, th, now)).collect();
    let worst = judged
        .iter()
        .map(|(s, _)| *s)
        .max_by_key(|s| s.weight())
        .unwrap_or(Status::Unknown);
    let mut perf = String::new();
    let many = results.len() > 1;
    for r in results {
        let prefix = if many {
            format!("{}:{}_", r.target, r.port)
        } else {
            String::new()
        };
        let mut before = 0.0;
        let mut stages: Vec<_> = r.stages.iter().collect();
        stages.sort_by_key(|s| s.name);
        for s in stages {
            if s.status == StageStatus::Skipped {
                continue;
            }
            let took = (s.elapsed_ms - before).max(0.0);
            before = s.elapsed_ms.max(before);
            let _ = write!(
                perf,
                "{}={:.1}ms;;;0; ",
                perf_label(&format!("{prefix}{}", s.name)),
                took
            );
        }
        let _ = write!(
            perf,
            "{}={:.1}ms;;;0; ",
            perf_label(&format!("{prefix}time")),
            r.elapsed_ms
        );
        if let Some(d) = cert_days_left(r, now) {
            let _ = write!(
                perf,
                "{}={d:.1};{};{};; ",
                perf_label(&format!("{prefix}cert_days")),
                th.cert_warn_days,
                th.cert_crit_days
            );
        }
    }
    let mut out = String::new();
    let first = match (results, judged.as_slice()) {
        ([r], [(_, why)]) => format!("{}:{} {}", r.target, r.port, one_line(why)),
        _ => {
            let bad = judged.iter().filter(|(s, _)| *s != Status::Ok).count();
            format!("{bad} of {} targets not OK", results.len())
        }
    };
    let _ = write!(
        out,
        "RDP {} - {first} | {}",
        worst.as_str(),
        perf.trim_end()
    );
    out.push('\n');
    if many {
        for (r, (s, why)) in results.iter().zip(&judged) {
            let _ = writeln!(
                out,
                "{} {}:{} {}",
                s.as_str(),
                one_line(&r.target),
                r.port,
                one_line(why)
            );
        }
    }
    (out, worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{finding, Stage, StageRecord};

    fn result(stopped: Option<Stage>, ids: &[FindingId]) -> ProbeResult {
        ProbeResult {
            target: "srv".into(),
            port: 3389,
            stopped_at: stopped,
            stages: vec![StageRecord {
                name: Stage::Tcp,
                status: StageStatus::Ok,
                elapsed_ms: 1.5,
                detail: String::new(),
            }],
            findings: ids.iter().map(|i| finding(*i, "")).collect(),
            elapsed_ms: 3.0,
            ..Default::default()
        }
    }

    const TH: Thresholds = Thresholds {
        cert_warn_days: 30,
        cert_crit_days: 7,
    };

    #[test]
    fn statuses() {
        let (s, _) = status(&result(None, &[]), TH, 0);
        assert_eq!(s, Status::Ok);
        let (s, _) = status(&result(None, &[FindingId::NlaNotRequired]), TH, 0);
        assert_eq!(s, Status::Warning);
        let (s, why) = status(&result(Some(Stage::Tcp), &[FindingId::TcpRefused]), TH, 0);
        assert_eq!(s, Status::Critical);
        assert!(why.starts_with("fails at tcp"), "{why}");
        let (s, _) = status(&result(None, &[FindingId::InternalError]), TH, 0);
        assert_eq!(s, Status::Unknown);
    }

    #[test]
    fn one_line_and_perfdata() {
        let (out, s) = render(&[result(Some(Stage::Tcp), &[FindingId::TcpRefused])], TH, 0);
        assert_eq!(s, Status::Critical);
        assert!(
            out.starts_with("RDP CRITICAL - srv:3389 fails at tcp"),
            "{out}"
        );
        assert!(out.contains("| tcp=1.5ms;;;0; time=3.0ms;;;0;"), "{out}");
        assert_eq!(out.lines().count(), 1);
        let (out, s) = render(&[result(None, &[]), result(Some(Stage::Tcp), &[])], TH, 0);
        assert_eq!(s, Status::Critical);
        assert!(
            out.starts_with("RDP CRITICAL - 1 of 2 targets not OK |"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 3);
        assert_eq!(perf_label("a b'c"), "'a b''c'");
        assert_eq!(one_line("a|b\nc"), "a/bc");
    }
}
