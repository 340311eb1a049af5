//! rdprobe's `fuzzing::walk` oracle (probe/src/fuzzing.rs): the walk past MCS fed hostile server
//! frames, with and without Standard RDP Security.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::walk(data));
