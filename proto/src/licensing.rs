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
