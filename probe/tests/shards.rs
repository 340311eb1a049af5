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

/// A target list of 127.0.0.1 on `ports`, one a line.
fn write_list(path: &std::path::Path, ports: &[u16]) {
    let text: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    std::fs::write(path, text).unwrap();
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
    write_list(&list, &closing);
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
    write_list(&list, &ports);
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

/// A fleet of 100,000 targets probed as four shards one after another, and once whole. The
/// targets are in a network namespace the test makes (`ip netns exec` runs the probes there):
/// a /17 of refused addresses (a CIDR block, expanded lazily) and a list of 67,232 more,
/// filtered (an iptables DROP), silent, answering like FreeRDP's NLA server (its real X.224
/// Connection Confirm) or closing after the request. Checks: every target once over the
/// shards, the shards' merged summary equal to the whole run's, and memory flat (a quarter of
/// the targets does not take less memory than all of them, within noise: what a run holds is
/// bounded by its concurrency, not by its targets). Ignored: two passes of about a minute
/// each. Run it with
///
/// ```text
/// cargo test --release -p rdprobe --test shards -- --ignored --nocapture
/// ```
#[test]
#[ignore = "100,000 targets, about three minutes: run with --ignored in release"]
fn a_hundred_thousand_targets_in_four_shards_and_one_run() {
    use std::io::Read;
    let Some(ns) = common::netns("the fleet of 100,000", "fleet") else {
        return;
    };
    if !common::drop_port("the fleet of 100,000", &ns, "3390") {
        return;
    }
    let cc = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/peers/nmap_shadow-nla/014-s2c-x224-cc.bin"),
    )
    .unwrap();
    // One listener on every loopback address of the namespace; what it does depends on the
    // address the probe connected to.
    let path = format!("/var/run/netns/{}", ns.0);
    let listener = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        // A long accept queue: 512 connections at once to one listener would overflow the
        // default one, and a dropped SYN is retried after the probe's 1 s timeout.
        let _ = std::fs::write("/proc/sys/net/core/somaxconn", "8192");
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(
            &"0.0.0.0:3389"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.listen(8192).unwrap();
        std::net::TcpListener::from(s)
    })
    .join()
    .unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let cc = cc.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut s = s;
                let class = match s.local_addr() {
                    Ok(std::net::SocketAddr::V4(a)) => a.ip().octets()[1],
                    _ => 0,
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = [0u8; 512];
                match class {
                    // Silent: holds the connection until the probe gives up.
                    21 => while s.read(&mut buf).is_ok_and(|n| n > 0) {},
                    22 => {
                        if s.read(&mut buf).is_ok_and(|n| n > 0) {
                            let _ = s.write_all(&cc);
                        }
                    }
                    _ => {
                        let _ = s.read(&mut buf);
                    }
                }
            });
        }
    });
    let d = dir();
    let list = d.join("targets.txt");
    let mut text = String::new();
    for i in 0..67_232u32 {
        let (class, port) = match i % 4 {
            0 => (20, 3390),
            1 => (21, 3389),
            2 => (22, 3389),
            _ => (23, 3389),
        };
        let j = i / 4;
        text.push_str(&format!("127.{class}.{}.{}:{port}\n", j / 250, 1 + j % 250));
    }
    std::fs::write(&list, text).unwrap();
    let block = "127.10.0.0/17:3391";
    // One probe run in the namespace: its max RSS in kB.
    let run = |extra: &[&str], out: &std::path::Path| -> u64 {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.0,
                "/usr/bin/time",
                "-f",
                "maxrss_kb=%M",
            ])
            .arg(exe())
            .args(["probe", "--no-enum", "--format", "jsonl", "--timeout", "1"])
            .args([
                "--stage-timeout",
                "1",
                "--concurrency",
                "512",
                "--pace-ms",
                "0",
            ])
            .args([
                block,
                "-i",
                list.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kb="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let mut files = Vec::new();
    let mut all = Vec::new();
    let mut shard_rss = Vec::new();
    let t = Instant::now();
    for k in 1..=4 {
        let out = d.join(format!("shard{k}.jsonl"));
        shard_rss.push(run(&["--shard", &format!("{k}/4")], &out));
        let got = targets_in(&out);
        assert_eq!(got.len(), 25_000, "shard {k}");
        all.extend(got);
        files.push(out);
    }
    let shards_took = t.elapsed();
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), 100_000, "every target once over the shards");
    let one = d.join("one.jsonl");
    let t = Instant::now();
    let one_rss = run(&[], &one);
    let one_took = t.elapsed();
    let lines = std::fs::read_to_string(&one).unwrap();
    let last: serde_json::Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    let shards: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let (_, merged) = summarize(&shards);
    println!(
        "shards {shards_took:?} (max RSS {shard_rss:?} kB), one run {one_took:?} (max RSS {one_rss} kB); verdicts {}, stopped at {}",
        merged["verdicts"], merged["stopped_at"]
    );
    assert_eq!(merged["targets"], 100_000);
    assert_eq!(
        summary_without_times(&merged),
        summary_without_times(&last["data"]),
        "the summary of the shards is the summary of one run"
    );
    let stopped = &merged["stopped_at"];
    assert_eq!(stopped["tcp"], 32_768 + 16_808, "refused and filtered");
    let biggest_shard = *shard_rss.iter().max().unwrap();
    assert!(
        one_rss < biggest_shard * 3 / 2 + 8 * 1024,
        "memory grows with the targets: {one_rss} kB for 100,000 against {shard_rss:?} kB for 25,000"
    );
    let _ = std::fs::remove_dir_all(&d);
}
