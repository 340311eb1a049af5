//! The subset of [X.690] BER/DER that T.125 MCS Connect PDUs and MS-CSSP TSRequest use:
//! tags, definite lengths, INTEGER, BOOLEAN, ENUMERATED, OCTET STRING.
//!
//! BER allows several encodings of one value (long-form lengths where the short form would do,
//! integers with extra octets). Encoders in the wild differ (mstsc writes `02 02 ff ff` for
//! 65535, Windows servers `02 03 00 ff f8` for 65528), so parsers record the widths they saw in a
//! [`Layout`] and encoders reuse it: a parsed PDU re-encodes to its own bytes. A zero slot means
//! "minimal" (DER).
//!
//! Nothing here recurses: callers parse known structures field by field.
//!
//! [X.690]: https://www.itu.int/rec/T-REC-X.690

use crate::codec::{fit, invalid, take, too_large, u8, unexpected};
use crate::{EncodeError, PResult};

/// UNIVERSAL 1 BOOLEAN
pub const TAG_BOOLEAN: u8 = 0x01;
/// UNIVERSAL 2 INTEGER
pub const TAG_INTEGER: u8 = 0x02;
/// UNIVERSAL 4 OCTET STRING
pub const TAG_OCTET_STRING: u8 = 0x04;
/// UNIVERSAL 10 ENUMERATED
pub const TAG_ENUMERATED: u8 = 0x0A;
/// UNIVERSAL 16 SEQUENCE (constructed)
pub const TAG_SEQUENCE: u8 = 0x30;

/// Context-specific constructed tag `[n]`.
pub const fn context(n: u8) -> u8 {
    0xA0 | n
}

/// Longest length accepted (4 length octets would allow 4 GiB; nothing in RDP comes close).
pub const MAX_LEN: usize = 0x00FF_FFFF;

/// Per-field encoding widths seen on the wire, in the order the PDU's fields appear.
/// For a length: total octets of the length encoding (1 = short form, 3 = `82 xx xx`).
/// For an INTEGER: content octets. 0 = minimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Layout(pub [u8; 12]);

impl Layout {
    pub fn get(&self, slot: usize) -> u8 {
        self.0.get(slot).copied().unwrap_or(0)
    }

    pub fn set(&mut self, slot: usize, width: u8) {
        if let Some(s) = self.0.get_mut(slot) {
            *s = width;
        }
    }
}

/// Reads one tag byte and checks it.
pub fn expect_tag<'a>(i: &'a [u8], tag: u8, ctx: &'static str) -> PResult<'a, ()> {
    let (rest, t) = u8(ctx)(i)?;
    if t != tag {
        return unexpected(i, ctx, t.into());
    }
    Ok((rest, ()))
}

/// Reads a definite length; returns it and the octets it took.
pub fn parse_length<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, (usize, u8)> {
    let (rest, first) = u8(ctx)(i)?;
    if first < 0x80 {
        return Ok((rest, (usize::from(first), 1)));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 {
        return invalid(i, ctx, "indefinite length");
    }
    if n > 4 {
        return too_large(i, ctx, 4, n);
    }
    let (rest, bytes) = take(rest, n, ctx)?;
    let value = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    if value > MAX_LEN {
        return too_large(i, ctx, MAX_LEN, value);
    }
    Ok((rest, (value, crate::codec::len_u8(n + 1))))
}

/// The layout slot value for a length seen in `octets` octets: 0 when that is minimal.
pub fn len_slot(len: usize, octets: u8) -> u8 {
    if length_octets(len, 0) == usize::from(octets) {
        0
    } else {
        octets
    }
}

/// The layout slot value for an integer seen in `width` content octets: 0 when minimal.
pub fn uint_slot(value: u32, width: u8) -> u8 {
    if uint_octets(value, 0) == usize::from(width) {
        0
    } else {
        width
    }
}

/// Reads `tag`, a length, and that many content bytes; returns the content and the length's
/// layout slot (0 when minimal).
pub fn parse_tlv<'a>(i: &'a [u8], tag: u8, ctx: &'static str) -> PResult<'a, (&'a [u8], u8)> {
    let (i, ()) = expect_tag(i, tag, ctx)?;
    let (i, (len, octets)) = parse_length(i, ctx)?;
    let (i, content) = take(i, len, ctx)?;
    Ok((i, (content, len_slot(len, octets))))
}

/// Reads an INTEGER that must be non-negative and fit 32 bits (a leading 0x00 is allowed; a
/// 4-octet value with the high bit set is read as its unsigned bit pattern, as RDP encoders
/// write them). Returns the value and its layout slot (content octets, 0 when minimal).
pub fn parse_u32<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, (u32, u8)> {
    parse_uint_tagged(i, TAG_INTEGER, ctx)
}

/// Reads an ENUMERATED (same rules as [`parse_u32`]).
pub fn parse_enumerated<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, (u32, u8)> {
    parse_uint_tagged(i, TAG_ENUMERATED, ctx)
}

fn parse_uint_tagged<'a>(i: &'a [u8], tag: u8, ctx: &'static str) -> PResult<'a, (u32, u8)> {
    let (rest, (content, _)) = parse_tlv(i, tag, ctx)?;
    let significant = match content {
        [0, tail @ ..] if content.len() == 5 => tail,
        _ => content,
    };
    if content.is_empty() || significant.len() > 4 {
        return invalid(i, ctx, "integer does not fit 32 bits");
    }
    let value = significant
        .iter()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    Ok((
        rest,
        (value, uint_slot(value, crate::codec::len_u8(content.len()))),
    ))
}

/// Reads a BOOLEAN.
pub fn parse_bool<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, bool> {
    let (rest, (content, _)) = parse_tlv(i, TAG_BOOLEAN, ctx)?;
    match content {
        [b] => Ok((rest, *b != 0)),
        _ => invalid(i, ctx, "BOOLEAN must have one content octet"),
    }
}

/// Octets a length encoding takes: `width` if given, else minimal.
pub fn length_octets(len: usize, width: u8) -> usize {
    if width != 0 {
        return usize::from(width);
    }
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 4,
    }
}

/// Writes a length in `width` octets (0 = minimal).
pub fn write_length(dst: &mut Vec<u8>, len: usize, width: u8) -> Result<(), EncodeError> {
    fit("BER", "length", len, MAX_LEN)?;
    let octets = length_octets(len, width);
    if octets == 1 {
        fit("BER", "length (short form)", len, 0x7F)?;
        dst.push(crate::codec::len_u8(len));
        return Ok(());
    }
    let n = octets - 1;
    if n < 4 {
        fit("BER", "length", len, (1usize << (8 * n)) - 1)?;
    }
    dst.push(0x80 | crate::codec::len_u8(n));
    let be = (len as u64).to_be_bytes();
    dst.extend_from_slice(be.get(8 - n..).unwrap_or_default());
    Ok(())
}

/// Content octets of an unsigned integer: `width` if given, else minimal signed (DER).
pub fn uint_octets(value: u32, width: u8) -> usize {
    if width != 0 {
        return usize::from(width);
    }
    match value {
        0..=0x7F => 1,
        0x80..=0x7FFF => 2,
        0x8000..=0x7F_FFFF => 3,
        0x80_0000..=0x7FFF_FFFF => 4,
        _ => 5,
    }
}

/// Writes `tag` + length + an unsigned integer in `width` content octets (0 = minimal).
pub fn write_uint(dst: &mut Vec<u8>, tag: u8, value: u32, width: u8) -> Result<(), EncodeError> {
    let n = uint_octets(value, width);
    if n < 4 && u64::from(value) >= 1u64 << (8 * n) {
        return Err(EncodeError::Overflow {
            pdu: "BER",
            field: "INTEGER",
            value: value as usize,
            max: (1usize << (8 * n)) - 1,
        });
    }
    dst.push(tag);
    write_length(dst, n, 0)?;
    let be = u64::from(value).to_be_bytes();
    dst.extend_from_slice(be.get(8usize.saturating_sub(n)..).unwrap_or_default());
    Ok(())
}

/// Size of a whole INTEGER TLV.
pub fn uint_len(value: u32, width: u8) -> usize {
    let n = uint_octets(value, width);
    1 + length_octets(n, 0) + n
}

/// Size of a whole TLV whose content is `content_len` bytes.
pub fn tlv_len(content_len: usize, width: u8) -> usize {
    1 + length_octets(content_len, width) + content_len
}

/// Writes `tag`, a length (in `width` octets) and `content`.
pub fn write_tlv(dst: &mut Vec<u8>, tag: u8, content: &[u8], width: u8) -> Result<(), EncodeError> {
    dst.push(tag);
    write_length(dst, content.len(), width)?;
    dst.extend_from_slice(content);
    Ok(())
}
