//! What the UDP transport's handshake says (MS-RDPEUDP 3.1.5.1): the client's SYN and the
//! server's SYN+ACK, read once each per flow.

use core::time::Duration;

use rdp_proto::rdpeudp::{Syn, SynEx, UdpFlags, UdpVersion};

/// One SYN or SYN+ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpSynFacts {
    pub receive_window: u16,
    pub flags: UdpFlags,
    pub up_mtu: u16,
    pub down_mtu: u16,
    /// RDPUDP_SYNDATAEX_PAYLOAD's version (none: version 1 without SYNEX).
    pub version: Option<UdpVersion>,
    /// RDPUDP_FLAG_CORRELATION_ID: the id that ties the flow to its TCP connection's
    /// Initiate Multitransport Request.
    pub correlation_id: Option<[u8; 16]>,
    /// The client's RDP-UDP2 cookie hash (SHA-256 of the TCP connection's security cookie).
    pub cookie_hash: bool,
}

impl UdpSynFacts {
    pub fn from_pdu(s: &Syn<'_>) -> Self {
        Self {
            receive_window: s.receive_window,
            flags: s.flags,
            up_mtu: s.up_mtu,
            down_mtu: s.down_mtu,
            version: s.synex.map(|x| x.version),
            correlation_id: s.correlation_id.copied(),
            cookie_hash: s.synex.is_some_and(|x| x.cookie_hash.is_some()),
        }
    }

    /// The version this side speaks (1 without SYNEX).
    pub fn version(&self) -> UdpVersion {
        self.version
            .unwrap_or(UdpVersion::RDPUDP_PROTOCOL_VERSION_1)
    }
}

/// What the probe's one SYN to the target's UDP port got (`--udp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpAnswer {
    /// A SYN+ACK that echoes our sequence number: the UDP transport is available.
    SynAck { facts: UdpSynFacts, rtt: Duration },
    /// ICMP port unreachable (the socket's error): nothing listens on the UDP port.
    Refused,
    /// Nothing within the stage timeout: filtered, or the UDP transport disabled (the two
    /// cannot be told apart).
    Silent,
    /// The socket failed otherwise (no route, no address of that family).
    Failed(String),
}

/// The size MS-RDPEUDP 3.1.5.1.1 pads a SYN to (a server discards others).
pub const SYN_DATAGRAM: usize = 1232;

/// The client SYN the probe sends (MS-RDPEUDP 3.1.5.1.1): snSourceAck -1, a receive window of
/// 64, SYN + CORRELATION_ID + SYNEX as mstsc sets them, MTUs of 1232, version 2 (version 3
/// needs the TCP connection's security cookie), padded to [`SYN_DATAGRAM`] bytes.
pub fn client_syn(initial_sequence: u32, correlation_id: &[u8; 16]) -> Vec<u8> {
    let syn = Syn {
        source_ack: u32::MAX,
        receive_window: 64,
        flags: UdpFlags::RDPUDP_FLAG_SYN
            | UdpFlags::RDPUDP_FLAG_CORRELATION_ID
            | UdpFlags::RDPUDP_FLAG_SYNEX,
        initial_sequence,
        up_mtu: 1232,
        down_mtu: 1232,
        correlation_id: Some(correlation_id),
        synex: Some(SynEx {
            flags: 0x0001,
            version: UdpVersion::RDPUDP_PROTOCOL_VERSION_2,
            cookie_hash: None,
        }),
    };
    let mut out = rdp_proto::encode_vec(&syn).unwrap_or_default();
    out.resize(SYN_DATAGRAM, 0);
    out
}

/// A datagram read back: the server's SYN+ACK to our `initial_sequence`, or None (anything
/// else is not the answer).
pub fn server_syn_ack(datagram: &[u8], initial_sequence: u32) -> Option<UdpSynFacts> {
    let (_, s) = rdp_proto::decode_prefix::<Syn>(datagram).ok()?;
    (s.is_syn_ack() && s.source_ack == initial_sequence).then(|| UdpSynFacts::from_pdu(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our SYN reads back as one (the layout of Zeek's rdpeudp captures), and the real SYN+ACK
    /// of Zeek's rdpeudp-handshake-success, its snSourceAck set to our sequence number, is the
    /// answer; with another number it is not.
    #[test]
    fn our_syn_and_a_real_syn_ack() {
        let syn = client_syn(0x1234_5678, &[7; 16]);
        assert_eq!(syn.len(), SYN_DATAGRAM);
        let (_, s) = rdp_proto::decode_prefix::<Syn>(&syn).unwrap();
        assert!(!s.is_syn_ack());
        assert_eq!(s.source_ack, u32::MAX);
        let mut answer =
            crate::testdata::capture_udp_payload("zeek__rdpeudp-handshake-success.pcap", 1);
        answer[..4].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        let f = server_syn_ack(&answer, 0x1234_5678).unwrap();
        assert_eq!(f.version().label(), "2");
        assert!(server_syn_ack(&answer, 1).is_none());
        assert!(server_syn_ack(&syn, 0x1234_5678).is_none());
    }
}
