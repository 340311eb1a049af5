//! TLS record protection undone from a session's secrets, sans-IO: TLS 1.2's AEAD suites (AES-GCM,
//! RFC 5288; ChaCha20-Poly1305, RFC 7905) from the master secret (the key block, RFC 5246 6.3),
//! and TLS 1.3's (RFC 8446 5.2-5.3 and 7: HKDF-Expand-Label, the traffic keys, KeyUpdate). One
//! [`Opener`] per direction and key; RustCrypto's AEADs and hashes.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::facts::decrypt::OpenError;

/// The AEAD of a cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// The hash of a cipher suite (the PRF's, HKDF's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    /// Its output size in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// A cipher suite rdprobe can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub cipher: Cipher,
    pub hash: Hash,
    /// A TLS 1.3 suite.
    pub tls13: bool,
}

impl Suite {
    /// The suite of a ServerHello's `cipher_suite` (None: not one rdprobe decrypts: CBC,
    /// RC4, CCM, ...).
    pub fn from_id(id: u16) -> Option<Self> {
        use Cipher::*;
        use Hash::*;
        let (cipher, hash, tls13) = match id {
            0x1301 => (Aes128Gcm, Sha256, true),
            0x1302 => (Aes256Gcm, Sha384, true),
            0x1303 => (ChaCha20Poly1305, Sha256, true),
            // TLS_{ECDHE_ECDSA,ECDHE_RSA,RSA,DHE_RSA}_WITH_AES_128_GCM_SHA256
            0xC02B | 0xC02F | 0x009C | 0x009E => (Aes128Gcm, Sha256, false),
            // ..._WITH_AES_256_GCM_SHA384
            0xC02C | 0xC030 | 0x009D | 0x009F => (Aes256Gcm, Sha384, false),
            // ..._WITH_CHACHA20_POLY1305_SHA256
            0xCCA8..=0xCCAA => (ChaCha20Poly1305, Sha256, false),
            _ => return None,
        };
        Some(Self {
            cipher,
            hash,
            tls13,
        })
    }

    fn key_len(self) -> usize {
        match self.cipher {
            Cipher::Aes128Gcm => 16,
            Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305 => 32,
        }
    }

    /// TLS 1.2's write IV: the implicit nonce part.
    fn tls12_iv_len(self) -> usize {
        match self.cipher {
            Cipher::ChaCha20Poly1305 => 12,
            _ => 4,
        }
    }
}

enum Key {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Key {
    fn new(cipher: Cipher, key: &[u8]) -> Option<Self> {
        Some(match cipher {
            Cipher::Aes128Gcm => Self::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Cipher::Aes256Gcm => Self::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Cipher::ChaCha20Poly1305 => {
                Self::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
        })
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        match self {
            Self::Aes128(k) => k.decrypt(nonce.into(), payload).ok(),
            Self::Aes256(k) => k.decrypt(nonce.into(), payload).ok(),
            Self::ChaCha(k) => k.decrypt(nonce.into(), payload).ok(),
        }
    }
}

/// One direction's record protection under one key.
pub struct Opener {
    key: Key,
    iv: [u8; 12],
    iv_len: usize,
    tls13: bool,
    /// The next record's sequence number.
    seq: u64,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("tls13", &self.tls13)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

const TAG: usize = 16;

impl Opener {
    /// TLS 1.3: the record keys of a traffic secret (RFC 8446 7.3).
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<Self> {
        let key = hkdf_expand_label(suite.hash, secret, b"key", &[], suite.key_len())?;
        let iv = hkdf_expand_label(suite.hash, secret, b"iv", &[], 12)?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv);
        Some(Self {
            key: Key::new(suite.cipher, &key)?,
            iv: nonce,
            iv_len: 12,
            tls13: true,
            seq: 0,
        })
    }

    /// TLS 1.2: a write key and IV from the key block.
    pub fn tls12(suite: Suite, key: &[u8], iv: &[u8]) -> Option<Self> {
        let mut nonce = [0u8; 12];
        nonce.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(Self {
            key: Key::new(suite.cipher, key)?,
            iv: nonce,
            iv_len: iv.len(),
            tls13: false,
            seq: 0,
        })
    }

    /// Opens one record: `header` is its 5 bytes as on the wire, `fragment` what follows.
    /// Returns the content type and the plaintext; the sequence number moves on either way.
    pub fn open(&mut self, header: &[u8; 5], fragment: &[u8]) -> Result<(u8, Vec<u8>), OpenError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if self.tls13 {
            if fragment.len() < TAG {
                return Err(OpenError::Short);
            }
            let mut plain = self
                .key
                .open(&self.xor_nonce_at(seq), header, fragment)
                .ok_or(OpenError::Tag)?;
            // TLSInnerPlaintext: content, the real type, zero padding.
            let end = plain
                .iter()
                .rposition(|b| *b != 0)
                .ok_or(OpenError::NoType)?;
            let kind = plain[end];
            plain.truncate(end);
            return Ok((kind, plain));
        }
        // TLS 1.2: AES-GCM carries an 8-byte explicit nonce; ChaCha20 XORs the sequence in.
        let (nonce, ciphertext) = if self.iv_len == 4 {
            let explicit = fragment.get(..8).ok_or(OpenError::Short)?;
            let mut nonce = self.iv;
            nonce[4..].copy_from_slice(explicit);
            (nonce, &fragment[8..])
        } else {
            (self.xor_nonce_at(seq), fragment)
        };
        let length = ciphertext.len().checked_sub(TAG).ok_or(OpenError::Short)?;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
        let plain = self
            .key
            .open(&nonce, &aad, ciphertext)
            .ok_or(OpenError::Tag)?;
        Ok((header[0], plain))
    }

    /// The nonce of record `seq`: the IV with the sequence number XORed into its last 8 bytes.
    fn xor_nonce_at(&self, seq: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Records opened (or tried) so far.
    pub fn records(&self) -> u64 {
        self.seq
    }
}

/// HKDF-Expand-Label (RFC 8446 7.1).
pub fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut info = Vec::with_capacity(4 + 6 + label.len() + context.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(6 + label.len()).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(u8::try_from(context.len()).ok()?);
    info.extend_from_slice(context);
    let mut out = Zeroizing::new(vec![0u8; len]);
    match hash {
        Hash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
        Hash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
    }
    Some(out)
}

/// The next application traffic secret after a KeyUpdate (RFC 8446 7.2).
pub fn next_traffic_secret(hash: Hash, secret: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    hkdf_expand_label(hash, secret, b"traffic upd", &[], hash.output_len())
}

/// TLS 1.2's PRF, P_hash (RFC 5246 5).
fn prf(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], seed: &[u8], out: &mut [u8]) -> Option<()> {
        let mac = <M as KeyInit>::new_from_slice(secret).ok()?;
        let mut a = {
            let mut m = mac.clone();
            m.update(seed);
            m.finalize().into_bytes().to_vec()
        };
        let mut filled = 0;
        while filled < out.len() {
            let mut m = mac.clone();
            m.update(&a);
            m.update(seed);
            let block = m.finalize().into_bytes();
            let n = block.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&block[..n]);
            filled += n;
            let mut m = mac.clone();
            m.update(&a);
            a = m.finalize().into_bytes().to_vec();
        }
        Some(())
    }
    let mut full_seed = label.to_vec();
    full_seed.extend_from_slice(seed);
    let mut out = Zeroizing::new(vec![0u8; len]);
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, &full_seed, &mut out)?,
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, &full_seed, &mut out)?,
    }
    Some(out)
}

/// TLS 1.2's record keys of both directions, from the master secret (RFC 5246 6.3; the AEAD
/// suites have no MAC keys).
pub fn tls12_openers(
    suite: Suite,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<(Opener, Opener)> {
    let (k, v) = (suite.key_len(), suite.tls12_iv_len());
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let block = prf(suite.hash, master, b"key expansion", &seed, 2 * k + 2 * v)?;
    let client = Opener::tls12(suite, &block[..k], &block[2 * k..2 * k + v])?;
    let server = Opener::tls12(suite, &block[k..2 * k], &block[2 * k + v..2 * k + 2 * v])?;
    Some((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 3 (a simple 1-RTT handshake): the server's handshake traffic secret gives its
    /// write key and IV.
    #[test]
    fn rfc8448_handshake_keys() {
        let secret =
            hex::decode("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
                .unwrap();
        let key = hkdf_expand_label(Hash::Sha256, &secret, b"key", &[], 16).unwrap();
        let iv = hkdf_expand_label(Hash::Sha256, &secret, b"iv", &[], 12).unwrap();
        assert_eq!(hex::encode(&*key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex::encode(&*iv), "5d313eb2671276ee13000b30");
    }
}
