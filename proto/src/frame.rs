//! The one streaming deframer: bytes of one direction in, whole frames out, each with its
//! offset in the stream. Shared by the active probe and the capture analyzer.
//!
//! What a frame is depends on the first byte ([MS-RDPBCGR 2.2.9.1.2] "action"):
//!
//! | first byte | frame | length from |
//! |---|---|---|
//! | `0x03` | TPKT ([RFC 1006]) | bytes 2..4, big-endian, header included |
//! | `0x14..=0x18`, then `0x03 0x00..=0x04` | TLS record | bytes 3..5 + 5 |
//! | low two bits 0 | fast-path PDU | length1 / length2 |
//! | `0x30` (in [`Framing::Der`]) | DER SEQUENCE (CredSSP TSRequest) | BER length |
//!
//! Buffering is bounded: [`Deframer::push`] refuses to hold more than its limit, and no frame
//! can be larger than its length field allows (64 KiB).
//!
//! [RFC 1006]: https://www.rfc-editor.org/rfc/rfc1006
//! [MS-RDPBCGR 2.2.9.1.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/a1c4caa8-00ed-45bb-a06e-5177473766d3

use crate::{DecodeError, DecodeErrorKind, Layer};

/// What the next bytes of the stream are expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// TPKT, TLS records or fast-path, told apart by their first byte.
    #[default]
    Rdp,
    /// DER values (CredSSP over an established TLS session).
    Der,
}

/// The kind of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    Tpkt,
    TlsRecord,
    FastPath,
    Der,
}

impl FrameKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tpkt => "TPKT",
            Self::TlsRecord => "TLS record",
            Self::FastPath => "fast-path",
            Self::Der => "DER",
        }
    }
}

/// The result of looking at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The header is not complete yet.
    NeedMore,
    /// A frame of this kind and total length starts here (its body may not be buffered yet).
    Frame { kind: FrameKind, len: usize },
}

/// Largest DER frame accepted.
pub const MAX_DER: usize = 0xFFFF;
/// Default limit of buffered bytes: one maximal frame plus change.
pub const DEFAULT_LIMIT: usize = 128 * 1024;

fn err(offset: usize, context: &'static str, kind: DecodeErrorKind) -> DecodeError {
    DecodeError {
        layer: Layer::Frame,
        context,
        offset,
        kind,
    }
}

/// Reads the frame header at the start of `buf`. `offset` is only used in errors.
pub fn frame_header(buf: &[u8], framing: Framing, offset: usize) -> Result<Header, DecodeError> {
    let Some(&b0) = buf.first() else {
        return Ok(Header::NeedMore);
    };
    let at = |i: usize| buf.get(i).copied();
    if framing == Framing::Der {
        if b0 != 0x30 {
            return Err(err(
                offset,
                "DER tag",
                DecodeErrorKind::UnexpectedType { got: b0.into() },
            ));
        }
        let Some(l0) = at(1) else {
            return Ok(Header::NeedMore);
        };
        if l0 < 0x80 {
            return Ok(Header::Frame {
                kind: FrameKind::Der,
                len: 2 + usize::from(l0),
            });
        }
        let n = usize::from(l0 & 0x7F);
        if n == 0 || n > 3 {
            let reason = "indefinite or oversized DER length";
            return Err(err(
                offset + 1,
                "DER length",
                DecodeErrorKind::InvalidField { reason },
            ));
        }
        let Some(bytes) = buf.get(2..2 + n) else {
            return Ok(Header::NeedMore);
        };
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len > MAX_DER {
            return Err(err(
                offset + 1,
                "DER length",
                DecodeErrorKind::TooLarge {
                    limit: MAX_DER,
                    got: len,
                },
            ));
        }
        return Ok(Header::Frame {
            kind: FrameKind::Der,
            len: 2 + n + len,
        });
    }
    if b0 == crate::tpkt::TPKT_VERSION {
        let (Some(h), Some(l)) = (at(2), at(3)) else {
            return Ok(Header::NeedMore);
        };
        let len = usize::from(u16::from_be_bytes([h, l]));
        if len < crate::tpkt::HEADER_LEN {
            let reason = "TPKT length shorter than its header";
            return Err(err(
                offset + 2,
                "TPKT length",
                DecodeErrorKind::InvalidField { reason },
            ));
        }
        return Ok(Header::Frame {
            kind: FrameKind::Tpkt,
            len,
        });
    }
    if (0x14..=0x18).contains(&b0) {
        match (at(1), at(2)) {
            (None, _) | (Some(0x03), None) => return Ok(Header::NeedMore),
            (Some(0x03), Some(minor)) if minor <= 0x04 => {
                let (Some(h), Some(l)) = (at(3), at(4)) else {
                    return Ok(Header::NeedMore);
                };
                let len = 5 + usize::from(u16::from_be_bytes([h, l]));
                return Ok(Header::Frame {
                    kind: FrameKind::TlsRecord,
                    len,
                });
            }
            _ => {}
        }
    }
    if b0 & 0x03 == crate::fastpath::ACTION_FASTPATH {
        let Some(l1) = at(1) else {
            return Ok(Header::NeedMore);
        };
        let (len, min) = if l1 & 0x80 == 0 {
            (usize::from(l1), 2)
        } else {
            let Some(l2) = at(2) else {
                return Ok(Header::NeedMore);
            };
            ((usize::from(l1 & 0x7F) << 8) | usize::from(l2), 3)
        };
        if len < min {
            let reason = "fast-path length shorter than its header";
            return Err(err(
                offset + 1,
                "fast-path length",
                DecodeErrorKind::InvalidField { reason },
            ));
        }
        return Ok(Header::Frame {
            kind: FrameKind::FastPath,
            len,
        });
    }
    let reason = "not the start of a TPKT, TLS record or fast-path PDU";
    Err(err(
        offset,
        "header",
        DecodeErrorKind::InvalidField { reason },
    ))
}

/// One frame, borrowed from the deframer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: FrameKind,
    /// Offset of the frame's first byte in the stream.
    pub offset: u64,
    /// The whole frame, header included.
    pub bytes: &'a [u8],
}

/// [`Deframer::push`] would exceed the buffer limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("deframer buffer full: {buffered} bytes held, {incoming} more would exceed {limit}")]
pub struct BufferFull {
    pub buffered: usize,
    pub incoming: usize,
    pub limit: usize,
}

/// A sans-IO deframer over one direction of a byte stream.
#[derive(Clone, Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Index in `buf` of the first unconsumed byte.
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    framing: Framing,
    limit: usize,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_LIMIT)
    }

    /// A deframer that holds at most `limit` unconsumed bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            base: 0,
            framing: Framing::Rdp,
            limit,
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// Unconsumed bytes.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Stream offset of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Appends bytes; fails (keeping nothing of `data`) if the limit would be exceeded.
    pub fn push(&mut self, data: &[u8]) -> Result<(), BufferFull> {
        let held = self.buf.len() - self.start;
        if held + data.len() > self.limit {
            return Err(BufferFull {
                buffered: held,
                incoming: data.len(),
                limit: self.limit,
            });
        }
        if self.start > 0 && (self.start == self.buf.len() || self.start >= self.buf.len() / 2) {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Drops `n` unconsumed bytes (resynchronising after garbage).
    pub fn skip(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or an error naming the
    /// stream offset where the bytes stop making sense (the bytes stay; [`Deframer::skip`]).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, DecodeError> {
        let offset = self.offset();
        let rest = self.buf.get(self.start..).unwrap_or_default();
        match frame_header(
            rest,
            self.framing,
            usize::try_from(offset).unwrap_or(usize::MAX),
        )? {
            Header::NeedMore => Ok(None),
            Header::Frame { kind, len } => {
                if len > self.limit {
                    let kind = DecodeErrorKind::TooLarge {
                        limit: self.limit,
                        got: len,
                    };
                    return Err(err(
                        usize::try_from(offset).unwrap_or(usize::MAX),
                        "frame length",
                        kind,
                    ));
                }
                let Some(bytes) = self.buf.get(self.start..self.start + len) else {
                    return Ok(None);
                };
                self.start += len;
                Ok(Some(Frame {
                    kind,
                    offset,
                    bytes,
                }))
            }
        }
    }
}
