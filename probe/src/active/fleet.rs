//! Many targets: each probed in its own task, at most `concurrency` at once, results handed out
//! as they finish. A task that panics becomes its target's error result (`internal-error`),
//! never a missing target; a stop (Ctrl-C, a closed output) ends the run at once.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinError, JoinSet};

use super::run::{internal_error, Target};
use crate::report::probe::ProbeResult;

/// How a run of many targets ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every target was probed and handed out.
    AllDone,
    /// `stop` fired first (Ctrl-C).
    Stopped,
    /// `each` asked to stop (the output was closed or failed).
    Refused,
}

/// Probes every target of `targets` with `probe`, at most `concurrency` at once; hands each
/// result to `each` as it finishes (`false` from `each` ends the run). `stop` ends the run when
/// it completes (pass `std::future::pending()` for never). Tasks still running at the end are
/// aborted.
pub async fn probe_all<P, F>(
    targets: impl Iterator<Item = Target>,
    concurrency: usize,
    probe: P,
    stop: impl Future<Output = ()>,
    mut each: impl FnMut(ProbeResult) -> bool,
) -> Ended
where
    P: Fn(Target) -> F,
    F: Future<Output = ProbeResult> + Send + 'static,
{
    let mut targets = targets;
    let mut set = JoinSet::new();
    let mut running: HashMap<Id, Target> = HashMap::new();
    tokio::pin!(stop);
    let ended = loop {
        while set.len() < concurrency.max(1) {
            let Some(t) = targets.next() else { break };
            let handle = set.spawn(probe(t.clone()));
            running.insert(handle.id(), t);
        }
        let done = tokio::select! {
            done = set.join_next_with_id() => done,
            () = &mut stop => break Ended::Stopped,
        };
        let Some(done) = done else {
            break Ended::AllDone;
        };
        let result = match done {
            Ok((id, r)) => {
                running.remove(&id);
                r
            }
            Err(e) => match running.remove(&e.id()) {
                Some(t) => internal_error(&t, &describe(e)),
                None => continue,
            },
        };
        if !each(result) {
            break Ended::Refused;
        }
    };
    set.abort_all();
    ended
}

/// What went wrong in a task, with the panic's message when there is one.
fn describe(e: JoinError) -> String {
    if !e.is_panic() {
        return "the probe task was cancelled".to_owned();
    }
    let p = e.into_panic();
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("the probe task panicked: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{FindingId, Verdict};

    fn targets(n: u16) -> impl Iterator<Item = Target> {
        (1..=n).map(|port| Target {
            host: "127.0.0.1".into(),
            port,
        })
    }

    /// A probe that panics for one target: that target is still reported, as an error with
    /// `internal-error`, and every other target is reported once.
    #[tokio::test]
    async fn a_panicking_task_is_its_targets_error_result() {
        let mut seen = Vec::new();
        let ended = probe_all(
            targets(20),
            4,
            |t: Target| async move {
                if t.port == 7 {
                    panic!("boom on port 7");
                }
                let mut r = internal_error(&t, "stand-in");
                r.findings.clear();
                r.verdict = Verdict::Ok;
                r
            },
            std::future::pending(),
            |r| {
                seen.push(r);
                true
            },
        )
        .await;
        assert_eq!(ended, Ended::AllDone);
        assert_eq!(seen.len(), 20);
        let mut ports: Vec<u16> = seen.iter().map(|r| r.port).collect();
        ports.sort_unstable();
        assert_eq!(ports, (1..=20).collect::<Vec<_>>());
        let bad = seen.iter().find(|r| r.port == 7).unwrap();
        assert_eq!(bad.verdict, Verdict::Error);
        assert_eq!(bad.findings[0].id, FindingId::InternalError);
        assert!(bad.findings[0].evidence.contains("boom on port 7"));
    }

    /// `each` returning false, or `stop`, ends the run without waiting for the rest.
    #[tokio::test]
    async fn a_refusal_or_a_stop_ends_the_run() {
        let slow = |t: Target| async move {
            if t.port > 1 {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            internal_error(&t, "done")
        };
        let mut n = 0;
        let ended = probe_all(targets(5), 5, slow, std::future::pending(), |_| {
            n += 1;
            false
        })
        .await;
        assert_eq!((ended, n), (Ended::Refused, 1));
        let ended = probe_all(
            targets(5),
            5,
            slow,
            tokio::time::sleep(std::time::Duration::from_millis(50)),
            |_| true,
        )
        .await;
        assert_eq!(ended, Ended::Stopped);
    }
}
