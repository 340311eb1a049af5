//! `rdprobe probe HOST --watch`: one line per attempt, and a summary of all attempts: success
//! rate, failures by stage and by finding, p50 / p95 / max per stage, the longest run of
//! failures. Memory is bounded whatever the number of attempts: counts over closed sets and a
//! fixed log-scale histogram per stage.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnose::{FindingId, Severity, Stage, StageStatus, Verdict};
use crate::report::probe::ProbeResult;

/// One attempt, as its JSON Lines record (`{"type":"attempt","data":...}`) and its text line.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub n: u64,
    /// When the attempt started (RFC 3339, UTC).
    pub time: String,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
    /// The stages' durations: each stage's time from the previous stage's end, in ms.
    pub stages: BTreeMap<Stage, f64>,
    /// The warning and error findings.
    pub findings: Vec<FindingId>,
    pub headline: String,
    pub elapsed_ms: f64,
}

impl Attempt {
    pub fn from_result(n: u64, time: String, r: &ProbeResult) -> Self {
        let mut prev = 0.0;
        let stages = r
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Ok)
            .map(|s| {
                let d = (s.elapsed_ms - prev).max(0.0);
                prev = s.elapsed_ms.max(prev);
                (s.name, round(d))
            })
            .collect();
        Attempt {
            n,
            time,
            verdict: r.verdict,
            stopped_at: r.stopped_at,
            stages,
            findings: r
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .map(|f| f.id)
                .collect(),
            headline: r.diagnosis.headline.clone(),
            elapsed_ms: r.elapsed_ms,
        }
    }

    /// A failed attempt: the connection stopped before the end the walk aimed at.
    pub fn failed(&self) -> bool {
        self.stopped_at.is_some()
    }
}

/// A log-scale histogram of durations in ms: bucket `i` holds values up to `MIN_MS * RATIO^i`
/// (2 % wide), so a quantile is exact to 2 % with a fixed size.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: f64,
}

const MIN_MS: f64 = 0.01;
const RATIO: f64 = 1.02;
/// 0.01 ms .. about 10 hours.
const BUCKETS: usize = 1300;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; BUCKETS],
            count: 0,
            max: 0.0,
        }
    }
}

impl Histogram {
    pub fn add(&mut self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        let i = if ms <= MIN_MS {
            0
        } else {
            ((ms / MIN_MS).ln() / RATIO.ln()).ceil() as usize
        };
        self.buckets[i.min(BUCKETS - 1)] += 1;
        self.count += 1;
        self.max = self.max.max(ms);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// The `q` quantile (0..=1): the upper bound of its bucket, never above the maximum.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some((MIN_MS * RATIO.powi(i as i32)).min(self.max));
            }
        }
        Some(self.max)
    }
}

/// Percentiles of one stage, in ms.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct StageTimes {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// Everything a watch has seen (bounded).
#[derive(Clone, Debug, Default)]
pub struct WatchStats {
    pub attempts: u64,
    pub failures: u64,
    pub by_stage: BTreeMap<Stage, u64>,
    pub by_finding: BTreeMap<FindingId, u64>,
    times: BTreeMap<Stage, Histogram>,
    total: Histogram,
    /// The current run of failed attempts: its first attempt's time and length.
    run: Option<(String, u64)>,
    /// The longest run of failed attempts so far: first time, last time, attempts.
    pub longest_failure_run: Option<(String, String, u64)>,
}

/// The summary of a watch (`{"type":"watch_summary","data":...}`).
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct WatchSummary {
    pub attempts: u64,
    pub failures: u64,
    pub success_rate: f64,
    pub failures_by_stage: BTreeMap<Stage, u64>,
    pub failures_by_finding: BTreeMap<FindingId, u64>,
    pub stages: BTreeMap<Stage, StageTimes>,
    pub total: Option<StageTimes>,
    /// The longest run of consecutive failed attempts: from, to (start times), how many.
    pub longest_failure_run: Option<FailureRun>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FailureRun {
    pub from: String,
    pub to: String,
    pub attempts: u64,
}

/// Milliseconds to 0.01 ms, as the stage times are reported.
fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

fn times(h: &Histogram) -> Option<StageTimes> {
    Some(StageTimes {
        count: h.count(),
        p50_ms: round(h.quantile(0.5)?),
        p95_ms: round(h.quantile(0.95)?),
        max_ms: round(h.max()),
    })
}

impl WatchStats {
    pub fn add(&mut self, a: &Attempt) {
        self.attempts += 1;
        for (stage, ms) in &a.stages {
            self.times.entry(*stage).or_default().add(*ms);
        }
        self.total.add(a.elapsed_ms);
        if a.failed() {
            self.failures += 1;
            if let Some(s) = a.stopped_at {
                *self.by_stage.entry(s).or_default() += 1;
            }
            for id in &a.findings {
                *self.by_finding.entry(*id).or_default() += 1;
            }
            let run = self.run.get_or_insert_with(|| (a.time.clone(), 0));
            run.1 += 1;
            let (from, n) = (run.0.clone(), run.1);
            if self
                .longest_failure_run
                .as_ref()
                .is_none_or(|(_, _, longest)| n > *longest)
            {
                self.longest_failure_run = Some((from, a.time.clone(), n));
            }
        } else {
            self.run = None;
        }
    }

    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            attempts: self.attempts,
            failures: self.failures,
            success_rate: if self.attempts == 0 {
                0.0
            } else {
                (self.attempts - self.failures) as f64 / self.attempts as f64
            },
            failures_by_stage: self.by_stage.clone(),
            failures_by_finding: self.by_finding.clone(),
            stages: self
                .times
                .iter()
                .filter_map(|(s, h)| Some((*s, times(h)?)))
                .collect(),
            total: times(&self.total),
            longest_failure_run: self.longest_failure_run.as_ref().map(|(from, to, n)| {
                FailureRun {
                    from: from.clone(),
                    to: to.clone(),
                    attempts: *n,
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_two_percent_in_a_fixed_size() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(f64::from(i));
        }
        let p50 = h.quantile(0.5).unwrap();
        let p95 = h.quantile(0.95).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.02, "{p50}");
        assert!((p95 - 950.0).abs() / 950.0 < 0.02, "{p95}");
        assert_eq!(h.max(), 1000.0);
        assert_eq!(h.quantile(1.0), Some(1000.0));
        h.add(f64::NAN);
        h.add(1e12);
        assert_eq!(h.count(), 1002);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    fn attempt(n: u64, stopped: Option<Stage>) -> Attempt {
        Attempt {
            n,
            time: format!("t{n}"),
            verdict: if stopped.is_some() {
                Verdict::Error
            } else {
                Verdict::Ok
            },
            stopped_at: stopped,
            stages: [(Stage::Tcp, 1.0), (Stage::X224, n as f64)].into(),
            findings: if stopped.is_some() {
                vec![FindingId::ResetByServer]
            } else {
                Vec::new()
            },
            headline: String::new(),
            elapsed_ms: 10.0,
        }
    }

    #[test]
    fn failures_by_stage_and_the_longest_run() {
        let mut w = WatchStats::default();
        let pattern = [
            None,
            Some(Stage::Tls),
            None,
            Some(Stage::Tls),
            Some(Stage::Mcs),
        ];
        for (i, p) in pattern.into_iter().cycle().take(10).enumerate() {
            w.add(&attempt(i as u64 + 1, p));
        }
        let s = w.summary();
        assert_eq!((s.attempts, s.failures), (10, 6));
        assert!((s.success_rate - 0.4).abs() < 1e-9);
        assert_eq!(s.failures_by_stage[&Stage::Tls], 4);
        assert_eq!(s.failures_by_stage[&Stage::Mcs], 2);
        assert_eq!(s.failures_by_finding[&FindingId::ResetByServer], 6);
        // attempts 4, 5 fail, 6 succeeds; 9, 10 fail: the first run of two is kept.
        let run = s.longest_failure_run.unwrap();
        assert_eq!(
            (run.from.as_str(), run.to.as_str(), run.attempts),
            ("t4", "t5", 2)
        );
        assert_eq!(s.stages[&Stage::Tcp].count, 10);
        assert_eq!(s.stages[&Stage::X224].max_ms, 10.0);
    }
}
