//! [MS-RDPBCGR 2.2.1.4.3.1] Server Certificate (SERVER_CERTIFICATE): proprietary or X.509.

use crate::codec::{le_u16, le_u32, open_enum, take};
use crate::PResult;

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

/// Largest certificate count accepted in an X.509 chain.
pub const MAX_CERT_BLOBS: u32 = 32;

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
