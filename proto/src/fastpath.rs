//! [MS-RDPBCGR 2.2.9.1.2] / [2.2.8.1.2] Fast-path output and input PDU headers: enough to
//! recognise bulk traffic and measure it. The body (possibly encrypted) is kept raw.
//!
//! [MS-RDPBCGR 2.2.9.1.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/a1c4caa8-00ed-45bb-a06e-5177473766d3

use crate::codec::{fit, invalid, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

/// `action` of a fast-path header (bits 0..1): FASTPATH_OUTPUT_ACTION_FASTPATH.
pub const ACTION_FASTPATH: u8 = 0x0;
/// `action` value that marks a TPKT instead (its first byte is 3).
pub const ACTION_X224: u8 = 0x3;
/// Largest fast-path PDU (15-bit length).
pub const MAX_LEN: usize = 0x7FFF;

bitflags::bitflags! {
    /// Header `flags` (bits 6..7).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct FastPathFlags: u8 {
        /// FASTPATH_OUTPUT_SECURE_CHECKSUM / FASTPATH_INPUT_SECURE_CHECKSUM
        const SECURE_CHECKSUM = 0x1;
        /// FASTPATH_OUTPUT_ENCRYPTED / FASTPATH_INPUT_ENCRYPTED
        const ENCRYPTED = 0x2;
    }
}

/// A fast-path PDU: header and raw body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FastPathPdu<'a> {
    /// fpOutputHeader / fpInputHeader: action (bits 0..1), numEvents or reserved (2..5),
    /// flags (6..7).
    pub header: u8,
    /// The length used two bytes (length1 with the high bit set) where one would have done.
    pub long_length: bool,
    /// Everything after the length: fipsInformation, dataSignature, the updates or events.
    pub body: &'a [u8],
}

impl FastPathPdu<'_> {
    pub fn flags(&self) -> FastPathFlags {
        FastPathFlags::from_bits_retain(self.header >> 6)
    }

    /// numEvents of a client input PDU (0 means a numEvents byte follows).
    pub fn num_events(&self) -> u8 {
        (self.header >> 2) & 0x0F
    }
}

/// Reads the fast-path length (1 or 2 bytes): the PDU's total size and whether 2 bytes were used.
pub fn parse_length(i: &[u8]) -> PResult<'_, (usize, bool)> {
    let (i, l1) = u8("length1")(i)?;
    if l1 & 0x80 == 0 {
        return Ok((i, (usize::from(l1), false)));
    }
    let (i, l2) = u8("length2")(i)?;
    let len = (usize::from(l1 & 0x7F) << 8) | usize::from(l2);
    Ok((i, (len, true)))
}

impl<'a> Pdu<'a> for FastPathPdu<'a> {
    const NAME: &'static str = "TS_FP_UPDATE_PDU";
    const LAYER: Layer = Layer::FastPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, header) = u8("fpOutputHeader")(i)?;
        if header & 0x3 != ACTION_FASTPATH {
            return invalid(start, "action", "not a fast-path PDU");
        }
        let (i, (total, long_length)) = parse_length(i)?;
        let header_len = if long_length { 3 } else { 2 };
        let Some(body_len) = total.checked_sub(header_len) else {
            return invalid(start, "length", "shorter than the header");
        };
        let (i, body) = take(i, body_len, "fast-path body")?;
        // Record the two-byte form only where one byte would have done.
        let long_length = long_length && total - 1 <= 0x7F;
        Ok((
            i,
            Self {
                header,
                long_length,
                body,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let short = 2 + self.body.len();
        if !self.long_length && short <= 0x7F {
            short
        } else {
            3 + self.body.len()
        }
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        fit(Self::NAME, "length", len, MAX_LEN)?;
        dst.push(self.header);
        if len == 2 + self.body.len() {
            dst.push(crate::codec::len_u8(len));
        } else {
            dst.extend_from_slice(&(0x8000 | crate::codec::len_u16(len)).to_be_bytes());
        }
        dst.extend_from_slice(self.body);
        Ok(())
    }
}
