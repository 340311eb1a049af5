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

/// Initial size of the read buffer.
pub const INITIAL_BUFFER: usize = 1024 * 1024;
/// Largest pcap record or pcapng block accepted; anything claiming more is corrupt.
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// The buffer never grows past this (a maximal block plus a record header).
const MAX_BUFFER: usize = MAX_BLOCK + 64;
/// The least room a read gets (unless the buffer is smaller).
const MIN_READ: usize = 256 * 1024;
/// At most this many notices are kept (the last one says that more were dropped).
pub const MAX_NOTICES: usize = 1000;
/// At most this many interfaces per pcapng section.
const MAX_INTERFACES: usize = 65_536;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
const PCAP_MODIFIED_RECORD_LEN: usize = 24;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const OPB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const NRB: u32 = 0x0000_0004;
const ISB: u32 = 0x0000_0005;
const EPB: u32 = 0x0000_0006;
const SJE: u32 = 0x0000_0009;
const DSB: u32 = 0x0000_000A;
const CB_COPY: u32 = 0x0000_0BAD;
const CB_NOCOPY: u32 = 0x4000_0BAD;

/// A link-layer header type (LINKTYPE_* value of the tcpdump.org registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: Self = Self(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: Self = Self(1);
    /// Raw IP under the DLT value most systems use for DLT_RAW (12).
    pub const RAW_12: Self = Self(12);
    /// Raw IP under OpenBSD's DLT_RAW value (14).
    pub const RAW_14: Self = Self(14);
    /// Raw IPv4 or IPv6, version from the first nibble.
    pub const RAW: Self = Self(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: Self = Self(108);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: Self = Self(113);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: Self = Self(276);

    /// A short human name for the link types this crate decodes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NULL => "BSD loopback (NULL)",
            Self::ETHERNET => "Ethernet",
            Self::RAW | Self::RAW_12 | Self::RAW_14 => "raw IP",
            Self::LOOP => "OpenBSD loopback (LOOP)",
            Self::LINUX_SLL => "Linux cooked capture (SLL)",
            Self::IPV4 => "raw IPv4",
            Self::IPV6 => "raw IPv6",
            Self::LINUX_SLL2 => "Linux cooked capture v2 (SLL2)",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

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

#[derive(Clone, Copy, Debug)]
struct PcapInfo {
    big_endian: bool,
    nanosecond: bool,
    modified: bool,
    link: LinkType,
}

/// How an interface's timestamp units convert to nanoseconds.
#[derive(Clone, Copy, Debug)]
enum TsScale {
    Mul(i128),
    Div(i128),
    Shift(u32),
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    scale: TsScale,
    offset_s: i64,
}

impl Interface {
    fn ts_ns(&self, ts: u64) -> i64 {
        let t = i128::from(ts);
        let ns = match self.scale {
            TsScale::Mul(m) => t * m,
            TsScale::Div(d) => t / d,
            TsScale::Shift(n) => (t * 1_000_000_000) >> n,
        };
        let ns = ns + i128::from(self.offset_s) * 1_000_000_000;
        i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
    }
}

/// Decodes `if_tsresol`: MSB clear = 10^-n seconds, MSB set = 2^-n seconds.
fn ts_scale(tsresol: u8) -> (TsScale, bool) {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        let plausible = n <= 19;
        if n <= 9 {
            (TsScale::Mul(10i128.pow(9 - n)), plausible)
        } else {
            (
                TsScale::Div(10i128.checked_pow(n - 9).unwrap_or(i128::MAX)),
                plausible,
            )
        }
    } else {
        (TsScale::Shift(n), n <= 63)
    }
}

#[derive(Debug, Default)]
struct NgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
    spb_time_noticed: bool,
}

/// Where the next pcapng block stands.
enum NgBlock {
    Eof,
    Truncated {
        btype: Option<u32>,
        have: usize,
        need: Option<usize>,
    },
    Block {
        btype: u32,
        len: usize,
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

fn block_name(btype: u32) -> String {
    match btype {
        SHB => "section header block".into(),
        IDB => "interface description block".into(),
        OPB => "obsolete packet block".into(),
        SPB => "simple packet block".into(),
        NRB => "name resolution block".into(),
        ISB => "interface statistics block".into(),
        EPB => "enhanced packet block".into(),
        SJE => "systemd journal export block".into(),
        DSB => "decryption secrets block".into(),
        CB_COPY | CB_NOCOPY => "custom block".into(),
        other => format!("block of type {other:#010x}"),
    }
}

fn is_packet_block(btype: u32) -> bool {
    matches!(btype, EPB | SPB | OPB)
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

    // ---- pcap --------------------------------------------------------------------------

    fn start_pcap(&mut self) -> Result<(), SourceError> {
        if !self.fill(PCAP_HEADER_LEN)? {
            let have = self.available();
            return Err(SourceError::Corrupt {
                offset: have as u64,
                packet: None,
                message: format!(
                    "the file ends inside the {PCAP_HEADER_LEN}-byte pcap file header ({have} \
                     bytes present)"
                ),
            });
        }
        let header = match pcap_parser::parse_pcap_header(self.window(PCAP_HEADER_LEN)) {
            Ok((_, h)) => h,
            Err(e) => {
                return Err(self.corrupt(None, format!("unreadable pcap file header: {e:?}")));
            }
        };
        let raw_link = header.network.0 as u32;
        self.pcap = PcapInfo {
            big_endian: header.is_bigendian(),
            nanosecond: header.is_nanosecond_precision(),
            modified: header.is_modified_format(),
            link: LinkType(raw_link & 0xffff),
        };
        self.format = CaptureFormat::Pcap {
            big_endian: self.pcap.big_endian,
            nanosecond: self.pcap.nanosecond,
        };
        if header.version_major != 2 {
            self.notice(
                None,
                4,
                format!(
                    "unusual pcap version {}.{} in the file header (expected 2.4); reading it \
                     as 2.4",
                    header.version_major, header.version_minor
                ),
            );
        }
        if raw_link & 0x03ff_0000 != 0 {
            self.notice(
                None,
                20,
                format!(
                    "reserved bits set in the link type field {raw_link:#010x}; using link type \
                     {}",
                    raw_link & 0xffff
                ),
            );
        }
        self.consume(PCAP_HEADER_LEN);
        Ok(())
    }

    fn next_pcap(&mut self) -> Result<Option<Meta>, SourceError> {
        let info = self.pcap;
        let number = self.packets + 1;
        let header_len = if info.modified {
            PCAP_MODIFIED_RECORD_LEN
        } else {
            PCAP_RECORD_LEN
        };
        if !self.fill(header_len)? {
            let have = self.available();
            if have > 0 {
                let offset = self.offset;
                self.notice(
                    Some(number),
                    offset,
                    format!(
                        "file ends in the middle of packet {number} at offset {offset}: only \
                         {have} of the {header_len} bytes of its record header are present"
                    ),
                );
            }
            return Ok(None);
        }
        let h = self.window(header_len);
        let be = info.big_endian;
        let ts_sec = u32_at(h, 0, be);
        let ts_frac = u32_at(h, 4, be);
        let caplen = u32_at(h, 8, be);
        let orig_len = u32_at(h, 12, be);
        if caplen as usize > MAX_BLOCK {
            return Err(self.corrupt(
                Some(number),
                format!(
                    "the record header of packet {number} claims {caplen} captured bytes, more \
                     than the {MAX_BLOCK}-byte limit"
                ),
            ));
        }
        let total = header_len + caplen as usize;
        if !self.fill(total)? {
            let have = self.available();
            let offset = self.offset;
            self.notice(
                Some(number),
                offset,
                format!(
                    "file ends in the middle of packet {number} at offset {offset}: only {have} \
                     of its {total} bytes are present"
                ),
            );
            return Ok(None);
        }
        let frac_ns = if info.nanosecond {
            i64::from(ts_frac)
        } else {
            i64::from(ts_frac) * 1000
        };
        let ts_ns = i64::from(ts_sec) * 1_000_000_000 + frac_ns;
        let orig_len = self.check_orig_len(number, caplen, orig_len);
        Ok(Some(Meta {
            data_at: header_len,
            data_len: caplen as usize,
            ts_ns,
            link: info.link,
            interface: 0,
            orig_len,
            consume: total,
        }))
    }

    // ---- pcapng ------------------------------------------------------------------------

    fn start_pcapng(&mut self) -> Result<(), SourceError> {
        self.format = CaptureFormat::PcapNg;
        match self.next_block()? {
            NgBlock::Block { btype: SHB, len } => {
                self.on_shb(len)?;
                self.consume(len);
                Ok(())
            }
            _ => Err(SourceError::Corrupt {
                offset: self.available() as u64,
                packet: None,
                message: "the file ends inside its first pcapng section header block".into(),
            }),
        }
    }

    /// Frames the next block: checks its lengths and buffers all of it.
    fn next_block(&mut self) -> Result<NgBlock, SourceError> {
        if !self.fill(8)? {
            let have = self.available();
            if have == 0 {
                return Ok(NgBlock::Eof);
            }
            let btype = (have >= 4).then(|| u32_at(self.window(4), 0, self.ng.big_endian));
            return Ok(NgBlock::Truncated {
                btype,
                have,
                need: None,
            });
        }
        if self.window(4) == [0x0a, 0x0d, 0x0d, 0x0a] {
            if !self.fill(12)? {
                return Ok(NgBlock::Truncated {
                    btype: Some(SHB),
                    have: self.available(),
                    need: None,
                });
            }
            self.ng.big_endian = match self.window(12).get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => {
                    return Err(self.corrupt(
                        None,
                        format!(
                            "section header block with an invalid byte-order magic (after \
                             packet {})",
                            self.packets
                        ),
                    ))
                }
            };
        }
        let be = self.ng.big_endian;
        let head = self.window(8);
        let btype = u32_at(head, 0, be);
        let len32 = u32_at(head, 4, be);
        let min = match btype {
            SHB => 28,
            IDB => 20,
            EPB | OPB => 32,
            SPB => 16,
            _ => 12,
        };
        let packet = is_packet_block(btype).then_some(self.packets + 1);
        // (only formatted on the error paths: nothing is allocated per block)
        let after = self.packets;
        let what = || match packet {
            Some(n) => format!("the {} of packet {n}", block_name(btype)),
            None => format!("a {} (after packet {after})", block_name(btype)),
        };
        if len32 < min || len32 % 4 != 0 {
            return Err(self.corrupt(
                packet,
                format!("{} has an invalid block length {len32}", what()),
            ));
        }
        if len32 as usize > MAX_BLOCK {
            return Err(self.corrupt(
                packet,
                format!(
                    "{} claims {len32} bytes, more than the {MAX_BLOCK}-byte limit",
                    what()
                ),
            ));
        }
        let len = len32 as usize;
        if !self.fill(len)? {
            return Ok(NgBlock::Truncated {
                btype: Some(btype),
                have: self.available(),
                need: Some(len),
            });
        }
        let trailer = u32_at(self.window(len), len - 4, be);
        if trailer != len32 {
            return Err(self.corrupt(
                packet,
                format!(
                    "{} has a trailing length {trailer} that differs from its leading length \
                     {len32}",
                    what()
                ),
            ));
        }
        Ok(NgBlock::Block { btype, len })
    }

    fn next_pcapng(&mut self) -> Result<Option<Meta>, SourceError> {
        loop {
            match self.next_block()? {
                NgBlock::Eof => return Ok(None),
                NgBlock::Truncated { btype, have, need } => {
                    let offset = self.offset;
                    let number = self.packets + 1;
                    let of = match need {
                        Some(need) => format!("only {have} of its {need} bytes are present"),
                        None => format!("only {have} bytes of its block header are present"),
                    };
                    let (packet, message) = match btype {
                        Some(t) if is_packet_block(t) => (
                            Some(number),
                            format!(
                                "file ends in the middle of packet {number} at offset {offset}: \
                                 {of}"
                            ),
                        ),
                        Some(t) => (
                            None,
                            format!(
                                "file ends in the middle of a {} at offset {offset} (after \
                                 packet {}): {of}",
                                block_name(t),
                                self.packets
                            ),
                        ),
                        None => (
                            None,
                            format!(
                                "file ends in the middle of a block header at offset {offset} \
                                 (after packet {}): {of}",
                                self.packets
                            ),
                        ),
                    };
                    self.notice(packet, offset, message);
                    return Ok(None);
                }
                NgBlock::Block { btype, len } => match btype {
                    SHB => {
                        self.on_shb(len)?;
                        self.consume(len);
                    }
                    IDB => {
                        self.on_idb(len)?;
                        self.consume(len);
                    }
                    EPB | OPB => return self.on_epb(btype, len).map(Some),
                    SPB => return self.on_spb(len).map(Some),
                    SJE | CB_COPY | CB_NOCOPY => {
                        // Wireshark shows journal entries and custom blocks as frames: skip
                        // their numbers so that packet numbers stay Wireshark's frame numbers.
                        self.packets += 1;
                        self.consume(len);
                    }
                    _ => self.consume(len),
                },
            }
        }
    }

    fn on_shb(&mut self, len: usize) -> Result<(), SourceError> {
        let version = match pcap_parser::parse_sectionheaderblock(self.window(len)) {
            Ok((_, shb)) => (shb.major_version, shb.minor_version),
            Err(e) => {
                return Err(self.corrupt(
                    None,
                    format!(
                        "malformed section header block (after packet {}): {e:?}",
                        self.packets
                    ),
                ))
            }
        };
        if version.0 != 1 {
            return Err(self.corrupt(
                None,
                format!(
                    "unsupported pcapng version {}.{} in a section header block (after packet {})",
                    version.0, version.1, self.packets
                ),
            ));
        }
        self.ng.interfaces.clear();
        Ok(())
    }

    fn on_idb(&mut self, len: usize) -> Result<(), SourceError> {
        let be = self.ng.big_endian;
        let block = self.window(len);
        let parsed = if be {
            pcap_parser::parse_interfacedescriptionblock_be(block)
        } else {
            pcap_parser::parse_interfacedescriptionblock_le(block)
        };
        let (link, snaplen, tsresol, offset_s) = match parsed {
            Ok((_, idb)) => {
                let mut tsresol = 6u8;
                let mut offset_s = 0i64;
                for opt in &idb.options {
                    match opt.code.0 {
                        9 => {
                            if let Some(&b) = opt.value().first() {
                                tsresol = b;
                            }
                        }
                        14 => {
                            if let Some(Ok(a)) = opt.value().get(..8).map(<[u8; 8]>::try_from) {
                                offset_s = if be {
                                    i64::from_be_bytes(a)
                                } else {
                                    i64::from_le_bytes(a)
                                };
                            }
                        }
                        _ => {}
                    }
                }
                (
                    LinkType((idb.linktype.0 as u32) & 0xffff),
                    idb.snaplen,
                    tsresol,
                    offset_s,
                )
            }
            Err(e) => {
                return Err(self.corrupt(
                    None,
                    format!(
                        "malformed interface description block (after packet {}): {e:?}",
                        self.packets
                    ),
                ))
            }
        };
        if self.ng.interfaces.len() >= MAX_INTERFACES {
            return Err(self.corrupt(
                None,
                format!("more than {MAX_INTERFACES} interface description blocks in one section"),
            ));
        }
        let (scale, plausible) = ts_scale(tsresol);
        if !plausible {
            let offset = self.offset;
            let id = self.ng.interfaces.len();
            self.notice(
                None,
                offset,
                format!(
                    "interface {id} (block at offset {offset}) has an implausible timestamp \
                     resolution if_tsresol={tsresol:#04x}; its timestamps are probably wrong"
                ),
            );
        }
        self.ng.interfaces.push(Interface {
            link,
            snaplen,
            scale,
            offset_s,
        });
        Ok(())
    }

    fn interface(&self, number: u64, id: u32) -> Result<Interface, SourceError> {
        match self.ng.interfaces.get(id as usize) {
            Some(iface) => Ok(*iface),
            None => Err(self.corrupt(
                Some(number),
                format!(
                    "packet {number} refers to interface {id}, but this section describes only {} \
                     interface(s)",
                    self.ng.interfaces.len()
                ),
            )),
        }
    }

    /// Enhanced (type 6) and obsolete (type 2) packet blocks: same layout but the interface id.
    fn on_epb(&mut self, btype: u32, len: usize) -> Result<Meta, SourceError> {
        let be = self.ng.big_endian;
        let number = self.packets + 1;
        let b = self.window(len);
        let if_id = if btype == EPB {
            u32_at(b, 8, be)
        } else {
            u32::from(u16_at(b, 8, be))
        };
        let ts = (u64::from(u32_at(b, 12, be)) << 32) | u64::from(u32_at(b, 16, be));
        let caplen = u32_at(b, 20, be);
        let orig_len = u32_at(b, 24, be);
        let room = len - 32;
        if caplen as usize > room {
            return Err(self.corrupt(
                Some(number),
                format!(
                    "the {} of packet {number} claims {caplen} captured bytes but has room for \
                     only {room}",
                    block_name(btype)
                ),
            ));
        }
        let iface = self.interface(number, if_id)?;
        let orig_len = self.check_orig_len(number, caplen, orig_len);
        Ok(Meta {
            data_at: 28,
            data_len: caplen as usize,
            ts_ns: iface.ts_ns(ts),
            link: iface.link,
            interface: if_id,
            orig_len,
            consume: len,
        })
    }

    /// Simple packet blocks: interface 0, no timestamp (the previous packet's time is used).
    fn on_spb(&mut self, len: usize) -> Result<Meta, SourceError> {
        let number = self.packets + 1;
        let orig_len = u32_at(self.window(len), 8, self.ng.big_endian);
        let iface = self.interface(number, 0)?;
        let mut caplen = orig_len.min((len - 16) as u32);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        if !self.ng.spb_time_noticed {
            self.ng.spb_time_noticed = true;
            let offset = self.offset;
            self.notice(
                Some(number),
                offset,
                format!(
                    "packet {number} at offset {offset} is a simple packet block, which has no \
                     timestamp: such packets get the time of the packet before them"
                ),
            );
        }
        Ok(Meta {
            data_at: 12,
            data_len: caplen as usize,
            ts_ns: self.last_ts_ns,
            link: iface.link,
            interface: 0,
            orig_len,
            consume: len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_scales() {
        let iface = |r: u8, off: i64| Interface {
            link: LinkType::ETHERNET,
            snaplen: 0,
            scale: ts_scale(r).0,
            offset_s: off,
        };
        assert_eq!(iface(6, 0).ts_ns(1_500_000), 1_500_000_000);
        assert_eq!(iface(9, 0).ts_ns(7), 7);
        assert_eq!(iface(3, 0).ts_ns(2), 2_000_000);
        assert_eq!(iface(12, 0).ts_ns(5_000), 5);
        assert_eq!(iface(0x80 | 10, 0).ts_ns(1024), 1_000_000_000);
        assert_eq!(iface(0x80 | 20, 0).ts_ns(1 << 19), 500_000_000);
        assert_eq!(iface(6, 10).ts_ns(1), 10_000_001_000);
        assert_eq!(iface(0, 0).ts_ns(u64::MAX), i64::MAX);
        assert!(!ts_scale(20).1 && ts_scale(19).1 && !ts_scale(0x80 | 64).1);
    }
}
