//! The capture pipeline after link decoding: a bounded flow table of TCP connections, each
//! with TCP analysis, bounded reassembly feeding the RDP [`Session`], and at the end a verdict
//! with findings. Memory is bounded by live flows: finished connections are handed out as soon
//! as they are evicted.
//!
//! [`flow`] keys the table, [`conn`] holds one connection's TCP state and how it ended,
//! [`verdict`] turns a finished connection into its report (rules in [`crate::diagnose`]),
//! [`timeline`] lays out its stages.

mod conn;
mod flow;
pub mod series;
mod timeline;
mod verdict;

use std::collections::VecDeque;

use crate::capture::decrypt::keylog::KeyLog;
use crate::capture::decrypt::Keys;
use crate::capture::kerberos::{self, KrbLog};
use crate::capture::link::{Decoded, TcpSegment, Transport};
use crate::capture::tcp::{analyze, flags, Budget, History, Segment};
use crate::diagnose::attempts::{refused_logon, Attempts, Refusal};
use crate::diagnose::Verdict;
use crate::facts::cert;
use crate::facts::rdp::Dir;
use crate::facts::rdpeudp::UdpSynFacts;
use crate::report::capture::{Connection, Summary, UdpFlow};
use crate::time::rfc3339;
use rdp_proto::decode_prefix;
use rdp_proto::rdpeudp::Syn;

use conn::{due_stage, Conn, Payload};
use flow::{key, Endpoint, FlowMap, Key, QueueEntry};
use verdict::build;

/// RDP TCP connections remembered for linking UDP flows.
const MAX_TCP_SPANS: usize = 100_000;
/// A UDP flow may begin this long after its TCP connection's last packet was seen.
const LINK_SLACK_NS: i64 = 5_000_000_000;
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
    /// Record each connection with payload over time (`series`: the HTML report's plots;
    /// about 2 KB a live connection, so only when asked for).
    pub series: bool,
    /// Set from outside to end the analysis early (the reader of the output went away).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// `--keylog`: TLS secrets to decrypt sessions with.
    pub keylog: Option<std::sync::Arc<KeyLog>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ports: vec![3389],
            max_flows: 100_000,
            idle_timeout_ns: 300 * 1_000_000_000,
            keep_connections: true,
            series: false,
            cancel: None,
            keylog: None,
        }
    }
}

/// A closed flow (FIN both ways, or a RST) is finished this long after its last packet.
const CLOSED_GRACE_NS: i64 = 5_000_000_000;

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
    /// The client's first SYN and the server's first SYN+ACK.
    client_syn: Option<UdpSynFacts>,
    server_syn_ack: Option<UdpSynFacts>,
}

/// An RDP TCP connection's span, for linking its UDP transport to it.
#[derive(Debug)]
struct TcpSpan {
    start: i64,
    end: i64,
    name: String,
}

/// The analyzer: feed it decoded packets, take finished connections.
#[derive(Debug)]
pub struct Analyzer {
    cfg: Config,
    /// Boxed: the table holds a key and a pointer a flow, so that its growth (to twice the
    /// live flows, tombstones counted) and rehashes move little; unboxed, the table of 100,000
    /// SYN-only flows reached 250 MB.
    flows: FlowMap<Box<Conn>>,
    /// Every live flow by the time it was last seen active (approximately: see [`QueueEntry`]).
    by_time: VecDeque<QueueEntry>,
    /// Flows that closed (FIN both ways, or RST), by the time of their last packet.
    closed: VecDeque<QueueEntry>,
    udp: FlowMap<Udp>,
    /// Out-of-order bytes all flows may hold together.
    budget: Budget,
    /// Certificates parsed so far (many connections show the same one).
    certs: cert::Cache,
    /// TLS keys: the `--keylog` files' and the capture's own Decryption Secrets Blocks.
    pub keys: Keys,
    /// Refused logons across the capture (sprays, brute force).
    pub attempts: Attempts,
    /// Kerberos on port 88, by client.
    pub kerberos: KrbLog,
    /// RDP TCP connections by client and server host, for their UDP flows.
    rdp_tcp: std::collections::HashMap<(std::net::IpAddr, std::net::IpAddr), Vec<TcpSpan>>,
    rdp_tcp_len: usize,
    finished: Vec<Connection>,
    /// RD Gateway legacy channels waiting for their other channel, by `RDG-Connection-Id`
    /// (at most [`MAX_LEGACY_WAITING`]; the rest are reported alone).
    legacy: std::collections::HashMap<String, Box<Conn>>,
    pub summary: Summary,
    last_sweep_ns: i64,
}

/// Legacy RD Gateway channels held at once for their other channel.
const MAX_LEGACY_WAITING: usize = 64;

impl Analyzer {
    pub fn new(mut cfg: Config) -> Self {
        if !cfg.ports.contains(&3389) {
            cfg.ports.push(3389);
        }
        let file = cfg.keylog.clone();
        Self {
            cfg,
            flows: FlowMap::default(),
            by_time: VecDeque::new(),
            closed: VecDeque::new(),
            udp: FlowMap::default(),
            budget: Budget::default(),
            certs: cert::Cache::default(),
            keys: Keys {
                file,
                embedded: Default::default(),
            },
            attempts: Attempts::default(),
            kerberos: KrbLog::default(),
            rdp_tcp: Default::default(),
            rdp_tcp_len: 0,
            finished: Vec::new(),
            legacy: Default::default(),
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
            Box::new(Conn {
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
            })
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
            let want_series = self.cfg.series;
            let first_ts = c.first_ts;
            let p = c.payload.get_or_insert_with(|| {
                let mut p = Box::<Payload>::default();
                if want_series {
                    p.series = Some(Box::new(series::Series::new(first_ts)));
                }
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
            if c.server.port == kerberos::PORT {
                let Payload { reasm, krb, .. } = &mut **p;
                let (log, kdc, client) = (&mut self.kerberos, c.server, c.client.ip);
                reasm[di].push(t.seq, t.payload, &mut self.budget, |bytes| {
                    krb[di].feed(bytes, |msg| log.record(client, kdc.to_string(), ts, msg))
                });
            } else if p.session.wants_bytes() {
                let Payload { reasm, session, .. } = &mut **p;
                let budget = &mut self.budget;
                let keys = &self.keys;
                reasm[di].push(t.seq, t.payload, budget, |bytes| {
                    session.feed(dir, bytes, ts, keys)
                });
                if !session.wants_bytes() {
                    reasm[0].stop(budget);
                    reasm[1].stop(budget);
                }
            }
        }
        // After the payload state exists, so the first payload packet is in it.
        if let Some(s) = c.payload.as_mut().and_then(|p| p.series.as_mut()) {
            s.add(&series::Packet {
                dir: di,
                ts_ns: ts,
                seq: t.seq,
                ack: (f & flags::ACK != 0).then_some(t.ack),
                len: t.payload_len,
                retransmission: analysis.retransmission,
                zero_window: analysis.zero_window,
            });
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
        if dport == kerberos::PORT || sport == kerberos::PORT {
            // One Kerberos message a datagram; the client is the side that is not the KDC.
            let (client, kdc) = if dport == kerberos::PORT {
                (
                    d.src,
                    Endpoint {
                        ip: d.dst,
                        port: dport,
                    },
                )
            } else {
                (
                    d.dst,
                    Endpoint {
                        ip: d.src,
                        port: sport,
                    },
                )
            };
            self.kerberos.record(client, kdc.to_string(), ts, payload);
            return;
        }
        let src = Endpoint {
            ip: d.src,
            port: sport,
        };
        let dst = Endpoint {
            ip: d.dst,
            port: dport,
        };
        let k = key(src, dst);
        // MS-RDPEUDP's SYN (snSourceAck -1, RDPUDP_FLAG_SYN) and SYN+ACK (the client's ISN
        // echoed, SYN | ACK).
        let syn = decode_prefix::<Syn>(payload).ok().map(|(_, s)| s);
        let is_syn = syn.is_some_and(|s| s.source_ack == u32::MAX && !s.is_syn_ack());
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
                    client_syn: None,
                    server_syn_ack: None,
                })
            }
        };
        u.last = ts;
        u.datagrams += 1;
        u.bytes += payload.len() as u64;
        match syn {
            Some(s) if is_syn && src == u.client => {
                u.syn += 1;
                u.client_syn.get_or_insert(UdpSynFacts::from_pdu(&s));
            }
            Some(s) if s.is_syn_ack() && src == u.server => {
                u.syn_ack += 1;
                u.server_syn_ack.get_or_insert(UdpSynFacts::from_pdu(&s));
            }
            _ => {}
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
        // A legacy channel whose other channel has not ended within the idle timeout is
        // reported alone (live capture).
        self.report_waiting(|c| c.last_ts <= cutoff);
    }

    /// Reports the legacy channels waiting for their other channel that `due` picks, alone,
    /// in the order of their first packets.
    fn report_waiting(&mut self, due: impl Fn(&Conn) -> bool) {
        let mut ids: Vec<(u64, String)> = self
            .legacy
            .iter()
            .filter(|(_, c)| due(c))
            .map(|(id, c)| (c.first_packet, id.clone()))
            .collect();
        ids.sort_unstable();
        for (_, id) in ids {
            if let Some(c) = self.legacy.remove(&id) {
                self.report_conn(c);
            }
        }
    }

    /// Removes and returns the least recently active flow if it was last active at or before
    /// `cutoff`.
    fn pop_least_recent(&mut self, cutoff: i64) -> Option<Box<Conn>> {
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
        self.report_waiting(|_| true);
        for c in self.finished.drain(..) {
            each(c);
        }
        let mut udp: Vec<&Udp> = self.udp.values().collect();
        udp.sort_by_key(|u| (u.start, u.client, u.server));
        let out: Vec<UdpFlow> = udp
            .iter()
            .map(|u| {
                // Its TCP connection: the same two hosts, the latest one started by the time
                // the UDP flow began (it is offered during that connection) and not over long
                // before it.
                let tcp = self
                    .rdp_tcp
                    .get(&(u.client.ip, u.server.ip))
                    .and_then(|spans| {
                        spans
                            .iter()
                            .filter(|t| t.start <= u.start && u.start <= t.end + LINK_SLACK_NS)
                            .max_by_key(|t| t.start)
                    })
                    .map(|t| t.name.clone());
                UdpFlow::from_facts(
                    u.client.to_string(),
                    u.server.to_string(),
                    rfc3339(u.start.div_euclid(1_000_000_000)),
                    (u.datagrams, u.bytes, u.syn, u.syn_ack),
                    u.client_syn.as_ref(),
                    u.server_syn_ack.as_ref(),
                    tcp,
                )
            })
            .collect();
        let _ = udp.iter().map(|u| u.last).max();
        self.summary.udp_rdp_flows = out.len();
        out
    }

    fn finish_conn(&mut self, mut c: Box<Conn>) {
        if let Some(p) = c.payload.as_mut() {
            p.session.finish();
            for r in &mut p.reasm {
                r.stop(&mut self.budget);
            }
        }
        self.summary.reassembly_skipped_bytes = self.budget.skipped_bytes;
        self.summary.reassembly_skipped_gaps = self.budget.skipped_gaps;
        let rdp_port = self.is_rdp_port(c.server.port);
        // An RD Gateway's connection, decrypted, is kept on any port.
        let gateway = c.session().gateway.as_ref().is_some_and(|g| g.recognized);
        if !c.session().is_rdp && !rdp_port && !gateway {
            self.summary.other_tcp_flows += 1;
            // A refused or unanswered connection to another port may be RDP on a custom port.
            if conn::conn_state(&c).never_established() {
                self.summary.other_tcp_failed += 1;
                let port = c.server.port;
                let ports = &mut self.summary.other_tcp_failed_ports;
                if !ports.contains(&port) && ports.len() < crate::report::capture::MAX_FAILED_PORTS
                {
                    ports.push(port);
                }
            }
            return;
        }
        // The legacy transport's two channels: the first to end waits for the other; then
        // the inner connection is rebuilt from both and both are reported, in order.
        if let Some(id) = c.session().gateway.as_ref().and_then(|g| g.legacy_id()) {
            let id = id.to_owned();
            match self.legacy.remove(&id) {
                Some(mut other) => {
                    let gateways = (
                        c.payload.as_mut().and_then(|p| p.session.gateway.as_mut()),
                        other
                            .payload
                            .as_mut()
                            .and_then(|p| p.session.gateway.as_mut()),
                    );
                    if let (Some(a), Some(b)) = gateways {
                        crate::capture::rdp::pair_legacy(a, b, &self.keys);
                    }
                    let (first, second) = if other.first_packet < c.first_packet {
                        (other, c)
                    } else {
                        (c, other)
                    };
                    self.report_conn(first);
                    self.report_conn(second);
                    return;
                }
                None if self.legacy.len() < MAX_LEGACY_WAITING => {
                    self.legacy.insert(id, c);
                    return;
                }
                None => {}
            }
        }
        self.report_conn(c);
    }

    /// A finished connection's report, its logon attempt and its counts.
    fn report_conn(&mut self, c: Box<Conn>) {
        let rdp_port = self.is_rdp_port(c.server.port);
        let (client, first_ts) = (c.client.ip, c.first_ts);
        let (user, from_cookie) = {
            let r = &c.session().rdp;
            match r.nla.as_ref().and_then(|n| n.client.account()) {
                Some(account) => (Some(account), false),
                None => (r.cookie.clone(), true),
            }
        };
        let krb = self.kerberos.take(client, c.first_ts, c.last_ts);
        if c.session().is_rdp || rdp_port {
            let spans = self.rdp_tcp.entry((client, c.server.ip));
            if self.rdp_tcp_len < MAX_TCP_SPANS {
                self.rdp_tcp_len += 1;
                spans.or_default().push(TcpSpan {
                    start: c.first_ts,
                    end: c.last_ts,
                    name: format!("{} -> {}", c.client, c.server),
                });
            }
        }
        let conn = build(*c, rdp_port, &mut self.certs, &krb);
        if refused_logon(&conn.findings) {
            self.attempts.add(&Refusal {
                client,
                server: &conn.server,
                ts_ns: first_ts,
                user: user.as_deref(),
                from_cookie,
            });
        }
        self.summary.connections += 1;
        if conn.rdp.is_some() || conn.inner.is_some() {
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

#[cfg(test)]
mod tests;
