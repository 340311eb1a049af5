//! The probe's own ClientHello, offering one chosen version and chosen suites (rustls cannot
//! speak TLS 1.0/1.1, so the probe tests those with this).

use crate::codec::{fit, len_u16};
use crate::{EncodeError, Pdu};

use super::*;

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

pub(super) fn push_ext(ext: &mut Vec<u8>, ty: ExtensionType, body: impl FnOnce(&mut Vec<u8>)) {
    ext.extend_from_slice(&ty.0.to_be_bytes());
    let at = ext.len();
    ext.extend_from_slice(&[0, 0]);
    body(ext);
    let len = len_u16(ext.len() - at - 2).to_be_bytes();
    if let Some(slot) = ext.get_mut(at..at + 2) {
        slot.copy_from_slice(&len);
    }
}
