//! The flow table and verdicts on crafted packets: injected resets, eviction, lean flows, tshark parity.
use super::*;
use crate::capture::link::{Decoded, TcpSegment, Transport};
use crate::diagnose::FindingId;
use std::net::IpAddr;

fn seg(client: bool, ttl: u8, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Decoded<'_> {
    let (c, s): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let (src, dst, sp, dp) = if client {
        (c, s, 50000, 3389)
    } else {
        (s, c, 3389, 50000)
    };
    Decoded {
        src,
        dst,
        ttl,
        ip_id: Some(1),
        vlan: None,
        more_fragments: false,
        transport: Transport::Tcp(TcpSegment {
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags,
            window: 1000,
            window_scale: None,
            mss: None,
            payload,
            payload_len: payload.len() as u32,
        }),
    }
}

/// A RST whose TTL does not fit the server's other packets (a middlebox forged it), in the
/// middle of the TLS stage: injected-reset, reset by "server", stopped at tls.
#[test]
fn forged_reset_is_flagged_as_injected() {
    let cr = crate::testdata::pdu("ndpi__rdp_over_tls/001-c2s-x224-cr.bin");
    let cc = crate::testdata::pdu("ndpi__rdp_over_tls/002-s2c-x224-cc.bin");
    let mut a = Analyzer::new(Config::default());
    let ms = 1_000_000i64;
    let (syn, ack, psh, rst) = (
        flags::SYN,
        flags::ACK,
        flags::PSH | flags::ACK,
        flags::RST | flags::ACK,
    );
    let (c0, s0) = (1000u32, 5000u32);
    a.packet(1, 0, &seg(true, 128, syn, c0, 0, &[]));
    a.packet(2, ms, &seg(false, 64, syn | ack, s0, c0 + 1, &[]));
    a.packet(3, 2 * ms, &seg(true, 128, ack, c0 + 1, s0 + 1, &[]));
    a.packet(4, 3 * ms, &seg(true, 128, psh, c0 + 1, s0 + 1, &cr));
    a.packet(
        5,
        4 * ms,
        &seg(false, 64, psh, s0 + 1, c0 + 1 + cr.len() as u32, &cc),
    );
    // The forged RST claims to come from the server, with another hop count.
    a.packet(
        6,
        5 * ms,
        &seg(false, 250, rst, s0 + 1 + cc.len() as u32, 0, &[]),
    );
    a.finish();
    let conns = a.take_finished();
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert!(
        c.findings.iter().any(|f| f.id == FindingId::InjectedReset),
        "{:?}",
        c.findings
    );
    assert_eq!(c.tcp.injected_resets, 1);
    assert_eq!(c.tcp.reset_by.map(|s| s.as_str()), Some("server"));
    assert_eq!(
        c.stopped_at.map(|s| s.as_str()),
        Some("tls"),
        "HYBRID was selected, TLS was due"
    );
    assert_eq!(c.tcp.state.as_str(), "RSTR");
}

/// The same RST with the server's usual TTL is an ordinary reset.
#[test]
fn a_reset_with_the_usual_ttl_is_not_injected() {
    let mut a = Analyzer::new(Config::default());
    let (syn, ack, rst) = (flags::SYN, flags::ACK, flags::RST | flags::ACK);
    a.packet(1, 0, &seg(true, 128, syn, 1, 0, &[]));
    a.packet(2, 1, &seg(false, 64, syn | ack, 9, 2, &[]));
    a.packet(3, 2, &seg(true, 128, ack, 2, 10, &[]));
    a.packet(4, 3, &seg(false, 64, ack, 10, 2, &[]));
    a.packet(5, 4, &seg(false, 64, rst, 10, 2, &[]));
    a.finish();
    let c = &a.take_finished()[0];
    assert_eq!(c.tcp.injected_resets, 0);
    assert!(!c.findings.iter().any(|f| f.id == FindingId::InjectedReset));
}

fn syn_from(port: u16) -> Decoded<'static> {
    Decoded {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 2].into(),
        ttl: 64,
        ip_id: Some(1),
        vlan: None,
        more_fragments: false,
        transport: Transport::Tcp(TcpSegment {
            src_port: port,
            dst_port: 3389,
            seq: 1,
            ack: 0,
            flags: flags::SYN,
            window: 1000,
            window_scale: None,
            mss: None,
            payload: &[],
            payload_len: 0,
        }),
    }
}

/// At the flow cap the least recently active flow is finished, found through the
/// time-ordered queue (not a scan of the table), and every flow is reported exactly once.
#[test]
fn the_flow_cap_evicts_the_least_recently_active_flow_and_loses_none() {
    let mut a = Analyzer::new(Config {
        max_flows: 10,
        ..Config::default()
    });
    let mut n = 0u64;
    let mut reported = Vec::new();
    for port in 10_000..10_010u16 {
        n += 1;
        a.packet(n, n as i64 * 1000, &syn_from(port));
    }
    // Flow 10000 is active again (a SYN retransmission): 10001 is now the least recent.
    n += 1;
    a.packet(n, n as i64 * 1000, &syn_from(10_000));
    n += 1;
    a.packet(n, n as i64 * 1000, &syn_from(20_000));
    let evicted = a.take_finished();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].client, "10.0.0.1:10001");
    reported.extend(evicted.into_iter().map(|c| c.client));
    for port in 30_000..31_000u16 {
        n += 1;
        a.packet(n, n as i64 * 1000, &syn_from(port));
        reported.extend(a.take_finished().into_iter().map(|c| c.client));
    }
    assert_eq!(a.live_flows(), 10);
    assert!(
        a.by_time.len() <= 2 * a.flows.len() + 1024,
        "queue stays bounded"
    );
    a.finish_each(|c| reported.push(c.client));
    assert_eq!(reported.len(), 1011);
    reported.sort();
    reported.dedup();
    assert_eq!(reported.len(), 1011, "each flow once");
    assert_eq!(a.summary.evicted_flows, 1001);
}

/// A SYN-only flow allocates no reassembly or session state.
#[test]
fn a_syn_only_flow_is_lean() {
    let mut a = Analyzer::new(Config::default());
    a.packet(1, 1, &syn_from(40_000));
    let c = a.flows.values().next().unwrap();
    assert!(c.payload.is_none());
    assert!(
        std::mem::size_of::<Conn>() < 1024,
        "{}",
        std::mem::size_of::<Conn>()
    );
}

/// tshark parity: the client's SYN was sent twice, the server answered both, and its
/// second SYN-ACK came after the client's ACK: both the second SYN and the second SYN-ACK
/// are retransmissions in tshark's count.
#[test]
fn a_second_syn_ack_after_the_ack_is_a_retransmission() {
    use crate::capture::tcp::flags::{ACK, SYN};
    let mut a = Analyzer::new(Config::default());
    let pkts = [
        seg(true, 64, SYN, 1000, 0, &[]),
        seg(true, 64, SYN, 1000, 0, &[]),
        seg(false, 64, SYN | ACK, 5000, 1001, &[]),
        seg(true, 64, ACK, 1001, 5001, &[]),
        seg(false, 64, SYN | ACK, 5000, 1001, &[]),
    ];
    for (i, p) in pkts.iter().enumerate() {
        a.packet(i as u64 + 1, (i as i64 + 1) * 1_000_000_000, p);
    }
    a.finish();
    let c = &a.take_finished()[0];
    assert_eq!(c.tcp.retransmissions, 2, "{:?}", c.tcp);
}

/// A UDP datagram between the two test hosts (client 10.0.0.1:50001, server 10.0.0.2:3389).
fn datagram(client: bool, payload: &[u8]) -> Decoded<'_> {
    let (c, s): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let (src, dst, sp, dp) = if client {
        (c, s, 50001, 3389)
    } else {
        (s, c, 3389, 50001)
    };
    Decoded {
        src,
        dst,
        ttl: 64,
        ip_id: Some(1),
        vlan: None,
        more_fragments: false,
        transport: Transport::Udp {
            src_port: sp,
            dst_port: dp,
            payload,
        },
    }
}

/// The real SYN and SYN+ACK of Zeek's rdpeudp2-handshake-success (whole datagrams),
/// between the hosts of an RDP TCP connection while it is up: decoded, and linked to it.
#[test]
fn a_udp_transport_is_linked_to_its_tcp_connection() {
    use crate::capture::tcp::flags::{ACK, SYN};
    let syn = crate::testdata::capture_udp_payload("zeek__rdpeudp2-handshake-success.pcap", 0);
    let syn_ack = crate::testdata::capture_udp_payload("zeek__rdpeudp2-handshake-success.pcap", 1);
    let cr = crate::testdata::pdu("ndpi__rdp_over_tls/001-c2s-x224-cr.bin");
    let mut a = Analyzer::new(Config::default());
    let s = 1_000_000_000;
    a.packet(1, s, &seg(true, 64, SYN, 1000, 0, &[]));
    a.packet(2, 2 * s, &seg(false, 64, SYN | ACK, 5000, 1001, &[]));
    a.packet(3, 3 * s, &seg(true, 64, ACK, 1001, 5001, &[]));
    a.packet(4, 4 * s, &seg(true, 64, ACK, 1001, 5001, &cr));
    a.packet(5, 5 * s, &datagram(true, &syn));
    a.packet(6, 6 * s, &datagram(false, &syn_ack));
    a.packet(
        7,
        7 * s,
        &seg(true, 64, ACK, 1001 + cr.len() as u32, 5001, &[]),
    );
    let udp = a.finish();
    assert_eq!(udp.len(), 1);
    let u = &udp[0];
    assert_eq!(
        u.tcp_connection.as_deref(),
        Some("10.0.0.1:50000 -> 10.0.0.2:3389")
    );
    assert_eq!(u.version.as_deref(), Some("3 (RDP-UDP2)"));
    let c = u.client_syn.as_ref().unwrap();
    assert_eq!((c.up_mtu, c.down_mtu), (1232, 1232));
    assert!(c.flags.contains(&"SYNEX".to_owned()), "{:?}", c.flags);
    assert!(c.correlation_id.is_some());
}
