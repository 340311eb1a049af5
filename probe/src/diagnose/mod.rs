//! Observations to findings: the catalogue ([`FindingId`]), the stages, and the rules
//! ([`rules`] for both fronts, [`transport`] for the transport and capture-only ones), shared by
//! the capture analyzer and the active probe (ARCHITECTURE.md, "Layers"). Each finding has a stable id, a severity, a one-line
//! summary, a remediation and the evidence that raised it.

use serde::Serialize;

pub mod attempts;
pub mod gateway;
mod id;
pub mod transport;
// The stages are facts of the connection sequence; the rules and reports name them from here too.
pub use crate::facts::stage::{Stage, StageRecord, StageStatus};
pub mod clients;
pub mod conclude;
pub mod diagnosis;
pub mod mstsc;
pub mod rules;
pub use id::FindingId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    pub summary: &'static str,
    pub remediation: &'static str,
    pub evidence: String,
}

/// Builds the finding `id` with its catalogue entry and its evidence.
pub fn finding(id: FindingId, evidence: impl Into<String>) -> Finding {
    let (severity, summary, remediation) = id.entry();
    Finding {
        id,
        severity,
        summary,
        remediation,
        evidence: evidence.into(),
    }
}

/// Like [`finding`] with another severity (e.g. a reset that is an error in one stage and
/// information in another).
pub fn finding_with(id: FindingId, severity: Severity, evidence: impl Into<String>) -> Finding {
    Finding {
        severity,
        ..finding(id, evidence)
    }
}

/// What a target or a connection comes to: `ok`, `warning` or `error` (ordered, worst last).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Ok,
    Warning,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for Verdict {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The verdict of a set of findings: the worst severity, `ok` when none is a warning or error.
pub fn verdict(findings: &[Finding]) -> Verdict {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Error) => Verdict::Error,
        Some(Severity::Warning) => Verdict::Warning,
        _ => Verdict::Ok,
    }
}

/// The worse of two verdicts (`error` > `warning` > `ok`), for exit codes over many results.
pub fn worse(a: Verdict, b: Verdict) -> Verdict {
    a.max(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_serialise_as_their_names() {
        let mut names: Vec<&str> = FindingId::ALL.iter().map(|i| i.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate ids");
        for id in FindingId::ALL {
            let name = id.as_str();
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert_eq!(serde_json::to_value(id).unwrap(), name);
            let (_, summary, remediation) = id.entry();
            assert!(!summary.is_empty() && !remediation.is_empty(), "{name}");
        }
        assert_eq!(verdict(&[finding(FindingId::CertSelfSigned, "")]), "ok");
        assert_eq!(
            verdict(&[
                finding(FindingId::CertSelfSigned, ""),
                finding(FindingId::PacketLoss, "")
            ]),
            "warning"
        );
        assert_eq!(verdict(&[finding(FindingId::TcpRefused, "")]), "error");
        assert_eq!(worse(Verdict::Ok, Verdict::Warning), Verdict::Warning);
        assert_eq!(worse(Verdict::Error, Verdict::Warning), Verdict::Error);
        assert_eq!(worse(Verdict::Warning, Verdict::Ok), Verdict::Warning);
        assert_eq!(serde_json::to_value(Verdict::Warning).unwrap(), "warning");
    }
}
