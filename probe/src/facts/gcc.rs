//! The MCS Connect-Response and its GCC server blocks (MS-RDPBCGR 2.2.1.4): server version,
//! Standard RDP Security's encryption method and level, the server certificate.

use rdp_proto::gcc::{
    ConferenceCreateResponse, EncryptionLevel, EncryptionMethods, RdpVersion, ServerCertificate,
};
use rdp_proto::mcs::{ConnectResponse, McsResult};
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::x224::Tpdu;

/// Kind of the Server Security Data's certificate (2.2.1.4.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// CERT_CHAIN_VERSION_1: a proprietary certificate (an RSA key signed with Microsoft's key).
    Proprietary,
    /// CERT_CHAIN_VERSION_2: an X.509 chain.
    X509,
    Unknown,
}

impl CertKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Proprietary => "proprietary",
            Self::X509 => "x509",
            Self::Unknown => "unknown",
        }
    }
}

/// What a Connect-Response says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponseFacts {
    pub result: McsResult,
    /// SC_CORE `version`.
    pub version: Option<RdpVersion>,
    /// SC_CORE `clientRequestedProtocols`.
    pub client_requested_protocols: Option<SecurityProtocol>,
    /// SC_SECURITY, when present.
    pub security: Option<ServerSecurity>,
    /// SC_NET's MCSChannelId: the I/O channel.
    pub io_channel: Option<u16>,
}

/// Server Security Data (2.2.1.4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSecurity {
    pub method: EncryptionMethods,
    pub level: EncryptionLevel,
    pub certificate: Option<CertKind>,
    /// The certificate is permanent (not temporary: `t` bit clear).
    pub permanent: Option<bool>,
    pub certificate_count: Option<usize>,
    /// The proprietary certificate's RSA key size.
    pub rsa_bits: Option<u32>,
    /// The X.509 chain, DER, as sent (the server's own certificate is the last).
    pub x509_chain: Vec<Vec<u8>>,
    /// serverRandom, when 32 bytes.
    pub server_random: Option<[u8; 32]>,
    /// The key the client random is encrypted with (5.3.4): the proprietary certificate's, or
    /// that of the X.509 chain's last certificate.
    pub public_key: Option<RsaKey>,
}

/// The server's RSA public key as RDP uses it: little-endian modulus (with the 8 zero bytes of
/// padding the proprietary certificate carries), public exponent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaKey {
    pub exponent: u32,
    pub modulus_le: Vec<u8>,
}

impl RsaKey {
    /// A proprietary certificate's key (RSA_PUBLIC_KEY: already little-endian and padded).
    pub fn from_proprietary(k: &rdp_proto::gcc::RsaPublicKey<'_>) -> Self {
        Self {
            exponent: k.pub_exp,
            modulus_le: k.modulus.to_vec(),
        }
    }

    /// From a big-endian modulus and exponent (an X.509 certificate's RSAPublicKey).
    pub fn from_be(modulus: &[u8], exponent: &[u8]) -> Option<Self> {
        let modulus = modulus
            .iter()
            .position(|b| *b != 0)
            .map_or(&[][..], |i| &modulus[i..]);
        let exponent = exponent
            .iter()
            .try_fold(0u32, |e, b| e.checked_mul(256).map(|e| e | u32::from(*b)))?;
        let mut modulus_le: Vec<u8> = modulus.iter().rev().copied().collect();
        modulus_le.extend([0; 8]);
        Some(Self {
            exponent,
            modulus_le,
        })
    }

    /// From the last certificate of an X.509 chain (the server's own).
    pub fn from_x509(der: &[u8]) -> Option<Self> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        use x509_parser::public_key::PublicKey;
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        match cert.public_key().parsed().ok()? {
            PublicKey::RSA(k) => Self::from_be(k.modulus, k.exponent),
            _ => None,
        }
    }
}

impl ConnectResponseFacts {
    /// The one interpreter of an MCS Connect-Response.
    pub fn from_pdu(cr: &ConnectResponse<'_>) -> Self {
        let mut out = Self {
            result: cr.result,
            version: None,
            client_requested_protocols: None,
            security: None,
            io_channel: None,
        };
        let Ok(gcc) = rdp_proto::decode::<ConferenceCreateResponse>(cr.user_data) else {
            return out;
        };
        out.io_channel = gcc.network().map(|n| n.mcs_channel_id);
        if let Some(core) = gcc.core() {
            out.version = Some(core.version);
            out.client_requested_protocols = core
                .client_requested_protocols
                .map(SecurityProtocol::from_bits_retain);
        }
        out.security = gcc.security().map(|sec| {
            let mut s = ServerSecurity {
                method: sec.encryption_method,
                level: sec.encryption_level,
                certificate: None,
                permanent: None,
                certificate_count: None,
                rsa_bits: None,
                x509_chain: Vec::new(),
                server_random: sec.server_random.and_then(|r| r.try_into().ok()),
                public_key: None,
            };
            if let Some(Ok(cert)) = sec.certificate() {
                s.permanent = Some(cert.permanent());
                match &cert.certificate {
                    ServerCertificate::Proprietary(p) => {
                        s.certificate = Some(CertKind::Proprietary);
                        s.certificate_count = Some(1);
                        s.rsa_bits = Some(p.public_key.bitlen);
                        s.public_key = Some(RsaKey::from_proprietary(&p.public_key));
                    }
                    ServerCertificate::X509 { certificates, .. } => {
                        s.certificate = Some(CertKind::X509);
                        s.certificate_count = Some(certificates.len());
                        s.x509_chain = certificates.iter().map(|c| c.to_vec()).collect();
                        s.public_key = certificates.last().and_then(|c| RsaKey::from_x509(c));
                    }
                    ServerCertificate::Unknown { .. } => s.certificate = Some(CertKind::Unknown),
                }
            }
            s
        });
        out
    }

    /// Reads a Connect-Response from one TPKT frame (X.224 Data); None if it is not one.
    pub fn parse(frame: &[u8]) -> Option<Self> {
        let (_, (_, Tpdu::Data(d))) = Tpdu::parse_tpkt(frame).ok()? else {
            return None;
        };
        let cr: ConnectResponse = rdp_proto::decode(d.payload).ok()?;
        Some(Self::from_pdu(&cr))
    }
}

/// The one name table of Standard RDP Security's encryption methods (2.2.1.4.3
/// `encryptionMethod`): `none`, `40bit`, `56bit`, `128bit`, `fips`, else the hex value.
pub fn method_name(m: EncryptionMethods) -> String {
    match m.bits() {
        0 => "none".into(),
        0x01 => "40bit".into(),
        0x02 => "128bit".into(),
        0x08 => "56bit".into(),
        0x10 => "fips".into(),
        v => format!("0x{v:x}"),
    }
}

/// The names of every method in a set (a client's `encryptionMethods`), in bit order.
pub fn method_names(m: EncryptionMethods) -> Vec<String> {
    [0x01, 0x02, 0x08, 0x10]
        .into_iter()
        .filter(|bit| m.bits() & bit != 0)
        .map(|bit| method_name(EncryptionMethods::from_bits_retain(bit)))
        .collect()
}

/// No encryption, or an export-grade key (40 or 56 bits).
pub fn is_weak_method(m: EncryptionMethods) -> bool {
    matches!(m.bits(), 0 | 0x01 | 0x08)
}

/// ENCRYPTION_LEVEL_NONE or ENCRYPTION_LEVEL_LOW (only client-to-server traffic encrypted).
pub fn is_weak_level(l: EncryptionLevel) -> bool {
    matches!(
        l,
        EncryptionLevel::ENCRYPTION_LEVEL_NONE | EncryptionLevel::ENCRYPTION_LEVEL_LOW
    )
}
