//! [MS-RDPBCGR 2.2.1.12] Server License Error PDU and the licensing preamble
//! ([MS-RDPELE 2.2.2]): enough to tell "licensing is fine" (STATUS_VALID_CLIENT) from a
//! licensing failure and its state transition.
//!
//! [MS-RDPBCGR 2.2.1.12]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/7d941d0d-d482-41c5-b728-538faa3efb31

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, open_enum, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

open_enum! {
    /// [2.2.1.12.1.1] Licensing Preamble `bMsgType`.
    pub struct LicenseMsgType(u8) {
        LICENSE_REQUEST = 0x01,
        PLATFORM_CHALLENGE = 0x02,
        NEW_LICENSE = 0x03,
        UPGRADE_LICENSE = 0x04,
        LICENSE_INFO = 0x12,
        NEW_LICENSE_REQUEST = 0x13,
        PLATFORM_CHALLENGE_RESPONSE = 0x15,
        ERROR_ALERT = 0xFF,
    }
}

open_enum! {
    /// [2.2.1.12.1.3] Licensing Error Message `dwErrorCode`.
    pub struct LicenseErrorCode(u32) {
        ERR_INVALID_SERVER_CERTIFICATE = 0x0000_0001,
        ERR_NO_LICENSE = 0x0000_0002,
        ERR_INVALID_MAC = 0x0000_0003,
        ERR_INVALID_SCOPE = 0x0000_0004,
        ERR_NO_LICENSE_SERVER = 0x0000_0006,
        STATUS_VALID_CLIENT = 0x0000_0007,
        ERR_INVALID_CLIENT = 0x0000_0008,
        ERR_INVALID_PRODUCTID = 0x0000_000B,
        ERR_INVALID_MESSAGE_LEN = 0x0000_000C,
    }
}

open_enum! {
    /// [2.2.1.12.1.3] Licensing Error Message `dwStateTransition`.
    pub struct StateTransition(u32) {
        ST_TOTAL_ABORT = 0x0000_0001,
        ST_NO_TRANSITION = 0x0000_0002,
        ST_RESET_PHASE_TO_START = 0x0000_0003,
        ST_RESEND_LAST_MESSAGE = 0x0000_0004,
    }
}

/// [2.2.1.12.1.3] Licensing Error Message (LICENSE_ERROR_MESSAGE).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LicensingErrorMessage<'a> {
    /// dwErrorCode
    pub error_code: LicenseErrorCode,
    /// dwStateTransition
    pub state_transition: StateTransition,
    /// bbErrorInfo wBlobType
    pub blob_type: u16,
    /// bbErrorInfo blobData
    pub blob: &'a [u8],
}

/// The body after the preamble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LicensingBody<'a> {
    ErrorAlert(LicensingErrorMessage<'a>),
    /// Any other message, raw.
    Other(&'a [u8]),
}

/// [2.2.1.12.1.1] Licensing Preamble (LICENSE_PREAMBLE) and the message it frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicensingPdu<'a> {
    /// bMsgType
    pub msg_type: LicenseMsgType,
    /// flags (protocol version in the low 4 bits, EXTENDED_ERROR_MSG_SUPPORTED 0x80)
    pub flags: u8,
    pub body: LicensingBody<'a>,
}

impl LicensingPdu<'_> {
    /// The preamble said the licensing exchange ends well: the error alert with
    /// STATUS_VALID_CLIENT and ST_NO_TRANSITION.
    pub fn is_valid_client(&self) -> bool {
        matches!(&self.body, LicensingBody::ErrorAlert(m)
            if m.error_code == LicenseErrorCode::STATUS_VALID_CLIENT
            && m.state_transition == StateTransition::ST_NO_TRANSITION)
    }

    fn body_len(&self) -> usize {
        match &self.body {
            LicensingBody::ErrorAlert(m) => 12 + m.blob.len(),
            LicensingBody::Other(b) => b.len(),
        }
    }
}

impl<'a> Pdu<'a> for LicensingPdu<'a> {
    const NAME: &'static str = "LICENSE_PREAMBLE";
    const LAYER: Layer = Layer::Licensing;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, msg_type) = u8("bMsgType")(i)?;
        let (i, flags) = u8("flags")(i)?;
        let (i, size) = le_u16("wMsgSize")(i)?;
        let Some(body_len) = usize::from(size).checked_sub(4) else {
            return invalid(start, "wMsgSize", "shorter than the preamble");
        };
        let (rest, body) = take(i, body_len, "license message")?;
        let msg_type = LicenseMsgType(msg_type);
        let body = if msg_type == LicenseMsgType::ERROR_ALERT {
            let (b, code) = le_u32("dwErrorCode")(body)?;
            let (b, st) = le_u32("dwStateTransition")(b)?;
            let (b, blob_type) = le_u16("wBlobType")(b)?;
            let (b, blob_len) = le_u16("wBlobLen")(b)?;
            let (b, blob) = take(b, blob_len.into(), "blobData")?;
            if !b.is_empty() {
                return invalid(b, "LICENSE_ERROR_MESSAGE", "trailing bytes");
            }
            LicensingBody::ErrorAlert(LicensingErrorMessage {
                error_code: LicenseErrorCode(code),
                state_transition: StateTransition(st),
                blob_type,
                blob,
            })
        } else {
            LicensingBody::Other(body)
        };
        Ok((
            rest,
            Self {
                msg_type,
                flags,
                body,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "wMsgSize", self.encoded_len(), 0xFFFF)?;
        dst.extend_from_slice(&[self.msg_type.0, self.flags]);
        dst.extend_from_slice(&len_u16(self.encoded_len()).to_le_bytes());
        match &self.body {
            LicensingBody::ErrorAlert(m) => {
                fit(Self::NAME, "wBlobLen", m.blob.len(), 0xFFFF)?;
                dst.extend_from_slice(&m.error_code.0.to_le_bytes());
                dst.extend_from_slice(&m.state_transition.0.to_le_bytes());
                dst.extend_from_slice(&m.blob_type.to_le_bytes());
                dst.extend_from_slice(&len_u16(m.blob.len()).to_le_bytes());
                dst.extend_from_slice(m.blob);
            }
            LicensingBody::Other(b) => dst.extend_from_slice(b),
        }
        Ok(())
    }
}

/// A LICENSE_BINARY_BLOB (MS-RDPELE 2.2.2.1.1): type, then data with a u16 length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LicenseBlob<'a> {
    pub blob_type: u16,
    pub data: &'a [u8],
}

/// BB_RANDOM_BLOB: the encrypted premaster secret.
pub const BB_RANDOM_BLOB: u16 = 0x0002;
/// BB_CERTIFICATE_BLOB: the server certificate.
pub const BB_CERTIFICATE_BLOB: u16 = 0x0003;
/// BB_CLIENT_USER_NAME_BLOB.
pub const BB_CLIENT_USER_NAME_BLOB: u16 = 0x000F;
/// BB_CLIENT_MACHINE_NAME_BLOB.
pub const BB_CLIENT_MACHINE_NAME_BLOB: u16 = 0x0010;
/// KEY_EXCHANGE_ALG_RSA.
pub const KEY_EXCHANGE_ALG_RSA: u32 = 1;

fn blob<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, LicenseBlob<'a>> {
    let (i, blob_type) = le_u16("wBlobType")(i)?;
    let (i, len) = le_u16("wBlobLen")(i)?;
    let (i, data) = take(i, usize::from(len), ctx)?;
    Ok((i, LicenseBlob { blob_type, data }))
}

fn write_blob(
    dst: &mut Vec<u8>,
    pdu: &'static str,
    b: &LicenseBlob<'_>,
) -> Result<(), EncodeError> {
    fit(pdu, "wBlobLen", b.data.len(), 0xFFFF)?;
    dst.extend_from_slice(&b.blob_type.to_le_bytes());
    dst.extend_from_slice(&len_u16(b.data.len()).to_le_bytes());
    dst.extend_from_slice(b.data);
    Ok(())
}

/// [MS-RDPELE 2.2.2.1] Server License Request (SERVER_LICENSE_REQUEST), the message after the
/// preamble: what a client without a license answers with a New License Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseRequest<'a> {
    /// ServerRandom (32 bytes).
    pub server_random: &'a [u8],
    /// ProductInfo: dwVersion, the company name and product id (UTF-16LE, raw).
    pub product_version: u32,
    pub company_name: &'a [u8],
    pub product_id: &'a [u8],
    /// KeyExchangeList (BB_KEY_EXCHG_ALG_BLOB).
    pub key_exchange: LicenseBlob<'a>,
    /// ServerCertificate (BB_CERTIFICATE_BLOB): a SERVER_CERTIFICATE, empty when the server
    /// sent its certificate in the Server Security Data.
    pub certificate: LicenseBlob<'a>,
    /// ScopeList: ScopeCount and the scopes, raw.
    pub scope_list: &'a [u8],
}

impl<'a> Pdu<'a> for LicenseRequest<'a> {
    const NAME: &'static str = "SERVER_LICENSE_REQUEST";
    const LAYER: Layer = Layer::Licensing;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, server_random) = take(i, 32, "ServerRandom")?;
        let (i, product_version) = le_u32("dwVersion")(i)?;
        let (i, cb_company) = le_u32("cbCompanyName")(i)?;
        let (i, company_name) = take(
            i,
            usize::try_from(cb_company).unwrap_or(usize::MAX),
            "pbCompanyName",
        )?;
        let (i, cb_product) = le_u32("cbProductId")(i)?;
        let (i, product_id) = take(
            i,
            usize::try_from(cb_product).unwrap_or(usize::MAX),
            "pbProductId",
        )?;
        let (i, key_exchange) = blob(i, "KeyExchangeList")?;
        let (i, certificate) = blob(i, "ServerCertificate")?;
        let rest: &'a [u8] = &[];
        Ok((
            rest,
            Self {
                server_random,
                product_version,
                company_name,
                product_id,
                key_exchange,
                certificate,
                scope_list: i,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        32 + 12
            + self.company_name.len()
            + self.product_id.len()
            + 8
            + self.key_exchange.data.len()
            + self.certificate.data.len()
            + self.scope_list.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.server_random.len() != 32 {
            return Err(EncodeError::Invalid {
                pdu: Self::NAME,
                field: "ServerRandom",
                reason: "not 32 bytes",
            });
        }
        dst.extend_from_slice(self.server_random);
        dst.extend_from_slice(&self.product_version.to_le_bytes());
        dst.extend_from_slice(&crate::codec::len_u32(self.company_name.len()).to_le_bytes());
        dst.extend_from_slice(self.company_name);
        dst.extend_from_slice(&crate::codec::len_u32(self.product_id.len()).to_le_bytes());
        dst.extend_from_slice(self.product_id);
        write_blob(dst, Self::NAME, &self.key_exchange)?;
        write_blob(dst, Self::NAME, &self.certificate)?;
        dst.extend_from_slice(self.scope_list);
        Ok(())
    }
}

/// [MS-RDPELE 2.2.2.2] Client New License Request (CLIENT_NEW_LICENSE_REQUEST), after the
/// preamble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLicenseRequest<'a> {
    /// PreferredKeyExchangeAlg (KEY_EXCHANGE_ALG_RSA).
    pub key_exchange_alg: u32,
    /// PlatformId: the client's OS and image ids.
    pub platform_id: u32,
    /// ClientRandom (32 bytes).
    pub client_random: &'a [u8],
    /// EncryptedPreMasterSecret (BB_RANDOM_BLOB): the premaster secret encrypted with the
    /// server's public key.
    pub encrypted_premaster: LicenseBlob<'a>,
    /// ClientUserName (BB_CLIENT_USER_NAME_BLOB), NUL-terminated.
    pub user_name: LicenseBlob<'a>,
    /// ClientMachineName (BB_CLIENT_MACHINE_NAME_BLOB), NUL-terminated.
    pub machine_name: LicenseBlob<'a>,
}

impl<'a> Pdu<'a> for NewLicenseRequest<'a> {
    const NAME: &'static str = "CLIENT_NEW_LICENSE_REQUEST";
    const LAYER: Layer = Layer::Licensing;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, key_exchange_alg) = le_u32("PreferredKeyExchangeAlg")(i)?;
        let (i, platform_id) = le_u32("PlatformId")(i)?;
        let (i, client_random) = take(i, 32, "ClientRandom")?;
        let (i, encrypted_premaster) = blob(i, "EncryptedPreMasterSecret")?;
        let (i, user_name) = blob(i, "ClientUserName")?;
        let (i, machine_name) = blob(i, "ClientMachineName")?;
        Ok((
            i,
            Self {
                key_exchange_alg,
                platform_id,
                client_random,
                encrypted_premaster,
                user_name,
                machine_name,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8 + 32
            + 12
            + self.encrypted_premaster.data.len()
            + self.user_name.data.len()
            + self.machine_name.data.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.client_random.len() != 32 {
            return Err(EncodeError::Invalid {
                pdu: Self::NAME,
                field: "ClientRandom",
                reason: "not 32 bytes",
            });
        }
        dst.extend_from_slice(&self.key_exchange_alg.to_le_bytes());
        dst.extend_from_slice(&self.platform_id.to_le_bytes());
        dst.extend_from_slice(self.client_random);
        write_blob(dst, Self::NAME, &self.encrypted_premaster)?;
        write_blob(dst, Self::NAME, &self.user_name)?;
        write_blob(dst, Self::NAME, &self.machine_name)
    }
}

/// BB_ENCRYPTED_DATA_BLOB: data encrypted with the licensing encryption key.
pub const BB_ENCRYPTED_DATA_BLOB: u16 = 0x0009;

/// [MS-RDPELE 2.2.2.4] Server Platform Challenge (SERVER_PLATFORM_CHALLENGE), after the
/// preamble: a challenge the client decrypts and answers, proving it holds the licensing keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformChallenge<'a> {
    /// ConnectFlags (reserved).
    pub connect_flags: u32,
    /// EncryptedPlatformChallenge (BB_ANY_BLOB or BB_ENCRYPTED_DATA_BLOB).
    pub encrypted_challenge: LicenseBlob<'a>,
    /// MACData: the MAC of the decrypted challenge (16 bytes).
    pub mac: &'a [u8],
}

impl<'a> Pdu<'a> for PlatformChallenge<'a> {
    const NAME: &'static str = "SERVER_PLATFORM_CHALLENGE";
    const LAYER: Layer = Layer::Licensing;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, connect_flags) = le_u32("ConnectFlags")(i)?;
        let (i, encrypted_challenge) = blob(i, "EncryptedPlatformChallenge")?;
        let (i, mac) = take(i, 16, "MACData")?;
        Ok((
            i,
            Self {
                connect_flags,
                encrypted_challenge,
                mac,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + 4 + self.encrypted_challenge.data.len() + 16
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.mac.len() != 16 {
            return Err(EncodeError::Invalid {
                pdu: Self::NAME,
                field: "MACData",
                reason: "not 16 bytes",
            });
        }
        dst.extend_from_slice(&self.connect_flags.to_le_bytes());
        write_blob(dst, Self::NAME, &self.encrypted_challenge)?;
        dst.extend_from_slice(self.mac);
        Ok(())
    }
}

/// [MS-RDPELE 2.2.2.5] Client Platform Challenge Response
/// (CLIENT_PLATFORM_CHALLENGE_RESPONSE), after the preamble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformChallengeResponse<'a> {
    /// EncryptedPlatformChallengeResponse (BB_ENCRYPTED_DATA_BLOB): a
    /// PLATFORM_CHALLENGE_RESPONSE_DATA, encrypted.
    pub encrypted_response: LicenseBlob<'a>,
    /// EncryptedHWID (BB_ENCRYPTED_DATA_BLOB): a CLIENT_HARDWARE_ID, encrypted.
    pub encrypted_hwid: LicenseBlob<'a>,
    /// MACData: the MAC of the decrypted response data and hardware id (16 bytes).
    pub mac: &'a [u8],
}

impl<'a> Pdu<'a> for PlatformChallengeResponse<'a> {
    const NAME: &'static str = "CLIENT_PLATFORM_CHALLENGE_RESPONSE";
    const LAYER: Layer = Layer::Licensing;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, encrypted_response) = blob(i, "EncryptedPlatformChallengeResponse")?;
        let (i, encrypted_hwid) = blob(i, "EncryptedHWID")?;
        let (i, mac) = take(i, 16, "MACData")?;
        Ok((
            i,
            Self {
                encrypted_response,
                encrypted_hwid,
                mac,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8 + self.encrypted_response.data.len() + self.encrypted_hwid.data.len() + 16
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.mac.len() != 16 {
            return Err(EncodeError::Invalid {
                pdu: Self::NAME,
                field: "MACData",
                reason: "not 16 bytes",
            });
        }
        write_blob(dst, Self::NAME, &self.encrypted_response)?;
        write_blob(dst, Self::NAME, &self.encrypted_hwid)?;
        dst.extend_from_slice(self.mac);
        Ok(())
    }
}
