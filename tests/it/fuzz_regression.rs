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
    }
    eprintln!(
        "replayed {regressions} fuzz regressions and {} real inputs",
        all.len() - regressions
    );
}
