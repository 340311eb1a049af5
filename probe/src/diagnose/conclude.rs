//! The conclusion of a probe: from what it established ([`ProbeFacts`]) and what its plan
//! recorded (stages, findings, where it stopped) to the verdict, what mstsc would show, the
//! headline and the client matrix. The report is built from the facts and this, never read back.

use rdp_proto::nego::SecurityProtocol;

use super::clients::{self, ClientView, ServerFacts};
use super::diagnosis::{self, Diagnosis};
use super::mstsc::{self, MstscView};
use super::{finding, rules, Finding, FindingId, Stage, StageRecord, StageStatus, Verdict};
use crate::facts::probe::ProbeFacts;
use crate::facts::x224::Layer;

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
        no_credentials: nla && f.auth.is_none() && c.stopped_at.is_none(),
        passive: false,
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
