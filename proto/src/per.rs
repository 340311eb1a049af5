//! The subset of [X.691] aligned PER that T.125 domain PDUs and T.124 GCC use.
//!
//! [X.691]: https://www.itu.int/rec/T-REC-X.691

use crate::codec::{be_u16, fit, take, u8};
use crate::{EncodeError, PResult};

/// A length determinant; `long` records that the two-octet form was used where one octet
/// would have done (so re-encoding reproduces it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Length {
    pub value: u16,
    pub long: bool,
}

/// Reads a length determinant (one octet < 0x80, or two octets `10xxxxxx xxxxxxxx`).
pub fn parse_length<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, Length> {
    let (rest, first) = u8(ctx)(i)?;
    if first & 0x80 == 0 {
        return Ok((
            rest,
            Length {
                value: first.into(),
                long: false,
            },
        ));
    }
    let (rest, second) = u8(ctx)(rest)?;
    let value = (u16::from(first & 0x3F) << 8) | u16::from(second);
    Ok((
        rest,
        Length {
            value,
            long: value < 0x80,
        },
    ))
}

/// Writes a length determinant in the form `long` asks for (short only when it fits).
pub fn write_length(dst: &mut Vec<u8>, value: usize, long: bool) -> Result<(), EncodeError> {
    fit("PER", "length", value, 0x3FFF)?;
    if !long && value < 0x80 {
        dst.push(crate::codec::len_u8(value));
    } else {
        dst.extend_from_slice(&(0x8000 | crate::codec::len_u16(value)).to_be_bytes());
    }
    Ok(())
}

/// Octets of a length determinant.
pub fn length_len(value: usize, long: bool) -> usize {
    if !long && value < 0x80 {
        1
    } else {
        2
    }
}

/// Reads a constrained 16-bit INTEGER with lower bound `min` (T.125 ChannelId, UserId).
pub fn parse_u16_min<'a>(i: &'a [u8], min: u16, ctx: &'static str) -> PResult<'a, u16> {
    let (rest, raw) = be_u16(ctx)(i)?;
    Ok((rest, raw.wrapping_add(min)))
}

/// Writes a constrained 16-bit INTEGER with lower bound `min`.
pub fn write_u16_min(dst: &mut Vec<u8>, value: u16, min: u16) {
    dst.extend_from_slice(&value.wrapping_sub(min).to_be_bytes());
}

/// Reads an unconstrained INTEGER: a one-octet length then that many octets (at most 4).
/// Returns the value and its width when not minimal (else 0).
pub fn parse_integer<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, (u32, u8)> {
    let (rest, n) = u8(ctx)(i)?;
    if n == 0 || n > 4 {
        return crate::codec::invalid(i, ctx, "INTEGER length must be 1 to 4 octets");
    }
    let (rest, bytes) = take(rest, n.into(), ctx)?;
    let value = bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    let width = if integer_octets(value, 0) == usize::from(n) {
        0
    } else {
        n
    };
    Ok((rest, (value, width)))
}

/// Writes an unconstrained INTEGER in `width` octets (0 = minimal unsigned).
pub fn write_integer(dst: &mut Vec<u8>, value: u32, width: u8) {
    let n = integer_octets(value, width);
    dst.push(crate::codec::len_u8(n));
    let be = value.to_be_bytes();
    dst.extend_from_slice(be.get(4 - n..).unwrap_or_default());
}

/// Content octets of an unconstrained INTEGER.
pub fn integer_octets(value: u32, width: u8) -> usize {
    if (1..=4).contains(&width) {
        return usize::from(width);
    }
    match value {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFF_FFFF => 3,
        _ => 4,
    }
}
