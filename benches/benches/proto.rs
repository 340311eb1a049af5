//! Parser benchmarks on real PDUs from the public captures (`fixtures/pdu`, `fixtures/streams`).
//!
//! `cargo bench -p rdp-benches --bench proto`; the README has the numbers.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdp_proto::frame::Deframer;
use rdp_proto::gcc::{ConferenceCreateRequest, ConferenceCreateResponse};
use rdp_proto::mcs::{ConnectInitial, ConnectResponse};
use rdp_proto::tls::{ClientHello, Handshake, Record};
use rdp_proto::x224::Tpdu;
use rdp_proto::{decode, encode_vec};

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tpdu(bytes: &[u8]) -> Tpdu<'_> {
    let (_, (_, t)) = Tpdu::parse_tpkt(bytes).expect("TPKT");
    t
}

fn x224(c: &mut Criterion) {
    let cr = fixture("pdu/zeek__rdp-proprietary-encryption/001-c2s-x224-cr.bin");
    let cc = fixture("pdu/zeek__rdp-no-cookie-mstshash/002-s2c-x224-cc.bin");
    let mut g = c.benchmark_group("x224");
    g.throughput(Throughput::Elements(1));
    g.bench_function("connection_request_parse", |b| {
        b.iter(|| tpdu(black_box(&cr)))
    });
    g.bench_function("connection_confirm_parse", |b| {
        b.iter(|| tpdu(black_box(&cc)))
    });
    let parsed = tpdu(&cr);
    g.bench_function("connection_request_encode", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(64);
            black_box(&parsed).encode_tpkt(&mut v).unwrap();
            v
        })
    });
    g.finish();
}

fn mcs(c: &mut Criterion) {
    let ci = fixture("pdu/zeek__rdp-proprietary-encryption/005-c2s-mcs-connect-initial.bin");
    let cr = fixture("pdu/zeek__rdp-x509/004-s2c-mcs-connect-response.bin");
    let mcs_of = |b: &[u8]| match tpdu(b) {
        Tpdu::Data(d) => d.payload.to_vec(),
        _ => panic!("not DT"),
    };
    let (ci, cr) = (mcs_of(&ci), mcs_of(&cr));
    let mut g = c.benchmark_group("mcs_gcc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("connect_initial_with_gcc_parse", |b| {
        b.iter(|| {
            let m: ConnectInitial = decode(black_box(&ci)).unwrap();
            let g: ConferenceCreateRequest = decode(m.user_data).unwrap();
            g.blocks.len()
        })
    });
    g.bench_function("connect_response_with_gcc_parse", |b| {
        b.iter(|| {
            let m: ConnectResponse = decode(black_box(&cr)).unwrap();
            let g: ConferenceCreateResponse = decode(m.user_data).unwrap();
            g.blocks.len()
        })
    });
    let m: ConnectInitial = decode(&ci).unwrap();
    g.bench_function("connect_initial_encode", |b| {
        b.iter(|| encode_vec(black_box(&m)).unwrap())
    });
    g.finish();
}

fn tls(c: &mut Criterion) {
    let rec = fixture("pdu/zeek__rdp-no-cookie-mstshash/003-c2s-tls-handshake-client-hello.bin");
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Elements(1));
    g.bench_function("client_hello_parse", |b| {
        b.iter(|| {
            let r: Record = decode(black_box(&rec)).unwrap();
            let h: Handshake = decode(r.fragment).unwrap();
            let ch: ClientHello = decode(h.body).unwrap();
            (ch.cipher_suites().count(), ch.sni().is_some())
        })
    });
    g.finish();
}

fn deframer(c: &mut Criterion) {
    let mut g = c.benchmark_group("deframer");
    for name in [
        "zeek__rdp-proprietary-encryption-s1-s2c",
        "suricata-verify__rdp-protocol__RDP-003-s0-c2s",
        "zeek__rdp-to-ssl-s1-s2c",
    ] {
        let stream = fixture(&format!("streams/{name}.bin"));
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = Deframer::new();
                let mut frames = 0usize;
                for seg in black_box(&stream).chunks(1460) {
                    d.push(seg).unwrap();
                    while let Some(f) = d.next_frame().unwrap() {
                        frames += f.bytes.len() & 1;
                    }
                }
                frames
            })
        });
    }
    g.finish();
}

criterion_group!(benches, x224, mcs, tls, deframer);
criterion_main!(benches);
