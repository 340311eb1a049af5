//! The conclusion of a probe and of a captured connection: from what it established
//! ([`ProbeFacts`], [`ConnectionFacts`]) and, for a probe, what its plan recorded (stages,
//! findings, where it stopped) to the findings, the verdict, what mstsc would show, the
//! headline and (probe) the client matrix. The report is built from the facts and this, never
//! read back.

use rdp_proto::nego::SecurityProtocol;

use super::clients::{self, ClientView, ServerFacts};
use super::diagnosis::{self, Diagnosis};
use super::mstsc::{self, MstscView};
use super::transport::{self, Establishment};
use super::{finding, rules, Finding, FindingId, Stage, StageRecord, StageStatus, Verdict};
use crate::facts::connection::ConnectionFacts;
use crate::facts::probe::ProbeFacts;
use crate::facts::rdp::{NlaFacts, Side};
use crate::facts::tcp::ConnState;
use crate::facts::x224::{Confirm, Layer};
use crate::time::rfc3339;

/// What a probe comes to.
#[derive(Clone, Debug, Default)]
pub struct Conclusion {
    pub stages: Vec<StageRecord>,
    pub findings: Vec<Finding>,
    pub stopped_at: Option<Stage>,
    pub verdict: Verdict,
    /// What mstsc would most likely show (None: it connects).
    pub mstsc: Option<MstscView>,
    pub diagnosis: Diagnosis,
    /// Which common clients would connect.
    pub clients: Vec<ClientView>,
}

/// What the plan recorded of one probe.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub stages: Vec<StageRecord>,
    /// Worst first.
    pub findings: Vec<Finding>,
    pub stopped_at: Option<Stage>,
}

/// Concludes a probe: `wrong-host` from the server's own names, then the verdict, the mstsc
/// view, the headline and the client matrix.
pub fn probe(f: &ProbeFacts, r: Recorded) -> Conclusion {
    let mut findings = r.findings;
    findings.extend(wrong_host(f));
    let verdict = super::verdict(&findings);
    let mstsc = mstsc::view(
        &findings,
        r.stopped_at.is_some(),
        f.session.as_ref().and_then(|s| s.error_info.map(|e| e.0)),
    );
    let mut c = Conclusion {
        stages: r.stages,
        findings,
        stopped_at: r.stopped_at,
        verdict,
        mstsc,
        ..Conclusion::default()
    };
    c.diagnosis = diagnose(f, &c);
    c.clients = clients::matrix(&server_facts(f, &c));
    c
}

/// A probe that failed inside rdprobe (a panic): reported with `what`, never silently missing.
pub fn internal_error(what: &str) -> Conclusion {
    let findings = vec![finding(FindingId::InternalError, what.to_owned())];
    let mut c = Conclusion {
        verdict: Verdict::Error,
        findings,
        ..Conclusion::default()
    };
    c.diagnosis = diagnosis::diagnose(&diagnosis::Outcome {
        findings: &c.findings,
        ..diagnosis::Outcome::default()
    });
    c
}

/// `wrong-host`: the names the server gives itself (the NTLM CHALLENGE's, the certificate's)
/// against the target and its canonical name.
fn wrong_host(f: &ProbeFacts) -> Option<Finding> {
    let cert = f.tls.as_ref().and_then(|t| t.certificate.as_ref());
    let ntlm = f.credssp.as_ref().and_then(|c| c.ts.challenge.as_ref());
    let cert_names: Vec<String> = cert.map_or_else(Vec::new, |c| {
        c.facts
            .common_names
            .iter()
            .chain(&c.facts.dns_names)
            .cloned()
            .collect()
    });
    let names = rules::ServerNames {
        ntlm_dns_computer: ntlm.and_then(|n| n.dns_computer.as_deref()),
        ntlm_netbios_computer: ntlm.and_then(|n| n.netbios_computer.as_deref()),
        cert_names: &cert_names,
        cert_self_signed: cert.is_some_and(|c| c.facts.self_signed),
        cert_matches_target: cert.is_some_and(|c| c.name_matches),
    };
    rules::wrong_host(&f.host, f.canonical.as_deref(), &names)
}

/// The headline of a probe.
fn diagnose(f: &ProbeFacts, c: &Conclusion) -> Diagnosis {
    let layer = f.selected();
    let nla = layer.is_some_and(SecurityProtocol::is_nla);
    diagnosis::diagnose(&diagnosis::Outcome {
        findings: &c.findings,
        stopped_at: c.stopped_at,
        reached: c
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Ok)
            .map(|s| s.name)
            .max(),
        layer,
        nla_required: f.nla_required,
        mstsc: c.mstsc.as_ref(),
        no_credentials: c.stopped_at.is_none()
            && (nla && f.auth.is_none()
                || f.gateway.as_ref().is_some_and(|g| {
                    g.auth == Some(crate::facts::gateway::GatewayAuth::NotAttempted)
                })),
        passive: false,
        gateway: f.gateway.is_some(),
    })
}

/// What the client matrix needs from a probe.
fn server_facts(f: &ProbeFacts, c: &Conclusion) -> ServerFacts {
    let early = matches!(c.stopped_at, Some(Stage::Dns | Stage::Tcp | Stage::X224));
    let primary = c.diagnosis.primary_finding;
    let unreachable = early.then(|| {
        let what = primary.map_or("the connection failed", |id| id.entry().1);
        (c.stopped_at.unwrap_or(Stage::Tcp), what)
    });
    let selected = f.selected();
    let hybrid = f.accepted(Layer::Hybrid)
        || f.accepted(Layer::HybridEx)
        || selected.is_some_and(SecurityProtocol::is_nla);
    let ssl = f.accepted(Layer::Ssl) || selected == Some(SecurityProtocol::SSL);
    let rdp = f.accepted(Layer::Rdp)
        || selected == Some(SecurityProtocol::RDP)
        || f.rdp_security.is_some();
    let tls = f
        .tls
        .as_ref()
        .map_or_else(Vec::new, |t| t.accepted().collect());
    let cert_prompt = f
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref().map(|c| (c, t.now)))
        .and_then(|(c, now)| {
            if c.facts.expired_at(now) {
                Some("the certificate has expired")
            } else if !c.name_matches {
                Some("the certificate names another host")
            } else if c.facts.self_signed {
                Some("the certificate is self-signed")
            } else {
                None
            }
        });
    // A failure past the security layer meets every client; so does one at tls or credssp that
    // is not about this probe's own credentials.
    let later = match (c.stopped_at, primary) {
        (Some(st), Some(id)) if st >= Stage::Tls && f.auth.is_none() => Some((st, id)),
        _ => None,
    };
    ServerFacts {
        unreachable,
        rdp,
        ssl,
        hybrid,
        nla_required: f.nla_required == Some(true),
        tls,
        credssp_patched: f.credssp.as_ref().map(|c| c.ts.patched_cve_2018_0886),
        cert_prompt,
        later,
    }
}

/// Concludes a captured connection: the TCP establishment, the RDP rules both fronts share
/// (the Confirm, open layers, weak encryption, certificates judged at the capture's time, a
/// TLS alert, Set Error Info, licensing), how it ended before its next stage, resets, loss;
/// then the verdict, the mstsc view and the headline. `timeline` draws the stages once the
/// stage it stopped at is known.
pub fn connection(
    f: &ConnectionFacts<'_>,
    timeline: impl FnOnce(Option<Stage>) -> Vec<StageRecord>,
) -> Conclusion {
    let t = &f.tcp;
    let mut findings: Vec<Finding> = Vec::new();
    let mut stopped_at: Option<Stage> = None;
    let midstream = t.midstream();
    let ending = transport::Ending {
        text: &t.ended_by,
        client_first: t.client_ended_first,
        server_spoke: t.server_spoke,
        server_closed: t.server_closed,
    };

    // TCP establishment.
    let establishment = match t.state {
        ConnState::REJ => Some(Establishment::Refused),
        ConnState::S0 | ConnState::SH => Some(Establishment::Unanswered {
            syns: t.client_packets,
        }),
        ConnState::RSTOS0 => Some(Establishment::ClientGaveUp),
        _ => None,
    };
    if let Some(e) = establishment {
        stopped_at = Some(Stage::Tcp);
        findings.push(transport::establishment(e, &t.server));
    }

    let r = f.rdp;
    let selected = r.confirm.as_ref().and_then(Confirm::selected);
    if f.is_rdp {
        if let Some(code) = r.confirm.as_ref().and_then(Confirm::failure) {
            stopped_at = Some(Stage::X224);
            findings.push(rules::negotiation_failure(code, r.requested));
        }
        if let Some(c) = &r.confirm {
            let (of_confirm, stops) = rules::confirm(c, r.requested);
            if stops {
                stopped_at.get_or_insert(Stage::X224);
            }
            findings.extend(of_confirm);
        }
        if let Some(sel) = selected {
            findings.extend(rules::open_layers(rules::OpenLayers {
                rdp: sel.is_empty(),
                rdp_only_legacy: r.confirm.is_some_and(|c| c.is_legacy()),
                ssl: sel.contains(SecurityProtocol::SSL) && !sel.is_nla(),
            }));
        }
        // Standard RDP Security's own encryption (under TLS the server says NONE: normal).
        if let Some(sec) = r
            .connect_response
            .as_ref()
            .and_then(|c| c.security.as_ref())
            .filter(|_| selected.is_none_or(|s| s.is_empty()))
        {
            findings.extend(rules::weak_rdp_encryption(&[sec.method], Some(sec.level)));
            findings.extend(rules::weak_proprietary_key(sec.rsa_bits));
        }
        let when = format!("capture time {}", rfc3339(f.start));
        if let Some(c) = &f.rdp_certificate {
            findings.extend(rules::certificate(c, f.start, &when));
        }
        if let (Some(_), Some(c)) = (&r.tls, &f.tls_certificate) {
            findings.extend(rules::certificate(c, f.start, &when));
        }
        if let Some((dir, alert)) = r.tls.as_ref().and_then(|t| t.alert) {
            if !f.tls_established {
                stopped_at.get_or_insert(Stage::Tls);
                findings.push(rules::tls_alert(dir.sender(), &alert));
            }
        }
        if let Some(nla) = &r.nla {
            if let Some(c) = &nla.server {
                findings.extend(rules::credssp(c, "the capture's clock"));
            }
            if let Some(outcome) = nla.outcome(!t.open_at_end) {
                if let Some(finding) = rules::auth(&outcome, &nla.account()) {
                    stopped_at.get_or_insert(Stage::Credssp);
                    findings.push(finding);
                }
            }
        }
        if let Some(e) = r.session.error_info {
            let stage = f.error_stage.unwrap_or(Stage::Capabilities);
            let finding = rules::set_error_info(e, stage);
            if rules::error_info_stops(&finding) {
                stopped_at.get_or_insert(stage);
            }
            findings.push(finding);
        }
        if let Some((code, transition)) = r.session.licensing.error {
            findings.extend(rules::licensing(code, transition));
        }
        if stopped_at.is_none() && !f.reached_bulk && !midstream {
            let due = f.due;
            if let (Stage::X224, Some(what)) = (due, f.not_rdp) {
                stopped_at = Some(due);
                findings.push(transport::not_rdp(what));
            } else if t.open_at_end && !(due == Stage::X224 && t.duration_ns > 5_000_000_000) {
                // Still open when the capture ends: nothing failed that we can see.
            } else {
                stopped_at = Some(due);
                let tls_failed = findings
                    .iter()
                    .any(|f| f.id == FindingId::TlsHandshakeFailed);
                if !(due == Stage::Tls && tls_failed) {
                    let credssp = r.nla.as_ref().map_or_else(
                        || r.sealed.guess(!t.client_ended_first && t.server_closed),
                        NlaFacts::guess,
                    );
                    findings.extend(transport::ended_during(due, &ending, credssp, r.ended_by));
                }
            }
        }
    } else if f.rdp_port && !midstream && stopped_at.is_none() {
        // A connection to an RDP port that never spoke RDP.
        let connected = t.established || t.client_spoke;
        if let Some(what) = f.not_rdp {
            stopped_at = Some(if connected { Stage::X224 } else { Stage::Tcp });
            findings.push(transport::not_rdp(what));
        } else {
            let finding = transport::silent_rdp_port(&ending, t.client_spoke);
            // Connected, nothing sent: a port check or a client that gave up.
            if finding.is_some() || !connected {
                stopped_at = Some(if connected { Stage::X224 } else { Stage::Tcp });
            }
            findings.extend(finding);
        }
    }

    // The client's Kerberos exchange just before: a refused ticket explains a refused logon.
    let ntlm_refused = findings.iter().any(|f| {
        super::attempts::refused_logon(std::slice::from_ref(f)) && f.id != FindingId::CredsspFailed
    });
    let went_on = stopped_at != Some(Stage::Credssp);
    findings.extend(rules::kerberos(f.kerberos, ntlm_refused, went_on));

    // Resets.
    if let Some((by, stage)) = t.first_rst {
        // mstsc: client FIN, then server RST.
        let normal_end = t.first_fin == Some(Side::Client) && by == Side::Server;
        if !normal_end && t.state != ConnState::REJ && t.state != ConnState::RSTOS0 {
            findings.push(transport::reset(
                by == Side::Server,
                stage,
                stopped_at.is_some(),
            ));
        }
    }
    if t.injected_resets > 0 {
        findings.push(transport::injected_reset(
            t.injected_detail.as_deref().unwrap_or_default(),
        ));
    }
    // SYN retries of a connection that never got an answer are not path loss.
    findings.extend(transport::loss(
        t.synack || midstream,
        t.retransmissions,
        t.lost_segments,
        t.packets,
    ));
    findings.extend(transport::zero_window(t.zero_windows));

    let stages = timeline(stopped_at);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = super::verdict(&findings);
    let mstsc = mstsc::view(
        &findings,
        stopped_at.is_some(),
        r.session.error_info.map(|e| e.0),
    );
    let diagnosis = diagnosis::diagnose(&diagnosis::Outcome {
        findings: &findings,
        stopped_at,
        reached: stages
            .iter()
            .filter(|s| s.status == StageStatus::Ok)
            .map(|s| s.name)
            .max(),
        layer: if f.is_rdp { selected } else { None },
        nla_required: None,
        mstsc: mstsc.as_ref(),
        no_credentials: false,
        passive: true,
        gateway: false,
    });
    Conclusion {
        stages,
        findings,
        stopped_at,
        verdict,
        mstsc,
        diagnosis,
        clients: Vec::new(),
    }
}
