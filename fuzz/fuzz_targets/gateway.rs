//! `rdp_proto::fuzzing::gateway`: WebSocket frames and the MS-TSGU packets an RD Gateway
//! carries in them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rdp_proto::fuzzing::gateway(data));
