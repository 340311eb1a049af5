//! The plaintext parts of TLS ([RFC 5246], [RFC 8446]) that RDP diagnosis needs: the record
//! header, handshake headers, ClientHello, ServerHello, Certificate (TLS <= 1.2, where it is
//! still in clear) and Alert; and an encoder for a probe ClientHello offering chosen versions
//! and suites (rustls cannot speak TLS 1.0/1.1, so the probe tests those with this).
//!
//! [RFC 5246]: https://www.rfc-editor.org/rfc/rfc5246
//! [RFC 8446]: https://www.rfc-editor.org/rfc/rfc8446

use crate::codec::{array, be_u16, be_u24, fit, invalid, len_u16, len_u8, open_enum, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

/// Largest record fragment accepted (2^14 plaintext + 2048 expansion; headers allow 2^16-1).
pub const MAX_FRAGMENT: usize = 0xFFFF;
/// Largest handshake message accepted (a certificate chain fits well within this).
pub const MAX_HANDSHAKE: usize = 0x0001_0000 * 4;
/// Most certificates accepted in one Certificate message.
pub const MAX_CERTIFICATES: usize = 64;

open_enum! {
    /// [RFC 8446 5.1] ContentType.
    pub struct ContentType(u8) {
        CHANGE_CIPHER_SPEC = 20,
        ALERT = 21,
        HANDSHAKE = 22,
        APPLICATION_DATA = 23,
        HEARTBEAT = 24,
    }
}

open_enum! {
    /// ProtocolVersion.
    pub struct ProtocolVersion(u16) {
        SSL_3_0 = 0x0300,
        TLS_1_0 = 0x0301,
        TLS_1_1 = 0x0302,
        TLS_1_2 = 0x0303,
        TLS_1_3 = 0x0304,
    }
}

impl ProtocolVersion {
    /// "TLSv1.2" style label.
    pub fn label(self) -> String {
        match self {
            Self::SSL_3_0 => "SSLv3".into(),
            Self::TLS_1_0 => "TLSv1.0".into(),
            Self::TLS_1_1 => "TLSv1.1".into(),
            Self::TLS_1_2 => "TLSv1.2".into(),
            Self::TLS_1_3 => "TLSv1.3".into(),
            v => format!("0x{:04x}", v.0),
        }
    }
}

open_enum! {
    /// [RFC 8446 4] HandshakeType.
    pub struct HandshakeType(u8) {
        HELLO_REQUEST = 0,
        CLIENT_HELLO = 1,
        SERVER_HELLO = 2,
        NEW_SESSION_TICKET = 4,
        END_OF_EARLY_DATA = 5,
        ENCRYPTED_EXTENSIONS = 8,
        CERTIFICATE = 11,
        SERVER_KEY_EXCHANGE = 12,
        CERTIFICATE_REQUEST = 13,
        SERVER_HELLO_DONE = 14,
        CERTIFICATE_VERIFY = 15,
        CLIENT_KEY_EXCHANGE = 16,
        FINISHED = 20,
    }
}

open_enum! {
    /// Cipher suites ([IANA TLS parameters]); the ones RDP servers pick, and those a probe offers.
    pub struct CipherSuite(u16) {
        TLS_RSA_WITH_RC4_128_MD5 = 0x0004,
        TLS_RSA_WITH_RC4_128_SHA = 0x0005,
        TLS_RSA_WITH_3DES_EDE_CBC_SHA = 0x000A,
        TLS_RSA_WITH_AES_128_CBC_SHA = 0x002F,
        TLS_DHE_RSA_WITH_AES_128_CBC_SHA = 0x0033,
        TLS_RSA_WITH_AES_256_CBC_SHA = 0x0035,
        TLS_DHE_RSA_WITH_AES_256_CBC_SHA = 0x0039,
        TLS_RSA_WITH_AES_128_CBC_SHA256 = 0x003C,
        TLS_RSA_WITH_AES_256_CBC_SHA256 = 0x003D,
        TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 = 0x0067,
        TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 = 0x006B,
        TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C,
        TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D,
        TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 = 0x009E,
        TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 = 0x009F,
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF,
        TLS_AES_128_GCM_SHA256 = 0x1301,
        TLS_AES_256_GCM_SHA384 = 0x1302,
        TLS_CHACHA20_POLY1305_SHA256 = 0x1303,
        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA = 0xC009,
        TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA = 0xC00A,
        TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA = 0xC012,
        TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA = 0xC013,
        TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA = 0xC014,
        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = 0xC023,
        TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 = 0xC024,
        TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = 0xC027,
        TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 = 0xC028,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9,
    }
}

open_enum! {
    /// [RFC 8446 6] AlertLevel.
    pub struct AlertLevel(u8) {
        WARNING = 1,
        FATAL = 2,
    }
}

open_enum! {
    /// [RFC 8446 6] AlertDescription.
    pub struct AlertDescription(u8) {
        CLOSE_NOTIFY = 0,
        UNEXPECTED_MESSAGE = 10,
        BAD_RECORD_MAC = 20,
        DECRYPTION_FAILED = 21,
        RECORD_OVERFLOW = 22,
        DECOMPRESSION_FAILURE = 30,
        HANDSHAKE_FAILURE = 40,
        NO_CERTIFICATE = 41,
        BAD_CERTIFICATE = 42,
        UNSUPPORTED_CERTIFICATE = 43,
        CERTIFICATE_REVOKED = 44,
        CERTIFICATE_EXPIRED = 45,
        CERTIFICATE_UNKNOWN = 46,
        ILLEGAL_PARAMETER = 47,
        UNKNOWN_CA = 48,
        ACCESS_DENIED = 49,
        DECODE_ERROR = 50,
        DECRYPT_ERROR = 51,
        EXPORT_RESTRICTION = 60,
        PROTOCOL_VERSION = 70,
        INSUFFICIENT_SECURITY = 71,
        INTERNAL_ERROR = 80,
        INAPPROPRIATE_FALLBACK = 86,
        USER_CANCELED = 90,
        NO_RENEGOTIATION = 100,
        MISSING_EXTENSION = 109,
        UNSUPPORTED_EXTENSION = 110,
        UNRECOGNIZED_NAME = 112,
        BAD_CERTIFICATE_STATUS_RESPONSE = 113,
        UNKNOWN_PSK_IDENTITY = 115,
        CERTIFICATE_REQUIRED = 116,
        NO_APPLICATION_PROTOCOL = 120,
    }
}

open_enum! {
    /// ExtensionType (selected).
    pub struct ExtensionType(u16) {
        SERVER_NAME = 0,
        STATUS_REQUEST = 5,
        SUPPORTED_GROUPS = 10,
        EC_POINT_FORMATS = 11,
        SIGNATURE_ALGORITHMS = 13,
        ALPN = 16,
        ENCRYPT_THEN_MAC = 22,
        EXTENDED_MASTER_SECRET = 23,
        SESSION_TICKET = 35,
        SUPPORTED_VERSIONS = 43,
        PSK_KEY_EXCHANGE_MODES = 45,
        KEY_SHARE = 51,
        RENEGOTIATION_INFO = 0xFF01,
    }
}

/// [RFC 8446 5.1] TLSPlaintext: one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// type
    pub content_type: ContentType,
    /// legacy_record_version
    pub version: ProtocolVersion,
    /// fragment
    pub fragment: &'a [u8],
}

impl<'a> Pdu<'a> for Record<'a> {
    const NAME: &'static str = "TLSPlaintext";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, ty) = u8("type")(i)?;
        let (i, version) = be_u16("legacy_record_version")(i)?;
        let (i, len) = be_u16("length")(i)?;
        let (i, fragment) = take(i, len.into(), "fragment")?;
        Ok((
            i,
            Self {
                content_type: ContentType(ty),
                version: ProtocolVersion(version),
                fragment,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        5 + self.fragment.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "length", self.fragment.len(), MAX_FRAGMENT)?;
        dst.push(self.content_type.0);
        dst.extend_from_slice(&self.version.0.to_be_bytes());
        dst.extend_from_slice(&len_u16(self.fragment.len()).to_be_bytes());
        dst.extend_from_slice(self.fragment);
        Ok(())
    }
}

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

fn u16_list(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
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

/// [RFC 8446 6] Alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub level: AlertLevel,
    pub description: AlertDescription,
}

impl<'a> Pdu<'a> for Alert {
    const NAME: &'static str = "Alert";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, level) = u8("level")(i)?;
        let (i, description) = u8("description")(i)?;
        Ok((
            i,
            Self {
                level: AlertLevel(level),
                description: AlertDescription(description),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&[self.level.0, self.description.0]);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Probe ClientHello

/// What a probe ClientHello offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeHello<'s> {
    /// The one version offered (TLS 1.3 is offered through supported_versions).
    pub version: ProtocolVersion,
    /// Cipher suites, in preference order.
    pub suites: Vec<CipherSuite>,
    /// server_name to send (a DNS name; never an IP literal).
    pub sni: Option<&'s str>,
    /// The client random (callers supply it: this crate has no randomness source).
    pub random: [u8; 32],
}

impl ProbeHello<'_> {
    /// Suites a server of that version era is likely to accept: every RSA, DHE and ECDHE
    /// suite above (TLS 1.3 suites only for 1.3; no SHA-256/GCM suites below 1.2).
    pub fn default_suites(version: ProtocolVersion) -> Vec<CipherSuite> {
        if version == ProtocolVersion::TLS_1_3 {
            return vec![
                CipherSuite::TLS_AES_128_GCM_SHA256,
                CipherSuite::TLS_AES_256_GCM_SHA384,
                CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
            ];
        }
        let mut suites = vec![
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
            CipherSuite::TLS_DHE_RSA_WITH_AES_256_CBC_SHA,
            CipherSuite::TLS_DHE_RSA_WITH_AES_128_CBC_SHA,
            CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA,
            CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA,
            CipherSuite::TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
            CipherSuite::TLS_RSA_WITH_3DES_EDE_CBC_SHA,
            CipherSuite::TLS_RSA_WITH_RC4_128_SHA,
            CipherSuite::TLS_RSA_WITH_RC4_128_MD5,
        ];
        if version == ProtocolVersion::TLS_1_2 {
            suites.splice(
                0..0,
                [
                    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
                    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
                    CipherSuite::TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
                    CipherSuite::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
                    CipherSuite::TLS_RSA_WITH_AES_256_GCM_SHA384,
                    CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256,
                    CipherSuite::TLS_RSA_WITH_AES_256_CBC_SHA256,
                    CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA256,
                ],
            );
        }
        suites
    }

    /// The whole record: a handshake record carrying the ClientHello.
    pub fn to_record(&self) -> Result<Vec<u8>, EncodeError> {
        let tls13 = self.version == ProtocolVersion::TLS_1_3;
        let mut ext = Vec::with_capacity(256);
        if let Some(name) = self.sni {
            let name = name.as_bytes();
            fit("ClientHello", "server_name", name.len(), 0xFF00)?;
            push_ext(&mut ext, ExtensionType::SERVER_NAME, |d| {
                d.extend_from_slice(&len_u16(name.len() + 3).to_be_bytes());
                d.push(0);
                d.extend_from_slice(&len_u16(name.len()).to_be_bytes());
                d.extend_from_slice(name);
            });
        }
        // x25519, secp256r1, secp384r1, ffdhe2048
        push_ext(&mut ext, ExtensionType::SUPPORTED_GROUPS, |d| {
            d.extend_from_slice(&[0x00, 0x08, 0x00, 0x1D, 0x00, 0x17, 0x00, 0x18, 0x01, 0x00]);
        });
        push_ext(&mut ext, ExtensionType::EC_POINT_FORMATS, |d| {
            d.extend_from_slice(&[1, 0])
        });
        if self.version.0 >= ProtocolVersion::TLS_1_2.0 {
            // rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp256r1_sha256, rsa_pkcs1_sha384,
            // rsa_pkcs1_sha512, rsa_pkcs1_sha1, ecdsa_sha1
            push_ext(&mut ext, ExtensionType::SIGNATURE_ALGORITHMS, |d| {
                d.extend_from_slice(&[
                    0x00, 0x0E, 0x08, 0x04, 0x04, 0x01, 0x04, 0x03, 0x05, 0x01, 0x06, 0x01, 0x02,
                    0x01, 0x02, 0x03,
                ]);
            });
        }
        push_ext(&mut ext, ExtensionType::RENEGOTIATION_INFO, |d| d.push(0));
        if tls13 {
            push_ext(&mut ext, ExtensionType::SUPPORTED_VERSIONS, |d| {
                d.extend_from_slice(&[2, 0x03, 0x04]);
            });
            push_ext(&mut ext, ExtensionType::PSK_KEY_EXCHANGE_MODES, |d| {
                d.extend_from_slice(&[1, 1])
            });
            // A syntactically valid x25519 share: the probe only needs the server's answer.
            push_ext(&mut ext, ExtensionType::KEY_SHARE, |d| {
                d.extend_from_slice(&[0x00, 0x24, 0x00, 0x1D, 0x00, 0x20]);
                d.extend_from_slice(&self.random);
            });
        }
        let suites: Vec<u8> = self.suites.iter().flat_map(|s| s.0.to_be_bytes()).collect();
        let legacy = if tls13 {
            ProtocolVersion::TLS_1_2
        } else {
            self.version
        };
        let hello = ClientHello {
            version: legacy,
            random: &self.random,
            session_id: if tls13 { &self.random } else { &[] },
            cipher_suites: &suites,
            compression_methods: &[0],
            extensions: Some(&ext),
        };
        let mut body = Vec::with_capacity(hello.encoded_len());
        hello.encode(&mut body)?;
        let mut hs = Vec::with_capacity(body.len() + 4);
        Handshake {
            msg_type: HandshakeType::CLIENT_HELLO,
            body: &body,
        }
        .encode(&mut hs)?;
        let mut out = Vec::with_capacity(hs.len() + 5);
        let record_version = if self.version.0 <= ProtocolVersion::TLS_1_0.0 {
            self.version
        } else {
            ProtocolVersion::TLS_1_0
        };
        Record {
            content_type: ContentType::HANDSHAKE,
            version: record_version,
            fragment: &hs,
        }
        .encode(&mut out)?;
        Ok(out)
    }
}

fn push_ext(ext: &mut Vec<u8>, ty: ExtensionType, body: impl FnOnce(&mut Vec<u8>)) {
    ext.extend_from_slice(&ty.0.to_be_bytes());
    let at = ext.len();
    ext.extend_from_slice(&[0, 0]);
    body(ext);
    let len = len_u16(ext.len() - at - 2).to_be_bytes();
    if let Some(slot) = ext.get_mut(at..at + 2) {
        slot.copy_from_slice(&len);
    }
}
