//! The integration test binary: one binary for all integration tests (link time on 2 cores).

mod expected;
mod peers;
mod real_pdus;
mod roundtrip;
