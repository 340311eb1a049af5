//! The README's recipes, run: GNU parallel (Debian's `parallel`) probes four shards of a
//! loopback target list two at a time, and DuckDB (the `duckdb` Python package) answers
//! docs/recipes/fleet.sql over the merged JSON Lines: which servers fail where, findings by
//! count, the slowest stages. The answers must equal a single run's summary.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{closers, free_port};

fn works(cmd: &[&str]) -> bool {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn gnu_parallel_shards_and_duckdb_queries_agree_with_one_run() {
    let what = "the recipes test (Debian parallel, Python duckdb)";
    if !works(&["parallel", "--version"]) {
        return common::skip(what, "GNU parallel is not installed");
    }
    if !works(&["python3", "-c", "import duckdb"]) {
        return common::skip(what, "the duckdb Python package is not installed");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("rdprobe-recipes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let refused = free_port();
    let mut list: String = closers(12)
        .iter()
        .map(|p| format!("127.0.0.1:{p}\n"))
        .collect();
    list.push_str(&format!("127.89.0.0/28:{refused}\n"));
    std::fs::write(dir.join("targets.txt"), list).unwrap();
    let exe = env!("CARGO_BIN_EXE_rdprobe");

    // The README's recipe, on loopback: four shards, two at a time.
    let out = Command::new("parallel")
        .args(["-j", "2", "--halt", "now,fail=1"])
        .arg(format!(
            "{exe} probe -i targets.txt --shard {{}}/4 --no-enum --timeout 2 --format jsonl -o shard{{}}.jsonl; test $? -le 1"
        ))
        .args([":::", "1", "2", "3", "4"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut fleet = String::new();
    for k in 1..=4 {
        fleet.push_str(&std::fs::read_to_string(dir.join(format!("shard{k}.jsonl"))).unwrap());
    }
    std::fs::write(dir.join("fleet.jsonl"), fleet).unwrap();

    // One run over the same list: its summary line.
    let out = Command::new(exe)
        .args([
            "probe",
            "-i",
            "targets.txt",
            "--no-enum",
            "--timeout",
            "2",
            "--format",
            "jsonl",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    let summary = &summary["data"];
    assert_eq!(summary["targets"], 12 + 16);

    // DuckDB over the shards.
    let out = Command::new("python3")
        .arg(root.join("docs/recipes/run_queries.py"))
        .arg(root.join("docs/recipes/fleet.sql"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Vec<Vec<serde_json::Value>>> = serde_json::from_slice(&out.stdout).unwrap();
    // [view], failing servers, stops by stage, findings by count, slowest stages.
    let (failing, stops, findings, slowest) = (&answers[1], &answers[2], &answers[3], &answers[4]);
    let stopped_total: u64 = summary["stopped_at"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(failing.len() as u64, stopped_total, "{failing:?}");
    let stops: BTreeMap<String, u64> = stops
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = summary["stopped_at"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(stops, expected);
    let findings: BTreeMap<String, u64> = findings
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[2].as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = summary["findings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["targets"].as_u64().unwrap()))
        .collect();
    assert_eq!(findings, expected);
    assert!(!slowest.is_empty() && slowest.len() <= 10);
    let _ = std::fs::remove_dir_all(&dir);
}
