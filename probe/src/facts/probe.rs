//! What one probe of a target established: the typed record the probe's plan fills as it goes,
//! that [`crate::diagnose::conclude`] judges and [`crate::report::probe`] renders
//! (ARCHITECTURE.md, "Layers"). Nothing here is a report string that a decision reads back.

use core::net::IpAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use rdp_proto::gcc::{EncryptionLevel, EncryptionMethods, RdpVersion};

use super::cert::CertFacts;
use super::credssp::{AuthOutcome, TsRequestFacts};
use super::gcc::{method_name, CertKind};
use super::observe::{AddressOutcome, CrOutcome};
use super::session::SessionFacts;
use super::tls::TlsVersion;
use super::x224::{Confirm, Layer};

/// What the report says in place of an answer the probe could not try for lack of time.
pub const SKIPPED: &str = "skipped: --timeout ran out";

/// One probe of one target.
#[derive(Clone, Debug, Default)]
pub struct ProbeFacts {
    /// The target as given, and its port.
    pub host: String,
    pub port: u16,
    /// The resolver's canonical name for the target (a CNAME or hosts-file alias's target).
    pub canonical: Option<String>,
    /// Every address of the target, in the resolver's order, with what it answered.
    pub addresses: Vec<AddressFacts>,
    /// The main connection's Connection Confirm (mstsc's request).
    pub confirm: Option<Confirm>,
    /// Each security layer asked for alone (HYBRID_EX: the main connection's answer); set
    /// when the layers are concluded.
    pub layers: BTreeMap<Layer, CrOutcome>,
    /// The server refuses every request without CredSSP (None: no layer was accepted).
    pub nla_required: Option<bool>,
    pub tls: Option<TlsFacts>,
    /// The server's first TSRequest (the NTLM CHALLENGE), judged at `now`.
    pub credssp: Option<CredsspFacts>,
    /// CredSSP with `--user`.
    pub auth: Option<AuthFacts>,
    /// `--user` with Kerberos: the KDC exchange (the `kerberos` stage).
    pub kerberos: Option<crate::facts::kerberos::KdcFacts>,
    /// Standard RDP Security's Connect-Initial attempts.
    pub rdp_security: Option<RdpSecurityFacts>,
    /// The walk past MCS on the main connection, as far as it went.
    pub session: Option<SessionFacts>,
    /// `--udp`: what the SYN to the UDP port got.
    pub udp: Option<super::rdpeudp::UdpAnswer>,
    /// `--gateway`: the RD Gateway the target was reached through.
    pub gateway: Option<super::gateway::GatewayFacts>,
    /// The whole probe of the target.
    pub elapsed: Duration,
}

impl ProbeFacts {
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
            ..Self::default()
        }
    }

    /// The layer the main connection's Confirm selected.
    pub fn selected(&self) -> Option<rdp_proto::nego::SecurityProtocol> {
        self.confirm.as_ref().and_then(Confirm::selected)
    }

    /// Whether `layer` was accepted when asked for alone.
    pub fn accepted(&self, layer: Layer) -> bool {
        self.layers.get(&layer).is_some_and(|o| o.accepts(layer))
    }
}

/// What one address of the target answered to the mstsc request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressFacts {
    pub address: IpAddr,
    pub outcome: AddressOutcome,
    /// The address the rest of the probe ran on.
    pub probed: bool,
}

/// The TLS stage: the main session and our own ClientHello per version.
#[derive(Clone, Debug)]
pub struct TlsFacts {
    /// The main session (rustls, TLS 1.2/1.3): established, or why not.
    pub main: Result<TlsSession, TlsFailure>,
    /// Our own ClientHello offering each version alone (only when enumerating).
    pub versions: BTreeMap<TlsVersion, VersionAnswer>,
    pub enumerated: bool,
    /// The server's certificate (the main session's chain, else a plaintext one).
    pub certificate: Option<ServerCertificate>,
    /// Unix seconds the certificate was judged at.
    pub now: i64,
}

impl TlsFacts {
    /// The versions accepted, lowest first.
    pub fn accepted(&self) -> impl Iterator<Item = TlsVersion> + '_ {
        self.versions
            .iter()
            .filter(|(_, a)| **a == VersionAnswer::Accepted)
            .map(|(v, _)| *v)
    }
}

/// The answer to our ClientHello offering one version alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionAnswer {
    Accepted,
    /// Refused: an alert, another version, a reset or a close.
    Refused(String),
    /// Not tried: the target's time ran out.
    Skipped,
}

/// The main TLS session (rustls, TLS 1.2/1.3) as the driver saw it.
#[derive(Clone, Debug)]
pub struct TlsSession {
    /// rustls' names (`TLSv1.3`, `TLS13_AES_256_GCM_SHA384`).
    pub version: String,
    pub cipher: String,
    pub chain: Vec<Vec<u8>>,
    /// When the handshake finished (from the target's start).
    pub at: Duration,
}

/// Why the main TLS handshake failed.
#[derive(Clone, Debug)]
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

/// The server's TLS certificate and how it compares with the target.
#[derive(Clone, Debug)]
pub struct ServerCertificate {
    pub facts: CertFacts,
    pub chain_length: usize,
    /// A commonName or DNS SAN names the target.
    pub name_matches: bool,
}

/// The server's first TSRequest, and when the probe judged its clock.
#[derive(Clone, Debug)]
pub struct CredsspFacts {
    pub ts: TsRequestFacts,
    pub now: i64,
}

impl CredsspFacts {
    /// The server's clock minus ours, in seconds (from the CHALLENGE's timestamp).
    pub fn clock_skew_s(&self) -> Option<i64> {
        let t = self.ts.challenge.as_ref()?.timestamp?;
        Some(t - self.now)
    }
}

/// CredSSP with `--user`: the user as given (never the password) and how it ended.
#[derive(Clone, Debug)]
pub struct AuthFacts {
    pub user: String,
    /// NTLM or Kerberos: what CredSSP used.
    pub mechanism: crate::facts::credssp::Mechanism,
    /// Why NTLM when `--auth auto` could have used Kerberos (an IP address, no KDC, no SPN).
    pub fallback_reason: Option<String>,
    pub outcome: AuthOutcome,
}

/// Encryption methods offered in a Connect-Initial: each alone when enumerating, else what
/// mstsc offers (40, 56, 128-bit and FIPS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodOffer(pub EncryptionMethods);

impl MethodOffer {
    /// Each method alone, when enumerating.
    pub const EACH: [Self; 5] = [
        Self(EncryptionMethods::empty()),
        Self(EncryptionMethods::ENCRYPTION_METHOD_40BIT),
        Self(EncryptionMethods::ENCRYPTION_METHOD_56BIT),
        Self(EncryptionMethods::ENCRYPTION_METHOD_128BIT),
        Self(EncryptionMethods::ENCRYPTION_METHOD_FIPS),
    ];

    /// What mstsc offers.
    pub const MSTSC: Self = Self(EncryptionMethods::from_bits_retain(0x1B));

    /// Its key in `rdp_security.answers`: the method's name, `all` for several.
    pub fn name(self) -> String {
        if self.0.bits().count_ones() > 1 {
            "all".to_owned()
        } else {
            method_name(self.0)
        }
    }
}

/// The server's answer to one offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodAnswer {
    /// The Connect-Response's Server Security Data chose this method.
    Chose(EncryptionMethods),
    /// A Connect-Response without Server Security Data.
    NoSecurityData,
    /// No Connection Confirm to send the Connect-Initial on.
    NoConfirm,
    /// The connection closed before the Connect-Initial went out.
    Closed,
    /// No Connect-Response: why.
    Failed(String),
    /// Not tried: the target's time ran out.
    Skipped,
}

impl MethodAnswer {
    /// The words in `rdp_security.answers`.
    pub fn describe(&self) -> String {
        match self {
            Self::Chose(m) => method_name(*m),
            Self::NoSecurityData => "no Server Security Data".into(),
            Self::NoConfirm => "no Connection Confirm".into(),
            Self::Closed => "closed".into(),
            Self::Failed(why) => why.clone(),
            Self::Skipped => SKIPPED.into(),
        }
    }
}

/// What the Connect-Initial attempts of Standard RDP Security found.
#[derive(Clone, Debug, Default)]
pub struct RdpSecurityFacts {
    /// Each offer and its answer, in the order tried.
    pub answers: Vec<(MethodOffer, MethodAnswer)>,
    /// Methods the server accepted, in the order found.
    pub accepted: Vec<EncryptionMethods>,
    /// From the first Connect-Response that said.
    pub version: Option<RdpVersion>,
    pub level: Option<EncryptionLevel>,
    pub certificate: Option<CertKind>,
    pub rsa_bits: Option<u32>,
    /// The X.509 chain of the first answer with one.
    pub x509: Vec<Vec<u8>>,
    /// At least one Connect-Response came back.
    pub any: bool,
}

impl RdpSecurityFacts {
    /// The answer to `offer`: a Connect-Response's Server Security Data, or why none.
    pub fn answer(
        &mut self,
        offer: MethodOffer,
        cr: Result<super::gcc::ConnectResponseFacts, String>,
    ) {
        let cr = match cr {
            Ok(cr) => cr,
            Err(why) => {
                self.answers.push((offer, MethodAnswer::Failed(why)));
                return;
            }
        };
        self.any = true;
        self.version = self.version.or(cr.version);
        let Some(sec) = cr.security else {
            self.answers.push((offer, MethodAnswer::NoSecurityData));
            return;
        };
        self.answers.push((offer, MethodAnswer::Chose(sec.method)));
        let offered = offer.0;
        let accepted = if offered.bits().count_ones() > 1 {
            // Several offered: the one the server chose is accepted.
            sec.method.intersects(offered)
        } else {
            // "none" with a level above NONE is a server that encrypts anyway.
            sec.method == offered
                && !(offered.is_empty() && sec.level != EncryptionLevel::ENCRYPTION_LEVEL_NONE)
        };
        if accepted {
            self.accepted.push(sec.method);
        }
        self.level = self.level.or(Some(sec.level));
        self.certificate = self.certificate.or(sec.certificate);
        self.rsa_bits = self.rsa_bits.or(sec.rsa_bits);
        if self.x509.is_empty() {
            self.x509 = sec.x509_chain;
        }
    }

    /// Nothing was tried: every attempt was skipped for lack of time.
    pub fn all_skipped(&self) -> bool {
        !self.any
            && self
                .answers
                .iter()
                .all(|(_, a)| *a == MethodAnswer::Skipped)
    }

    /// The answers by offer name, as the JSON lists them.
    pub fn answers_by_name(&self) -> BTreeMap<String, String> {
        self.answers
            .iter()
            .map(|(o, a)| (o.name(), a.describe()))
            .collect()
    }
}
