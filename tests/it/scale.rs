//! Flow scale, ignored by default (they write and read captures of tens of megabytes; run in
//! release: `cargo test --release -p rdp-tests --test integration scale -- --ignored
//! --nocapture`). The README's tables come from the binary on the same generated files. Not
//! ignored: JSON Lines on two threads over a small generated scan.

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

/// One file in JSON Lines is analysed on one thread and written on another; when the writer
/// is behind, the analysis makes the lines of a batch itself. Whichever side makes them, the
/// output is the lines of the connections in order, byte for byte what one thread writes; and
/// a writer that fails stops the analysis with its error.
#[test]
fn json_lines_on_two_threads_are_the_lines_of_one_in_order() {
    use rdprobe::capture::batch::{analyze_jsonl, analyze_one, Mode};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let path = std::env::temp_dir().join(format!("rdprobe-two-{}.pcap", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    rdp_benches::synscan(file, 6_000).unwrap();
    let name = path.display().to_string();
    let mut one = Vec::new();
    analyze_one(
        &path,
        &Config::default(),
        Mode::Jsonl,
        &Arc::new(AtomicBool::new(false)),
        |_| {},
        |c| {
            rdprobe::report::json::write_connection(&mut one, Some(&name), &c).unwrap();
            one.push(b'\n');
        },
    )
    .unwrap();
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 6_000);
    /// A writer that takes its time with every batch (so the analysis gets ahead).
    struct Slow(Vec<u8>, std::time::Duration, usize);
    impl std::io::Write for Slow {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.1);
            self.2 += 1;
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    for delay in [0, 20] {
        let mut out = Slow(Vec::new(), std::time::Duration::from_millis(delay), 0);
        let cancel = Arc::new(AtomicBool::new(false));
        let (r, error) = analyze_jsonl(&path, &Config::default(), &cancel, |_| {}, &mut out);
        assert!(error.is_none());
        let r = r.unwrap();
        assert_eq!(r.archive.summary.connections, 6_000);
        assert!(
            out.0 == one,
            "delay {delay} ms: the lines differ from one thread's"
        );
        // 6,000 connections are 24 batches of 256: fewer writes would mean batches merged.
        assert!(out.2 >= 20, "{} writes", out.2);
    }
    /// A writer whose reader went away.
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let (_, error) = analyze_jsonl(&path, &Config::default(), &cancel, |_| {}, &mut Closed);
    assert_eq!(error.unwrap().kind(), std::io::ErrorKind::BrokenPipe);
    assert!(cancel.load(std::sync::atomic::Ordering::Relaxed));
    let _ = std::fs::remove_file(&path);
}
