//! The record of one target: stages, findings, where it stopped, what did not fit in time.

use core::time::Duration;

use crate::diagnose::StageRecord;
use crate::diagnose::{finding, Finding, FindingId, Stage, StageStatus};

/// The stages and findings of one target as they are decided.
#[derive(Debug, Default)]
pub struct Record {
    pub stages: Vec<StageRecord>,
    pub findings: Vec<Finding>,
    pub stopped_at: Option<Stage>,
    /// The stage being worked on (its own connection or its enumeration).
    pub current: Option<Stage>,
    /// Stages the main connection is due to go through, in order; those not recorded when the
    /// run ends (the deadline ran out) are reported as skipped.
    planned: Vec<Stage>,
    /// What was not tried for lack of time (layers, TLS versions, methods).
    skipped: Vec<String>,
}

impl Record {
    pub fn stage(
        &mut self,
        name: Stage,
        status: StageStatus,
        at: Duration,
        detail: impl Into<String>,
    ) {
        self.stages.push(StageRecord {
            name,
            status,
            elapsed_ms: ms(at),
            detail: detail.into(),
        });
    }

    /// Changes the last record of `name` (its status, time, and `detail` appended), or adds one.
    pub fn amend(&mut self, name: Stage, status: StageStatus, at: Duration, detail: &str) {
        match self.stages.iter_mut().rev().find(|s| s.name == name) {
            Some(s) => {
                s.status = status;
                s.elapsed_ms = ms(at);
                s.detail = if s.detail.is_empty() {
                    detail.to_string()
                } else {
                    format!("{}; {detail}", s.detail)
                };
            }
            None => self.stage(name, status, at, detail),
        }
    }

    pub fn has_stage(&self, name: Stage) -> bool {
        self.stages.iter().any(|s| s.name == name)
    }

    pub fn begin(&mut self, stage: Stage) {
        self.current = Some(stage);
    }

    pub fn plan(&mut self, stages: &[Stage]) {
        self.planned = stages.to_vec();
    }

    /// The stages the main connection is due to go through.
    pub fn planned(&self) -> &[Stage] {
        &self.planned
    }

    pub fn stop(&mut self, stage: Stage) {
        self.stopped_at.get_or_insert(stage);
    }

    /// Notes that `what` was not tried: the deadline had passed.
    pub fn skip(&mut self, what: impl Into<String>) {
        self.skipped.push(what.into());
    }

    /// The target's deadline (`limit`, e.g. "--timeout (5s)") ran out at `at` with the current
    /// stage unfinished: that stage timed out (if not already recorded), the finding says what
    /// was not tried.
    pub fn deadline_passed(&mut self, limit: &str, at: Duration) {
        let current = self.current.unwrap_or(Stage::Dns);
        let limit = format!("{limit} ran out");
        if !self.has_stage(current) {
            self.stage(
                current,
                StageStatus::Timeout,
                at,
                format!("{limit} during this stage"),
            );
            self.stop(current);
        }
        let mut evidence = format!("{limit} during the {current} stage");
        if !self.skipped.is_empty() {
            evidence += &format!("; not tried: {}", self.skipped.join(", "));
        }
        self.findings.push(probe_timeout(evidence));
    }

    /// Ends the record at `at`: planned stages never reached are skipped; attempts that did not
    /// fit in time are named (once). The findings come out worst first.
    pub fn finish(&mut self, limit: &str, at: Duration) {
        let planned = std::mem::take(&mut self.planned);
        for st in planned {
            if !self.has_stage(st) {
                let why = if self.stopped_at.is_some() {
                    "not reached: the connection stopped at an earlier stage"
                } else {
                    "not reached before --timeout"
                };
                self.stage(st, StageStatus::Skipped, at, why);
            }
        }
        if !self.skipped.is_empty()
            && !self
                .findings
                .iter()
                .any(|f| f.id == FindingId::ProbeTimeout)
        {
            let evidence = format!("{limit} ran out; not tried: {}", self.skipped.join(", "));
            self.findings.push(probe_timeout(evidence));
        }
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }
}

/// `probe-timeout`: the target's deadline left something untried.
pub fn probe_timeout(evidence: String) -> Finding {
    finding(FindingId::ProbeTimeout, evidence)
}

use crate::time::ms;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::{Stage, StageStatus};

    use core::time::Duration;

    #[test]
    fn the_record_reports_what_did_not_fit() {
        let mut rec = Record::default();
        rec.begin(Stage::Tls);
        rec.plan(&[Stage::Tls, Stage::Credssp]);
        rec.skip("layer rdstls");
        rec.deadline_passed("--timeout (2s)", Duration::from_secs(2));
        rec.finish("--timeout (2s)", Duration::from_secs(2));
        let st: Vec<_> = rec.stages.iter().map(|s| (s.name, s.status)).collect();
        assert_eq!(
            st,
            [
                (Stage::Tls, StageStatus::Timeout),
                (Stage::Credssp, StageStatus::Skipped)
            ]
        );
        assert_eq!(rec.stopped_at, Some(Stage::Tls));
        assert_eq!(rec.findings.len(), 1);
        assert!(rec.findings[0].evidence.contains("not tried: layer rdstls"));
    }
}
