//! [MS-RDPBCGR 2.2.1.1] / [2.2.1.2] RDP negotiation structures carried in the X.224
//! Connection Request and Confirm: RDP_NEG_REQ, RDP_NEG_RSP, RDP_NEG_FAILURE and
//! RDP_NEG_CORRELATION_INFO.
//!
//! The `length` fields are kept as sent: a server that writes 0 instead of 8 is reported, not
//! rejected.
//!
//! [MS-RDPBCGR 2.2.1.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/18a27ef9-6f9a-4501-b000-94b1fe3c2c10

use bitflags::bitflags;

use crate::codec::{array, le_u16, le_u32, open_enum, u8, unexpected};
use crate::{EncodeError, Layer, PResult, Pdu};

/// `type` of RDP_NEG_REQ.
pub const TYPE_RDP_NEG_REQ: u8 = 0x01;
/// `type` of RDP_NEG_RSP.
pub const TYPE_RDP_NEG_RSP: u8 = 0x02;
/// `type` of RDP_NEG_FAILURE.
pub const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
/// `type` of RDP_NEG_CORRELATION_INFO.
pub const TYPE_RDP_CORRELATION_INFO: u8 = 0x06;
/// The `length` every negotiation structure but the correlation info has.
pub const NEG_LEN: u16 = 8;
/// The `length` of RDP_NEG_CORRELATION_INFO.
pub const CORRELATION_INFO_LEN: u16 = 36;

bitflags! {
    /// `requestedProtocols` / `selectedProtocol`. PROTOCOL_RDP is the empty set (0).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SecurityProtocol: u32 {
        /// PROTOCOL_SSL: TLS 1.0, 1.1 or 1.2.
        const SSL = 0x0000_0001;
        /// PROTOCOL_HYBRID: CredSSP (NLA), implies SSL.
        const HYBRID = 0x0000_0002;
        /// PROTOCOL_RDSTLS.
        const RDSTLS = 0x0000_0004;
        /// PROTOCOL_HYBRID_EX: CredSSP with the Early User Authorization Result PDU.
        const HYBRID_EX = 0x0000_0008;
        /// PROTOCOL_RDSAAD: RDS AAD authentication.
        const RDSAAD = 0x0000_0010;
        const _ = !0;
    }
}

impl SecurityProtocol {
    /// PROTOCOL_RDP: Standard RDP Security.
    pub const RDP: Self = Self::empty();

    /// Network Level Authentication: CredSSP runs on this layer (PROTOCOL_HYBRID or
    /// PROTOCOL_HYBRID_EX, MS-RDPBCGR 5.4.5.2).
    pub fn is_nla(self) -> bool {
        self.intersects(Self::HYBRID | Self::HYBRID_EX)
    }

    /// Enhanced RDP Security with TLS as the external security protocol and nothing else
    /// before MCS but CredSSP: PROTOCOL_SSL, PROTOCOL_HYBRID or PROTOCOL_HYBRID_EX
    /// (MS-RDPBCGR 5.4.5.1, 5.4.5.2). RDSTLS and RDSAAD carry their own authentication.
    pub fn is_tls(self) -> bool {
        self.intersects(Self::SSL | Self::HYBRID | Self::HYBRID_EX)
    }

    /// Lower-case names of the set bits (`["ssl", "hybrid"]`), or `["rdp"]` for the empty set;
    /// unknown bits as `0x...`.
    pub fn names(self) -> Vec<String> {
        if self.is_empty() {
            return vec!["rdp".to_owned()];
        }
        let mut out = Vec::new();
        for (bit, name) in [
            (Self::SSL, "ssl"),
            (Self::HYBRID, "hybrid"),
            (Self::RDSTLS, "rdstls"),
            (Self::HYBRID_EX, "hybrid_ex"),
            (Self::RDSAAD, "rdsaad"),
        ] {
            if self.contains(bit) {
                out.push(name.to_owned());
            }
        }
        let unknown = self.bits() & !0x1F;
        if unknown != 0 {
            out.push(format!("0x{unknown:x}"));
        }
        out
    }
}

bitflags! {
    /// RDP_NEG_REQ `flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct NegRequestFlags: u8 {
        const RESTRICTED_ADMIN_MODE_REQUIRED = 0x01;
        const REDIRECTED_AUTHENTICATION_MODE_REQUIRED = 0x02;
        const CORRELATION_INFO_PRESENT = 0x08;
        const _ = !0;
    }
}

bitflags! {
    /// RDP_NEG_RSP `flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct NegResponseFlags: u8 {
        const EXTENDED_CLIENT_DATA_SUPPORTED = 0x01;
        const DYNVC_GFX_PROTOCOL_SUPPORTED = 0x02;
        const NEGRSP_FLAG_RESERVED = 0x04;
        const RESTRICTED_ADMIN_MODE_SUPPORTED = 0x08;
        const REDIRECTED_AUTHENTICATION_MODE_SUPPORTED = 0x10;
        const _ = !0;
    }
}

/// Names of the known flags set in a bitflags value, then the unknown bits as one hex number.
pub fn flag_names<F: bitflags::Flags>(flags: F) -> Vec<String>
where
    F::Bits: core::fmt::LowerHex,
{
    let mut it = flags.iter_names();
    let mut out: Vec<String> = it.by_ref().map(|(name, _)| name.to_owned()).collect();
    let rest = it.remaining();
    if !rest.is_empty() {
        out.push(format!("0x{:x}", rest.bits()));
    }
    out
}

open_enum! {
    /// RDP_NEG_FAILURE `failureCode`.
    pub struct FailureCode(u32) {
        SSL_REQUIRED_BY_SERVER = 0x0000_0001,
        SSL_NOT_ALLOWED_BY_SERVER = 0x0000_0002,
        SSL_CERT_NOT_ON_SERVER = 0x0000_0003,
        INCONSISTENT_FLAGS = 0x0000_0004,
        HYBRID_REQUIRED_BY_SERVER = 0x0000_0005,
        SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = 0x0000_0006,
    }
}

/// The 4-byte header shared by the negotiation structures: type, flags, length.
fn header<'a>(i: &'a [u8], want: u8) -> PResult<'a, (u8, u16)> {
    let start = i;
    let (i, ty) = u8("type")(i)?;
    if ty != want {
        return unexpected(start, "type", ty.into());
    }
    let (i, flags) = u8("flags")(i)?;
    let (i, length) = le_u16("length")(i)?;
    Ok((i, (flags, length)))
}

fn write_header(dst: &mut Vec<u8>, ty: u8, flags: u8, length: u16) {
    dst.extend_from_slice(&[ty, flags]);
    dst.extend_from_slice(&length.to_le_bytes());
}

/// [2.2.1.1.1] RDP Negotiation Request (RDP_NEG_REQ): the security protocols the client supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiationRequest {
    /// flags
    pub flags: NegRequestFlags,
    /// length (8 when conformant; kept as sent)
    pub length: u16,
    /// requestedProtocols
    pub requested_protocols: SecurityProtocol,
}

impl NegotiationRequest {
    pub fn new(requested_protocols: SecurityProtocol) -> Self {
        Self {
            flags: NegRequestFlags::empty(),
            length: NEG_LEN,
            requested_protocols,
        }
    }
}

impl<'a> Pdu<'a> for NegotiationRequest {
    const NAME: &'static str = "RDP_NEG_REQ";
    const LAYER: Layer = Layer::Nego;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, (flags, length)) = header(i, TYPE_RDP_NEG_REQ)?;
        let (i, protocols) = le_u32("requestedProtocols")(i)?;
        Ok((
            i,
            Self {
                flags: NegRequestFlags::from_bits_retain(flags),
                length,
                requested_protocols: SecurityProtocol::from_bits_retain(protocols),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_header(dst, TYPE_RDP_NEG_REQ, self.flags.bits(), self.length);
        dst.extend_from_slice(&self.requested_protocols.bits().to_le_bytes());
        Ok(())
    }
}

/// [2.2.1.2.1] RDP Negotiation Response (RDP_NEG_RSP): the protocol the server selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiationResponse {
    /// flags
    pub flags: NegResponseFlags,
    /// length (8 when conformant; kept as sent)
    pub length: u16,
    /// selectedProtocol
    pub selected_protocol: SecurityProtocol,
}

impl NegotiationResponse {
    pub fn new(flags: NegResponseFlags, selected_protocol: SecurityProtocol) -> Self {
        Self {
            flags,
            length: NEG_LEN,
            selected_protocol,
        }
    }
}

impl<'a> Pdu<'a> for NegotiationResponse {
    const NAME: &'static str = "RDP_NEG_RSP";
    const LAYER: Layer = Layer::Nego;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, (flags, length)) = header(i, TYPE_RDP_NEG_RSP)?;
        let (i, selected) = le_u32("selectedProtocol")(i)?;
        Ok((
            i,
            Self {
                flags: NegResponseFlags::from_bits_retain(flags),
                length,
                selected_protocol: SecurityProtocol::from_bits_retain(selected),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_header(dst, TYPE_RDP_NEG_RSP, self.flags.bits(), self.length);
        dst.extend_from_slice(&self.selected_protocol.bits().to_le_bytes());
        Ok(())
    }
}

/// [2.2.1.2.2] RDP Negotiation Failure (RDP_NEG_FAILURE): why the server refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiationFailure {
    /// flags (no flags are defined; kept as sent)
    pub flags: u8,
    /// length (8 when conformant; kept as sent)
    pub length: u16,
    /// failureCode
    pub code: FailureCode,
}

impl NegotiationFailure {
    pub fn new(code: FailureCode) -> Self {
        Self {
            flags: 0,
            length: NEG_LEN,
            code,
        }
    }
}

impl<'a> Pdu<'a> for NegotiationFailure {
    const NAME: &'static str = "RDP_NEG_FAILURE";
    const LAYER: Layer = Layer::Nego;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, (flags, length)) = header(i, TYPE_RDP_NEG_FAILURE)?;
        let (i, code) = le_u32("failureCode")(i)?;
        Ok((
            i,
            Self {
                flags,
                length,
                code: FailureCode(code),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_header(dst, TYPE_RDP_NEG_FAILURE, self.flags, self.length);
        dst.extend_from_slice(&self.code.0.to_le_bytes());
        Ok(())
    }
}

/// [2.2.1.1.2] RDP Correlation Info (RDP_NEG_CORRELATION_INFO): a GUID that ties client and
/// server event logs together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorrelationInfo {
    /// flags (must be 0)
    pub flags: u8,
    /// length (36 when conformant)
    pub length: u16,
    /// correlationId
    pub correlation_id: [u8; 16],
    /// reserved (16 zero bytes when conformant)
    pub reserved: [u8; 16],
}

impl<'a> Pdu<'a> for CorrelationInfo {
    const NAME: &'static str = "RDP_NEG_CORRELATION_INFO";
    const LAYER: Layer = Layer::Nego;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, (flags, length)) = header(i, TYPE_RDP_CORRELATION_INFO)?;
        let (i, id) = array::<16>(i, "correlationId")?;
        let (i, reserved) = array::<16>(i, "reserved")?;
        Ok((
            i,
            Self {
                flags,
                length,
                correlation_id: *id,
                reserved: *reserved,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        36
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_header(dst, TYPE_RDP_CORRELATION_INFO, self.flags, self.length);
        dst.extend_from_slice(&self.correlation_id);
        dst.extend_from_slice(&self.reserved);
        Ok(())
    }
}
