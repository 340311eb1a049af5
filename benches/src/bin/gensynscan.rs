//! `cargo run --release -p rdp-benches --bin gensynscan -- OUT.pcap [FLOWS]` writes a SYN scan
//! of FLOWS (default 1,000,000) connection attempts against one RDP server (see
//! `rdp_benches::synscan`).

use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "synscan.pcap".to_owned());
    let flows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let s = rdp_benches::synscan(file, flows)?;
    eprintln!(
        "{out}: {} bytes, {} packets, {} flows",
        s.bytes, s.packets, s.connections
    );
    Ok(())
}
