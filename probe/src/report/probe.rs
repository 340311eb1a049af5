//! Output DTOs of `rdprobe probe` (the JSON keys the README lists under `rdprobe probe`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnose::clients::ClientView;
use crate::diagnose::diagnosis::Diagnosis;
use crate::diagnose::mstsc::MstscView;
use crate::diagnose::{Finding, Stage, Verdict};
use crate::report::capture::{Certificate, SessionReport, StageReport};

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AddressResult {
    pub address: String,
    pub outcome: AddressOutcome,
    pub probed: bool,
}

/// What one address of a target answered to the mstsc request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressOutcome {
    /// A Connection Confirm.
    Rdp,
    Refused,
    /// No SYN-ACK in time.
    Timeout,
    Unreachable,
    /// Another connect error.
    Error,
    /// Not tried: the target's time ran out.
    Skipped,
    /// Bytes that are not RDP.
    NotRdp,
    /// Connected, no answer.
    Silent,
    /// Connected, closed or reset without a Confirm.
    Closed,
}

impl AddressOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::NotRdp => "not-rdp",
            Self::Silent => "silent",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for AddressOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for AddressOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ProtocolResult {
    pub accepted: bool,
    /// The RDP_NEG_FAILURE code name, or what the server selected instead, or how it failed.
    pub failure: Option<String>,
    /// What the server selected for this request.
    pub selected: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SecurityReport {
    /// The protocol selected for the primary request (SSL|HYBRID|HYBRID_EX, as mstsc asks).
    pub selected: Option<String>,
    /// Per layer; written in protocol order ([`PROTOCOL_ORDER`]), not alphabetically.
    #[serde(serialize_with = "in_protocol_order")]
    pub protocols: BTreeMap<&'static str, ProtocolResult>,
    pub nla_required: Option<bool>,
    pub neg_flags: Vec<String>,
    pub legacy_no_negotiation: bool,
}

/// The security layers in protocol order (MS-RDPBCGR 2.2.1.1.1's requestedProtocols, with
/// Standard RDP Security first).
pub const PROTOCOL_ORDER: [&str; 6] = ["rdp", "ssl", "hybrid", "hybrid_ex", "rdstls", "rdsaad"];

/// The layers of `protocols` in [`PROTOCOL_ORDER`], then any other key.
pub fn protocols_in_order<'a>(
    protocols: &'a BTreeMap<&'static str, ProtocolResult>,
) -> impl Iterator<Item = (&'static str, &'a ProtocolResult)> {
    let known = PROTOCOL_ORDER
        .iter()
        .filter_map(|k| protocols.get_key_value(k).map(|(k, v)| (*k, v)));
    let others = protocols
        .iter()
        .filter(|(k, _)| !PROTOCOL_ORDER.contains(k))
        .map(|(k, v)| (*k, v));
    known.chain(others)
}

fn in_protocol_order<S: serde::Serializer>(
    protocols: &BTreeMap<&'static str, ProtocolResult>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(protocols_in_order(protocols))
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TlsProbeReport {
    pub versions: BTreeMap<&'static str, bool>,
    /// Why each rejected version was rejected (alert name, reset, close).
    pub rejections: BTreeMap<&'static str, String>,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub certificate: Option<ProbeCertificate>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ProbeCertificate {
    #[serde(flatten)]
    pub cert: Certificate,
    pub name_matches: bool,
    pub chain_length: usize,
    /// The commonNames and DNS SANs, for the `wrong-host` rule (the JSON has them as
    /// `subject` and `sans`).
    #[serde(skip)]
    pub names: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
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

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CredsspReport {
    pub version: u32,
    pub patched_cve_2018_0886: bool,
    pub ntlm: Option<NtlmReport>,
    pub error_code: Option<String>,
}

/// CredSSP with credentials: the user (never the password), the result, the server's NTSTATUS.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct AuthReport {
    pub user: String,
    /// "ok", "failed" or "not_attempted" (the server does not do CredSSP on mstsc's
    /// connection: the credentials go in the Client Info, over TLS or Standard RDP Security).
    pub result: &'static str,
    pub ntstatus: Option<String>,
    pub ntstatus_name: Option<String>,
    /// HYBRID_EX's Early User Authorization Result: "success", "access_denied", or the code.
    pub early_user_authorization: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RdpSecurityReport {
    pub server_version: Option<String>,
    pub encryption_level: Option<String>,
    pub encryption_methods: Vec<String>,
    pub certificate_type: Option<String>,
    pub rsa_key_bits: Option<u32>,
    /// Per offered method: what the server chose (e.g. xrdp answers 128bit to a 40-bit offer).
    pub answers: BTreeMap<&'static str, String>,
}

/// One target's result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProbeResult {
    pub target: String,
    pub port: u16,
    pub addresses: Vec<AddressResult>,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
    pub stages: Vec<StageReport>,
    pub security: SecurityReport,
    pub tls: Option<TlsProbeReport>,
    pub credssp: Option<CredsspReport>,
    /// CredSSP with `--user` (null: no credentials given).
    pub auth: Option<AuthReport>,
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
