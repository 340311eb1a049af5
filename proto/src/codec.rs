//! Reading and writing primitives shared by every layer.
//!
//! Readers are nom parsers over complete input (never `Incomplete`; streaming lives only in
//! [`crate::frame`]). Each takes the spec name of the field it reads, so a failure names it.

use crate::error::{DecodeErrorKind, EncodeError, PResult, ParseError};

/// Splits off `n` bytes, or fails naming `ctx` with how many bytes were missing.
#[inline]
pub(crate) fn take<'a>(i: &'a [u8], n: usize, ctx: &'static str) -> PResult<'a, &'a [u8]> {
    match i.split_at_checked(n) {
        Some((head, rest)) => Ok((rest, head)),
        None => Err(nom::Err::Error(ParseError::new(
            i,
            ctx,
            DecodeErrorKind::NotEnoughBytes {
                needed: n,
                available: i.len(),
            },
        ))),
    }
}

#[inline]
pub(crate) fn array<'a, const N: usize>(
    i: &'a [u8],
    ctx: &'static str,
) -> PResult<'a, &'a [u8; N]> {
    match i.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((rest, head)),
        None => Err(nom::Err::Error(ParseError::new(
            i,
            ctx,
            DecodeErrorKind::NotEnoughBytes {
                needed: N,
                available: i.len(),
            },
        ))),
    }
}

#[inline]
pub(crate) fn u8<'a>(ctx: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, u8> {
    move |i| array::<1>(i, ctx).map(|(r, b)| (r, b[0]))
}

macro_rules! int_reader {
    ($name:ident, $ty:ty, $conv:ident) => {
        #[inline]
        pub(crate) fn $name<'a>(ctx: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, $ty> {
            move |i| {
                array::<{ core::mem::size_of::<$ty>() }>(i, ctx).map(|(r, b)| (r, <$ty>::$conv(*b)))
            }
        }
    };
}
int_reader!(le_u16, u16, from_le_bytes);
int_reader!(le_u32, u32, from_le_bytes);
int_reader!(be_u16, u16, from_be_bytes);
int_reader!(be_u32, u32, from_be_bytes);

/// A big-endian 24-bit integer (TLS handshake lengths).
#[inline]
pub(crate) fn be_u24<'a>(ctx: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, u32> {
    move |i| array::<3>(i, ctx).map(|(r, b)| (r, u32::from_be_bytes([0, b[0], b[1], b[2]])))
}

/// Fails with an `InvalidField` error at `i`.
#[inline]
pub(crate) fn invalid<'a, T>(
    i: &'a [u8],
    ctx: &'static str,
    reason: &'static str,
) -> PResult<'a, T> {
    Err(nom::Err::Error(ParseError::invalid(i, ctx, reason)))
}

/// Fails with `UnexpectedType` at `i`.
#[inline]
pub(crate) fn unexpected<'a, T>(i: &'a [u8], ctx: &'static str, got: u32) -> PResult<'a, T> {
    Err(nom::Err::Error(ParseError::new(
        i,
        ctx,
        DecodeErrorKind::UnexpectedType { got },
    )))
}

/// Fails with `TooLarge` at `i`.
#[inline]
pub(crate) fn too_large<'a, T>(
    i: &'a [u8],
    ctx: &'static str,
    limit: usize,
    got: usize,
) -> PResult<'a, T> {
    Err(nom::Err::Error(ParseError::new(
        i,
        ctx,
        DecodeErrorKind::TooLarge { limit, got },
    )))
}

/// Checks that `value` fits a field of at most `max`, for encoders.
#[inline]
pub(crate) fn fit(
    pdu: &'static str,
    field: &'static str,
    value: usize,
    max: usize,
) -> Result<(), EncodeError> {
    if value > max {
        Err(EncodeError::Overflow {
            pdu,
            field,
            value,
            max,
        })
    } else {
        Ok(())
    }
}

/// `u16` from a length that was checked with [`fit`] (saturates instead of wrapping otherwise).
#[inline]
pub(crate) fn len_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// `u32` from a length that was checked with [`fit`] (saturates instead of wrapping otherwise).
#[inline]
pub(crate) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `u8` from a length that was checked with [`fit`] (saturates instead of wrapping otherwise).
#[inline]
pub(crate) fn len_u8(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// Decodes UTF-16LE up to the first NUL (lossy), as RDP's fixed-size name fields are.
pub fn utf16le_until_nul(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .take_while(|u| *u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes UTF-16LE completely (lossy), for NTLM and AV pair strings.
pub fn utf16le(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes bytes up to the first NUL as Latin-1-ish ASCII (channel names).
pub fn ascii_until_nul(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect()
}

/// Defines an open value set: a newtype over an integer with named constants, whose `Debug`
/// prints the constant's name or the raw number when unknown.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $const:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        $vis struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $const: Self = Self($value); )*

            /// The spec name of a known value.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$const => Some(stringify!($const)), )*
                    _ => None,
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, concat!(stringify!($name), "(0x{:x})"), self.0),
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "0x{:x}", self.0),
                }
            }
        }
    };
}
pub(crate) use open_enum;
