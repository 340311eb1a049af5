//! Streaming packet reader for pcap and pcapng capture files.
//!
//! [`PacketReader`] reads any [`Read`] (a file, a pipe, a byte slice) through one buffer that
//! starts at [`INITIAL_BUFFER`] bytes and grows only as far as one record needs, never past
//! [`MAX_BLOCK`]: a record or block that claims more is a corrupt file, not an allocation.
//! Packets borrow their bytes from that buffer, so reading allocates nothing per packet.
//!
//! Formats: classic pcap (micro- and nanosecond magic, both byte orders, and the LE "modified"
//! Kuznetzov variant) and pcapng (any number of sections and interfaces, each interface with its
//! own link type, `if_tsresol` and `if_tsoffset`; enhanced, simple and obsolete packet blocks;
//! every other block type is skipped). `pcap_parser` parses the pcap file header and the
//! pcapng section header and interface description blocks; packet records are framed here, after
//! their length has been checked, so that a hostile length never reaches an allocation.
//!
//! Damage is reported, never panicked on: a file cut in the middle of a record ends the
//! iteration with a [`Notice`]; a record whose framing is impossible (a length beyond the
//! limit, mismatched pcapng block lengths, an unknown interface) is a [`SourceError::Corrupt`]
//! that names the byte offset and the packet number, after which the reader stays finished.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

mod linktype;
mod pcap;
mod pcapng;

pub use linktype::LinkType;
use pcap::PcapInfo;
use pcapng::NgState;

/// Initial size of the read buffer.
pub const INITIAL_BUFFER: usize = 1024 * 1024;
/// Largest pcap record or pcapng block accepted; anything claiming more is corrupt.
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// The buffer never grows past this (a maximal block plus a record header).
const MAX_BUFFER: usize = MAX_BLOCK + 64;
/// The least room a read gets (unless the buffer is smaller).
const MIN_READ: usize = 256 * 1024;
/// Most TLS key log bytes kept from Decryption Secrets Blocks.
pub const MAX_SECRETS: usize = 16 * 1024 * 1024;
/// At most this many notices are kept (the last one says that more were dropped).
pub const MAX_NOTICES: usize = 1000;
/// At most this many interfaces per pcapng section.
const MAX_INTERFACES: usize = 65_536;

/// The container format of the file being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        /// Header fields are big-endian.
        big_endian: bool,
        /// Timestamps have nanosecond (not microsecond) fractions.
        nanosecond: bool,
    },
    /// pcapng (timestamp resolution is per interface).
    PcapNg,
}

/// One captured packet; its bytes borrow the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based position in the file, as Wireshark numbers frames: the numbers of pcapng
    /// blocks that Wireshark lists as frames but are no packets (systemd journal entries,
    /// custom blocks) are skipped.
    pub number: u64,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Link type of the interface this packet was captured on.
    pub link: LinkType,
    /// pcapng interface id (0 for classic pcap).
    pub interface: u32,
    /// Captured bytes (may be fewer than `orig_len` when the snapshot length cut the packet).
    pub data: &'a [u8],
    /// Length of the packet on the wire (never less than `data.len()`).
    pub orig_len: u32,
}

impl Packet<'_> {
    /// True when the capture kept fewer bytes than the packet had on the wire.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}

/// A non-fatal problem met while reading (the file stays readable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The packet concerned, if the problem is about one.
    pub packet: Option<u64>,
    /// Byte offset in the file of the record or block concerned.
    pub offset: u64,
    /// Full description, naming the offset and packet.
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a capture cannot be read (any further).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading failed.
    #[error("read error at byte offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The input has no bytes at all.
    #[error("empty file (0 bytes): not a pcap or pcapng capture")]
    Empty,
    /// The input does not start like a pcap or pcapng file.
    #[error("not a pcap or pcapng capture: {reason}")]
    NotACapture { reason: String },
    /// The file's framing is broken at `offset`; packets before it were good.
    #[error("corrupt capture at byte offset {offset}: {message}")]
    Corrupt {
        offset: u64,
        /// The packet whose record is broken, when the broken record is a packet.
        packet: Option<u64>,
        message: String,
    },
}

/// Where the packet about to be returned lies in the buffer, relative to `start`.
struct Meta {
    data_at: usize,
    data_len: usize,
    ts_ns: i64,
    link: LinkType,
    interface: u32,
    orig_len: u32,
    consume: usize,
}

/// Streaming reader of the packets of one pcap or pcapng file.
pub struct PacketReader<R: Read> {
    input: R,
    buf: Vec<u8>,
    /// First unconsumed byte of `buf`.
    start: usize,
    /// End of the valid bytes of `buf`.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    bytes_read: u64,
    eof: bool,
    /// Bytes of the packet last returned, consumed on the next call.
    pending: usize,
    done: bool,
    packets: u64,
    last_ts_ns: i64,
    notices: Vec<Notice>,
    /// TLS key log text from pcapng Decryption Secrets Blocks, not taken yet.
    secrets: zeroize::Zeroizing<Vec<u8>>,
    format: CaptureFormat,
    pcap: PcapInfo,
    ng: NgState,
}

impl PacketReader<File> {
    /// Opens a capture file and reads its file header.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(file)
    }
}

#[inline]
fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    match b.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
        Some(a) if big_endian => u32::from_be_bytes(a),
        Some(a) => u32::from_le_bytes(a),
        None => 0,
    }
}

#[inline]
fn u16_at(b: &[u8], at: usize, big_endian: bool) -> u16 {
    match b.get(at..at + 2).and_then(|s| <[u8; 2]>::try_from(s).ok()) {
        Some(a) if big_endian => u16::from_be_bytes(a),
        Some(a) => u16::from_le_bytes(a),
        None => 0,
    }
}

fn not_a_capture(magic: [u8; 4]) -> SourceError {
    let hint = match magic {
        [0x1f, 0x8b, ..] => " (gzip-compressed: decompress it first)",
        [0x28, 0xb5, 0x2f, 0xfd] => " (zstd-compressed: decompress it first)",
        [0xfd, b'7', b'z', b'X'] => " (xz-compressed: decompress it first)",
        [b'P', b'K', 3, 4] => " (a zip archive: extract the capture first)",
        [b's', b'n', b'o', b'o'] => " (a snoop capture: convert it with editcap -F pcap)",
        [0x00, 0x00, 0x00, 0x00] => " (zeros)",
        _ => "",
    };
    SourceError::NotACapture {
        reason: format!(
            "starts with bytes {:02x} {:02x} {:02x} {:02x}, which are neither a pcap nor a \
             pcapng magic number{hint}",
            magic[0], magic[1], magic[2], magic[3]
        ),
    }
}

impl<R: Read> PacketReader<R> {
    /// Reads the file header (detecting pcap or pcapng by its magic number).
    pub fn new(input: R) -> Result<Self, SourceError> {
        let mut r = PacketReader {
            input,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            offset: 0,
            bytes_read: 0,
            eof: false,
            pending: 0,
            done: false,
            packets: 0,
            last_ts_ns: 0,
            notices: Vec::new(),
            secrets: Default::default(),
            format: CaptureFormat::PcapNg,
            pcap: PcapInfo {
                big_endian: false,
                nanosecond: false,
                modified: false,
                link: LinkType::ETHERNET,
            },
            ng: NgState::default(),
        };
        if !r.fill(4)? {
            return Err(match r.available() {
                0 => SourceError::Empty,
                n => SourceError::NotACapture {
                    reason: format!("the file is only {n} byte(s) long"),
                },
            });
        }
        let w = r.window(4);
        let magic = [
            w.first().copied().unwrap_or(0),
            w.get(1).copied().unwrap_or(0),
            w.get(2).copied().unwrap_or(0),
            w.get(3).copied().unwrap_or(0),
        ];
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => r.start_pcapng()?,
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1] => r.start_pcap()?,
            [0xa1, 0xb2, 0xcd, 0x34] => {
                return Err(SourceError::NotACapture {
                    reason: "big-endian \"modified\" (Kuznetzov) pcap is not supported; \
                             convert it with editcap -F pcap"
                        .into(),
                })
            }
            _ => return Err(not_a_capture(magic)),
        }
        Ok(r)
    }

    /// The next packet; `Ok(None)` at the end of the file (clean or, with a notice, cut short).
    ///
    /// After an error the reader is finished and returns `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        self.consume(self.pending);
        self.pending = 0;
        if self.done {
            return Ok(None);
        }
        let next = match self.format {
            CaptureFormat::Pcap { .. } => self.next_pcap(),
            CaptureFormat::PcapNg => self.next_pcapng(),
        };
        let meta = match next {
            Ok(Some(meta)) => meta,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.packets += 1;
        self.pending = meta.consume;
        self.last_ts_ns = meta.ts_ns;
        let from = self.start + meta.data_at;
        let data = self.buf.get(from..from + meta.data_len).unwrap_or(&[]);
        Ok(Some(Packet {
            number: self.packets,
            ts_ns: meta.ts_ns,
            link: meta.link,
            interface: meta.interface,
            data,
            orig_len: meta.orig_len,
        }))
    }

    /// Non-fatal problems seen so far.
    /// The TLS key log text of the Decryption Secrets Blocks read since the last call (pcapng
    /// writers put them before the packets they decrypt).
    pub fn take_secrets(&mut self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        (!self.secrets.is_empty()).then(|| std::mem::take(&mut self.secrets))
    }

    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Bytes read from the input so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    // ---- buffer ------------------------------------------------------------------------

    fn available(&self) -> usize {
        self.end - self.start
    }

    /// The first `n` unconsumed bytes (fewer if fewer are buffered).
    fn window(&self, n: usize) -> &[u8] {
        let to = self.end.min(self.start + n);
        self.buf.get(self.start..to).unwrap_or(&[])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.available());
        self.start += n;
        self.offset += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes `n` bytes available from `start`; false if the input ends first.
    fn fill(&mut self, n: usize) -> Result<bool, SourceError> {
        if self.available() >= n {
            return Ok(true);
        }
        if n > MAX_BUFFER {
            return Err(SourceError::Corrupt {
                offset: self.offset,
                packet: None,
                message: format!("a record of {n} bytes exceeds the {MAX_BLOCK}-byte limit"),
            });
        }
        // Reads are large: when the room after the buffered bytes is short, they move to the
        // front first (at most one record's worth), instead of many small reads at the end.
        if self.buf.len() - self.start < n
            || self.buf.len() - self.end < MIN_READ.min(self.buf.len() / 2)
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() < n {
                let grown = (self.buf.len() * 2).clamp(n, MAX_BUFFER.max(n));
                self.buf.resize(grown, 0);
            }
        }
        while self.available() < n {
            if self.eof {
                return Ok(false);
            }
            let Some(space) = self.buf.get_mut(self.end..) else {
                return Ok(false);
            };
            let room = space.len();
            match self.input.read(space) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    let k = k.min(room);
                    self.end += k;
                    self.bytes_read += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SourceError::Io {
                        offset: self.offset + self.available() as u64,
                        source,
                    })
                }
            }
        }
        Ok(true)
    }

    fn notice(&mut self, packet: Option<u64>, offset: u64, message: String) {
        match self.notices.len() {
            n if n + 1 < MAX_NOTICES => self.notices.push(Notice {
                packet,
                offset,
                message,
            }),
            n if n + 1 == MAX_NOTICES => self.notices.push(Notice {
                packet,
                offset,
                message: format!(
                    "more than {MAX_NOTICES} notices; the rest are not recorded (latest: \
                     {message})"
                ),
            }),
            _ => {}
        }
    }

    fn corrupt(&self, packet: Option<u64>, message: String) -> SourceError {
        SourceError::Corrupt {
            offset: self.offset,
            packet,
            message,
        }
    }

    /// Returns `orig_len`, raised to `caplen` (with a notice) when the file claims less.
    fn check_orig_len(&mut self, number: u64, caplen: u32, orig_len: u32) -> u32 {
        if orig_len >= caplen {
            return orig_len;
        }
        let offset = self.offset;
        self.notice(
            Some(number),
            offset,
            format!(
                "packet {number} at offset {offset}: original length {orig_len} is smaller than \
                 the {caplen} captured bytes; using {caplen}"
            ),
        );
        caplen
    }
}
