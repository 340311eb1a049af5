//! [RFC 6455 5.2] WebSocket frames, as an RD Gateway's WebSocket transport carries MS-TSGU
//! packets in binary frames (the client's masked). One frame; its payload as on the wire, and
//! unmasked on request.
//!
//! [RFC 6455 5.2]: https://www.rfc-editor.org/rfc/rfc6455#section-5.2

use crate::codec::{array, be_u16, invalid, take, too_large, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

/// The largest payload accepted (an MS-TSGU packet is at most 64 KiB and change).
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// Opcodes (RFC 6455 11.8).
pub const OPCODE_CONTINUATION: u8 = 0x0;
pub const OPCODE_TEXT: u8 = 0x1;
pub const OPCODE_BINARY: u8 = 0x2;
pub const OPCODE_CLOSE: u8 = 0x8;
pub const OPCODE_PING: u8 = 0x9;
pub const OPCODE_PONG: u8 = 0xA;

/// One frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub fin: bool,
    /// RSV1-3 (zero without an extension).
    pub rsv: u8,
    pub opcode: u8,
    /// The masking key of a client's frame.
    pub mask: Option<[u8; 4]>,
    /// The payload as on the wire (masked when `mask` is set).
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// The payload unmasked.
    pub fn unmasked(&self) -> Vec<u8> {
        match self.mask {
            Some(m) => self
                .payload
                .iter()
                .zip(m.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect(),
            None => self.payload.to_vec(),
        }
    }
}

impl<'a> Pdu<'a> for Frame<'a> {
    const NAME: &'static str = "WebSocket frame";
    const LAYER: Layer = Layer::WebSocket;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (r, b0) = u8("FIN, RSV, opcode")(i)?;
        let (r, b1) = u8("MASK, Payload len")(r)?;
        let (r, len) = match b1 & 0x7F {
            126 => {
                let (r, n) = be_u16("Extended payload length")(r)?;
                (r, usize::from(n))
            }
            127 => {
                let (r, n) = array::<8>(r, "Extended payload length")?;
                let n = u64::from_be_bytes(*n);
                if n > MAX_PAYLOAD as u64 {
                    return too_large(r, "Payload len", MAX_PAYLOAD, usize::MAX);
                }
                (r, n as usize)
            }
            n => (r, usize::from(n)),
        };
        if len > MAX_PAYLOAD {
            return too_large(r, "Payload len", MAX_PAYLOAD, len);
        }
        let (r, mask) = if b1 & 0x80 != 0 {
            let (r, m) = array::<4>(r, "Masking-key")?;
            (r, Some(*m))
        } else {
            (r, None)
        };
        let opcode = b0 & 0x0F;
        if opcode >= 0x8 && (len > 125 || b0 & 0x80 == 0) {
            return invalid(
                r,
                "opcode",
                "a control frame longer than 125 bytes or fragmented",
            );
        }
        let (r, payload) = take(r, len, "Payload data")?;
        Ok((
            r,
            Self {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0x07,
                opcode,
                mask,
                payload,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let n = self.payload.len();
        let ext = match n {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + ext + self.mask.map_or(0, |_| 4) + n
    }

    /// With the shortest length encoding.
    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let n = self.payload.len();
        crate::codec::fit(Self::NAME, "Payload len", n, MAX_PAYLOAD)?;
        dst.push(u8::from(self.fin) << 7 | (self.rsv & 0x07) << 4 | (self.opcode & 0x0F));
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match n {
            0..=125 => dst.push(mask_bit | crate::codec::len_u8(n)),
            126..=0xFFFF => {
                dst.push(mask_bit | 126);
                dst.extend_from_slice(&crate::codec::len_u16(n).to_be_bytes());
            }
            _ => {
                dst.push(mask_bit | 127);
                dst.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if let Some(m) = self.mask {
            dst.extend_from_slice(&m);
        }
        dst.extend_from_slice(self.payload);
        Ok(())
    }
}

/// What the WebSocket reader found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Bytes of a binary message (the tunnel's byte stream).
    Data(Vec<u8>),
    /// A ping: answer with this pong.
    Pong(Vec<u8>),
    /// The gateway closed the WebSocket (its status code, if any).
    Closed(Option<u16>),
}

/// Reads WebSocket frames from a stream of bytes (either side's; a server's pings are
/// answered with masked pongs, as a client sends them).
#[derive(Debug, Default)]
pub struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next event, None until a frame is complete; Err for a malformed frame.
    pub fn next_event(&mut self) -> Result<Option<Event>, String> {
        loop {
            let (used, opcode, payload) = match crate::decode_prefix::<Frame>(&self.buf) {
                Ok((rest, f)) => (self.buf.len() - rest.len(), f.opcode, f.unmasked()),
                Err(e) if matches!(e.kind, crate::DecodeErrorKind::NotEnoughBytes { .. }) => {
                    return Ok(None)
                }
                Err(e) => return Err(e.to_string()),
            };
            self.buf.drain(..used);
            return Ok(Some(match opcode {
                OPCODE_BINARY | OPCODE_CONTINUATION => Event::Data(payload),
                OPCODE_CLOSE => {
                    Event::Closed(payload.first_chunk::<2>().map(|c| u16::from_be_bytes(*c)))
                }
                OPCODE_PING => {
                    let mut pong = crate::encode_vec(&Frame {
                        fin: true,
                        rsv: 0,
                        opcode: OPCODE_PONG,
                        mask: Some([0; 4]),
                        payload: &payload,
                    })
                    .unwrap_or_default();
                    pong.shrink_to_fit();
                    Event::Pong(pong)
                }
                OPCODE_PONG => continue,
                other => return Err(format!("a WebSocket frame with opcode {other:#x}")),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode_vec};

    /// RFC 6455 5.7's examples: an unmasked and a masked "Hello", a 256-byte binary frame.
    #[test]
    fn the_rfc_examples() {
        let plain = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let f = decode::<Frame>(&plain).unwrap();
        assert_eq!(
            (f.fin, f.opcode, f.unmasked()),
            (true, OPCODE_TEXT, b"Hello".to_vec())
        );
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let f = decode::<Frame>(&masked).unwrap();
        assert_eq!(f.unmasked(), b"Hello");
        assert_eq!(encode_vec(&f).unwrap(), masked);
        let mut big = vec![0x82, 0x7E, 0x01, 0x00];
        big.extend_from_slice(&[0xAB; 256]);
        let f = decode::<Frame>(&big).unwrap();
        assert_eq!((f.opcode, f.payload.len()), (OPCODE_BINARY, 256));
        // A 64-bit length past the limit, and a long ping, are refused.
        let mut huge = vec![0x82, 0x7F];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(decode::<Frame>(&huge).is_err());
        assert!(decode::<Frame>(&[0x89, 0x7E, 0x00, 0x80]).is_err());
    }
}
