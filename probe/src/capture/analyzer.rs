//! The capture pipeline after link decoding: a bounded flow table of TCP connections, each
//! with TCP analysis, bounded reassembly feeding the RDP [`Session`], and at the end a verdict
//! with findings. Memory is bounded by live flows: finished connections are handed out as soon
//! as they are evicted.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::LazyLock;

use crate::capture::link::{Decoded, TcpSegment, Transport};
use crate::capture::tcp::{analyze, flags, Budget, History, Reassembler, Segment, SeqState};
use crate::diagnose::{
    self, finding, finding_with, rules, Finding, FindingId, Severity, Stage, StageStatus, Verdict,
};
use crate::facts::cert;
use crate::facts::x224::Confirm;
use crate::report::capture::{Certificate, Connection, StageReport, Summary, TcpReport, UdpFlow};
use crate::session::{Dir, Session};
use crate::time::rfc3339;
use rdp_proto::nego::SecurityProtocol;

/// Analyzer settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Ports treated as RDP even when no RDP byte is seen (3389 is always one).
    pub ports: Vec<u16>,
    /// Most connections tracked at once; beyond it the longest idle is finished early.
    pub max_flows: usize,
    /// A connection idle this long is finished (nanoseconds).
    pub idle_timeout_ns: i64,
    /// Keep finished connections in the report (false for streaming output: memory then
    /// stays bounded by live flows however many connections the capture has).
    pub keep_connections: bool,
    /// Set from outside to end the analysis early (the reader of the output went away).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ports: vec![3389],
            max_flows: 100_000,
            idle_timeout_ns: 300 * 1_000_000_000,
            keep_connections: true,
            cancel: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// A flow's identity, both directions alike: the two endpoints packed into integers (an IPv4
/// address in the low 32 bits, the family in `meta`), the lower endpoint first. Hashing it is
/// three multiplications; comparing it three integer compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    lo: u128,
    hi: u128,
    /// Ports of `lo` and `hi`, and 1 << 32 for IPv6.
    meta: u64,
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.lo as u64 ^ (self.lo >> 64) as u64);
        h.write_u64(self.hi as u64 ^ (self.hi >> 64) as u64);
        h.write_u64(self.meta);
    }
}

/// FxHash (rustc's): flow keys come from the capture, but a flow table keyed by them is
/// bounded by `max_flows`, so a fast non-keyed hash is acceptable here.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FlowMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<FxHasher>>;

fn packed(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

fn key(a: Endpoint, b: Endpoint) -> Key {
    let (pa, v6) = packed(a.ip);
    let (pb, _) = packed(b.ip);
    let (lo, hi, plo, phi) = if (pa, a.port) <= (pb, b.port) {
        (pa, pb, a.port, b.port)
    } else {
        (pb, pa, b.port, a.port)
    };
    Key {
        lo,
        hi,
        meta: u64::from(plo) | u64::from(phi) << 16 | u64::from(v6) << 32,
    }
}

/// A closed flow (FIN both ways, or a RST) is finished this long after its last packet.
const CLOSED_GRACE_NS: i64 = 5_000_000_000;

#[derive(Debug, Default)]
struct DirInfo {
    syn: bool,
    synack: bool,
    fin: bool,
    rst: bool,
    isn: Option<u32>,
    ttl_min: Option<u8>,
    ttl_max: Option<u8>,
    packets_before_rst: u64,
}

#[derive(Debug)]
struct Conn {
    client: Endpoint,
    server: Endpoint,
    role_guessed: bool,
    first_packet: u64,
    first_ts: i64,
    last_ts: i64,
    syn_ts: Option<i64>,
    /// The most recent SYN before the handshake completed (Wireshark's `ts_mru_syn`): the
    /// initial RTT, the out-of-order threshold, runs from it.
    last_syn_ts: Option<i64>,
    synack_ts: Option<i64>,
    established_ts: Option<i64>,
    seq: [SeqState; 2],
    dirs: [DirInfo; 2],
    history: History,
    /// Reassembly and the RDP session, allocated with the first payload byte: a SYN-only flow
    /// (a scan) costs a few hundred bytes, not kilobytes.
    payload: Option<Box<Payload>>,
    /// In the closed-flows queue already.
    closed_queued: bool,
    /// (direction, timestamp, stage) of the first RST.
    /// `None` stage: unknown (a connection joined mid-way, before anything readable).
    first_rst: Option<(usize, i64, Option<Stage>)>,
    first_fin: Option<usize>,
    first_fin_ts: i64,
    injected_resets: u64,
    injected_detail: Option<String>,
    payload_seen: [bool; 2],
}

/// What a flow needs once it carries bytes.
#[derive(Debug, Default)]
struct Payload {
    reasm: [Reassembler; 2],
    session: Session,
}

/// The session of a flow that carried no payload.
static NO_SESSION: LazyLock<Session> = LazyLock::new(Session::new);

impl Conn {
    fn session(&self) -> &Session {
        self.payload.as_ref().map_or(&NO_SESSION, |p| &p.session)
    }

    fn closed(&self) -> bool {
        (self.dirs[0].fin && self.dirs[1].fin) || self.dirs[0].rst || self.dirs[1].rst
    }
}

/// A flow's place in a time-ordered queue: (time, the flow's first packet number as its
/// identity, key). Entries are checked when they reach the front: a flow active since is put
/// back with its newer time, an entry of a flow already gone is dropped. Each packet costs
/// nothing here, each eviction O(1) amortised.
type QueueEntry = (i64, u64, Key);

#[derive(Debug)]
struct Udp {
    client: Endpoint,
    server: Endpoint,
    start: i64,
    last: i64,
    datagrams: u64,
    bytes: u64,
    syn: u64,
    syn_ack: u64,
}

/// The analyzer: feed it decoded packets, take finished connections.
#[derive(Debug)]
pub struct Analyzer {
    cfg: Config,
    flows: FlowMap<Conn>,
    /// Every live flow by the time it was last seen active (approximately: see [`QueueEntry`]).
    by_time: VecDeque<QueueEntry>,
    /// Flows that closed (FIN both ways, or RST), by the time of their last packet.
    closed: VecDeque<QueueEntry>,
    udp: FlowMap<Udp>,
    /// Out-of-order bytes all flows may hold together.
    budget: Budget,
    /// Certificates parsed so far (many connections show the same one).
    certs: cert::Cache,
    finished: Vec<Connection>,
    pub summary: Summary,
    last_sweep_ns: i64,
}

impl Analyzer {
    pub fn new(mut cfg: Config) -> Self {
        if !cfg.ports.contains(&3389) {
            cfg.ports.push(3389);
        }
        Self {
            cfg,
            flows: FlowMap::default(),
            by_time: VecDeque::new(),
            closed: VecDeque::new(),
            udp: FlowMap::default(),
            budget: Budget::default(),
            certs: cert::Cache::default(),
            finished: Vec::new(),
            summary: Summary::default(),
            last_sweep_ns: 0,
        }
    }

    /// Connections finished since the last call.
    pub fn take_finished(&mut self) -> Vec<Connection> {
        std::mem::take(&mut self.finished)
    }

    /// The out-of-order memory all flows hold now, and its limit.
    pub fn reassembly_memory(&self) -> (usize, usize) {
        (self.budget.used(), self.budget.limit())
    }

    /// How many finished connections wait in [`Analyzer::take_finished`].
    pub fn finished_len(&self) -> usize {
        self.finished.len()
    }

    /// Live TCP flows.
    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }

    /// One decoded packet.
    pub fn packet(&mut self, number: u64, ts_ns: i64, d: &Decoded<'_>) {
        match &d.transport {
            Transport::Tcp(t) => self.tcp(number, ts_ns, d, t),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => self.udp(ts_ns, d, *src_port, *dst_port, payload),
            Transport::Other { .. } => {}
        }
        if ts_ns - self.last_sweep_ns > 1_000_000_000 {
            self.sweep(ts_ns);
            self.last_sweep_ns = ts_ns;
        }
    }

    fn is_rdp_port(&self, p: u16) -> bool {
        self.cfg.ports.contains(&p)
    }

    fn tcp(&mut self, number: u64, ts: i64, d: &Decoded<'_>, t: &TcpSegment<'_>) {
        let src = Endpoint {
            ip: d.src,
            port: t.src_port,
        };
        let dst = Endpoint {
            ip: d.dst,
            port: t.dst_port,
        };
        let k = key(src, dst);
        if self.by_time.len() > 2 * self.flows.len() + 1024 {
            self.compact();
        }
        if self.flows.len() >= self.cfg.max_flows && !self.flows.contains_key(&k) {
            self.evict_oldest();
        }
        let ports = &self.cfg.ports;
        let by_time = &mut self.by_time;
        // One hash lookup a packet: the entry is the flow, new or not.
        let c = self.flows.entry(k).or_insert_with(|| {
            let syn = t.flags & flags::SYN != 0;
            let ack = t.flags & flags::ACK != 0;
            let rdp = |p: u16| ports.contains(&p);
            let (client, server, guessed) = if syn && !ack {
                (src, dst, false)
            } else if syn && ack {
                (dst, src, false)
            } else if rdp(dst.port) && !rdp(src.port) {
                (src, dst, true)
            } else if rdp(src.port) && !rdp(dst.port) {
                (dst, src, true)
            } else if src.port > dst.port {
                (src, dst, true)
            } else {
                (dst, src, true)
            };
            by_time.push_back((ts, number, k));
            Conn {
                client,
                server,
                role_guessed: guessed,
                first_packet: number,
                first_ts: ts,
                last_ts: ts,
                syn_ts: None,
                last_syn_ts: None,
                synack_ts: None,
                established_ts: None,
                seq: Default::default(),
                dirs: Default::default(),
                history: History::default(),
                payload: None,
                closed_queued: false,
                first_rst: None,
                first_fin: None,
                first_fin_ts: 0,
                injected_resets: 0,
                injected_detail: None,
                payload_seen: [false; 2],
            }
        });
        let server_rdp_port = ports.contains(&c.server.port);
        c.last_ts = ts;
        let di = usize::from(src != c.client);
        let dir = if di == 0 {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let f = t.flags;

        // Handshake timing.
        if f & flags::SYN != 0 {
            if f & flags::ACK == 0 {
                c.syn_ts.get_or_insert(ts);
                if c.established_ts.is_none() {
                    c.last_syn_ts = Some(ts);
                }
                c.dirs[di].syn = true;
            } else {
                c.synack_ts.get_or_insert(ts);
                c.dirs[di].synack = true;
            }
            c.dirs[di].isn.get_or_insert(t.seq);
            if let Some(p) = c.payload.as_mut() {
                p.reasm[di].start(t.seq.wrapping_add(1));
            }
        } else if di == 0
            && c.synack_ts.is_some()
            && c.established_ts.is_none()
            && f & flags::ACK != 0
        {
            c.established_ts = Some(ts);
        }
        let first_rtt = match (c.last_syn_ts, c.established_ts) {
            (Some(s), Some(e)) => Some(e - s),
            _ => None,
        };

        // Injected-reset heuristic: a RST whose TTL is outside the range of its sender's packets.
        if f & flags::RST != 0 {
            let info = &c.dirs[di];
            if let (Some(lo), Some(hi)) = (info.ttl_min, info.ttl_max) {
                if info.packets_before_rst >= 2
                    && (u16::from(d.ttl) + 1 < u16::from(lo)
                        || u16::from(d.ttl) > u16::from(hi) + 1)
                {
                    c.injected_resets += 1;
                    c.injected_detail = Some(format!(
                        "RST in packet {number} has TTL {} while the {}'s other packets had {lo}..{hi}",
                        d.ttl,
                        if di == 0 { "client" } else { "server" }
                    ));
                }
            }
        } else {
            let info = &mut c.dirs[di];
            info.ttl_min = Some(info.ttl_min.map_or(d.ttl, |m| m.min(d.ttl)));
            info.ttl_max = Some(info.ttl_max.map_or(d.ttl, |m| m.max(d.ttl)));
            info.packets_before_rst += 1;
        }

        let seg = Segment {
            ts_ns: ts,
            seq: t.seq,
            ack: t.ack,
            flags: f,
            window: t.window,
            len: t.payload_len,
        };
        let (a, b) = c.seq.split_at_mut(1);
        let (fwd, rev) = if di == 0 {
            (&mut a[0], &mut b[0])
        } else {
            (&mut b[0], &mut a[0])
        };
        let analysis = analyze(fwd, rev, &seg, first_rtt);
        c.history.record(di == 0, f, t.payload_len, &analysis);

        if !t.payload.is_empty() {
            c.payload_seen[di] = true;
            let dirs = &c.dirs;
            // No SYN from either side, on an RDP port: the capture joined mid-connection.
            let joined = c.syn_ts.is_none() && c.synack_ts.is_none() && server_rdp_port;
            let p = c.payload.get_or_insert_with(|| {
                let mut p = Box::<Payload>::default();
                if joined {
                    p.session.join_midstream();
                }
                for (r, d) in p.reasm.iter_mut().zip(dirs) {
                    if let Some(isn) = d.isn {
                        r.start(isn.wrapping_add(1));
                    }
                }
                p
            });
            if p.session.wants_bytes() {
                let Payload { reasm, session } = &mut **p;
                let budget = &mut self.budget;
                reasm[di].push(t.seq, t.payload, budget, |bytes| {
                    session.feed(dir, bytes, ts)
                });
                if !session.wants_bytes() {
                    reasm[0].stop(budget);
                    reasm[1].stop(budget);
                }
            }
        }
        if f & flags::FIN != 0 {
            c.dirs[di].fin = true;
            if c.first_fin.is_none() {
                c.first_fin = Some(di);
                c.first_fin_ts = ts;
            }
        }
        if f & flags::RST != 0 {
            c.dirs[di].rst = true;
            if c.first_rst.is_none() {
                let st = due_stage(c);
                c.first_rst = Some((di, ts, st));
            }
        }
        if !c.closed_queued && c.closed() {
            c.closed_queued = true;
            self.closed.push_back((ts, c.first_packet, k));
        }
    }

    fn udp(&mut self, ts: i64, d: &Decoded<'_>, sport: u16, dport: u16, payload: &[u8]) {
        let src = Endpoint {
            ip: d.src,
            port: sport,
        };
        let dst = Endpoint {
            ip: d.dst,
            port: dport,
        };
        let k = key(src, dst);
        // MS-RDPEUDP 2.2.2.1 RDPUDP_FEC_HEADER: snSourceAck, uReceiveWindowSize, uFlags.
        // A SYN has snSourceAck -1 and RDPUDP_FLAG_SYN; the SYN+ACK echoes the client's
        // initial sequence number and sets RDPUDP_FLAG_SYN | RDPUDP_FLAG_ACK.
        let uflags = (payload.len() >= 8).then(|| u16::from_be_bytes([payload[6], payload[7]]));
        let is_syn = payload.len() >= 12
            && payload[..4] == [0xFF; 4]
            && uflags.is_some_and(|f| f & 0x0005 == 0x0001);
        let u = match self.udp.get_mut(&k) {
            Some(u) => u,
            None => {
                let rdp_port = self.is_rdp_port(dport) || self.is_rdp_port(sport);
                if !is_syn && !rdp_port || self.udp.len() >= self.cfg.max_flows {
                    return;
                }
                let (client, server) =
                    if is_syn || !self.is_rdp_port(sport) || self.is_rdp_port(dport) {
                        (src, dst)
                    } else {
                        (dst, src)
                    };
                self.udp.entry(k).or_insert(Udp {
                    client,
                    server,
                    start: ts,
                    last: ts,
                    datagrams: 0,
                    bytes: 0,
                    syn: 0,
                    syn_ack: 0,
                })
            }
        };
        u.last = ts;
        u.datagrams += 1;
        u.bytes += payload.len() as u64;
        if is_syn && src == u.client {
            u.syn += 1;
        } else if src == u.server && uflags.is_some_and(|f| f & 0x0005 == 0x0005) {
            u.syn_ack += 1;
        }
    }

    /// Lets time pass without a packet (live capture): finishes idle and closed flows.
    pub fn tick(&mut self, now_ns: i64) {
        if now_ns - self.last_sweep_ns > 1_000_000_000 {
            self.sweep(now_ns);
            self.last_sweep_ns = now_ns;
        }
    }

    fn sweep(&mut self, now: i64) {
        // Closed flows end 5 s after their last packet (late retransmissions still count).
        while let Some(&(ts, id, k)) = self.closed.front() {
            if now - ts <= CLOSED_GRACE_NS {
                break;
            }
            self.closed.pop_front();
            match self.flows.get(&k) {
                Some(c) if c.first_packet == id && now - c.last_ts > CLOSED_GRACE_NS => {
                    if let Some(c) = self.flows.remove(&k) {
                        self.finish_conn(c);
                    }
                }
                Some(c) if c.first_packet == id => self.closed.push_back((c.last_ts, id, k)),
                _ => {}
            }
        }
        // Idle flows end after the idle timeout.
        let cutoff = now - self.cfg.idle_timeout_ns;
        while let Some(c) = self.pop_least_recent(cutoff) {
            self.finish_conn(c);
        }
    }

    /// Removes and returns the least recently active flow if it was last active at or before
    /// `cutoff`.
    fn pop_least_recent(&mut self, cutoff: i64) -> Option<Conn> {
        while let Some(&(ts, id, k)) = self.by_time.front() {
            if ts > cutoff {
                return None;
            }
            self.by_time.pop_front();
            match self.flows.get(&k) {
                Some(c) if c.first_packet == id && c.last_ts > ts => {
                    // Active since it was queued: back in line with its newer time.
                    self.by_time.push_back((c.last_ts, id, k));
                }
                Some(c) if c.first_packet == id => return self.flows.remove(&k),
                // A flow already finished, or another flow on the same ports since.
                _ => {}
            }
        }
        None
    }

    /// Drops queue entries of flows that are gone (amortised: only when the queue has grown to
    /// twice the live flows).
    fn compact(&mut self) {
        let flows = &self.flows;
        let live = |e: &QueueEntry| flows.get(&e.2).is_some_and(|c| c.first_packet == e.1);
        self.by_time.retain(live);
        self.closed.retain(live);
    }

    fn evict_oldest(&mut self) {
        if let Some(c) = self.pop_least_recent(i64::MAX) {
            self.summary.evicted_flows += 1;
            self.finish_conn(c);
        }
    }

    /// Finishes every flow and returns the UDP RDP flows; the connections wait in
    /// [`Analyzer::take_finished`].
    pub fn finish(&mut self) -> Vec<UdpFlow> {
        let mut done = Vec::new();
        let udp = self.finish_each(|c| done.push(c));
        self.finished = done;
        udp
    }

    /// Like [`Analyzer::finish`], handing each connection (in first-packet order) to `each`
    /// as it is built, so that a million live flows are never a million reports at once.
    pub fn finish_each(&mut self, mut each: impl FnMut(Connection)) -> Vec<UdpFlow> {
        for c in self.take_finished() {
            each(c);
        }
        self.by_time.clear();
        self.closed.clear();
        // Ordered by first packet through their keys: the flows are not copied.
        let mut order: Vec<(u64, Key)> = self
            .flows
            .iter()
            .map(|(k, c)| (c.first_packet, *k))
            .collect();
        order.sort_unstable_by_key(|e| e.0);
        for (_, k) in order {
            if let Some(c) = self.flows.remove(&k) {
                self.finish_conn(c);
            }
            for c in self.finished.drain(..) {
                each(c);
            }
        }
        self.flows = FlowMap::default();
        let mut udp: Vec<&Udp> = self.udp.values().collect();
        udp.sort_by_key(|u| (u.start, u.client, u.server));
        let out: Vec<UdpFlow> = udp
            .iter()
            .map(|u| UdpFlow {
                client: u.client.to_string(),
                server: u.server.to_string(),
                start: rfc3339(u.start.div_euclid(1_000_000_000)),
                datagrams: u.datagrams,
                bytes: u.bytes,
                syn: u.syn,
                syn_ack: u.syn_ack,
            })
            .collect();
        let _ = udp.iter().map(|u| u.last).max();
        self.summary.udp_rdp_flows = out.len();
        out
    }

    fn finish_conn(&mut self, mut c: Conn) {
        if let Some(p) = c.payload.as_mut() {
            p.session.finish();
            for r in &mut p.reasm {
                r.stop(&mut self.budget);
            }
        }
        self.summary.reassembly_skipped_bytes = self.budget.skipped_bytes;
        self.summary.reassembly_skipped_gaps = self.budget.skipped_gaps;
        let rdp_port = self.is_rdp_port(c.server.port);
        if !c.session().is_rdp && !rdp_port {
            self.summary.other_tcp_flows += 1;
            return;
        }
        let conn = build(c, rdp_port, &mut self.certs);
        self.summary.connections += 1;
        if conn.rdp.is_some() {
            self.summary.rdp_connections += 1;
        }
        match conn.verdict {
            Verdict::Ok => self.summary.ok += 1,
            Verdict::Warning => self.summary.warning += 1,
            Verdict::Error => self.summary.error += 1,
        }
        self.finished.push(conn);
    }
}

/// The stage that was in progress (or due next) at this moment of the connection.
fn due_stage(c: &Conn) -> Option<Stage> {
    let s = c.session();
    if s.rdp.joined_midstream {
        // Only what the capture shows: the last stage seen, if any.
        return (!s.events.is_empty()).then_some(s.reached);
    }
    Some(due_stage_from_start(c, s))
}

fn due_stage_from_start(c: &Conn, s: &Session) -> Stage {
    if c.established_ts.is_none() && !c.payload_seen[0] {
        return Stage::Tcp;
    }
    if !s.is_rdp || s.selected().is_none() {
        return Stage::X224;
    }
    if s.reached == Stage::X224 {
        return next_after_x224(s);
    }
    if s.reached_done {
        return next_stage(s, s.reached);
    }
    s.reached
}

fn next_after_x224(s: &Session) -> Stage {
    match s.selected() {
        Some(p) if !p.is_empty() => Stage::Tls,
        _ => Stage::Mcs,
    }
}

fn next_stage(s: &Session, after: Stage) -> Stage {
    let hybrid = s.selected().is_some_and(|p| {
        p.intersects(
            rdp_proto::nego::SecurityProtocol::HYBRID
                | rdp_proto::nego::SecurityProtocol::HYBRID_EX,
        )
    });
    match after {
        Stage::X224 => next_after_x224(s),
        Stage::Tls if hybrid => Stage::Credssp,
        Stage::Tls | Stage::Credssp => Stage::Mcs,
        Stage::Mcs => Stage::Channels,
        Stage::Channels => {
            if s.selected().is_some_and(|p| p.is_empty()) {
                Stage::SecurityExchange
            } else {
                Stage::ClientInfo
            }
        }
        Stage::SecurityExchange => Stage::ClientInfo,
        Stage::ClientInfo => Stage::Licensing,
        Stage::Licensing => Stage::Capabilities,
        _ => Stage::Active,
    }
}

/// Zeek's conn_state.
fn conn_state(c: &Conn) -> &'static str {
    let (o, r) = (&c.dirs[0], &c.dirs[1]);
    let orig_syn = o.syn;
    let resp_synack = r.synack;
    let established = orig_syn && resp_synack;
    if o.rst || r.rst {
        if established {
            return if o.rst && c.first_rst.is_some_and(|(d, ..)| d == 0) {
                "RSTO"
            } else {
                "RSTR"
            };
        }
        if orig_syn && !resp_synack {
            if r.rst && !o.rst {
                return "REJ";
            }
            return if o.rst { "RSTOS0" } else { "REJ" };
        }
        if resp_synack && !orig_syn {
            return if r.rst { "RSTRH" } else { "RSTO" };
        }
        return if c.first_rst.is_some_and(|(d, ..)| d == 0) {
            "RSTO"
        } else {
            "RSTR"
        };
    }
    if orig_syn && !resp_synack {
        return if o.fin { "SH" } else { "S0" };
    }
    if resp_synack && !orig_syn {
        return if r.fin { "SHR" } else { "OTH" };
    }
    if established {
        return match (o.fin, r.fin) {
            (true, true) => "SF",
            (true, false) => "S2",
            (false, true) => "S3",
            _ => "S1",
        };
    }
    "OTH"
}

fn ms(ns: i64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

fn build(c: Conn, rdp_port: bool, certs: &mut cert::Cache) -> Connection {
    let state = conn_state(&c);
    let s = c.session();
    let now_s = c.first_ts.div_euclid(1_000_000_000);
    let start = rfc3339(now_s);
    let counters = c.seq[0].counters.merge(&c.seq[1].counters);
    let (cp, sp) = (c.seq[0].counters.packets, c.seq[1].counters.packets);
    let reset_by = c
        .first_rst
        .map(|(d, ..)| if d == 0 { "client" } else { "server" });
    let mut tcp = TcpReport {
        state: state.to_owned(),
        history: c.history.as_str().to_owned(),
        syn_rtt_ms: match (c.syn_ts, c.synack_ts) {
            (Some(a), Some(b)) if b >= a => Some(ms(b - a)),
            _ => None,
        },
        packets: counters.packets,
        bytes: counters.bytes,
        client_packets: cp,
        server_packets: sp,
        client_bytes: c.seq[0].counters.bytes,
        server_bytes: c.seq[1].counters.bytes,
        retransmissions: counters.retransmissions,
        fast_retransmissions: counters.fast_retransmissions,
        spurious_retransmissions: counters.spurious_retransmissions,
        lost_segments: counters.lost_segments,
        out_of_order: counters.out_of_order,
        dup_acks: counters.dup_acks,
        zero_windows: counters.zero_windows,
        keep_alives: counters.keep_alives,
        reset_by,
        reset_stage: c.first_rst.and_then(|(.., st)| st),
        injected_resets: c.injected_resets,
        conflicting_overlaps: c.payload.as_ref().map_or(0, |p| {
            p.reasm[0].conflicting_overlaps + p.reasm[1].conflicting_overlaps
        }),
        gap_bytes: c
            .payload
            .as_ref()
            .map_or(0, |p| p.reasm[0].gap_bytes + p.reasm[1].gap_bytes),
        role_guessed: c.role_guessed,
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut stopped_at: Option<Stage> = None;
    // Encrypted bulk data both ways (past any CredSSP exchange), or fast-path traffic.
    let reached_bulk = s.reached == Stage::Active || (s.appdata().0 >= 4 && s.appdata().1 >= 4);
    let midstream = c.syn_ts.is_none() && c.synack_ts.is_none();

    // TCP establishment.
    match state {
        "REJ" => {
            stopped_at = Some(Stage::Tcp);
            findings.push(finding(
                FindingId::TcpRefused,
                format!("{} answered the SYN with RST", c.server),
            ));
        }
        "S0" | "SH" => {
            stopped_at = Some(Stage::Tcp);
            let syns = c.seq[0].counters.packets;
            findings.push(finding(
                FindingId::SynUnanswered,
                format!(
                    "{syns} SYN(s) to {} without a reply in the capture",
                    c.server
                ),
            ));
        }
        "RSTOS0" => {
            stopped_at = Some(Stage::Tcp);
            findings.push(finding(
                FindingId::SynUnanswered,
                format!(
                    "the client gave up (RST) after SYNs to {} got no reply",
                    c.server
                ),
            ));
        }
        _ => {}
    }

    let mut rdp = None;
    if s.is_rdp {
        let mut r = s.rdp.clone();
        if let Some(code) = s.confirm.as_ref().and_then(Confirm::failure) {
            stopped_at = Some(Stage::X224);
            findings.push(rules::negotiation_failure(code, s.requested));
        }
        if let (Some(sel), Some(req)) = (s.selected(), s.requested) {
            findings.extend(rules::protocol_not_requested(req, sel));
        }
        if let Some(c) = &s.confirm {
            findings.extend(rules::legacy_no_negotiation(c));
        }
        if let Some(sel) = s.selected() {
            findings.extend(rules::open_layers(rules::OpenLayers {
                rdp: sel.is_empty(),
                rdp_only_legacy: s.confirm.is_some_and(|c| c.is_legacy()),
                ssl: sel.contains(SecurityProtocol::SSL)
                    && !sel.intersects(SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX),
            }));
        }
        if let Some(c) = &s.confirm {
            findings.extend(rules::restricted_admin(c.flags()));
        }
        if let Some(sec) = s
            .connect_response
            .as_ref()
            .and_then(|f| f.security.as_ref())
        {
            findings.extend(rules::weak_rdp_encryption(&[sec.method], Some(sec.level)));
            findings.extend(rules::weak_proprietary_key(sec.rsa_bits));
        }
        let when = format!("capture time {start}");
        if let Some(cert_der) = s.rdp_x509_chain.last() {
            if let Some(facts) = certs.parse(cert_der) {
                findings.extend(rules::certificate(&facts, now_s, &when));
            }
        }
        if let Some(t) = r.tls.as_mut() {
            if let Some(der) = s.tls_chain.first() {
                if let Some(facts) = certs.parse(der) {
                    t.certificate = Some(Certificate::from_facts(&facts, now_s));
                    findings.extend(rules::certificate(&facts, now_s, &when));
                }
            }
            if let Some(alert) = &t.alert {
                if !s.tls_established() {
                    stopped_at.get_or_insert(Stage::Tls);
                    findings.push(finding(
                        FindingId::TlsHandshakeFailed,
                        format!("{} sent alert {alert}", t.alert_by.unwrap_or("?")),
                    ));
                }
            }
        }
        if let Some(e) = &r.error_info {
            findings.push(finding(
                FindingId::ServerErrorInfo,
                format!("Set Error Info {e}"),
            ));
        }
        if let Some(l) = &r.licensing {
            if !l.starts_with("STATUS_VALID_CLIENT") {
                findings.push(finding(
                    FindingId::LicensingError,
                    format!("licensing error {l}"),
                ));
            }
        }
        if let Some(m) = s.confirm.as_ref().and_then(rules::malformed_confirm) {
            stopped_at.get_or_insert(Stage::X224);
            findings.push(m);
        }
        rdp = Some(r);
        let open_at_end = !(c.dirs[0].fin || c.dirs[1].fin || c.dirs[0].rst || c.dirs[1].rst);
        if stopped_at.is_none() && !reached_bulk && !midstream {
            let due = due_stage_from_start(&c, s);
            let ended_by = ended_by(&c);
            let waited = c.last_ts - c.first_ts;
            if let (Stage::X224, Some(what)) = (due, &s.not_rdp) {
                stopped_at = Some(due);
                findings.push(finding(
                    FindingId::NotRdp,
                    format!("the server answered {what}"),
                ));
            } else if open_at_end && !(due == Stage::X224 && waited > 5_000_000_000) {
                // Still open when the capture ends: nothing failed that we can see.
            } else {
                stopped_at = Some(due);
                match due {
                    Stage::X224 => {
                        if c.payload_seen[1] {
                            findings.push(finding(
                                FindingId::X224Closed,
                                format!("{ended_by} after the Connection Request"),
                            ));
                        } else if c.dirs[1].fin || c.dirs[1].rst {
                            findings.push(finding(
                                FindingId::X224Closed,
                                format!(
                                    "the server closed without a Connection Confirm ({ended_by})"
                                ),
                            ));
                        } else {
                            findings.push(finding(
                                FindingId::X224NoResponse,
                                format!("no Connection Confirm; {ended_by}"),
                            ));
                        }
                    }
                    Stage::Tls
                        if !findings
                            .iter()
                            .any(|f| f.id == FindingId::TlsHandshakeFailed) =>
                    {
                        findings.push(finding(
                            FindingId::TlsHandshakeFailed,
                            format!("the TLS handshake did not complete: {ended_by}"),
                        ));
                    }
                    Stage::Credssp => {
                        let (ca, sa) = s.appdata();
                        let evidence = format!("{ended_by} during CredSSP after {ca} client and {sa} server TLS records");
                        if client_ended(&c) {
                            // mstsc's "check credentials, then reconnect" and abandoned attempts.
                            findings.push(finding_with(
                                FindingId::CredsspFailed,
                                Severity::Info,
                                evidence,
                            ));
                        } else {
                            findings.push(finding(FindingId::CredsspFailed, evidence));
                        }
                    }
                    _ if !client_ended(&c) => {
                        let why = s
                            .rdp
                            .disconnect_reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default();
                        findings.push(finding(
                            FindingId::ClosedByServer,
                            format!("{ended_by} during {due}{why}"),
                        ));
                    }
                    _ => {}
                }
            }
        }
    } else if rdp_port && !midstream && stopped_at.is_none() {
        // A connection to an RDP port that never spoke RDP.
        stopped_at = Some(if c.established_ts.is_some() || c.payload_seen[0] {
            Stage::X224
        } else {
            Stage::Tcp
        });
        if let Some(what) = &s.not_rdp {
            findings.push(finding(
                FindingId::NotRdp,
                format!("the server answered {what}"),
            ));
        } else if c.payload_seen[0] && (c.dirs[1].fin || c.dirs[1].rst) {
            findings.push(finding(
                FindingId::X224Closed,
                format!("{} without answering", ended_by(&c)),
            ));
        } else if c.payload_seen[0] {
            findings.push(finding(
                FindingId::X224NoResponse,
                format!("no answer to the request; {}", ended_by(&c)),
            ));
        } else if stopped_at == Some(Stage::X224) {
            // Connected, nothing sent: a port check or a client that gave up.
            stopped_at = None;
        }
    }
    if midstream && state == "OTH" {
        tcp.role_guessed = c.role_guessed;
    }

    // Resets.
    if let Some((d, _, st)) = c.first_rst {
        let normal_end = c.first_fin == Some(0) && d == 1; // mstsc: client FIN, then server RST
        if !normal_end && state != "REJ" && state != "RSTOS0" {
            if d == 1 {
                let sev = if stopped_at.is_some() {
                    Severity::Error
                } else {
                    Severity::Info
                };
                findings.push(finding_with(
                    FindingId::ResetByServer,
                    sev,
                    format!("server RST {}", during(st)),
                ));
            } else {
                findings.push(finding(
                    FindingId::ResetByClient,
                    format!("client RST {}", during(st)),
                ));
            }
        }
    }
    if c.injected_resets > 0 {
        findings.push(finding(
            FindingId::InjectedReset,
            c.injected_detail.clone().unwrap_or_default(),
        ));
    }
    let segments = counters.packets.max(1);
    let lossy = counters.retransmissions + counters.lost_segments;
    // SYN retries of a connection that never got an answer are not path loss.
    let established = c.synack_ts.is_some() || midstream;
    if established && lossy * 100 > segments && lossy >= 2 {
        findings.push(finding(
            FindingId::PacketLoss,
            format!(
                "{} retransmissions and {} lost segments in {} packets",
                counters.retransmissions, counters.lost_segments, counters.packets
            ),
        ));
    }
    if counters.zero_windows > 0 {
        findings.push(finding(
            FindingId::ZeroWindow,
            format!("{} zero-window advertisements", counters.zero_windows),
        ));
    }

    let stages = timeline(&c, stopped_at);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = diagnose::verdict(&findings);
    Connection {
        client: c.client.to_string(),
        server: c.server.to_string(),
        start,
        duration_ms: ms(c.last_ts - c.first_ts),
        verdict,
        stopped_at,
        stages,
        tcp,
        rdp,
        findings,
        first_packet: c.first_packet,
    }
}

fn during(stage: Option<Stage>) -> String {
    stage.map_or_else(
        || "(the capture joined the connection mid-way: its stage is not visible)".to_owned(),
        |st| format!("during {st}"),
    )
}

fn ended_by(c: &Conn) -> String {
    let who = |d: usize| if d == 0 { "the client" } else { "the server" };
    match (c.first_rst, c.first_fin) {
        (Some((r, rts, _)), Some(f)) if c.first_fin_ts <= rts => {
            if r == f {
                format!("{} closed the connection", who(f))
            } else {
                format!("{} closed the connection and {} reset it", who(f), who(r))
            }
        }
        (Some((d, ..)), _) => format!("{} reset the connection", who(d)),
        (None, Some(d)) => format!("{} closed the connection", who(d)),
        (None, None) => "the capture ends".to_owned(),
    }
}

/// The client ended the connection first (FIN or RST).
fn client_ended(c: &Conn) -> bool {
    match (c.first_fin, c.first_rst) {
        (Some(f), Some((_, rts, _))) if c.first_fin_ts <= rts => f == 0,
        (_, Some((d, ..))) => d == 0,
        (Some(f), None) => f == 0,
        (None, None) => false,
    }
}

/// The stage timeline: TCP, then every RDP stage seen, the one that stopped marked failed.
fn timeline(c: &Conn, stopped_at: Option<Stage>) -> Vec<StageReport> {
    let t0 = c.first_ts;
    let mut out = Vec::new();
    let tcp_status = match stopped_at {
        Some(Stage::Tcp) => StageStatus::Failed,
        _ if c.established_ts.is_some() || c.synack_ts.is_some() => StageStatus::Ok,
        _ => StageStatus::Skipped,
    };
    let tcp_end = c.established_ts.or(c.synack_ts).unwrap_or(c.last_ts);
    out.push(StageReport {
        name: Stage::Tcp,
        status: tcp_status,
        elapsed_ms: ms(tcp_end - t0),
        detail: match (c.syn_ts, c.synack_ts) {
            (Some(a), Some(b)) => format!("SYN/SYN-ACK {:.2} ms", (b - a) as f64 / 1e6),
            (Some(_), None) => "no SYN-ACK".into(),
            _ => "midstream (no handshake in the capture)".into(),
        },
    });
    let s = c.session();
    let mut by_stage: Vec<(Stage, i64, bool, String)> = Vec::new();
    for e in &s.events {
        if let Some(x) = by_stage.iter_mut().find(|x| x.0 == e.stage) {
            x.1 = e.ts_ns;
            x.2 |= e.done;
            x.3 = e.detail.clone();
        } else {
            by_stage.push((e.stage, e.ts_ns, e.done, e.detail.clone()));
        }
    }
    by_stage.sort_by_key(|x| x.0);
    for (i, (name, ts, done, detail)) in by_stage.iter().enumerate() {
        let later = by_stage.get(i + 1).is_some();
        // A stage whose end was not seen still passed if a later one began.
        let status = if Some(*name) == stopped_at {
            StageStatus::Failed
        } else if *done || later {
            StageStatus::Ok
        } else {
            StageStatus::Started
        };
        out.push(StageReport {
            name: *name,
            status,
            elapsed_ms: ms(ts - t0),
            detail: detail.clone(),
        });
    }
    if let Some(st) = stopped_at {
        if !out.iter().any(|x| x.name == st) {
            out.push(StageReport {
                name: st,
                status: StageStatus::Failed,
                elapsed_ms: ms(c.last_ts - t0),
                detail: ended_by(c),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::link::{Decoded, TcpSegment, Transport};

    fn seg(client: bool, ttl: u8, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Decoded<'_> {
        let (c, s): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let (src, dst, sp, dp) = if client {
            (c, s, 50000, 3389)
        } else {
            (s, c, 3389, 50000)
        };
        Decoded {
            src,
            dst,
            ttl,
            ip_id: Some(1),
            vlan: None,
            more_fragments: false,
            transport: Transport::Tcp(TcpSegment {
                src_port: sp,
                dst_port: dp,
                seq,
                ack,
                flags,
                window: 1000,
                window_scale: None,
                mss: None,
                payload,
                payload_len: payload.len() as u32,
            }),
        }
    }

    /// A RST whose TTL does not fit the server's other packets (a middlebox forged it), in the
    /// middle of the TLS stage: injected-reset, reset by "server", stopped at tls.
    #[test]
    fn forged_reset_is_flagged_as_injected() {
        let cr = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/ndpi__rdp_over_tls/001-c2s-x224-cr.bin"),
        )
        .unwrap();
        let cc = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/ndpi__rdp_over_tls/002-s2c-x224-cc.bin"),
        )
        .unwrap();
        let mut a = Analyzer::new(Config::default());
        let ms = 1_000_000i64;
        let (syn, ack, psh, rst) = (
            flags::SYN,
            flags::ACK,
            flags::PSH | flags::ACK,
            flags::RST | flags::ACK,
        );
        let (c0, s0) = (1000u32, 5000u32);
        a.packet(1, 0, &seg(true, 128, syn, c0, 0, &[]));
        a.packet(2, ms, &seg(false, 64, syn | ack, s0, c0 + 1, &[]));
        a.packet(3, 2 * ms, &seg(true, 128, ack, c0 + 1, s0 + 1, &[]));
        a.packet(4, 3 * ms, &seg(true, 128, psh, c0 + 1, s0 + 1, &cr));
        a.packet(
            5,
            4 * ms,
            &seg(false, 64, psh, s0 + 1, c0 + 1 + cr.len() as u32, &cc),
        );
        // The forged RST claims to come from the server, with another hop count.
        a.packet(
            6,
            5 * ms,
            &seg(false, 250, rst, s0 + 1 + cc.len() as u32, 0, &[]),
        );
        a.finish();
        let conns = a.take_finished();
        assert_eq!(conns.len(), 1);
        let c = &conns[0];
        assert!(
            c.findings.iter().any(|f| f.id == FindingId::InjectedReset),
            "{:?}",
            c.findings
        );
        assert_eq!(c.tcp.injected_resets, 1);
        assert_eq!(c.tcp.reset_by, Some("server"));
        assert_eq!(
            c.stopped_at.map(|s| s.as_str()),
            Some("tls"),
            "HYBRID was selected, TLS was due"
        );
        assert_eq!(c.tcp.state, "RSTR");
    }

    /// The same RST with the server's usual TTL is an ordinary reset.
    #[test]
    fn a_reset_with_the_usual_ttl_is_not_injected() {
        let mut a = Analyzer::new(Config::default());
        let (syn, ack, rst) = (flags::SYN, flags::ACK, flags::RST | flags::ACK);
        a.packet(1, 0, &seg(true, 128, syn, 1, 0, &[]));
        a.packet(2, 1, &seg(false, 64, syn | ack, 9, 2, &[]));
        a.packet(3, 2, &seg(true, 128, ack, 2, 10, &[]));
        a.packet(4, 3, &seg(false, 64, ack, 10, 2, &[]));
        a.packet(5, 4, &seg(false, 64, rst, 10, 2, &[]));
        a.finish();
        let c = &a.take_finished()[0];
        assert_eq!(c.tcp.injected_resets, 0);
        assert!(!c.findings.iter().any(|f| f.id == FindingId::InjectedReset));
    }

    fn syn_from(port: u16) -> Decoded<'static> {
        Decoded {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            ttl: 64,
            ip_id: Some(1),
            vlan: None,
            more_fragments: false,
            transport: Transport::Tcp(TcpSegment {
                src_port: port,
                dst_port: 3389,
                seq: 1,
                ack: 0,
                flags: flags::SYN,
                window: 1000,
                window_scale: None,
                mss: None,
                payload: &[],
                payload_len: 0,
            }),
        }
    }

    /// At the flow cap the least recently active flow is finished, found through the
    /// time-ordered queue (not a scan of the table), and every flow is reported exactly once.
    #[test]
    fn the_flow_cap_evicts_the_least_recently_active_flow_and_loses_none() {
        let mut a = Analyzer::new(Config {
            max_flows: 10,
            ..Config::default()
        });
        let mut n = 0u64;
        let mut reported = Vec::new();
        for port in 10_000..10_010u16 {
            n += 1;
            a.packet(n, n as i64 * 1000, &syn_from(port));
        }
        // Flow 10000 is active again (a SYN retransmission): 10001 is now the least recent.
        n += 1;
        a.packet(n, n as i64 * 1000, &syn_from(10_000));
        n += 1;
        a.packet(n, n as i64 * 1000, &syn_from(20_000));
        let evicted = a.take_finished();
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].client, "10.0.0.1:10001");
        reported.extend(evicted.into_iter().map(|c| c.client));
        for port in 30_000..31_000u16 {
            n += 1;
            a.packet(n, n as i64 * 1000, &syn_from(port));
            reported.extend(a.take_finished().into_iter().map(|c| c.client));
        }
        assert_eq!(a.live_flows(), 10);
        assert!(
            a.by_time.len() <= 2 * a.flows.len() + 1024,
            "queue stays bounded"
        );
        a.finish_each(|c| reported.push(c.client));
        assert_eq!(reported.len(), 1011);
        reported.sort();
        reported.dedup();
        assert_eq!(reported.len(), 1011, "each flow once");
        assert_eq!(a.summary.evicted_flows, 1001);
    }

    /// A SYN-only flow allocates no reassembly or session state.
    #[test]
    fn a_syn_only_flow_is_lean() {
        let mut a = Analyzer::new(Config::default());
        a.packet(1, 1, &syn_from(40_000));
        let c = a.flows.values().next().unwrap();
        assert!(c.payload.is_none());
        assert!(
            std::mem::size_of::<Conn>() < 1024,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }

    /// tshark parity: the client's SYN was sent twice, the server answered both, and its
    /// second SYN-ACK came after the client's ACK: both the second SYN and the second SYN-ACK
    /// are retransmissions in tshark's count.
    #[test]
    fn a_second_syn_ack_after_the_ack_is_a_retransmission() {
        use crate::capture::tcp::flags::{ACK, SYN};
        let mut a = Analyzer::new(Config::default());
        let pkts = [
            seg(true, 64, SYN, 1000, 0, &[]),
            seg(true, 64, SYN, 1000, 0, &[]),
            seg(false, 64, SYN | ACK, 5000, 1001, &[]),
            seg(true, 64, ACK, 1001, 5001, &[]),
            seg(false, 64, SYN | ACK, 5000, 1001, &[]),
        ];
        for (i, p) in pkts.iter().enumerate() {
            a.packet(i as u64 + 1, (i as i64 + 1) * 1_000_000_000, p);
        }
        a.finish();
        let c = &a.take_finished()[0];
        assert_eq!(c.tcp.retransmissions, 2, "{:?}", c.tcp);
    }
}
