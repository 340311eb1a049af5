//! The end of a run over many targets: verdicts, targets per finding id, where they stopped,
//! and the slowest targets. Bounded: counts over closed sets, a few example targets per
//! finding, the top [`SLOWEST`] targets.

use std::collections::BTreeMap;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::diagnose::{FindingId, Severity, Stage, Verdict};
use crate::report::probe::ProbeResult;

/// How many of the slowest targets the summary keeps.
pub const SLOWEST: usize = 5;
/// How many example targets each finding row names.
pub const EXAMPLES: usize = 3;

/// The summary of many targets (`{"type":"summary","data":...}` in JSON Lines).
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FleetSummary {
    pub targets: u64,
    pub verdicts: BTreeMap<Verdict, u64>,
    pub stopped_at: BTreeMap<Stage, u64>,
    /// Per finding id: its severity, how many targets have it, and a few of them.
    pub findings: BTreeMap<FindingId, FindingCount>,
    /// The slowest targets, slowest first.
    pub slowest: Vec<Slow>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FindingCount {
    pub severity: Severity,
    pub targets: u64,
    pub examples: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Slow {
    pub target: String,
    pub elapsed_ms: f64,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
}

/// What the summary reads of one target's result: from a [`ProbeResult`] of this run, or from
/// a `{"type":"target"}` line of an earlier run or shard ([`Entry::from_json`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub target: String,
    pub port: u16,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
    pub findings: Vec<(FindingId, Severity)>,
    pub elapsed_ms: f64,
}

impl From<&ProbeResult> for Entry {
    fn from(r: &ProbeResult) -> Self {
        Self {
            target: r.target.clone(),
            port: r.port,
            verdict: r.verdict,
            stopped_at: r.stopped_at,
            findings: r.findings.iter().map(|f| (f.id, f.severity)).collect(),
            elapsed_ms: r.elapsed_ms,
        }
    }
}

impl Entry {
    /// The entry of one probe result as `rdprobe probe --format json` writes it (the `data` of a
    /// `{"type":"target"}` line, as JSON text); None when it is not one (a field missing or
    /// unknown). Only the fields a summary needs are read into values; the rest is skipped.
    pub fn from_json(data: &str) -> Option<Self> {
        let r: RecordLine = serde_json::from_str(data).ok()?;
        let verdict = match &*r.verdict {
            "ok" => Verdict::Ok,
            "warning" => Verdict::Warning,
            "error" => Verdict::Error,
            _ => return None,
        };
        Some(Self {
            target: r.target?.into_owned(),
            port: u16::try_from(r.port?).ok()?,
            verdict,
            stopped_at: r.stopped_at.stage()?,
            findings: findings_of(&r.findings)?,
            elapsed_ms: r.elapsed_ms?,
        })
    }
}

/// What a summary reads of a probe result or a capture's connection line (`serde` skips the
/// other fields without building them).
#[derive(Deserialize)]
pub(crate) struct RecordLine<'a> {
    #[serde(borrow, default)]
    pub(crate) target: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) port: Option<u64>,
    #[serde(borrow, default)]
    pub(crate) server: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) verdict: Cow<'a, str>,
    /// Required, null or a stage's name.
    #[serde(borrow)]
    pub(crate) stopped_at: StageName<'a>,
    #[serde(borrow)]
    pub(crate) findings: Vec<FindingLine<'a>>,
    #[serde(default)]
    pub(crate) elapsed_ms: Option<f64>,
}

/// A `stopped_at` as the JSON writes it: null or a stage's name.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct StageName<'a>(#[serde(borrow)] Option<Cow<'a, str>>);

impl StageName<'_> {
    /// The stage (None: null); None when the name is no stage's.
    pub(crate) fn stage(&self) -> Option<Option<Stage>> {
        match &self.0 {
            None => Some(None),
            Some(name) => Some(Some(Stage::ALL.into_iter().find(|st| st.as_str() == name)?)),
        }
    }
}

/// A finding as the JSON writes it: what summaries read of it.
#[derive(Deserialize)]
pub(crate) struct FindingLine<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    severity: Cow<'a, str>,
}

/// The ids and severities of a `findings` array; None when an entry has an unknown id or
/// severity.
pub(crate) fn findings_of(findings: &[FindingLine]) -> Option<Vec<(FindingId, Severity)>> {
    findings
        .iter()
        .map(|f| {
            let id = FindingId::ALL.into_iter().find(|i| i.as_str() == f.id)?;
            let severity = match &*f.severity {
                "info" => Severity::Info,
                "warning" => Severity::Warning,
                "error" => Severity::Error,
                _ => return None,
            };
            Some((id, severity))
        })
        .collect()
}

/// Keeps `name` among the first [`EXAMPLES`] names in byte order (once).
pub(crate) fn keep_example(examples: &mut Vec<String>, name: &str) {
    if let Err(at) = examples.binary_search_by(|e| e.as_str().cmp(name)) {
        if at < EXAMPLES {
            examples.insert(at, name.to_owned());
            examples.truncate(EXAMPLES);
        }
    }
}

impl FleetSummary {
    pub fn add(&mut self, r: &ProbeResult) {
        self.add_entry(&Entry::from(r));
    }

    /// Adds one target. The result does not depend on the order targets come in (examples are
    /// the first names in sort order, ties among the slowest go by name), so the summary of
    /// shards read one after another equals the summary of one run.
    pub fn add_entry(&mut self, r: &Entry) {
        self.targets += 1;
        *self.verdicts.entry(r.verdict).or_default() += 1;
        if let Some(s) = r.stopped_at {
            *self.stopped_at.entry(s).or_default() += 1;
        }
        let name = format!("{}:{}", r.target, r.port);
        let mut seen: Vec<FindingId> = Vec::new();
        for (id, severity) in &r.findings {
            if seen.contains(id) {
                continue;
            }
            seen.push(*id);
            let c = self.findings.entry(*id).or_insert_with(|| FindingCount {
                severity: *severity,
                targets: 0,
                examples: Vec::new(),
            });
            c.targets += 1;
            c.severity = c.severity.max(*severity);
            keep_example(&mut c.examples, &name);
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
            .position(|s| {
                s.elapsed_ms < slow.elapsed_ms
                    || (s.elapsed_ms == slow.elapsed_ms && s.target > slow.target)
            })
            .unwrap_or(self.slowest.len());
        if at < SLOWEST {
            self.slowest.insert(at, slow);
            self.slowest.truncate(SLOWEST);
        }
    }

    /// The finding rows, most targets first (then worst severity, then catalogue order).
    pub fn finding_rows(&self) -> Vec<(FindingId, &FindingCount)> {
        rows_by_count(&self.findings, |c| (c.targets, c.severity))
    }
}

/// The rows of a per-finding table, most first by `key`'s count, then worst severity by
/// `key`'s severity, then catalogue order (the fleet's and the captures' tables alike).
pub(crate) fn rows_by_count<T>(
    map: &BTreeMap<FindingId, T>,
    key: impl Fn(&T) -> (u64, Severity),
) -> Vec<(FindingId, &T)> {
    let mut rows: Vec<_> = map.iter().map(|(id, c)| (*id, c)).collect();
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a.1), key(b.1));
        kb.0.cmp(&ka.0).then(kb.1.cmp(&ka.1)).then(a.0.cmp(&b.0))
    });
    rows
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
        assert_eq!(
            nla.examples,
            ["h10:3389", "h11:3389", "h13:3389"],
            "byte order"
        );
        let slow: Vec<&str> = s.slowest.iter().map(|x| x.target.as_str()).collect();
        assert_eq!(
            slow,
            ["h19:3389", "h18:3389", "h17:3389", "h16:3389", "h15:3389"]
        );
        let rows = s.finding_rows();
        assert_eq!(rows[0].0, FindingId::NlaNotRequired);
        assert_eq!(rows[1].0, FindingId::TcpRefused);
    }

    /// The summary of the results' JSON, in any order and split in any way, is the summary of
    /// the results.
    #[test]
    fn the_summary_of_json_lines_in_any_order_is_the_same() {
        let results: Vec<ProbeResult> = (0..30)
            .map(|i| {
                let ids: &[FindingId] = match i % 3 {
                    0 => &[FindingId::TcpRefused],
                    1 => &[FindingId::NlaNotRequired, FindingId::CertSelfSigned],
                    _ => &[],
                };
                result(
                    &format!("10.0.0.{i}"),
                    f64::from(i % 7),
                    ids,
                    (i % 3 == 0).then_some(Stage::Tcp),
                )
            })
            .collect();
        let mut one = FleetSummary::default();
        for r in &results {
            one.add(r);
        }
        let mut shards = FleetSummary::default();
        for r in results.iter().rev() {
            let v = serde_json::to_value(r).unwrap();
            shards.add_entry(&Entry::from_json(&v.to_string()).expect("a target line reads back"));
        }
        assert_eq!(one, shards);
        assert!(Entry::from_json(r#"{"target": "x"}"#).is_none());
        assert!(Entry::from_json("not json").is_none());
    }
}
