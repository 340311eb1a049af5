//! [MS-RDPBCGR 2.2.1.4.2] .. [2.2.1.4.4] The server blocks: core, security (with the server
//! certificate, proprietary or X.509), network; and [`ServerBlock`], any block of a Conference
//! Create Response.

use crate::codec::{le_u16, le_u32, len_u16, open_enum, take};
use crate::{Layer, PResult};

use super::*;

/// [2.2.1.4.2] Server Core Data (TS_UD_SC_CORE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ServerCoreData {
    /// version
    pub version: RdpVersion,
    /// clientRequestedProtocols (optional)
    pub client_requested_protocols: Option<u32>,
    /// earlyCapabilityFlags (optional)
    pub early_capability_flags: Option<u32>,
}

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

open_enum! {
    /// [2.2.1.4.3.1] `dwVersion` certificate type (low 31 bits).
    pub struct CertificateType(u32) {
        CERT_CHAIN_VERSION_1 = 1,
        CERT_CHAIN_VERSION_2 = 2,
    }
}

/// [2.2.1.4.3.1.1.1] RSA Public Key (RSA_PUBLIC_KEY).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RsaPublicKey<'a> {
    /// magic ("RSA1")
    pub magic: u32,
    /// keylen (modulus bytes plus 8 bytes of padding)
    pub keylen: u32,
    /// bitlen
    pub bitlen: u32,
    /// datalen
    pub datalen: u32,
    /// pubExp
    pub pub_exp: u32,
    /// modulus (little-endian, keylen bytes)
    pub modulus: &'a [u8],
}

/// [2.2.1.4.3.1.1] Server Proprietary Certificate (PROPRIETARYSERVERCERTIFICATE).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProprietaryCertificate<'a> {
    /// dwSigAlgId
    pub sig_alg_id: u32,
    /// dwKeyAlgId
    pub key_alg_id: u32,
    /// wPublicKeyBlobType (BB_RSA_KEY_BLOB 0x0006)
    pub public_key_blob_type: u16,
    /// PublicKeyBlob
    pub public_key: RsaPublicKey<'a>,
    /// wSignatureBlobType (BB_RSA_SIGNATURE_BLOB 0x0008)
    pub signature_blob_type: u16,
    /// SignatureBlob
    pub signature: &'a [u8],
    /// Bytes after the signature blob.
    pub trailing: &'a [u8],
}

/// The certificate in Server Security Data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCertificate<'a> {
    /// CERT_CHAIN_VERSION_1
    Proprietary(ProprietaryCertificate<'a>),
    /// CERT_CHAIN_VERSION_2: [2.2.1.4.3.1.2] X.509 Certificate Chain; DER certificates, the
    /// server's last, then padding (8 + 4 × NumCertBlobs bytes).
    X509 {
        certificates: Vec<&'a [u8]>,
        padding: &'a [u8],
    },
    /// Another `dwVersion`, raw after it.
    Unknown { data: &'a [u8] },
}

/// [2.2.1.4.3.1] Server Certificate (SERVER_CERTIFICATE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCertificateBlob<'a> {
    /// dwVersion: certificate type in the low 31 bits; the high bit set means temporary.
    pub dw_version: u32,
    pub certificate: ServerCertificate<'a>,
}

impl ServerCertificateBlob<'_> {
    pub fn cert_type(&self) -> CertificateType {
        CertificateType(self.dw_version & 0x7FFF_FFFF)
    }

    /// The high bit of dwVersion clear: a permanent (not temporary) certificate.
    pub fn permanent(&self) -> bool {
        self.dw_version & 0x8000_0000 == 0
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

/// Largest certificate count accepted in an X.509 chain.
pub const MAX_CERT_BLOBS: u32 = 32;

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
}

/// Reads a SERVER_CERTIFICATE (2.2.1.4.3.1): the Server Security Data's, or a licensing one.
pub fn parse_server_certificate(i: &[u8]) -> PResult<'_, ServerCertificateBlob<'_>> {
    let (i, dw_version) = le_u32("dwVersion")(i)?;
    let certificate = match dw_version & 0x7FFF_FFFF {
        1 => {
            let (i, sig_alg_id) = le_u32("dwSigAlgId")(i)?;
            let (i, key_alg_id) = le_u32("dwKeyAlgId")(i)?;
            let (i, public_key_blob_type) = le_u16("wPublicKeyBlobType")(i)?;
            let (i, blob_len) = le_u16("wPublicKeyBlobLen")(i)?;
            let (i, blob) = take(i, blob_len.into(), "PublicKeyBlob")?;
            let (b, magic) = le_u32("magic")(blob)?;
            let (b, keylen) = le_u32("keylen")(b)?;
            let (b, bitlen) = le_u32("bitlen")(b)?;
            let (b, datalen) = le_u32("datalen")(b)?;
            let (modulus, pub_exp) = le_u32("pubExp")(b)?;
            let (i, signature_blob_type) = le_u16("wSignatureBlobType")(i)?;
            let (i, sig_len) = le_u16("wSignatureBlobLen")(i)?;
            let (i, signature) = take(i, sig_len.into(), "SignatureBlob")?;
            ServerCertificate::Proprietary(ProprietaryCertificate {
                sig_alg_id,
                key_alg_id,
                public_key_blob_type,
                public_key: RsaPublicKey {
                    magic,
                    keylen,
                    bitlen,
                    datalen,
                    pub_exp,
                    modulus,
                },
                signature_blob_type,
                signature,
                trailing: i,
            })
        }
        2 => {
            let (mut i, count) = le_u32("NumCertBlobs")(i)?;
            if count > MAX_CERT_BLOBS {
                return crate::codec::too_large(
                    i,
                    "NumCertBlobs",
                    MAX_CERT_BLOBS as usize,
                    count as usize,
                );
            }
            let mut certificates = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let (r, len) = le_u32("cbCert")(i)?;
                let (r, der) = take(r, len as usize, "abCert")?;
                certificates.push(der);
                i = r;
            }
            ServerCertificate::X509 {
                certificates,
                padding: i,
            }
        }
        _ => ServerCertificate::Unknown { data: i },
    };
    Ok((
        &[],
        ServerCertificateBlob {
            dw_version,
            certificate,
        },
    ))
}

/// [2.2.1.4.4] Server Network Data (TS_UD_SC_NET).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerNetworkData<'a> {
    /// MCSChannelId (the I/O channel)
    pub mcs_channel_id: u16,
    /// channelIdArray, raw (channelCount × u16 LE).
    pub channel_ids: &'a [u8],
    /// Pad (two bytes when channelCount is odd), and anything after.
    pub trailing: &'a [u8],
}

impl ServerNetworkData<'_> {
    /// The channel ids assigned to the client's channels, in order.
    pub fn channel_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.channel_ids.chunks_exact(2).map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
    }
}

/// A user data block of a Conference Create Response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerBlock<'a> {
    Core(ServerCoreData),
    Security(ServerSecurityData<'a>),
    Network(ServerNetworkData<'a>),
    /// [2.2.1.4.5] Server Message Channel Data: MCSChannelID.
    MessageChannel {
        mcs_channel_id: u16,
    },
    /// [2.2.1.4.6] Server Multitransport Channel Data: flags.
    Multitransport {
        flags: u32,
    },
    Unknown(UnknownBlock<'a>),
}

impl<'a> ServerBlock<'a> {
    pub fn block_type(&self) -> BlockType {
        match self {
            Self::Core(_) => BlockType::SC_CORE,
            Self::Security(_) => BlockType::SC_SECURITY,
            Self::Network(_) => BlockType::SC_NET,
            Self::MessageChannel { .. } => BlockType::SC_MCS_MSGCHANNEL,
            Self::Multitransport { .. } => BlockType::SC_MULTITRANSPORT,
            Self::Unknown(u) => u.block_type,
        }
    }

    pub(super) fn parse_data(
        block_type: BlockType,
        data: &'a [u8],
    ) -> Result<Self, nom::Err<crate::ParseError<'a>>> {
        if !server_block_size_fits(block_type, data) {
            return Ok(Self::Unknown(UnknownBlock { block_type, data }));
        }
        Ok(match block_type {
            BlockType::SC_CORE => {
                let (d, version) = le_u32("version")(data)?;
                let (d, requested) = opt_u32(d, "clientRequestedProtocols")?;
                let (_, early) = opt_u32(d, "earlyCapabilityFlags")?;
                Self::Core(ServerCoreData {
                    version: RdpVersion(version),
                    client_requested_protocols: requested,
                    early_capability_flags: early,
                })
            }
            BlockType::SC_SECURITY => {
                let (d, method) = le_u32("encryptionMethod")(data)?;
                let (d, level) = le_u32("encryptionLevel")(d)?;
                let mut sec = ServerSecurityData {
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
                Self::Security(sec)
            }
            BlockType::SC_NET => {
                let (d, mcs_channel_id) = le_u16("MCSChannelId")(data)?;
                let (d, count) = le_u16("channelCount")(d)?;
                let (trailing, channel_ids) = take(d, usize::from(count) * 2, "channelIdArray")?;
                Self::Network(ServerNetworkData {
                    mcs_channel_id,
                    channel_ids,
                    trailing,
                })
            }
            BlockType::SC_MCS_MSGCHANNEL => Self::MessageChannel {
                mcs_channel_id: le_u16("MCSChannelID")(data)?.1,
            },
            BlockType::SC_MULTITRANSPORT => Self::Multitransport {
                flags: flags_only(data, "flags")?.1,
            },
            _ => Self::Unknown(UnknownBlock { block_type, data }),
        })
    }

    pub(super) fn data_len(&self) -> usize {
        match self {
            Self::Core(c) => {
                4 + c.client_requested_protocols.map_or(0, |_| 4)
                    + c.early_capability_flags.map_or(0, |_| 4)
            }
            Self::Security(s) => {
                8 + match (s.server_random, s.server_certificate) {
                    (Some(r), Some(c)) => 8 + r.len() + c.len(),
                    _ => 0,
                } + s.trailing.len()
            }
            Self::Network(n) => 4 + n.channel_ids.len() + n.trailing.len(),
            Self::MessageChannel { .. } => 2,
            Self::Multitransport { .. } => 4,
            Self::Unknown(u) => u.data.len(),
        }
    }

    pub(super) fn encode_data(&self, dst: &mut Vec<u8>) {
        match self {
            Self::Core(c) => {
                dst.extend_from_slice(&c.version.0.to_le_bytes());
                if let Some(v) = c.client_requested_protocols {
                    dst.extend_from_slice(&v.to_le_bytes());
                    if let Some(e) = c.early_capability_flags {
                        dst.extend_from_slice(&e.to_le_bytes());
                    }
                }
            }
            Self::Security(s) => {
                dst.extend_from_slice(&s.encryption_method.bits().to_le_bytes());
                dst.extend_from_slice(&s.encryption_level.0.to_le_bytes());
                if let (Some(r), Some(c)) = (s.server_random, s.server_certificate) {
                    dst.extend_from_slice(&crate::codec::len_u32(r.len()).to_le_bytes());
                    dst.extend_from_slice(&crate::codec::len_u32(c.len()).to_le_bytes());
                    dst.extend_from_slice(r);
                    dst.extend_from_slice(c);
                }
                dst.extend_from_slice(s.trailing);
            }
            Self::Network(n) => {
                dst.extend_from_slice(&n.mcs_channel_id.to_le_bytes());
                dst.extend_from_slice(&len_u16(n.channel_ids.len() / 2).to_le_bytes());
                dst.extend_from_slice(n.channel_ids);
                dst.extend_from_slice(n.trailing);
            }
            Self::MessageChannel { mcs_channel_id } => {
                dst.extend_from_slice(&mcs_channel_id.to_le_bytes())
            }
            Self::Multitransport { flags } => dst.extend_from_slice(&flags.to_le_bytes()),
            Self::Unknown(u) => dst.extend_from_slice(u.data),
        }
    }
}
