//! `rdprobe summarize`'s reading of a JSON Lines line (`fuzzing::summary_lines`) on arbitrary
//! bytes: never panics, counts saturate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdprobe::fuzzing::summary_lines(data));
