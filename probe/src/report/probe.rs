//! Output DTOs of `rdprobe probe` (the JSON keys the README lists under `rdprobe probe`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::facts::rdpeudp::UdpAnswer;

use rdp_proto::nego::{flag_names, SecurityProtocol};

use crate::diagnose::clients::ClientView;
use crate::diagnose::conclude::Conclusion;
use crate::diagnose::diagnosis::Diagnosis;
use crate::diagnose::mstsc::MstscView;
use crate::diagnose::StageRecord;
use crate::diagnose::{Finding, Stage, Verdict};
use crate::facts::credssp::{AuthFailure, AuthOutcome};
use crate::facts::gcc::method_name;
use crate::facts::kerberos::{KdcFacts, KerberosFailure};
pub use crate::facts::observe::AddressOutcome;
use crate::facts::observe::{ConnectFailure, CrOutcome};
use crate::facts::probe::{
    AddressFacts, AuthFacts, CredsspFacts, ProbeFacts, RdpSecurityFacts, TlsFacts, VersionAnswer,
    SKIPPED,
};
use crate::facts::tls::TlsVersion;
use crate::facts::x224::{protocol_names, Answer, Confirm, Layer};
use crate::report::capture::{Certificate, SessionReport};
use crate::time::rfc3339;

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct AddressResult {
    pub address: String,
    pub outcome: AddressOutcome,
    pub probed: bool,
}

impl From<&AddressFacts> for AddressResult {
    fn from(a: &AddressFacts) -> Self {
        Self {
            address: a.address.to_string(),
            outcome: a.outcome,
            probed: a.probed,
        }
    }
}

/// What the server said to a request for one layer alone.
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ProtocolResult {
    pub accepted: bool,
    /// The RDP_NEG_FAILURE code name, or what the server selected instead, or how it failed.
    pub failure: Option<String>,
    /// What the server selected for this request.
    pub selected: Option<String>,
}

impl From<(Layer, &CrOutcome)> for ProtocolResult {
    fn from((layer, o): (Layer, &CrOutcome)) -> Self {
        match o {
            CrOutcome::Confirmed(c) => {
                let accepted = layer.accepted_by(c);
                match c.answer {
                    Answer::Selected { protocol, .. } => Self {
                        accepted,
                        failure: (!accepted)
                            .then(|| format!("selected {}", protocol_names(protocol))),
                        selected: Some(protocol_names(protocol)),
                    },
                    Answer::Failure(code) => Self {
                        accepted,
                        failure: Some(code.to_string()),
                        selected: None,
                    },
                    Answer::Legacy => Self {
                        accepted,
                        failure: (!accepted).then(|| "no negotiation (legacy server)".to_owned()),
                        selected: Some(protocol_names(SecurityProtocol::RDP)),
                    },
                }
            }
            CrOutcome::ConnectFailed(ConnectFailure::NoTime) => Self {
                accepted: false,
                failure: Some(SKIPPED.into()),
                selected: None,
            },
            CrOutcome::ConnectFailed(e) => Self {
                accepted: false,
                failure: Some(format!("{e:?}")),
                selected: None,
            },
            CrOutcome::NoConfirm(e) => Self {
                accepted: false,
                failure: Some(e.describe()),
                selected: None,
            },
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SecurityReport {
    /// The protocol selected for the primary request (SSL|HYBRID|HYBRID_EX, as mstsc asks).
    pub selected: Option<String>,
    /// Per layer, in protocol order (the order of [`Layer`]).
    pub protocols: BTreeMap<Layer, ProtocolResult>,
    pub nla_required: Option<bool>,
    pub neg_flags: Vec<String>,
    pub legacy_no_negotiation: bool,
}

impl From<&ProbeFacts> for SecurityReport {
    fn from(f: &ProbeFacts) -> Self {
        let confirm = f.confirm.as_ref();
        Self {
            selected: f.selected().map(protocol_names),
            protocols: f
                .layers
                .iter()
                .map(|(l, o)| (*l, ProtocolResult::from((*l, o))))
                .collect(),
            nla_required: f.nla_required,
            neg_flags: confirm.map_or_else(Vec::new, |c| flag_names(c.flags())),
            legacy_no_negotiation: confirm.is_some_and(Confirm::is_legacy),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TlsProbeReport {
    pub versions: BTreeMap<TlsVersion, bool>,
    /// Why each rejected version was rejected (alert name, reset, close).
    pub rejections: BTreeMap<TlsVersion, String>,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub certificate: Option<ProbeCertificate>,
}

impl From<&TlsFacts> for TlsProbeReport {
    fn from(t: &TlsFacts) -> Self {
        let mut r = Self::default();
        match &t.main {
            Ok(s) => {
                r.version = Some(s.version.clone());
                r.cipher = Some(s.cipher.clone());
            }
            // Without the enumeration, the main session's failure is the TLS 1.2 answer.
            Err(e) if !t.enumerated => {
                r.rejections.insert(TlsVersion::V1_2, e.why.clone());
            }
            Err(_) => {}
        }
        for (v, answer) in &t.versions {
            match answer {
                VersionAnswer::Accepted => {
                    r.versions.insert(*v, true);
                }
                VersionAnswer::Refused(why) => {
                    r.versions.insert(*v, false);
                    r.rejections.insert(*v, why.clone());
                }
                VersionAnswer::Skipped => {
                    r.rejections.insert(*v, SKIPPED.into());
                }
            }
        }
        r.certificate = t.certificate.as_ref().map(|c| ProbeCertificate {
            cert: Certificate::from_facts(&c.facts, t.now),
            name_matches: c.name_matches,
            chain_length: c.chain_length,
        });
        r
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ProbeCertificate {
    #[serde(flatten)]
    pub cert: Certificate,
    pub name_matches: bool,
    pub chain_length: usize,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct NtlmReport {
    pub netbios_domain: Option<String>,
    pub netbios_computer: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_tree: Option<String>,
    pub product_version: Option<String>,
    pub timestamp: Option<String>,
    pub clock_skew_s: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CredsspReport {
    pub version: u32,
    pub patched_cve_2018_0886: bool,
    pub ntlm: Option<NtlmReport>,
    pub error_code: Option<String>,
}

impl From<&CredsspFacts> for CredsspReport {
    fn from(c: &CredsspFacts) -> Self {
        let ts = &c.ts;
        Self {
            version: ts.version,
            patched_cve_2018_0886: ts.patched_cve_2018_0886,
            ntlm: ts.challenge.as_ref().map(|ch| NtlmReport {
                netbios_domain: ch.netbios_domain.clone(),
                netbios_computer: ch.netbios_computer.clone(),
                dns_domain: ch.dns_domain.clone(),
                dns_computer: ch.dns_computer.clone(),
                dns_tree: ch.dns_tree.clone(),
                product_version: ch.product_version.clone(),
                timestamp: ch.timestamp.map(rfc3339),
                clock_skew_s: c.clock_skew_s(),
            }),
            error_code: ts.error_code.map(|e| format!("0x{:08x} {e}", e.0)),
        }
    }
}

/// CredSSP with credentials: the user (never the password), the result, the server's NTSTATUS.
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct AuthReport {
    pub user: String,
    /// "ok" or "failed".
    pub result: &'static str,
    pub ntstatus: Option<String>,
    pub ntstatus_name: Option<String>,
    /// HYBRID_EX's Early User Authorization Result: "success", "access_denied", or the code.
    pub early_user_authorization: Option<String>,
    /// The package CredSSP used ("ntlm", "kerberos"); a capture's also its workstation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<&'static str>,
    /// The probe's: why NTLM where mstsc's Negotiate could have used Kerberos (an IP address,
    /// no KDC, no SPN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// A Kerberos refusal: the KRB-ERROR's name (from the KDC or the server's AP-REP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workstation: Option<String>,
}

impl From<&AuthFacts> for AuthReport {
    fn from(a: &AuthFacts) -> Self {
        let status = match &a.outcome {
            AuthOutcome::Failed(AuthFailure::Status(code, _)) => Some(*code),
            _ => None,
        };
        Self {
            user: a.user.clone(),
            result: if a.outcome.passed() { "ok" } else { "failed" },
            ntstatus: status.map(|c| format!("0x{:08x}", c.0)),
            ntstatus_name: status.map(|c| c.to_string()),
            early_user_authorization: match &a.outcome {
                AuthOutcome::Ok(Some(e)) => Some(e.label()),
                _ => None,
            },
            mechanism: Some(a.mechanism.as_str()),
            fallback_reason: a.fallback_reason.clone(),
            kerberos_error: match &a.outcome {
                AuthOutcome::Failed(AuthFailure::Kerberos(code, _)) => Some(code.to_string()),
                AuthOutcome::Failed(AuthFailure::Kdc(KerberosFailure::Kdc { code, .. })) => {
                    Some(code.to_string())
                }
                _ => None,
            },
            workstation: None,
        }
    }
}

/// `kerberos`: the probe's KDC exchange with `--user` (absent when Kerberos was not tried).
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct KerberosReport {
    /// "ok" (a service ticket came) or "failed".
    pub result: &'static str,
    pub realm: String,
    pub client: String,
    pub service: String,
    /// The KDC's address as reached, and how it was found (`--kdc`, krb5.conf, realm-name).
    pub kdc: Option<String>,
    pub kdc_source: Option<&'static str>,
    /// The etype of the user's key and of the service ticket.
    pub etype: Option<&'static str>,
    pub ticket_etype: Option<&'static str>,
    /// The KDC's clock minus ours (seconds), from its first KRB-ERROR.
    pub clock_skew_secs: Option<i64>,
    /// Each request and its answer, in order.
    pub exchanges: Vec<KdcExchangeReport>,
    /// Why no ticket (absent on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The KRB-ERROR's name and number, when the KDC refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_number: Option<i32>,
}

/// One request to the KDC.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct KdcExchangeReport {
    /// "AS-REQ" or "TGS-REQ".
    pub request: &'static str,
    /// The AS-REQ carried the encrypted timestamp (the password was used).
    pub preauth: bool,
    pub answer: String,
}

impl From<&KdcFacts> for KerberosReport {
    fn from(k: &KdcFacts) -> Self {
        let code = match &k.failure {
            Some(KerberosFailure::Kdc { code, .. }) => Some(*code),
            _ => None,
        };
        Self {
            result: if k.failure.is_none() { "ok" } else { "failed" },
            realm: k.realm.clone(),
            client: k.client.clone(),
            service: k.service.clone(),
            kdc: k.kdc.clone(),
            kdc_source: k.kdc_source,
            etype: k.etype.map(|e| e.name()),
            ticket_etype: k.ticket_etype.map(|e| e.name()),
            clock_skew_secs: k.clock_skew_secs,
            exchanges: k
                .exchanges
                .iter()
                .map(|e| KdcExchangeReport {
                    request: e.request.as_str(),
                    preauth: e.preauth,
                    answer: e.answer.clone(),
                })
                .collect(),
            error: k.failure.as_ref().map(KerberosFailure::describe),
            error_code: code.map(|c| c.to_string()),
            error_number: code.map(|c| c.0),
        }
    }
}

/// `udp`: the UDP transport (MS-RDPEUDP), from one SYN.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct UdpProbeReport {
    /// "syn_ack", "refused" (ICMP port unreachable), "silent" (filtered or disabled: not told
    /// apart), "failed".
    pub result: &'static str,
    /// The server's SYN+ACK: version, MTUs, flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syn_ack: Option<crate::report::capture::UdpSynReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    pub detail: String,
}

impl From<&UdpAnswer> for UdpProbeReport {
    fn from(a: &UdpAnswer) -> Self {
        let (result, syn_ack, rtt_ms, detail) = match a {
            UdpAnswer::SynAck { facts, rtt } => (
                "syn_ack",
                Some(crate::report::capture::UdpSynReport::from(facts)),
                Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
                format!(
                    "the UDP transport answers: RDP-UDP version {}, MTU {}/{}",
                    facts.version().label(),
                    facts.up_mtu,
                    facts.down_mtu
                ),
            ),
            UdpAnswer::Refused => (
                "refused",
                None,
                None,
                "ICMP port unreachable: nothing listens on this UDP port".to_owned(),
            ),
            UdpAnswer::Silent => (
                "silent",
                None,
                None,
                "no answer to the SYN: UDP filtered on the way, or the UDP transport disabled on the server (the two cannot be told apart)".to_owned(),
            ),
            UdpAnswer::Failed(why) => ("failed", None, None, why.clone()),
        };
        Self {
            result,
            syn_ack,
            rtt_ms,
            detail,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RdpSecurityReport {
    pub server_version: Option<String>,
    pub encryption_level: Option<String>,
    pub encryption_methods: Vec<String>,
    pub certificate_type: Option<String>,
    pub rsa_key_bits: Option<u32>,
    /// Per offered method: what the server chose (e.g. xrdp answers 128bit to a 40-bit offer).
    pub answers: BTreeMap<String, String>,
}

impl From<&RdpSecurityFacts> for RdpSecurityReport {
    fn from(f: &RdpSecurityFacts) -> Self {
        Self {
            server_version: f.version.map(|v| v.label()),
            encryption_level: f.level.map(|l| l.to_string()),
            encryption_methods: f.accepted.iter().map(|m| method_name(*m)).collect(),
            certificate_type: f.certificate.map(|k| k.label().to_owned()),
            rsa_key_bits: f.rsa_bits,
            answers: f.answers_by_name(),
        }
    }
}

/// One target's result.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ProbeResult {
    pub target: String,
    pub port: u16,
    /// `--gateway`: the RD Gateway the target was probed through (absent without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<super::gateway::GatewayReport>,
    pub addresses: Vec<AddressResult>,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
    pub stages: Vec<StageRecord>,
    pub security: SecurityReport,
    pub tls: Option<TlsProbeReport>,
    pub credssp: Option<CredsspReport>,
    /// CredSSP with `--user` (null: no credentials given).
    pub auth: Option<AuthReport>,
    /// `--user` with Kerberos: the KDC exchange (absent when Kerberos was not tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos: Option<KerberosReport>,
    /// `--udp`: what the SYN to the UDP port got (absent without `--udp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpProbeReport>,
    pub rdp_security: Option<RdpSecurityReport>,
    /// The walk past MCS on the main connection, as far as it went (null: not walked).
    pub session: Option<SessionReport>,
    /// What mstsc would most likely show (null: it connects).
    pub mstsc: Option<MstscView>,
    /// One sentence: what happens, why, the fix to try first.
    pub diagnosis: Diagnosis,
    /// Which common clients would connect (`--clients` shows it in text).
    pub clients: Vec<ClientView>,
    pub findings: Vec<Finding>,
    pub elapsed_ms: f64,
}

impl From<(&ProbeFacts, Conclusion)> for ProbeResult {
    fn from((f, c): (&ProbeFacts, Conclusion)) -> Self {
        Self {
            target: f.host.clone(),
            port: f.port,
            gateway: f.gateway.as_ref().map(super::gateway::GatewayReport::from),
            addresses: f.addresses.iter().map(AddressResult::from).collect(),
            verdict: c.verdict,
            stopped_at: c.stopped_at,
            stages: c.stages,
            security: SecurityReport::from(f),
            tls: f.tls.as_ref().map(TlsProbeReport::from),
            credssp: f.credssp.as_ref().map(CredsspReport::from),
            auth: f.auth.as_ref().map(AuthReport::from),
            kerberos: f.kerberos.as_ref().map(KerberosReport::from),
            udp: f.udp.as_ref().map(UdpProbeReport::from),
            rdp_security: f.rdp_security.as_ref().map(RdpSecurityReport::from),
            session: f.session.as_ref().map(SessionReport::from),
            mstsc: c.mstsc,
            diagnosis: c.diagnosis,
            clients: c.clients,
            findings: c.findings,
            elapsed_ms: crate::time::ms(f.elapsed),
        }
    }
}
