//! dns, tcp, x224: the connection an mstsc client makes on each address, and the security
//! layers, each asked for alone on its own connection.

use core::time::Duration;
use std::collections::BTreeMap;

use rdp_proto::nego::SecurityProtocol;

use crate::diagnose::transport::{self, Establishment, NoAnswer};
use crate::diagnose::{finding, rules, Finding, FindingId, Stage, StageStatus};
use crate::facts::observe::AddressOutcome;
use crate::facts::probe::{AddressFacts, ProbeFacts};
use crate::facts::x224::{Answer, Confirm, Layer};

use super::*;

/// The request an mstsc client makes: SSL | HYBRID | HYBRID_EX.
pub const PRIMARY: SecurityProtocol = SecurityProtocol::SSL
    .union(SecurityProtocol::HYBRID)
    .union(SecurityProtocol::HYBRID_EX);

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
pub fn mixed_addresses(tried: &[AddressOutcome], listed: &[AddressFacts]) -> Option<Finding> {
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

/// The main connection's Confirm: the tcp and x224 stages, the stages it plans and the
/// Confirm's own findings (a selection outside mstsc's request among them).
pub fn primary_confirmed(
    rec: &mut Record,
    addr: &str,
    confirm: &Confirm,
    tcp: Duration,
    x224: Duration,
) {
    rec.stage(Stage::Tcp, StageStatus::Ok, tcp, addr);
    let (findings, stops) = rules::confirm(confirm, Some(PRIMARY));
    let status = if stops {
        StageStatus::Failed
    } else {
        StageStatus::Ok
    };
    rec.stage(Stage::X224, status, tcp + x224, confirm.detail());
    if stops {
        rec.stop(Stage::X224);
    }
    rec.findings.extend(findings);
    // The main connection's stages before MCS (the walk plans its own).
    if let Some(selected) = confirm.selected() {
        let last = if selected.is_nla() {
            Stage::Credssp
        } else if selected.is_tls() {
            Stage::Tls
        } else {
            Stage::Mcs
        };
        rec.plan(&Stage::path(selected, last));
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

/// Concludes the security layers from the enumeration `results` (each layer's answer) and the
/// main connection's Confirm (what it selected counts too: `--no-enum` enumerates nothing);
/// `legacy_accepted`: a client without negotiation got a Connect-Response. The layers and
/// whether NLA is required go to `f`.
pub fn conclude_layers(
    rec: &mut Record,
    f: &mut ProbeFacts,
    results: BTreeMap<Layer, CrOutcome>,
    main: &Confirm,
    legacy_accepted: bool,
) -> LayersVerdict {
    f.layers = results;
    let main_selected = main.selected();
    let legacy = main.is_legacy();
    let main_is = |p: SecurityProtocol| main_selected.is_some_and(|s| s.contains(p) && !legacy);
    let acc = |l: Layer| f.accepted(l);
    let rdp_neg = acc(Layer::Rdp) || main_selected == Some(SecurityProtocol::RDP) && !legacy;
    let mut v = LayersVerdict {
        rdp_neg,
        rdp: rdp_neg || legacy_accepted,
        ssl: acc(Layer::Ssl) || main_selected == Some(SecurityProtocol::SSL),
        hybrid: acc(Layer::Hybrid) || main_is(SecurityProtocol::HYBRID),
        hybrid_ex: acc(Layer::HybridEx) || main_is(SecurityProtocol::HYBRID_EX),
        tls: None,
    };
    let any = v.rdp || v.ssl || v.hybrid || v.hybrid_ex || acc(Layer::Rdstls) || acc(Layer::Rdsaad);
    if any {
        f.nla_required = Some(!(v.rdp || v.ssl) && (v.hybrid || v.hybrid_ex));
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
    // TLS: on the request mstsc makes when its selection is a TLS one, else on the layer the
    // enumeration found.
    v.tls = if main_selected.is_some_and(SecurityProtocol::is_tls) {
        Some((PRIMARY, main_selected.is_some_and(SecurityProtocol::is_nla)))
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
    if main.selected().is_some_and(SecurityProtocol::is_tls) {
        return None;
    }
    Some((!main.is_legacy()).then_some(SecurityProtocol::RDP))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::Stage;
    use crate::report::probe::ProtocolResult;

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
        let mut f = ProbeFacts::default();
        let ms10 = Duration::from_millis(10);
        primary_confirmed(&mut rec, "127.0.0.1:3389", main, ms10, ms10);
        f.confirm = Some(*main);
        assert_eq!(f.selected(), Some(SecurityProtocol::HYBRID));
        assert_eq!(rec.planned(), [Stage::Tls, Stage::Credssp]);
        let refused = read_confirm(&peer("nmap_shadow-nla/014-s2c-x224-cc.bin"));
        let ssl = ProtocolResult::from((Layer::Ssl, &refused));
        assert!(!ssl.accepted);
        assert_eq!(ssl.failure.as_deref(), Some("HYBRID_REQUIRED_BY_SERVER"));
        let mut results = BTreeMap::new();
        results.insert(Layer::HybridEx, hybrid.clone());
        results.insert(Layer::Hybrid, hybrid.clone());
        results.insert(Layer::Ssl, refused);
        let v = conclude_layers(&mut rec, &mut f, results, main, false);
        assert_eq!(f.nla_required, Some(true));
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
        let mut f = ProbeFacts::default();
        primary_confirmed(&mut rec, "a", main, Duration::ZERO, Duration::ZERO);
        assert!(main.is_legacy());
        assert_eq!(rec.planned(), [Stage::Mcs]);
        let v = conclude_layers(&mut rec, &mut f, BTreeMap::new(), main, true);
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
}
