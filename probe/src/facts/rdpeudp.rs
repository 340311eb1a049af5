//! What the UDP transport's handshake says (MS-RDPEUDP 3.1.5.1): the client's SYN and the
//! server's SYN+ACK, read once each per flow.

use rdp_proto::rdpeudp::{Syn, UdpFlags, UdpVersion};

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
