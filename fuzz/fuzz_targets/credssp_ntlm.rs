#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdp_proto::fuzzing::credssp_ntlm(data));
