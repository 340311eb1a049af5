//! rdprobe's `fuzzing::target_list` oracle (probe/src/fuzzing.rs) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::target_list(data));
