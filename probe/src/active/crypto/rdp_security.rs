//! Standard RDP Security (MS-RDPBCGR 5.3): the Security Exchange PDU's encrypted client random
//! (5.3.4), the session keys (5.3.5: RC4 with 40, 56 or 128-bit keys and MD5/SHA-1 MACs, or FIPS
//! 3DES-CBC with HMAC-SHA1), the key update every 4,096 packets (5.3.6.1), and the security
//! headers that carry them (2.2.8.1.1.2). Sans-IO: the walk seals what it sends and opens what
//! it reads; the ciphers are RustCrypto's (`rc4`, `des` + `cbc`, `md-5`, `sha1`, `hmac`).

use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit, StreamCipher};
use des::TdesEde3;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rc4::consts::{U16, U8};
use rc4::Rc4;
use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::slowpath::SecurityFlags;

pub use crate::facts::gcc::RsaKey;
use sha1::Sha1;

/// pad1 and pad2 of the MAC (5.3.6.1.1): 40 bytes of 0x36, 48 bytes of 0x5C.
const PAD1: [u8; 40] = [0x36; 40];
const PAD2: [u8; 48] = [0x5C; 48];
/// The salt that reduces a 128-bit key to 40 bits (3 bytes) or 56 bits (1 byte) (5.3.5.1).
const SALT: [u8; 3] = [0xD1, 0x26, 0x9E];
/// The FIPS ciphers' initialization vector (5.3.5.2).
const FIPS_IV: [u8; 8] = [0x12, 0x34, 0x56, 0x78, 0x90, 0xAB, 0xCD, 0xEF];
/// RC4 keys are updated after this many packets (5.3.6.1).
const KEY_UPDATE_AFTER: u32 = 4096;

/// Which end of the connection the keys are for: a client encrypts with what the server
/// decrypts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// RSA as RDP uses it (5.3.4.2): the little-endian `data` raised to the exponent modulo the
/// modulus, written little-endian over the modulus field's length (its 8 bytes of zero
/// padding included). None for a key shorter than 256 or longer than 8,192 bits (a hostile
/// server's giant modulus would make this slow), or data that does not fit.
pub fn rsa_encrypt(key: &RsaKey, data: &[u8]) -> Option<Vec<u8>> {
    use num_bigint::BigUint;
    let n = BigUint::from_bytes_le(&key.modulus_le);
    if n.bits() < 256 || n.bits() > 8192 || data.len() + 8 > key.modulus_le.len() {
        return None;
    }
    let c = BigUint::from_bytes_le(data).modpow(&BigUint::from(key.exponent), &n);
    let mut out = c.to_bytes_le();
    out.resize(key.modulus_le.len(), 0);
    Some(out)
}

/// The Security Exchange PDU's data (TS_SECURITY_PACKET, 2.2.1.10.1 after the MCS header): the
/// basic security header with SEC_EXCHANGE_PKT, the length, the encrypted client random.
pub fn security_exchange(encrypted_random: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + encrypted_random.len());
    out.extend(SecurityFlags::SEC_EXCHANGE_PKT.bits().to_le_bytes());
    out.extend([0, 0]);
    out.extend(
        u32::try_from(encrypted_random.len())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    out.extend_from_slice(encrypted_random);
    out
}

/// An RC4 key of 8 bytes (40 and 56-bit keys) or 16 (128-bit).
enum Rc4State {
    Short(Rc4<U8>),
    Long(Rc4<U16>),
}

impl Rc4State {
    fn new(key: &[u8]) -> Self {
        if key.len() == 8 {
            Self::Short(Rc4::new(key.into()))
        } else {
            Self::Long(Rc4::new(key[..16].into()))
        }
    }

    fn apply(&mut self, data: &mut [u8]) {
        match self {
            Self::Short(c) => c.apply_keystream(data),
            Self::Long(c) => c.apply_keystream(data),
        }
    }
}

/// One direction's RC4 key: the initial key (for updates), the current key and its cipher.
struct Rc4Direction {
    initial: [u8; 16],
    current: [u8; 16],
    cipher: Rc4State,
    /// Packets since the last key update.
    used: u32,
}

impl Rc4Direction {
    fn new(key: [u8; 16], len: usize) -> Self {
        Self {
            initial: key,
            current: key,
            cipher: Rc4State::new(&key[..len]),
            used: 0,
        }
    }

    /// Applies the key stream, updating the key first after 4,096 packets (5.3.6.1).
    fn apply(&mut self, data: &mut [u8], method: EncryptionMethods, len: usize) {
        if self.used >= KEY_UPDATE_AFTER {
            let mut sha = Sha1::new();
            sha.update(&self.initial[..len]);
            sha.update(PAD1);
            sha.update(&self.current[..len]);
            let mut md5 = Md5::new();
            md5.update(&self.initial[..len]);
            md5.update(PAD2);
            md5.update(sha.finalize());
            let mut key: [u8; 16] = md5.finalize().into();
            Rc4State::new(&key[..len]).apply(&mut key[..len]);
            reduce(&mut key, method);
            self.current = key;
            self.cipher = Rc4State::new(&key[..len]);
            self.used = 0;
        }
        self.cipher.apply(data);
        self.used += 1;
    }
}

/// The 40 and 56-bit keys keep the salt's first bytes (5.3.5.1).
fn reduce(key: &mut [u8; 16], method: EncryptionMethods) {
    if method == EncryptionMethods::ENCRYPTION_METHOD_40BIT {
        key[..3].copy_from_slice(&SALT);
    } else if method == EncryptionMethods::ENCRYPTION_METHOD_56BIT {
        key[0] = SALT[0];
    }
}

enum Keys {
    Rc4 {
        mac_key: [u8; 16],
        len: usize,
        encrypt: Rc4Direction,
        decrypt: Rc4Direction,
    },
    Fips {
        sign_key: [u8; 20],
        encrypt: cbc::Encryptor<TdesEde3>,
        decrypt: cbc::Decryptor<TdesEde3>,
    },
}

/// The session keys of one end, and the packet counts the salted MACs use.
pub struct Session {
    method: EncryptionMethods,
    keys: Keys,
    encrypted: u32,
    decrypted: u32,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the keys.
        f.debug_struct("Session")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Why a server PDU could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than its security header.
    Truncated,
    /// FIPS: the data is not whole 8-byte blocks, or the padding is longer than the data.
    BadLength,
    /// The MAC does not match: the keys are not the server's.
    BadMac,
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "shorter than its security header",
            Self::BadLength => "FIPS data not in whole blocks",
            Self::BadMac => "MAC does not match (session keys not the server's)",
        })
    }
}

/// SaltedHash(S, I) = MD5(S + SHA(I + S + ClientRandom + ServerRandom)) (5.3.5.1).
pub(super) fn salted_hash(s: &[u8], i: &[u8], client: &[u8; 32], server: &[u8; 32]) -> [u8; 16] {
    let mut sha = Sha1::new();
    sha.update(i);
    sha.update(s);
    sha.update(client);
    sha.update(server);
    let mut md5 = Md5::new();
    md5.update(s);
    md5.update(sha.finalize());
    md5.finalize().into()
}

/// Three salted hashes of `s`, with `letter` once, the next letter twice, the one after three
/// times (A, BB, CCC or X, YY, ZZZ), concatenated.
pub(crate) fn triple(s: &[u8], letter: u8, client: &[u8; 32], server: &[u8; 32]) -> [u8; 48] {
    let mut out = [0u8; 48];
    for n in 0..3 {
        let i = [letter + n as u8; 3];
        out[n * 16..n * 16 + 16].copy_from_slice(&salted_hash(s, &i[..=n], client, server));
    }
    out
}

/// MD5(MACKey + pad2 + SHA(MACKey + pad1 + length + data [+ count])) (5.3.6.1.1): the MAC's
/// whole digest; RDP PDUs carry its first 8 bytes, licensing messages all 16 (MS-RDPELE 5.1.6).
pub(crate) fn mac_digest(mac_key: &[u8], data: &[u8], salted: Option<u32>) -> [u8; 16] {
    let mut sha = Sha1::new();
    sha.update(mac_key);
    sha.update(PAD1);
    sha.update(u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    sha.update(data);
    if let Some(count) = salted {
        sha.update(count.to_le_bytes());
    }
    let mut md5 = Md5::new();
    md5.update(mac_key);
    md5.update(PAD2);
    md5.update(sha.finalize());
    md5.finalize().into()
}

/// FinalHash(K) = MD5(K + ClientRandom + ServerRandom) (5.3.5.1).
pub(crate) fn final_hash(k: &[u8], client: &[u8; 32], server: &[u8; 32]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(k);
    md5.update(client);
    md5.update(server);
    md5.finalize().into()
}

/// A 168-bit FIPS key spread over 24 bytes, 7 bits each with the eighth the odd parity bit, as
/// MS-RDPBCGR 5.3.5.2 and every implementation do it: read the key as a stream of bits, least
/// significant bit of each byte first.
fn fips_expand(key: &[u8; 21]) -> [u8; 24] {
    let bit = |n: usize| (key[n / 8] >> (n % 8)) & 1;
    core::array::from_fn(|i| {
        let c = (0..7).fold(0u8, |c, j| c | (bit(i * 7 + j) << j));
        // The low bit is DES's parity bit: odd parity.
        (c & 0xFE) | u8::from((c & 0xFE).count_ones() % 2 == 0)
    })
}

impl Session {
    /// The keys of `role` for `method` (one of 40, 56, 128-bit or FIPS; None for anything
    /// else) from the two randoms.
    pub fn new(
        role: Role,
        method: EncryptionMethods,
        client: &[u8; 32],
        server: &[u8; 32],
    ) -> Option<Self> {
        let keys = if method == EncryptionMethods::ENCRYPTION_METHOD_FIPS {
            let sha = |a: &[u8], b: &[u8]| -> [u8; 21] {
                let mut h = Sha1::new();
                h.update(a);
                h.update(b);
                let d: [u8; 20] = h.finalize().into();
                let mut t = [0u8; 21];
                t[..20].copy_from_slice(&d);
                t[20] = d[0];
                t
            };
            let client_encrypt = sha(&client[16..], &server[16..]);
            let client_decrypt = sha(&client[..16], &server[..16]);
            let mut h = Sha1::new();
            h.update(&client_decrypt[..20]);
            h.update(&client_encrypt[..20]);
            let sign_key: [u8; 20] = h.finalize().into();
            let (enc, dec) = match role {
                Role::Client => (client_encrypt, client_decrypt),
                Role::Server => (client_decrypt, client_encrypt),
            };
            Keys::Fips {
                sign_key,
                encrypt: cbc::Encryptor::new(&fips_expand(&enc).into(), &FIPS_IV.into()),
                decrypt: cbc::Decryptor::new(&fips_expand(&dec).into(), &FIPS_IV.into()),
            }
        } else {
            let len = if method == EncryptionMethods::ENCRYPTION_METHOD_128BIT {
                16
            } else if method == EncryptionMethods::ENCRYPTION_METHOD_40BIT
                || method == EncryptionMethods::ENCRYPTION_METHOD_56BIT
            {
                8
            } else {
                return None;
            };
            let mut premaster = [0u8; 48];
            premaster[..24].copy_from_slice(&client[..24]);
            premaster[24..].copy_from_slice(&server[..24]);
            let master = triple(&premaster, b'A', client, server);
            let blob = triple(&master, b'X', client, server);
            let mut mac_key = [0u8; 16];
            mac_key.copy_from_slice(&blob[..16]);
            let mut server_encrypt = final_hash(&blob[16..32], client, server);
            let mut client_encrypt = final_hash(&blob[32..48], client, server);
            for k in [&mut mac_key, &mut server_encrypt, &mut client_encrypt] {
                reduce(k, method);
            }
            let (enc, dec) = match role {
                Role::Client => (client_encrypt, server_encrypt),
                Role::Server => (server_encrypt, client_encrypt),
            };
            Keys::Rc4 {
                mac_key,
                len,
                encrypt: Rc4Direction::new(enc, len),
                decrypt: Rc4Direction::new(dec, len),
            }
        };
        Some(Self {
            method,
            keys,
            encrypted: 0,
            decrypted: 0,
        })
    }

    pub fn method(&self) -> EncryptionMethods {
        self.method
    }

    /// The non-FIPS MAC (5.3.6.1.1), salted with the packet count (5.3.6.1.2) when `salted`.
    fn mac(mac_key: &[u8], data: &[u8], salted: Option<u32>) -> [u8; 8] {
        let d = mac_digest(mac_key, data, salted);
        let mut out = [0u8; 8];
        out.copy_from_slice(&d[..8]);
        out
    }

    fn hmac(sign_key: &[u8; 20], data: &[u8], count: u32) -> [u8; 8] {
        let Ok(mut h) = <Hmac<Sha1> as Mac>::new_from_slice(sign_key) else {
            return [0; 8];
        };
        h.update(data);
        h.update(&count.to_le_bytes());
        let d = h.finalize().into_bytes();
        let mut out = [0u8; 8];
        out.copy_from_slice(&d[..8]);
        out
    }

    /// `data` behind a security header with `flags` and SEC_ENCRYPT: the Non-FIPS header
    /// (plain MAC) or the FIPS header, then the encrypted data.
    pub fn seal(&mut self, flags: SecurityFlags, data: &[u8]) -> Vec<u8> {
        let flags = (flags | SecurityFlags::SEC_ENCRYPT).bits().to_le_bytes();
        let mut out = Vec::with_capacity(data.len() + 24);
        out.extend(flags);
        out.extend([0, 0]);
        match &mut self.keys {
            Keys::Rc4 {
                mac_key,
                len,
                encrypt,
                ..
            } => {
                out.extend(Self::mac(&mac_key[..*len], data, None));
                let start = out.len();
                out.extend_from_slice(data);
                encrypt.apply(&mut out[start..], self.method, *len);
            }
            Keys::Fips {
                sign_key, encrypt, ..
            } => {
                let pad = (8 - data.len() % 8) % 8;
                out.extend(0x10u16.to_le_bytes());
                out.push(1); // TSFIPS_VERSION1
                out.push(pad as u8);
                out.extend(Self::hmac(sign_key, data, self.encrypted));
                let start = out.len();
                out.extend_from_slice(data);
                out.extend(core::iter::repeat_n(0, pad));
                for block in out[start..].chunks_exact_mut(8) {
                    encrypt.encrypt_block_mut(block.into());
                }
            }
        }
        self.encrypted = self.encrypted.wrapping_add(1);
        out
    }

    /// Decrypts what follows a security header whose flags carried SEC_ENCRYPT (`rest`: the
    /// MAC, or the FIPS length, version, padlen and MAC, then the data) and checks the MAC
    /// (salted when `salted`: SEC_SECURE_CHECKSUM). Returns the plain data.
    pub fn open(&mut self, rest: &[u8], salted: bool) -> Result<Vec<u8>, OpenError> {
        let count = self.decrypted;
        self.decrypted = self.decrypted.wrapping_add(1);
        match &mut self.keys {
            Keys::Rc4 {
                mac_key,
                len,
                decrypt,
                ..
            } => {
                let (mac, data) = rest.split_at_checked(8).ok_or(OpenError::Truncated)?;
                let mut plain = data.to_vec();
                decrypt.apply(&mut plain, self.method, *len);
                let want = Self::mac(&mac_key[..*len], &plain, salted.then_some(count));
                if want != mac {
                    return Err(OpenError::BadMac);
                }
                Ok(plain)
            }
            Keys::Fips {
                sign_key, decrypt, ..
            } => {
                let (head, data) = rest.split_at_checked(12).ok_or(OpenError::Truncated)?;
                let pad = usize::from(head[3]);
                if data.len() % 8 != 0 || pad > data.len() || pad > 7 {
                    return Err(OpenError::BadLength);
                }
                let mut plain = data.to_vec();
                for block in plain.chunks_exact_mut(8) {
                    decrypt.decrypt_block_mut(block.into());
                }
                plain.truncate(plain.len() - pad);
                if Self::hmac(sign_key, &plain, count) != head[4..12] {
                    return Err(OpenError::BadMac);
                }
                Ok(plain)
            }
        }
    }

    /// The FIPS header's fixed fields before the MAC (length, version, padlen): 4 bytes; the
    /// RC4 header has none. What a fast-path PDU's `fipsInformation` holds.
    pub fn is_fips(&self) -> bool {
        matches!(self.keys, Keys::Fips { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FIPS expansion as FreeRDP and xrdp write it (reverse the bytes, take 7 bits at a
    /// time, reverse back, odd parity), to check ours against.
    fn expand_reference(key: &[u8; 21]) -> [u8; 24] {
        let buf: Vec<u8> = key.iter().map(|b| b.reverse_bits()).collect();
        let mut out = [0u8; 24];
        let mut b = 0;
        for o in &mut out {
            let (p, r) = (b / 8, b % 8);
            *o = if r <= 1 {
                (buf[p] << r) & 0xFE
            } else {
                ((buf[p] << r) | (buf[p + 1] >> (8 - r))) & 0xFE
            };
            b += 7;
        }
        out.map(|o| {
            let o = o.reverse_bits();
            (o & 0xFE) | u8::from((o & 0xFE).count_ones() % 2 == 0)
        })
    }

    #[test]
    fn fips_expansion_matches_the_reference() {
        for seed in 0u8..32 {
            let key: [u8; 21] = core::array::from_fn(|i| {
                (i as u8)
                    .wrapping_mul(37)
                    .wrapping_add(seed.wrapping_mul(11))
            });
            assert_eq!(fips_expand(&key), expand_reference(&key), "seed {seed}");
        }
    }

    fn pair(method: EncryptionMethods) -> (Session, Session) {
        let client: [u8; 32] = core::array::from_fn(|i| i as u8);
        let server: [u8; 32] = core::array::from_fn(|i| 0xA0 ^ i as u8);
        (
            Session::new(Role::Client, method, &client, &server).unwrap(),
            Session::new(Role::Server, method, &client, &server).unwrap(),
        )
    }

    #[test]
    fn what_one_end_seals_the_other_opens() {
        for m in [
            EncryptionMethods::ENCRYPTION_METHOD_40BIT,
            EncryptionMethods::ENCRYPTION_METHOD_56BIT,
            EncryptionMethods::ENCRYPTION_METHOD_128BIT,
            EncryptionMethods::ENCRYPTION_METHOD_FIPS,
        ] {
            let (mut c, mut s) = pair(m);
            // Past a key update, both ways.
            for n in 0..4100u32 {
                let msg = format!("packet {n} of {m:?}");
                let sealed = c.seal(SecurityFlags::empty(), msg.as_bytes());
                let hdr = rdp_proto::decode_prefix::<rdp_proto::slowpath::SecurityHeader>(&sealed)
                    .unwrap();
                assert!(hdr.1.flags.contains(SecurityFlags::SEC_ENCRYPT));
                assert_ne!(&sealed[sealed.len() - msg.len()..], msg.as_bytes());
                assert_eq!(s.open(hdr.0, false).unwrap(), msg.as_bytes(), "{m:?} {n}");
                if n % 1000 == 0 {
                    let back = s.seal(SecurityFlags::empty(), b"back");
                    assert_eq!(c.open(&back[4..], false).unwrap(), b"back");
                }
            }
            // A flipped bit is caught by the MAC.
            let mut sealed = c.seal(SecurityFlags::empty(), b"tamper");
            let last = sealed.len() - 1;
            sealed[last] ^= 1;
            assert_eq!(s.open(&sealed[4..], false), Err(OpenError::BadMac));
        }
    }

    #[test]
    fn reduced_keys_keep_the_salt() {
        let client = [1u8; 32];
        let server = [2u8; 32];
        for (m, n) in [
            (EncryptionMethods::ENCRYPTION_METHOD_40BIT, 3),
            (EncryptionMethods::ENCRYPTION_METHOD_56BIT, 1),
        ] {
            let s = Session::new(Role::Client, m, &client, &server).unwrap();
            let Keys::Rc4 { mac_key, len, .. } = &s.keys else {
                panic!()
            };
            assert_eq!(*len, 8);
            assert_eq!(&mac_key[..n], &SALT[..n]);
        }
        assert!(Session::new(Role::Client, EncryptionMethods::empty(), &client, &server).is_none());
    }

    #[test]
    fn a_security_exchange_pdu() {
        let key = RsaKey::from_be(&[0xFF; 64], &[1, 0, 1]).unwrap();
        assert_eq!(key.exponent, 65537);
        assert_eq!(key.modulus_le.len(), 72);
        let enc = rsa_encrypt(&key, &[5; 32]).unwrap();
        assert_eq!(enc.len(), 72);
        let pdu = security_exchange(&enc);
        assert_eq!(&pdu[..8], &[1, 0, 0, 0, 72, 0, 0, 0]);
        assert!(rsa_encrypt(&RsaKey::from_be(&[0xFF; 16], &[3]).unwrap(), &[5; 32]).is_none());
        assert!(RsaKey::from_be(&[0xFF; 64], &[1, 0, 0, 0, 0]).is_none());
    }
}
