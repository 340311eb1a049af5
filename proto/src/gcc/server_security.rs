//! [MS-RDPBCGR 2.2.1.4.3] Server Security Data (TS_UD_SC_SEC1).

use crate::codec::{le_u32, len_u32, open_enum, take};
use crate::{Layer, PResult};

use super::{parse_server_certificate, EncryptionMethods, ServerCertificateBlob};

open_enum! {
    /// [2.2.1.4.3] `encryptionLevel`.
    pub struct EncryptionLevel(u32) {
        ENCRYPTION_LEVEL_NONE = 0,
        ENCRYPTION_LEVEL_LOW = 1,
        ENCRYPTION_LEVEL_CLIENT_COMPATIBLE = 2,
        ENCRYPTION_LEVEL_HIGH = 3,
        ENCRYPTION_LEVEL_FIPS = 4,
    }
}

/// [2.2.1.4.3] Server Security Data (TS_UD_SC_SEC1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerSecurityData<'a> {
    /// encryptionMethod
    pub encryption_method: EncryptionMethods,
    /// encryptionLevel
    pub encryption_level: EncryptionLevel,
    /// serverRandom (present when method and level are not both 0)
    pub server_random: Option<&'a [u8]>,
    /// serverCertificate, raw (see [`ServerSecurityData::certificate`])
    pub server_certificate: Option<&'a [u8]>,
    /// Bytes after the certificate.
    pub trailing: &'a [u8],
}

impl<'a> ServerSecurityData<'a> {
    /// Decodes serverCertificate.
    pub fn certificate(&self) -> Option<Result<ServerCertificateBlob<'a>, crate::DecodeError>> {
        let raw = self.server_certificate?;
        Some(match parse_server_certificate(raw) {
            Ok((_, c)) => Ok(c),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                Err(e.into_decode_error(Layer::Gcc, raw))
            }
            Err(nom::Err::Incomplete(_)) => Err(crate::DecodeError {
                layer: Layer::Gcc,
                context: "serverCertificate",
                offset: raw.len(),
                kind: crate::DecodeErrorKind::NotEnoughBytes {
                    needed: 1,
                    available: 0,
                },
            }),
        })
    }

    pub(super) fn parse(data: &'a [u8]) -> PResult<'a, Self> {
        let (d, method) = le_u32("encryptionMethod")(data)?;
        let (d, level) = le_u32("encryptionLevel")(d)?;
        let mut sec = Self {
            encryption_method: EncryptionMethods::from_bits_retain(method),
            encryption_level: EncryptionLevel(level),
            server_random: None,
            server_certificate: None,
            trailing: d,
        };
        if !d.is_empty() {
            let (d, random_len) = le_u32("serverRandomLen")(d)?;
            let (d, cert_len) = le_u32("serverCertLen")(d)?;
            let (d, random) = take(d, random_len as usize, "serverRandom")?;
            let (d, cert) = take(d, cert_len as usize, "serverCertificate")?;
            sec.server_random = Some(random);
            sec.server_certificate = Some(cert);
            sec.trailing = d;
        }
        Ok((&[], sec))
    }

    pub(super) fn encoded_len(&self) -> usize {
        8 + match (self.server_random, self.server_certificate) {
            (Some(r), Some(c)) => 8 + r.len() + c.len(),
            _ => 0,
        } + self.trailing.len()
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.encryption_method.bits().to_le_bytes());
        dst.extend_from_slice(&self.encryption_level.0.to_le_bytes());
        if let (Some(r), Some(c)) = (self.server_random, self.server_certificate) {
            dst.extend_from_slice(&len_u32(r.len()).to_le_bytes());
            dst.extend_from_slice(&len_u32(c.len()).to_le_bytes());
            dst.extend_from_slice(r);
            dst.extend_from_slice(c);
        }
        dst.extend_from_slice(self.trailing);
    }
}
