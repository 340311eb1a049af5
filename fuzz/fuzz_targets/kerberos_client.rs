//! rdprobe's `fuzzing::kerberos_client` oracle (probe/src/fuzzing.rs): the probe's Kerberos
//! client (rdp-proto's Kerberos readers, the KDC exchange, GSS unwrap, AES-CTS decryption) fed
//! hostile answers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::kerberos_client(data));
