//! Capture analysis: reading packets from pcap/pcapng files ([`source`]), decoding their
//! link, IP and transport headers ([`link`]), TCP analysis and reassembly ([`tcp`]), the RDP
//! reader of each connection's byte streams ([`rdp`], sans-IO), the flow table and verdicts
//! ([`analyzer`]), one [`pipeline`] for files ([`run`], several at once in
//! [`batch`]) and, with the `live` feature, live capture through libpcap (`live`).

pub mod analyzer;
pub mod batch;
pub mod decrypt;
pub mod kerberos;
pub mod link;
#[cfg(feature = "live")]
pub mod live;
pub mod pipeline;
pub mod rdp;
pub mod run;
pub mod source;
pub mod tcp;
