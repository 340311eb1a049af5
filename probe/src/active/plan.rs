//! The probe's decisions, sans-IO (ARCHITECTURE.md, "The probe: plan and driver"): which
//! attempts to make, what each answer means, when a stage is done and what the result is.
//!
//! No tokio, no sockets, no clock reads. The driver ([`super::run`]) connects, writes, reads
//! frames by the deframer's hint, keeps the deadlines, and hands what it observed to these
//! functions together with the elapsed time. Unit tests drive them with the real peers' PDUs.

use core::time::Duration;
use std::collections::BTreeMap;

use rdp_proto::gcc::{EncryptionLevel, EncryptionMethods};
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{self as ptls, ContentType, HandshakeType, ProtocolVersion};

use crate::diagnose::{finding, rules, Finding, FindingId, Stage, StageStatus};
use crate::facts::cert::CertFacts;
use crate::facts::credssp::TsRequestFacts;
use crate::facts::gcc::{method_name, ConnectResponseFacts};
use crate::facts::tls::{HandshakeReader, ServerHelloFacts};
use crate::facts::x224::{protocol_names, Answer, Confirm};
use crate::report::capture::{Certificate, StageReport};
use crate::report::probe::{
    AddressOutcome, AddressResult, CredsspReport, NtlmReport, ProbeCertificate, ProtocolResult,
    RdpSecurityReport, SecurityReport, TlsProbeReport,
};
use crate::time::rfc3339;

// ---------------------------------------------------------------------------------------------
// What the driver observes.

/// Why a TCP connection did not open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    Refused,
    Timeout,
    /// The server accepted (SYN-ACK) and reset before the connect call returned: that is a
    /// server closing at once, not a network error.
    Reset,
    /// The target's deadline (or the global --rate) left no time to try.
    NoTime,
    Unreachable(String),
    Other(String),
}

/// Why no frame came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// The deadline passed; `got` bytes had arrived (a silent server has 0).
    Timeout {
        got: usize,
    },
    /// The peer closed (FIN) after `got` bytes.
    Closed {
        got: usize,
    },
    /// The peer reset the connection.
    Reset {
        got: usize,
    },
    /// The bytes are not the expected framing (HTTP, an SSH banner, garbage).
    NotFrame {
        head: Vec<u8>,
    },
    /// A well-formed frame, but not the one expected (e.g. an MCS Disconnect Provider
    /// Ultimatum instead of a Connection Confirm).
    Unexpected(String),
    Io(String),
}

impl ReadFailure {
    pub fn describe(&self) -> String {
        match self {
            Self::Timeout { got: 0 } => "no answer before the deadline".into(),
            Self::Timeout { got } => format!("only {got} bytes of a frame before the deadline"),
            Self::Closed { got: 0 } => "the server closed the connection without answering".into(),
            Self::Closed { got } => format!("the server closed the connection after {got} bytes"),
            Self::Reset { got } => format!("the server reset the connection (after {got} bytes)"),
            Self::NotFrame { head } => crate::session::describe_non_rdp(head),
            Self::Unexpected(what) => what.clone(),
            Self::Io(e) => e.clone(),
        }
    }
}

/// How one Connection Request went: the answer, or where it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrOutcome {
    Confirmed(Confirm),
    ConnectFailed(ConnectFailure),
    NoConfirm(ReadFailure),
}

/// What a TPKT frame that should have been a Connection Confirm was.
pub fn read_confirm(frame: &[u8]) -> CrOutcome {
    use rdp_proto::x224::Tpdu;
    if let Some(c) = Confirm::parse(frame) {
        return CrOutcome::Confirmed(c);
    }
    // xrdp answers some requests with an MCS Disconnect Provider Ultimatum.
    let failure = match Tpdu::parse_tpkt(frame) {
        Ok((_, (_, Tpdu::Data(d)))) => {
            let what = match rdp_proto::decode::<rdp_proto::mcs::DomainPdu>(d.payload) {
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
    };
    CrOutcome::NoConfirm(failure)
}

// ---------------------------------------------------------------------------------------------
// The record of one target: stages, findings, where it stopped, what did not fit in time.

/// The stages and findings of one target as they are decided.
#[derive(Debug, Default)]
pub struct Record {
    pub stages: Vec<StageReport>,
    pub findings: Vec<Finding>,
    pub stopped_at: Option<Stage>,
    /// The stage being worked on (its own connection or its enumeration).
    pub current: Option<Stage>,
    /// Stages the main connection is due to go through, in order; those not recorded when the
    /// run ends (the deadline ran out) are reported as skipped.
    planned: Vec<Stage>,
    /// What was not tried for lack of time (layers, TLS versions, methods).
    skipped: Vec<String>,
}

impl Record {
    pub fn stage(
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

    pub fn has_stage(&self, name: Stage) -> bool {
        self.stages.iter().any(|s| s.name == name)
    }

    pub fn begin(&mut self, stage: Stage) {
        self.current = Some(stage);
    }

    pub fn plan(&mut self, stages: &[Stage]) {
        self.planned = stages.to_vec();
    }

    pub fn stop(&mut self, stage: Stage) {
        self.stopped_at.get_or_insert(stage);
    }

    /// Notes that `what` was not tried: the deadline had passed.
    pub fn skip(&mut self, what: impl Into<String>) {
        self.skipped.push(what.into());
    }

    /// The target's deadline (`limit`, e.g. "--timeout (5s)") ran out at `at` with the current
    /// stage unfinished: that stage timed out (if not already recorded), the finding says what
    /// was not tried.
    pub fn deadline_passed(&mut self, limit: &str, at: Duration) {
        let current = self.current.unwrap_or(Stage::Dns);
        let limit = format!("{limit} ran out");
        if !self.has_stage(current) {
            self.stage(
                current,
                StageStatus::Timeout,
                at,
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

    /// Ends the record at `at`: planned stages never reached are skipped; attempts that did not
    /// fit in time are named (once). The findings come out worst first.
    pub fn finish(&mut self, limit: &str, at: Duration) {
        let planned = std::mem::take(&mut self.planned);
        for st in planned {
            if !self.has_stage(st) {
                let why = if self.stopped_at.is_some() {
                    "not reached: the connection stopped at an earlier stage"
                } else {
                    "not reached before --timeout"
                };
                self.stage(st, StageStatus::Skipped, at, why);
            }
        }
        if !self.skipped.is_empty()
            && !self
                .findings
                .iter()
                .any(|f| f.id == FindingId::ProbeTimeout)
        {
            let evidence = format!("{limit} ran out; not tried: {}", self.skipped.join(", "));
            self.findings
                .push(finding(FindingId::ProbeTimeout, evidence));
        }
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

// ---------------------------------------------------------------------------------------------
// dns, tcp, x224: the connection an mstsc client makes, on each address.

/// The request an mstsc client makes: SSL | HYBRID | HYBRID_EX.
pub const PRIMARY: SecurityProtocol = SecurityProtocol::from_bits_retain(0x0B);

/// The dns stage when the name did not resolve (`why`: the resolver's error, "resolver
/// timeout", "no address").
pub fn dns_failed(rec: &mut Record, host: &str, why: &str, timed_out: bool, at: Duration) {
    let (status, detail) = if timed_out {
        (StageStatus::Timeout, "no answer from the resolver")
    } else {
        (StageStatus::Failed, why)
    };
    rec.stage(Stage::Dns, status, at, detail);
    rec.stop(Stage::Dns);
    rec.findings
        .push(finding(FindingId::DnsUnresolved, format!("{host}: {why}")));
}

/// What one address answered to the mstsc request.
pub fn address_outcome(o: &CrOutcome) -> AddressOutcome {
    match o {
        CrOutcome::Confirmed(_) => AddressOutcome::Rdp,
        CrOutcome::ConnectFailed(ConnectFailure::Refused) => AddressOutcome::Refused,
        CrOutcome::ConnectFailed(ConnectFailure::Timeout) => AddressOutcome::Timeout,
        CrOutcome::ConnectFailed(ConnectFailure::Unreachable(_)) => AddressOutcome::Unreachable,
        CrOutcome::ConnectFailed(ConnectFailure::Other(_)) => AddressOutcome::Error,
        CrOutcome::ConnectFailed(ConnectFailure::NoTime | ConnectFailure::Reset) => {
            AddressOutcome::Skipped
        }
        CrOutcome::NoConfirm(ReadFailure::NotFrame { .. }) => AddressOutcome::NotRdp,
        CrOutcome::NoConfirm(ReadFailure::Timeout { .. }) => AddressOutcome::Silent,
        CrOutcome::NoConfirm(_) => AddressOutcome::Closed,
    }
}

/// `dns-multiple-addresses`: the addresses of one name that were tried answer differently;
/// the evidence lists every address.
pub fn mixed_addresses(tried: &[AddressOutcome], listed: &[AddressResult]) -> Option<Finding> {
    let first = tried.first()?;
    tried.iter().any(|o| o != first).then(|| {
        let detail = listed
            .iter()
            .map(|a| format!("{} {}", a.address, a.outcome))
            .collect::<Vec<_>>()
            .join(", ");
        finding(FindingId::DnsMultipleAddresses, detail)
    })
}

/// The tcp and x224 stages of the main connection when it got no Confirm; `tcp` and `x224` are
/// how long each took. Returns false (the run ends) unless the outcome is a Confirm.
pub fn primary_failed(
    rec: &mut Record,
    addr: &str,
    outcome: &CrOutcome,
    stage_timeout: Duration,
    tcp: Duration,
    x224: Duration,
) -> bool {
    match outcome {
        CrOutcome::ConnectFailed(e) => {
            let (status, id, detail) = match e {
                ConnectFailure::Refused => (
                    StageStatus::Failed,
                    FindingId::TcpRefused,
                    format!("{addr} refused the connection (RST)"),
                ),
                ConnectFailure::Timeout => (
                    StageStatus::Timeout,
                    FindingId::TcpTimeout,
                    format!("no answer from {addr} within {stage_timeout:?}"),
                ),
                ConnectFailure::Unreachable(m) | ConnectFailure::Other(m) => (
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
            rec.stage(Stage::Tcp, status, tcp, detail.clone());
            rec.stop(Stage::Tcp);
            rec.findings.push(finding(id, detail));
            true
        }
        CrOutcome::NoConfirm(e) => {
            rec.stage(Stage::Tcp, StageStatus::Ok, tcp, addr);
            let (status, id) = match e {
                ReadFailure::Timeout { .. } => (StageStatus::Timeout, FindingId::X224NoResponse),
                ReadFailure::NotFrame { .. } => (StageStatus::Failed, FindingId::NotRdp),
                _ => (StageStatus::Failed, FindingId::X224Closed),
            };
            rec.stage(Stage::X224, status, tcp + x224, e.describe());
            rec.stop(Stage::X224);
            rec.findings.push(finding(id, e.describe()));
            true
        }
        CrOutcome::Confirmed(_) => false,
    }
}

/// The main connection's Confirm: the tcp and x224 stages, the stages it plans, the security
/// report's negotiation fields and the Confirm's own findings.
pub fn primary_confirmed(
    rec: &mut Record,
    sec: &mut SecurityReport,
    addr: &str,
    confirm: &Confirm,
    tcp: Duration,
    x224: Duration,
) {
    rec.stage(Stage::Tcp, StageStatus::Ok, tcp, addr);
    let malformed = rules::malformed_confirm(confirm);
    let status = if malformed.is_some() {
        StageStatus::Failed
    } else {
        StageStatus::Ok
    };
    rec.stage(Stage::X224, status, tcp + x224, confirm.detail());
    if let Some(m) = malformed {
        rec.stop(Stage::X224);
        rec.findings.push(m);
    }
    let selected = confirm.selected();
    let nla = selected.is_some_and(is_nla);
    let tls = selected.is_some_and(is_tls);
    if nla {
        rec.plan(&[Stage::Tls, Stage::Credssp]);
    } else if tls {
        rec.plan(&[Stage::Tls]);
    } else if selected.is_some() {
        rec.plan(&[Stage::Mcs]);
    }
    sec.selected = selected.map(protocol_names);
    sec.neg_flags = rdp_proto::nego::flag_names(confirm.flags());
    sec.legacy_no_negotiation = confirm.is_legacy();
    rec.findings
        .extend(rules::restricted_admin(confirm.flags()));
    rec.findings.extend(rules::legacy_no_negotiation(confirm));
}

fn is_nla(p: SecurityProtocol) -> bool {
    p.intersects(SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX)
}

fn is_tls(p: SecurityProtocol) -> bool {
    p.intersects(SecurityProtocol::SSL | SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX)
}

// ---------------------------------------------------------------------------------------------
// Security layers: one connection each.

/// A security layer the probe asks for alone (MS-RDPBCGR 2.2.1.1.1 `requestedProtocols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Rdp,
    Ssl,
    Hybrid,
    HybridEx,
    Rdstls,
    Rdsaad,
}

impl Layer {
    /// In the order they are tried; HYBRID_EX is the main connection's (mstsc's) request.
    pub const ALL: [Self; 6] = [
        Self::Rdp,
        Self::Ssl,
        Self::Hybrid,
        Self::HybridEx,
        Self::Rdstls,
        Self::Rdsaad,
    ];

    /// The key in `security.protocols`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Ssl => "ssl",
            Self::Hybrid => "hybrid",
            Self::HybridEx => "hybrid_ex",
            Self::Rdstls => "rdstls",
            Self::Rdsaad => "rdsaad",
        }
    }

    /// The request that asks for it (HYBRID needs SSL too, HYBRID_EX needs HYBRID).
    pub fn request(self) -> SecurityProtocol {
        SecurityProtocol::from_bits_retain(match self {
            Self::Rdp => 0x00,
            Self::Ssl => 0x01,
            Self::Hybrid => 0x03,
            Self::HybridEx => 0x0B,
            Self::Rdstls => 0x04,
            Self::Rdsaad => 0x10,
        })
    }

    /// The selection that means "accepted".
    pub fn selection(self) -> SecurityProtocol {
        SecurityProtocol::from_bits_retain(match self {
            Self::Rdp => 0x00,
            Self::Ssl => 0x01,
            Self::Hybrid => 0x02,
            Self::HybridEx => 0x08,
            Self::Rdstls => 0x04,
            Self::Rdsaad => 0x10,
        })
    }
}

/// What the server said to a request for `layer` alone.
pub fn judge_layer(layer: Layer, o: &CrOutcome) -> ProtocolResult {
    let expect = layer.selection();
    match o {
        CrOutcome::Confirmed(c) => match c.answer {
            Answer::Selected { protocol, .. } => ProtocolResult {
                accepted: protocol == expect,
                failure: (protocol != expect)
                    .then(|| format!("selected {}", protocol_names(protocol))),
                selected: Some(protocol_names(protocol)),
            },
            Answer::Failure(code) => ProtocolResult {
                accepted: false,
                failure: Some(code.to_string()),
                selected: None,
            },
            Answer::Legacy => ProtocolResult {
                accepted: expect.is_empty(),
                failure: (!expect.is_empty()).then(|| "no negotiation (legacy server)".to_owned()),
                selected: Some(protocol_names(SecurityProtocol::RDP)),
            },
        },
        CrOutcome::ConnectFailed(ConnectFailure::NoTime) => skipped_layer(),
        CrOutcome::ConnectFailed(e) => ProtocolResult {
            accepted: false,
            failure: Some(format!("{e:?}")),
            selected: None,
        },
        CrOutcome::NoConfirm(e) => ProtocolResult {
            accepted: false,
            failure: Some(e.describe()),
            selected: None,
        },
    }
}

/// A layer that did not fit in the target's time.
pub fn skipped_layer() -> ProtocolResult {
    ProtocolResult {
        accepted: false,
        failure: Some("skipped: --timeout ran out".into()),
        selected: None,
    }
}

/// `neg-protocol-not-requested` for one request's answer.
pub fn not_requested(request: SecurityProtocol, o: &CrOutcome) -> Option<Finding> {
    match o {
        CrOutcome::Confirmed(Confirm {
            answer: Answer::Selected { protocol, .. },
            ..
        }) => rules::protocol_not_requested(request, *protocol),
        _ => None,
    }
}

/// What the layers come to, and what to try next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayersVerdict {
    /// PROTOCOL_RDP was selected when asked for alone.
    pub rdp_neg: bool,
    /// Standard RDP Security is reachable (negotiated, or by a client without negotiation).
    pub rdp: bool,
    pub ssl: bool,
    pub hybrid: bool,
    pub hybrid_ex: bool,
    /// The TLS stage to run: (request, CredSSP on it).
    pub tls: Option<(SecurityProtocol, bool)>,
}

/// Concludes the security layers from the enumeration `results` (key to result) and the main
/// connection's Confirm (what it selected counts too: `--no-enum` enumerates nothing);
/// `legacy_accepted`: a client without negotiation got a Connect-Response.
pub fn conclude_layers(
    rec: &mut Record,
    sec: &mut SecurityReport,
    results: BTreeMap<&'static str, ProtocolResult>,
    main: &Confirm,
    legacy_accepted: bool,
) -> LayersVerdict {
    let main_selected = main.selected();
    let legacy = main.is_legacy();
    let main_is = |p: SecurityProtocol| main_selected.is_some_and(|s| s.contains(p) && !legacy);
    let acc = |k: &str| results.get(k).is_some_and(|r| r.accepted);
    let rdp_neg = acc("rdp") || main_selected == Some(SecurityProtocol::RDP) && !legacy;
    let mut v = LayersVerdict {
        rdp_neg,
        rdp: rdp_neg || legacy_accepted,
        ssl: acc("ssl") || main_selected == Some(SecurityProtocol::SSL),
        hybrid: acc("hybrid") || main_is(SecurityProtocol::HYBRID),
        hybrid_ex: acc("hybrid_ex") || main_is(SecurityProtocol::HYBRID_EX),
        tls: None,
    };
    let any = v.rdp || v.ssl || v.hybrid || v.hybrid_ex || acc("rdstls") || acc("rdsaad");
    if any {
        sec.nla_required = Some(!(v.rdp || v.ssl) && (v.hybrid || v.hybrid_ex));
        rec.findings.extend(rules::open_layers(rules::OpenLayers {
            rdp: v.rdp,
            rdp_only_legacy: legacy_accepted && !rdp_neg,
            ssl: v.ssl,
        }));
    } else if let Some(code) = main.failure() {
        rec.stop(Stage::X224);
        rec.findings
            .push(rules::negotiation_failure(code, Some(PRIMARY)));
    }
    sec.protocols = results;
    // TLS: on the request mstsc makes when its selection is a TLS one, else on the layer the
    // enumeration found.
    v.tls = if main_selected.is_some_and(is_tls) {
        Some((PRIMARY, main_selected.is_some_and(is_nla)))
    } else if v.hybrid {
        Some((Layer::Hybrid.request(), true))
    } else if v.hybrid_ex {
        Some((Layer::HybridEx.request(), true))
    } else if v.ssl {
        Some((Layer::Ssl.request(), false))
    } else {
        None
    };
    v
}

/// Whether Standard RDP Security's stage runs, and on which request (None inside: a Connection
/// Request without negotiation). Without enumeration, only when it is what the main connection
/// got (mstsc's one Connect-Initial); with it, whenever Standard RDP Security is reachable.
pub fn rdp_security_request(
    v: &LayersVerdict,
    main: &Confirm,
    enumerate: bool,
) -> Option<Option<SecurityProtocol>> {
    if !v.rdp {
        return None;
    }
    if enumerate {
        return Some(v.rdp_neg.then_some(SecurityProtocol::RDP));
    }
    if main.selected().is_some_and(is_tls) {
        return None;
    }
    Some((!main.is_legacy()).then_some(SecurityProtocol::RDP))
}

// ---------------------------------------------------------------------------------------------
// Standard RDP Security: MCS Connect-Initial / Connect-Response.

/// Each method alone, when enumerating.
pub const METHODS_EACH: [(u32, &str); 5] = [
    (0, "none"),
    (0x01, "40bit"),
    (0x08, "56bit"),
    (0x02, "128bit"),
    (0x10, "fips"),
];

/// What mstsc offers: 40, 56, 128-bit and FIPS.
pub const METHODS_MSTSC: [(u32, &str); 1] = [(0x1B, "all")];

/// What the Connect-Initial attempts of Standard RDP Security found.
#[derive(Debug, Default)]
pub struct RdpSecurityFound {
    pub report: RdpSecurityReport,
    /// Methods the server accepted.
    pub accepted: Vec<EncryptionMethods>,
    pub level: Option<EncryptionLevel>,
    /// The X.509 chain of the first answer with one.
    pub x509: Vec<Vec<u8>>,
    /// At least one Connect-Response came back.
    pub any: bool,
}

impl RdpSecurityFound {
    /// The answer to offering `bits` (named `name`): a Connect-Response, or why not.
    pub fn answer(
        &mut self,
        bits: u32,
        name: &'static str,
        cr: Result<ConnectResponseFacts, String>,
    ) {
        let report = &mut self.report;
        let cr = match cr {
            Ok(cr) => cr,
            Err(why) => {
                report.answers.insert(name, why);
                return;
            }
        };
        self.any = true;
        report.server_version = report
            .server_version
            .take()
            .or(cr.version.map(|v| v.label()));
        let Some(sec) = cr.security else {
            report
                .answers
                .insert(name, "no Server Security Data".into());
            return;
        };
        report.answers.insert(name, method_name(sec.method));
        let offered = EncryptionMethods::from_bits_retain(bits);
        let accepted = if bits.count_ones() > 1 {
            // Several offered: the one the server chose is accepted.
            sec.method.intersects(offered)
        } else {
            // "none" with a level above NONE is a server that encrypts anyway.
            sec.method == offered && !(bits == 0 && sec.level.0 != 0)
        };
        if accepted {
            self.accepted.push(sec.method);
            report.encryption_methods.push(method_name(sec.method));
        }
        self.level = self.level.or(Some(sec.level));
        report.encryption_level = report
            .encryption_level
            .take()
            .or(Some(sec.level.to_string()));
        report.certificate_type = report
            .certificate_type
            .take()
            .or(sec.certificate.map(|k| k.label().to_owned()));
        report.rsa_key_bits = report.rsa_key_bits.or(sec.rsa_bits);
        if self.x509.is_empty() {
            self.x509 = sec.x509_chain;
        }
    }

    /// Nothing was tried: every attempt was skipped for lack of time.
    pub fn all_skipped(&self) -> bool {
        !self.any
            && self
                .report
                .answers
                .values()
                .all(|a| a.starts_with("skipped"))
    }
}

/// The mcs stage and its findings from what the Connect-Initial attempts found; `now` (Unix
/// seconds) judges the X.509 certificate.
pub fn conclude_rdp_security(
    rec: &mut Record,
    found: RdpSecurityFound,
    now: i64,
    at: Duration,
) -> RdpSecurityReport {
    let report = found.report;
    // The X.509 chain of Standard RDP Security: the server's own certificate is the last.
    if let Some(c) = found.x509.last().and_then(|der| CertFacts::parse(der)) {
        rec.findings.extend(rules::certificate(
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
        rec.stage(Stage::Mcs, StageStatus::Ok, at, detail);
        rec.findings
            .extend(rules::weak_rdp_encryption(&found.accepted, found.level));
        rec.findings
            .extend(rules::weak_proprietary_key(report.rsa_key_bits));
    } else {
        let first = report.answers.values().next().cloned().unwrap_or_default();
        rec.stage(Stage::Mcs, StageStatus::Failed, at, first.clone());
        rec.stop(Stage::Mcs);
        rec.findings.push(finding(
            FindingId::X224Closed,
            format!("Standard RDP Security accepted, but no Connect-Response: {first}"),
        ));
    }
    report
}

// ---------------------------------------------------------------------------------------------
// TLS: the main session (rustls) and our own ClientHello per version.

/// The versions offered one at a time, with their keys in `tls.versions`.
pub const TLS_VERSIONS: [(&str, ProtocolVersion); 4] = [
    ("tls1_0", ProtocolVersion::TLS_1_0),
    ("tls1_1", ProtocolVersion::TLS_1_1),
    ("tls1_2", ProtocolVersion::TLS_1_2),
    ("tls1_3", ProtocolVersion::TLS_1_3),
];

/// Reads the server's answer to our ClientHello offering only `version`, record by record.
#[derive(Debug)]
pub struct HelloAnswer {
    version: ProtocolVersion,
    handshake: HandshakeReader,
    suite: Option<String>,
    chain: Vec<Vec<u8>>,
}

/// Our ClientHello's answer: accepted (the plaintext certificate chain, if any) or why not.
pub type HelloResult = Result<Vec<Vec<u8>>, String>;

/// What to do after a record.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloStep {
    /// Read another record.
    More,
    /// Accepted (Ok: the plaintext chain, if any) or refused (Err: why).
    Done(HelloResult),
}

impl HelloAnswer {
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            handshake: HandshakeReader::default(),
            suite: None,
            chain: Vec::new(),
        }
    }

    fn accepted(&mut self) -> HelloStep {
        match self.suite {
            Some(_) => HelloStep::Done(Ok(std::mem::take(&mut self.chain))),
            None => HelloStep::Done(Err("no ServerHello".into())),
        }
    }

    /// One TLS record from the server.
    pub fn on_record(&mut self, frame: &[u8]) -> HelloStep {
        let Ok(rec) = rdp_proto::decode::<ptls::Record>(frame) else {
            return HelloStep::Done(Err("not a TLS record".into()));
        };
        match rec.content_type {
            ContentType::ALERT => {
                if self.suite.is_some() {
                    return self.accepted();
                }
                let why = rdp_proto::decode::<ptls::Alert>(rec.fragment)
                    .map_or("alert".to_owned(), |a| format!("alert {}", a.description));
                HelloStep::Done(Err(why))
            }
            ContentType::HANDSHAKE => {
                let mut refused = None;
                let mut done = false;
                let (version, suite, chain) = (self.version, &mut self.suite, &mut self.chain);
                let fits = self.handshake.push(rec.fragment, |hs| match hs.msg_type {
                    HandshakeType::SERVER_HELLO => {
                        match rdp_proto::decode::<ptls::ServerHello>(hs.body) {
                            Ok(sh) => {
                                let sh = ServerHelloFacts::from_pdu(&sh);
                                if sh.version != version {
                                    refused.get_or_insert(format!(
                                        "answered with {}",
                                        sh.version.label()
                                    ));
                                }
                                *suite = Some(sh.cipher.to_string());
                                done |= version == ProtocolVersion::TLS_1_3;
                            }
                            Err(e) => {
                                refused.get_or_insert(e.to_string());
                            }
                        }
                    }
                    HandshakeType::CERTIFICATE => {
                        if let Ok(c) = rdp_proto::decode::<ptls::Certificate>(hs.body) {
                            *chain = c.certificates.iter().map(|d| d.to_vec()).collect();
                        }
                    }
                    HandshakeType::SERVER_HELLO_DONE => done = true,
                    _ => {}
                });
                if let Some(why) = refused {
                    return HelloStep::Done(Err(why));
                }
                // A 16 MB certificate claim or a flood of fragments: what came so far stands
                // (a version counts only with its ServerHello, which came first if at all).
                if done || !fits {
                    return self.accepted();
                }
                HelloStep::More
            }
            _ if self.suite.is_some() => self.accepted(),
            _ => HelloStep::Done(Err("unexpected record".into())),
        }
    }

    /// No further record: after the ServerHello, the version is known (the rest is a bonus).
    pub fn on_read_failure(&mut self, e: &ReadFailure) -> HelloResult {
        match self.suite {
            Some(_) => Ok(std::mem::take(&mut self.chain)),
            None => Err(e.describe()),
        }
    }
}

/// The main TLS session (rustls, TLS 1.2/1.3) as the driver saw it.
#[derive(Debug)]
pub struct TlsSession {
    pub version: String,
    pub cipher: String,
    pub chain: Vec<Vec<u8>>,
    /// When the handshake finished (from the target's start).
    pub at: Duration,
}

/// Why the main TLS handshake failed.
#[derive(Debug)]
pub struct TlsFailure {
    pub timed_out: bool,
    pub why: String,
}

impl From<String> for TlsFailure {
    fn from(why: String) -> Self {
        Self {
            timed_out: false,
            why,
        }
    }
}

/// The tls stage of a main session that succeeded (recorded when it happened, before
/// CredSSP's stage).
pub fn tls_established(rec: &mut Record, s: &TlsSession) {
    rec.stage(
        Stage::Tls,
        StageStatus::Ok,
        s.at,
        format!("{} {}", s.version, s.cipher),
    );
}

/// Everything the TLS stage observed.
#[derive(Debug)]
pub struct TlsObserved {
    pub main: Result<TlsSession, TlsFailure>,
    /// Our own ClientHellos: key to accepted (Ok: plaintext chain) or why not.
    pub hellos: Vec<(&'static str, HelloResult)>,
    /// Versions not tried for lack of time.
    pub skipped: Vec<&'static str>,
    pub enumerated: bool,
}

/// The tls stage and its findings: versions, the legacy-only case (rustls cannot speak TLS
/// 1.0/1.1, our own ClientHello's answer stands), the certificate judged at `now` for `host`.
pub fn conclude_tls(
    rec: &mut Record,
    o: TlsObserved,
    host: &str,
    now: i64,
    at: Duration,
) -> TlsProbeReport {
    let mut report = TlsProbeReport::default();
    let mut session_chain = Vec::new();
    let main_failure = match o.main {
        Ok(s) => {
            report.version = Some(s.version);
            report.cipher = Some(s.cipher);
            session_chain = s.chain;
            None
        }
        Err(e) => Some(e),
    };
    let mut plain_chain = Vec::new();
    for (key, answer) in o.hellos {
        match answer {
            Ok(chain) => {
                report.versions.insert(key, true);
                if key != "tls1_3" && !chain.is_empty() {
                    plain_chain = chain;
                }
            }
            Err(why) => {
                report.versions.insert(key, false);
                report.rejections.insert(key, why);
            }
        }
    }
    for key in o.skipped {
        report
            .rejections
            .insert(key, "skipped: --timeout ran out".into());
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
            rec.stage(Stage::Tls, StageStatus::Ok, at, accepted.join(","));
        }
        Some(e) => {
            if !o.enumerated {
                report.rejections.insert("tls1_2", e.why.clone());
            }
            let status = if e.timed_out {
                StageStatus::Timeout
            } else {
                StageStatus::Failed
            };
            rec.stage(Stage::Tls, status, at, e.why.clone());
            rec.stop(Stage::Tls);
            rec.findings.push(finding(
                FindingId::TlsHandshakeFailed,
                format!("TLS session: {}", e.why),
            ));
        }
        None => {}
    }
    if legacy_only {
        rec.findings.push(finding(
            FindingId::TlsLegacyOnly,
            format!("accepted: {}", accepted.join(", ")),
        ));
    } else if has_legacy {
        rec.findings.push(finding(
            FindingId::TlsLegacyEnabled,
            format!("accepted: {}", accepted.join(", ")),
        ));
    }
    let chain = if session_chain.is_empty() {
        plain_chain
    } else {
        session_chain
    };
    if let Some(c) = chain.first().and_then(|der| CertFacts::parse(der)) {
        rec.findings.extend(rules::certificate(
            &c,
            now,
            &format!("now {}", rfc3339(now)),
        ));
        let mismatch = rules::certificate_name(&c, host);
        report.certificate = Some(ProbeCertificate {
            cert: Certificate::from_facts(&c, now),
            name_matches: mismatch.is_none(),
            chain_length: chain.len(),
        });
        rec.findings.extend(mismatch);
    }
    report
}

// ---------------------------------------------------------------------------------------------
// CredSSP: the NTLM NEGOTIATE and the server's CHALLENGE (anonymous probing stops there).

/// The credssp stage from the server's TSRequest (or why none came), judged at `now`.
pub fn conclude_credssp(
    rec: &mut Record,
    answer: Result<TsRequestFacts, String>,
    now: i64,
    at: Duration,
) -> Option<CredsspReport> {
    let ts = match answer {
        Ok(ts) => ts,
        Err(why) => {
            rec.stage(Stage::Credssp, StageStatus::Failed, at, why.clone());
            rec.stop(Stage::Credssp);
            rec.findings.push(finding(FindingId::CredsspFailed, why));
            return None;
        }
    };
    rec.stage(
        Stage::Credssp,
        StageStatus::Ok,
        at,
        format!("TSRequest version {}", ts.version),
    );
    let report = CredsspReport {
        version: ts.version,
        patched_cve_2018_0886: ts.patched_cve_2018_0886,
        ntlm: ts.challenge.map(|ch| NtlmReport {
            netbios_domain: ch.netbios_domain,
            netbios_computer: ch.netbios_computer,
            dns_domain: ch.dns_domain,
            dns_computer: ch.dns_computer,
            dns_tree: ch.dns_tree,
            product_version: ch.product_version,
            timestamp: ch.timestamp.map(rfc3339),
            clock_skew_s: ch.timestamp.map(|t| t - now),
        }),
        error_code: ts.error_code.map(|e| format!("0x{:08x} {e}", e.0)),
    };
    Some(report)
}

/// The CredSSP findings: the CVE-2018-0886 fix missing, the server's clock off by more than
/// Kerberos' five minutes.
pub fn credssp_findings(rec: &mut Record, c: &CredsspReport) {
    if !c.patched_cve_2018_0886 {
        rec.findings.push(finding(
            FindingId::CredsspUnpatched,
            format!("TSRequest version {}", c.version),
        ));
    }
    if let Some(skew) = c.ntlm.as_ref().and_then(|n| n.clock_skew_s) {
        if skew.abs() > 300 {
            rec.findings.push(finding(
                FindingId::ClockSkew,
                format!("the server's clock is {skew} s from ours"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdu/peers");
        std::fs::read(dir.join(name)).unwrap()
    }

    /// freerdp-shadow-cli with NLA answers mstsc's request with HYBRID: the main connection
    /// plans TLS and CredSSP; asked for SSL alone it refuses with HYBRID_REQUIRED_BY_SERVER.
    #[test]
    fn an_nla_server_from_its_real_confirms() {
        let hybrid = read_confirm(&peer("credssp/shadow-nla_x224_cc.bin"));
        assert_eq!(address_outcome(&hybrid), AddressOutcome::Rdp);
        let CrOutcome::Confirmed(main) = &hybrid else {
            panic!("{hybrid:?}")
        };
        let mut rec = Record::default();
        let mut sec = SecurityReport::default();
        let ms10 = Duration::from_millis(10);
        primary_confirmed(&mut rec, &mut sec, "127.0.0.1:3389", main, ms10, ms10);
        assert_eq!(sec.selected.as_deref(), Some("hybrid"));
        assert_eq!(rec.planned, [Stage::Tls, Stage::Credssp]);
        let refused = read_confirm(&peer("nmap_shadow-nla/014-s2c-x224-cc.bin"));
        let ssl = judge_layer(Layer::Ssl, &refused);
        assert!(!ssl.accepted);
        assert_eq!(ssl.failure.as_deref(), Some("HYBRID_REQUIRED_BY_SERVER"));
        let mut results = BTreeMap::new();
        results.insert("hybrid_ex", judge_layer(Layer::HybridEx, &hybrid));
        results.insert("hybrid", judge_layer(Layer::Hybrid, &hybrid));
        results.insert("ssl", ssl);
        let v = conclude_layers(&mut rec, &mut sec, results, main, false);
        assert_eq!(sec.nla_required, Some(true));
        assert_eq!(v.tls, Some((PRIMARY, true)));
        assert!(!v.rdp && !v.ssl && v.hybrid);
        assert!(rec.findings.is_empty(), "{:?}", rec.findings);
    }

    /// A legacy server (Suricata's RDP-003 capture): PROTOCOL_RDP via a Confirm without
    /// negotiation; the layers conclude "NLA not required" and "Standard RDP Security".
    #[test]
    fn a_legacy_server_from_its_real_confirm() {
        let o = read_confirm(&peer(
            "../suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin",
        ));
        let CrOutcome::Confirmed(main) = &o else {
            panic!("{o:?}")
        };
        let mut rec = Record::default();
        let mut sec = SecurityReport::default();
        primary_confirmed(
            &mut rec,
            &mut sec,
            "a",
            main,
            Duration::ZERO,
            Duration::ZERO,
        );
        assert!(sec.legacy_no_negotiation);
        assert_eq!(rec.planned, [Stage::Mcs]);
        let v = conclude_layers(&mut rec, &mut sec, BTreeMap::new(), main, true);
        assert!(v.rdp && !v.rdp_neg && v.tls.is_none());
        let ids: Vec<_> = rec.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "legacy-no-negotiation",
                "nla-not-required",
                "rdp-security-allowed"
            ]
        );
        assert_eq!(
            rec.findings[2].evidence,
            "a client without negotiation gets Standard RDP Security"
        );
    }

    /// xrdp's real Disconnect Provider Ultimatum in place of a Confirm, and garbage.
    #[test]
    fn what_is_not_a_confirm_is_named() {
        let mut rec = Record::default();
        let garbage = read_confirm(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        assert_eq!(address_outcome(&garbage), AddressOutcome::NotRdp);
        assert!(primary_failed(
            &mut rec,
            "a",
            &garbage,
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::ZERO
        ));
        assert_eq!(rec.stopped_at, Some(Stage::X224));
        assert_eq!(rec.findings[0].id, FindingId::NotRdp);
        let silent = CrOutcome::NoConfirm(ReadFailure::Timeout { got: 0 });
        assert_eq!(address_outcome(&silent), AddressOutcome::Silent);
    }

    /// xrdp's real Connect-Response (128-bit RC4, proprietary certificate) to each method.
    #[test]
    fn standard_rdp_security_from_a_real_connect_response() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdu");
        let frame = walk(&dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("mcs-connect-response"))
            .filter_map(|p| std::fs::read(p).ok())
            .find(|b| {
                ConnectResponseFacts::parse(b)
                    .and_then(|f| f.security)
                    .is_some_and(|s| s.method.bits() == 0x02)
            })
            .expect("a real Connect-Response selecting 128-bit RC4");
        let mut found = RdpSecurityFound::default();
        for (bits, name) in METHODS_EACH {
            let answer = if bits == 0x02 {
                ConnectResponseFacts::parse(&frame).ok_or_else(|| "not a Connect-Response".into())
            } else {
                Err("the server closed the connection without answering".into())
            };
            found.answer(bits, name, answer);
        }
        assert!(found.any);
        assert_eq!(found.report.encryption_methods, ["128bit"]);
        let mut rec = Record::default();
        let report = conclude_rdp_security(&mut rec, found, 0, Duration::ZERO);
        assert_eq!(rec.stages[0].status, StageStatus::Ok);
        assert!(report.answers.contains_key("40bit"));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    /// Zeek's rdp-to-ssl server flight (TLS 1.0) answers a TLS 1.0 ClientHello: accepted with
    /// its certificate; the same flight answers a TLS 1.2 offer with the wrong version.
    #[test]
    fn hello_answers_from_a_real_flight() {
        let flight = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/zeek__rdp-to-ssl/004-s2c-tls-handshake-server-hello.bin"),
        )
        .unwrap();
        let mut records = Vec::new();
        let mut rest: &[u8] = &flight;
        while let Ok((r, _)) = rdp_proto::decode_prefix::<ptls::Record>(rest) {
            records.push(rest[..rest.len() - r.len()].to_vec());
            rest = r;
        }
        let version = {
            let rec: ptls::Record = rdp_proto::decode(&records[0]).unwrap();
            let mut v = None;
            HandshakeReader::default().push(rec.fragment, |hs| {
                if hs.msg_type == HandshakeType::SERVER_HELLO {
                    v = rdp_proto::decode::<ptls::ServerHello>(hs.body)
                        .ok()
                        .map(|sh| sh.selected_version());
                }
            });
            v.unwrap()
        };
        let mut answer = HelloAnswer::new(version);
        let mut step = HelloStep::More;
        for r in &records {
            step = answer.on_record(r);
            if step != HelloStep::More {
                break;
            }
        }
        let HelloStep::Done(Ok(chain)) = step else {
            panic!("{step:?}")
        };
        assert!(!chain.is_empty());
        let mut other = HelloAnswer::new(ProtocolVersion::TLS_1_3);
        assert!(matches!(
            other.on_record(&records[0]),
            HelloStep::Done(Err(why)) if why.starts_with("answered with")
        ));
    }

    /// A TLS stage where rustls failed but TLS 1.0 answered: legacy only, the stage stands.
    #[test]
    fn a_legacy_only_tls_server() {
        let mut rec = Record::default();
        let report = conclude_tls(
            &mut rec,
            TlsObserved {
                main: Err(TlsFailure::from("peer is incompatible".to_owned())),
                hellos: vec![
                    ("tls1_0", Ok(Vec::new())),
                    ("tls1_1", Err("alert protocol_version".into())),
                    ("tls1_2", Err("alert protocol_version".into())),
                    ("tls1_3", Err("alert protocol_version".into())),
                ],
                skipped: Vec::new(),
                enumerated: true,
            },
            "127.0.0.1",
            0,
            Duration::ZERO,
        );
        assert_eq!(report.versions.get("tls1_0"), Some(&true));
        assert_eq!(rec.stages[0].status, StageStatus::Ok);
        assert_eq!(rec.stopped_at, None);
        assert_eq!(rec.findings[0].id, FindingId::TlsLegacyOnly);
    }

    /// The real CHALLENGE of FreeRDP's NLA server: names, version, clock.
    #[test]
    fn credssp_from_a_real_challenge() {
        let ts = TsRequestFacts::parse(&peer("credssp/shadow-nla_tsrequest_challenge.bin"));
        let mut rec = Record::default();
        let c =
            conclude_credssp(&mut rec, ts.map_err(|e| e.to_string()), 0, Duration::ZERO).unwrap();
        assert!(c
            .ntlm
            .as_ref()
            .is_some_and(|n| n.netbios_computer.is_some()));
        credssp_findings(&mut rec, &c);
        // The fixture's clock is years from 1970: a skew finding.
        assert!(rec.findings.iter().any(|f| f.id == FindingId::ClockSkew));
    }

    #[test]
    fn the_record_reports_what_did_not_fit() {
        let mut rec = Record::default();
        rec.begin(Stage::Tls);
        rec.plan(&[Stage::Tls, Stage::Credssp]);
        rec.skip("layer rdstls");
        rec.deadline_passed("--timeout (2s)", Duration::from_secs(2));
        rec.finish("--timeout (2s)", Duration::from_secs(2));
        let st: Vec<_> = rec.stages.iter().map(|s| (s.name, s.status)).collect();
        assert_eq!(
            st,
            [
                (Stage::Tls, StageStatus::Timeout),
                (Stage::Credssp, StageStatus::Skipped)
            ]
        );
        assert_eq!(rec.stopped_at, Some(Stage::Tls));
        assert_eq!(rec.findings.len(), 1);
        assert!(rec.findings[0].evidence.contains("not tried: layer rdstls"));
    }
}
