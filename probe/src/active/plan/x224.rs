//! dns, tcp, x224: the connection an mstsc client makes on each address, and the security
//! layers, each asked for alone on its own connection.

use core::time::Duration;
use std::collections::BTreeMap;

use rdp_proto::nego::SecurityProtocol;

use crate::diagnose::transport::{self, Establishment, NoAnswer};
use crate::diagnose::{finding, rules, Finding, FindingId, Stage, StageStatus};
use crate::facts::x224::{protocol_names, Answer, Confirm};
use crate::report::probe::{AddressOutcome, AddressResult, ProtocolResult, SecurityReport};

use super::*;

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
            let (status, f) = match e {
                ConnectFailure::Refused => (
                    StageStatus::Failed,
                    transport::establishment(Establishment::Refused, addr),
                ),
                ConnectFailure::Timeout => (
                    StageStatus::Timeout,
                    transport::establishment(
                        Establishment::TimedOut {
                            within: stage_timeout,
                        },
                        addr,
                    ),
                ),
                ConnectFailure::Unreachable(m) | ConnectFailure::Other(m) => (
                    StageStatus::Failed,
                    transport::establishment(Establishment::Unreachable(m.clone()), addr),
                ),
                ConnectFailure::NoTime | ConnectFailure::Reset => (
                    StageStatus::Skipped,
                    probe_timeout(format!(
                        "no time left to connect to {addr} (--timeout / --rate)"
                    )),
                ),
            };
            rec.stage(Stage::Tcp, status, tcp, f.evidence.clone());
            rec.stop(Stage::Tcp);
            rec.findings.push(f);
            true
        }
        CrOutcome::NoConfirm(e) => {
            rec.stage(Stage::Tcp, StageStatus::Ok, tcp, addr);
            let (status, kind) = match e {
                ReadFailure::Timeout { .. } => (StageStatus::Timeout, NoAnswer::Silent),
                ReadFailure::NotFrame { .. } => (StageStatus::Failed, NoAnswer::NotRdp),
                _ => (StageStatus::Failed, NoAnswer::Closed),
            };
            rec.stage(Stage::X224, status, tcp + x224, e.describe());
            rec.stop(Stage::X224);
            rec.findings.push(transport::no_answer(kind, e.describe()));
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::Stage;

    use crate::report::probe::*;
    use core::time::Duration;

    use std::collections::BTreeMap;

    fn peer(name: &str) -> Vec<u8> {
        crate::testdata::pdu(&format!("peers/{name}"))
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
        assert_eq!(rec.planned(), [Stage::Tls, Stage::Credssp]);
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
        assert_eq!(rec.planned(), [Stage::Mcs]);
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
}
