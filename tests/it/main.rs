//! The integration test binary: one binary for all integration tests (link time on 2 cores).

mod decrypt;
mod deframer;
mod expected;
mod exporter;
mod fronts;
mod fuzz_regression;
mod gateway;
mod html;
mod kerberos;
mod licensing_xfreerdp;
mod pcap;
mod peers;
mod peers_harness;
mod probe_peers;
mod real_pdus;
mod roundtrip;
mod scale;
