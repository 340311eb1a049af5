//! # rdp-proto
//!
//! Sans-IO parsers and encoders for every PDU of an RDP connection's start, up to licensing:
//!
//! ```text
//!  TCP bytes ──► frame::Deframer ──► Frame { Tpkt | FastPath | TlsRecord | Der }
//!                                         │
//!   Tpkt ─► x224::Tpdu ─┬─ ConnectionRequest  (cookie / routing token, nego::NegotiationRequest)
//!                       ├─ ConnectionConfirm  (nego::NegotiationResponse / Failure / nothing)
//!                       ├─ DisconnectRequest, Error
//!                       └─ Data ─► mcs::ConnectInitial ─► gcc::ConferenceCreateRequest ─► client blocks
//!                                  mcs::ConnectResponse ─► gcc::ConferenceCreateResponse ─► server blocks
//!                                  mcs::DomainPdu ─► SendData ─► slowpath / licensing
//!   TlsRecord ─► tls::Record ─► Handshake (ClientHello, ServerHello, Certificate), Alert
//!   Der ─► credssp::TsRequest ─► ntlm::{Negotiate, Challenge, Authenticate}
//! ```
//!
//! Every PDU implements [`Pdu`]: `parse` (nom 8, complete input, borrowed payloads), `encode`
//! and `encoded_len`. Open value sets are newtypes with constants, flags keep unknown bits, and
//! unknown GCC blocks survive as raw bytes, so parsing a real PDU and encoding it gives back its
//! bytes. Nothing here touches a socket, a clock or the terminal.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod ber;
pub mod capabilities;
pub(crate) mod codec;
pub mod credssp;
pub mod dns;
pub mod error;
pub mod fastpath;
pub mod frame;
#[cfg(any(fuzzing, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gcc;
pub mod http;
pub mod info;
pub mod kerberos;
pub mod licensing;
pub mod mcs;
pub mod nego;
pub mod ntlm;
pub mod per;
pub mod rdpeudp;
pub mod redirection;
pub mod slowpath;
pub mod tls;
pub mod tpkt;
pub mod tsgu;
pub mod websocket;
pub mod x224;

pub use codec::{ascii_until_nul, utf16le, utf16le_until_nul};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Layer, PResult, ParseError};

/// A PDU that can be parsed from and encoded to its wire form.
pub trait Pdu<'a>: Sized {
    /// The spec name, e.g. `"RDP_NEG_REQ"`.
    const NAME: &'static str;
    /// The layer, for error messages.
    const LAYER: Layer;

    /// Parses one PDU from the start of `i` (complete input) and returns the rest.
    fn parse(i: &'a [u8]) -> PResult<'a, Self>;

    /// The number of bytes [`Pdu::encode`] writes.
    fn encoded_len(&self) -> usize;

    /// Appends the wire form to `dst`.
    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError>;
}

/// Parses exactly one `T` that must span all of `bytes`.
pub fn decode<'a, T: Pdu<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    let (rest, pdu) = decode_prefix::<T>(bytes)?;
    if rest.is_empty() {
        Ok(pdu)
    } else {
        Err(DecodeError {
            layer: T::LAYER,
            context: T::NAME,
            offset: bytes.len() - rest.len(),
            kind: DecodeErrorKind::TrailingBytes { count: rest.len() },
        })
    }
}

/// Parses one `T` from the start of `bytes` and returns it with the bytes after it.
pub fn decode_prefix<'a, T: Pdu<'a>>(bytes: &'a [u8]) -> Result<(&'a [u8], T), DecodeError> {
    match T::parse(bytes) {
        Ok((rest, pdu)) => Ok((rest, pdu)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            let mut e = e.into_decode_error(T::LAYER, bytes);
            if e.context.is_empty() {
                e.context = T::NAME;
            }
            Err(e)
        }
        Err(nom::Err::Incomplete(_)) => Err(DecodeError {
            layer: T::LAYER,
            context: T::NAME,
            offset: bytes.len(),
            kind: DecodeErrorKind::NotEnoughBytes {
                needed: bytes.len() + 1,
                available: bytes.len(),
            },
        }),
    }
}

/// Encodes `pdu` into a new vector of exactly [`Pdu::encoded_len`] bytes.
pub fn encode_vec<'a, T: Pdu<'a>>(pdu: &T) -> Result<Vec<u8>, EncodeError> {
    let mut v = Vec::with_capacity(pdu.encoded_len());
    pdu.encode(&mut v)?;
    Ok(v)
}
