//! `cargo run --release -p rdp-benches --bin genreorder -- OUT.pcap [FLOWS] [SEGMENTS]` writes
//! FLOWS (default 8) connections whose SEGMENTS (default 400,000) one-byte client segments come
//! in reverse order (see `rdp_benches::reorder`): the reassembly-memory check.

use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "reorder.pcap".to_owned());
    let flows: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let segments: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(400_000);
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let s = rdp_benches::reorder(file, flows, segments)?;
    eprintln!(
        "{out}: {} bytes, {} packets, {} flows",
        s.bytes, s.packets, s.connections
    );
    Ok(())
}
