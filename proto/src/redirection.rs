//! [MS-RDPBCGR 2.2.13.1] Server Redirection Packet (RDP_SERVER_REDIRECTION_PACKET): a broker
//! tells the client to reconnect elsewhere. It arrives behind a security header with
//! SEC_REDIRECTION_PKT (Standard RDP Security, 2.2.13.2.1) or in a Share Control PDU of type
//! PDUTYPE_SERVER_REDIR_PKT after two pad bytes (Enhanced RDP Security, 2.2.13.3.1).
//!
//! [MS-RDPBCGR 2.2.13.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/df3d59e6-30a8-4a36-bd2d-9d11bcd96c3e

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, len_u32, take};
use crate::{EncodeError, Layer, PResult, Pdu};

bitflags::bitflags! {
    /// `RedirFlags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct RedirFlags: u32 {
        const LB_TARGET_NET_ADDRESS = 0x0000_0001;
        const LB_LOAD_BALANCE_INFO = 0x0000_0002;
        const LB_USERNAME = 0x0000_0004;
        const LB_DOMAIN = 0x0000_0008;
        const LB_PASSWORD = 0x0000_0010;
        const LB_DONTSTOREUSERNAME = 0x0000_0020;
        const LB_SMARTCARD_LOGON = 0x0000_0040;
        const LB_NOREDIRECT = 0x0000_0080;
        const LB_TARGET_FQDN = 0x0000_0100;
        const LB_TARGET_NETBIOS_NAME = 0x0000_0200;
        const LB_TARGET_NET_ADDRESSES = 0x0000_0800;
        const LB_CLIENT_TSV_URL = 0x0000_1000;
        const LB_SERVER_TSV_CAPABLE = 0x0000_2000;
        const LB_PASSWORD_IS_PK_ENCRYPTED = 0x0000_4000;
        const LB_REDIRECTION_GUID = 0x0000_8000;
        const LB_TARGET_CERTIFICATE = 0x0001_0000;
        const _ = !0;
    }
}

/// The optional fields, in wire order, each present when its flag is set: a 4-byte length,
/// then that many bytes.
const FIELDS: [RedirFlags; 11] = [
    RedirFlags::LB_TARGET_NET_ADDRESS,
    RedirFlags::LB_LOAD_BALANCE_INFO,
    RedirFlags::LB_USERNAME,
    RedirFlags::LB_DOMAIN,
    RedirFlags::LB_PASSWORD,
    RedirFlags::LB_TARGET_FQDN,
    RedirFlags::LB_TARGET_NETBIOS_NAME,
    RedirFlags::LB_CLIENT_TSV_URL,
    RedirFlags::LB_REDIRECTION_GUID,
    RedirFlags::LB_TARGET_CERTIFICATE,
    RedirFlags::LB_TARGET_NET_ADDRESSES,
];

/// RDP_SERVER_REDIRECTION_PACKET. Strings are kept raw (UTF-16LE, usually NUL-terminated).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerRedirection<'a> {
    /// Flags (SEC_REDIRECTION_PKT, 0x0400)
    pub flags: u16,
    /// SessionID
    pub session_id: u32,
    /// RedirFlags
    pub redir_flags: RedirFlags,
    /// The optional fields present, in wire order: (flag, bytes).
    pub fields: Vec<(RedirFlags, &'a [u8])>,
    /// Bytes after the fields up to `Length` (the optional 8-byte pad).
    pub pad: &'a [u8],
}

impl<'a> ServerRedirection<'a> {
    /// The field `flag` names, when present.
    pub fn field(&self, flag: RedirFlags) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, b)| *b)
    }
}

impl<'a> Pdu<'a> for ServerRedirection<'a> {
    const NAME: &'static str = "RDP_SERVER_REDIRECTION_PACKET";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, flags) = le_u16("Flags")(i)?;
        let (i, length) = le_u16("Length")(i)?;
        let Some(body_len) = usize::from(length).checked_sub(12) else {
            return invalid(start, "Length", "shorter than the fixed fields");
        };
        let (i, session_id) = le_u32("SessionID")(i)?;
        let (i, redir) = le_u32("RedirFlags")(i)?;
        let (rest, mut body) = take(i, body_len, "redirection fields")?;
        let redir_flags = RedirFlags::from_bits_retain(redir);
        let mut fields = Vec::new();
        for flag in FIELDS {
            if !redir_flags.contains(flag) {
                continue;
            }
            let (b, len) = le_u32("field length")(body)?;
            // The length is checked against what is there before anything is taken.
            let (b, value) = take(b, len as usize, "field")?;
            fields.push((flag, value));
            body = b;
        }
        Ok((
            rest,
            Self {
                flags,
                session_id,
                redir_flags,
                fields,
                pad: body,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        12 + self.fields.iter().map(|(_, b)| 4 + b.len()).sum::<usize>() + self.pad.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "Length", self.encoded_len(), 0xFFFF)?;
        dst.extend_from_slice(&self.flags.to_le_bytes());
        dst.extend_from_slice(&len_u16(self.encoded_len()).to_le_bytes());
        dst.extend_from_slice(&self.session_id.to_le_bytes());
        dst.extend_from_slice(&self.redir_flags.bits().to_le_bytes());
        for (_, b) in &self.fields {
            dst.extend_from_slice(&len_u32(b.len()).to_le_bytes());
            dst.extend_from_slice(b);
        }
        dst.extend_from_slice(self.pad);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn fields_come_in_wire_order_and_round_trip() {
        let addr = utf16z("10.0.0.7");
        let fqdn = utf16z("rdsh2.corp.example");
        let lb = b"Cookie: msts=3640205228.15629.0000\r\n".to_vec();
        let r = ServerRedirection {
            flags: 0x0400,
            session_id: 7,
            redir_flags: RedirFlags::LB_TARGET_NET_ADDRESS
                | RedirFlags::LB_LOAD_BALANCE_INFO
                | RedirFlags::LB_TARGET_FQDN
                | RedirFlags::LB_NOREDIRECT,
            fields: vec![
                (RedirFlags::LB_TARGET_NET_ADDRESS, &addr),
                (RedirFlags::LB_LOAD_BALANCE_INFO, &lb),
                (RedirFlags::LB_TARGET_FQDN, &fqdn),
            ],
            pad: &[0; 8],
        };
        let bytes = crate::encode_vec(&r).unwrap();
        let back: ServerRedirection = crate::decode(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.field(RedirFlags::LB_TARGET_FQDN), Some(&fqdn[..]));
        assert_eq!(back.field(RedirFlags::LB_USERNAME), None);
        // A field length past the end is an error, never an allocation.
        let mut bad = bytes.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(crate::decode::<ServerRedirection>(&bad).is_err());
        // Length shorter than the fixed part.
        let mut short = bytes;
        short[2..4].copy_from_slice(&4u16.to_le_bytes());
        assert!(crate::decode::<ServerRedirection>(&short).is_err());
    }
}
