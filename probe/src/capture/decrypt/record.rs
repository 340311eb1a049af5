//! TLS record protection undone from a session's secrets, sans-IO: TLS 1.2's AEAD suites (AES-GCM,
//! RFC 5288; ChaCha20-Poly1305, RFC 7905) and TLS 1.0-1.2's AES-CBC suites with HMAC-SHA1,
//! SHA-256 or SHA-384 (MAC-then-encrypt, RFC 2246 / 4346 / 5246 6.2.3.2, or encrypt-then-MAC,
//! RFC 7366; TLS 1.0's IV chained from the previous record) from the master secret (the key
//! block: RFC 5246 6.3, TLS 1.0-1.1's MD5/SHA-1 PRF of RFC 2246 5), and TLS 1.3's (RFC 8446
//! 5.2-5.3 and 7: HKDF-Expand-Label, the traffic keys, KeyUpdate). One [`Opener`] per direction
//! and key; RustCrypto's ciphers and hashes.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::facts::decrypt::OpenError;

/// The record cipher of a cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// AES-CBC with the suite's HMAC.
    Aes128Cbc(MacAlg),
    Aes256Cbc(MacAlg),
}

/// The HMAC of a CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
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
    /// The suite of a ServerHello's `cipher_suite` (None: not one rdprobe decrypts: RC4,
    /// 3DES, CCM, Camellia, ...).
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
            // TLS_{RSA,DHE_RSA,ECDHE_ECDSA,ECDHE_RSA}_WITH_AES_128_CBC_SHA
            0x002F | 0x0033 | 0xC009 | 0xC013 => (Aes128Cbc(MacAlg::Sha1), Sha256, false),
            // ..._WITH_AES_256_CBC_SHA
            0x0035 | 0x0039 | 0xC00A | 0xC014 => (Aes256Cbc(MacAlg::Sha1), Sha256, false),
            // ..._WITH_AES_128_CBC_SHA256
            0x003C | 0x0067 | 0xC023 | 0xC027 => (Aes128Cbc(MacAlg::Sha256), Sha256, false),
            // ..._WITH_AES_256_CBC_SHA256 / _SHA384
            0x003D | 0x006B => (Aes256Cbc(MacAlg::Sha256), Sha256, false),
            0xC024 | 0xC028 => (Aes256Cbc(MacAlg::Sha384), Sha384, false),
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
            Cipher::Aes128Gcm | Cipher::Aes128Cbc(_) => 16,
            Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305 | Cipher::Aes256Cbc(_) => 32,
        }
    }

    /// The key block's write IV: the implicit nonce part of an AEAD, TLS 1.0's first CBC IV.
    fn tls12_iv_len(self) -> usize {
        match self.cipher {
            Cipher::ChaCha20Poly1305 => 12,
            Cipher::Aes128Cbc(_) | Cipher::Aes256Cbc(_) => 16,
            _ => 4,
        }
    }

    /// The MAC key's length (none for an AEAD).
    fn mac_len(self) -> usize {
        match self.cipher {
            Cipher::Aes128Cbc(m) | Cipher::Aes256Cbc(m) => m.len(),
            _ => 0,
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
            Cipher::Aes128Cbc(_) | Cipher::Aes256Cbc(_) => return None,
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
    kind: Kind,
    /// The next record's sequence number.
    seq: u64,
}

enum Kind {
    Aead {
        key: Key,
        iv: [u8; 12],
        iv_len: usize,
        tls13: bool,
    },
    Cbc(Box<CbcState>),
}

/// A CBC direction: its AES key, its HMAC key, and how the record is laid out.
struct CbcState {
    key: Zeroizing<Vec<u8>>,
    mac: MacAlg,
    mac_key: Zeroizing<Vec<u8>>,
    /// TLS 1.0: the IV of the next record (the previous record's last ciphertext block).
    chained_iv: Option<[u8; 16]>,
    /// RFC 7366 encrypt-then-MAC.
    etm: bool,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Aead { tls13: true, .. } => "tls13",
            Kind::Aead { .. } => "aead",
            Kind::Cbc(_) => "cbc",
        };
        f.debug_struct("Opener")
            .field("kind", &kind)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// How a TLS 1.0-1.2 session protects its CBC records (the ServerHello says).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CbcMode {
    /// TLS 1.0: implicit IVs chained across records (1.1 and 1.2 send each record's IV).
    pub tls10: bool,
    /// TLS 1.0 or 1.1: the key block comes from the MD5/SHA-1 PRF.
    pub legacy_prf: bool,
    /// The encrypt_then_mac extension (RFC 7366) was agreed.
    pub etm: bool,
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
            kind: Kind::Aead {
                key: Key::new(suite.cipher, &key)?,
                iv: nonce,
                iv_len: 12,
                tls13: true,
            },
            seq: 0,
        })
    }

    /// TLS 1.2: an AEAD write key and IV from the key block.
    pub fn tls12(suite: Suite, key: &[u8], iv: &[u8]) -> Option<Self> {
        let mut nonce = [0u8; 12];
        nonce.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(Self {
            kind: Kind::Aead {
                key: Key::new(suite.cipher, key)?,
                iv: nonce,
                iv_len: iv.len(),
                tls13: false,
            },
            seq: 0,
        })
    }

    /// TLS 1.0-1.2: a CBC write key, MAC key and (TLS 1.0) first IV from the key block.
    fn cbc(suite: Suite, key: &[u8], mac_key: &[u8], iv: &[u8], mode: CbcMode) -> Option<Self> {
        let mac = match suite.cipher {
            Cipher::Aes128Cbc(m) | Cipher::Aes256Cbc(m) => m,
            _ => return None,
        };
        let chained_iv = if mode.tls10 {
            Some(<[u8; 16]>::try_from(iv).ok()?)
        } else {
            None
        };
        Some(Self {
            kind: Kind::Cbc(Box::new(CbcState {
                key: Zeroizing::new(key.to_vec()),
                mac,
                mac_key: Zeroizing::new(mac_key.to_vec()),
                chained_iv,
                etm: mode.etm,
            })),
            seq: 0,
        })
    }

    /// Opens one record: `header` is its 5 bytes as on the wire, `fragment` what follows.
    /// Returns the content type and the plaintext; the sequence number moves on either way.
    pub fn open(&mut self, header: &[u8; 5], fragment: &[u8]) -> Result<(u8, Vec<u8>), OpenError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let (key, iv, iv_len, tls13) = match &mut self.kind {
            Kind::Cbc(state) => return state.open(seq, header, fragment).map(|p| (header[0], p)),
            Kind::Aead {
                key,
                iv,
                iv_len,
                tls13,
            } => (&*key, *iv, *iv_len, *tls13),
        };
        if tls13 {
            if fragment.len() < TAG {
                return Err(OpenError::Short);
            }
            let mut plain = key
                .open(&xor_nonce(iv, seq), header, fragment)
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
        let (nonce, ciphertext) = if iv_len == 4 {
            let explicit = fragment.get(..8).ok_or(OpenError::Short)?;
            let mut nonce = iv;
            nonce[4..].copy_from_slice(explicit);
            (nonce, &fragment[8..])
        } else {
            (xor_nonce(iv, seq), fragment)
        };
        let length = ciphertext.len().checked_sub(TAG).ok_or(OpenError::Short)?;
        let aad = mac_header(seq, header, length);
        let plain = key.open(&nonce, &aad, ciphertext).ok_or(OpenError::Tag)?;
        Ok((header[0], plain))
    }

    /// Records opened (or tried) so far.
    pub fn records(&self) -> u64 {
        self.seq
    }
}

/// The nonce of record `seq`: the IV with the sequence number XORed into its last 8 bytes.
fn xor_nonce(iv: [u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// What a TLS 1.0-1.2 MAC or AEAD covers before the data: seq_num, type, version, length.
fn mac_header(seq: u64, header: &[u8; 5], length: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(&header[..3]);
    aad[11..].copy_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
    aad
}

const BLOCK: usize = 16;

impl CbcState {
    /// One CBC record (RFC 5246 6.2.3.2; RFC 7366 for encrypt-then-MAC): the IV, the blocks,
    /// the padding and the MAC checked; the plaintext.
    fn open(&mut self, seq: u64, header: &[u8; 5], fragment: &[u8]) -> Result<Vec<u8>, OpenError> {
        let maclen = self.mac.len();
        // Encrypt-then-MAC: the MAC follows the IV and ciphertext and covers them.
        let (sealed, etm_mac) = if self.etm {
            let at = fragment.len().checked_sub(maclen).ok_or(OpenError::Short)?;
            let (c, m) = fragment.split_at(at);
            if !self.mac_ok(&mac_header(seq, header, c.len()), c, m) {
                return Err(OpenError::Tag);
            }
            (c, true)
        } else {
            (fragment, false)
        };
        let (iv, blocks) = match self.chained_iv {
            Some(iv) => (iv, sealed),
            None => {
                let (iv, rest) = sealed
                    .split_first_chunk::<BLOCK>()
                    .ok_or(OpenError::Short)?;
                (*iv, rest)
            }
        };
        if blocks.is_empty() || blocks.len() % BLOCK != 0 {
            return Err(OpenError::Short);
        }
        if let Some(next) = blocks.last_chunk::<BLOCK>() {
            if self.chained_iv.is_some() {
                self.chained_iv = Some(*next);
            }
        }
        let mut plain = blocks.to_vec();
        let ok = match self.key.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.key, &iv)
                .ok()
                .and_then(|d| {
                    d.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut plain)
                        .ok()
                        .map(|_| ())
                }),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.key, &iv)
                .ok()
                .and_then(|d| {
                    d.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut plain)
                        .ok()
                        .map(|_| ())
                }),
        };
        ok.ok_or(OpenError::Short)?;
        // The padding: its length byte, and that many bytes of the same value before it.
        let pad = usize::from(*plain.last().ok_or(OpenError::Short)?);
        let unpadded = plain.len().checked_sub(pad + 1).ok_or(OpenError::Tag)?;
        if plain[unpadded..].iter().any(|b| usize::from(*b) != pad) {
            return Err(OpenError::Tag);
        }
        plain.truncate(unpadded);
        if etm_mac {
            return Ok(plain);
        }
        let length = plain.len().checked_sub(maclen).ok_or(OpenError::Tag)?;
        let mac = plain.split_off(length);
        if !self.mac_ok(&mac_header(seq, header, length), &plain, &mac) {
            return Err(OpenError::Tag);
        }
        Ok(plain)
    }

    fn mac_ok(&self, head: &[u8; 13], data: &[u8], mac: &[u8]) -> bool {
        fn check<M: Mac + KeyInit>(key: &[u8], head: &[u8], data: &[u8], mac: &[u8]) -> bool {
            let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
                return false;
            };
            m.update(head);
            m.update(data);
            m.verify_slice(mac).is_ok()
        }
        match self.mac {
            MacAlg::Sha1 => check::<Hmac<Sha1>>(&self.mac_key, head, data, mac),
            MacAlg::Sha256 => check::<Hmac<Sha256>>(&self.mac_key, head, data, mac),
            MacAlg::Sha384 => check::<Hmac<Sha384>>(&self.mac_key, head, data, mac),
        }
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

/// P_hash (RFC 5246 5), filling `out`.
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

/// TLS 1.2's PRF, P_hash (RFC 5246 5).
fn prf(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut full_seed = label.to_vec();
    full_seed.extend_from_slice(seed);
    let mut out = Zeroizing::new(vec![0u8; len]);
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, &full_seed, &mut out)?,
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, &full_seed, &mut out)?,
    }
    Some(out)
}

/// TLS 1.0 and 1.1's PRF (RFC 2246 5): P_MD5 over the secret's first half XOR P_SHA-1 over
/// its second.
fn legacy_prf(secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let half = secret.len().div_ceil(2);
    let (s1, s2) = (secret.get(..half)?, secret.get(secret.len() - half..)?);
    let mut full_seed = label.to_vec();
    full_seed.extend_from_slice(seed);
    let mut a = Zeroizing::new(vec![0u8; len]);
    let mut b = Zeroizing::new(vec![0u8; len]);
    p_hash::<Hmac<md5::Md5>>(s1, &full_seed, &mut a)?;
    p_hash::<Hmac<Sha1>>(s2, &full_seed, &mut b)?;
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x ^= y;
    }
    Some(a)
}

/// The record keys of both directions of a TLS 1.0-1.2 session, from the master secret
/// (RFC 5246 6.3: MAC keys, write keys, IVs; the AEAD suites have no MAC keys). `mode` says
/// how CBC records are laid out (ignored for an AEAD).
pub fn tls12_openers(
    suite: Suite,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    mode: CbcMode,
) -> Option<(Opener, Opener)> {
    let (m, k, v) = (suite.mac_len(), suite.key_len(), suite.tls12_iv_len());
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let len = 2 * m + 2 * k + 2 * v;
    let block = if mode.legacy_prf {
        legacy_prf(master, b"key expansion", &seed, len)?
    } else {
        prf(suite.hash, master, b"key expansion", &seed, len)?
    };
    let (mac_c, rest) = block.split_at(m);
    let (mac_s, rest) = rest.split_at(m);
    let (key_c, rest) = rest.split_at(k);
    let (key_s, rest) = rest.split_at(k);
    let (iv_c, iv_s) = rest.split_at(v);
    if m > 0 {
        return Some((
            Opener::cbc(suite, key_c, mac_c, iv_c, mode)?,
            Opener::cbc(suite, key_s, mac_s, iv_s, mode)?,
        ));
    }
    Some((
        Opener::tls12(suite, key_c, iv_c)?,
        Opener::tls12(suite, key_s, iv_s)?,
    ))
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
