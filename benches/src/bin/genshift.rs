//! `cargo run --release -p rdp-benches --bin genshift -- OUT.pcap [COPIES]` writes the public
//! captures (the Ethernet ones, `fixtures/captures/public`) COPIES times (default 2,000), each
//! copy with its IPv4/IPv6 addresses shifted and its time moved on, so that every copy is new
//! flows: a capture of many small packets, real handshakes and real TCP behaviour, for the
//! per-packet benchmark (`rdprobe pcap` against `tshark -q -z conv,tcp`).

use std::io::BufWriter;

use rdp_benches::{GenStats, PcapWriter, Resolution};
use rdprobe::capture::source::{LinkType, PacketReader};

fn shift_addresses(frame: &mut [u8], copy: u32) {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([frame[off], frame[off + 1]]);
    while (ethertype == 0x8100 || ethertype == 0x88A8) && frame.len() >= off + 6 {
        off += 4;
        ethertype = u16::from_be_bytes([frame[off], frame[off + 1]]);
    }
    let ip = off + 2;
    let [hi, lo] = (copy as u16).to_be_bytes();
    match ethertype {
        0x0800 if frame.len() >= ip + 20 => {
            for a in [ip + 12, ip + 16] {
                frame[a + 1] ^= hi;
                frame[a + 2] ^= lo;
            }
        }
        0x86DD if frame.len() >= ip + 40 => {
            for a in [ip + 8, ip + 24] {
                frame[a + 12] ^= hi;
                frame[a + 13] ^= lo;
            }
        }
        _ => {}
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "shifted.pcap".to_owned());
    let copies: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = rdp_benches::fixtures().join("captures/public");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    // (relative time ns, frame) per file, Ethernet packets only.
    let mut inputs: Vec<Vec<(i64, Vec<u8>)>> = Vec::new();
    for f in &files {
        let Ok(mut r) = PacketReader::open(f) else {
            continue;
        };
        let mut pkts = Vec::new();
        let mut first = None;
        while let Ok(Some(p)) = r.next_packet() {
            if p.link != LinkType::ETHERNET || p.data.len() < 14 {
                continue;
            }
            let t0 = *first.get_or_insert(p.ts_ns);
            pkts.push((p.ts_ns - t0, p.data.to_vec()));
        }
        if !pkts.is_empty() {
            inputs.push(pkts);
        }
    }
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let mut w = PcapWriter::new(file, Resolution::Nano)?;
    let mut base: u64 = 1_780_000_000_000_000_000;
    for copy in 0..copies {
        for pkts in &inputs {
            let mut last = 0;
            for (rel, frame) in pkts {
                let mut frame = frame.clone();
                shift_addresses(&mut frame, copy + 1);
                // Long gaps inside a file are cut to a second: the copies stay dense in time.
                let t = base + (*rel).clamp(0, 1_000_000_000) as u64;
                last = last.max(t);
                w.packet(t, &frame)?;
            }
            base = last + 1_000_000;
        }
    }
    let GenStats { bytes, packets, .. } = w.finish()?;
    eprintln!(
        "{out}: {bytes} bytes, {packets} packets, {} files x {copies} copies",
        inputs.len()
    );
    Ok(())
}
