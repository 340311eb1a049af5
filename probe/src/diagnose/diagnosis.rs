//! From findings to one sentence a help desk can act on: what happens to an ordinary client,
//! why, and the one fix to try first (`diagnosis: {headline, primary_finding, stage}` in the
//! JSON, the first line of each text result). Both fronts call [`diagnose`].
//!
//! The primary finding is chosen by [`rank`], which puts a cause before its symptoms: an error
//! that names a cause (a refused port, a denied session, a wrong password) before the transport
//! errors that only say the connection ended (a reset, a close, silence), those before the
//! warnings a user of the client meets (a patched client refusing an unpatched CredSSP, a
//! certificate prompt, loss), and those before posture warnings (NLA not required, TLS 1.0
//! enabled). Within a class the catalogue order decides, which is the timeline order: a refused
//! port outranks everything after it.

use rdp_proto::nego::SecurityProtocol;
use serde::Serialize;

use super::mstsc::MstscView;
use super::{Finding, FindingId, Severity, Stage};

/// The diagnosis of one target or connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Diagnosis {
    /// One sentence: what happens to an ordinary client, why, and the fix to try first.
    pub headline: String,
    /// The finding the headline is about (null: nothing to fix).
    pub primary_finding: Option<FindingId>,
    /// The stage where it arises (null: nothing to fix).
    pub stage: Option<Stage>,
}

/// What a diagnosis is built from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome<'a> {
    pub findings: &'a [Finding],
    pub stopped_at: Option<Stage>,
    /// The last stage that completed.
    pub reached: Option<Stage>,
    /// The security layer selected for mstsc's request.
    pub layer: Option<SecurityProtocol>,
    /// The server refuses every request without CredSSP.
    pub nla_required: Option<bool>,
    pub mstsc: Option<&'a MstscView>,
    /// An NLA server probed without credentials: the walk stopped after the NTLM CHALLENGE,
    /// by design.
    pub no_credentials: bool,
    /// A capture (what happened to this client) rather than a probe (what happens to any).
    pub passive: bool,
    /// Through an RD Gateway (`--gateway`).
    pub gateway: bool,
}

/// The class of a finding in the ranking (lower comes first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// An error that names its cause.
    Cause,
    /// A warning that explains an error elsewhere (a middlebox's reset).
    Explains,
    /// An error that only says the connection ended.
    Symptom,
    /// A warning an ordinary client's user meets.
    ClientVisible,
    /// What only clients that ask for one protocol meet (mstsc asks for several).
    FewClients,
    /// A warning about the server's security posture: clients connect.
    Posture,
    /// Information: never the headline.
    Info,
}

/// What a finding is, whatever its severity: the ranking's view of the catalogue (a total
/// match: a new finding must be placed here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Names a cause when it is an error.
    Cause,
    /// Says only that the connection ended (a reset, a close, silence).
    Symptom,
    /// A middlebox or another host behind the name: explains an error elsewhere.
    Explains,
    /// What an ordinary client's user meets.
    ClientVisible,
    /// What only clients that insist on one protocol meet.
    FewClients,
    /// The server's security posture.
    Posture,
}

fn role(id: FindingId) -> Role {
    use FindingId as I;
    match id {
        I::NegProtocolNotRequested => Role::FewClients,
        I::ClosedByServer
        | I::ResetByServer
        | I::ResetByClient
        | I::ServerSilent
        | I::CredsspFailed
        | I::CredsspAbandoned
        | I::ServerErrorInfo
        | I::InternalError => Role::Symptom,
        I::InjectedReset | I::WrongHost => Role::Explains,
        I::CredsspUnpatched
        | I::CertNameMismatch
        | I::CertNotYetValid
        | I::CertExpired
        | I::DnsMultipleAddresses
        | I::PacketLoss
        | I::ZeroWindow
        | I::PasswordSpray
        | I::BruteForce
        | I::ProbeTimeout
        | I::ClockSkew
        | I::SessionReplaced
        | I::SessionTimeLimit
        | I::ServerShuttingDown
        | I::LegacyNoNegotiation
        | I::Redirected => Role::ClientVisible,
        I::NlaNotRequired
        | I::RdpSecurityAllowed
        | I::WeakRdpEncryption
        | I::TlsLegacyEnabled
        | I::CertSelfSigned
        | I::CertWeak
        | I::RestrictedAdminSupported => Role::Posture,
        I::GatewayUnreachable
        | I::GatewayTlsFailed
        | I::GatewayCertInvalid
        | I::GatewayUnavailable
        | I::GatewayHttpTransportDisabled
        | I::GatewayMethodsBlocked
        | I::GatewayAuthFailed
        | I::GatewayAccountRestricted
        | I::GatewayPolicyDenied
        | I::GatewayResourceDenied
        | I::GatewayTargetUnreachable
        | I::GatewayRefused
        | I::DnsUnresolved
        | I::TcpRefused
        | I::TcpTimeout
        | I::TcpUnreachable
        | I::SynUnanswered
        | I::X224NoResponse
        | I::X224Closed
        | I::X224Malformed
        | I::NotRdp
        | I::NegSslRequired
        | I::NegSslNotAllowed
        | I::NegSslCertNotOnServer
        | I::NegInconsistentFlags
        | I::NegHybridRequired
        | I::NegSslWithUserAuthRequired
        | I::TlsLegacyOnly
        | I::TlsHandshakeFailed
        | I::ServerDeniedConnection
        | I::InsufficientPrivileges
        | I::FreshCredentialsRequired
        | I::ServerResources
        | I::BrokerError
        | I::KerberosPreauthFailed
        | I::KerberosClientUnknown
        | I::KerberosClientRevoked
        | I::KerberosPasswordExpired
        | I::KerberosClockSkew
        | I::KerberosSpnUnknown
        | I::KerberosError
        | I::KdcUnreachable
        | I::KerberosTicketRejected
        | I::NtlmRefused
        | I::LogonFailure
        | I::AccountLocked
        | I::AccountDisabled
        | I::PasswordExpired
        | I::LogonRestricted
        | I::NoLogonServers
        | I::UserNotAuthorized
        | I::AuthFailed
        | I::LicensingError => Role::Cause,
    }
}

/// The class of a finding: its role, with its severity (an error that names a cause, a
/// symptom, information that is never the headline).
fn class(f: &Finding) -> Class {
    match (role(f.id), f.severity) {
        (Role::FewClients, _) => Class::FewClients,
        (_, Severity::Info) if f.id != FindingId::Redirected => Class::Info,
        (Role::Symptom, Severity::Error) => Class::Symptom,
        // A connection that ended in CredSSP without a refusal seen: still what ended it.
        (Role::Symptom, Severity::Warning)
            if matches!(f.id, FindingId::CredsspFailed | FindingId::CredsspAbandoned) =>
        {
            Class::Symptom
        }
        (_, Severity::Error) => Class::Cause,
        (Role::Explains, _) => Class::Explains,
        (Role::ClientVisible, _) => Class::ClientVisible,
        (Role::Cause | Role::Symptom | Role::Posture, _) => Class::Posture,
    }
}

/// Whether a finding is what ended the connection: an error (or the middlebox's reset) at the
/// stage where it stopped, or one without a stage of its own (a reset, a close, silence).
fn stopped_it(f: &Finding, o: &Outcome) -> bool {
    let Some(stopped) = o.stopped_at else {
        return false;
    };
    matches!(class(f), Class::Cause | Class::Explains | Class::Symptom)
        && typical_stage(f.id).is_none_or(|s| {
            // The probe asks the KDC in a stage of its own, just before CredSSP.
            s == stopped || (s == Stage::Credssp && stopped == Stage::Kerberos)
        })
}

/// The ranking key of a finding: what ended the connection first, then class, then catalogue
/// (timeline) order.
fn rank(f: &Finding, o: &Outcome) -> (bool, Class, FindingId) {
    (!stopped_it(f, o), class(f), f.id)
}

/// The stage where a finding usually arises, for findings that do not stop the connection.
fn typical_stage(id: FindingId) -> Option<Stage> {
    use FindingId as I;
    Some(match id {
        I::GatewayTlsFailed | I::GatewayCertInvalid => Stage::GatewayTls,
        I::GatewayHttpTransportDisabled | I::GatewayMethodsBlocked => Stage::GatewayHttp,
        I::GatewayAuthFailed | I::GatewayAccountRestricted => Stage::GatewayAuth,
        I::GatewayPolicyDenied => Stage::GatewayTunnel,
        I::GatewayResourceDenied | I::GatewayTargetUnreachable => Stage::GatewayChannel,
        I::DnsUnresolved | I::DnsMultipleAddresses | I::WrongHost => Stage::Dns,
        I::TcpRefused | I::TcpTimeout | I::TcpUnreachable | I::SynUnanswered => Stage::Tcp,
        I::X224NoResponse
        | I::X224Closed
        | I::X224Malformed
        | I::NotRdp
        | I::NegSslRequired
        | I::NegSslNotAllowed
        | I::NegSslCertNotOnServer
        | I::NegInconsistentFlags
        | I::NegHybridRequired
        | I::NegSslWithUserAuthRequired
        | I::NegProtocolNotRequested
        | I::LegacyNoNegotiation
        | I::NlaNotRequired
        | I::RdpSecurityAllowed => Stage::X224,
        I::WeakRdpEncryption => Stage::Mcs,
        I::TlsLegacyOnly
        | I::TlsLegacyEnabled
        | I::TlsHandshakeFailed
        | I::CertExpired
        | I::CertNotYetValid
        | I::CertNameMismatch
        | I::CertSelfSigned
        | I::CertWeak => Stage::Tls,
        I::CredsspUnpatched
        | I::CredsspFailed
        | I::CredsspAbandoned
        | I::ClockSkew
        | I::RestrictedAdminSupported
        | I::KerberosPreauthFailed
        | I::KerberosClientUnknown
        | I::KerberosClientRevoked
        | I::KerberosPasswordExpired
        | I::KerberosClockSkew
        | I::KerberosSpnUnknown
        | I::KerberosError
        | I::KdcUnreachable
        | I::KerberosTicketRejected
        | I::NtlmRefused
        | I::LogonFailure
        | I::AccountLocked
        | I::AccountDisabled
        | I::PasswordExpired
        | I::LogonRestricted
        | I::NoLogonServers
        | I::UserNotAuthorized
        | I::AuthFailed => Stage::Credssp,
        I::Redirected => Stage::Capabilities,
        // Wherever they happen.
        I::GatewayUnreachable
        | I::GatewayUnavailable
        | I::GatewayRefused
        | I::ServerErrorInfo
        | I::ServerDeniedConnection
        | I::InsufficientPrivileges
        | I::FreshCredentialsRequired
        | I::SessionReplaced
        | I::SessionTimeLimit
        | I::ServerShuttingDown
        | I::ServerResources
        | I::BrokerError
        | I::LicensingError
        | I::PacketLoss
        | I::ClosedByServer
        | I::ServerSilent
        | I::ResetByServer
        | I::ResetByClient
        | I::InjectedReset
        | I::ProbeTimeout
        | I::InternalError
        | I::ZeroWindow
        | I::PasswordSpray
        | I::BruteForce => return None,
    })
}

/// What a client meets because of a finding that does not stop the connection.
fn client_effect(id: FindingId) -> &'static str {
    use FindingId as I;
    match id {
        I::CredsspUnpatched => {
            "clients updated since May 2018 refuse to connect (\"CredSSP encryption oracle remediation\")"
        }
        I::CertNameMismatch | I::CertExpired | I::CertNotYetValid => {
            "clients connect only after a certificate warning"
        }
        I::DnsMultipleAddresses | I::PacketLoss | I::ZeroWindow | I::ProbeTimeout => {
            "clients may connect, but not reliably"
        }
        I::ClockSkew => "NTLM clients connect, Kerberos logons fail",
        I::PasswordSpray | I::BruteForce => "accounts tried may lock out; one that logs on is taken",
        I::SessionReplaced | I::SessionTimeLimit | I::ServerShuttingDown => {
            "the session is ended by the server"
        }
        I::Redirected => "clients are sent to another host",
        I::WrongHost => "clients reach another machine than the one named",
        I::NegProtocolNotRequested => "clients that insist on the protocol they asked for abort",
        I::TlsLegacyOnly => {
            "clients that refuse TLS 1.0/1.1 (FreeRDP on OpenSSL 3, hardened Windows) fail"
        }
        I::TlsHandshakeFailed => "some clients fail the TLS handshake",
        I::LegacyNoNegotiation => "only clients that still allow Standard RDP Security connect",
        I::GatewayCertInvalid => "mstsc refuses the gateway's certificate and does not connect",
        I::GatewayUnreachable
        | I::GatewayTlsFailed
        | I::GatewayUnavailable
        | I::GatewayHttpTransportDisabled
        | I::GatewayMethodsBlocked
        | I::GatewayAuthFailed
        | I::GatewayAccountRestricted
        | I::GatewayPolicyDenied
        | I::GatewayResourceDenied
        | I::GatewayTargetUnreachable
        | I::GatewayRefused
        | I::DnsUnresolved
        | I::TcpRefused
        | I::TcpTimeout
        | I::TcpUnreachable
        | I::SynUnanswered
        | I::X224NoResponse
        | I::X224Closed
        | I::X224Malformed
        | I::NotRdp
        | I::NegSslRequired
        | I::NegSslNotAllowed
        | I::NegSslCertNotOnServer
        | I::NegInconsistentFlags
        | I::NegHybridRequired
        | I::NegSslWithUserAuthRequired
        | I::NlaNotRequired
        | I::RdpSecurityAllowed
        | I::WeakRdpEncryption
        | I::TlsLegacyEnabled
        | I::CertSelfSigned
        | I::CertWeak
        | I::CredsspFailed
        | I::CredsspAbandoned
        | I::RestrictedAdminSupported
        | I::ServerErrorInfo
        | I::ServerDeniedConnection
        | I::InsufficientPrivileges
        | I::FreshCredentialsRequired
        | I::ServerResources
        | I::BrokerError
        | I::KerberosPreauthFailed
        | I::KerberosClientUnknown
        | I::KerberosClientRevoked
        | I::KerberosPasswordExpired
        | I::KerberosClockSkew
        | I::KerberosSpnUnknown
        | I::KerberosError
        | I::KdcUnreachable
        | I::KerberosTicketRejected
        | I::NtlmRefused
        | I::LogonFailure
        | I::AccountLocked
        | I::AccountDisabled
        | I::PasswordExpired
        | I::LogonRestricted
        | I::NoLogonServers
        | I::UserNotAuthorized
        | I::AuthFailed
        | I::LicensingError
        | I::ClosedByServer
        | I::ServerSilent
        | I::ResetByServer
        | I::ResetByClient
        | I::InjectedReset
        | I::InternalError => "an ordinary client connects",
    }
}

/// How far the server was reached and with what, for the headline's lead ("Reachable, NLA
/// required"; in a capture only the layer: "TLS without NLA").
fn lead(o: &Outcome) -> String {
    let layer = match (o.layer, o.nla_required) {
        (Some(p), Some(true)) if p.is_nla() => Some("NLA required"),
        (Some(p), _) if p.is_nla() => Some("NLA"),
        (Some(SecurityProtocol::SSL), _) => Some("TLS without NLA"),
        (Some(SecurityProtocol::RDP), _) => Some("Standard RDP Security"),
        _ => None,
    };
    match (o.passive, layer) {
        (false, Some(l)) if o.gateway => format!("Through the RD Gateway, {l}"),
        (false, None) if o.gateway => "Through the RD Gateway".into(),
        (false, Some(l)) => format!("Reachable, {l}"),
        (false, None) => "Reachable".into(),
        (true, Some(l)) if o.gateway => format!("RD Gateway, {l}"),
        (true, None) if o.gateway => "RD Gateway".into(),
        (true, Some(l)) => l.into(),
        (true, None) => "RDP".into(),
    }
}

/// `(mstsc shows 0x904 / 0x7)`, unless the summary already says it.
fn mstsc_note(o: &Outcome, summary: &str) -> String {
    let Some(v) = o.mstsc else {
        return String::new();
    };
    let code = match (&v.disconnect_reason, &v.extended_reason) {
        (Some(d), Some(e)) => format!("{d} / {e}"),
        (Some(d), None) => d.clone(),
        _ => return String::new(),
    };
    if summary.contains(code.as_str()) || summary.contains("mstsc") {
        return String::new();
    }
    format!(" (mstsc shows {code})")
}

/// The diagnosis of an outcome.
pub fn diagnose(o: &Outcome) -> Diagnosis {
    let primary = o
        .findings
        .iter()
        .filter(|f| class(f) != Class::Info)
        .min_by_key(|f| rank(f, o));
    let Some(f) = primary else {
        let reached = o
            .reached
            .map(|s| format!(" (reached {s})"))
            .unwrap_or_default();
        let headline = if o.no_credentials {
            format!(
                "{}: an ordinary client gets as far as the credential check (run with --user to test the logon); nothing to fix before it",
                lead(o)
            )
        } else if o.passive {
            format!("{}{reached}: nothing to fix", lead(o))
        } else {
            format!(
                "{}: an ordinary client connects{reached}; nothing to fix",
                lead(o)
            )
        };
        return Diagnosis {
            headline,
            primary_finding: None,
            stage: None,
        };
    };
    let stage = match (typical_stage(f.id), o.stopped_at) {
        // The probe's KDC exchange is a stage of its own, before CredSSP.
        (Some(Stage::Credssp), Some(Stage::Kerberos)) => Some(Stage::Kerberos),
        (t, s) => t.or(s),
    };
    // An NTLM refusal tells why NTLM was used (the Kerberos path that failed, or why none).
    let why_ntlm = f
        .evidence
        .split_once("; NTLM was used because ")
        .map(|(_, why)| format!(" (NTLM was used because {why})"))
        .unwrap_or_default();
    let summary = format!("{}{why_ntlm}", f.summary);
    let (summary, remediation) = (summary.as_str(), f.remediation);
    let headline = if stopped_it(f, o) {
        let note = mstsc_note(o, summary);
        let at = stage.map(|s| s.as_str()).unwrap_or("the start");
        match (o.passive, stage) {
            (false, Some(Stage::Dns | Stage::Tcp)) => {
                format!("Not reachable: {summary}{note}: {remediation}")
            }
            (false, _) if matches!(o.stopped_at, Some(Stage::GatewayDns | Stage::GatewayTcp)) => {
                format!("RD Gateway not reachable: {summary}{note}: {remediation}")
            }
            (true, Some(Stage::Dns | Stage::Tcp)) => {
                format!("Failed at {at}: {summary}{note}: {remediation}")
            }
            _ => format!(
                "{} — fails at {at}: {summary}{note}: {remediation}",
                lead(o)
            ),
        }
    } else if class(f) == Class::Posture {
        format!(
            "{}: {}, but {summary}: {remediation}",
            lead(o),
            client_effect(f.id)
        )
    } else {
        format!(
            "{}: {} because {summary}: {remediation}",
            lead(o),
            client_effect(f.id)
        )
    };
    Diagnosis {
        headline,
        primary_finding: Some(f.id),
        stage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{finding, mstsc};

    fn d(findings: &[Finding], stopped_at: Option<Stage>, layer: &str) -> Diagnosis {
        let layer = match layer {
            "hybrid" => Some(SecurityProtocol::HYBRID),
            "ssl" => Some(SecurityProtocol::SSL),
            "rdp" => Some(SecurityProtocol::RDP),
            _ => None,
        };
        let view = mstsc::view(findings, stopped_at.is_some(), None);
        diagnose(&Outcome {
            findings,
            stopped_at,
            reached: Some(Stage::Active),
            layer,
            nla_required: Some(layer.is_some_and(SecurityProtocol::is_nla)),
            mstsc: view.as_ref(),
            ..Outcome::default()
        })
    }

    #[test]
    fn a_refused_port_outranks_everything_after_it() {
        let x = d(
            &[
                finding(FindingId::CertSelfSigned, ""),
                finding(FindingId::ResetByServer, ""),
                finding(FindingId::TcpRefused, ""),
            ],
            Some(Stage::Tcp),
            "",
        );
        assert_eq!(x.primary_finding, Some(FindingId::TcpRefused));
        assert_eq!(x.stage, Some(Stage::Tcp));
        assert!(x.headline.starts_with("Not reachable: the server refused"));
        assert!(x.headline.contains("mstsc shows 0x204"), "{}", x.headline);
    }

    #[test]
    fn a_denied_session_outranks_a_self_signed_certificate_and_posture() {
        let fs = [
            finding(FindingId::CertSelfSigned, ""),
            finding(FindingId::NlaNotRequired, ""),
            finding(FindingId::ServerDeniedConnection, ""),
        ];
        let view = mstsc::view(&fs, true, Some(7));
        let x = diagnose(&Outcome {
            findings: &fs,
            stopped_at: Some(Stage::Capabilities),
            layer: Some(SecurityProtocol::HYBRID),
            nla_required: Some(true),
            mstsc: view.as_ref(),
            ..Outcome::default()
        });
        assert_eq!(x.primary_finding, Some(FindingId::ServerDeniedConnection));
        assert_eq!(x.stage, Some(Stage::Capabilities));
        assert!(
            x.headline.starts_with(
                "Reachable, NLA required — fails at capabilities: the server denied the connection"
            ),
            "{}",
            x.headline
        );
        assert!(x.headline.contains("0x904 / extended 0x7"));
        assert!(
            !x.headline.contains("mstsc shows"),
            "said once: {}",
            x.headline
        );
    }

    #[test]
    fn a_cause_outranks_the_reset_it_explains() {
        let x = d(
            &[
                finding(FindingId::ResetByServer, ""),
                finding(FindingId::InjectedReset, ""),
            ],
            Some(Stage::Tls),
            "ssl",
        );
        assert_eq!(x.primary_finding, Some(FindingId::InjectedReset));
        let x = d(
            &[
                finding(FindingId::ClosedByServer, ""),
                finding(FindingId::LogonFailure, ""),
            ],
            Some(Stage::Credssp),
            "hybrid",
        );
        assert_eq!(x.primary_finding, Some(FindingId::LogonFailure));
    }

    #[test]
    fn warnings_say_what_the_client_meets() {
        let x = d(
            &[
                finding(FindingId::TlsLegacyEnabled, ""),
                finding(FindingId::CredsspUnpatched, ""),
            ],
            None,
            "hybrid",
        );
        assert_eq!(x.primary_finding, Some(FindingId::CredsspUnpatched));
        assert_eq!(x.stage, Some(Stage::Credssp));
        assert!(x.headline.contains("refuse to connect"), "{}", x.headline);
        let x = d(&[finding(FindingId::NlaNotRequired, "")], None, "ssl");
        assert!(
            x.headline
                .starts_with("Reachable, TLS without NLA: an ordinary client connects, but"),
            "{}",
            x.headline
        );
    }

    #[test]
    fn nothing_to_fix() {
        let x = d(&[finding(FindingId::CertSelfSigned, "")], None, "hybrid");
        assert_eq!(x.primary_finding, None);
        assert_eq!(x.stage, None);
        assert!(x.headline.ends_with("nothing to fix"), "{}", x.headline);
        let x = diagnose(&Outcome {
            layer: Some(SecurityProtocol::HYBRID),
            nla_required: Some(true),
            no_credentials: true,
            ..Outcome::default()
        });
        assert!(x.headline.contains("--user"), "{}", x.headline);
    }
}
