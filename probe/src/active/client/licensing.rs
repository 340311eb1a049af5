//! Licensing as a client without a license does it (MS-RDPELE 1.3.3): a License Request is
//! answered with a New License Request (the premaster secret RSA-encrypted with the server's
//! key, 2.2.2.2), a Platform Challenge with a Platform Challenge Response (the challenge
//! decrypted with the licensing encryption key and sent back encrypted with a hardware id and
//! their MAC, 2.2.2.5); the server ends with a new license, an upgrade or an Error Alert.
//! Keys per MS-RDPELE 5.1.2.

use rc4::{KeyInit, Rc4, StreamCipher};
use rdp_proto::gcc::{parse_server_certificate, ServerCertificate};
use rdp_proto::licensing::{
    LicenseBlob, LicenseMsgType, LicenseRequest, LicensingBody, LicensingPdu, NewLicenseRequest,
    PlatformChallenge, PlatformChallengeResponse, BB_CLIENT_MACHINE_NAME_BLOB,
    BB_CLIENT_USER_NAME_BLOB, BB_ENCRYPTED_DATA_BLOB, BB_RANDOM_BLOB, KEY_EXCHANGE_ALG_RSA,
};

use crate::active::crypto::rdp_security::{final_hash, mac_digest, rsa_encrypt, triple, RsaKey};

/// The licensing keys (MS-RDPELE 5.1.2): the MAC salt key and the licensing encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct LicensingKeys {
    pub mac_salt: [u8; 16],
    pub encryption: [u8; 16],
}

impl core::fmt::Debug for LicensingKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LicensingKeys { .. }")
    }
}

impl LicensingKeys {
    /// MasterSecret from the premaster secret with SaltedHash over A, BB, CCC; the
    /// SessionKeyBlob from it the same way with the two randoms swapped (SaltedHash2); the
    /// MAC salt key is its first 16 bytes, the encryption key FinalHash of the next 16.
    pub fn derive(premaster: &[u8; 48], client: &[u8; 32], server: &[u8; 32]) -> Self {
        let master = triple(premaster, b'A', client, server);
        let blob = triple(&master, b'A', server, client);
        let mut mac_salt = [0u8; 16];
        mac_salt.copy_from_slice(&blob[..16]);
        Self {
            mac_salt,
            encryption: final_hash(&blob[16..32], client, server),
        }
    }

    /// RC4 with the licensing encryption key, a fresh key stream for each message.
    pub fn rc4(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        Rc4::<rc4::consts::U16>::new(&self.encryption.into()).apply_keystream(&mut out);
        out
    }

    /// The 16-byte MAC of licensing messages (MS-RDPELE 5.1.6).
    pub fn mac(&self, data: &[u8]) -> [u8; 16] {
        mac_digest(&self.mac_salt, data, None)
    }
}

/// Why a Platform Challenge could not be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a SERVER_PLATFORM_CHALLENGE.
    Malformed,
    /// No New License Request was sent first: no keys.
    NoKeys,
    /// The MAC of the decrypted challenge is not the server's: the keys differ.
    BadMac,
}

impl core::fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the Platform Challenge does not parse",
            Self::NoKeys => "a Platform Challenge before any License Request",
            Self::BadMac => "the Platform Challenge's MAC does not match the licensing keys",
        })
    }
}

/// The client's side of the licensing exchange.
#[derive(Debug)]
pub struct LicensingClient {
    client_random: [u8; 32],
    premaster: [u8; 48],
    keys: Option<LicensingKeys>,
}

/// LICENSE_PREAMBLE flags: PREAMBLE_VERSION_3_0 | EXTENDED_ERROR_MSG_SUPPORTED.
const PREAMBLE_FLAGS: u8 = 0x83;

impl LicensingClient {
    /// `random`: the client random (32 bytes) then the premaster secret (48).
    pub fn new(random: [u8; 80]) -> Self {
        let mut client_random = [0u8; 32];
        client_random.copy_from_slice(&random[..32]);
        let mut premaster = [0u8; 48];
        premaster.copy_from_slice(&random[32..]);
        Self {
            client_random,
            premaster,
            keys: None,
        }
    }

    /// The answer to a License Request (its body after the preamble): a New License Request
    /// (the licensing PDU, preamble included) with the premaster secret encrypted with the key
    /// of the request's certificate, else `fallback` (the Server Security Data's, for a server
    /// that leaves the request's certificate empty). None without a usable key.
    pub fn new_license_request(
        &mut self,
        body: &[u8],
        fallback: Option<&RsaKey>,
    ) -> Option<Vec<u8>> {
        let request: LicenseRequest = rdp_proto::decode(body).ok()?;
        let server_random: [u8; 32] = request.server_random.try_into().ok()?;
        let key = match parse_server_certificate(request.certificate.data) {
            Ok((_, cert)) => match cert.certificate {
                ServerCertificate::Proprietary(p) => Some(RsaKey::from_proprietary(&p.public_key)),
                ServerCertificate::X509 { certificates, .. } => {
                    certificates.last().and_then(|c| RsaKey::from_x509(c))
                }
                ServerCertificate::Unknown { .. } => None,
            },
            Err(_) => None,
        }
        .or_else(|| fallback.cloned())?;
        let encrypted = rsa_encrypt(&key, &self.premaster)?;
        self.keys = Some(LicensingKeys::derive(
            &self.premaster,
            &self.client_random,
            &server_random,
        ));
        let nlr = rdp_proto::encode_vec(&NewLicenseRequest {
            key_exchange_alg: KEY_EXCHANGE_ALG_RSA,
            // CLIENT_OS_ID_WINNT_POST_52 | CLIENT_IMAGE_ID_MICROSOFT
            platform_id: 0x0401_0000,
            client_random: &self.client_random,
            encrypted_premaster: LicenseBlob {
                blob_type: BB_RANDOM_BLOB,
                data: &encrypted,
            },
            user_name: LicenseBlob {
                blob_type: BB_CLIENT_USER_NAME_BLOB,
                data: b"rdprobe\0",
            },
            machine_name: LicenseBlob {
                blob_type: BB_CLIENT_MACHINE_NAME_BLOB,
                data: b"RDPROBE\0",
            },
        })
        .ok()?;
        rdp_proto::encode_vec(&LicensingPdu {
            msg_type: LicenseMsgType::NEW_LICENSE_REQUEST,
            flags: PREAMBLE_FLAGS,
            body: LicensingBody::Other(&nlr),
        })
        .ok()
    }

    /// The answer to a Platform Challenge (its body after the preamble): the challenge
    /// decrypted and its MAC checked, then a Platform Challenge Response (the licensing PDU)
    /// carrying it back encrypted, with a hardware id (MS-RDPELE 2.2.2.5).
    pub fn platform_challenge_response(&self, body: &[u8]) -> Result<Vec<u8>, ChallengeError> {
        let keys = self.keys.as_ref().ok_or(ChallengeError::NoKeys)?;
        let (_, challenge) = rdp_proto::decode_prefix::<PlatformChallenge>(body)
            .map_err(|_| ChallengeError::Malformed)?;
        let plain = keys.rc4(challenge.encrypted_challenge.data);
        if keys.mac(&plain) != challenge.mac {
            return Err(ChallengeError::BadMac);
        }
        // PLATFORM_CHALLENGE_RESPONSE_DATA: wVersion 0x0100, wClientType
        // OTHER_PLATFORM_CHALLENGE_TYPE, wLicenseDetailLevel LICENSE_DETAIL_DETAIL, the
        // challenge.
        let mut response = vec![0x00, 0x01, 0x00, 0xFF, 0x03, 0x00];
        response.extend(
            u16::try_from(plain.len())
                .map_err(|_| ChallengeError::Malformed)?
                .to_le_bytes(),
        );
        response.extend(&plain);
        // CLIENT_HARDWARE_ID: PlatformId, then four data words (derived from the client
        // random: stable within the connection, nothing of this machine).
        let mut hwid = 0x0401_0000u32.to_le_bytes().to_vec();
        hwid.extend(&self.client_random[..16]);
        let mut signed = response.clone();
        signed.extend(&hwid);
        let mac = keys.mac(&signed);
        let encrypted_response = keys.rc4(&response);
        let encrypted_hwid = keys.rc4(&hwid);
        let pcr = rdp_proto::encode_vec(&PlatformChallengeResponse {
            encrypted_response: LicenseBlob {
                blob_type: BB_ENCRYPTED_DATA_BLOB,
                data: &encrypted_response,
            },
            encrypted_hwid: LicenseBlob {
                blob_type: BB_ENCRYPTED_DATA_BLOB,
                data: &encrypted_hwid,
            },
            mac: &mac,
        })
        .map_err(|_| ChallengeError::Malformed)?;
        rdp_proto::encode_vec(&LicensingPdu {
            msg_type: LicenseMsgType::PLATFORM_CHALLENGE_RESPONSE,
            flags: PREAMBLE_FLAGS,
            body: LicensingBody::Other(&pcr),
        })
        .map_err(|_| ChallengeError::Malformed)
    }

    /// The keys, once a New License Request was made (a test server derives the same).
    pub fn keys(&self) -> Option<&LicensingKeys> {
        self.keys.as_ref()
    }
}
