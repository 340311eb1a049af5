//! TLS handshake messages (RFC 8446 / 5246 section 7.4) as the probe and the capture see them:
//! the reassembly of handshake messages across records, and what a ServerHello says.

use rdp_proto::tls::{CipherSuite, Handshake, ProtocolVersion, ServerHello};
use serde::Serialize;

/// A TLS version the probe offers alone, lowest first; the serialised name is its key in the
/// JSON's `tls.versions` and `tls.rejections`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
pub enum TlsVersion {
    #[serde(rename = "tls1_0")]
    V1_0,
    #[serde(rename = "tls1_1")]
    V1_1,
    #[serde(rename = "tls1_2")]
    V1_2,
    #[serde(rename = "tls1_3")]
    V1_3,
}

impl TlsVersion {
    /// Every version, in the order they are offered.
    pub const ALL: [Self; 4] = [Self::V1_0, Self::V1_1, Self::V1_2, Self::V1_3];

    /// The key in `tls.versions` (and what the probe notes when it could not try it).
    pub fn key(self) -> &'static str {
        match self {
            Self::V1_0 => "tls1_0",
            Self::V1_1 => "tls1_1",
            Self::V1_2 => "tls1_2",
            Self::V1_3 => "tls1_3",
        }
    }

    /// The wire version.
    pub fn protocol(self) -> ProtocolVersion {
        match self {
            Self::V1_0 => ProtocolVersion::TLS_1_0,
            Self::V1_1 => ProtocolVersion::TLS_1_1,
            Self::V1_2 => ProtocolVersion::TLS_1_2,
            Self::V1_3 => ProtocolVersion::TLS_1_3,
        }
    }

    /// TLS 1.0 or 1.1 (RFC 8996 deprecates both).
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::V1_0 | Self::V1_1)
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

/// What a ServerHello says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHelloFacts {
    /// The version chosen (supported_versions for TLS 1.3, else legacy_version).
    pub version: ProtocolVersion,
    pub cipher: CipherSuite,
    /// A HelloRetryRequest (RFC 8446 4.1.3), not a real ServerHello.
    pub hello_retry: bool,
}

impl ServerHelloFacts {
    pub fn from_pdu(sh: &ServerHello<'_>) -> Self {
        Self {
            version: sh.selected_version(),
            cipher: sh.cipher_suite,
            hello_retry: sh.is_hello_retry_request(),
        }
    }

    /// A real TLS 1.3 ServerHello: the rest of the server's handshake is encrypted.
    pub fn is_tls13(&self) -> bool {
        self.version == ProtocolVersion::TLS_1_3 && !self.hello_retry
    }
}

/// Handshake messages split across records (a certificate chain often is): the carry-over of
/// one direction, bounded.
#[derive(Debug, Default)]
pub struct HandshakeReader {
    carry: Vec<u8>,
}

impl HandshakeReader {
    /// The largest flight waited through (certificate chains of real RDP servers are a few kB);
    /// past it, a 16 MB length claim or a flood of fragments is not a usable answer.
    pub const MAX: usize = 256 * 1024;

    /// Adds one handshake record's fragment and hands each complete message to `each`. False
    /// (and nothing added) when the carry-over would pass [`Self::MAX`].
    pub fn push(&mut self, fragment: &[u8], mut each: impl FnMut(&Handshake<'_>)) -> bool {
        if self.carry.len() + fragment.len() > Self::MAX {
            return false;
        }
        self.carry.extend_from_slice(fragment);
        let mut rest: &[u8] = &self.carry;
        while let Ok((r, hs)) = rdp_proto::decode_prefix::<Handshake>(rest) {
            each(&hs);
            rest = r;
        }
        // Only what was consumed goes (no copy of the whole buffer per record: a flood of
        // one-byte fragments would make that quadratic).
        let consumed = self.carry.len() - rest.len();
        self.carry.drain(..consumed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_proto::tls::{HandshakeType, Record};

    /// Zeek's rdp-to-ssl server flight, one record at a time and then one byte at a time: the
    /// same messages come out.
    #[test]
    fn messages_come_out_whatever_the_fragmentation() {
        let flight = crate::testdata::zeek_tls10_flight();
        let mut whole = Vec::new();
        let mut rest: &[u8] = &flight;
        let mut fragments = Vec::new();
        while let Ok((r, rec)) = rdp_proto::decode_prefix::<Record>(rest) {
            fragments.push(rec.fragment.to_vec());
            rest = r;
        }
        let mut reader = HandshakeReader::default();
        for f in &fragments {
            assert!(reader.push(f, |hs| whole.push(hs.msg_type)));
        }
        assert!(whole.contains(&HandshakeType::SERVER_HELLO), "{whole:?}");
        assert!(whole.contains(&HandshakeType::CERTIFICATE), "{whole:?}");
        let mut bytewise = Vec::new();
        let mut reader = HandshakeReader::default();
        for b in fragments.concat() {
            assert!(reader.push(&[b], |hs| bytewise.push(hs.msg_type)));
        }
        assert_eq!(whole, bytewise);
        let mut reader = HandshakeReader::default();
        assert!(!reader.push(&vec![0; HandshakeReader::MAX + 1], |_| {}));
    }
}
