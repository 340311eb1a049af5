//! Capture analysis: reading packets from pcap/pcapng files ([`source`]), decoding their
//! link, IP and transport headers ([`link`]), TCP analysis and reassembly ([`tcp`]), the flow
//! table and verdicts ([`analyzer`]), the file pipeline
//! ([`run`]) and several files at once ([`batch`]); with the `live` feature, live capture through libpcap (`live`).

pub mod analyzer;
pub mod batch;
pub mod link;
#[cfg(feature = "live")]
pub mod live;
pub mod run;
pub mod source;
pub mod tcp;
