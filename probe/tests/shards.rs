//! Past one process: `probe --shard K/N` splits a target list (CIDR blocks and -i lists
//! expanded) so that N runs cover every target exactly once; `--resume` goes on after a run
//! killed with SIGKILL, with every target once in the two outputs together; `summarize` over
//! the shards' JSON Lines gives the summary of one run over the same targets. All targets are
//! loopback: refused ports, servers that close at once and silent ones in this process.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{closers, free_port, silent};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_rdprobe")
}

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rdprobe-shards-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `(target, port)` of every `{"type":"target"}` line of `file`, with repeats; a line cut
/// short at the end (a killed run) is not counted.
fn targets_in(file: &std::path::Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "target")
        .map(|v| {
            (
                v["data"]["target"].as_str().unwrap().to_owned(),
                v["data"]["port"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn probe(args: &[&str]) -> std::process::Output {
    Command::new(exe())
        .args(["probe", "--no-enum", "--format", "jsonl", "--timeout", "2"])
        .args(args)
        .output()
        .unwrap()
}

/// `rdprobe summarize --format json FILES`: its exit code and its summary object.
fn summarize(files: &[&std::path::Path]) -> (Option<i32>, serde_json::Value) {
    let o = Command::new(exe())
        .args(["summarize", "--format", "json"])
        .args(files)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

/// The summary object of a `summarize --format json` or of a run's last jsonl line, without
/// the slowest targets (their times differ from run to run).
fn summary_without_times(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("slowest");
    v
}

#[test]
fn shards_cover_every_target_once_and_summarize_equals_one_run() {
    let d = dir();
    // 64 refused addresses (a CIDR block on a port nothing listens on) and 24 closers (a list).
    let refused = free_port();
    let list = d.join("targets.txt");
    let closing = closers(24);
    std::fs::write(
        &list,
        closing
            .iter()
            .map(|p| format!("127.0.0.1:{p}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let block = format!("127.88.0.0/26:{refused}");
    let list_arg = list.to_str().unwrap();
    let mut all = Vec::new();
    let mut files = Vec::new();
    for k in 1..=4 {
        let out = d.join(format!("shard{k}.jsonl"));
        let o = probe(&[
            &block,
            "-i",
            list_arg,
            "--shard",
            &format!("{k}/4"),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
        let got = targets_in(&out);
        assert_eq!(got.len(), 22, "shard {k}: 88 targets / 4");
        all.extend(got);
        files.push(out);
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "a target in two shards");
    assert_eq!(unique.len(), 64 + 24);

    // One run over the same targets, and the summary of the shards.
    let one = d.join("one.jsonl");
    let o = probe(&[&block, "-i", list_arg, "-o", one.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let text = std::fs::read_to_string(&one).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    let shards: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let (code, merged) = summarize(&shards);
    assert_eq!(code, Some(1), "some targets are errors");
    assert_eq!(merged["targets"], 88);
    assert_eq!(
        summary_without_times(&merged),
        summary_without_times(&last["data"]),
        "the summary of the shards is the summary of one run"
    );
    // And summarize of the one run's own lines is exactly its summary line, times included.
    let (_, again) = summarize(&[&one]);
    assert_eq!(again, last["data"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_run_killed_with_sigkill_resumes_with_every_target_once() {
    let d = dir();
    // 40 silent servers: each probe waits its whole --timeout (0.5 s), 4 at a time: ~5 s.
    let ports = silent(40);
    let list = d.join("targets.txt");
    std::fs::write(
        &list,
        ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let first = d.join("first.jsonl");
    let mut child = Command::new(exe())
        .args([
            "probe",
            "--no-enum",
            "--format",
            "jsonl",
            "--timeout",
            "0.5",
            "--concurrency",
            "4",
            "-i",
        ])
        .arg(&list)
        .arg("-o")
        .arg(&first)
        .spawn()
        .unwrap();
    // Kill it half way, whatever it is doing.
    let t = Instant::now();
    while targets_in(&first).len() < 12 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = targets_in(&first);
    assert!(
        before.len() >= 12 && before.len() < 40,
        "{} done before the kill",
        before.len()
    );

    let second = d.join("second.jsonl");
    let o = Command::new(exe())
        .args([
            "probe",
            "--no-enum",
            "--format",
            "jsonl",
            "--timeout",
            "0.5",
            "--concurrency",
            "8",
            "-i",
        ])
        .arg(&list)
        .arg("--resume")
        .arg(&first)
        .arg("-o")
        .arg(&second)
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let mut count: BTreeMap<(String, u64), u32> = BTreeMap::new();
    for t in before.iter().chain(&targets_in(&second)) {
        *count.entry(t.clone()).or_default() += 1;
    }
    assert_eq!(count.len(), 40, "every target");
    assert!(count.values().all(|n| *n == 1), "each once: {count:?}");
    let (_, merged) = summarize(&[&first, &second]);
    assert_eq!(merged["targets"], 40, "{merged}");
    let _ = std::fs::remove_dir_all(&d);
}
