//! rdprobe's `fuzzing::tls_decrypt` oracle (probe/src/fuzzing.rs): TLS 1.2 and 1.3 record
//! decryption with valid keys fed hostile records.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::tls_decrypt(data));
