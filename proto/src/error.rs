//! Typed decode and encode errors.
//!
//! Parsers run on nom 8 with [`ParseError`] as their error type; it records the remaining input,
//! the innermost field being read (`context`) and why it failed. [`crate::decode`] turns it into
//! an owned [`DecodeError`] that says layer, field and byte offset from the start of the input.

use core::fmt;

/// The protocol layer a PDU belongs to, for error messages and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Frame,
    Tpkt,
    X224,
    Nego,
    Mcs,
    Gcc,
    SlowPath,
    Licensing,
    FastPath,
    Tls,
    CredSsp,
    Ntlm,
    Rdpeudp,
    Tsgu,
    WebSocket,
    Http,
    Kerberos,
    Dns,
}

impl Layer {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Tpkt => "TPKT",
            Self::X224 => "X.224",
            Self::Nego => "RDP negotiation",
            Self::Mcs => "MCS",
            Self::Gcc => "GCC",
            Self::SlowPath => "slow-path",
            Self::Licensing => "licensing",
            Self::FastPath => "fast-path",
            Self::Tls => "TLS",
            Self::CredSsp => "CredSSP",
            Self::Ntlm => "NTLM",
            Self::Rdpeudp => "RDP-UDP",
            Self::Tsgu => "MS-TSGU",
            Self::WebSocket => "WebSocket",
            Self::Http => "HTTP",
            Self::Kerberos => "Kerberos",
            Self::Dns => "DNS",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a field could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("not enough bytes: need {needed}, have {available}")]
    NotEnoughBytes { needed: usize, available: usize },
    #[error("invalid value: {reason}")]
    InvalidField { reason: &'static str },
    #[error("unexpected type 0x{got:02x}")]
    UnexpectedType { got: u32 },
    #[error("too large: {got} exceeds the limit of {limit}")]
    TooLarge { limit: usize, got: usize },
    #[error("{count} unexpected trailing bytes")]
    TrailingBytes { count: usize },
}

/// A decode failure: which layer, which field, how, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{layer} {context}: {kind} at offset {offset}")]
pub struct DecodeError {
    pub layer: Layer,
    /// The spec name of the field (or structure) being read.
    pub context: &'static str,
    /// Byte offset from the start of the decoded input.
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

/// Where `part` (a sub-slice of `whole`) starts within `whole`; `whole.len()` if it is not in it.
pub fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let base = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= base && at <= base + whole.len() {
        at - base
    } else {
        whole.len()
    }
}

/// The nom error type of every parser in this crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError<'a> {
    /// Input remaining where the failure happened.
    pub input: &'a [u8],
    pub context: &'static str,
    pub kind: DecodeErrorKind,
}

impl<'a> ParseError<'a> {
    pub fn new(input: &'a [u8], context: &'static str, kind: DecodeErrorKind) -> Self {
        Self {
            input,
            context,
            kind,
        }
    }

    pub fn invalid(input: &'a [u8], context: &'static str, reason: &'static str) -> Self {
        Self::new(input, context, DecodeErrorKind::InvalidField { reason })
    }

    /// Converts to an owned error, the offset measured from `start` (the whole decoded input).
    ///
    /// Parsers hand sub-slices of `start` around (length-bounded parts), so the offset is the
    /// distance between the two slices' addresses, clamped to the input.
    pub fn into_decode_error(self, layer: Layer, start: &[u8]) -> DecodeError {
        DecodeError {
            layer,
            context: self.context,
            offset: offset_in(start, self.input),
            kind: self.kind,
        }
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for ParseError<'a> {
    fn from_error_kind(input: &'a [u8], kind: nom::error::ErrorKind) -> Self {
        let kind = match kind {
            nom::error::ErrorKind::Eof => DecodeErrorKind::NotEnoughBytes {
                needed: input.len() + 1,
                available: input.len(),
            },
            _ => DecodeErrorKind::InvalidField {
                reason: "malformed",
            },
        };
        Self {
            input,
            context: "",
            kind,
        }
    }

    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a> nom::error::ContextError<&'a [u8]> for ParseError<'a> {
    /// Keeps the innermost context: it names the field that failed.
    fn add_context(_input: &'a [u8], ctx: &'static str, mut other: Self) -> Self {
        if other.context.is_empty() {
            other.context = ctx;
        }
        other
    }
}

/// The result type of every parser in this crate.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, ParseError<'a>>;

/// Encoding failed: a field does not fit its wire representation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{pdu} {field}: value {value} does not fit in {max}")]
    Overflow {
        pdu: &'static str,
        field: &'static str,
        value: usize,
        max: usize,
    },
    #[error("{pdu} {field}: {reason}")]
    Invalid {
        pdu: &'static str,
        field: &'static str,
        reason: &'static str,
    },
}
