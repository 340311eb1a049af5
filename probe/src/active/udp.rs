//! `--udp`: one MS-RDPEUDP SYN to the target's UDP port and what comes back within the stage
//! timeout (the datagram and its reading are in `facts::rdpeudp`). One datagram, never sent
//! again: a silent port is reported as such, not retried.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::facts::rdpeudp::{client_syn, server_syn_ack, UdpAnswer};

/// Sends the SYN to `addr` and waits until `deadline` for its SYN+ACK; `random` gives the
/// sequence number and correlation id.
pub async fn probe_udp(addr: SocketAddr, deadline: Instant, random: [u8; 32]) -> UdpAnswer {
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return UdpAnswer::Failed(e.to_string()),
    };
    // Connected: only the target's datagrams are read, and an ICMP port unreachable comes
    // back as an error.
    if let Err(e) = socket.connect(addr).await {
        return UdpAnswer::Failed(e.to_string());
    }
    let isn = u32::from_le_bytes([random[0], random[1], random[2], random[3]]);
    let mut correlation = [0u8; 16];
    correlation.copy_from_slice(&random[4..20]);
    let started = Instant::now();
    if let Err(e) = socket.send(&client_syn(isn, &correlation)).await {
        return UdpAnswer::Failed(e.to_string());
    }
    let mut buf = vec![0u8; 2048];
    loop {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => return UdpAnswer::Silent,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return UdpAnswer::Refused
            }
            Ok(Err(e)) => return UdpAnswer::Failed(e.to_string()),
            Ok(Ok(n)) => {
                if let Some(facts) = buf.get(..n).and_then(|d| server_syn_ack(d, isn)) {
                    let rtt = started.elapsed().max(Duration::from_nanos(1));
                    return UdpAnswer::SynAck { facts, rtt };
                }
                // Not our answer: keep waiting until the deadline.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SYN the probe sent in fixtures/captures/crafted/rdprobe-udp-syn.pcap, which tshark's
    /// rdpudp dissector reads as a valid SYN (its reading is committed beside it): the
    /// datagram built today is the same, but for the random sequence number and correlation id.
    #[test]
    fn the_syn_tshark_read() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/captures/crafted/rdprobe-udp-syn.pcap");
        let mut reader = crate::capture::source::PacketReader::open(&path).unwrap();
        let p = reader.next_packet().unwrap().unwrap();
        let d = crate::capture::link::decode(p.link, p.data).unwrap();
        let crate::capture::link::Transport::Udp { payload, .. } = d.transport else {
            panic!("not UDP");
        };
        let isn = u32::from_be_bytes(payload[8..12].try_into().unwrap());
        let id: [u8; 16] = payload[16..32].try_into().unwrap();
        assert_eq!(payload, crate::facts::rdpeudp::client_syn(isn, &id));
        let tshark = std::fs::read_to_string(path.with_extension("tshark.txt")).unwrap();
        assert!(
            tshark.contains("Flags: 0x1801, Syn, Correlation id, SynEx"),
            "{tshark}"
        );
    }

    /// Against loopback sockets: one that answers with the real SYN+ACK of Zeek's
    /// rdpeudp-handshake-success (its snSourceAck set to our sequence number, as a server
    /// echoes it) after checking our SYN; one that never answers; a port nobody holds (ICMP
    /// port unreachable on loopback).
    #[tokio::test]
    async fn answered_silent_and_refused() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let answer =
            crate::testdata::capture_udp_payload("zeek__rdpeudp-handshake-success.pcap", 1);
        let responder = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, crate::facts::rdpeudp::SYN_DATAGRAM);
            let (_, syn) = rdp_proto::decode_prefix::<rdp_proto::rdpeudp::Syn>(&buf[..n]).unwrap();
            let mut reply = answer.clone();
            reply[..4].copy_from_slice(&syn.initial_sequence.to_be_bytes());
            // A stray datagram first: not the answer, waited past.
            server.send_to(b"not rdp-udp", from).await.unwrap();
            server.send_to(&reply, from).await.unwrap();
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = probe_udp(addr, deadline, [9; 32]).await;
        responder.await.unwrap();
        match got {
            UdpAnswer::SynAck { facts, .. } => assert_eq!(facts.version().label(), "2"),
            other => panic!("{other:?}"),
        }

        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(300);
        assert_eq!(
            probe_udp(silent.local_addr().unwrap(), deadline, [1; 32]).await,
            UdpAnswer::Silent
        );

        let gone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = gone.local_addr().unwrap();
        drop(gone);
        let deadline = Instant::now() + Duration::from_secs(2);
        assert_eq!(probe_udp(port, deadline, [2; 32]).await, UdpAnswer::Refused);
    }
}
