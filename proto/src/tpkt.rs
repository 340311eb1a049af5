//! [RFC 1006] TPKT: the 4-byte header that frames X.224 TPDUs on TCP.
//!
//! [RFC 1006]: https://www.rfc-editor.org/rfc/rfc1006#section-6

use crate::codec::{be_u16, fit, len_u16, take, u8, unexpected};
use crate::{EncodeError, Layer, PResult, Pdu};

/// TPKT version (`vrsn`): always 3.
pub const TPKT_VERSION: u8 = 3;
/// Size of the TPKT header.
pub const HEADER_LEN: usize = 4;
/// Largest TPKT (the length field is 16 bits and counts the header).
pub const MAX_LEN: usize = 0xFFFF;

/// A TPKT packet: header plus the TPDU it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpkt<'a> {
    /// `reserved` (should be 0; kept as sent).
    pub reserved: u8,
    /// The TPDU (`length` - 4 bytes).
    pub payload: &'a [u8],
}

impl<'a> Pdu<'a> for Tpkt<'a> {
    const NAME: &'static str = "TPKT";
    const LAYER: Layer = Layer::Tpkt;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, version) = u8("vrsn")(i)?;
        if version != TPKT_VERSION {
            return unexpected(start, "vrsn", version.into());
        }
        let (i, reserved) = u8("reserved")(i)?;
        let (i, length) = be_u16("length")(i)?;
        let Some(body) = usize::from(length).checked_sub(HEADER_LEN) else {
            return crate::codec::invalid(start, "length", "shorter than the TPKT header");
        };
        let (i, payload) = take(i, body, "TPDU")?;
        Ok((i, Self { reserved, payload }))
    }

    fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        fit(Self::NAME, "length", len, MAX_LEN)?;
        dst.extend_from_slice(&[TPKT_VERSION, self.reserved]);
        dst.extend_from_slice(&len_u16(len).to_be_bytes());
        dst.extend_from_slice(self.payload);
        Ok(())
    }
}

/// Writes a TPKT header for a TPDU of `body_len` bytes.
pub fn encode_header(body_len: usize, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = body_len + HEADER_LEN;
    fit("TPKT", "length", len, MAX_LEN)?;
    dst.extend_from_slice(&[TPKT_VERSION, 0]);
    dst.extend_from_slice(&len_u16(len).to_be_bytes());
    Ok(())
}
