//! Decryption in the analyzer: a real capture of `rdprobe probe --keylog` against xrdp (TLS 1.3,
//! AES-256-GCM, the walk to `active`; fixtures/captures/keylog) read with its key log and
//! without, side by side: what reading the session inside TLS costs. Also the probe's run
//! through the loopback RD Gateway (fixtures/captures/gateway/probe-websocket: HTTP, WebSocket,
//! MS-TSGU and the nested RDP connection, two TLS sessions deep).
//!
//! `cargo bench -p rdp-benches --bench decrypt`; the README has the numbers.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdprobe::capture::analyzer::Config;
use rdprobe::capture::decrypt::keylog::KeyLog;
use rdprobe::capture::run::analyze_file;

fn decrypt(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures");
    let mut g = c.benchmark_group("decrypt");
    for (sub, name) in [
        ("keylog", "xrdp-tls13"),
        ("keylog", "xrdp-tls12"),
        ("keylog", "shadow-nla-ok"),
        ("gateway", "probe-websocket"),
    ] {
        let dir = fixtures.join(sub);
        let pcap = dir.join(format!("{name}.pcap"));
        let mut log = KeyLog::default();
        log.add_text(&std::fs::read_to_string(dir.join(format!("{name}.keylog"))).unwrap());
        let log = Arc::new(log);
        g.throughput(Throughput::Bytes(std::fs::metadata(&pcap).unwrap().len()));
        for (label, keylog) in [("with_key", Some(log)), ("without_key", None)] {
            g.bench_function(format!("{name}_{label}"), |b| {
                b.iter(|| {
                    let cfg = Config {
                        keylog: keylog.clone(),
                        ..Config::default()
                    };
                    analyze_file(&pcap, cfg, |_| {}, |_| {}).unwrap().packets
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, decrypt);
criterion_main!(benches);
