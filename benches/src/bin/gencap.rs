//! `cargo run --release -p rdp-benches --bin gencap -- OUT.pcap [MEGABYTES] [SEED]`
//! writes a deterministic benchmark capture (see the crate docs).

use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "bench.pcap".to_owned());
    let mb: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0x5EED);
    let cfg = rdp_benches::GenConfig {
        target_bytes: mb * 1024 * 1024,
        seed,
        ..Default::default()
    };
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let s = rdp_benches::generate(file, &cfg)?;
    eprintln!(
        "{out}: {} bytes, {} packets, {} connections",
        s.bytes, s.packets, s.connections
    );
    Ok(())
}
