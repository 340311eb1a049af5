//! A fleet of 10,000 loopback targets in one `rdprobe probe` run: every target reported once,
//! none past its --timeout, memory bounded, wall time close to targets / concurrency x each
//! behaviour's time. Ignored by default (it binds 7,500 listeners and takes about half a
//! minute); run it with
//!
//! ```text
//! cargo test --release -p rdprobe --test fleet -- --ignored --nocapture
//! ```
//!
//! Every address is in 127.0.0.0/8 (Linux answers for the whole block on `lo`): a quarter
//! refuse (nothing bound), a quarter stay silent, a quarter answer like FreeRDP's NLA server
//! (HYBRID_REQUIRED_BY_SERVER) and a quarter confirm TLS and then drip one byte a second.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TARGETS: u32 = 10_000;
const PORT: u16 = 13_389;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Behaviour {
    Refused,
    Silent,
    Rdp,
    Drip,
}

fn behaviour(i: u32) -> Behaviour {
    match i % 4 {
        0 => Behaviour::Refused,
        1 => Behaviour::Silent,
        2 => Behaviour::Rdp,
        _ => Behaviour::Drip,
    }
}

fn address(i: u32) -> String {
    format!("127.77.{}.{}", i / 250, 1 + i % 250)
}

#[test]
#[ignore = "10,000 targets: run with --ignored (see the module comment)"]
fn ten_thousand_loopback_targets_in_one_run() {
    let cc_refusal = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/peers/nmap_shadow-nla/014-s2c-x224-cc.bin"),
    )
    .unwrap();
    const CC_SSL: [u8; 19] = [
        3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut list = String::new();
    let mut want = HashMap::new();
    rt.block_on(async {
        for i in 0..TARGETS {
            let addr = address(i);
            list.push_str(&format!("{addr}:{PORT}\n"));
            let b = behaviour(i);
            want.insert(addr.clone(), b);
            if b == Behaviour::Refused {
                continue;
            }
            let l = TcpListener::bind((addr.as_str(), PORT)).await.unwrap();
            let cc = cc_refusal.clone();
            tokio::spawn(async move {
                while let Ok((mut s, _)) = l.accept().await {
                    let cc = cc.clone();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 512];
                        match b {
                            Behaviour::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                            Behaviour::Rdp => {
                                if s.read(&mut buf).await.unwrap_or(0) > 0 {
                                    let _ = s.write_all(&cc).await;
                                }
                            }
                            _ => {
                                if s.read(&mut buf).await.unwrap_or(0) > 0 {
                                    let _ = s.write_all(&CC_SSL).await;
                                    let _ = s.read(&mut buf).await;
                                    while s.write_all(&[0x16]).await.is_ok() {
                                        tokio::time::sleep(Duration::from_secs(1)).await;
                                    }
                                }
                            }
                        }
                    });
                }
            });
        }
    });
    let file = std::env::temp_dir().join(format!("rdprobe-fleet-{}.txt", std::process::id()));
    std::fs::write(&file, &list).unwrap();
    let (timeout, concurrency) = (2.0, 512);
    let t = Instant::now();
    let out = rt.block_on(async {
        tokio::task::spawn_blocking({
            let file = file.clone();
            move || {
                Command::new("/usr/bin/time")
                    .args(["-f", "maxrss_kb=%M"])
                    .arg(env!("CARGO_BIN_EXE_rdprobe"))
                    .args(["probe", "-i", file.to_str().unwrap(), "--format", "jsonl"])
                    .args(["--timeout", &timeout.to_string(), "--stage-timeout", "1"])
                    .args(["--concurrency", &concurrency.to_string(), "--pace-ms", "0"])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap()
    });
    let wall = t.elapsed();
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut slowest = 0.0f64;
    let mut by_outcome: HashMap<(Behaviour, String), u32> = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let d = &v["data"];
        let target = d["target"].as_str().unwrap().to_owned();
        let elapsed = d["elapsed_ms"].as_f64().unwrap();
        slowest = slowest.max(elapsed);
        let b = want[&target];
        *by_outcome
            .entry((b, d["stopped_at"].as_str().unwrap_or("-").to_owned()))
            .or_default() += 1;
        *seen.entry(target).or_default() += 1;
    }
    println!(
        "{TARGETS} targets, concurrency {concurrency}, --timeout {timeout}: wall {wall:?}, \
         slowest target {slowest} ms, max RSS {rss_kb} kB"
    );
    let mut rows: Vec<_> = by_outcome.into_iter().collect();
    rows.sort_by_key(|r| format!("{:?}", r.0));
    for ((b, stop), n) in rows {
        println!("  {b:?} stopped at {stop}: {n}");
    }
    assert_eq!(seen.len(), TARGETS as usize, "every target reported");
    assert!(seen.values().all(|n| *n == 1), "each once");
    assert!(
        slowest <= (timeout + 1.0) * 1000.0,
        "a target took {slowest} ms"
    );
    // Silent and dripping targets cost up to --timeout each, the others next to nothing:
    // half the fleet x timeout / concurrency, with room for a busy 2-core machine.
    let ideal = f64::from(TARGETS) / 2.0 * timeout / f64::from(concurrency);
    assert!(
        wall.as_secs_f64() < ideal * 3.0 + 5.0,
        "wall {wall:?} against an ideal {ideal:.1} s"
    );
    assert!(rss_kb < 200 * 1024, "max RSS {rss_kb} kB");
}
