//! The probe's driver: one target, stage by stage, each attempt on its own TCP connection,
//! every wait bounded by the stage timeout and the target's deadline. It only resolves,
//! connects, writes, reads frames by the deframer's hint, paces and keeps time; what to try and
//! what each answer means is decided in [`super::plan`] (sans-IO).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::nego::SecurityProtocol;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::net::{self, FrameReader};
use super::pdu;
use super::plan::{self, ConnectFailure, CrOutcome, Layer, ReadFailure, Record};
pub use super::targets::{parse_target, Target};
use crate::diagnose::{self, finding, rules, Finding, FindingId, Stage, StageStatus, Verdict};
use crate::facts::gcc::ConnectResponseFacts;
use crate::facts::x224::{Answer, Confirm};
use crate::report::probe::*;

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
    /// The last stage walked on the main connection (`--stop-after`; `mcs` and earlier: no
    /// walk past the MCS connect).
    pub stop_after: Stage,
    /// `--user`: CredSSP and the Client Info carry these on the main connection (never on the
    /// enumeration's).
    pub credentials: Option<Arc<super::credentials::Credentials>>,
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
            stop_after: Stage::Active,
            credentials: None,
        }
    }
}

/// The result of one Connection Request: the outcome, and the stream when it was a Confirm.
pub(super) struct Exchange {
    outcome: CrOutcome,
    stream: Option<(TcpStream, FrameReader)>,
    /// Time to connect, and from the request to the answer.
    tcp: Duration,
    x224: Duration,
}

impl Exchange {
    fn failed(outcome: CrOutcome, tcp: Duration, x224: Duration) -> Self {
        Self {
            outcome,
            stream: None,
            tcp,
            x224,
        }
    }

    /// The Confirm and the stream, if the server confirmed.
    pub(super) fn confirmed(self) -> Option<(Confirm, TcpStream, FrameReader)> {
        match (self.outcome, self.stream) {
            (CrOutcome::Confirmed(c), Some((s, r))) => Some((c, s, r)),
            _ => None,
        }
    }
}

/// Connects to `addr` and sends a Connection Request for `protocols` (None: no negotiation).
pub(super) async fn exchange(
    addr: SocketAddr,
    protocols: Option<SecurityProtocol>,
    opts: &ProbeOptions,
    deadline: Instant,
) -> Exchange {
    if let Some(rate) = &opts.rate {
        if !rate.acquire(deadline).await {
            return Exchange::failed(
                CrOutcome::ConnectFailed(ConnectFailure::NoTime),
                Duration::ZERO,
                Duration::ZERO,
            );
        }
    }
    let t0 = Instant::now();
    let mut stream =
        match net::connect(addr, net::stage_deadline(deadline, opts.stage_timeout)).await {
            Ok(s) => s,
            // Accepted, then reset before connect() returned: the server closed at once.
            Err(ConnectFailure::Reset) => {
                return Exchange::failed(
                    CrOutcome::NoConfirm(ReadFailure::Reset { got: 0 }),
                    t0.elapsed(),
                    Duration::ZERO,
                )
            }
            Err(e) => {
                return Exchange::failed(CrOutcome::ConnectFailed(e), t0.elapsed(), Duration::ZERO)
            }
        };
    let tcp = t0.elapsed();
    let t1 = Instant::now();
    let cr = pdu::connection_request(protocols).unwrap_or_default();
    if let Err(e) = stream.write_all(&cr).await {
        return Exchange::failed(
            CrOutcome::NoConfirm(ReadFailure::Io(e.to_string())),
            tcp,
            t1.elapsed(),
        );
    }
    let mut reader = FrameReader::default();
    let answer = reader
        .next_tpkt(
            &mut stream,
            net::stage_deadline(deadline, opts.stage_timeout),
        )
        .await;
    let x224 = t1.elapsed();
    match answer {
        Ok(frame) => match plan::read_confirm(&frame) {
            outcome @ CrOutcome::Confirmed(_) => Exchange {
                outcome,
                stream: Some((stream, reader)),
                tcp,
                x224,
            },
            outcome => Exchange::failed(outcome, tcp, x224),
        },
        Err(e) => Exchange::failed(CrOutcome::NoConfirm(e), tcp, x224),
    }
}

/// One target's run: the options, its deadline, and the record of what was decided.
pub(super) struct Run<'a> {
    pub(super) opts: &'a ProbeOptions,
    pub(super) deadline: Instant,
    pub(super) t0: Instant,
    pub(super) host: &'a str,
    /// The target name's canonical name, when the resolver gave one (a CNAME or hosts-file
    /// alias's target).
    pub(super) canonical: Option<String>,
    pub(super) rng: u64,
    pub(super) rec: Record,
}

impl Run<'_> {
    pub(super) fn at(&self) -> Duration {
        self.t0.elapsed()
    }

    pub(super) fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn limit(&self) -> String {
        format!("--timeout ({:?})", self.opts.timeout)
    }

    /// The pause between two connections to the target, never past its deadline.
    pub(super) async fn pace(&self) {
        let until = (Instant::now() + self.opts.pace).min(self.deadline);
        tokio::time::sleep_until(until).await;
    }

    pub(super) fn random(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            chunk.copy_from_slice(&self.rng.to_le_bytes());
        }
        out
    }

    pub(super) fn sni(&self) -> Option<String> {
        self.opts
            .sni
            .clone()
            .or_else(|| (self.host.parse::<IpAddr>().is_err()).then(|| self.host.to_owned()))
    }
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
        host: &target.host,
        canonical: None,
        rng: seed,
        rec: Record::default(),
    };
    run.rec.begin(Stage::Dns);
    let mut result = empty_result(target);
    let deadline = run.deadline;
    let finished =
        tokio::time::timeout_at(deadline, probe_into(&mut run, target, &mut result)).await;
    let (limit, at) = (run.limit(), run.at());
    if finished.is_err() {
        run.rec.deadline_passed(&limit, at);
    }
    run.rec.finish(&limit, at);
    let cert = result.tls.as_ref().and_then(|t| t.certificate.as_ref());
    let ntlm = result.credssp.as_ref().and_then(|c| c.ntlm.as_ref());
    let names = rules::ServerNames {
        ntlm_dns_computer: ntlm.and_then(|n| n.dns_computer.as_deref()),
        ntlm_netbios_computer: ntlm.and_then(|n| n.netbios_computer.as_deref()),
        cert_names: cert.map_or(&[], |c| c.names.as_slice()),
        cert_self_signed: cert.is_some_and(|c| c.cert.self_signed),
        cert_matches_target: cert.is_some_and(|c| c.name_matches),
    };
    run.rec.findings.extend(rules::wrong_host(
        &target.host,
        run.canonical.as_deref(),
        &names,
    ));
    result.stages = run.rec.stages;
    result.stopped_at = run.rec.stopped_at;
    result.verdict = diagnose::verdict(&run.rec.findings);
    result.mstsc = diagnose::mstsc::view(
        &run.rec.findings,
        result.stopped_at.is_some(),
        result
            .session
            .as_ref()
            .and_then(|s| s.error_info.as_ref().map(|e| e.code)),
    );
    result.findings = run.rec.findings;
    result.diagnosis = diagnose_result(&result);
    result.clients = diagnose::clients::matrix(&server_facts(&result));
    result.elapsed_ms = plan::ms(t0.elapsed());
    result
}

/// What the client matrix needs from a probe result.
pub fn server_facts(r: &ProbeResult) -> diagnose::clients::ServerFacts {
    use diagnose::clients::{ServerFacts, Tls};
    let early = matches!(r.stopped_at, Some(Stage::Dns | Stage::Tcp | Stage::X224));
    let primary = r.diagnosis.primary_finding;
    let unreachable = early.then(|| {
        let what = primary.map_or("the connection failed", |id| id.entry().1);
        (r.stopped_at.unwrap_or(Stage::Tcp), what)
    });
    let sec = &r.security;
    let accepted = |k: &str| sec.protocols.get(k).is_some_and(|p| p.accepted);
    let selected = sec.selected.as_deref().unwrap_or_default();
    let hybrid = accepted("hybrid") || accepted("hybrid_ex") || selected.starts_with("hybrid");
    let ssl = accepted("ssl") || selected == "ssl";
    let rdp = accepted("rdp") || selected == "rdp" || r.rdp_security.is_some();
    let tls = r.tls.as_ref().map_or_else(Vec::new, |t| {
        [
            ("tls1_0", Tls::V1_0),
            ("tls1_1", Tls::V1_1),
            ("tls1_2", Tls::V1_2),
            ("tls1_3", Tls::V1_3),
        ]
        .into_iter()
        .filter(|(k, _)| t.versions.get(k).copied().unwrap_or(false))
        .map(|(_, v)| v)
        .collect()
    });
    let cert_prompt = r
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .and_then(|c| {
            if c.cert.expired {
                Some("the certificate has expired")
            } else if !c.name_matches {
                Some("the certificate names another host")
            } else if c.cert.self_signed {
                Some("the certificate is self-signed")
            } else {
                None
            }
        });
    // A failure past the security layer meets every client; so does one at tls or credssp that
    // is not about this probe's own credentials.
    let later = match (r.stopped_at, primary) {
        (Some(st), Some(id)) if st >= Stage::Tls && r.auth.is_none() => Some((st, id)),
        _ => None,
    };
    ServerFacts {
        unreachable,
        rdp,
        ssl,
        hybrid,
        nla_required: sec.nla_required == Some(true),
        tls,
        credssp_patched: r.credssp.as_ref().map(|c| c.patched_cve_2018_0886),
        cert_prompt,
        later,
    }
}

/// The headline of a probe result (DESIGN section 6, `diagnosis`).
pub fn diagnose_result(r: &ProbeResult) -> diagnose::diagnosis::Diagnosis {
    let layer = r.security.selected.as_deref();
    let nla = matches!(layer, Some("hybrid" | "hybrid_ex"));
    diagnose::diagnosis::diagnose(&diagnose::diagnosis::Outcome {
        findings: &r.findings,
        stopped_at: r.stopped_at,
        reached: r
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Ok)
            .map(|s| s.name)
            .max(),
        layer,
        nla_required: r.security.nla_required,
        mstsc: r.mstsc.as_ref(),
        no_credentials: nla && r.auth.is_none() && r.stopped_at.is_none(),
        passive: false,
    })
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
        auth: None,
        rdp_security: None,
        session: None,
        mstsc: None,
        diagnosis: Default::default(),
        clients: Vec::new(),
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
    r.diagnosis = diagnose_result(&r);
    r
}

/// Every address of the target (the dns stage when it is a name); None when none resolved.
async fn resolve(run: &mut Run<'_>, target: &Target) -> Option<Vec<SocketAddr>> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Some(vec![SocketAddr::new(ip, target.port)]);
    }
    let host = target.host.clone();
    let port = target.port;
    let lookup = tokio::time::timeout_at(
        net::stage_deadline(run.deadline, run.opts.stage_timeout),
        tokio::task::spawn_blocking(move || net::getaddrinfo(&host, port)),
    )
    .await;
    let at = run.at();
    let addrs = match lookup {
        Ok(Ok(Ok((v, canonical)))) => {
            run.canonical = canonical;
            v
        }
        Ok(Err(e)) => {
            plan::dns_failed(&mut run.rec, &target.host, &e.to_string(), false, at);
            return None;
        }
        Ok(Ok(Err(e))) => {
            plan::dns_failed(&mut run.rec, &target.host, &e.to_string(), false, at);
            return None;
        }
        Err(_) => {
            plan::dns_failed(&mut run.rec, &target.host, "resolver timeout", true, at);
            return None;
        }
    };
    if addrs.is_empty() {
        plan::dns_failed(&mut run.rec, &target.host, "no address", false, at);
        return None;
    }
    let list = addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let list = match &run.canonical {
        Some(c) => format!("{list} (canonical name {c})"),
        None => list,
    };
    run.rec
        .stage(Stage::Dns, diagnose::StageStatus::Ok, at, list);
    Some(addrs)
}

async fn probe_into(run: &mut Run<'_>, target: &Target, result: &mut ProbeResult) {
    let Some(addrs) = resolve(run, target).await else {
        return;
    };

    // tcp + x224: the connection mstsc would make, on each address until one speaks RDP.
    // Different addresses are different servers: no pacing between them, but every attempt
    // inside the target's deadline; those that did not fit are reported as skipped.
    let mut chosen = None;
    let mut first_failure = None;
    let mut tried = Vec::new();
    run.rec.begin(Stage::Tcp);
    for addr in &addrs {
        if run.out_of_time() {
            result.addresses.push(AddressResult {
                address: addr.ip().to_string(),
                outcome: AddressOutcome::Skipped,
                probed: false,
            });
            continue;
        }
        let ex = exchange(*addr, Some(plan::PRIMARY), run.opts, run.deadline).await;
        let outcome = plan::address_outcome(&ex.outcome);
        tried.push(outcome);
        let rdp = outcome == AddressOutcome::Rdp;
        result.addresses.push(AddressResult {
            address: addr.ip().to_string(),
            outcome,
            probed: chosen.is_none() && rdp,
        });
        if chosen.is_none() && rdp {
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
    run.rec
        .findings
        .extend(plan::mixed_addresses(&tried, &result.addresses));
    let Some((addr, primary)) = chosen else {
        return;
    };
    run.rec.begin(Stage::X224);
    let addr_text = addr.to_string();
    if plan::primary_failed(
        &mut run.rec,
        &addr_text,
        &primary.outcome,
        run.opts.stage_timeout,
        primary.tcp,
        primary.x224,
    ) {
        return;
    }
    let CrOutcome::Confirmed(confirm) = primary.outcome.clone() else {
        return;
    };
    plan::primary_confirmed(
        &mut run.rec,
        &mut result.security,
        &addr_text,
        &confirm,
        primary.tcp,
        primary.x224,
    );

    // Security layers, each on its own connection.
    let mut results: BTreeMap<&'static str, ProtocolResult> = BTreeMap::new();
    results.insert(
        Layer::HybridEx.key(),
        plan::judge_layer(Layer::HybridEx, &primary.outcome),
    );
    let mut not_requested: Vec<Finding> = plan::not_requested(plan::PRIMARY, &primary.outcome)
        .into_iter()
        .collect();
    drop(primary);
    let mut legacy_cc = confirm.is_legacy();
    if run.opts.enumerate {
        for layer in Layer::ALL {
            if layer == Layer::HybridEx {
                continue;
            }
            if run.out_of_time() {
                results.insert(layer.key(), plan::skipped_layer());
                run.rec.skip(format!("layer {}", layer.key()));
                continue;
            }
            run.pace().await;
            let ex = exchange(addr, Some(layer.request()), run.opts, run.deadline).await;
            not_requested.extend(plan::not_requested(layer.request(), &ex.outcome));
            if ex.outcome == CrOutcome::ConnectFailed(ConnectFailure::NoTime) {
                run.rec.skip(format!("layer {}", layer.key()));
            }
            results.insert(layer.key(), plan::judge_layer(layer, &ex.outcome));
        }
        run.pace().await;
        let ex = exchange(addr, None, run.opts, run.deadline).await;
        legacy_cc |= matches!(&ex.outcome, CrOutcome::Confirmed(c) if c.is_legacy());
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
    run.rec.findings.extend(not_requested.into_iter().take(1));
    let layers = plan::conclude_layers(
        &mut run.rec,
        &mut result.security,
        results,
        &confirm,
        legacy_accepted,
    );

    // `--stop-after tcp|x224`: the negotiation only.
    if run.opts.stop_after <= Stage::X224 {
        return;
    }
    let over_tls = layers.tls.is_some();
    if let Some((request, credssp)) = layers.tls {
        super::tls::tls_stage(run, addr, request, credssp, result).await;
    }
    // `--stop-after tls|credssp`: nothing on the MCS layer.
    if run.opts.stop_after < Stage::Mcs {
        return;
    }
    let Some(request) = plan::rdp_security_request(&layers, &confirm, run.opts.enumerate) else {
        return;
    };
    run.rec.begin(Stage::Mcs);
    let found = match legacy_found {
        Some(found) => Some(found),
        None => rdp_security_attempts(run, addr, request).await,
    };
    if let Some(found) = found {
        let at = run.at();
        result.rdp_security = Some(plan::conclude_rdp_security(
            &mut run.rec,
            found,
            unix_now(),
            at,
        ));
    }
    // The walk follows mstsc's path: over TLS when the server selected it (done above).
    if run.opts.stop_after > Stage::Mcs && run.rec.stopped_at.is_none() && !over_tls {
        super::walk::rdp_security_walk(run, addr, request, result).await;
    }
}

/// Offers each encryption method alone in an MCS Connect-Initial (when enumerating), else the
/// one Connect-Initial mstsc sends. None when nothing could be tried in time.
async fn rdp_security_attempts(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: Option<SecurityProtocol>,
) -> Option<plan::RdpSecurityFound> {
    let methods: &[(u32, &'static str)] = if run.opts.enumerate {
        &plan::METHODS_EACH
    } else {
        &plan::METHODS_MSTSC
    };
    let mut found = plan::RdpSecurityFound::default();
    for &(bits, name) in methods {
        if run.out_of_time() {
            found
                .report
                .answers
                .insert(name, "skipped: --timeout ran out".into());
            run.rec.skip(format!("encryption method {name}"));
            continue;
        }
        run.pace().await;
        let ex = exchange(addr, request, run.opts, run.deadline).await;
        let no_time = ex.outcome == CrOutcome::ConnectFailed(ConnectFailure::NoTime);
        let Some((confirm, mut stream, mut reader)) = ex.confirmed() else {
            if no_time {
                found
                    .report
                    .answers
                    .insert(name, "skipped: --timeout ran out".into());
                run.rec.skip(format!("encryption method {name}"));
            } else {
                found
                    .report
                    .answers
                    .insert(name, "no Connection Confirm".into());
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
            found.report.answers.insert(name, "closed".into());
            continue;
        }
        let answer = reader
            .next(
                &mut stream,
                net::stage_deadline(run.deadline, run.opts.stage_timeout),
            )
            .await
            .map_err(|e| e.describe())
            .and_then(|frame| {
                ConnectResponseFacts::parse(&frame).ok_or_else(|| "not a Connect-Response".into())
            });
        found.answer(bits, name, answer);
    }
    if found.all_skipped() && run.out_of_time() {
        // Nothing could be tried in time: not a server failure (the mcs stage is skipped).
        return None;
    }
    Some(found)
}
