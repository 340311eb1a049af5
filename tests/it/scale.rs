//! Flow scale, ignored by default (they write and read captures of tens of megabytes; run in
//! release: `cargo test --release -p rdp-tests --test integration scale -- --ignored
//! --nocapture`). The README's tables come from the binary on the same generated files.

use std::time::Instant;

use rdprobe::capture::analyzer::Config;
use rdprobe::capture::run::analyze_file;

/// Peak resident memory of this process so far, in kB (Linux).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A SYN scan of 1,000,000 flows against one RDP server, streamed (as `--format jsonl`):
/// every flow reported once, memory bounded by the flow table, not by the flow count.
#[test]
#[ignore = "1,000,000 flows: run with --ignored in release"]
fn a_syn_scan_of_a_million_flows() {
    let path = std::env::temp_dir().join(format!("rdprobe-synscan-{}.pcap", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let stats = rdp_benches::synscan(file, 1_000_000).unwrap();
    let t = Instant::now();
    let mut reported = 0u64;
    let mut states = std::collections::BTreeMap::<String, u64>::new();
    let r = analyze_file(
        &path,
        Config {
            keep_connections: false,
            ..Config::default()
        },
        |_| {},
        |c| {
            reported += 1;
            *states.entry(c.tcp.state.as_str().to_owned()).or_default() += 1;
        },
    )
    .unwrap();
    let took = t.elapsed();
    let _ = std::fs::remove_file(&path);
    let rss = peak_rss_kb();
    println!(
        "{} packets, {} flows: {took:?}, peak RSS {rss} kB, states {states:?}, evicted {}",
        stats.packets, reported, r.summary.evicted_flows
    );
    assert_eq!(reported, 1_000_000);
    assert_eq!(states.get("S0"), Some(&900_000));
    assert_eq!(states.get("REJ"), Some(&50_000));
    assert!(rss < 300 * 1024, "peak RSS {rss} kB");
}
