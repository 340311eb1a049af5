//! Replays every input a fuzzer found (fixtures/fuzz-regression/<target>/*) and every real PDU
//! through all fuzz oracles, on the stable toolchain.

use std::path::Path;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_none_or(|x| x != "md" && x != "tsv" && x != "txt")
        {
            out.push(p);
        }
    }
}

#[test]
fn fuzz_regressions_and_real_pdus_pass_every_oracle() {
    let mut all = Vec::new();
    files(&rdp_tests::fixtures().join("fuzz-regression"), &mut all);
    let regressions = all.len();
    files(&rdp_tests::fixtures().join("pdu"), &mut all);
    files(&rdp_tests::fixtures().join("streams"), &mut all);
    assert!(all.len() > 900);
    for p in &all {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| rdp_proto::fuzzing::all(&data));
        assert!(r.is_ok(), "oracle failed on {}", p.display());
        let r = std::panic::catch_unwind(|| rdprobe::fuzzing::all(&data));
        assert!(r.is_ok(), "rdprobe oracle failed on {}", p.display());
    }
    // Every packet of every capture through the link-decode oracle.
    let mut captures = Vec::new();
    files(&rdp_tests::fixtures().join("captures"), &mut captures);
    let mut packets = 0;
    for p in captures
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
    {
        let mut r = rdprobe::capture::source::PacketReader::open(p).unwrap();
        while let Ok(Some(pkt)) = r.next_packet() {
            rdprobe::fuzzing::link_decode(pkt.data);
            packets += 1;
        }
    }
    assert!(packets > 5_000, "{packets}");
    eprintln!(
        "replayed {regressions} fuzz regressions and {} real inputs",
        all.len() - regressions
    );
}
