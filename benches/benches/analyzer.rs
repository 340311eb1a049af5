//! The capture analyzer on a generated capture (`rdp_benches::generate`): bytes per second
//! through reading, link decode, TCP analysis, reassembly and RDP session analysis.
//!
//! `cargo bench -p rdp-benches --bench analyzer`; the README compares it with tshark.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdprobe::capture::analyzer::Config;
use rdprobe::capture::run::analyze_file;

fn analyzer(c: &mut Criterion) {
    let path = std::env::temp_dir().join("rdprobe-bench-analyzer.pcap");
    let cfg = rdp_benches::GenConfig {
        target_bytes: 32 * 1024 * 1024,
        ..Default::default()
    };
    let stats = rdp_benches::generate(
        std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
        &cfg,
    )
    .unwrap();
    let mut g = c.benchmark_group("analyzer");
    g.throughput(Throughput::Bytes(stats.bytes));
    g.sample_size(10);
    g.bench_function("generated_32MiB", |b| {
        b.iter(|| {
            let r = analyze_file(&path, Config::default(), |_| {}, |_| {}).unwrap();
            assert!(r.summary.connections > 0);
            r.packets
        })
    });
    g.finish();
}

criterion_group!(benches, analyzer);
criterion_main!(benches);
