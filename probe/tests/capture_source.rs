//! `capture::source` (pcap/pcapng reading) and `capture::link` (link/IP/TCP/UDP decoding) on the
//! real captures of `fixtures/captures/`, on damaged copies of them, and on small files written
//! here around real packets for the formats and link types no public capture has.
//!
//! Hard-coded values were read with tshark 4.0.17 (`tshark -r FILE -T fields -e frame.number
//! -e frame.time_epoch -e ip.ttl -e ip.id -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags
//! -e tcp.window_size_value -e tcp.len ...`); every packet of every fixture was also compared
//! field by field with tshark's output while writing this file. Set `CAPTURE_TEST_DUMP=DIR` to
//! have the synthesized captures written to DIR, to check them with tshark the same way.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use rdprobe::capture::link::{decode, Decoded, LinkError, TcpSegment, Transport};
use rdprobe::capture::source::{
    CaptureFormat, LinkType, Notice, PacketReader, SourceError, INITIAL_BUFFER, MAX_BLOCK,
};

// ---- helpers ---------------------------------------------------------------------------------

fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/captures")
        .join(rel)
}

fn fixture(rel: &str) -> Vec<u8> {
    let p = fixture_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Writes a synthesized capture to `$CAPTURE_TEST_DUMP/name` when that variable is set.
fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("CAPTURE_TEST_DUMP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// An owned copy of a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pkt {
    number: u64,
    ts_ns: i64,
    link: LinkType,
    interface: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// Everything a reader produced.
#[derive(Debug)]
struct Run {
    format: CaptureFormat,
    packets: Vec<Pkt>,
    notices: Vec<Notice>,
    error: Option<SourceError>,
    bytes_read: u64,
}

fn read_all<R: Read>(input: R) -> Result<Run, SourceError> {
    let mut r = PacketReader::new(input)?;
    let format = r.format();
    let mut packets = Vec::new();
    let error = loop {
        match r.next_packet() {
            Ok(Some(p)) => packets.push(Pkt {
                number: p.number,
                ts_ns: p.ts_ns,
                link: p.link,
                interface: p.interface,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // Finished readers stay finished.
    assert!(matches!(r.next_packet(), Ok(None)));
    Ok(Run {
        format,
        packets,
        notices: r.notices().to_vec(),
        error,
        bytes_read: r.bytes_read(),
    })
}

fn read_bytes(bytes: &[u8]) -> Result<Run, SourceError> {
    read_all(bytes)
}

fn read_fixture(rel: &str) -> Run {
    let mut r = PacketReader::open(&fixture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let format = r.format();
    let mut packets = Vec::new();
    while let Some(p) = r.next_packet().unwrap_or_else(|e| panic!("{rel}: {e}")) {
        packets.push(Pkt {
            number: p.number,
            ts_ns: p.ts_ns,
            link: p.link,
            interface: p.interface,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        });
    }
    Run {
        format,
        packets,
        notices: r.notices().to_vec(),
        error: None,
        bytes_read: r.bytes_read(),
    }
}

/// A `Read` that hands out at most `chunk` bytes per call (and records the largest buffer it
/// was offered, i.e. the reader's buffer size).
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
    calls: usize,
    largest_buf: usize,
}

impl<'a> Trickle<'a> {
    fn new(data: &'a [u8], chunk: usize) -> Self {
        Self {
            data,
            chunk,
            calls: 0,
            largest_buf: 0,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        self.largest_buf = self.largest_buf.max(buf.len());
        // vary the chunk: 1..=chunk bytes
        let n = (1 + self.calls % self.chunk)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Records of a classic little-endian microsecond pcap, parsed independently of the code
/// under test: (ts_sec, ts_usec, data).
fn raw_records(file: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let le = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut off = 24;
    while off < file.len() {
        let caplen = le(off + 8) as usize;
        out.push((
            le(off),
            le(off + 4),
            file[off + 16..off + 16 + caplen].to_vec(),
        ));
        off += 16 + caplen;
    }
    out
}

fn put16(out: &mut Vec<u8>, be: bool, v: u16) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}
fn put32(out: &mut Vec<u8>, be: bool, v: u32) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// A classic pcap file: (ts_ns, captured bytes, original length) per packet.
fn pcap_file(link: u32, be: bool, nano: bool, packets: &[(i64, &[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    put32(&mut out, be, if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    put16(&mut out, be, 2);
    put16(&mut out, be, 4);
    put32(&mut out, be, 0);
    put32(&mut out, be, 0);
    put32(&mut out, be, 262_144);
    put32(&mut out, be, link);
    for &(ts, data, orig) in packets {
        let frac = (ts % 1_000_000_000) as u32;
        put32(&mut out, be, (ts / 1_000_000_000) as u32);
        put32(&mut out, be, if nano { frac } else { frac / 1000 });
        put32(&mut out, be, data.len() as u32);
        put32(&mut out, be, orig);
        out.extend_from_slice(data);
    }
    out
}

/// A pcapng writer.
struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Self {
        let mut ng = Ng {
            be,
            out: Vec::new(),
        };
        ng.shb();
        ng
    }
    fn block(&mut self, btype: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        put32(&mut self.out, self.be, btype);
        put32(&mut self.out, self.be, len);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        put32(&mut self.out, self.be, len);
    }
    fn shb(&mut self) {
        let mut body = Vec::new();
        put32(&mut body, self.be, 0x1a2b_3c4d);
        put16(&mut body, self.be, 1);
        put16(&mut body, self.be, 0);
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body);
    }
    fn options(&self, body: &mut Vec<u8>, options: &[(u16, Vec<u8>)]) {
        if options.is_empty() {
            return;
        }
        for (code, value) in options {
            put16(body, self.be, *code);
            put16(body, self.be, value.len() as u16);
            body.extend_from_slice(value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        put32(body, self.be, 0);
    }
    fn idb(&mut self, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) {
        let mut body = Vec::new();
        put16(&mut body, self.be, link);
        put16(&mut body, self.be, 0);
        put32(&mut body, self.be, snaplen);
        self.options(&mut body, options);
        self.block(1, &body);
    }
    fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], orig_len: u32, options: &[(u16, Vec<u8>)]) {
        let mut body = Vec::new();
        put32(&mut body, self.be, if_id);
        put32(&mut body, self.be, (ts >> 32) as u32);
        put32(&mut body, self.be, ts as u32);
        put32(&mut body, self.be, data.len() as u32);
        put32(&mut body, self.be, orig_len);
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        self.options(&mut body, options);
        self.block(6, &body);
    }
    fn opb(&mut self, if_id: u16, ts: u64, data: &[u8], orig_len: u32) {
        let mut body = Vec::new();
        put16(&mut body, self.be, if_id);
        put16(&mut body, self.be, 0);
        put32(&mut body, self.be, (ts >> 32) as u32);
        put32(&mut body, self.be, ts as u32);
        put32(&mut body, self.be, data.len() as u32);
        put32(&mut body, self.be, orig_len);
        body.extend_from_slice(data);
        self.block(2, &body);
    }
    fn spb(&mut self, data: &[u8], orig_len: u32) {
        let mut body = Vec::new();
        put32(&mut body, self.be, orig_len);
        body.extend_from_slice(data);
        self.block(3, &body);
    }
}

fn tcp<'a>(d: &Decoded<'a>) -> TcpSegment<'a> {
    match d.transport {
        Transport::Tcp(t) => t,
        other => panic!("not TCP: {other:?}"),
    }
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
}

/// (frame, src, dst, ttl, ip id, sport, dport, seq, ack, flags, window, tcp.len, wscale, mss)
type TcpRow = (
    u64,
    &'static str,
    &'static str,
    u8,
    u16,
    u16,
    u16,
    u32,
    u32,
    u8,
    u16,
    u32,
    Option<u8>,
    Option<u16>,
);

fn check_tcp_rows(rel: &str, rows: &[TcpRow]) {
    let run = read_fixture(rel);
    for &(n, src, dst, ttl, id, sport, dport, seq, ack, flags, window, len, ws, mss) in rows {
        let p = &run.packets[n as usize - 1];
        assert_eq!(p.number, n);
        let d = decode(p.link, &p.data).unwrap_or_else(|e| panic!("{rel} frame {n}: {e}"));
        let ctx = format!("{rel} frame {n}");
        assert_eq!((d.src, d.dst), (v4(src), v4(dst)), "{ctx}");
        assert_eq!((d.ttl, d.ip_id, d.vlan), (ttl, Some(id), None), "{ctx}");
        let t = tcp(&d);
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack, t.flags, t.window),
            (sport, dport, seq, ack, flags, window),
            "{ctx}"
        );
        assert_eq!(
            (t.payload_len, t.window_scale, t.mss),
            (len, ws, mss),
            "{ctx}"
        );
        match d.transport {
            Transport::Tcp(t) => assert_eq!(t.payload.len() as u32, len, "{ctx}"),
            _ => unreachable!(),
        }
    }
}

// ---- every fixture ---------------------------------------------------------------------------

const PCAP_US_LE: CaptureFormat = CaptureFormat::Pcap {
    big_endian: false,
    nanosecond: false,
};

/// (file, packets, link type, pcapng?, first timestamp ns, TCP, UDP, not IP)
type FixtureRow = (&'static str, u64, LinkType, bool, i64, u64, u64, u64);

#[rustfmt::skip]
const FIXTURES: &[FixtureRow] = {
    const E: LinkType = LinkType::ETHERNET;
    &[
        ("public/arkime__socks5-rdp.pcap", 10, E, false, 1_386_644_255_859_306_000, 10, 0, 0),
        ("public/chrissanders__tcp_dupack.pcapng", 9, E, true, 1_236_095_711_960_416_000, 9, 0, 0),
        ("public/chrissanders__tcp_handshake.pcapng", 3, E, true, 1_262_893_114_341_715_000, 3, 0, 0),
        ("public/chrissanders__tcp_refuseconnection.pcapng", 2, E, true, 1_246_561_549_394_749_000, 2, 0, 0),
        ("public/chrissanders__tcp_retransmissions.pcapng", 6, E, true, 979_489_081_289_000_000, 6, 0, 0),
        ("public/chrissanders__tcp_teardown.pcapng", 4, E, true, 1_262_904_550_425_302_000, 4, 0, 0),
        ("public/chrissanders__tcp_zerowindowdead.pcapng", 8, E, true, 1_236_095_716_488_634_000, 8, 0, 0),
        ("public/chrissanders__tcp_zerowindowrecovery.pcapng", 7, E, true, 1_276_375_699_407_973_000, 7, 0, 0),
        ("public/ndpi__rdp.pcap", 20, LinkType::NULL, false, 1_559_207_465_138_576_000, 20, 0, 0),
        ("public/ndpi__rdp2.pcap", 39, E, true, 1_622_724_948_504_706_000, 0, 39, 0),
        ("public/ndpi__rdp3.pcap", 30, E, false, 1_138_119_414_226_584_000, 30, 0, 0),
        ("public/ndpi__rdp_over_tls.pcap", 19, E, false, 1_729_281_221_506_087_000, 19, 0, 0),
        ("public/ndpi__tcp_scan.pcapng", 30, E, false, 1_674_583_448_287_506_000, 18, 0, 12),
        ("public/suricata-verify-pr857__encrypted-traffic-metadata-rdp.pcap", 2477, E, false, 1_654_546_605_333_283_000, 170, 2307, 0),
        ("public/suricata-verify__rdp-protocol__RDP-003.pcap", 435, E, false, 1_193_335_591_302_430_000, 435, 0, 0),
        ("public/zeek__modbus-and-non-modbus-p502.pcap", 86, E, false, 1_093_522_326_102_435_000, 86, 0, 0),
        ("public/zeek__rdp-invalid-length.pcap", 7, E, false, 1_678_977_271_599_561_000, 7, 0, 0),
        ("public/zeek__rdp-no-cookie-mstshash.pcap", 20, E, false, 1_739_893_844_587_082_000, 20, 0, 0),
        ("public/zeek__rdp-proprietary-encryption.pcap", 542, E, false, 1_193_369_794_940_913_000, 542, 0, 0),
        ("public/zeek__rdp-to-ssl.pcap", 658, E, false, 1_297_551_041_283_662_000, 658, 0, 0),
        ("public/zeek__rdp-unknown-keyboard.pcap", 11, E, false, 1_423_755_591_055_977_000, 11, 0, 0),
        ("public/zeek__rdp-x509.pcap", 15, E, false, 1_423_755_591_055_977_000, 15, 0, 0),
        ("public/zeek__rdpeudp-handshake-fail.pcap", 3, E, false, 1_580_420_028_819_704_000, 0, 3, 0),
        ("public/zeek__rdpeudp-handshake-success.pcap", 10, E, false, 1_564_522_833_059_088_000, 0, 10, 0),
        ("public/zeek__rdpeudp2-handshake-success.pcap", 10, E, false, 1_583_798_767_072_279_000, 0, 10, 0),
        ("peers/nmap_shadow-nla.pcap", 133, E, false, 1_795_484_645_316_763_000, 133, 0, 0),
        ("peers/nmap_xrdp-negotiate.pcap", 132, E, false, 1_795_484_640_984_684_000, 132, 0, 0),
        ("peers/nmap_xrdp-rdp.pcap", 112, E, false, 1_795_484_636_656_727_000, 112, 0, 0),
        ("peers/sslscan_xrdp-tls-expired.pcap", 359, E, false, 1_795_484_649_894_812_000, 359, 0, 0),
        ("peers/xfreerdp_refused.pcap", 2, E, false, 1_795_484_915_490_808_000, 2, 0, 0),
        ("peers/xfreerdp_shadow-nla.pcap", 73, E, false, 1_795_484_626_761_955_000, 73, 0, 0),
        ("peers/xfreerdp_shadow-nla_wrongpass.pcap", 20, E, false, 1_795_484_630_362_667_000, 20, 0, 0),
        ("peers/xfreerdp_xrdp-negotiate.pcap", 63, E, false, 1_795_484_616_849_438_000, 63, 0, 0),
        ("peers/xfreerdp_xrdp-negotiate_routingtoken.pcap", 70, E, false, 1_795_484_633_065_043_000, 70, 0, 0),
        ("peers/xfreerdp_xrdp-rdp-fips.pcap", 67, E, false, 1_795_484_605_895_645_000, 67, 0, 0),
        ("peers/xfreerdp_xrdp-rdp-low.pcap", 42, E, false, 1_795_484_598_768_845_000, 42, 0, 0),
        ("peers/xfreerdp_xrdp-rdp-medium.pcap", 42, E, false, 1_795_484_602_336_533_000, 42, 0, 0),
        ("peers/xfreerdp_xrdp-rdp-none.pcap", 63, E, false, 1_795_484_609_687_321_000, 63, 0, 0),
        ("peers/xfreerdp_xrdp-rdp.pcap", 42, E, false, 1_795_484_595_216_109_000, 42, 0, 0),
        ("peers/xfreerdp_xrdp-tls-cnmismatch.pcap", 71, E, false, 1_795_484_623_002_274_000, 71, 0, 0),
        ("peers/xfreerdp_xrdp-tls-expired.pcap", 63, E, false, 1_795_484_619_943_582_000, 63, 0, 0),
        ("peers/xfreerdp_xrdp-tls.pcap", 70, E, false, 1_795_484_613_364_068_000, 70, 0, 0),
    ]
};

#[test]
fn every_fixture_reads_whole_with_tshark_counts_timestamps_and_protocols() {
    for &(rel, count, link, ng, first_ts, n_tcp, n_udp, n_not_ip) in FIXTURES {
        let run = read_fixture(rel);
        let expected_format = if ng {
            CaptureFormat::PcapNg
        } else {
            PCAP_US_LE
        };
        assert_eq!(run.format, expected_format, "{rel}");
        assert_eq!(run.packets.len() as u64, count, "{rel}");
        assert!(run.notices.is_empty(), "{rel}: {:?}", run.notices);
        assert_eq!(run.bytes_read, fixture(rel).len() as u64, "{rel}");
        assert_eq!(run.packets[0].ts_ns, first_ts, "{rel}");
        let (mut tcp, mut udp, mut not_ip) = (0, 0, 0);
        for (i, p) in run.packets.iter().enumerate() {
            assert_eq!(p.number, i as u64 + 1, "{rel}");
            assert_eq!((p.link, p.interface), (link, 0), "{rel} frame {}", p.number);
            // no fixture packet was cut by the snapshot length
            assert_eq!(
                p.orig_len as usize,
                p.data.len(),
                "{rel} frame {}",
                p.number
            );
            match decode(p.link, &p.data) {
                Ok(Decoded {
                    transport: Transport::Tcp(_),
                    ..
                }) => tcp += 1,
                Ok(Decoded {
                    transport: Transport::Udp { .. },
                    ..
                }) => udp += 1,
                Err(LinkError::NotIp { ethertype: 0x0806 }) => not_ip += 1,
                other => panic!("{rel} frame {}: {other:?}", p.number),
            }
        }
        assert_eq!((tcp, udp, not_ip), (n_tcp, n_udp, n_not_ip), "{rel}");
    }
}

#[test]
fn reading_through_one_to_seven_byte_reads_gives_the_same_packets() {
    for rel in [
        "public/zeek__rdp-x509.pcap",
        "public/ndpi__rdp2.pcap",
        "public/chrissanders__tcp_dupack.pcapng",
    ] {
        let bytes = fixture(rel);
        let whole = read_bytes(&bytes).unwrap();
        let trickled = read_all(Trickle::new(&bytes, 7)).unwrap();
        assert_eq!(trickled.packets, whole.packets, "{rel}");
        assert!(
            trickled.error.is_none() && trickled.notices.is_empty(),
            "{rel}"
        );
        assert_eq!(trickled.bytes_read, bytes.len() as u64);
    }
}

// ---- field values of specific frames ---------------------------------------------------------

#[test]
fn proprietary_encryption_handshake_and_first_pdus_match_tshark() {
    let a = "172.21.128.16";
    let b = "10.226.24.52";
    #[rustfmt::skip]
    let rows: &[TcpRow] = &[
        (1, a, b, 64, 0xc83b, 1311, 3389, 1_335_429_005, 0, 0x02, 65535, 0, Some(2), Some(1260)),
        (2, b, a, 125, 0xfb5e, 3389, 1311, 979_365_768, 1_335_429_006, 0x12, 16384, 0, Some(0), Some(1460)),
        (3, a, b, 64, 0xc888, 1311, 3389, 1_335_429_006, 979_365_769, 0x10, 65520, 0, None, None),
        (4, a, b, 64, 0xc889, 1311, 3389, 1_335_429_006, 979_365_769, 0x18, 65520, 47, None, None),
        (5, b, a, 125, 0xfb5f, 3389, 1311, 979_365_769, 1_335_429_053, 0x18, 65488, 19, None, None),
    ];
    check_tcp_rows("public/zeek__rdp-proprietary-encryption.pcap", rows);
    let run = read_fixture("public/zeek__rdp-proprietary-encryption.pcap");
    assert_eq!(run.packets[1].ts_ns, 1_193_369_795_013_652_000);
    assert_eq!(run.packets[4].ts_ns, 1_193_369_795_076_086_000);
    // frame 4 is the X.224 Connection Request: TPKT version 3, length 47
    let d = decode(run.packets[3].link, &run.packets[3].data).unwrap();
    match d.transport {
        Transport::Tcp(t) => assert_eq!(&t.payload[..4], &[3, 0, 0, 47]),
        _ => unreachable!(),
    }
}

#[test]
fn dlt_null_loopback_capture_decodes_ecn_syn_and_options() {
    let c = "172.16.2.185";
    let s = "192.168.2.142";
    #[rustfmt::skip]
    let rows: &[TcpRow] = &[
        // SYN with ECE and CWR: the flags byte carries all 8 bits
        (1, c, s, 64, 0x0000, 52494, 3389, 4_189_905_496, 0, 0xc2, 65535, 0, Some(5), Some(1273)),
        (2, s, c, 127, 0x5f94, 3389, 52494, 1_201_323_964, 4_189_905_497, 0x12, 64000, 0, Some(0), Some(1460)),
        (3, c, s, 64, 0x0000, 52494, 3389, 4_189_905_497, 1_201_323_965, 0x10, 8192, 0, None, None),
    ];
    check_tcp_rows("public/ndpi__rdp.pcap", rows);
    let run = read_fixture("public/ndpi__rdp.pcap");
    assert_eq!(run.packets[0].link, LinkType::NULL);
    assert_eq!(
        &run.packets[0].data[..4],
        &[2, 0, 0, 0],
        "AF_INET, little-endian host"
    );
    let t = tcp(&decode(LinkType::NULL, &run.packets[0].data).unwrap());
    assert!(t.has(TcpSegment::SYN | TcpSegment::ECE | TcpSegment::CWR) && !t.has(TcpSegment::ACK));
}

#[test]
fn pcapng_udp_flows_with_and_without_vlan_tags() {
    let run = read_fixture("public/ndpi__rdp2.pcap");
    // (frame, ts, vlan, src, dst, ttl, ip id, sport, dport, UDP payload bytes)
    type UdpRow = (
        usize,
        i64,
        Option<u16>,
        &'static str,
        &'static str,
        u8,
        u16,
        u16,
        u16,
        usize,
    );
    #[rustfmt::skip]
    let rows: &[UdpRow] = &[
        (1, 1_622_724_948_504_706_000, None, "192.168.122.181", "192.168.122.2", 128, 0x963b, 54759, 3389, 1232),
        (7, 1_643_703_419_087_056_000, Some(1308), "10.8.37.100", "10.100.2.87", 125, 0xce3a, 51652, 3389, 338),
        (33, 1_645_516_407_326_363_000, Some(1108), "10.50.181.210", "10.50.73.36", 126, 0x6991, 60355, 3389, 1232),
    ];
    for &(n, ts, vlan, src, dst, ttl, id, sport, dport, len) in rows {
        let p = &run.packets[n - 1];
        assert_eq!(p.ts_ns, ts, "frame {n}");
        let d = decode(p.link, &p.data).unwrap();
        assert_eq!(
            (d.vlan, d.src, d.dst, d.ttl, d.ip_id),
            (vlan, v4(src), v4(dst), ttl, Some(id))
        );
        match d.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => assert_eq!((src_port, dst_port, payload.len()), (sport, dport, len)),
            other => panic!("frame {n}: {other:?}"),
        }
    }
    // frames 7..=32 are the VLAN 1308 flow, 33..=39 the VLAN 1108 one
    let vlans: Vec<Option<u16>> = run
        .packets
        .iter()
        .map(|p| decode(p.link, &p.data).unwrap().vlan)
        .collect();
    assert!(vlans[..6].iter().all(|v| v.is_none()));
    assert!(vlans[6..32].iter().all(|v| *v == Some(1308)));
    assert!(vlans[32..].iter().all(|v| *v == Some(1108)));
}

#[test]
fn vlan_77_tcp_handshake_over_tls_capture() {
    let c = "91.238.181.21";
    let s = "89.31.79.12";
    let run = read_fixture("public/ndpi__rdp_over_tls.pcap");
    #[rustfmt::skip]
    let rows: &[TcpRow] = &[
        (1, c, s, 112, 0x1805, 35888, 3389, 4_159_259_294, 0, 0xc2, 8192, 0, Some(8), Some(1460)),
        (2, s, c, 128, 0x0451, 3389, 35888, 989_763_420, 4_159_259_295, 0x52, 64000, 0, Some(0), Some(1460)),
        (3, c, s, 112, 0x1807, 35888, 3389, 4_159_259_295, 989_763_421, 0x10, 256, 0, None, None),
    ];
    for &(n, src, dst, ttl, id, sport, dport, seq, ack, flags, window, len, ws, mss) in rows {
        let p = &run.packets[n as usize - 1];
        let d = decode(p.link, &p.data).unwrap();
        assert_eq!(d.vlan, Some(77));
        assert_eq!(
            (d.src, d.dst, d.ttl, d.ip_id),
            (v4(src), v4(dst), ttl, Some(id))
        );
        let t = tcp(&d);
        assert_eq!(
            (
                t.src_port,
                t.dst_port,
                t.seq,
                t.ack,
                t.flags,
                t.window,
                t.payload_len
            ),
            (sport, dport, seq, ack, flags, window, len)
        );
        assert_eq!((t.window_scale, t.mss), (ws, mss));
    }
    for p in &run.packets {
        assert_eq!(decode(p.link, &p.data).unwrap().vlan, Some(77));
    }
}

#[test]
fn ipv6_loopback_udp_has_hop_limit_and_no_ip_id() {
    let run = read_fixture("public/zeek__rdpeudp-handshake-success.pcap");
    let one = IpAddr::V6(Ipv6Addr::LOCALHOST);
    // RDPEUDP SYN (snSourceAck -1, window 64, flags) and SYN+ACK (acking the client's
    // initial sequence number 0x0b127f15, which the SYN carries at offset 8)
    let starts: [&[u8]; 2] = [
        &[
            0xff, 0xff, 0xff, 0xff, 0x00, 0x40, 0x18, 0x01, 0x0b, 0x12, 0x7f, 0x15,
        ],
        &[0x0b, 0x12, 0x7f, 0x15],
    ];
    for (i, sport, dport) in [(0, 61291, 3389), (1, 3389, 61291)] {
        let d = decode(run.packets[i].link, &run.packets[i].data).unwrap();
        assert_eq!(
            (d.src, d.dst, d.ttl, d.ip_id, d.vlan),
            (one, one, 128, None, None)
        );
        match d.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                assert_eq!((src_port, dst_port, payload.len()), (sport, dport, 1232));
                assert!(payload.starts_with(starts[i]), "frame {}", i + 1);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(run.packets[1].ts_ns, 1_564_522_833_059_493_000);
}

#[test]
fn bad_tcp_ip_and_udp_checksums_do_not_drop_packets() {
    // zeek__rdp-unknown-keyboard frame 11: TCP checksum 0xf01a, tshark computes 0xd71a.
    let run = read_fixture("public/zeek__rdp-unknown-keyboard.pcap");
    let p = &run.packets[10];
    let t = etherparse::SlicedPacket::from_ethernet(&p.data).unwrap();
    let Some(etherparse::TransportSlice::Tcp(raw)) = &t.transport else {
        panic!()
    };
    let correct = raw
        .calc_checksum_ipv4([192, 168, 1, 1], [192, 168, 1, 2])
        .unwrap();
    assert_eq!((raw.checksum(), correct), (0xf01a, 0xd71a));
    let d = decode(p.link, &p.data).unwrap();
    assert_eq!(
        (d.src, d.dst, d.ttl, d.ip_id),
        (v4("192.168.1.1"), v4("192.168.1.2"), 128, Some(0x2f58))
    );
    let seg = tcp(&d);
    assert_eq!(
        (
            seg.src_port,
            seg.dst_port,
            seg.seq,
            seg.ack,
            seg.flags,
            seg.window,
            seg.payload_len
        ),
        (54990, 3389, 196_150_573, 3_714_419_222, 0x18, 256, 446)
    );
    // zeek__rdpeudp2-handshake-success frame 2: IPv4 header checksum 0 and a bad UDP checksum
    // (offload on the capturing host).
    let run = read_fixture("public/zeek__rdpeudp2-handshake-success.pcap");
    let p = &run.packets[1];
    assert_eq!(&p.data[24..26], &[0, 0], "IPv4 header checksum field");
    let d = decode(p.link, &p.data).unwrap();
    assert_eq!(
        (d.src, d.ttl, d.ip_id),
        (v4("192.168.57.8"), 128, Some(0xc882))
    );
    assert!(matches!(
        d.transport,
        Transport::Udp {
            src_port: 3389,
            dst_port: 65368,
            ..
        }
    ));
}

#[test]
fn arp_frames_are_not_ip_with_a_reason() {
    let run = read_fixture("public/ndpi__tcp_scan.pcapng");
    for i in [0, 1] {
        let e = decode(run.packets[i].link, &run.packets[i].data).unwrap_err();
        assert_eq!(e, LinkError::NotIp { ethertype: 0x0806 });
        assert_eq!(e.to_string(), "not IP: ARP (ethertype 0x0806)");
    }
    // the rest of that file: SYN scans with TTL 255 and IP id 0
    let d = decode(run.packets[2].link, &run.packets[2].data).unwrap();
    assert_eq!((d.ttl, d.ip_id), (255, Some(0)));
    let t = tcp(&d);
    assert_eq!(
        (t.src_port, t.dst_port, t.seq, t.flags),
        (56272, 80, 439_450_770, 0x02)
    );
}

#[test]
fn unsupported_link_type_is_named() {
    let e = decode(LinkType(147), &[0; 40]).unwrap_err();
    assert_eq!(e, LinkError::UnsupportedLinkType(LinkType(147)));
    assert_eq!(e.to_string(), "unsupported link type 147");
    assert_eq!(
        LinkType::LINUX_SLL2.to_string(),
        "Linux cooked capture v2 (SLL2) (276)"
    );
}

// ---- link types and formats no fixture has, around real packets ----------------------------

/// Real Ethernet frames: the first five of the proprietary-encryption capture (IPv4 TCP
/// handshake + X.224 CR/CC) and the first of rdpeudp-handshake-success (IPv6 UDP).
fn real_frames() -> Vec<(u32, u32, Vec<u8>)> {
    let mut frames: Vec<_> = raw_records(&fixture("public/zeek__rdp-proprietary-encryption.pcap"))
        .into_iter()
        .take(5)
        .collect();
    frames.extend(
        raw_records(&fixture("public/zeek__rdpeudp-handshake-success.pcap"))
            .into_iter()
            .take(1),
    );
    frames
}

fn is_v6(frame: &[u8]) -> bool {
    frame[12..14] == [0x86, 0xdd]
}

#[test]
fn synthesized_link_types_decode_like_the_original_ethernet_frames() {
    let frames = real_frames();
    let originals: Vec<Decoded<'_>> = frames
        .iter()
        .map(|(_, _, f)| decode(LinkType::ETHERNET, f).unwrap())
        .collect();
    assert_eq!(tcp(&originals[0]).seq, 1_335_429_005);
    assert_eq!(tcp(&originals[3]).payload_len, 47);

    type Wrap = fn(&[u8], bool) -> Vec<u8>;
    let cases: &[(&str, u32, Wrap)] = &[
        ("sll", 113, |ip, v6| {
            let mut h = vec![0, 0, 0, 1, 0, 6, 0, 0x0c, 0x29, 1, 2, 3, 0, 0];
            h.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
            [h, ip.to_vec()].concat()
        }),
        ("sll2", 276, |ip, v6| {
            let mut h = if v6 {
                vec![0x86, 0xdd]
            } else {
                vec![0x08, 0x00]
            };
            h.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 0, 0x0c, 0x29, 1, 2, 3, 0, 0]);
            [h, ip.to_vec()].concat()
        }),
        ("raw101", 101, |ip, _| ip.to_vec()),
        ("raw12", 12, |ip, _| ip.to_vec()),
        ("raw14", 14, |ip, _| ip.to_vec()),
        ("loop", 108, |ip, v6| {
            [vec![0, 0, 0, if v6 { 24 } else { 2 }], ip.to_vec()].concat()
        }),
        // NULL from a big-endian host (network order family), and the three AF_INET6 values
        ("null_be", 0, |ip, v6| {
            [vec![0, 0, 0, if v6 { 30 } else { 2 }], ip.to_vec()].concat()
        }),
        ("null_af28", 0, |ip, v6| {
            [vec![if v6 { 28 } else { 2 }, 0, 0, 0], ip.to_vec()].concat()
        }),
    ];
    for (name, link, wrap) in cases {
        let packets: Vec<(i64, Vec<u8>)> = frames
            .iter()
            .map(|(s, us, f)| {
                (
                    i64::from(*s) * 1_000_000_000 + i64::from(*us) * 1000,
                    wrap(&f[14..], is_v6(f)),
                )
            })
            .collect();
        let recs: Vec<(i64, &[u8], u32)> = packets
            .iter()
            .map(|(ts, d)| (*ts, d.as_slice(), d.len() as u32))
            .collect();
        let file = pcap_file(*link, false, false, &recs);
        dump(&format!("link_{name}.pcap"), &file);
        let run = read_bytes(&file).unwrap();
        assert_eq!(run.packets.len(), frames.len(), "{name}");
        for (p, orig) in run.packets.iter().zip(&originals) {
            assert_eq!(p.link, LinkType(*link), "{name}");
            let d = decode(p.link, &p.data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&d, orig, "{name} frame {}", p.number);
        }
    }
    // raw IPv4 (228) and raw IPv6 (229) each hold their own version only
    for (link, want_v6) in [(228, false), (229, true)] {
        let recs: Vec<(i64, &[u8], u32)> = frames
            .iter()
            .filter(|(_, _, f)| is_v6(f) == want_v6)
            .map(|(_, _, f)| (0, &f[14..], (f.len() - 14) as u32))
            .collect();
        let file = pcap_file(link, false, false, &recs);
        dump(&format!("link_{link}.pcap"), &file);
        let run = read_bytes(&file).unwrap();
        let want: Vec<&Decoded<'_>> = frames
            .iter()
            .zip(&originals)
            .filter(|((_, _, f), _)| is_v6(f) == want_v6)
            .map(|(_, d)| d)
            .collect();
        assert_eq!(run.packets.len(), want.len());
        for (p, orig) in run.packets.iter().zip(want) {
            assert_eq!(
                &decode(LinkType(link), &p.data).unwrap(),
                orig,
                "link {link}"
            );
        }
    }
}

#[test]
fn qinq_and_802_1q_tags_give_the_outermost_vlan() {
    let frames = real_frames();
    let orig = &frames[3].2; // X.224 CR, untagged
    let base = decode(LinkType::ETHERNET, orig).unwrap();
    let tag = |tpid: u16, vid: u16, next: &[u8]| {
        [
            tpid.to_be_bytes().to_vec(),
            vid.to_be_bytes().to_vec(),
            next.to_vec(),
        ]
        .concat()
    };
    for (name, outer_tpid) in [
        ("8021ad", 0x88a8u16),
        ("qinq9100", 0x9100),
        ("8021q", 0x8100),
    ] {
        // outer tag VID 100 (priority 5 bits set too), inner 802.1Q VID 200, then IPv4
        let mut f = orig[..12].to_vec();
        f.extend(tag(
            outer_tpid,
            0xa000 | 100,
            &tag(0x8100, 200, &[0x08, 0x00]),
        ));
        f.extend_from_slice(&orig[14..]);
        let file = pcap_file(1, false, false, &[(0, &f, f.len() as u32)]);
        dump(&format!("vlan_{name}.pcap"), &file);
        let run = read_bytes(&file).unwrap();
        let d = decode(LinkType::ETHERNET, &run.packets[0].data).unwrap();
        assert_eq!(d.vlan, Some(100), "{name}");
        assert_eq!(Decoded { vlan: None, ..d }, base, "{name}");
    }
}

#[test]
fn pcap_byte_orders_and_nanosecond_timestamps() {
    let frames = real_frames();
    let ts = [
        1_193_369_794_940_913_123i64,
        1_193_369_795_013_652_000,
        0,
        4_294_967_295_999_999_999, // the largest time a pcap record can hold
    ];
    let recs: Vec<(i64, &[u8], u32)> = frames
        .iter()
        .take(4)
        .zip(ts)
        .map(|((_, _, f), t)| (t, f.as_slice(), f.len() as u32))
        .collect();
    for (be, nano) in [(false, false), (true, false), (false, true), (true, true)] {
        let file = pcap_file(1, be, nano, &recs);
        dump(&format!("pcap_be{be}_nano{nano}.pcap"), &file);
        let run = read_bytes(&file).unwrap();
        assert_eq!(
            run.format,
            CaptureFormat::Pcap {
                big_endian: be,
                nanosecond: nano
            }
        );
        let got: Vec<i64> = run.packets.iter().map(|p| p.ts_ns).collect();
        let want: Vec<i64> = ts
            .iter()
            .map(|t| if nano { *t } else { t - t % 1000 })
            .collect();
        assert_eq!(got, want, "be={be} nano={nano}");
        for (p, (_, data, _)) in run.packets.iter().zip(&recs) {
            assert_eq!(&p.data, data);
        }
    }
}

#[test]
fn modified_kuznetzov_pcap_has_24_byte_record_headers() {
    let frames = real_frames();
    let mut file = Vec::new();
    for v in [0xa1b2_cd34u32, 0x0004_0002, 0, 0, 262_144, 1] {
        put32(&mut file, false, v);
    }
    for (s, us, f) in &frames[..3] {
        for v in [*s, *us, f.len() as u32, f.len() as u32, 1] {
            put32(&mut file, false, v);
        }
        file.extend_from_slice(&[0x00, 0x08, 0, 0]); // protocol 0x0800, packet type, padding
        file.extend_from_slice(f);
    }
    dump("pcap_modified.pcap", &file);
    let run = read_bytes(&file).unwrap();
    assert_eq!(run.format, PCAP_US_LE);
    assert_eq!(run.packets.len(), 3);
    for (p, (s, us, f)) in run.packets.iter().zip(&frames) {
        assert_eq!(
            p.ts_ns,
            i64::from(*s) * 1_000_000_000 + i64::from(*us) * 1000
        );
        assert_eq!(&p.data, f);
    }
}

#[test]
fn pcapng_interfaces_resolutions_offsets_block_kinds_and_sections() {
    let frames = real_frames();
    let f1 = &frames[0].2; // Ethernet, IPv4 SYN
    let f4 = &frames[3].2; // Ethernet, IPv4 X.224 CR
    let ip4 = &f4[14..];
    let v6 = &frames[5].2; // Ethernet, IPv6 UDP
    let sll = [
        vec![0, 4, 0, 1, 0, 6, 0, 0x0c, 0x29, 1, 2, 3, 0, 0, 0x86, 0xdd],
        v6[14..].to_vec(),
    ]
    .concat();
    let t0: u64 = 1_193_369_794; // seconds

    let mut ng = Ng::new(false);
    // if 0: Ethernet, default microseconds, snaplen 0
    ng.idb(1, 0, &[(2, b"eth0".to_vec())]);
    // if 1: raw IP, nanoseconds (if_tsresol 9)
    ng.idb(101, 65535, &[(9, vec![9])]);
    // if 2: Linux SLL, 2^-20 s units, if_tsoffset +1000 s
    ng.idb(
        113,
        262_144,
        &[(9, vec![0x80 | 20]), (14, 1000i64.to_le_bytes().to_vec())],
    );
    // if 3: Ethernet, milliseconds
    ng.idb(1, 0, &[(9, vec![3])]);
    // Blocks that tshark 4.0 numbers as frames are marked "frame N"; the others are not.
    ng.epb(0, t0 * 1_000_000 + 940_913, f1, f1.len() as u32, &[]); // frame 1
    ng.block(9, b"__REALTIME_TIMESTAMP=1500000000000000\nMESSAGE=hello\n"); // journal: frame 2
    ng.block(4, &[0, 0, 0, 0]); // name resolution block (empty)
    ng.epb(
        1,
        t0 * 1_000_000_000 + 123_456_789,
        ip4,
        ip4.len() as u32,
        &[(1, b"comment".to_vec())],
    ); // frame 3
    ng.block(5, &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // statistics for interface 2
    ng.epb(2, (t0 << 20) | (1 << 19), &sll, sll.len() as u32, &[]); // frame 4
    ng.block(0x0000_0bad, &[0xd9, 0x7e, 0, 0, 1, 2, 3, 4]); // custom block: frame 5
    ng.block(10, &[0x4b, 0x53, 0x4c, 0x54, 0, 0, 0, 0]); // decryption secrets (empty)
    ng.block(0x4000_0bad, &[0xd9, 0x7e, 0, 0, 1, 2, 3, 4]); // no-copy custom block: frame 6
    ng.opb(3, t0 * 1000 + 7, f4, f4.len() as u32); // frame 7
                                                   // snaplen-cut EPB: 64 of the 101 bytes of the X.224 CR
    ng.epb(0, t0 * 1_000_000 + 1, &f4[..64], f4.len() as u32, &[]); // frame 8
    ng.spb(f1, f1.len() as u32); // frame 9
                                 // a second section, big-endian, whose only interface is raw IPv4 in microseconds
    let mut be = Ng::new(true);
    be.idb(228, 0, &[]);
    be.epb(0, (t0 + 1) * 1_000_000, ip4, ip4.len() as u32, &[]); // frame 10
    ng.out.extend_from_slice(&be.out);
    dump("pcapng_mixed.pcapng", &ng.out);

    let run = read_bytes(&ng.out).unwrap();
    assert_eq!(run.format, CaptureFormat::PcapNg);
    assert!(run.error.is_none());
    let s = 1_000_000_000i64;
    let t0 = t0 as i64;
    // (number, interface, link, ts_ns, data, orig_len), as tshark shows them
    type Want<'a> = (u64, u32, LinkType, i64, &'a [u8], u32);
    #[rustfmt::skip]
    let want: Vec<Want<'_>> = vec![
        (1, 0, LinkType::ETHERNET, t0 * s + 940_913_000, f1, 66),
        (3, 1, LinkType::RAW, t0 * s + 123_456_789, ip4, 87),
        (4, 2, LinkType::LINUX_SLL, (t0 + 1000) * s + 500_000_000, &sll, sll.len() as u32),
        (7, 3, LinkType::ETHERNET, t0 * s + 7_000_000, f4, 101),
        (8, 0, LinkType::ETHERNET, t0 * s + 1000, &f4[..64], 101),
        // the simple packet block has no time (tshark shows none): the previous packet's
        (9, 0, LinkType::ETHERNET, t0 * s + 1000, f1, 66),
        (10, 0, LinkType::IPV4, (t0 + 1) * s, ip4, 87),
    ];
    assert_eq!(run.packets.len(), want.len());
    for (p, &(number, iface, link, ts, data, orig)) in run.packets.iter().zip(&want) {
        assert_eq!(
            (
                p.number,
                p.interface,
                p.link,
                p.ts_ns,
                p.data.as_slice(),
                p.orig_len
            ),
            (number, iface, link, ts, data, orig),
        );
    }
    // the simple packet block's missing time is a notice
    assert_eq!(run.notices.len(), 1, "{:?}", run.notices);
    assert_eq!(run.notices[0].packet, Some(9));
    assert!(run.notices[0].message.contains("no timestamp"));
    // all of them decode; the SLL one like the Ethernet original
    let d = decode(LinkType::LINUX_SLL, &run.packets[2].data).unwrap();
    assert_eq!(d, decode(LinkType::ETHERNET, v6).unwrap());
    for p in &run.packets {
        decode(p.link, &p.data).unwrap();
    }
}

#[test]
fn snaplen_cut_packet_keeps_tcp_header_and_real_segment_length() {
    let frames = real_frames();
    let f4 = &frames[3].2; // 14 + 20 + 20 + 47 bytes
    let file = pcap_file(1, false, false, &[(0, &f4[..64], 101)]);
    let run = read_bytes(&file).unwrap();
    let p = &run.packets[0];
    assert_eq!((p.data.len(), p.orig_len), (64, 101));
    let d = decode(p.link, &p.data).unwrap();
    match d.transport {
        Transport::Tcp(t) => {
            assert_eq!(
                (t.payload.len(), t.payload_len, t.seq),
                (10, 47, 1_335_429_006)
            );
            assert!(t.is_truncated());
            assert_eq!(&t.payload[..4], &[3, 0, 0, 47]);
        }
        other => panic!("{other:?}"),
    }
    // cut inside the TCP header: an error with the reason
    assert_eq!(
        decode(LinkType::ETHERNET, &f4[..14 + 20 + 12]),
        Err(LinkError::Truncated {
            layer: "TCP",
            got: 12,
            needed: 20
        })
    );
    let e = decode(LinkType::ETHERNET, &f4[..14 + 20 + 12]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated TCP header: 12 of 20 bytes present"
    );
    // cut inside the IPv4 header or the Ethernet header
    assert_eq!(
        decode(LinkType::ETHERNET, &f4[..14 + 10]),
        Err(LinkError::Truncated {
            layer: "IPv4",
            got: 10,
            needed: 20
        })
    );
    assert_eq!(
        decode(LinkType::ETHERNET, &f4[..9]),
        Err(LinkError::Truncated {
            layer: "Ethernet",
            got: 9,
            needed: 14
        })
    );
    assert!(matches!(
        decode(LinkType::LINUX_SLL2, &[0x08, 0, 0, 0]),
        Err(LinkError::Truncated {
            got: 4,
            needed: 20,
            ..
        })
    ));
    assert_eq!(
        decode(LinkType::RAW, &[0x55; 30]),
        Err(LinkError::BadIpVersion(5))
    );
    assert!(matches!(
        decode(LinkType::LOOP, &[0, 0, 0, 7, 0x45]),
        Err(LinkError::UnsupportedFamily { family: 7, .. })
    ));
}

#[test]
fn ip_fragments_first_decodes_others_are_skipped_with_a_reason() {
    let frames = real_frames();
    let f4 = &frames[3].2;
    // IPv4 flags/fragment offset are bytes 20..22 of the frame (checksum left stale)
    let mut first = f4.clone();
    first[20..22].copy_from_slice(&0x2000u16.to_be_bytes()); // MF, offset 0
    let d = decode(LinkType::ETHERNET, &first).unwrap();
    assert!(d.more_fragments);
    assert_eq!(tcp(&d).seq, 1_335_429_006);
    let mut later = f4.clone();
    later[20..22].copy_from_slice(&185u16.to_be_bytes()); // offset 185 * 8 = 1480, last
    let e = decode(LinkType::ETHERNET, &later).unwrap_err();
    assert_eq!(
        e,
        LinkError::Fragment {
            offset: 1480,
            protocol: 6
        }
    );
    assert!(e.to_string().contains("non-first IP fragment"), "{e}");

    // IPv6: insert a fragment header (44) before the UDP header
    let v6 = &frames[5].2;
    let with_frag = |offset_m: u16| {
        let mut f = v6[..54].to_vec();
        f[20] = 44; // next header
        let plen = u16::from_be_bytes([f[18], f[19]]) + 8;
        f[18..20].copy_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[17, 0]);
        f.extend_from_slice(&offset_m.to_be_bytes());
        f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        f.extend_from_slice(&v6[54..]);
        f
    };
    let first = with_frag(1); // offset 0, M
    let d = decode(LinkType::ETHERNET, &first).unwrap();
    assert!(d.more_fragments);
    assert!(matches!(
        d.transport,
        Transport::Udp {
            src_port: 61291,
            dst_port: 3389,
            ..
        }
    ));
    assert_eq!(
        decode(LinkType::ETHERNET, &with_frag(154 << 3)),
        Err(LinkError::Fragment {
            offset: 1232,
            protocol: 17
        })
    );
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let frames = real_frames();
    let v6 = &frames[5].2;
    let base = decode(LinkType::ETHERNET, v6).unwrap();
    // hop-by-hop (0) then destination options (60), each 8 bytes with a PadN option
    let mut f = v6[..54].to_vec();
    f[20] = 0;
    let plen = u16::from_be_bytes([f[18], f[19]]) + 16;
    f[18..20].copy_from_slice(&plen.to_be_bytes());
    f.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    f.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    f.extend_from_slice(&v6[54..]);
    let d = decode(LinkType::ETHERNET, &f).unwrap();
    assert_eq!(d, base);
    // cut inside the extension headers
    assert!(matches!(
        decode(LinkType::ETHERNET, &f[..54 + 12]),
        Err(LinkError::Truncated {
            layer: "IPv6 extension",
            ..
        })
    ));
}

// ---- damaged and hostile files ---------------------------------------------------------------

#[test]
fn pcap_cut_in_a_record_ends_with_a_notice_naming_the_packet() {
    let bytes = fixture("public/zeek__rdp-x509.pcap");
    let whole = read_bytes(&bytes).unwrap();
    // record 10 starts at offset 840 (16-byte header + 60 bytes); cut in its data, then in its
    // header
    for (cut, detail) in [
        (840 + 16 + 30, "only 46 of its 76 bytes are present"),
        (
            845,
            "only 5 of the 16 bytes of its record header are present",
        ),
    ] {
        let run = read_bytes(&bytes[..cut]).unwrap();
        assert!(run.error.is_none());
        assert_eq!(run.packets, whole.packets[..9], "cut at {cut}");
        assert_eq!(run.notices.len(), 1);
        let n = &run.notices[0];
        assert_eq!((n.packet, n.offset), (Some(10), 840));
        assert_eq!(
            n.message,
            format!("file ends in the middle of packet 10 at offset 840: {detail}")
        );
    }
    // a cut exactly between records is a clean end
    let run = read_bytes(&bytes[..840]).unwrap();
    assert_eq!((run.packets.len(), run.notices.len()), (9, 0));
}

#[test]
fn pcapng_cut_in_a_block_ends_with_a_notice_naming_the_packet() {
    let bytes = fixture("public/chrissanders__tcp_dupack.pcapng");
    // blocks: SHB 0..28, IDB 28..48, EPBs at 48, 160, 1628, ...
    let run = read_bytes(&bytes[..1628 + 50]).unwrap();
    assert_eq!(run.packets.len(), 2);
    assert_eq!(run.notices.len(), 1);
    assert_eq!(
        (run.notices[0].packet, run.notices[0].offset),
        (Some(3), 1628)
    );
    assert_eq!(
        run.notices[0].message,
        "file ends in the middle of packet 3 at offset 1628: only 50 of its 112 bytes are present"
    );
    let run = read_bytes(&bytes[..1628 + 6]).unwrap();
    assert_eq!(run.packets.len(), 2);
    assert!(
        run.notices[0].message.contains("block header"),
        "{:?}",
        run.notices
    );
    // cut inside the first section header: nothing to read
    assert!(matches!(
        read_bytes(&bytes[..20]),
        Err(SourceError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_pcapng_block_lengths_are_errors_with_offset_and_packet() {
    let bytes = fixture("public/chrissanders__tcp_dupack.pcapng");
    let whole = read_bytes(&bytes).unwrap();
    let epb3 = 1628; // third EPB, 112 bytes
    for (len, says) in [
        (
            116u32,
            "trailing length 6 that differs from its leading length 116",
        ),
        (113, "invalid block length 113"),
        (8, "invalid block length 8"),
        (
            0x7fff_fff0,
            "claims 2147483632 bytes, more than the 16777216-byte limit",
        ),
    ] {
        let mut b = bytes.clone();
        b[epb3 + 4..epb3 + 8].copy_from_slice(&len.to_le_bytes());
        let mut src = Trickle::new(&b, 4096);
        let run = read_all(&mut src).unwrap();
        assert_eq!(run.packets, whole.packets[..2], "len {len}");
        match &run.error {
            Some(
                e @ SourceError::Corrupt {
                    offset: 1628,
                    packet: Some(3),
                    message,
                },
            ) => {
                assert!(message.contains(says), "{message}");
                assert!(message.contains("packet 3"), "{message}");
                assert!(e
                    .to_string()
                    .starts_with("corrupt capture at byte offset 1628: "));
            }
            other => panic!("len {len}: {other:?}"),
        }
        assert!(
            src.largest_buf <= INITIAL_BUFFER,
            "buffer grew for len {len}"
        );
    }
    // captured length larger than the block, unknown interface
    let mut b = bytes.clone();
    b[epb3 + 20..epb3 + 24].copy_from_slice(&200u32.to_le_bytes());
    let run = read_bytes(&b).unwrap();
    assert!(
        matches!(&run.error, Some(SourceError::Corrupt { offset: 1628, packet: Some(3), message }) if message.contains("claims 200 captured bytes but has room for only 80")),
        "{:?}",
        run.error
    );
    let mut b = bytes.clone();
    b[epb3 + 8..epb3 + 12].copy_from_slice(&5u32.to_le_bytes());
    let run = read_bytes(&b).unwrap();
    let e = run.error.unwrap();
    assert_eq!(
        e.to_string(),
        "corrupt capture at byte offset 1628: packet 3 refers to interface 5, but this section \
         describes only 1 interface(s)"
    );
}

#[test]
fn huge_pcap_record_length_is_an_error_not_an_allocation() {
    let bytes = fixture("public/zeek__rdp-x509.pcap");
    let whole = read_bytes(&bytes).unwrap();
    // record 2 at offset 106: caplen field at 106 + 8
    for caplen in [0x7fff_ffffu32, 0xffff_ffff, MAX_BLOCK as u32 + 1] {
        let mut b = bytes.clone();
        b[114..118].copy_from_slice(&caplen.to_le_bytes());
        let mut src = Trickle::new(&b, 1000);
        let run = read_all(&mut src).unwrap();
        assert_eq!(run.packets, whole.packets[..1]);
        match run.error {
            Some(SourceError::Corrupt {
                offset: 106,
                packet: Some(2),
                message,
            }) => assert_eq!(
                message,
                format!(
                    "the record header of packet 2 claims {caplen} captured bytes, more than the \
                     16777216-byte limit"
                )
            ),
            other => panic!("{other:?}"),
        }
        assert!(src.largest_buf <= INITIAL_BUFFER);
    }
    // a large but allowed length in a short file: the buffer grows to the limit at most, and
    // the short file is a cut record
    let mut b = bytes.clone();
    b[114..118].copy_from_slice(&(MAX_BLOCK as u32).to_le_bytes());
    let mut src = Trickle::new(&b, 60_000);
    let run = read_all(&mut src).unwrap();
    assert_eq!(run.packets.len(), 1);
    assert!(run.notices[0]
        .message
        .starts_with("file ends in the middle of packet 2 at offset 106"));
    assert!(src.largest_buf <= MAX_BLOCK + 64, "{}", src.largest_buf);
}

#[test]
fn original_length_below_captured_length_is_raised_with_a_notice() {
    let frames = real_frames();
    let f = &frames[0].2;
    let file = pcap_file(1, false, false, &[(0, f, 10), (0, f, 66)]);
    let run = read_bytes(&file).unwrap();
    assert_eq!(run.packets[0].orig_len, 66);
    assert_eq!(run.notices.len(), 1);
    assert_eq!(run.notices[0].packet, Some(1));
}

#[test]
fn not_captures_empty_and_tiny_files_are_clear_errors() {
    let e = read_bytes(&[]).unwrap_err();
    assert!(matches!(e, SourceError::Empty));
    assert_eq!(
        e.to_string(),
        "empty file (0 bytes): not a pcap or pcapng capture"
    );

    // deterministic pseudo-random bytes
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let e = read_bytes(&random).unwrap_err();
    assert!(matches!(e, SourceError::NotACapture { .. }), "{e}");
    assert!(e
        .to_string()
        .starts_with("not a pcap or pcapng capture: starts with bytes"));

    let e = read_bytes(&[0x1f, 0x8b, 8, 0, 0, 0]).unwrap_err();
    assert!(e.to_string().contains("gzip"), "{e}");
    let e = read_bytes(b"ab").unwrap_err();
    assert!(e.to_string().contains("only 2 byte(s) long"), "{e}");
    // a pcap magic number followed by too little header
    let e = read_bytes(&fixture("public/zeek__rdp-x509.pcap")[..10]).unwrap_err();
    assert!(matches!(e, SourceError::Corrupt { offset: 10, .. }), "{e}");
    // a pcap with only its file header is an empty capture, not an error
    let run = read_bytes(&fixture("public/zeek__rdp-x509.pcap")[..24]).unwrap();
    assert!(run.packets.is_empty() && run.notices.is_empty() && run.error.is_none());
    // a missing file names the path
    let e = PacketReader::open(&fixture_path("no-such-file.pcap"))
        .err()
        .unwrap();
    assert!(e.to_string().starts_with("cannot open "), "{e}");
    assert!(e.to_string().contains("no-such-file.pcap"), "{e}");
}

#[test]
fn byte_flips_in_real_files_never_panic() {
    // Every single-byte corruption of the first 300 bytes of a pcap and a pcapng file: the
    // reader and the decoder return results (whatever they are) without panicking.
    for rel in [
        "public/zeek__rdp-x509.pcap",
        "public/chrissanders__tcp_handshake.pcapng",
    ] {
        let bytes = fixture(rel);
        for at in 0..300.min(bytes.len()) {
            for v in [0x00, 0xff, bytes[at] ^ 0x80] {
                let mut b = bytes.clone();
                b[at] = v;
                if let Ok(mut r) = PacketReader::new(b.as_slice()) {
                    while let Ok(Some(p)) = r.next_packet() {
                        let _ = decode(p.link, p.data);
                    }
                }
            }
        }
    }
}
