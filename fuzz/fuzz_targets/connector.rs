//! rdprobe's `fuzzing::connector` oracle (probe/src/fuzzing.rs): the main connection's sans-IO
//! connector fed hostile server bytes in each mode, with and without credentials.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::connector(data));
