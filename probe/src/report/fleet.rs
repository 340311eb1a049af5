//! The end of a run over many targets: verdicts, targets per finding id, where they stopped,
//! and the slowest targets. Bounded: counts over closed sets, a few example targets per
//! finding, the top [`SLOWEST`] targets.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnose::{FindingId, Severity, Stage, Verdict};
use crate::report::probe::ProbeResult;

/// How many of the slowest targets the summary keeps.
pub const SLOWEST: usize = 5;
/// How many example targets each finding row names.
pub const EXAMPLES: usize = 3;

/// The summary of many targets (`{"type":"summary","data":...}` in JSON Lines).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FleetSummary {
    pub targets: u64,
    pub verdicts: BTreeMap<Verdict, u64>,
    pub stopped_at: BTreeMap<Stage, u64>,
    /// Per finding id: its severity, how many targets have it, and a few of them.
    pub findings: BTreeMap<FindingId, FindingCount>,
    /// The slowest targets, slowest first.
    pub slowest: Vec<Slow>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FindingCount {
    pub severity: Severity,
    pub targets: u64,
    pub examples: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Slow {
    pub target: String,
    pub elapsed_ms: f64,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
}

impl FleetSummary {
    pub fn add(&mut self, r: &ProbeResult) {
        self.targets += 1;
        *self.verdicts.entry(r.verdict).or_default() += 1;
        if let Some(s) = r.stopped_at {
            *self.stopped_at.entry(s).or_default() += 1;
        }
        let name = format!("{}:{}", r.target, r.port);
        let mut seen: Vec<FindingId> = Vec::new();
        for f in &r.findings {
            if seen.contains(&f.id) {
                continue;
            }
            seen.push(f.id);
            let c = self.findings.entry(f.id).or_insert_with(|| FindingCount {
                severity: f.severity,
                targets: 0,
                examples: Vec::new(),
            });
            c.targets += 1;
            c.severity = c.severity.max(f.severity);
            if c.examples.len() < EXAMPLES {
                c.examples.push(name.clone());
            }
        }
        let slow = Slow {
            target: name,
            elapsed_ms: r.elapsed_ms,
            verdict: r.verdict,
            stopped_at: r.stopped_at,
        };
        let at = self
            .slowest
            .iter()
            .position(|s| s.elapsed_ms < slow.elapsed_ms)
            .unwrap_or(self.slowest.len());
        if at < SLOWEST {
            self.slowest.insert(at, slow);
            self.slowest.truncate(SLOWEST);
        }
    }

    /// The finding rows, most targets first (then worst severity, then catalogue order).
    pub fn finding_rows(&self) -> Vec<(FindingId, &FindingCount)> {
        let mut rows: Vec<_> = self.findings.iter().map(|(id, c)| (*id, c)).collect();
        rows.sort_by(|a, b| {
            b.1.targets
                .cmp(&a.1.targets)
                .then(b.1.severity.cmp(&a.1.severity))
                .then(a.0.cmp(&b.0))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::finding;

    fn result(target: &str, ms: f64, ids: &[FindingId], stopped: Option<Stage>) -> ProbeResult {
        let findings: Vec<_> = ids.iter().map(|i| finding(*i, "")).collect();
        ProbeResult {
            target: target.into(),
            port: 3389,
            gateway: None,
            addresses: Vec::new(),
            verdict: crate::diagnose::verdict(&findings),
            stopped_at: stopped,
            stages: Vec::new(),
            security: Default::default(),
            tls: None,
            credssp: None,
            auth: None,
            kerberos: None,
            udp: None,
            rdp_security: None,
            session: None,
            mstsc: None,
            diagnosis: Default::default(),
            clients: Vec::new(),
            findings,
            elapsed_ms: ms,
        }
    }

    #[test]
    fn counts_targets_per_finding_and_keeps_the_slowest() {
        let mut s = FleetSummary::default();
        for i in 0..20 {
            let ids: &[FindingId] = if i % 4 == 0 {
                &[FindingId::TcpRefused]
            } else {
                &[FindingId::NlaNotRequired, FindingId::NlaNotRequired]
            };
            let stop = (i % 4 == 0).then_some(Stage::Tcp);
            s.add(&result(&format!("h{i}"), f64::from(i), ids, stop));
        }
        assert_eq!(s.targets, 20);
        assert_eq!(s.verdicts[&Verdict::Error], 5);
        assert_eq!(s.verdicts[&Verdict::Warning], 15);
        assert_eq!(s.stopped_at[&Stage::Tcp], 5);
        let nla = &s.findings[&FindingId::NlaNotRequired];
        assert_eq!(nla.targets, 15, "a target counts once per id");
        assert_eq!(nla.examples, ["h1:3389", "h2:3389", "h3:3389"]);
        let slow: Vec<&str> = s.slowest.iter().map(|x| x.target.as_str()).collect();
        assert_eq!(
            slow,
            ["h19:3389", "h18:3389", "h17:3389", "h16:3389", "h15:3389"]
        );
        let rows = s.finding_rows();
        assert_eq!(rows[0].0, FindingId::NlaNotRequired);
        assert_eq!(rows[1].0, FindingId::TcpRefused);
    }
}
