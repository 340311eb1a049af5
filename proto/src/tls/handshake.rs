//! Handshake messages in clear: the header, extensions, ClientHello, ServerHello and
//! Certificate (TLS <= 1.2).

use crate::codec::{array, be_u16, be_u24, fit, invalid, len_u16, len_u8, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

use super::*;

/// [RFC 8446 4] Handshake: msg_type, a 24-bit length, and the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake<'a> {
    /// msg_type
    pub msg_type: HandshakeType,
    /// The message body.
    pub body: &'a [u8],
}

impl<'a> Pdu<'a> for Handshake<'a> {
    const NAME: &'static str = "Handshake";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, ty) = u8("msg_type")(i)?;
        let (i, len) = be_u24("length")(i)?;
        let len = len as usize;
        if len > MAX_HANDSHAKE {
            return crate::codec::too_large(start, "length", MAX_HANDSHAKE, len);
        }
        let (i, body) = take(i, len, "handshake body")?;
        Ok((
            i,
            Self {
                msg_type: HandshakeType(ty),
                body,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + self.body.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "length", self.body.len(), 0xFF_FFFF)?;
        dst.push(self.msg_type.0);
        dst.extend_from_slice(&crate::codec::len_u32(self.body.len()).to_be_bytes()[1..]);
        dst.extend_from_slice(self.body);
        Ok(())
    }
}

/// One extension: type and raw data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    pub ext_type: ExtensionType,
    pub data: &'a [u8],
}

/// Iterates a well-formed extensions block; stops at the first malformed entry.
pub fn extensions(mut block: &[u8]) -> impl Iterator<Item = Extension<'_>> {
    core::iter::from_fn(move || {
        let (r, ty) = be_u16("extension_type")(block).ok()?;
        let (r, len) = be_u16("extension_data length")(r).ok()?;
        let (r, data) = take(r, len.into(), "extension_data").ok()?;
        block = r;
        Some(Extension {
            ext_type: ExtensionType(ty),
            data,
        })
    })
}

pub(super) fn u16_list(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(|c| {
        u16::from_be_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    })
}

/// [RFC 8446 4.1.2] ClientHello body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// legacy_version
    pub version: ProtocolVersion,
    /// random
    pub random: &'a [u8; 32],
    /// legacy_session_id
    pub session_id: &'a [u8],
    /// cipher_suites, raw (2 bytes each)
    pub cipher_suites: &'a [u8],
    /// legacy_compression_methods
    pub compression_methods: &'a [u8],
    /// extensions, raw (absent in old SSLv3/TLS 1.0 hellos)
    pub extensions: Option<&'a [u8]>,
}

impl<'a> ClientHello<'a> {
    pub fn cipher_suites(&self) -> impl Iterator<Item = CipherSuite> + 'a {
        u16_list(self.cipher_suites).map(CipherSuite)
    }

    pub fn extensions(&self) -> impl Iterator<Item = Extension<'a>> + 'a {
        extensions(self.extensions.unwrap_or_default())
    }

    /// server_name: the first host_name entry.
    pub fn sni(&self) -> Option<&'a [u8]> {
        let ext = self
            .extensions()
            .find(|e| e.ext_type == ExtensionType::SERVER_NAME)?;
        let (r, _list_len) = be_u16("server_name_list")(ext.data).ok()?;
        let (r, name_type) = u8("name_type")(r).ok()?;
        if name_type != 0 {
            return None;
        }
        let (r, len) = be_u16("HostName length")(r).ok()?;
        take(r, len.into(), "HostName").ok().map(|(_, n)| n)
    }

    /// supported_versions, or just legacy_version when the extension is absent.
    pub fn versions(&self) -> Vec<ProtocolVersion> {
        let ext = self
            .extensions()
            .find(|e| e.ext_type == ExtensionType::SUPPORTED_VERSIONS);
        match ext.and_then(|e| e.data.split_first()) {
            Some((_, list)) => u16_list(list).map(ProtocolVersion).collect(),
            None => vec![self.version],
        }
    }
}

impl<'a> Pdu<'a> for ClientHello<'a> {
    const NAME: &'static str = "ClientHello";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, version) = be_u16("legacy_version")(i)?;
        let (i, random) = array::<32>(i, "random")?;
        let (i, sid_len) = u8("legacy_session_id length")(i)?;
        let (i, session_id) = take(i, sid_len.into(), "legacy_session_id")?;
        let (i, cs_len) = be_u16("cipher_suites length")(i)?;
        if cs_len % 2 != 0 {
            return invalid(i, "cipher_suites length", "odd");
        }
        let (i, cipher_suites) = take(i, cs_len.into(), "cipher_suites")?;
        let (i, cm_len) = u8("legacy_compression_methods length")(i)?;
        let (i, compression_methods) = take(i, cm_len.into(), "legacy_compression_methods")?;
        let (i, extensions) = if i.is_empty() {
            (i, None)
        } else {
            let (i, len) = be_u16("extensions length")(i)?;
            let (i, ext) = take(i, len.into(), "extensions")?;
            (i, Some(ext))
        };
        Ok((
            i,
            Self {
                version: ProtocolVersion(version),
                random,
                session_id,
                cipher_suites,
                compression_methods,
                extensions,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2 + 32
            + 1
            + self.session_id.len()
            + 2
            + self.cipher_suites.len()
            + 1
            + self.compression_methods.len()
            + self.extensions.map_or(0, |e| 2 + e.len())
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "legacy_session_id", self.session_id.len(), 32)?;
        fit(
            Self::NAME,
            "cipher_suites",
            self.cipher_suites.len(),
            0xFFFE,
        )?;
        fit(
            Self::NAME,
            "legacy_compression_methods",
            self.compression_methods.len(),
            0xFF,
        )?;
        dst.extend_from_slice(&self.version.0.to_be_bytes());
        dst.extend_from_slice(self.random);
        dst.push(len_u8(self.session_id.len()));
        dst.extend_from_slice(self.session_id);
        dst.extend_from_slice(&len_u16(self.cipher_suites.len()).to_be_bytes());
        dst.extend_from_slice(self.cipher_suites);
        dst.push(len_u8(self.compression_methods.len()));
        dst.extend_from_slice(self.compression_methods);
        if let Some(e) = self.extensions {
            fit(Self::NAME, "extensions", e.len(), 0xFFFF)?;
            dst.extend_from_slice(&len_u16(e.len()).to_be_bytes());
            dst.extend_from_slice(e);
        }
        Ok(())
    }
}

/// [RFC 8446 4.1.3] ServerHello body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello<'a> {
    /// legacy_version
    pub version: ProtocolVersion,
    /// random
    pub random: &'a [u8; 32],
    /// legacy_session_id_echo
    pub session_id: &'a [u8],
    /// cipher_suite
    pub cipher_suite: CipherSuite,
    /// legacy_compression_method
    pub compression_method: u8,
    /// extensions, raw
    pub extensions: Option<&'a [u8]>,
}

/// The random a TLS 1.3 server sends in a ServerHello that is really a HelloRetryRequest.
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

impl<'a> ServerHello<'a> {
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'a>> + 'a {
        extensions(self.extensions.unwrap_or_default())
    }

    /// The negotiated version: supported_versions when present (TLS 1.3), else legacy_version.
    pub fn selected_version(&self) -> ProtocolVersion {
        self.extensions()
            .find(|e| e.ext_type == ExtensionType::SUPPORTED_VERSIONS)
            .and_then(|e| u16_list(e.data).next())
            .map_or(self.version, ProtocolVersion)
    }

    /// This is a TLS 1.3 HelloRetryRequest.
    pub fn is_hello_retry_request(&self) -> bool {
        *self.random == HELLO_RETRY_REQUEST_RANDOM
    }
}

impl<'a> Pdu<'a> for ServerHello<'a> {
    const NAME: &'static str = "ServerHello";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, version) = be_u16("legacy_version")(i)?;
        let (i, random) = array::<32>(i, "random")?;
        let (i, sid_len) = u8("legacy_session_id_echo length")(i)?;
        let (i, session_id) = take(i, sid_len.into(), "legacy_session_id_echo")?;
        let (i, suite) = be_u16("cipher_suite")(i)?;
        let (i, compression_method) = u8("legacy_compression_method")(i)?;
        let (i, extensions) = if i.is_empty() {
            (i, None)
        } else {
            let (i, len) = be_u16("extensions length")(i)?;
            let (i, ext) = take(i, len.into(), "extensions")?;
            (i, Some(ext))
        };
        Ok((
            i,
            Self {
                version: ProtocolVersion(version),
                random,
                session_id,
                cipher_suite: CipherSuite(suite),
                compression_method,
                extensions,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2 + 32 + 1 + self.session_id.len() + 2 + 1 + self.extensions.map_or(0, |e| 2 + e.len())
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(
            Self::NAME,
            "legacy_session_id_echo",
            self.session_id.len(),
            32,
        )?;
        dst.extend_from_slice(&self.version.0.to_be_bytes());
        dst.extend_from_slice(self.random);
        dst.push(len_u8(self.session_id.len()));
        dst.extend_from_slice(self.session_id);
        dst.extend_from_slice(&self.cipher_suite.0.to_be_bytes());
        dst.push(self.compression_method);
        if let Some(e) = self.extensions {
            fit(Self::NAME, "extensions", e.len(), 0xFFFF)?;
            dst.extend_from_slice(&len_u16(e.len()).to_be_bytes());
            dst.extend_from_slice(e);
        }
        Ok(())
    }
}

/// [RFC 8446 4.4.2] Certificate (TLS 1.3): a request context, then each certificate with its
/// extensions (dropped here), the server's own first. Sent encrypted; read when decrypted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Certificate13<'a> {
    /// certificate_request_context (empty in a server's Certificate)
    pub context: &'a [u8],
    /// cert_data of each CertificateEntry
    pub certificates: Vec<&'a [u8]>,
}

impl<'a> Pdu<'a> for Certificate13<'a> {
    const NAME: &'static str = "Certificate (TLS 1.3)";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, ctx_len) = u8("certificate_request_context length")(i)?;
        let (i, context) = take(i, ctx_len.into(), "certificate_request_context")?;
        let (i, total) = be_u24("certificate_list length")(i)?;
        let (i, mut list) = take(i, total as usize, "certificate_list")?;
        let mut certificates = Vec::new();
        while !list.is_empty() {
            if certificates.len() == MAX_CERTIFICATES {
                return crate::codec::too_large(
                    list,
                    "certificate_list",
                    MAX_CERTIFICATES,
                    MAX_CERTIFICATES + 1,
                );
            }
            let (r, len) = be_u24("cert_data length")(list)?;
            let (r, der) = take(r, len as usize, "cert_data")?;
            let (r, ext_len) = be_u16("extensions length")(r)?;
            let (r, _) = take(r, ext_len.into(), "extensions")?;
            certificates.push(der);
            list = r;
        }
        Ok((
            i,
            Self {
                context,
                certificates,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        1 + self.context.len() + 3 + self.certificates.iter().map(|c| 5 + c.len()).sum::<usize>()
    }

    /// Each entry without extensions.
    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(
            Self::NAME,
            "certificate_request_context length",
            self.context.len(),
            0xFF,
        )?;
        dst.push(len_u8(self.context.len()));
        dst.extend_from_slice(self.context);
        let total = self.encoded_len() - 4 - self.context.len();
        fit(Self::NAME, "certificate_list length", total, 0xFF_FFFF)?;
        dst.extend_from_slice(&crate::codec::len_u32(total).to_be_bytes()[1..]);
        for c in &self.certificates {
            fit(Self::NAME, "cert_data length", c.len(), 0xFF_FFFF)?;
            dst.extend_from_slice(&crate::codec::len_u32(c.len()).to_be_bytes()[1..]);
            dst.extend_from_slice(c);
            dst.extend_from_slice(&[0, 0]);
        }
        Ok(())
    }
}

/// [RFC 5246 7.4.2] Certificate (TLS <= 1.2): the DER chain, the server's own first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Certificate<'a> {
    /// certificate_list
    pub certificates: Vec<&'a [u8]>,
}

impl<'a> Pdu<'a> for Certificate<'a> {
    const NAME: &'static str = "Certificate";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, total) = be_u24("certificate_list length")(i)?;
        let (i, mut list) = take(i, total as usize, "certificate_list")?;
        let mut certificates = Vec::new();
        while !list.is_empty() {
            if certificates.len() == MAX_CERTIFICATES {
                return crate::codec::too_large(
                    list,
                    "certificate_list",
                    MAX_CERTIFICATES,
                    MAX_CERTIFICATES + 1,
                );
            }
            let (r, len) = be_u24("ASN.1Cert length")(list)?;
            let (r, der) = take(r, len as usize, "ASN.1Cert")?;
            certificates.push(der);
            list = r;
        }
        Ok((i, Self { certificates }))
    }

    fn encoded_len(&self) -> usize {
        3 + self.certificates.iter().map(|c| 3 + c.len()).sum::<usize>()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let total = self.encoded_len() - 3;
        fit(Self::NAME, "certificate_list length", total, 0xFF_FFFF)?;
        dst.extend_from_slice(&crate::codec::len_u32(total).to_be_bytes()[1..]);
        for c in &self.certificates {
            dst.extend_from_slice(&crate::codec::len_u32(c.len()).to_be_bytes()[1..]);
            dst.extend_from_slice(c);
        }
        Ok(())
    }
}
