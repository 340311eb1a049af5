//! rdprobe's `fuzzing::kerberos` oracle (probe/src/fuzzing.rs): Kerberos messages on port 88,
//! as TCP streams and UDP datagrams.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::kerberos(data));
