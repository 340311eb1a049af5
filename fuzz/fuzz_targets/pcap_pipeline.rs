//! The whole capture pipeline (file reader, link decode, TCP analysis, reassembly, RDP session
//! analysis, verdicts) over arbitrary capture bytes: it must not panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = rdprobe::capture::source::PacketReader::new(data) {
        let cfg = rdprobe::capture::analyzer::Config { max_flows: 64, ..Default::default() };
        let _ = rdprobe::capture::run::analyze_reader(reader, cfg, |_| {}, |_| {});
    }
});
