//! A deterministic generator of large capture files for benchmarking `rdprobe pcap`: many
//! interleaved RDP connections whose handshakes are real PDUs from `fixtures/pdu` (Standard RDP
//! Security from zeek__rdp-proprietary-encryption, TLS/HYBRID_EX from
//! zeek__rdp-no-cookie-mstshash), then bulk data (fast-path PDUs or TLS records), with some
//! loss (a segment dropped and sent again later), reordering and resets. Ethernet/IPv4/TCP,
//! classic pcap with microsecond timestamps. The same seed gives the same bytes.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Generator settings.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Stop once at least this many bytes are written.
    pub target_bytes: u64,
    /// Connections open at once.
    pub concurrent: usize,
    /// Bulk bytes per connection (each direction gets a share).
    pub bulk_per_connection: usize,
    /// One segment in `loss_every` is dropped and retransmitted later.
    pub loss_every: u32,
    /// One segment in `reorder_every` is swapped with the next one.
    pub reorder_every: u32,
    /// One connection in `reset_every` ends with a server RST mid-handshake.
    pub reset_every: u32,
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            target_bytes: 200 * 1024 * 1024,
            concurrent: 64,
            bulk_per_connection: 512 * 1024,
            loss_every: 200,
            reorder_every: 150,
            reset_every: 10,
            seed: 0x5EED,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default)]
pub struct GenStats {
    pub bytes: u64,
    pub packets: u64,
    pub connections: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Timestamp resolution of a pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Micro,
    Nano,
}

/// A classic pcap file of Ethernet frames: the global header on creation, then one record a
/// packet, counting what it wrote.
pub struct PcapWriter<W: Write> {
    w: W,
    resolution: Resolution,
    pub stats: GenStats,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut w: W, resolution: Resolution) -> io::Result<Self> {
        let magic: u32 = match resolution {
            Resolution::Micro => 0xA1B2_C3D4,
            Resolution::Nano => 0xA1B2_3C4D,
        };
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&magic.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&[0; 8]); // thiszone, sigfigs
        hdr.extend_from_slice(&262_144u32.to_le_bytes()); // snaplen
        hdr.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        w.write_all(&hdr)?;
        let stats = GenStats {
            bytes: 24,
            ..GenStats::default()
        };
        Ok(Self {
            w,
            resolution,
            stats,
        })
    }

    /// One packet at `ts` (microseconds or nanoseconds since the epoch, as the resolution says).
    pub fn packet(&mut self, ts: u64, frame: &[u8]) -> io::Result<()> {
        let per_second = match self.resolution {
            Resolution::Micro => 1_000_000,
            Resolution::Nano => 1_000_000_000,
        };
        let len = frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&((ts / per_second) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts % per_second) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(frame)?;
        self.stats.bytes += 16 + u64::from(len);
        self.stats.packets += 1;
        Ok(())
    }

    /// Flushes, and says what was written.
    pub fn finish(mut self) -> io::Result<GenStats> {
        self.w.flush()?;
        Ok(self.stats)
    }
}

/// The repository's fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A handshake: (client-to-server?, PDU bytes) in order, and how bulk data is framed.
struct Template {
    pdus: Vec<(bool, Vec<u8>)>,
    tls: bool,
}

fn load_template(
    dir: &Path,
    files: std::ops::RangeInclusive<u32>,
    tls: bool,
) -> io::Result<Template> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut pdus = Vec::new();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(n) = name.get(..3).and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if files.contains(&n) {
            pdus.push((name.contains("-c2s-"), std::fs::read(&p)?));
        }
    }
    Ok(Template { pdus, tls })
}

struct Packet {
    ts_us: u64,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Conn {
    client_ip: [u8; 4],
    client_port: u16,
    seq: [u32; 2],
    /// Pending segments (direction, payload) still to send.
    plan: std::collections::VecDeque<(bool, Vec<u8>, u8)>,
    held: Option<Packet>,
}

const SERVER_IP: [u8; 4] = [10, 0, 0, 1];
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn frame(
    c: &Conn,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
    ts_us: u64,
) -> Packet {
    let (src, dst, sport, dport) = if from_client {
        (c.client_ip, SERVER_IP, c.client_port, 3389)
    } else {
        (SERVER_IP, c.client_ip, 3389, c.client_port)
    };
    let mut b = Vec::with_capacity(54 + payload.len());
    b.extend_from_slice(&[0x02, 0, 0, 0, 0, if from_client { 2 } else { 1 }]);
    b.extend_from_slice(&[0x02, 0, 0, 0, 0, if from_client { 1 } else { 2 }]);
    b.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    b.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        if from_client { 128 } else { 64 },
        6,
        0,
        0,
    ]);
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ack.to_be_bytes());
    b.extend_from_slice(&[0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]);
    b.extend_from_slice(payload);
    Packet { ts_us, bytes: b }
}

/// Writes a capture to `w` until `cfg.target_bytes`.
pub fn generate(mut w: impl Write, cfg: &GenConfig) -> io::Result<GenStats> {
    let std_rdp = load_template(
        &fixtures().join("pdu/zeek__rdp-proprietary-encryption"),
        3..=27,
        false,
    )?;
    let tls = load_template(
        &fixtures().join("pdu/zeek__rdp-no-cookie-mstshash"),
        1..=9,
        true,
    )?;
    let mut rng = Rng(cfg.seed | 1);
    let mut out = PcapWriter::new(&mut w, Resolution::Micro)?;
    let mut ts_us: u64 = 1_780_000_000_000_000;
    let mut conns: Vec<Conn> = Vec::new();
    let mut next_port: u32 = 0;
    while out.stats.bytes < cfg.target_bytes {
        while conns.len() < cfg.concurrent {
            let id = next_port;
            next_port += 1;
            out.stats.connections += 1;
            let t = if rng.below(2) == 0 { &std_rdp } else { &tls };
            let mut c = Conn {
                client_ip: [192, 168, (id >> 8 & 0xFF) as u8, (id & 0xFF) as u8],
                client_port: 1024 + (id % 60_000) as u16,
                seq: [rng.next() as u32, rng.next() as u32],
                plan: Default::default(),
                held: None,
            };
            c.plan.push_back((true, Vec::new(), SYN));
            c.plan.push_back((false, Vec::new(), SYN | ACK));
            c.plan.push_back((true, Vec::new(), ACK));
            let reset = rng.below(u64::from(cfg.reset_every)) == 0;
            let cut = if reset {
                rng.below(t.pdus.len() as u64) as usize
            } else {
                usize::MAX
            };
            for (i, (c2s, pdu)) in t.pdus.iter().enumerate() {
                if i == cut {
                    c.plan.push_back((false, Vec::new(), RST | ACK));
                    break;
                }
                c.plan.push_back((*c2s, pdu.clone(), PSH | ACK));
            }
            if !reset {
                let mut left = cfg.bulk_per_connection;
                while left > 0 {
                    let from_client = rng.below(5) == 0;
                    let body = (rng.below(1400) as usize + 40).min(left.max(40));
                    left = left.saturating_sub(body);
                    let mut pdu = Vec::with_capacity(body + 5);
                    if t.tls {
                        pdu.extend_from_slice(&[0x17, 0x03, 0x03, (body >> 8) as u8, body as u8]);
                    } else {
                        let total = body + 3;
                        pdu.extend_from_slice(&[0x80, 0x80 | (total >> 8) as u8, total as u8]);
                    }
                    pdu.extend((0..body).map(|_| rng.next() as u8));
                    c.plan.push_back((from_client, pdu, PSH | ACK));
                }
                c.plan.push_back((true, Vec::new(), FIN | ACK));
                c.plan.push_back((false, Vec::new(), RST | ACK));
            }
            conns.push(c);
        }
        // One segment of a random live connection.
        let i = rng.below(conns.len() as u64) as usize;
        let c = &mut conns[i];
        let Some((from_client, payload, flags)) = c.plan.pop_front() else {
            if let Some(p) = c.held.take() {
                out.packet(p.ts_us, &p.bytes)?;
            }
            conns.swap_remove(i);
            continue;
        };
        ts_us += 50 + rng.below(200);
        let d = usize::from(!from_client);
        let seq = c.seq[d];
        let ack = c.seq[1 - d];
        let p = frame(c, from_client, flags, seq, ack, &payload, ts_us);
        c.seq[d] = seq.wrapping_add(payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0));
        if !payload.is_empty() && rng.below(u64::from(cfg.loss_every)) == 0 {
            // Lost on the way: the sender retransmits it after a timeout, after the next segments.
            let mut retrans = p;
            retrans.ts_us += 200_000;
            c.plan.push_front((from_client, Vec::new(), ACK));
            c.held = Some(retrans);
            continue;
        }
        if !payload.is_empty() && rng.below(u64::from(cfg.reorder_every)) == 0 && c.held.is_none() {
            c.held = Some(p);
            continue;
        }
        out.packet(p.ts_us, &p.bytes)?;
        if let Some(mut h) = c.held.take() {
            h.ts_us = h.ts_us.max(ts_us + 1);
            out.packet(h.ts_us, &h.bytes)?;
        }
    }
    for c in conns.iter_mut() {
        if let Some(p) = c.held.take() {
            out.packet(p.ts_us, &p.bytes)?;
        }
    }
    out.finish()
}

/// A SYN scan against one RDP server, for the flow-scale benchmark: `flows` connection
/// attempts to 203.0.113.10:3389 from 16 scanners in 198.51.100.0/24 (documentation
/// addresses), 100,000 a second. Most get no answer (SYN only, Zeek S0); one in 20 is refused
/// (RST-ACK, REJ); one in 20 is a half-open probe (SYN, SYN-ACK, client RST, RSTOS0-like).
pub fn synscan(mut w: impl Write, flows: u64) -> io::Result<GenStats> {
    let mut out = PcapWriter::new(&mut w, Resolution::Micro)?;
    let server = [203, 0, 113, 10];
    let mut ts_us: u64 = 1_780_000_000_000_000;
    for i in 0..flows {
        let scanner = [198, 51, 100, 1 + (i % 16) as u8];
        let sport = 1024 + ((i / 16) % 64_000) as u16;
        let seq = (i as u32).wrapping_mul(2_654_435_761);
        let to_server =
            |seq, ack, flags| bare_segment(scanner, server, sport, 3389, seq, ack, flags);
        let to_scanner =
            |seq, ack, flags| bare_segment(server, scanner, 3389, sport, seq, ack, flags);
        out.packet(ts_us, &to_server(seq, 0, SYN))?;
        match i % 20 {
            7 => out.packet(ts_us + 50, &to_scanner(0, seq.wrapping_add(1), RST | ACK))?,
            13 => {
                out.packet(ts_us + 50, &to_scanner(77, seq.wrapping_add(1), SYN | ACK))?;
                out.packet(ts_us + 100, &to_server(seq.wrapping_add(1), 0, RST))?;
            }
            _ => {}
        }
        ts_us += 10;
    }
    out.stats.connections = flows;
    out.finish()
}

/// An Ethernet/IPv4/TCP segment without payload.
fn bare_segment(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
) -> [u8; 54] {
    let mut b = [0u8; 54];
    b[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    b[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    b[12..14].copy_from_slice(&[0x08, 0x00]);
    b[14..26].copy_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    b[26..30].copy_from_slice(&src);
    b[30..34].copy_from_slice(&dst);
    b[34..36].copy_from_slice(&sport.to_be_bytes());
    b[36..38].copy_from_slice(&dport.to_be_bytes());
    b[38..42].copy_from_slice(&seq.to_be_bytes());
    b[42..46].copy_from_slice(&ack.to_be_bytes());
    b[46..54].copy_from_slice(&[0x50, flags, 0x04, 0x00, 0, 0, 0, 0]);
    b
}

/// Heavy reordering, for the reassembly-memory check: `flows` connections to port 3389, each a
/// handshake and then `segments` one-byte client segments sent in reverse order (the first
/// byte last), so that every segment but the last has to wait.
pub fn reorder(mut w: impl Write, flows: u32, segments: u32) -> io::Result<GenStats> {
    let mut out = PcapWriter::new(&mut w, Resolution::Micro)?;
    let mut ts_us: u64 = 1_780_000_000_000_000;
    let conns: Vec<Conn> = (0..flows)
        .map(|i| Conn {
            client_ip: [192, 0, 2, 1 + i as u8],
            client_port: 40_000 + i as u16,
            ..Conn::default()
        })
        .collect();
    for c in &conns {
        for p in [
            frame(c, true, SYN, 999, 0, &[], ts_us),
            frame(c, false, SYN | ACK, 4999, 1000, &[], ts_us + 10),
            frame(c, true, ACK, 1000, 5000, &[], ts_us + 20),
        ] {
            out.packet(p.ts_us, &p.bytes)?;
        }
    }
    // A Connection Request's first byte (0x03, TPKT) last: everything after it waits.
    for k in (0..segments).rev() {
        ts_us += 1;
        for c in &conns {
            let byte = if k == 0 { 0x03 } else { 0x00 };
            let p = frame(c, true, ACK | PSH, 1000 + k, 5000, &[byte], ts_us);
            out.packet(p.ts_us, &p.bytes)?;
        }
    }
    out.stats.connections = u64::from(flows);
    out.finish()
}
