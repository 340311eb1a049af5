//! [X.224] class 0 TPDUs as RDP uses them ([MS-RDPBCGR 2.2.1.1] / [2.2.1.2] / [2.2.8]):
//! Connection Request (CR), Connection Confirm (CC), Disconnect Request (DR), Data (DT) and
//! TPDU Error (ER). A TPDU is the payload of one TPKT.
//!
//! ```text
//! LI | code | fixed part ... | variable part (LI - fixed) | user data (rest of the TPKT)
//! ```
//!
//! [X.224]: https://www.itu.int/rec/T-REC-X.224-199511-I
//! [MS-RDPBCGR 2.2.1.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/18a27ef9-6f9a-4501-b000-94b1fe3c2c10

use crate::codec::{be_u16, fit, invalid, len_u8, take, u8, unexpected};
use crate::nego::{
    CorrelationInfo, NegotiationFailure, NegotiationRequest, NegotiationResponse,
    TYPE_RDP_CORRELATION_INFO, TYPE_RDP_NEG_FAILURE, TYPE_RDP_NEG_REQ, TYPE_RDP_NEG_RSP,
};
use crate::tpkt::Tpkt;
use crate::{EncodeError, Layer, PResult, Pdu};

/// CR TPDU code (high nibble; the low nibble is the credit, CDT).
pub const TPDU_CONNECTION_REQUEST: u8 = 0xE0;
/// CC TPDU code.
pub const TPDU_CONNECTION_CONFIRM: u8 = 0xD0;
/// DR TPDU code.
pub const TPDU_DISCONNECT_REQUEST: u8 = 0x80;
/// DT TPDU code.
pub const TPDU_DATA: u8 = 0xF0;
/// ER TPDU code.
pub const TPDU_ERROR: u8 = 0x70;
/// The DT EOT bit (last data unit).
pub const EOT: u8 = 0x80;
/// The cookie prefix of [2.2.1.1] (`Cookie: mstshash=IDENTIFIER\r\n`).
pub const COOKIE_PREFIX: &[u8] = b"Cookie: mstshash=";
/// The largest length indicator (255 is reserved).
pub const MAX_LI: usize = 254;
/// Longest token line we look for a CRLF in (the LI bounds it at 254 anyway).
const MAX_TOKEN: usize = MAX_LI;

/// The token line at the start of a CR's variable part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// cookie: the IDENTIFIER of `Cookie: mstshash=IDENTIFIER\r\n` (usually a truncated user name).
    Cookie(&'a [u8]),
    /// routingToken: any other line up to CR LF, e.g. `Cookie: msts=...` (load balancer) or a
    /// `tsv://...` connection broker token. Stored without the CR LF.
    RoutingToken(&'a [u8]),
}

impl Token<'_> {
    fn encoded_len(&self) -> usize {
        match self {
            Self::Cookie(v) => COOKIE_PREFIX.len() + v.len() + 2,
            Self::RoutingToken(v) => v.len() + 2,
        }
    }

    fn encode(&self, dst: &mut Vec<u8>) {
        if let Self::Cookie(v) = self {
            dst.extend_from_slice(COOKIE_PREFIX);
            dst.extend_from_slice(v);
        } else if let Self::RoutingToken(v) = self {
            dst.extend_from_slice(v);
        }
        dst.extend_from_slice(b"\r\n");
    }
}

/// [2.2.1.1] Client X.224 Connection Request PDU (the TPDU inside the TPKT).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnectionRequest<'a> {
    /// CDT: the credit in the code byte's low nibble (0 in RDP).
    pub credit: u8,
    /// DST-REF
    pub dst_ref: u16,
    /// SRC-REF
    pub src_ref: u16,
    /// Class and options (0 in RDP).
    pub class_option: u8,
    /// routingToken or cookie.
    pub token: Option<Token<'a>>,
    /// rdpNegReq
    pub negotiation: Option<NegotiationRequest>,
    /// rdpCorrelationInfo
    pub correlation: Option<CorrelationInfo>,
    /// Bytes of the variable part that are none of the above (kept for re-encoding).
    pub trailing: &'a [u8],
    /// Bytes after the length indicator's extent (X.224 user data; RDP sends none).
    pub user_data: &'a [u8],
}

/// [2.2.1.2] Server X.224 Connection Confirm PDU: its negotiation result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiationResult {
    /// rdpNegData is an RDP_NEG_RSP.
    Response(NegotiationResponse),
    /// rdpNegData is an RDP_NEG_FAILURE.
    Failure(NegotiationFailure),
}

/// [2.2.1.2] Server X.224 Connection Confirm PDU (the TPDU inside the TPKT).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnectionConfirm<'a> {
    /// CDT
    pub credit: u8,
    /// DST-REF
    pub dst_ref: u16,
    /// SRC-REF
    pub src_ref: u16,
    /// Class and options.
    pub class_option: u8,
    /// rdpNegData: absent for servers that predate negotiation (Windows XP/2003 era).
    pub negotiation: Option<NegotiationResult>,
    /// Variable-part bytes that are not a negotiation structure.
    pub trailing: &'a [u8],
    /// Bytes after the length indicator's extent.
    pub user_data: &'a [u8],
}

/// [X.224 13.5] Disconnect Request TPDU.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DisconnectRequest<'a> {
    /// DST-REF
    pub dst_ref: u16,
    /// SRC-REF
    pub src_ref: u16,
    /// Reason
    pub reason: u8,
    /// Variable part (parameters), raw.
    pub variable: &'a [u8],
    /// User data.
    pub user_data: &'a [u8],
}

/// [X.224 13.7] Data TPDU (class 0): carries MCS.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Data<'a> {
    /// The byte after the code: EOT bit and TPDU-NR (0x80 in RDP).
    pub eot: u8,
    /// Header bytes beyond the class 0 fixed part (none in RDP).
    pub variable: &'a [u8],
    /// The user data (an MCS PDU).
    pub payload: &'a [u8],
}

/// [X.224 13.12] TPDU Error.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ErrorTpdu<'a> {
    /// DST-REF
    pub dst_ref: u16,
    /// Reject cause
    pub cause: u8,
    /// Variable part (the invalid TPDU parameter), raw.
    pub variable: &'a [u8],
    /// User data.
    pub user_data: &'a [u8],
}

/// One X.224 TPDU: the content of one TPKT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tpdu<'a> {
    ConnectionRequest(ConnectionRequest<'a>),
    ConnectionConfirm(ConnectionConfirm<'a>),
    DisconnectRequest(DisconnectRequest<'a>),
    Data(Data<'a>),
    Error(ErrorTpdu<'a>),
}

/// Splits a TPDU into (code byte, header after LI and code, user data, bytes after).
fn split_li<'a>(i: &'a [u8], min_li: usize) -> PResult<'a, (u8, &'a [u8])> {
    let start = i;
    let (i, li) = u8("LI")(i)?;
    let li = usize::from(li);
    if li < min_li || li == 255 {
        return invalid(start, "LI", "length indicator out of range for this TPDU");
    }
    let (rest, header) = take(i, li, "TPDU header")?;
    let (header, code) = u8("code")(header)?;
    Ok((rest, (code, header)))
}

impl<'a> ConnectionRequest<'a> {
    fn parse_header(code: u8, h: &'a [u8]) -> PResult<'a, Self> {
        let (h, dst_ref) = be_u16("DST-REF")(h)?;
        let (h, src_ref) = be_u16("SRC-REF")(h)?;
        let (mut h, class_option) = u8("class option")(h)?;
        let mut token = None;
        if !h.is_empty() && !starts_structure(h, TYPE_RDP_NEG_REQ) {
            if let Some(pos) = find_crlf(h) {
                let (line, rest) = h.split_at(pos);
                token = Some(match line.strip_prefix(COOKIE_PREFIX) {
                    Some(v) => Token::Cookie(v),
                    None => Token::RoutingToken(line),
                });
                h = rest.get(2..).unwrap_or_default();
            }
        }
        let mut negotiation = None;
        if starts_structure(h, TYPE_RDP_NEG_REQ) {
            let (rest, neg) = NegotiationRequest::parse(h)?;
            negotiation = Some(neg);
            h = rest;
        }
        let mut correlation = None;
        if h.len() >= 36 && h.first() == Some(&TYPE_RDP_CORRELATION_INFO) {
            let (rest, info) = CorrelationInfo::parse(h)?;
            correlation = Some(info);
            h = rest;
        }
        Ok((
            &[],
            Self {
                credit: code & 0x0F,
                dst_ref,
                src_ref,
                class_option,
                token,
                negotiation,
                correlation,
                trailing: h,
                user_data: &[],
            },
        ))
    }

    /// The cookie's identifier, if the token is an `mstshash` cookie.
    pub fn cookie(&self) -> Option<&'a [u8]> {
        match self.token {
            Some(Token::Cookie(c)) => Some(c),
            _ => None,
        }
    }

    /// The routing token line, if the token is not an `mstshash` cookie.
    pub fn routing_token(&self) -> Option<&'a [u8]> {
        match self.token {
            Some(Token::RoutingToken(t)) => Some(t),
            _ => None,
        }
    }

    fn li(&self) -> usize {
        6 + self.token.map_or(0, |t| t.encoded_len())
            + self.negotiation.map_or(0, |n| n.encoded_len())
            + self.correlation.map_or(0, |c| c.encoded_len())
            + self.trailing.len()
    }
}

/// A negotiation structure starts here: its type byte, and a full 8 bytes follow.
fn starts_structure(h: &[u8], ty: u8) -> bool {
    h.len() >= 8 && h.first() == Some(&ty)
}

fn find_crlf(h: &[u8]) -> Option<usize> {
    h.iter()
        .take(MAX_TOKEN)
        .zip(h.iter().skip(1))
        .position(|(a, b)| *a == b'\r' && *b == b'\n')
}

impl<'a> ConnectionConfirm<'a> {
    fn parse_header(code: u8, h: &'a [u8]) -> PResult<'a, Self> {
        let (h, dst_ref) = be_u16("DST-REF")(h)?;
        let (h, src_ref) = be_u16("SRC-REF")(h)?;
        let (mut h, class_option) = u8("class option")(h)?;
        let mut negotiation = None;
        if starts_structure(h, TYPE_RDP_NEG_RSP) {
            let (rest, rsp) = NegotiationResponse::parse(h)?;
            negotiation = Some(NegotiationResult::Response(rsp));
            h = rest;
        } else if starts_structure(h, TYPE_RDP_NEG_FAILURE) {
            let (rest, fail) = NegotiationFailure::parse(h)?;
            negotiation = Some(NegotiationResult::Failure(fail));
            h = rest;
        }
        Ok((
            &[],
            Self {
                credit: code & 0x0F,
                dst_ref,
                src_ref,
                class_option,
                negotiation,
                trailing: h,
                user_data: &[],
            },
        ))
    }

    fn li(&self) -> usize {
        6 + self.negotiation.map_or(0, |_| 8) + self.trailing.len()
    }
}

fn encode_fixed(
    dst: &mut Vec<u8>,
    pdu: &'static str,
    li: usize,
    code: u8,
    refs: &[u16],
    last: u8,
) -> Result<(), EncodeError> {
    fit(pdu, "LI", li, MAX_LI)?;
    dst.push(len_u8(li));
    dst.push(code);
    for r in refs {
        dst.extend_from_slice(&r.to_be_bytes());
    }
    dst.push(last);
    Ok(())
}

impl<'a> Pdu<'a> for Tpdu<'a> {
    const NAME: &'static str = "X.224 TPDU";
    const LAYER: Layer = Layer::X224;

    /// Parses a whole TPDU (the TPKT payload): the rest after the TPDU is its user data.
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (user_data, (code, h)) = split_li(i, 1)?;
        let end: &[u8] = &[];
        // CR and CC carry the credit (CDT) in the low nibble; the other codes are exact.
        let kind = if matches!(
            code & 0xF0,
            TPDU_CONNECTION_REQUEST | TPDU_CONNECTION_CONFIRM
        ) {
            code & 0xF0
        } else {
            code
        };
        let tpdu = match kind {
            TPDU_CONNECTION_REQUEST => {
                check_li(start, h, 5)?;
                let (_, mut cr) = ConnectionRequest::parse_header(code, h)?;
                cr.user_data = user_data;
                Tpdu::ConnectionRequest(cr)
            }
            TPDU_CONNECTION_CONFIRM => {
                check_li(start, h, 5)?;
                let (_, mut cc) = ConnectionConfirm::parse_header(code, h)?;
                cc.user_data = user_data;
                Tpdu::ConnectionConfirm(cc)
            }
            TPDU_DISCONNECT_REQUEST => {
                check_li(start, h, 5)?;
                let (h, dst_ref) = be_u16("DST-REF")(h)?;
                let (h, src_ref) = be_u16("SRC-REF")(h)?;
                let (h, reason) = u8("reason")(h)?;
                Tpdu::DisconnectRequest(DisconnectRequest {
                    dst_ref,
                    src_ref,
                    reason,
                    variable: h,
                    user_data,
                })
            }
            TPDU_DATA => {
                check_li(start, h, 1)?;
                let (h, eot) = u8("EOT")(h)?;
                Tpdu::Data(Data {
                    eot,
                    variable: h,
                    payload: user_data,
                })
            }
            TPDU_ERROR => {
                check_li(start, h, 3)?;
                let (h, dst_ref) = be_u16("DST-REF")(h)?;
                let (h, cause) = u8("reject cause")(h)?;
                Tpdu::Error(ErrorTpdu {
                    dst_ref,
                    cause,
                    variable: h,
                    user_data,
                })
            }
            _ => {
                let code_at = start.get(1..).unwrap_or_default();
                return unexpected(code_at, "code", code.into());
            }
        };
        Ok((end, tpdu))
    }

    fn encoded_len(&self) -> usize {
        1 + match self {
            Self::ConnectionRequest(cr) => cr.li() + cr.user_data.len(),
            Self::ConnectionConfirm(cc) => cc.li() + cc.user_data.len(),
            Self::DisconnectRequest(dr) => 6 + dr.variable.len() + dr.user_data.len(),
            Self::Data(dt) => 2 + dt.variable.len() + dt.payload.len(),
            Self::Error(er) => 4 + er.variable.len() + er.user_data.len(),
        }
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::ConnectionRequest(cr) => {
                let code = TPDU_CONNECTION_REQUEST | (cr.credit & 0x0F);
                let refs = [cr.dst_ref, cr.src_ref];
                encode_fixed(dst, "X.224 CR", cr.li(), code, &refs, cr.class_option)?;
                if let Some(t) = cr.token {
                    t.encode(dst);
                }
                if let Some(n) = cr.negotiation {
                    n.encode(dst)?;
                }
                if let Some(c) = cr.correlation {
                    c.encode(dst)?;
                }
                dst.extend_from_slice(cr.trailing);
                dst.extend_from_slice(cr.user_data);
            }
            Self::ConnectionConfirm(cc) => {
                let code = TPDU_CONNECTION_CONFIRM | (cc.credit & 0x0F);
                let refs = [cc.dst_ref, cc.src_ref];
                encode_fixed(dst, "X.224 CC", cc.li(), code, &refs, cc.class_option)?;
                match cc.negotiation {
                    Some(NegotiationResult::Response(r)) => r.encode(dst)?,
                    Some(NegotiationResult::Failure(f)) => f.encode(dst)?,
                    None => {}
                }
                dst.extend_from_slice(cc.trailing);
                dst.extend_from_slice(cc.user_data);
            }
            Self::DisconnectRequest(dr) => {
                let li = 6 + dr.variable.len();
                let refs = [dr.dst_ref, dr.src_ref];
                encode_fixed(
                    dst,
                    "X.224 DR",
                    li,
                    TPDU_DISCONNECT_REQUEST,
                    &refs,
                    dr.reason,
                )?;
                dst.extend_from_slice(dr.variable);
                dst.extend_from_slice(dr.user_data);
            }
            Self::Data(dt) => {
                let li = 2 + dt.variable.len();
                encode_fixed(dst, "X.224 DT", li, TPDU_DATA, &[], dt.eot)?;
                dst.extend_from_slice(dt.variable);
                dst.extend_from_slice(dt.payload);
            }
            Self::Error(er) => {
                let li = 4 + er.variable.len();
                encode_fixed(dst, "X.224 ER", li, TPDU_ERROR, &[er.dst_ref], er.cause)?;
                dst.extend_from_slice(er.variable);
                dst.extend_from_slice(er.user_data);
            }
        }
        Ok(())
    }
}

/// The fixed part after the code byte must be at least `min` bytes.
fn check_li<'a>(
    start: &'a [u8],
    h: &'a [u8],
    min: usize,
) -> Result<(), nom::Err<crate::ParseError<'a>>> {
    if h.len() < min {
        invalid::<()>(
            start,
            "LI",
            "length indicator shorter than the TPDU's fixed part",
        )?;
    }
    Ok(())
}

impl<'a> Tpdu<'a> {
    /// Parses a TPKT and the TPDU inside it.
    pub fn parse_tpkt(i: &'a [u8]) -> PResult<'a, (Tpkt<'a>, Tpdu<'a>)> {
        let (rest, tpkt) = Tpkt::parse(i)?;
        let (_, tpdu) = Tpdu::parse(tpkt.payload)?;
        Ok((rest, (tpkt, tpdu)))
    }

    /// Encodes this TPDU inside a TPKT.
    pub fn encode_tpkt(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        crate::tpkt::encode_header(self.encoded_len(), dst)?;
        self.encode(dst)
    }

    /// The spec name of the TPDU type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConnectionRequest(_) => "Connection Request (CR)",
            Self::ConnectionConfirm(_) => "Connection Confirm (CC)",
            Self::DisconnectRequest(_) => "Disconnect Request (DR)",
            Self::Data(_) => "Data (DT)",
            Self::Error(_) => "TPDU Error (ER)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nego::{FailureCode, NegRequestFlags, SecurityProtocol};
    use crate::{decode, encode_vec, DecodeErrorKind};

    /// [MS-RDPBCGR 4.1.1] Client X.224 Connection Request PDU, with this cookie and
    /// PROTOCOL_SSL|PROTOCOL_HYBRID requested.
    const CR: &[u8] = &[
        0x03, 0x00, 0x00, 0x2C, // TPKT: version 3, length 44
        0x27, // LI 39
        0xE0, // CR, CDT 0
        0x00, 0x00, // DST-REF
        0x00, 0x00, // SRC-REF
        0x00, // class 0
        b'C', b'o', b'o', b'k', b'i', b'e', b':', b' ', b'm', b's', b't', b's', b'h', b'a', b's',
        b'h', b'=', b'e', b'l', b't', b'o', b'n', b's', 0x0D, 0x0A, // cookie
        0x01, // RDP_NEG_REQ
        0x00, // flags
        0x08, 0x00, // length 8
        0x03, 0x00, 0x00, 0x00, // requestedProtocols: SSL | HYBRID
    ];

    /// [MS-RDPBCGR 2.2.1.2.2] Server X.224 Connection Confirm carrying RDP_NEG_FAILURE.
    const CC_FAILURE: &[u8] = &[
        0x03, 0x00, 0x00, 0x13, // TPKT: length 19
        0x0E, // LI 14
        0xD0, // CC
        0x00, 0x00, 0x12, 0x34, 0x00, // DST-REF, SRC-REF, class
        0x03, 0x00, 0x08, 0x00, // RDP_NEG_FAILURE, flags 0, length 8
        0x05, 0x00, 0x00, 0x00, // HYBRID_REQUIRED_BY_SERVER
    ];

    #[test]
    fn connection_request_decode_and_encode() {
        let (_, (_, tpdu)) = Tpdu::parse_tpkt(CR).unwrap();
        let Tpdu::ConnectionRequest(cr) = &tpdu else {
            panic!("not a CR")
        };
        assert_eq!(cr.cookie(), Some(&b"eltons"[..]));
        let neg = cr.negotiation.unwrap();
        assert_eq!(neg.flags, NegRequestFlags::empty());
        assert_eq!(
            neg.requested_protocols,
            SecurityProtocol::SSL | SecurityProtocol::HYBRID
        );
        let mut out = Vec::new();
        tpdu.encode_tpkt(&mut out).unwrap();
        assert_eq!(out, CR);
        assert_eq!(tpdu.encoded_len() + 4, CR.len());
    }

    #[test]
    fn connection_confirm_failure() {
        let (_, (_, tpdu)) = Tpdu::parse_tpkt(CC_FAILURE).unwrap();
        let Tpdu::ConnectionConfirm(cc) = &tpdu else {
            panic!("not a CC")
        };
        let Some(NegotiationResult::Failure(f)) = cc.negotiation else {
            panic!("no failure")
        };
        assert_eq!(f.code, FailureCode::HYBRID_REQUIRED_BY_SERVER);
        assert_eq!(
            format!("{:?}", FailureCode(7)),
            "FailureCode(0x7)",
            "unknown codes survive"
        );
        assert_eq!(encode_vec(&tpdu).unwrap(), &CC_FAILURE[4..]);
    }

    #[test]
    fn errors_name_field_and_offset() {
        // LI says 14 but only 10 bytes follow.
        let e = decode::<Tpdu>(&CC_FAILURE[4..15]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "X.224 TPDU header: not enough bytes: need 14, have 10 at offset 1"
        );
        // An RDP_NEG_FAILURE cut after its type byte: the field and its offset are named.
        let e = decode::<crate::nego::NegotiationFailure>(&CC_FAILURE[11..13]).unwrap_err();
        assert_eq!((e.context, e.offset), ("length", 2));
        assert_eq!(
            e.kind,
            DecodeErrorKind::NotEnoughBytes {
                needed: 2,
                available: 0
            }
        );
        // A CR whose LI is too small for the fixed part.
        let e = decode::<Tpdu>(&[0x02, 0xE0, 0x00]).unwrap_err();
        assert_eq!((e.context, e.offset), ("LI", 0));
    }

    #[test]
    fn li_overflow_is_an_encode_error() {
        let long = [b'x'; 300];
        let cr = ConnectionRequest {
            token: Some(Token::RoutingToken(&long)),
            ..Default::default()
        };
        let err = encode_vec(&Tpdu::ConnectionRequest(cr)).unwrap_err();
        assert!(
            matches!(err, EncodeError::Overflow { field: "LI", .. }),
            "{err}"
        );
    }
}
