//! The stage runners: one target, stage by stage, each on its own TCP connection where the
//! protocol requires it, every wait bounded by the stage timeout and the target's deadline.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdp_proto::credssp::TsRequest;
use rdp_proto::frame::Framing;
use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::ntlm::{self, AvId, Message};
use rdp_proto::tls::{self as ptls, ContentType, HandshakeType, ProtocolVersion};
use rdp_proto::{decode, decode_prefix};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::net::{self, ConnectFailure, FrameReader, ReadFailure};
use super::pdu;
use crate::diagnose::{self, finding, rules, Finding, FindingId, Verdict};
use crate::diagnose::{Stage, StageStatus};
use crate::facts::cert::CertFacts;
use crate::facts::gcc::{method_name, ConnectResponseFacts};
use crate::facts::x224::{protocol_names, Answer, Confirm};
use crate::report::capture::{Certificate, StageReport};
use crate::report::probe::*;
use crate::time::rfc3339;

/// Probe settings.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The whole probe of one target ends by this long after it starts.
    pub timeout: Duration,
    /// One connect or one answer may take this long.
    pub stage_timeout: Duration,
    /// Pause between two connections to the same target (some servers reset rapid reconnects).
    pub pace: Duration,
    /// Enumerate security layers, TLS versions and encryption methods (false: only the
    /// connection an mstsc client would make, plus TLS and CredSSP on it).
    pub enumerate: bool,
    /// server_name to send in TLS (default: the target when it is a host name).
    pub sni: Option<String>,
    /// A global limit on new connections per second, shared by every target of a run.
    pub rate: Option<Arc<Rate>>,
}

/// New connections per second across all targets (`--rate`): each connection takes the next
/// free slot; a slot past the target's deadline is not waited for.
#[derive(Debug)]
pub struct Rate {
    interval: Duration,
    next: std::sync::Mutex<Instant>,
}

impl Rate {
    /// `per_second` connections a second (at least one a day).
    pub fn new(per_second: f64) -> Self {
        let interval = Duration::try_from_secs_f64(1.0 / per_second.max(1e-5))
            .unwrap_or(Duration::from_secs(86_400));
        Self {
            interval,
            next: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for this connection's slot; false when the slot would come after `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> bool {
        let slot = {
            let mut next = match self.next.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let slot = (*next).max(Instant::now());
            if slot >= deadline {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            stage_timeout: Duration::from_secs(4),
            pace: Duration::from_millis(20),
            enumerate: true,
            sni: None,
            rate: None,
        }
    }
}

/// A target: a host name or address, and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Parses `host`, `host:port`, `IPv4`, `IPv4:port`, `[IPv6]:port`, `IPv6`.
pub fn parse_target(s: &str, default_port: u16) -> Result<Target, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty target".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s}: missing ]"))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{s}: not an IPv6 address"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{s}: bad port"))?,
            None if tail.is_empty() => default_port,
            None => return Err(format!("{s}: unexpected text after ]")),
        };
        return Ok(Target {
            host: host.to_owned(),
            port,
        });
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(Target {
            host: s.to_owned(),
            port: default_port,
        });
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok(Target {
            host: h.to_owned(),
            port: p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{s}: bad port"))?,
        }),
        None => Ok(Target {
            host: s.to_owned(),
            port: default_port,
        }),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The result of one Connection Request exchange.
enum Exchange {
    Confirmed {
        confirm: Confirm,
        stream: TcpStream,
        reader: FrameReader,
        tcp: Duration,
        x224: Duration,
    },
    ConnectFailed(ConnectFailure, Duration),
    NoConfirm(ReadFailure, Duration, Duration),
}

async fn exchange(
    addr: SocketAddr,
    protocols: Option<SecurityProtocol>,
    opts: &ProbeOptions,
    deadline: Instant,
) -> Exchange {
    if let Some(rate) = &opts.rate {
        if !rate.acquire(deadline).await {
            return Exchange::ConnectFailed(ConnectFailure::NoTime, Duration::ZERO);
        }
    }
    let t0 = Instant::now();
    let mut stream = match net::connect(addr, net::stage_deadline(deadline, opts.stage_timeout))
        .await
    {
        Ok(s) => s,
        // Accepted, then reset before connect() returned: the server closed at once.
        Err(ConnectFailure::Reset) => {
            return Exchange::NoConfirm(ReadFailure::Reset { got: 0 }, t0.elapsed(), Duration::ZERO)
        }
        Err(e) => return Exchange::ConnectFailed(e, t0.elapsed()),
    };
    let tcp = t0.elapsed();
    let t1 = Instant::now();
    let cr = pdu::connection_request(protocols).unwrap_or_default();
    if let Err(e) = stream.write_all(&cr).await {
        return Exchange::NoConfirm(ReadFailure::Io(e.to_string()), tcp, t1.elapsed());
    }
    let mut reader = FrameReader::default();
    match reader
        .next_tpkt(
            &mut stream,
            net::stage_deadline(deadline, opts.stage_timeout),
        )
        .await
    {
        Ok(frame) => match Confirm::parse(&frame) {
            Some(confirm) => Exchange::Confirmed {
                confirm,
                stream,
                reader,
                tcp,
                x224: t1.elapsed(),
            },
            None => Exchange::NoConfirm(describe_frame(&frame), tcp, t1.elapsed()),
        },
        Err(e) => Exchange::NoConfirm(e, tcp, t1.elapsed()),
    }
}

/// Names a TPKT that is not a Connection Confirm (xrdp answers some requests with an MCS
/// Disconnect Provider Ultimatum); anything else is "not a frame".
fn describe_frame(frame: &[u8]) -> ReadFailure {
    use rdp_proto::x224::Tpdu;
    match Tpdu::parse_tpkt(frame) {
        Ok((_, (_, Tpdu::Data(d)))) => {
            let what = match decode::<rdp_proto::mcs::DomainPdu>(d.payload) {
                Ok(rdp_proto::mcs::DomainPdu::DisconnectProviderUltimatum { reason }) => {
                    format!("MCS Disconnect Provider Ultimatum ({reason}) instead of a Connection Confirm")
                }
                Ok(p) => format!("MCS {} instead of a Connection Confirm", p.pdu_type()),
                Err(_) => "X.224 Data instead of a Connection Confirm".to_owned(),
            };
            ReadFailure::Unexpected(what)
        }
        Ok((_, (_, t))) => ReadFailure::Unexpected(format!(
            "X.224 {} instead of a Connection Confirm",
            t.kind()
        )),
        Err(_) => ReadFailure::NotFrame {
            head: frame.iter().take(64).copied().collect(),
        },
    }
}

/// The layers enumerated: (key, request, the selection that means "accepted").
const LAYERS: [(&str, u32, u32); 6] = [
    ("rdp", 0x00, 0x00),
    ("ssl", 0x01, 0x01),
    ("hybrid", 0x03, 0x02),
    ("hybrid_ex", 0x0B, 0x08),
    ("rdstls", 0x04, 0x04),
    ("rdsaad", 0x10, 0x10),
];

/// The request an mstsc client makes: SSL | HYBRID | HYBRID_EX.
const PRIMARY: u32 = 0x0B;

fn skipped() -> ProtocolResult {
    ProtocolResult {
        accepted: false,
        failure: Some("skipped: --timeout ran out".into()),
        selected: None,
    }
}

fn protocol_result(key_expect: u32, ex: &Exchange) -> ProtocolResult {
    match ex {
        Exchange::Confirmed { confirm, .. } => match confirm.answer {
            Answer::Selected { protocol, .. } => ProtocolResult {
                accepted: protocol.bits() == key_expect,
                failure: (protocol.bits() != key_expect)
                    .then(|| format!("selected {}", protocol_names(protocol))),
                selected: Some(protocol_names(protocol)),
            },
            Answer::Failure(code) => ProtocolResult {
                accepted: false,
                failure: Some(code.to_string()),
                selected: None,
            },
            Answer::Legacy => ProtocolResult {
                accepted: key_expect == 0,
                failure: (key_expect != 0).then(|| "no negotiation (legacy server)".to_owned()),
                selected: Some(protocol_names(SecurityProtocol::RDP)),
            },
        },
        Exchange::ConnectFailed(ConnectFailure::NoTime, _) => skipped(),
        Exchange::ConnectFailed(e, _) => ProtocolResult {
            accepted: false,
            failure: Some(format!("{e:?}")),
            selected: None,
        },
        Exchange::NoConfirm(e, ..) => ProtocolResult {
            accepted: false,
            failure: Some(e.describe()),
            selected: None,
        },
    }
}

struct Run<'a> {
    opts: &'a ProbeOptions,
    deadline: Instant,
    t0: Instant,
    stages: Vec<StageReport>,
    findings: Vec<Finding>,
    stopped_at: Option<Stage>,
    host: &'a str,
    rng: u64,
    /// The stage being worked on (its own connection or its enumeration).
    current: Stage,
    /// Stages the main connection is due to go through, in order; those not recorded when the
    /// run ends (the deadline ran out) are reported as skipped.
    planned: Vec<Stage>,
    /// What was not tried for lack of time (layers, TLS versions, methods).
    skipped: Vec<String>,
}

impl Run<'_> {
    fn stage(&mut self, name: Stage, status: StageStatus, detail: impl Into<String>) {
        let at = self.t0.elapsed();
        self.stage_at(name, status, at, detail);
    }

    fn stage_at(
        &mut self,
        name: Stage,
        status: StageStatus,
        at: Duration,
        detail: impl Into<String>,
    ) {
        self.stages.push(StageReport {
            name,
            status,
            elapsed_ms: ms(at),
            detail: detail.into(),
        });
    }

    fn has_stage(&self, name: Stage) -> bool {
        self.stages.iter().any(|s| s.name == name)
    }

    fn begin(&mut self, stage: Stage) {
        self.current = stage;
    }

    fn plan(&mut self, stages: &[Stage]) {
        self.planned = stages.to_vec();
    }

    fn stop(&mut self, stage: Stage) {
        self.stopped_at.get_or_insert(stage);
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Notes that `what` was not tried: the deadline had passed.
    fn skip(&mut self, what: impl Into<String>) {
        self.skipped.push(what.into());
    }

    /// The pause between two connections to the target, never past its deadline.
    async fn pace(&self) {
        let until = (Instant::now() + self.opts.pace).min(self.deadline);
        tokio::time::sleep_until(until).await;
    }

    fn random(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            chunk.copy_from_slice(&self.rng.to_le_bytes());
        }
        out
    }

    fn sni(&self) -> Option<String> {
        self.opts
            .sni
            .clone()
            .or_else(|| (self.host.parse::<IpAddr>().is_err()).then(|| self.host.to_owned()))
    }

    /// The target's deadline ran out with `self.current` unfinished: that stage timed out (if
    /// the main connection had not passed it), the planned stages after it were skipped.
    fn deadline_passed(&mut self) {
        let current = self.current;
        let limit = format!("--timeout ({:?}) ran out", self.opts.timeout);
        if !self.has_stage(current) {
            self.stage(
                current,
                StageStatus::Timeout,
                format!("{limit} during this stage"),
            );
            self.stop(current);
        }
        let mut evidence = format!("{limit} during the {current} stage");
        if !self.skipped.is_empty() {
            evidence += &format!("; not tried: {}", self.skipped.join(", "));
        }
        self.findings
            .push(finding(FindingId::ProbeTimeout, evidence));
    }

    /// The run finished, but some attempts did not fit in the deadline.
    fn report_skipped(&mut self) {
        if !self.skipped.is_empty()
            && !self
                .findings
                .iter()
                .any(|f| f.id == FindingId::ProbeTimeout)
        {
            let evidence = format!(
                "--timeout ({:?}) ran out; not tried: {}",
                self.opts.timeout,
                self.skipped.join(", ")
            );
            self.findings
                .push(finding(FindingId::ProbeTimeout, evidence));
        }
    }

    /// Marks the planned stages never reached as skipped.
    fn skip_unreached(&mut self) {
        let planned = std::mem::take(&mut self.planned);
        let at = self.t0.elapsed();
        for st in planned {
            if !self.has_stage(st) {
                let why = if self.stopped_at.is_some() {
                    "not reached: the connection stopped at an earlier stage"
                } else {
                    "not reached before --timeout"
                };
                self.stage_at(st, StageStatus::Skipped, at, why);
            }
        }
    }
}

/// Probes one target. `--timeout` is a hard deadline: whatever the server does, the probe of
/// one target returns by then (what was not done is reported as timed out or skipped).
pub async fn probe(target: &Target, opts: &ProbeOptions) -> ProbeResult {
    let t0 = Instant::now();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut run = Run {
        opts,
        deadline: t0 + opts.timeout,
        t0,
        stages: Vec::new(),
        findings: Vec::new(),
        stopped_at: None,
        host: &target.host,
        rng: seed,
        current: Stage::Dns,
        planned: Vec::new(),
        skipped: Vec::new(),
    };
    let mut result = empty_result(target);
    let deadline = run.deadline;
    let finished =
        tokio::time::timeout_at(deadline, probe_into(&mut run, target, &mut result)).await;
    if finished.is_err() {
        run.deadline_passed();
    }
    run.skip_unreached();
    run.report_skipped();
    result.stages = run.stages;
    result.stopped_at = run.stopped_at;
    run.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    result.verdict = diagnose::verdict(&run.findings);
    result.findings = run.findings;
    result.elapsed_ms = ms(t0.elapsed());
    result
}

fn empty_result(target: &Target) -> ProbeResult {
    ProbeResult {
        target: target.host.clone(),
        port: target.port,
        addresses: Vec::new(),
        verdict: Verdict::Ok,
        stopped_at: None,
        stages: Vec::new(),
        security: SecurityReport::default(),
        tls: None,
        credssp: None,
        rdp_security: None,
        findings: Vec::new(),
        elapsed_ms: 0.0,
    }
}

/// The result for a target whose probe task failed inside rdprobe (a panic): reported, never
/// silently missing.
pub fn internal_error(target: &Target, what: &str) -> ProbeResult {
    let mut r = empty_result(target);
    r.findings
        .push(finding(FindingId::InternalError, what.to_owned()));
    r.verdict = Verdict::Error;
    r
}

async fn probe_into(run: &mut Run<'_>, target: &Target, result: &mut ProbeResult) {
    // dns
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => {
            let lookup = tokio::time::timeout_at(
                net::stage_deadline(run.deadline, run.opts.stage_timeout),
                tokio::net::lookup_host((target.host.as_str(), target.port)),
            )
            .await;
            match lookup {
                Ok(Ok(a)) => {
                    let mut v: Vec<SocketAddr> = a.collect();
                    v.dedup();
                    let list = v
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    run.stage(Stage::Dns, StageStatus::Ok, list);
                    v
                }
                Ok(Err(e)) => {
                    run.stage(Stage::Dns, StageStatus::Failed, e.to_string());
                    run.stop(Stage::Dns);
                    run.findings.push(finding(
                        FindingId::DnsUnresolved,
                        format!("{}: {e}", target.host),
                    ));
                    return;
                }
                Err(_) => {
                    run.stage(
                        Stage::Dns,
                        StageStatus::Timeout,
                        "no answer from the resolver",
                    );
                    run.stop(Stage::Dns);
                    run.findings.push(finding(
                        FindingId::DnsUnresolved,
                        format!("{}: resolver timeout", target.host),
                    ));
                    return;
                }
            }
        }
    };
    if addrs.is_empty() {
        run.stage(Stage::Dns, StageStatus::Failed, "no address");
        run.stop(Stage::Dns);
        run.findings.push(finding(
            FindingId::DnsUnresolved,
            format!("{}: no address", target.host),
        ));
        return;
    }

    // tcp + x224: the connection mstsc would make, on each address until one speaks RDP.
    let mut chosen = None;
    let mut first_failure = None;
    let mut outcomes = Vec::new();
    run.begin(Stage::Tcp);
    // Different addresses are different servers: no pacing between them, but every attempt
    // inside the target's deadline; those that did not fit are reported as skipped.
    for addr in &addrs {
        if run.out_of_time() {
            result.addresses.push(AddressResult {
                address: addr.ip().to_string(),
                outcome: "skipped".into(),
                probed: false,
            });
            continue;
        }
        let ex = exchange(
            *addr,
            Some(SecurityProtocol::from_bits_retain(PRIMARY)),
            run.opts,
            run.deadline,
        )
        .await;
        let outcome = match &ex {
            Exchange::Confirmed { .. } => "rdp",
            Exchange::ConnectFailed(ConnectFailure::Refused, _) => "refused",
            Exchange::ConnectFailed(ConnectFailure::Timeout, _) => "timeout",
            Exchange::ConnectFailed(ConnectFailure::Unreachable(_), _) => "unreachable",
            Exchange::ConnectFailed(ConnectFailure::Other(_), _) => "error",
            Exchange::ConnectFailed(ConnectFailure::NoTime | ConnectFailure::Reset, _) => "skipped",
            Exchange::NoConfirm(ReadFailure::NotFrame { .. }, ..) => "not-rdp",
            Exchange::NoConfirm(ReadFailure::Timeout { .. }, ..) => "silent",
            Exchange::NoConfirm(..) => "closed",
        };
        outcomes.push(outcome);
        result.addresses.push(AddressResult {
            address: addr.ip().to_string(),
            outcome: outcome.into(),
            probed: chosen.is_none() && outcome == "rdp",
        });
        if chosen.is_none() && outcome == "rdp" {
            chosen = Some((*addr, ex));
        } else if first_failure.is_none() {
            first_failure = Some((*addr, ex));
        }
    }
    if chosen.is_none() {
        if let Some(a) = result.addresses.first_mut() {
            a.probed = true;
        }
        chosen = first_failure;
    }
    if outcomes.len() > 1 && outcomes.iter().any(|o| *o != outcomes[0]) {
        let detail = result
            .addresses
            .iter()
            .map(|a| format!("{} {}", a.address, a.outcome))
            .collect::<Vec<_>>()
            .join(", ");
        run.findings
            .push(finding(FindingId::DnsMultipleAddresses, detail));
    }
    let Some((addr, primary)) = chosen else {
        return;
    };
    run.begin(Stage::X224);
    let primary = match primary {
        Exchange::ConnectFailed(e, t) => {
            let (status, id, detail) = match &e {
                ConnectFailure::Refused => (
                    StageStatus::Failed,
                    FindingId::TcpRefused,
                    format!("{addr} refused the connection (RST)"),
                ),
                ConnectFailure::Timeout => (
                    StageStatus::Timeout,
                    FindingId::TcpTimeout,
                    format!("no answer from {addr} within {:?}", run.opts.stage_timeout),
                ),
                ConnectFailure::Unreachable(m) => (
                    StageStatus::Failed,
                    FindingId::TcpUnreachable,
                    format!("{addr}: {m}"),
                ),
                ConnectFailure::Other(m) => (
                    StageStatus::Failed,
                    FindingId::TcpUnreachable,
                    format!("{addr}: {m}"),
                ),
                ConnectFailure::NoTime | ConnectFailure::Reset => (
                    StageStatus::Skipped,
                    FindingId::ProbeTimeout,
                    format!("no time left to connect to {addr} (--timeout / --rate)"),
                ),
            };
            run.stages.push(StageReport {
                name: Stage::Tcp,
                status,
                elapsed_ms: ms(t),
                detail: detail.clone(),
            });
            run.stop(Stage::Tcp);
            run.findings.push(finding(id, detail));
            return;
        }
        Exchange::NoConfirm(e, tcp, x) => {
            run.stages.push(StageReport {
                name: Stage::Tcp,
                status: StageStatus::Ok,
                elapsed_ms: ms(tcp),
                detail: addr.to_string(),
            });
            let (status, id) = match &e {
                ReadFailure::Timeout { .. } => (StageStatus::Timeout, FindingId::X224NoResponse),
                ReadFailure::NotFrame { .. } => (StageStatus::Failed, FindingId::NotRdp),
                _ => (StageStatus::Failed, FindingId::X224Closed),
            };
            run.stages.push(StageReport {
                name: Stage::X224,
                status,
                elapsed_ms: ms(tcp + x),
                detail: e.describe(),
            });
            run.stop(Stage::X224);
            run.findings.push(finding(id, e.describe()));
            return;
        }
        ex @ Exchange::Confirmed { .. } => ex,
    };
    let Exchange::Confirmed {
        confirm, tcp, x224, ..
    } = &primary
    else {
        return;
    };
    run.stages.push(StageReport {
        name: Stage::Tcp,
        status: StageStatus::Ok,
        elapsed_ms: ms(*tcp),
        detail: addr.to_string(),
    });
    let confirm = *confirm;
    let malformed = rules::malformed_confirm(&confirm);
    run.stages.push(StageReport {
        name: Stage::X224,
        status: if malformed.is_some() {
            StageStatus::Failed
        } else {
            StageStatus::Ok
        },
        elapsed_ms: ms(*tcp + *x224),
        detail: confirm.detail(),
    });
    if let Some(m) = malformed {
        run.stop(Stage::X224);
        run.findings.push(m);
    }
    let main_selected = confirm.selected();
    let main_tls = main_selected.is_some_and(|p| {
        p.intersects(SecurityProtocol::SSL | SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX)
    });
    let main_nla = main_selected
        .is_some_and(|p| p.intersects(SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX));
    if main_nla {
        run.plan(&[Stage::Tls, Stage::Credssp]);
    } else if main_tls {
        run.plan(&[Stage::Tls]);
    } else if main_selected.is_some() {
        run.plan(&[Stage::Mcs]);
    }
    let sec = &mut result.security;
    sec.selected = main_selected.map(protocol_names);
    sec.neg_flags = rdp_proto::nego::flag_names(confirm.flags());
    sec.legacy_no_negotiation = confirm.is_legacy();
    run.findings
        .extend(rules::restricted_admin(confirm.flags()));
    run.findings.extend(rules::legacy_no_negotiation(&confirm));

    // Security layers, each on its own connection.
    let mut results: BTreeMap<&'static str, ProtocolResult> = BTreeMap::new();
    results.insert("hybrid_ex", protocol_result(0x08, &primary));
    let mut not_requested = Vec::new();
    let check_requested = |req: u32, ex: &Exchange, out: &mut Vec<Finding>| {
        if let Exchange::Confirmed { confirm, .. } = ex {
            if let Answer::Selected { protocol, .. } = confirm.answer {
                let req = SecurityProtocol::from_bits_retain(req);
                out.extend(rules::protocol_not_requested(req, protocol));
            }
        }
    };
    check_requested(PRIMARY, &primary, &mut not_requested);
    drop(primary);
    let mut legacy_cc = confirm.is_legacy();
    if run.opts.enumerate {
        for (key, req, expect) in LAYERS {
            if key == "hybrid_ex" {
                continue;
            }
            if run.out_of_time() {
                results.insert(key, skipped());
                run.skip(format!("layer {key}"));
                continue;
            }
            run.pace().await;
            let ex = exchange(
                addr,
                Some(SecurityProtocol::from_bits_retain(req)),
                run.opts,
                run.deadline,
            )
            .await;
            check_requested(req, &ex, &mut not_requested);
            if matches!(ex, Exchange::ConnectFailed(ConnectFailure::NoTime, _)) {
                run.skip(format!("layer {key}"));
            }
            results.insert(key, protocol_result(expect, &ex));
        }
        run.pace().await;
        let ex = exchange(addr, None, run.opts, run.deadline).await;
        legacy_cc |= matches!(&ex, Exchange::Confirmed { confirm, .. } if confirm.is_legacy());
    }
    // A Confirm without negotiation is only half an answer (xrdp set to TLS sends one and then
    // drops the Connect-Initial): Standard RDP Security is accepted if the MCS stage works.
    let mut legacy_accepted = confirm.is_legacy();
    let mut legacy_found = None;
    if legacy_cc && !results.get("rdp").is_some_and(|r| r.accepted) && run.opts.enumerate {
        let found = rdp_security_attempts(run, addr, None).await;
        if found
            .as_ref()
            .is_some_and(|f| f.report.server_version.is_some())
        {
            legacy_accepted = true;
            legacy_found = found;
        }
    }
    run.findings.extend(not_requested.into_iter().take(1));
    // What the main connection's selection shows counts too (--no-enum enumerates nothing).
    let main_is =
        |p: SecurityProtocol| main_selected.is_some_and(|s| s.contains(p) && !confirm.is_legacy());
    let acc = |k: &str| results.get(k).is_some_and(|r| r.accepted);
    let (rdp_neg, ssl, hybrid, hybrid_ex) = (
        acc("rdp") || main_selected == Some(SecurityProtocol::RDP) && !confirm.is_legacy(),
        acc("ssl") || main_selected == Some(SecurityProtocol::SSL),
        acc("hybrid") || main_is(SecurityProtocol::HYBRID),
        acc("hybrid_ex") || main_is(SecurityProtocol::HYBRID_EX),
    );
    let rdp = rdp_neg || legacy_accepted;
    let any = rdp || ssl || hybrid || hybrid_ex || acc("rdstls") || acc("rdsaad");
    if any {
        result.security.nla_required = Some(!(rdp || ssl) && (hybrid || hybrid_ex));
        run.findings.extend(rules::open_layers(rules::OpenLayers {
            rdp,
            rdp_only_legacy: legacy_accepted && !rdp_neg,
            ssl,
        }));
    } else if let Some(code) = confirm.failure() {
        run.stop(Stage::X224);
        run.findings.push(rules::negotiation_failure(
            code,
            Some(SecurityProtocol::from_bits_retain(PRIMARY)),
        ));
    }
    result.security.protocols = results;

    // TLS: on the request mstsc makes when its selection is a TLS one, else on the layer the
    // enumeration found.
    if main_tls {
        tls_stage(run, addr, PRIMARY, main_nla, result).await;
    } else if ssl || hybrid || hybrid_ex {
        let req = if hybrid {
            0x03
        } else if hybrid_ex {
            0x0B
        } else {
            0x01
        };
        tls_stage(run, addr, req, hybrid || hybrid_ex, result).await;
    }
    // Standard RDP Security: every method alone when enumerating; else the one Connect-Initial
    // mstsc sends (all methods offered) when Standard RDP Security is what the server chose.
    let found = if rdp && !run.opts.enumerate && !main_tls {
        let req = (!confirm.is_legacy()).then_some(SecurityProtocol::RDP);
        run.begin(Stage::Mcs);
        rdp_security_attempts(run, addr, req).await
    } else if rdp && run.opts.enumerate {
        match legacy_found {
            Some(found) => Some(found),
            None => {
                let req = rdp_neg.then_some(SecurityProtocol::RDP);
                run.begin(Stage::Mcs);
                rdp_security_attempts(run, addr, req).await
            }
        }
    } else {
        None
    };
    if let Some(found) = found {
        conclude_rdp_security(run, found, result);
    }
}

/// The TLS stage: first the connection mstsc makes (rustls, TLS 1.2/1.3, then CredSSP on it
/// when `credssp`), then, when enumerating, our own ClientHello per version. The stage is
/// `failed` / `timeout` when that main handshake fails, unless the server simply offers only
/// TLS 1.0/1.1 (which rustls cannot speak: `tls-legacy-only` says so).
async fn tls_stage(
    run: &mut Run<'_>,
    addr: SocketAddr,
    req: u32,
    credssp: bool,
    result: &mut ProbeResult,
) {
    let mut report = TlsProbeReport::default();
    run.pace().await;
    if run.out_of_time() {
        // Never started: reported as skipped (a planned stage) with the probe-timeout finding.
        run.skip("tls");
        return;
    }
    run.begin(Stage::Tls);
    let main = rustls_session(run, addr, req, credssp).await;
    let mut session_chain = Vec::new();
    let mut credssp_outcome = None;
    let main_failure = match main {
        Ok(s) => {
            run.stage_at(
                Stage::Tls,
                StageStatus::Ok,
                s.tls_at,
                format!("{} {}", s.version, s.cipher),
            );
            report.version = Some(s.version);
            report.cipher = Some(s.cipher);
            session_chain = s.chain;
            credssp_outcome = s.credssp;
            None
        }
        Err(e) => Some(e),
    };
    if let Some((at, outcome)) = credssp_outcome {
        match outcome {
            Ok(c) => {
                run.stage_at(
                    Stage::Credssp,
                    StageStatus::Ok,
                    at,
                    format!("TSRequest version {}", c.version),
                );
                result.credssp = Some(c);
            }
            Err(err) => {
                run.stage_at(Stage::Credssp, StageStatus::Failed, at, err.clone());
                run.stop(Stage::Credssp);
                run.findings.push(finding(FindingId::CredsspFailed, err));
            }
        }
    }

    let mut plain_chain: Vec<Vec<u8>> = Vec::new();
    if run.opts.enumerate {
        let versions = [
            ("tls1_0", ProtocolVersion::TLS_1_0),
            ("tls1_1", ProtocolVersion::TLS_1_1),
            ("tls1_2", ProtocolVersion::TLS_1_2),
            ("tls1_3", ProtocolVersion::TLS_1_3),
        ];
        for (key, v) in versions {
            if run.out_of_time() {
                report
                    .rejections
                    .insert(key, "skipped: --timeout ran out".into());
                run.skip(key);
                continue;
            }
            run.pace().await;
            match hello_probe(run, addr, req, v).await {
                Ok(chain) => {
                    report.versions.insert(key, true);
                    if v != ProtocolVersion::TLS_1_3 && !chain.is_empty() {
                        plain_chain = chain;
                    }
                }
                Err(why) => {
                    report.versions.insert(key, false);
                    report.rejections.insert(key, why);
                }
            }
        }
    }
    let accepted: Vec<&str> = report
        .versions
        .iter()
        .filter(|(_, a)| **a)
        .map(|(k, _)| *k)
        .collect();
    let has_modern =
        report.version.is_some() || accepted.iter().any(|k| *k == "tls1_2" || *k == "tls1_3");
    let has_legacy = accepted.iter().any(|k| *k == "tls1_0" || *k == "tls1_1");
    let legacy_only = has_legacy && !has_modern;
    match &main_failure {
        Some(_) if legacy_only => {
            // rustls cannot speak TLS 1.0/1.1: the handshake our own ClientHello made stands.
            run.stage(Stage::Tls, StageStatus::Ok, accepted.join(","));
        }
        Some(e) => {
            if !run.opts.enumerate {
                report.rejections.insert("tls1_2", e.why.clone());
            }
            run.stage(
                Stage::Tls,
                if e.timed_out {
                    StageStatus::Timeout
                } else {
                    StageStatus::Failed
                },
                e.why.clone(),
            );
            run.stop(Stage::Tls);
            run.findings.push(finding(
                FindingId::TlsHandshakeFailed,
                format!("TLS session: {}", e.why),
            ));
        }
        None => {}
    }
    if legacy_only {
        run.findings.push(finding(
            FindingId::TlsLegacyOnly,
            format!("accepted: {}", accepted.join(", ")),
        ));
    } else if has_legacy {
        run.findings.push(finding(
            FindingId::TlsLegacyEnabled,
            format!("accepted: {}", accepted.join(", ")),
        ));
    }
    let chain = if session_chain.is_empty() {
        plain_chain
    } else {
        session_chain
    };
    if let Some(der) = chain.first() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if let Some(c) = CertFacts::parse(der) {
            run.findings.extend(rules::certificate(
                &c,
                now,
                &format!("now {}", rfc3339(now)),
            ));
            let mismatch = rules::certificate_name(&c, run.host);
            report.certificate = Some(ProbeCertificate {
                cert: Certificate::from_facts(&c, now),
                name_matches: mismatch.is_none(),
                chain_length: chain.len(),
            });
            run.findings.extend(mismatch);
        }
    }
    if let Some(c) = &result.credssp {
        if !c.patched_cve_2018_0886 {
            run.findings.push(finding(
                FindingId::CredsspUnpatched,
                format!("TSRequest version {}", c.version),
            ));
        }
        if let Some(skew) = c.ntlm.as_ref().and_then(|n| n.clock_skew_s) {
            if skew.abs() > 300 {
                run.findings.push(finding(
                    FindingId::ClockSkew,
                    format!("the server's clock is {skew} s from ours"),
                ));
            }
        }
    }
    result.tls = Some(report);
}

/// Sends our own ClientHello offering only `v`; Ok(the plaintext chain, if any) if the server
/// accepts it (answers with a ServerHello of that version).
async fn hello_probe(
    run: &mut Run<'_>,
    addr: SocketAddr,
    req: u32,
    v: ProtocolVersion,
) -> Result<Vec<Vec<u8>>, String> {
    let ex = exchange(
        addr,
        Some(SecurityProtocol::from_bits_retain(req)),
        run.opts,
        run.deadline,
    )
    .await;
    let Exchange::Confirmed {
        mut stream,
        mut reader,
        confirm: Confirm {
            answer: Answer::Selected { .. },
            ..
        },
        ..
    } = ex
    else {
        return Err("no TLS-capable Connection Confirm".into());
    };
    let sni = run.sni();
    let hello = ptls::ProbeHello {
        version: v,
        suites: ptls::ProbeHello::default_suites(v),
        sni: sni.as_deref(),
        random: run.random(),
    };
    let record = hello.to_record().map_err(|e| e.to_string())?;
    stream.write_all(&record).await.map_err(|e| e.to_string())?;
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut suite = None;
    let mut chain = Vec::new();
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let frame = match reader.next(&mut stream, deadline).await {
            Ok(f) => f,
            // After the ServerHello, the version is known: the rest is a bonus.
            Err(_) if suite.is_some() => break,
            Err(e) => return Err(e.describe()),
        };
        let Ok(rec) = decode::<ptls::Record>(&frame) else {
            return Err("not a TLS record".into());
        };
        match rec.content_type {
            ContentType::ALERT => {
                let why = decode::<ptls::Alert>(rec.fragment)
                    .map_or("alert".to_owned(), |a| format!("alert {}", a.description));
                return if suite.is_some() { Ok(chain) } else { Err(why) };
            }
            ContentType::HANDSHAKE => {
                if carry.len() + rec.fragment.len() > MAX_HANDSHAKE_FLIGHT {
                    // A 16 MB certificate claim, or a flood of fragments: not a usable answer
                    // (a version counts only with its ServerHello, which came first if at all).
                    break;
                }
                carry.extend_from_slice(rec.fragment);
                let mut rest: &[u8] = &carry;
                let mut done = false;
                while let Ok((r, hs)) = decode_prefix::<ptls::Handshake>(rest) {
                    match hs.msg_type {
                        HandshakeType::SERVER_HELLO => {
                            let sh: ptls::ServerHello =
                                decode(hs.body).map_err(|e| e.to_string())?;
                            if sh.selected_version() != v {
                                return Err(format!(
                                    "answered with {}",
                                    sh.selected_version().label()
                                ));
                            }
                            suite = Some(sh.cipher_suite.to_string());
                            if v == ProtocolVersion::TLS_1_3 {
                                done = true;
                            }
                        }
                        HandshakeType::CERTIFICATE => {
                            if let Ok(c) = decode::<ptls::Certificate>(hs.body) {
                                chain = c.certificates.iter().map(|d| d.to_vec()).collect();
                            }
                        }
                        HandshakeType::SERVER_HELLO_DONE => done = true,
                        _ => {}
                    }
                    rest = r;
                }
                // Only what was consumed goes (no copy of the whole buffer per record: a
                // flood of one-byte fragments would make that quadratic).
                let consumed = carry.len() - rest.len();
                carry.drain(..consumed);
                if done {
                    break;
                }
            }
            _ if suite.is_some() => break,
            _ => return Err("unexpected record".into()),
        }
    }
    suite.map(|_| chain).ok_or_else(|| "no ServerHello".into())
}

/// The largest server flight our own ClientHello waits through (certificate chains of real
/// RDP servers are a few kB).
const MAX_HANDSHAKE_FLIGHT: usize = 256 * 1024;

struct Session {
    version: String,
    cipher: String,
    chain: Vec<Vec<u8>>,
    /// When the TLS handshake finished (from the target's start).
    tls_at: Duration,
    /// When CredSSP ended, and what it gave (None: not attempted).
    credssp: Option<(Duration, Result<CredsspReport, String>)>,
}

/// Why the main TLS handshake failed.
struct TlsFailure {
    timed_out: bool,
    why: String,
}

impl From<String> for TlsFailure {
    fn from(why: String) -> Self {
        Self {
            timed_out: false,
            why,
        }
    }
}

/// Records nothing and accepts everything: the probe reports on certificates, it does not trust them.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

async fn rustls_session(
    run: &mut Run<'_>,
    addr: SocketAddr,
    req: u32,
    credssp: bool,
) -> Result<Session, TlsFailure> {
    let ex = exchange(
        addr,
        Some(SecurityProtocol::from_bits_retain(req)),
        run.opts,
        run.deadline,
    )
    .await;
    let Exchange::Confirmed {
        stream,
        confirm:
            Confirm {
                answer: Answer::Selected { protocol, .. },
                ..
            },
        ..
    } = ex
    else {
        return Err(TlsFailure::from(
            "no TLS-capable Connection Confirm".to_owned(),
        ));
    };
    let name = match run.sni() {
        Some(n) => rustls::pki_types::ServerName::try_from(n).map_err(|e| e.to_string())?,
        None => rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config()?);
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut tls = tokio::time::timeout_at(deadline, connector.connect(name, stream))
        .await
        .map_err(|_| TlsFailure {
            timed_out: true,
            why: "the TLS handshake did not finish before the deadline".to_owned(),
        })?
        .map_err(|e| e.to_string())?;
    let tls_at = run.t0.elapsed();
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().map_or("?".into(), |v| match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    });
    let cipher = conn
        .negotiated_cipher_suite()
        .map_or("?".into(), |s| format!("{:?}", s.suite()));
    let chain = conn
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
        .unwrap_or_default();
    let mut session = Session {
        version,
        cipher,
        chain,
        tls_at,
        credssp: None,
    };
    let hybrid = protocol.intersects(SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX);
    if credssp && hybrid {
        run.begin(Stage::Credssp);
        let outcome = credssp_exchange(run, &mut tls).await;
        session.credssp = Some((run.t0.elapsed(), outcome));
    }
    Ok(session)
}

async fn credssp_exchange(
    run: &mut Run<'_>,
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
) -> Result<CredsspReport, String> {
    let negotiate = ntlm::Negotiate::probe(ntlm::Version {
        major: 10,
        minor: 0,
        build: 19041,
        reserved: [0; 3],
        revision: 15,
    });
    let token = rdp_proto::encode_vec(&negotiate).map_err(|e| e.to_string())?;
    let req = TsRequest {
        version: 6,
        nego_tokens: vec![&token],
        ..Default::default()
    };
    let bytes = rdp_proto::encode_vec(&req).map_err(|e| e.to_string())?;
    tls.write_all(&bytes)
        .await
        .map_err(|e| format!("sending the NTLM NEGOTIATE: {e}"))?;
    let mut reader = FrameReader::new(Framing::Der);
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let frame = reader
        .next(tls, deadline)
        .await
        .map_err(|e| format!("after the NTLM NEGOTIATE: {}", e.describe()))?;
    let resp: TsRequest = decode(&frame).map_err(|e| format!("server TSRequest: {e}"))?;
    let mut report = CredsspReport {
        version: resp.version,
        patched_cve_2018_0886: resp.patched_cve_2018_0886(),
        ntlm: None,
        error_code: resp.error_code.map(|e| format!("0x{:08x} {e}", e.0)),
    };
    if let Some(token) = resp.nego_tokens.first() {
        if let Ok(Message::Challenge(ch)) = decode::<Message>(token) {
            let text = |id| ch.av(id).map(|p| p.text());
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let ts = ch
                .av(AvId::MSV_AV_TIMESTAMP)
                .and_then(|p| p.filetime())
                .and_then(ntlm::filetime_to_unix);
            report.ntlm = Some(NtlmReport {
                netbios_domain: text(AvId::MSV_AV_NB_DOMAIN_NAME),
                netbios_computer: text(AvId::MSV_AV_NB_COMPUTER_NAME),
                dns_domain: text(AvId::MSV_AV_DNS_DOMAIN_NAME),
                dns_computer: text(AvId::MSV_AV_DNS_COMPUTER_NAME),
                dns_tree: text(AvId::MSV_AV_DNS_TREE_NAME),
                product_version: ch.version.map(|v| v.product_version()),
                timestamp: ts.map(|t| rfc3339(t as i64)),
                clock_skew_s: ts.map(|t| t as i64 - now),
            });
        }
    }
    Ok(report)
}

/// What the Connect-Initial attempts of Standard RDP Security found.
struct RdpSecurityFound {
    report: RdpSecurityReport,
    /// Methods the server accepted.
    accepted: Vec<EncryptionMethods>,
    level: Option<rdp_proto::gcc::EncryptionLevel>,
    /// The X.509 chain of the first answer with one.
    x509: Vec<Vec<u8>>,
    /// At least one Connect-Response came back.
    any: bool,
}

/// Offers each encryption method alone in an MCS Connect-Initial (when enumerating), else the
/// one Connect-Initial mstsc sends. None when nothing could be tried in time.
async fn rdp_security_attempts(
    run: &mut Run<'_>,
    addr: SocketAddr,
    req: Option<SecurityProtocol>,
) -> Option<RdpSecurityFound> {
    // Each method alone when enumerating; else what mstsc offers: 40, 56, 128-bit and FIPS.
    let each: &[(u32, &'static str)] = &[
        (0u32, "none"),
        (0x01, "40bit"),
        (0x08, "56bit"),
        (0x02, "128bit"),
        (0x10, "fips"),
    ];
    let mstsc: &[(u32, &'static str)] = &[(0x1B, "all")];
    let methods = if run.opts.enumerate { each } else { mstsc };
    let mut found = RdpSecurityFound {
        report: RdpSecurityReport::default(),
        accepted: Vec::new(),
        level: None,
        x509: Vec::new(),
        any: false,
    };
    let report = &mut found.report;
    for &(bits, name) in methods {
        if run.out_of_time() {
            report
                .answers
                .insert(name, "skipped: --timeout ran out".into());
            run.skip(format!("encryption method {name}"));
            continue;
        }
        run.pace().await;
        let ex = exchange(addr, req, run.opts, run.deadline).await;
        let Exchange::Confirmed {
            mut stream,
            mut reader,
            confirm,
            ..
        } = ex
        else {
            if matches!(ex, Exchange::ConnectFailed(ConnectFailure::NoTime, _)) {
                report
                    .answers
                    .insert(name, "skipped: --timeout ran out".into());
                run.skip(format!("encryption method {name}"));
            } else {
                report.answers.insert(name, "no Connection Confirm".into());
            }
            continue;
        };
        let selected = match confirm.answer {
            Answer::Selected { protocol, .. } => Some(protocol),
            _ => None,
        };
        let Ok(ci) = pdu::connect_initial(EncryptionMethods::from_bits_retain(bits), selected)
        else {
            continue;
        };
        if stream.write_all(&ci).await.is_err() {
            report.answers.insert(name, "closed".into());
            continue;
        }
        let frame = reader
            .next(
                &mut stream,
                net::stage_deadline(run.deadline, run.opts.stage_timeout),
            )
            .await;
        let answer = match frame {
            Ok(frame) => ConnectResponseFacts::parse(&frame),
            Err(e) => {
                report.answers.insert(name, e.describe());
                continue;
            }
        };
        let Some(cr) = answer else {
            report.answers.insert(name, "not a Connect-Response".into());
            continue;
        };
        found.any = true;
        report.server_version = report
            .server_version
            .take()
            .or(cr.version.map(|v| v.label()));
        let Some(sec) = cr.security else {
            report
                .answers
                .insert(name, "no Server Security Data".into());
            continue;
        };
        report.answers.insert(name, method_name(sec.method));
        let offered = EncryptionMethods::from_bits_retain(bits);
        let accepted = if bits.count_ones() > 1 {
            // Several offered: the one the server chose is accepted.
            sec.method.intersects(offered)
        } else {
            sec.method == offered && !(bits == 0 && sec.level.0 != 0)
        };
        if accepted {
            found.accepted.push(sec.method);
            report.encryption_methods.push(method_name(sec.method));
        }
        found.level = found.level.or(Some(sec.level));
        report.encryption_level = report
            .encryption_level
            .take()
            .or(Some(sec.level.to_string()));
        report.certificate_type = report
            .certificate_type
            .take()
            .or(sec.certificate.map(|k| k.label().to_owned()));
        report.rsa_key_bits = report.rsa_key_bits.or(sec.rsa_bits);
        if found.x509.is_empty() {
            found.x509 = sec.x509_chain;
        }
    }
    if !found.any
        && found
            .report
            .answers
            .values()
            .all(|a| a.starts_with("skipped"))
        && run.out_of_time()
    {
        // Nothing could be tried in time: not a server failure (the mcs stage is skipped).
        return None;
    }
    Some(found)
}

/// The MCS stage's line and findings from what the Connect-Initial attempts found.
fn conclude_rdp_security(run: &mut Run<'_>, found: RdpSecurityFound, result: &mut ProbeResult) {
    run.begin(Stage::Mcs);
    let report = found.report;
    // The X.509 chain of Standard RDP Security: the server's own certificate is the last.
    if let Some(c) = found.x509.last().and_then(|der| CertFacts::parse(der)) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        run.findings.extend(rules::certificate(
            &c,
            now,
            &format!("now {}", rfc3339(now)),
        ));
    }
    if found.any {
        let detail = format!(
            "{} {}",
            report.encryption_level.clone().unwrap_or_default(),
            report.encryption_methods.join(",")
        );
        run.stage(Stage::Mcs, StageStatus::Ok, detail);
        run.findings
            .extend(rules::weak_rdp_encryption(&found.accepted, found.level));
        run.findings
            .extend(rules::weak_proprietary_key(report.rsa_key_bits));
    } else {
        let first = report.answers.values().next().cloned().unwrap_or_default();
        run.stage(Stage::Mcs, StageStatus::Failed, first.clone());
        run.stop(Stage::Mcs);
        run.findings.push(finding(
            FindingId::X224Closed,
            format!("Standard RDP Security accepted, but no Connect-Response: {first}"),
        ));
    }
    result.rdp_security = Some(report);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("rdp.example", 3389).unwrap(),
            Target {
                host: "rdp.example".into(),
                port: 3389
            }
        );
        assert_eq!(
            parse_target("10.0.0.1:3390", 3389).unwrap(),
            Target {
                host: "10.0.0.1".into(),
                port: 3390
            }
        );
        assert_eq!(
            parse_target("[::1]:13389", 3389).unwrap(),
            Target {
                host: "::1".into(),
                port: 13389
            }
        );
        assert_eq!(
            parse_target("::1", 3389).unwrap(),
            Target {
                host: "::1".into(),
                port: 3389
            }
        );
        assert!(parse_target("[::1", 3389).is_err());
        assert!(parse_target("host:notaport", 3389).is_err());
    }

    #[test]
    fn a_selection_outside_the_request_is_noticed() {
        // xrdp answers SSL|HYBRID with PROTOCOL_RDP.
        let ex = protocol_result(
            0x02,
            &Exchange::ConnectFailed(ConnectFailure::Timeout, Duration::ZERO),
        );
        assert!(!ex.accepted);
    }
}
