//! [MS-RDPEUDP] the UDP transport's handshake, as the client's SYN and the server's SYN+ACK
//! carry it (big-endian): 2.2.2.1 RDPUDP_FEC_HEADER, 2.2.2.5 RDPUDP_SYNDATA_PAYLOAD, 2.2.2.8
//! RDPUDP_CORRELATION_ID_PAYLOAD, 2.2.2.9 RDPUDP_SYNDATAEX_PAYLOAD. Both datagrams are padded
//! to 1232 bytes; the padding is left unread.
//!
//! [MS-RDPEUDP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpeudp/

use bitflags::bitflags;

use crate::codec::{array, be_u16, be_u32, invalid};
use crate::{EncodeError, Layer, PResult, Pdu};

bitflags! {
    /// RDPUDP_FEC_HEADER `uFlags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct UdpFlags: u16 {
        const RDPUDP_FLAG_SYN = 0x0001;
        const RDPUDP_FLAG_FIN = 0x0002;
        const RDPUDP_FLAG_ACK = 0x0004;
        const RDPUDP_FLAG_DATA = 0x0008;
        const RDPUDP_FLAG_FEC = 0x0010;
        const RDPUDP_FLAG_CN = 0x0020;
        const RDPUDP_FLAG_CWR = 0x0040;
        const RDPUDP_FLAG_SACK_OPTION = 0x0080;
        const RDPUDP_FLAG_ACK_OF_ACKS = 0x0100;
        const RDPUDP_FLAG_SYNLOSSY = 0x0200;
        const RDPUDP_FLAG_ACKDELAYED = 0x0400;
        const RDPUDP_FLAG_CORRELATION_ID = 0x0800;
        const RDPUDP_FLAG_SYNEX = 0x1000;
        const _ = !0;
    }
}

/// RDPUDP_SYNDATAEX_PAYLOAD `uUdpVer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpVersion(pub u16);

impl UdpVersion {
    pub const RDPUDP_PROTOCOL_VERSION_1: Self = Self(0x0001);
    pub const RDPUDP_PROTOCOL_VERSION_2: Self = Self(0x0002);
    /// RDP-UDP2 (MS-RDPEUDP2), negotiated with this value.
    pub const RDPUDP_PROTOCOL_VERSION_3: Self = Self(0x0101);

    /// `1`, `2`, `3 (RDP-UDP2)`, or the number in hex.
    pub fn label(self) -> String {
        match self {
            Self::RDPUDP_PROTOCOL_VERSION_1 => "1".into(),
            Self::RDPUDP_PROTOCOL_VERSION_2 => "2".into(),
            Self::RDPUDP_PROTOCOL_VERSION_3 => "3 (RDP-UDP2)".into(),
            Self(v) => format!("0x{v:04x}"),
        }
    }
}

/// RDPUDP_SYNDATAEX_PAYLOAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynEx<'a> {
    /// uSynExFlags (RDPUDP_VERSION_INFO_VALID = 1)
    pub flags: u16,
    /// uUdpVer
    pub version: UdpVersion,
    /// cookieHash: the client's SYN at version 3 only (SHA-256 of the TCP security cookie).
    pub cookie_hash: Option<&'a [u8; 32]>,
}

/// A SYN or SYN+ACK datagram: the FEC header and what follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syn<'a> {
    /// snSourceAck: -1 in a SYN, the client's initial sequence number in a SYN+ACK.
    pub source_ack: u32,
    /// uReceiveWindowSize
    pub receive_window: u16,
    /// uFlags
    pub flags: UdpFlags,
    /// snInitialSequenceNumber
    pub initial_sequence: u32,
    /// uUpStreamMtu, uDownStreamMtu (1132..=1232)
    pub up_mtu: u16,
    pub down_mtu: u16,
    /// RDPUDP_CORRELATION_ID_PAYLOAD uCorrelationId (its 16 reserved bytes follow)
    pub correlation_id: Option<&'a [u8; 16]>,
    pub synex: Option<SynEx<'a>>,
}

impl Syn<'_> {
    /// A server's answer (SYN and ACK set).
    pub fn is_syn_ack(&self) -> bool {
        self.flags
            .contains(UdpFlags::RDPUDP_FLAG_SYN | UdpFlags::RDPUDP_FLAG_ACK)
    }
}

impl<'a> Pdu<'a> for Syn<'a> {
    const NAME: &'static str = "RDPUDP SYN";
    const LAYER: Layer = Layer::Rdpeudp;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, source_ack) = be_u32("snSourceAck")(i)?;
        let (i, receive_window) = be_u16("uReceiveWindowSize")(i)?;
        let (i, raw) = be_u16("uFlags")(i)?;
        let flags = UdpFlags::from_bits_retain(raw);
        if !flags.contains(UdpFlags::RDPUDP_FLAG_SYN) {
            return invalid(i, "uFlags", "not a SYN");
        }
        let (i, initial_sequence) = be_u32("snInitialSequenceNumber")(i)?;
        let (i, up_mtu) = be_u16("uUpStreamMtu")(i)?;
        let (mut i, down_mtu) = be_u16("uDownStreamMtu")(i)?;
        let mut correlation_id = None;
        if flags.contains(UdpFlags::RDPUDP_FLAG_CORRELATION_ID) {
            let (r, id) = array::<16>(i, "uCorrelationId")?;
            let (r, _) = array::<16>(r, "uReserved")?;
            correlation_id = Some(id);
            i = r;
        }
        let mut synex = None;
        if flags.contains(UdpFlags::RDPUDP_FLAG_SYNEX) {
            let (r, ex_flags) = be_u16("uSynExFlags")(i)?;
            let (mut r, version) = be_u16("uUdpVer")(r)?;
            let version = UdpVersion(version);
            let mut cookie_hash = None;
            let client = !flags.contains(UdpFlags::RDPUDP_FLAG_ACK);
            if client && version == UdpVersion::RDPUDP_PROTOCOL_VERSION_3 {
                let (rest, hash) = array::<32>(r, "cookieHash")?;
                cookie_hash = Some(hash);
                r = rest;
            }
            synex = Some(SynEx {
                flags: ex_flags,
                version,
                cookie_hash,
            });
            i = r;
        }
        Ok((
            i,
            Self {
                source_ack,
                receive_window,
                flags,
                initial_sequence,
                up_mtu,
                down_mtu,
                correlation_id,
                synex,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        16 + self.correlation_id.map_or(0, |_| 32)
            + self
                .synex
                .map_or(0, |s| 4 + s.cookie_hash.map_or(0, |_| 32))
    }

    /// Without the padding to 1232 bytes.
    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&self.source_ack.to_be_bytes());
        dst.extend_from_slice(&self.receive_window.to_be_bytes());
        dst.extend_from_slice(&self.flags.bits().to_be_bytes());
        dst.extend_from_slice(&self.initial_sequence.to_be_bytes());
        dst.extend_from_slice(&self.up_mtu.to_be_bytes());
        dst.extend_from_slice(&self.down_mtu.to_be_bytes());
        if let Some(id) = self.correlation_id {
            dst.extend_from_slice(id);
            dst.extend_from_slice(&[0; 16]);
        }
        if let Some(s) = self.synex {
            dst.extend_from_slice(&s.flags.to_be_bytes());
            dst.extend_from_slice(&s.version.0.to_be_bytes());
            if let Some(h) = s.cookie_hash {
                dst.extend_from_slice(h);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_prefix, encode_vec};

    /// A client SYN as mstsc sends it (the layout of Zeek's rdpeudp-handshake-success):
    /// SYN + CORRELATION_ID + SYNEX, version 2, padded to 1232 bytes.
    #[test]
    fn a_client_syn_and_its_padding() {
        let mut d = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x40, 0x18, 0x01];
        d.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x04, 0xD0, 0x04, 0xD0]);
        d.extend_from_slice(&[7; 16]);
        d.extend_from_slice(&[0; 16]);
        d.extend_from_slice(&[0x00, 0x01, 0x00, 0x02]);
        d.resize(1232, 0);
        let (rest, syn) = decode_prefix::<Syn>(&d).unwrap();
        assert_eq!(rest.len(), 1232 - 52);
        assert!(!syn.is_syn_ack());
        assert_eq!(
            (syn.up_mtu, syn.down_mtu, syn.receive_window),
            (1232, 1232, 64)
        );
        assert_eq!(syn.correlation_id, Some(&[7; 16]));
        assert_eq!(syn.synex.unwrap().version.label(), "2");
        assert_eq!(encode_vec(&syn).unwrap(), d[..52]);
        // Data, not a SYN.
        let mut data = d.clone();
        data[7] = 0x08;
        assert!(decode_prefix::<Syn>(&data).is_err());
        assert!(decode_prefix::<Syn>(&d[..20]).is_err());
    }
}
