//! Kerberos encryption as Active Directory and MIT speak it by default: the simplified profile
//! (RFC 3961) with AES-CTS and HMAC-SHA1-96 (RFC 3962, etypes 17 and 18): string-to-key
//! (PBKDF2), key derivation (n-fold, DK), encrypt/decrypt with confounder and HMAC, the keyed
//! checksums, and the GSS-API Wrap and MIC tokens of RFC 4121 4.2.6. No I/O; keys are zeroized
//! when dropped.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256, Block};
use hmac::{Hmac, Mac};
use rdp_proto::kerberos::EType;
use sha1::Sha1;
use zeroize::Zeroizing;

/// A protocol key of an AES etype (16 or 32 bytes).
#[derive(Clone)]
pub struct Key {
    pub etype: EType,
    bytes: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("etype", &self.etype)
            .finish_non_exhaustive()
    }
}

/// Key usage numbers (RFC 4120 7.5.1, RFC 4121 2).
pub mod usage {
    pub const AS_REQ_PA_ENC_TIMESTAMP: u32 = 1;
    pub const AS_REP_ENC_PART: u32 = 3;
    pub const TGS_REQ_AUTH_CKSUM: u32 = 6;
    pub const TGS_REQ_AUTHENTICATOR: u32 = 7;
    pub const TGS_REP_ENC_PART_SESSION: u32 = 8;
    pub const TGS_REP_ENC_PART_SUBKEY: u32 = 9;
    pub const AP_REQ_AUTHENTICATOR: u32 = 11;
    pub const AP_REP_ENC_PART: u32 = 12;
    pub const ACCEPTOR_SEAL: u32 = 22;
    pub const ACCEPTOR_SIGN: u32 = 23;
    pub const INITIATOR_SEAL: u32 = 24;
    pub const INITIATOR_SIGN: u32 = 25;
}

/// Why an encrypted part does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption type {0} is not supported (only AES with HMAC-SHA1-96)")]
    Unsupported(i32),
    #[error("the ciphertext is too short")]
    Short,
    #[error("the integrity check failed (wrong key)")]
    Integrity,
    /// The KDC's s2kparams ask for a PBKDF2 iteration count rdprobe will not spend (0, or
    /// above [`MAX_ITERATIONS`]: the work is synchronous, outside any deadline).
    #[error("the KDC asks for {0} PBKDF2 iterations (rdprobe does 1 to 65536; Windows and MIT use 4096)")]
    Iterations(u32),
}

/// The most PBKDF2 iterations string-to-key does (16 times the RFC 3962 default of 4096).
pub const MAX_ITERATIONS: u32 = 1 << 16;

const HMAC_LEN: usize = 12;
const BLOCK: usize = 16;

fn key_len(e: EType) -> Option<usize> {
    match e {
        EType::AES128_CTS_HMAC_SHA1_96 => Some(16),
        EType::AES256_CTS_HMAC_SHA1_96 => Some(32),
        _ => None,
    }
}

/// The etypes rdprobe can use, most preferred first.
pub const SUPPORTED: [EType; 2] = [
    EType::AES256_CTS_HMAC_SHA1_96,
    EType::AES128_CTS_HMAC_SHA1_96,
];

enum Cipher {
    A128(Box<Aes128>),
    A256(Box<Aes256>),
}

impl Cipher {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128::new_from_slice(key)
                .ok()
                .map(|c| Self::A128(Box::new(c))),
            32 => Aes256::new_from_slice(key)
                .ok()
                .map(|c| Self::A256(Box::new(c))),
            _ => None,
        }
    }

    fn encrypt(&self, b: &mut [u8; BLOCK]) {
        let blk = Block::from_mut_slice(b);
        match self {
            Self::A128(c) => c.encrypt_block(blk),
            Self::A256(c) => c.encrypt_block(blk),
        }
    }

    fn decrypt(&self, b: &mut [u8; BLOCK]) {
        let blk = Block::from_mut_slice(b);
        match self {
            Self::A128(c) => c.decrypt_block(blk),
            Self::A256(c) => c.decrypt_block(blk),
        }
    }
}

/// n-fold (RFC 3961 5.1): `input` stretched or folded to `n` bytes.
pub fn nfold(input: &[u8], n: usize) -> Vec<u8> {
    let k = input.len();
    if k == 0 || n == 0 {
        return vec![0; n];
    }
    let lcm = k * n / gcd(k, n);
    // The input rotated right by 13 bits per copy, concatenated to lcm bytes, then added in
    // n-byte chunks with end-around carry.
    let bits = k * 8;
    let mut buf = vec![0u8; lcm];
    for (copy, chunk) in buf.chunks_mut(k).enumerate() {
        let rot = (13 * copy) % bits;
        for (j, out) in chunk.iter_mut().enumerate() {
            // Bit b of the rotated string is bit (b - rot) of the input.
            let mut byte = 0u8;
            for bit in 0..8 {
                let dst = j * 8 + bit;
                let src = (dst + bits - rot) % bits;
                let v = (input[src / 8] >> (7 - src % 8)) & 1;
                byte |= v << (7 - bit);
            }
            *out = byte;
        }
    }
    let mut acc = vec![0u32; n];
    for chunk in buf.chunks(n) {
        for (a, b) in acc.iter_mut().zip(chunk) {
            *a += u32::from(*b);
        }
    }
    // End-around carry, repeated until none is left.
    loop {
        let mut carry = 0u32;
        for a in acc.iter_mut().rev() {
            let v = *a + carry;
            *a = v & 0xFF;
            carry = v >> 8;
        }
        if carry == 0 {
            break;
        }
        if let Some(last) = acc.last_mut() {
            *last += carry;
        }
    }
    acc.into_iter().map(|a| a as u8).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// DK(key, constant) (RFC 3961 5.1, with the AES random-to-key identity).
fn derive(key: &[u8], constant: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(key.len()));
    let Some(c) = Cipher::new(key) else {
        return out;
    };
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(&nfold(constant, BLOCK));
    while out.len() < key.len() {
        c.encrypt(&mut block);
        out.extend_from_slice(&block);
    }
    out.truncate(key.len());
    out
}

fn usage_constant(usage: u32, kind: u8) -> [u8; 5] {
    let u = usage.to_be_bytes();
    [u[0], u[1], u[2], u[3], kind]
}

impl Key {
    /// A key from its bytes (a session key from the KDC); None for an etype rdprobe does not
    /// speak or a wrong length.
    pub fn new(etype: EType, bytes: &[u8]) -> Option<Self> {
        (key_len(etype)? == bytes.len()).then(|| Self {
            etype,
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// string-to-key (RFC 3962 4): PBKDF2-HMAC-SHA1 of the password and salt, then DK with
    /// "kerberos". `s2kparams`: the iteration count, 4 bytes big-endian (default 4096).
    pub fn from_password(
        etype: EType,
        password: &str,
        salt: &str,
        s2kparams: Option<&[u8]>,
    ) -> Result<Self, CryptoError> {
        let len = key_len(etype).ok_or(CryptoError::Unsupported(etype.0))?;
        let iterations = match s2kparams {
            Some([a, b, c, d]) => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 4096,
        };
        // Bounded: a hostile KDC could ask for billions of rounds.
        if !(1..=MAX_ITERATIONS).contains(&iterations) {
            return Err(CryptoError::Iterations(iterations));
        }
        let mut tkey = Zeroizing::new(vec![0u8; len]);
        pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt.as_bytes(), iterations, &mut tkey);
        Ok(Self {
            etype,
            bytes: derive(&tkey, b"kerberos"),
        })
    }

    /// The key's bytes (to put in an Authenticator's subkey).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// encrypt (RFC 3961 5.3): confounder + plaintext under AES-CTS with Ke, then
    /// HMAC-SHA1-96 over them with Ki.
    pub fn encrypt(&self, usage: u32, confounder: [u8; 16], plain: &[u8]) -> Vec<u8> {
        let ke = derive(&self.bytes, &usage_constant(usage, 0xAA));
        let ki = derive(&self.bytes, &usage_constant(usage, 0x55));
        let mut data = Zeroizing::new(Vec::with_capacity(16 + plain.len()));
        data.extend_from_slice(&confounder);
        data.extend_from_slice(plain);
        let mut out = cts_encrypt(&ke, &data);
        out.extend_from_slice(&hmac_sha1(&ki, &data)[..HMAC_LEN]);
        out
    }

    /// decrypt (RFC 3961 5.3): the plaintext without its confounder, or why not.
    pub fn decrypt(&self, usage: u32, cipher: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if cipher.len() < BLOCK + HMAC_LEN {
            return Err(CryptoError::Short);
        }
        let (body, mac) = cipher.split_at(cipher.len() - HMAC_LEN);
        let ke = derive(&self.bytes, &usage_constant(usage, 0xAA));
        let ki = derive(&self.bytes, &usage_constant(usage, 0x55));
        // The plaintext (a session key, the TSCredentials) is wiped with the buffer.
        let data = Zeroizing::new(cts_decrypt(&ke, body));
        let expected = hmac_sha1(&ki, &data);
        if !constant_eq(&expected[..HMAC_LEN], mac) {
            return Err(CryptoError::Integrity);
        }
        Ok(Zeroizing::new(data[BLOCK..].to_vec()))
    }

    /// The keyed checksum hmac-sha1-96-aes128/256 (RFC 3962: types 15, 16) with Kc.
    pub fn checksum(&self, usage: u32, data: &[u8]) -> [u8; HMAC_LEN] {
        let kc = derive(&self.bytes, &usage_constant(usage, 0x99));
        let mut out = [0u8; HMAC_LEN];
        out.copy_from_slice(&hmac_sha1(&kc, data)[..HMAC_LEN]);
        out
    }

    /// The checksum type that goes with this key's etype.
    pub fn checksum_type(&self) -> i32 {
        match self.etype {
            EType::AES128_CTS_HMAC_SHA1_96 => 15,
            _ => 16,
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let Ok(mut m) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
        return [0; 20];
    };
    m.update(data);
    m.finalize().into_bytes().into()
}

/// AES-CBC with ciphertext stealing, IV zero (RFC 3962 5: the last two blocks swapped).
fn cts_encrypt(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Some(c) = Cipher::new(key) else {
        return Vec::new();
    };
    let n = data.len();
    if n <= BLOCK {
        let mut b = [0u8; BLOCK];
        b[..n].copy_from_slice(data);
        c.encrypt(&mut b);
        return b[..n].to_vec();
    }
    let mut out = Vec::with_capacity(n.div_ceil(BLOCK) * BLOCK);
    let mut prev = [0u8; BLOCK];
    for chunk in data.chunks(BLOCK) {
        let mut b = [0u8; BLOCK];
        b[..chunk.len()].copy_from_slice(chunk);
        for (x, p) in b.iter_mut().zip(prev) {
            *x ^= p;
        }
        c.encrypt(&mut b);
        out.extend_from_slice(&b);
        prev = b;
    }
    // Swap the last two blocks; cut the (now last) one to the length of the last input chunk.
    let blocks = out.len() / BLOCK;
    let last_len = n - (blocks - 1) * BLOCK;
    let (a, b) = out[(blocks - 2) * BLOCK..].split_at_mut(BLOCK);
    a.swap_with_slice(b);
    out.truncate((blocks - 1) * BLOCK + last_len);
    out
}

fn cts_decrypt(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Some(c) = Cipher::new(key) else {
        return Vec::new();
    };
    let n = data.len();
    if n <= BLOCK {
        let mut b = [0u8; BLOCK];
        b[..n].copy_from_slice(data);
        c.decrypt(&mut b);
        return b[..n].to_vec();
    }
    let blocks = n.div_ceil(BLOCK);
    let last_len = n - (blocks - 1) * BLOCK;
    let mut out = Vec::with_capacity(n);
    let mut prev = [0u8; BLOCK];
    // Plain CBC up to the last two blocks.
    for chunk in data[..(blocks - 2) * BLOCK].chunks(BLOCK) {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(chunk);
        let cur = b;
        c.decrypt(&mut b);
        for (x, p) in b.iter_mut().zip(prev) {
            *x ^= p;
        }
        out.extend_from_slice(&b);
        prev = cur;
    }
    // The sent order is C(n) then the cut C(n-1).
    let cn_start = (blocks - 2) * BLOCK;
    let mut cn = [0u8; BLOCK];
    cn.copy_from_slice(&data[cn_start..cn_start + BLOCK]);
    let cut = &data[cn_start + BLOCK..];
    let mut dn = cn;
    c.decrypt(&mut dn);
    // C(n-1) whole: the cut bytes, then the tail of D(n).
    let mut cn1 = dn;
    cn1[..last_len].copy_from_slice(cut);
    let last: Vec<u8> = dn[..last_len].iter().zip(cut).map(|(d, c)| d ^ c).collect();
    let mut pn1 = cn1;
    c.decrypt(&mut pn1);
    for (x, p) in pn1.iter_mut().zip(prev) {
        *x ^= p;
    }
    out.extend_from_slice(&pn1);
    out.extend_from_slice(&last);
    out
}

/// RFC 4121 4.2.6 token flags.
pub mod flags {
    pub const SENT_BY_ACCEPTOR: u8 = 0x01;
    pub const SEALED: u8 = 0x02;
    pub const ACCEPTOR_SUBKEY: u8 = 0x04;
}

/// Wrap (RFC 4121 4.2.6.2) with confidentiality, as the initiator: header, then the encrypted
/// plaintext + header copy (EC 0, RRC 0).
pub fn wrap(
    key: &Key,
    acceptor_subkey: bool,
    seq: u64,
    confounder: [u8; 16],
    plain: &[u8],
) -> Vec<u8> {
    let f = flags::SEALED
        | if acceptor_subkey {
            flags::ACCEPTOR_SUBKEY
        } else {
            0
        };
    let header = wrap_header(f, 0, 0, seq);
    let mut data = Zeroizing::new(plain.to_vec());
    data.extend_from_slice(&header);
    let mut out = header.to_vec();
    out.extend_from_slice(&key.encrypt(usage::INITIATOR_SEAL, confounder, &data));
    out
}

fn wrap_header(flags: u8, ec: u16, rrc: u16, seq: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = 0x05;
    h[1] = 0x04;
    h[2] = flags;
    h[3] = 0xFF;
    h[4..6].copy_from_slice(&ec.to_be_bytes());
    h[6..8].copy_from_slice(&rrc.to_be_bytes());
    h[8..].copy_from_slice(&seq.to_be_bytes());
    h
}

/// Why a Wrap token from the acceptor does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    #[error("not a sealed RFC 4121 Wrap token from the acceptor")]
    NotWrap,
    #[error("{0}")]
    Crypto(#[from] CryptoError),
    #[error("the encrypted header copy does not match the header")]
    Header,
}

/// Unwrap (RFC 4121 4.2.6.2) a sealed token from the acceptor: rotation undone, decrypted,
/// the header copy checked; the plaintext.
pub fn unwrap(key: &Key, token: &[u8]) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
    if token.len() < 16 || token[..2] != [0x05, 0x04] || token[3] != 0xFF {
        return Err(UnwrapError::NotWrap);
    }
    let f = token[2];
    if f & flags::SENT_BY_ACCEPTOR == 0 || f & flags::SEALED == 0 {
        return Err(UnwrapError::NotWrap);
    }
    let ec = usize::from(u16::from_be_bytes([token[4], token[5]]));
    let rrc = usize::from(u16::from_be_bytes([token[6], token[7]]));
    let mut body = token[16..].to_vec();
    if !body.is_empty() {
        let r = rrc % body.len();
        body.rotate_left(r);
    }
    let plain = key.decrypt(usage::ACCEPTOR_SEAL, &body)?;
    if plain.len() < 16 + ec {
        return Err(UnwrapError::Crypto(CryptoError::Short));
    }
    let (data, copy) = plain.split_at(plain.len() - 16);
    // The copy has RRC 0; the rest equals the header.
    if copy[..6] != token[..6] || copy[8..] != token[8..16] {
        return Err(UnwrapError::Header);
    }
    Ok(Zeroizing::new(data[..data.len() - ec].to_vec()))
}

/// A MIC token (RFC 4121 4.2.6.1) as the initiator, over `message`.
pub fn get_mic(key: &Key, acceptor_subkey: bool, seq: u64, message: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 16];
    h[0] = 0x04;
    h[1] = 0x04;
    h[2] = if acceptor_subkey {
        flags::ACCEPTOR_SUBKEY
    } else {
        0
    };
    h[3..8].fill(0xFF);
    h[8..].copy_from_slice(&seq.to_be_bytes());
    let mut data = message.to_vec();
    data.extend_from_slice(&h);
    let mut out = h.to_vec();
    out.extend_from_slice(&key.checksum(usage::INITIATOR_SIGN, &data));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// RFC 3961 A.1.
    #[test]
    fn nfold_vectors() {
        assert_eq!(nfold(b"012345", 8), hex("be072631276b1955"));
        assert_eq!(nfold(b"password", 7), hex("78a07b6caf85fa"));
        assert_eq!(
            nfold(b"Rough Consensus, and Running Code", 8),
            hex("bb6ed30870b7f0e0")
        );
        assert_eq!(
            nfold(b"password", 21),
            hex("59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e")
        );
        assert_eq!(
            nfold(b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 24),
            hex("db3b0d8f0b061e603282b308a50841229ad798fab9540c1b")
        );
        assert_eq!(nfold(b"kerberos", 8), hex("6b65726265726f73"));
        assert_eq!(
            nfold(b"kerberos", 16),
            hex("6b65726265726f737b9b5b2b93132b93")
        );
    }

    /// RFC 3962 B: string-to-key, 1 iteration and 1200.
    #[test]
    fn string_to_key_vectors() {
        let k = Key::from_password(
            EType::AES128_CTS_HMAC_SHA1_96,
            "password",
            "ATHENA.MIT.EDUraeburn",
            Some(&1u32.to_be_bytes()),
        )
        .unwrap();
        assert_eq!(k.bytes(), hex("42263c6e89f4fc28b8df68ee09799f15"));
        let k = Key::from_password(
            EType::AES256_CTS_HMAC_SHA1_96,
            "password",
            "ATHENA.MIT.EDUraeburn",
            Some(&1u32.to_be_bytes()),
        )
        .unwrap();
        assert_eq!(
            k.bytes(),
            hex("fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161")
        );
        let k = Key::from_password(
            EType::AES256_CTS_HMAC_SHA1_96,
            "password",
            "ATHENA.MIT.EDUraeburn",
            Some(&1200u32.to_be_bytes()),
        )
        .unwrap();
        assert_eq!(
            k.bytes(),
            hex("55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a")
        );
    }

    #[test]
    fn a_hostile_iteration_count_is_refused() {
        let at = |n: u32| {
            Key::from_password(
                EType::AES256_CTS_HMAC_SHA1_96,
                "p",
                "s",
                Some(&n.to_be_bytes()),
            )
        };
        assert_eq!(at(0).err(), Some(CryptoError::Iterations(0)));
        assert_eq!(at(u32::MAX).err(), Some(CryptoError::Iterations(u32::MAX)));
        assert!(at(MAX_ITERATIONS).is_ok());
    }

    #[test]
    fn encrypt_decrypt_round_trip_every_length() {
        let key = Key::new(EType::AES256_CTS_HMAC_SHA1_96, &[7u8; 32]).unwrap();
        for len in 0..70 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let c = key.encrypt(3, [9; 16], &plain);
            assert_eq!(c.len(), 16 + len + 12);
            assert_eq!(&key.decrypt(3, &c).unwrap()[..], &plain[..], "len {len}");
            assert_eq!(key.decrypt(4, &c), Err(CryptoError::Integrity));
        }
    }

    /// RFC 3962 B's CTS vectors (key "chicken teriyaki", IV zero) for the cipher mode alone.
    #[test]
    fn cts_vectors() {
        let key = b"chicken teriyaki";
        let input = b"I would like the General Gau's Chicken, please, and wonton soup.";
        let cases = [
            (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
            (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
            (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
            (
                47,
                "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
            ),
            (
                64,
                "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
            ),
        ];
        for (n, expected) in cases {
            let c = cts_encrypt(key, &input[..n]);
            assert_eq!(c, hex(expected), "len {n}");
            assert_eq!(cts_decrypt(key, &c), &input[..n]);
        }
    }
}
