//! JSON Lines at SYN-scan scale (`rdp_benches::synscan`, 200,000 flows: past the flow
//! table's 100,000, so connections finish all along): one thread analysing and writing
//! against [`analyze_jsonl`]'s two, the lines alone, and `summarize`'s reading of them back.
//!
//! `cargo bench -p rdp-benches --bench jsonl`; README "Flow scale" has the whole-process
//! numbers of the million.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdprobe::capture::analyzer::Config;
use rdprobe::capture::batch::{analyze_jsonl, analyze_one, Mode};
use rdprobe::report::archive::{ArchiveSummary, ConnectionEntry};
use rdprobe::report::json::write_connection;

const FLOWS: u64 = 200_000;

fn jsonl(c: &mut Criterion) {
    let path = std::env::temp_dir().join("rdprobe-bench-jsonl.pcap");
    rdp_benches::synscan(
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
        FLOWS,
    )
    .unwrap();
    let name = path.display().to_string();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut g = c.benchmark_group("jsonl");
    g.throughput(Throughput::Elements(FLOWS));
    g.sample_size(10);
    g.bench_function("one_thread", |b| {
        b.iter(|| {
            let mut out = std::io::sink();
            let mut line = Vec::with_capacity(4096);
            analyze_one(
                &path,
                &Config::default(),
                Mode::Jsonl,
                &cancel,
                |_| {},
                |c| {
                    line.clear();
                    write_connection(&mut line, Some(&name), &c).unwrap();
                    std::io::Write::write_all(&mut out, &line).unwrap();
                },
            )
            .unwrap()
        })
    });
    g.bench_function("two_threads", |b| {
        b.iter(|| {
            let (r, e) = analyze_jsonl(
                &path,
                &Config::default(),
                &cancel,
                |_| {},
                &mut std::io::sink(),
            );
            assert!(e.is_none());
            r.unwrap()
        })
    });
    // The connections, and their JSON as `summarize` reads it.
    let kept = analyze_one(
        &path,
        &Config::default(),
        Mode::Json,
        &cancel,
        |_| {},
        |_| {},
    )
    .unwrap()
    .report
    .connections;
    let data: Vec<String> = kept.iter().map(rdprobe::report::json::line).collect();
    g.bench_function("write_lines", |b| {
        let mut out = Vec::with_capacity(64 << 20);
        b.iter(|| {
            out.clear();
            for c in &kept {
                write_connection(&mut out, Some(&name), c).unwrap();
                out.push(b'\n');
            }
            out.len()
        })
    });
    g.bench_function("summarize_read", |b| {
        b.iter(|| {
            let mut s = ArchiveSummary::default();
            for d in &data {
                s.add_entry(&ConnectionEntry::from_json(d).unwrap());
            }
            s
        })
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, jsonl);
criterion_main!(benches);
