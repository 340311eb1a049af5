//! NTLMv2 as a CredSSP client uses it (MS-NLMP): the response keys and the NTLMv2 response
//! (3.3.2), the key exchange and the MIC (3.1.5.1.2), and the sealing of messages with extended
//! session security and key exchange (3.4.3, 3.4.4). Built on RustCrypto's MD4, MD5, HMAC and
//! RC4; tested on the MS-NLMP 4.2.4 vectors.

use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::{KeyInit, Rc4, StreamCipher};
use zeroize::Zeroizing;

type HmacMd5 = Hmac<Md5>;

/// UTF-16LE.
pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let Ok(mut h) = <HmacMd5 as Mac>::new_from_slice(key) else {
        return [0; 16];
    };
    for p in parts {
        h.update(p);
    }
    h.finalize().into_bytes().into()
}

/// NTOWFv2(Passwd, User, UserDom) = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) +
/// UserDom)) (3.3.2). The intermediate values are wiped.
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> Zeroizing<[u8; 16]> {
    let pw = Zeroizing::new(utf16(password));
    let nt: Zeroizing<[u8; 16]> = Zeroizing::new(Md4::digest(&*pw).into());
    let who = utf16(&(user.to_uppercase() + domain));
    Zeroizing::new(hmac_md5(&*nt, &[&who]))
}

/// What the client computes from the CHALLENGE (3.3.2).
pub struct Ntlmv2 {
    /// NtChallengeResponse: NTProofStr then the client challenge structure ("temp").
    pub nt_response: Vec<u8>,
    /// LmChallengeResponse (24 zero bytes when the server sent a timestamp).
    pub lm_response: [u8; 24],
    /// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr); with NTLMv2 it is the
    /// KeyExchangeKey.
    pub session_base_key: Zeroizing<[u8; 16]>,
}

impl Ntlmv2 {
    /// The response to `server_challenge` with `client_challenge`, the time (FILETIME) and the
    /// AV pairs sent back (`target_info`); `zero_lm` when the server's target info had a
    /// timestamp (the LM response is then Z(24)).
    pub fn compute(
        response_key: &[u8; 16],
        server_challenge: &[u8; 8],
        client_challenge: &[u8; 8],
        time: u64,
        target_info: &[u8],
        zero_lm: bool,
    ) -> Self {
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend(time.to_le_bytes());
        temp.extend(client_challenge);
        temp.extend([0; 4]);
        temp.extend(target_info);
        temp.extend([0; 4]);
        let proof = hmac_md5(response_key, &[server_challenge, &temp]);
        let mut nt_response = proof.to_vec();
        nt_response.extend(&temp);
        let mut lm_response = [0u8; 24];
        if !zero_lm {
            lm_response[..16].copy_from_slice(&hmac_md5(
                response_key,
                &[server_challenge, client_challenge],
            ));
            lm_response[16..].copy_from_slice(client_challenge);
        }
        Self {
            nt_response,
            lm_response,
            session_base_key: Zeroizing::new(hmac_md5(response_key, &[&proof])),
        }
    }
}

/// RC4 over `data` with `key` (a fresh key stream).
pub fn rc4(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    Rc4::<rc4::consts::U16>::new(key.into()).apply_keystream(&mut out);
    out
}

/// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE + AUTHENTICATE), the AUTHENTICATE
/// with its MIC field zero (3.1.5.1.2).
pub fn mic(
    exported: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    authenticate: &[u8],
) -> [u8; 16] {
    hmac_md5(exported, &[negotiate, challenge, authenticate])
}

/// Which way a key works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

fn magic(d: Direction, what: &str) -> String {
    let dir = match d {
        Direction::ClientToServer => "client-to-server",
        Direction::ServerToClient => "server-to-client",
    };
    format!("session key to {dir} {what} key magic constant\0")
}

/// One direction's sealing (extended session security, 128-bit, key exchange: 3.4.4.2): its
/// RC4 key stream runs across messages, its sequence number counts them.
pub struct Sealer {
    sign_key: Zeroizing<[u8; 16]>,
    rc4: Rc4<rc4::consts::U16>,
    seq: u32,
}

impl Sealer {
    /// SIGNKEY and SEALKEY of `d` from the exported session key (3.4.5.2, 3.4.5.3).
    pub fn new(exported: &[u8; 16], d: Direction) -> Self {
        let key = |what| -> [u8; 16] {
            let mut h = Md5::new();
            h.update(exported);
            h.update(magic(d, what).as_bytes());
            h.finalize().into()
        };
        let sign_key = Zeroizing::new(key("signing"));
        let seal_key = Zeroizing::new(key("sealing"));
        Self {
            sign_key,
            rc4: Rc4::new((&*seal_key).into()),
            seq: 0,
        }
    }

    /// SEAL (3.4.3): the message encrypted, and its 16-byte signature (version 1, the
    /// checksum, the sequence number). Returns signature then sealed message, as CredSSP sends
    /// them.
    pub fn seal(&mut self, message: &[u8]) -> Vec<u8> {
        let mut sealed = message.to_vec();
        self.rc4.apply_keystream(&mut sealed);
        let seq = self.seq.to_le_bytes();
        let digest = hmac_md5(&*self.sign_key, &[&seq, message]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&digest[..8]);
        self.rc4.apply_keystream(&mut checksum);
        self.seq = self.seq.wrapping_add(1);
        let mut out = vec![1, 0, 0, 0];
        out.extend(checksum);
        out.extend(seq);
        out.extend(sealed);
        out
    }

    /// UNSEAL: `signed` is signature then sealed message; the message if the signature holds.
    pub fn unseal(&mut self, signed: &[u8]) -> Option<Vec<u8>> {
        let (sig, sealed) = signed.split_at_checked(16)?;
        let mut message = sealed.to_vec();
        self.rc4.apply_keystream(&mut message);
        let seq = self.seq.to_le_bytes();
        let digest = hmac_md5(&*self.sign_key, &[&seq, &message]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&digest[..8]);
        self.rc4.apply_keystream(&mut checksum);
        self.seq = self.seq.wrapping_add(1);
        (sig[..4] == [1, 0, 0, 0] && sig[4..12] == checksum && sig[12..16] == seq)
            .then_some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// MS-NLMP 4.2.4: User "User", domain "Domain", password "Password", server challenge
    /// 0123456789abcdef, client challenge aa.., time 0, the server's AV pairs (NetBIOS domain
    /// "Domain", NetBIOS computer "Server"), random session key 55...
    #[test]
    fn the_ms_nlmp_4_2_4_vectors() {
        let key = ntowf_v2("Password", "User", "Domain");
        assert_eq!(key.to_vec(), hex("0c868a403bfd7a93a3001ef22ef02e3f"));
        let target_info =
            hex("02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000");
        let r = Ntlmv2::compute(
            &key,
            &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            &[0xaa; 8],
            0,
            &target_info,
            false,
        );
        assert_eq!(r.nt_response[..16], hex("68cd0ab851e51c96aabc927bebef6a1c"));
        assert_eq!(
            r.lm_response.to_vec(),
            hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            r.session_base_key.to_vec(),
            hex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
        // 4.2.4.2.3: the random session key encrypted with the key exchange key.
        let exported = [0x55u8; 16];
        assert_eq!(
            rc4(&r.session_base_key, &exported),
            hex("c5dad2544fc9799094ce1ce90bc9d03e")
        );
        // 4.2.4.4: GSS_WrapEx of "Plaintext" (UTF-16), sequence number 0.
        let mut s = Sealer::new(&exported, Direction::ClientToServer);
        let out = s.seal(&utf16("Plaintext"));
        assert_eq!(out[16..], hex("54e50165bf1936dc996020c1811b0f06fb5f"));
        assert_eq!(out[..16], hex("010000007fb38ec5c55d497600000000"));
    }

    #[test]
    fn what_one_side_seals_the_other_unseals() {
        let k = [7u8; 16];
        let mut c = Sealer::new(&k, Direction::ClientToServer);
        let mut s = Sealer::new(&k, Direction::ClientToServer);
        for n in 0..3 {
            let m = format!("message {n}");
            let sealed = c.seal(m.as_bytes());
            assert_eq!(s.unseal(&sealed).as_deref(), Some(m.as_bytes()));
        }
        let mut tampered = c.seal(b"x");
        tampered[16] ^= 1;
        assert_eq!(s.unseal(&tampered), None);
        // The other direction's keys do not open it.
        let mut other = Sealer::new(&k, Direction::ServerToClient);
        assert_eq!(
            other.unseal(&Sealer::new(&k, Direction::ClientToServer).seal(b"y")),
            None
        );
    }
}
