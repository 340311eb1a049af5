//! rdprobe's `fuzzing::gateway_stream` oracle (probe/src/fuzzing.rs): an RD Gateway's decrypted
//! stream as the capture reads it, the nested RDP connection included.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::gateway_stream(data));
