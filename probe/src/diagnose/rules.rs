//! ONE rule set from facts to findings, called by the active probe and the capture analyzer
//! alike (ARCHITECTURE.md, "One rule per finding"). Each function is the only place that raises
//! its finding ids; the evidence names what was seen. Rules that only one front can observe
//! (TCP resets and loss in a capture, enumeration results in a probe) sit in the fronts' own
//! rule modules beside this one.

use crate::facts::rdp::Side;
use rdp_proto::gcc::{EncryptionLevel, EncryptionMethods};
use rdp_proto::licensing::{LicenseErrorCode, StateTransition};
use rdp_proto::nego::{FailureCode, NegResponseFlags, SecurityProtocol};
use rdp_proto::slowpath::ErrorInfo;
use rdp_proto::tls::Alert;

pub(crate) use super::finding;
use super::{Finding, FindingId, Stage};
use crate::facts::cert::CertFacts;
use crate::facts::gcc::{is_weak_level, is_weak_method, method_name};
use crate::facts::session::RedirectFacts;
use crate::facts::x224::{protocol_names, Answer, Confirm};

/// The finding id for an RDP_NEG_FAILURE code (MS-RDPBCGR 2.2.1.2.2).
pub fn negotiation_failure_id(code: FailureCode) -> FindingId {
    match code.0 {
        1 => FindingId::NegSslRequired,
        2 => FindingId::NegSslNotAllowed,
        3 => FindingId::NegSslCertNotOnServer,
        4 => FindingId::NegInconsistentFlags,
        5 => FindingId::NegHybridRequired,
        6 => FindingId::NegSslWithUserAuthRequired,
        _ => FindingId::X224Closed,
    }
}

/// `neg-*`: the server refused the request with RDP_NEG_FAILURE.
pub fn negotiation_failure(code: FailureCode, requested: Option<SecurityProtocol>) -> Finding {
    let to = requested.map_or_else(String::new, |r| {
        format!(" to {}", protocol_names(r).to_uppercase())
    });
    finding(
        negotiation_failure_id(code),
        format!("RDP_NEG_FAILURE {code}{to}"),
    )
}

/// `neg-protocol-not-requested`: the selection is outside the request (Standard RDP Security
/// to a client that asked for TLS or CredSSP counts).
pub fn protocol_not_requested(
    requested: SecurityProtocol,
    selected: SecurityProtocol,
) -> Option<Finding> {
    let outside = if selected.is_empty() {
        !requested.is_empty()
    } else {
        !requested.contains(selected)
    };
    outside.then(|| {
        finding(
            FindingId::NegProtocolNotRequested,
            format!(
                "requested {}, selected {}",
                protocol_names(requested),
                protocol_names(selected)
            ),
        )
    })
}

/// `restricted-admin-supported`: the RDP_NEG_RSP flag.
pub fn restricted_admin(flags: NegResponseFlags) -> Option<Finding> {
    flags
        .contains(NegResponseFlags::RESTRICTED_ADMIN_MODE_SUPPORTED)
        .then(|| {
            finding(
                FindingId::RestrictedAdminSupported,
                "RDP_NEG_RSP flag RESTRICTED_ADMIN_MODE_SUPPORTED",
            )
        })
}

/// `legacy-no-negotiation`: a Connection Confirm without RDP_NEG_RSP.
pub fn legacy_no_negotiation(c: &Confirm) -> Option<Finding> {
    c.is_legacy().then(|| {
        finding(
            FindingId::LegacyNoNegotiation,
            "Connection Confirm without RDP_NEG_RSP",
        )
    })
}

/// `x224-malformed`: a negotiation structure that breaks the spec.
pub fn malformed_confirm(c: &Confirm) -> Option<Finding> {
    c.malformed().map(|m| finding(FindingId::X224Malformed, m))
}

/// The findings one Connection Confirm raises by itself, as the answer to `requested` (None:
/// a request without negotiation data), in this order: a malformed negotiation length, Restricted
/// Admin supported, a legacy server, a selection outside the request. Both fronts compose them
/// here; the second value says whether the Confirm stops the connection at x224 (malformed).
pub fn confirm(c: &Confirm, requested: Option<SecurityProtocol>) -> (Vec<Finding>, bool) {
    let malformed = malformed_confirm(c);
    let stops = malformed.is_some();
    let selected = match c.answer {
        Answer::Selected { protocol, .. } => Some(protocol),
        Answer::Failure(_) | Answer::Legacy => None,
    };
    let not_requested = match (requested, selected) {
        (Some(r), Some(s)) => protocol_not_requested(r, s),
        _ => None,
    };
    let findings = malformed
        .into_iter()
        .chain(restricted_admin(c.flags()))
        .chain(legacy_no_negotiation(c))
        .chain(not_requested)
        .collect();
    (findings, stops)
}

/// The security layers a client gets without CredSSP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenLayers {
    /// Standard RDP Security (PROTOCOL_RDP, or a legacy Confirm).
    pub rdp: bool,
    /// Only a client without negotiation gets Standard RDP Security.
    pub rdp_only_legacy: bool,
    /// TLS without CredSSP (PROTOCOL_SSL).
    pub ssl: bool,
}

/// `nla-not-required` and `rdp-security-allowed`: a session without Network Level
/// Authentication is possible. RDSTLS and RDSAAD authenticate before the session, so they do
/// not count.
pub fn open_layers(l: OpenLayers) -> Vec<Finding> {
    let mut out = Vec::new();
    if l.rdp || l.ssl {
        let which = [
            (l.rdp, "Standard RDP Security"),
            (l.ssl, "TLS without CredSSP"),
        ]
        .iter()
        .filter(|x| x.0)
        .map(|x| x.1)
        .collect::<Vec<_>>()
        .join(" and ");
        out.push(finding(
            FindingId::NlaNotRequired,
            format!("the server accepts {which}"),
        ));
    }
    if l.rdp {
        out.push(finding(
            FindingId::RdpSecurityAllowed,
            if l.rdp_only_legacy {
                "a client without negotiation gets Standard RDP Security"
            } else {
                "PROTOCOL_RDP accepted"
            },
        ));
    }
    out
}

/// `weak-rdp-encryption`: an accepted method without encryption or with an export-grade key, or
/// a level that leaves server traffic in clear.
pub fn weak_rdp_encryption(
    accepted: &[EncryptionMethods],
    level: Option<EncryptionLevel>,
) -> Option<Finding> {
    let weak: Vec<String> = accepted
        .iter()
        .filter(|m| is_weak_method(**m))
        .map(|m| method_name(*m))
        .collect();
    let weak_level = level.is_some_and(is_weak_level);
    (!weak.is_empty() || weak_level).then(|| {
        let methods = if weak.is_empty() {
            accepted.iter().map(|m| method_name(*m)).collect()
        } else {
            weak
        };
        finding(
            FindingId::WeakRdpEncryption,
            format!(
                "accepted {}; level {}",
                methods.join(","),
                level.map_or_else(|| "?".to_owned(), |l| l.to_string())
            ),
        )
    })
}

/// `cert-weak` for Standard RDP Security's proprietary certificate: an RSA key under 2048 bits.
pub fn weak_proprietary_key(rsa_bits: Option<u32>) -> Option<Finding> {
    let bits = rsa_bits.filter(|b| *b < 2048)?;
    Some(finding(
        FindingId::CertWeak,
        format!("proprietary server certificate with a {bits}-bit RSA key"),
    ))
}

/// The certificate findings, judged at `now` (Unix seconds; `when` says which time that is):
/// expired, not yet valid, self-signed, weak key or signature.
pub fn certificate(c: &CertFacts, now: i64, when: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = format!("{} (serial {})", c.subject, c.serial);
    if c.expired_at(now) {
        out.push(finding(
            FindingId::CertExpired,
            format!(
                "{who} expired {} ({when})",
                crate::time::rfc3339(c.not_after)
            ),
        ));
    }
    if c.not_yet_valid_at(now) {
        out.push(finding(
            FindingId::CertNotYetValid,
            format!(
                "{who} valid from {} ({when})",
                crate::time::rfc3339(c.not_before)
            ),
        ));
    }
    if c.self_signed {
        out.push(finding(
            FindingId::CertSelfSigned,
            format!("{who} is its own issuer"),
        ));
    }
    if c.weak_key() || c.weak_signature() {
        out.push(finding(
            FindingId::CertWeak,
            format!(
                "{who}: {} {} bits, signed {}",
                c.key_type, c.key_bits, c.signature
            ),
        ));
    }
    out
}

/// `cert-name-mismatch`: the name the client connects to is not in the certificate.
pub fn certificate_name(c: &CertFacts, host: &str) -> Option<Finding> {
    (!c.matches_name(host)).then(|| {
        finding(
            FindingId::CertNameMismatch,
            format!("{host} is not in {} / {:?}", c.subject, c.sans),
        )
    })
}

/// `tls-handshake-failed`, with what the front saw.
pub fn tls_failed(evidence: String) -> Finding {
    finding(FindingId::TlsHandshakeFailed, evidence)
}

/// `tls-handshake-failed` by an alert during the handshake (`by`: "client" or "server").
pub fn tls_alert(by: Side, alert: &Alert) -> Finding {
    tls_failed(format!(
        "{by} sent alert {} {}",
        alert.level, alert.description
    ))
}

/// `credssp-failed`, with what the front saw. A client that gave up first (mstsc's "check
/// credentials, then reconnect", an abandoned attempt) makes it information.
pub fn credssp_failed(evidence: String, client_gave_up: bool) -> Finding {
    if client_gave_up {
        super::finding_with(FindingId::CredsspFailed, super::Severity::Info, evidence)
    } else {
        finding(FindingId::CredsspFailed, evidence)
    }
}

/// How CredSSP ended when the connection ended in it without a logon outcome: from the
/// decrypted TSRequests, or without keys from the record pattern ([`NlaGuess`]). `by` says who
/// ended the connection. Never silent: a refusal is an error (`auth-failed` after the
/// AUTHENTICATE, `credssp-failed` after the first message), a client that stopped before its
/// credentials a warning, mstsc's credential check before it reconnects information.
pub fn credssp_ended(guess: crate::facts::rdp::NlaGuess, by: &str, server_ended: bool) -> Finding {
    use super::Severity;
    use crate::facts::credssp::AuthStep;
    use crate::facts::rdp::NlaGuess as G;
    let how = |error_code: bool, after: &str| {
        if error_code {
            format!("the server answered {after} with a short TSRequest (an errorCode; the TLS key would name it)")
        } else {
            format!("the server closed the TLS session after {after}")
        }
    };
    match guess {
        G::Refused { step: AuthStep::Negotiate, error_code } => finding(
            FindingId::CredsspFailed,
            format!(
                "{} ({by}): NTLM refused by policy, an account NTLM may not use (Protected Users), or a Kerberos ticket refused",
                how(error_code, "the client's first CredSSP message (NTLM NEGOTIATE or Kerberos AP-REQ)")
            ),
        ),
        G::Refused { error_code, .. } => finding(
            FindingId::AuthFailed,
            format!(
                "{} ({by}): the credentials or the account were refused",
                how(error_code, "the client's NTLM AUTHENTICATE (the password check)")
            ),
        ),
        G::ClientStopped { messages } => finding(
            FindingId::CredsspAbandoned,
            format!("{by} during CredSSP: the client stopped after {messages} message(s)"),
        ),
        G::AcceptedThenClientLeft => super::finding_with(
            FindingId::CredsspFailed,
            Severity::Info,
            format!("the server accepted the AUTHENTICATE (its pubKeyAuth answer) and {by} before the credentials were sent: mstsc does so when it checks the credentials before connecting again"),
        ),
        G::CredentialsSent if server_ended => finding(
            FindingId::CredsspFailed,
            format!("{by} after the client sent its credentials (HYBRID_EX: the Early User Authorization Result may have refused the user)"),
        ),
        G::CredentialsSent => super::finding_with(
            FindingId::CredsspFailed,
            Severity::Warning,
            format!("{by} after the client sent its credentials, before MCS"),
        ),
        G::NotStarted if server_ended => finding(
            FindingId::CredsspFailed,
            format!("{by} after the TLS handshake, before any CredSSP message"),
        ),
        G::NotStarted => finding(
            FindingId::CredsspAbandoned,
            format!("{by} after the TLS handshake, before the client sent any CredSSP message"),
        ),
    }
}

/// The findings of a client's KRB-ERRORs (RFC 4120 7.5.9), one per code, client and
/// service, with how often and from which KDC. PREAUTH_REQUIRED is the normal first answer
/// (the client then proves its password), WRONG_REALM and RESPONSE_TOO_BIG make the client go
/// on: none is a finding. `ntlm_refused`: the RDP connection these belong to had its CredSSP
/// refused, so an unknown service principal (the client fell back to NTLM) is part of that
/// failure, an error. `went_on`: the connection got past CredSSP all the same (the client
/// logged on another way): at most a warning.
pub fn kerberos(
    events: &[crate::facts::kerberos::KrbEvent],
    ntlm_refused: bool,
    went_on: bool,
) -> Vec<Finding> {
    use crate::facts::kerberos::{KrbErrorCode as C, KrbMessage};
    use std::collections::BTreeMap;
    /// A refusal once per code, client and service: how often, the KDC, its e-text.
    struct Seen<'e> {
        n: u32,
        kdc: &'e str,
        text: Option<&'e str>,
    }
    let mut seen: BTreeMap<(C, String, String), Seen<'_>> = BTreeMap::new();
    for e in events {
        let KrbMessage::Error {
            code,
            client,
            service,
            text,
        } = &e.message
        else {
            continue;
        };
        if matches!(
            *code,
            C::PREAUTH_REQUIRED | C::WRONG_REALM | C::RESPONSE_TOO_BIG
        ) {
            continue;
        }
        let client = client.as_ref().map(|c| c.to_string()).unwrap_or_default();
        let entry = seen
            .entry((*code, client, service.to_string()))
            .or_insert(Seen {
                n: 0,
                kdc: e.kdc.as_str(),
                text: text.as_deref(),
            });
        entry.n += 1;
    }
    seen.into_iter()
        .map(|((code, client, service), Seen { n, kdc, text })| {
            let id = krb_error_finding_id(code).unwrap_or(FindingId::KerberosError);
            let who = if client.is_empty() {
                String::new()
            } else {
                format!(" to {client}")
            };
            let times = if n > 1 {
                format!(" ({n} times)")
            } else {
                String::new()
            };
            let text = text.map(|t| format!(": \"{t}\"")).unwrap_or_default();
            let mut evidence = format!(
                "the KDC {kdc} answered {code} ({}){who} for {service}{times}{text}",
                code.0
            );
            if id == FindingId::KerberosSpnUnknown && ntlm_refused {
                evidence.push_str("; the client fell back to NTLM, and the server refused it");
                return super::finding_with(id, super::Severity::Error, evidence);
            }
            let f = finding(id, evidence);
            if went_on && f.severity > super::Severity::Warning {
                return super::finding_with(id, super::Severity::Warning, f.evidence);
            }
            f
        })
        .collect()
}

/// The finding a KRB-ERROR code names (one table for the capture's and the probe's KDC
/// answers); None for the codes after which a client goes on (PREAUTH_REQUIRED, WRONG_REALM,
/// RESPONSE_TOO_BIG).
pub fn krb_error_finding_id(code: crate::facts::kerberos::KrbErrorCode) -> Option<FindingId> {
    use crate::facts::kerberos::KrbErrorCode as C;
    Some(match code {
        C::PREAUTH_REQUIRED | C::WRONG_REALM | C::RESPONSE_TOO_BIG => return None,
        C::PREAUTH_FAILED => FindingId::KerberosPreauthFailed,
        C::C_PRINCIPAL_UNKNOWN => FindingId::KerberosClientUnknown,
        C::CLIENT_REVOKED => FindingId::KerberosClientRevoked,
        C::KEY_EXPIRED => FindingId::KerberosPasswordExpired,
        C::SKEW => FindingId::KerberosClockSkew,
        C::S_PRINCIPAL_UNKNOWN => FindingId::KerberosSpnUnknown,
        _ => FindingId::KerberosError,
    })
}

/// The findings of the probe's own Kerberos logon (the `kerberos` stage): the KDC's refusal
/// by its code, the KDC out of reach, or an answer rdprobe could not use; with the KDC, the
/// principals and the clock difference as evidence.
pub fn kerberos_logon(k: &crate::facts::kerberos::KdcFacts) -> Vec<Finding> {
    use crate::facts::kerberos::KerberosFailure as F;
    let Some(failure) = &k.failure else {
        return Vec::new();
    };
    let kdc = k.kdc.as_deref().unwrap_or("no KDC");
    // The clock difference, when it matters (Kerberos allows 5 minutes).
    let skew = k
        .clock_skew_secs
        .filter(|s| s.abs() >= 60)
        .map(|s| format!("; the KDC's clock is {s:+} s from ours"))
        .unwrap_or_default();
    let (id, evidence) = match failure {
        F::Unreachable(why) => (
            FindingId::KdcUnreachable,
            format!("realm {}: {why}", k.realm),
        ),
        F::Kdc {
            code,
            request,
            text,
        } => {
            let id = krb_error_finding_id(*code).unwrap_or(FindingId::KerberosError);
            let text = text
                .as_ref()
                .map(|t| format!(": \"{t}\""))
                .unwrap_or_default();
            let what = match request {
                crate::facts::kerberos::KdcRequest::As => format!("for {}", k.client),
                crate::facts::kerberos::KdcRequest::Tgs => format!("for {}", k.service),
            };
            (
                id,
                format!(
                    "the KDC {kdc} answered the {} {what} with {code} ({}){text}{skew}",
                    request.as_str(),
                    code.0
                ),
            )
        }
        F::Malformed(why) => (FindingId::KerberosError, format!("the KDC {kdc}: {why}")),
    };
    vec![finding(id, evidence)]
}

/// `redirected` [info]: a Server Redirection during `stage`, its target named (never followed).
pub fn redirected(r: &RedirectFacts, stage: Stage) -> Finding {
    let mut evidence = format!(
        "Server Redirection during {stage} to {} (not followed)",
        r.target().unwrap_or("no target named")
    );
    for (what, v) in [
        ("address", &r.target_address),
        ("FQDN", &r.target_fqdn),
        ("NetBIOS name", &r.target_netbios),
        ("load-balance info", &r.load_balance_info),
    ] {
        if let Some(v) = v {
            evidence += &format!("; {what} {v:?}");
        }
    }
    if r.flags
        .contains(rdp_proto::redirection::RedirFlags::LB_NOREDIRECT)
    {
        evidence += "; LB_NOREDIRECT: reconnect to the same server with the load-balance info";
    }
    finding(FindingId::Redirected, evidence)
}

/// Whether a Set Error Info's finding stops the connection where it came: everything but the
/// information a user's own logoff or disconnect gives (both fronts decide with this).
pub fn error_info_stops(f: &Finding) -> bool {
    f.severity > super::Severity::Info
}

/// A Set Error Info (MS-RDPBCGR 2.2.5.1.1) received during `stage`, as the finding its code
/// family names: `server-denied-connection` (7), `insufficient-privileges` (9),
/// `fresh-credentials-required` (10), `session-replaced` (5), `session-time-limit` (3, 4),
/// `server-shutting-down` (25, 26), `server-resources` (6, 15..24), `licensing-error`
/// (0x100..0x10A, with the code's own remediation), `broker-error` (0x400..0x412); the rest
/// `server-error-info`: information for a user's own disconnect or logoff (11, 12), a warning
/// for an administrator's (1, 2), an error otherwise.
pub fn set_error_info(e: ErrorInfo, stage: Stage) -> Finding {
    let evidence = format!("Set Error Info 0x{:08x} {e} during {stage}", e.0);
    let id = match e.0 {
        0x7 => FindingId::ServerDeniedConnection,
        0x9 => FindingId::InsufficientPrivileges,
        0xA => FindingId::FreshCredentialsRequired,
        0x5 => FindingId::SessionReplaced,
        0x3 | 0x4 => FindingId::SessionTimeLimit,
        0x19 | 0x1A => FindingId::ServerShuttingDown,
        0x6 | 0xF..=0x18 => FindingId::ServerResources,
        0x100..=0x10A => {
            let f = finding(FindingId::LicensingError, evidence);
            return Finding {
                remediation: license_remediation(e.0).unwrap_or(f.remediation),
                ..f
            };
        }
        0x400..=0x412 => FindingId::BrokerError,
        0xB | 0xC => {
            return super::finding_with(FindingId::ServerErrorInfo, super::Severity::Info, evidence)
        }
        0x1 | 0x2 => {
            return super::finding_with(
                FindingId::ServerErrorInfo,
                super::Severity::Warning,
                evidence,
            )
        }
        _ => FindingId::ServerErrorInfo,
    };
    finding(id, evidence)
}

/// The remediation of a licensing Set Error Info code (MS-RDPBCGR 2.2.5.1.1, 0x100..0x10A).
fn license_remediation(code: u32) -> Option<&'static str> {
    Some(match code {
        0x101 => "no license server answers: check the RD Licensing server the host is set to use, and that it is running and reachable",
        0x102 => "no RDS CALs are left: add CALs, or check the licensing mode (per user / per device)",
        0x10A => "the host is not licensed for remote connections (the grace period is over): activate a license server and set the licensing mode",
        0x104 | 0x105 | 0x109 => "the client's stored license is damaged or cannot be upgraded: delete HKLM\\SOFTWARE\\Microsoft\\MSLicensing on the client and reconnect once as an administrator",
        0x100 | 0x103 | 0x106..=0x108 => "licensing did not finish (an internal or network error): retry; check the path between the host and its license server",
        _ => return None,
    })
}

/// `licensing-error`: a licensing error alert other than STATUS_VALID_CLIENT (MS-RDPELE
/// 2.2.2.7.1).
pub fn licensing(code: LicenseErrorCode, transition: StateTransition) -> Option<Finding> {
    (code != LicenseErrorCode::STATUS_VALID_CLIENT).then(|| {
        finding(
            FindingId::LicensingError,
            format!("licensing error {code} / {transition}"),
        )
    })
}

/// The findings of a server's TSRequest: the CVE-2018-0886 fix missing (`credssp-unpatched`),
/// its clock more than Kerberos' five minutes from `clock` ("ours", "the capture's").
pub fn credssp(c: &crate::facts::probe::CredsspFacts, clock: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if !c.ts.patched_cve_2018_0886 {
        out.push(finding(
            FindingId::CredsspUnpatched,
            format!("TSRequest version {}", c.ts.version),
        ));
    }
    if let Some(skew) = c.clock_skew_s() {
        if skew.abs() > 300 {
            out.push(finding(
                FindingId::ClockSkew,
                format!("the server's clock is {skew} s from {clock}"),
            ));
        }
    }
    out
}

/// The finding of CredSSP with credentials that did not pass (None when it passed): the
/// NTSTATUS's family (`logon-failure`, `account-locked`, `account-disabled`,
/// `password-expired`, `logon-restricted`, `no-logon-servers`), `user-not-authorized` for an
/// Early User Authorization Result of access denied, else `auth-failed` naming the step.
pub fn auth(outcome: &crate::facts::credssp::AuthOutcome, user: &str) -> Option<Finding> {
    use crate::facts::credssp::{AuthFailure, AuthOutcome, EarlyAuthz};
    let evidence = format!("user {user}: {}", outcome.describe());
    let id = match outcome {
        AuthOutcome::Ok(None | Some(EarlyAuthz::Success)) => return None,
        AuthOutcome::Ok(Some(EarlyAuthz::AccessDenied)) => FindingId::UserNotAuthorized,
        AuthOutcome::Failed(AuthFailure::Status(code, _)) => ntstatus_finding_id(*code),
        _ => FindingId::AuthFailed,
    };
    Some(finding(id, evidence))
}

/// The finding an NTSTATUS from CredSSP's errorCode names (MS-CSSP 2.2.1, `errorCode`).
pub fn ntstatus_finding_id(code: rdp_proto::credssp::NtStatus) -> FindingId {
    use rdp_proto::credssp::NtStatus as S;
    match code {
        S::STATUS_LOGON_FAILURE | S::STATUS_WRONG_PASSWORD | S::STATUS_NO_SUCH_USER => {
            FindingId::LogonFailure
        }
        S::STATUS_ACCOUNT_LOCKED_OUT => FindingId::AccountLocked,
        S::STATUS_ACCOUNT_DISABLED | S::STATUS_ACCOUNT_EXPIRED => FindingId::AccountDisabled,
        S::STATUS_PASSWORD_EXPIRED | S::STATUS_PASSWORD_MUST_CHANGE => FindingId::PasswordExpired,
        S::STATUS_ACCOUNT_RESTRICTION
        | S::STATUS_INVALID_LOGON_HOURS
        | S::STATUS_INVALID_WORKSTATION
        | S::STATUS_LOGON_TYPE_NOT_GRANTED => FindingId::LogonRestricted,
        S::STATUS_NO_LOGON_SERVERS
        | S::STATUS_TRUSTED_RELATIONSHIP_FAILURE
        | S::STATUS_TRUSTED_DOMAIN_FAILURE
        | S::STATUS_TIME_DIFFERENCE_AT_DC
        | S::STATUS_DOMAIN_CONTROLLER_NOT_FOUND
        | S::STATUS_NETLOGON_NOT_STARTED => FindingId::NoLogonServers,
        S::STATUS_NTLM_BLOCKED | S::SEC_E_UNSUPPORTED_FUNCTION => FindingId::NtlmRefused,
        S::SEC_E_NO_AUTHENTICATING_AUTHORITY => FindingId::KdcUnreachable,
        S::SEC_E_TARGET_UNKNOWN => FindingId::KerberosSpnUnknown,
        S::SEC_E_WRONG_PRINCIPAL => FindingId::KerberosTicketRejected,
        S::SEC_E_TIME_SKEW => FindingId::KerberosClockSkew,
        _ => FindingId::AuthFailed,
    }
}

/// The names a server gives about itself: its NTLM CHALLENGE (MS-NLMP 2.2.2.1,
/// MsvAvDnsComputerName and MsvAvNbComputerName) and its TLS certificate.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerNames<'a> {
    pub ntlm_dns_computer: Option<&'a str>,
    pub ntlm_netbios_computer: Option<&'a str>,
    /// The certificate's commonNames and DNS SANs.
    pub cert_names: &'a [String],
    pub cert_self_signed: bool,
    /// The certificate names the target (RFC 6125 matching).
    pub cert_matches_target: bool,
}

/// `wrong-host`: the server names itself as another host than the one asked for (DNS pointing
/// at the wrong machine, or a NAT / port forward to another one). Careful by design:
/// - an IP target or `localhost` has no name to compare;
/// - a CA-issued certificate that names the target is the owner's word: a farm or an alias
///   behind one name is not wrong;
/// - the target's canonical name (`canonical`, what the resolver says the name is an alias of,
///   as a CNAME or a hosts-file alias) counts as the target's own name;
/// - names match when equal, when their first labels are equal (`srv01` and
///   `srv01.corp.example`), or when a 15-character NetBIOS name is the cut first label;
/// - a self-signed certificate's names count as the server's own (Windows' default RDP
///   certificate carries the machine's DNS name); a CA certificate's do not (a wildcard or a
///   farm's name says nothing about the machine).
pub fn wrong_host(target: &str, canonical: Option<&str>, n: &ServerNames) -> Option<Finding> {
    let bare = target.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<core::net::IpAddr>().is_ok() || is_localhost(target) {
        return None;
    }
    if n.cert_matches_target && !n.cert_self_signed {
        return None;
    }
    let mut theirs: Vec<(&str, &str)> = Vec::new();
    if let Some(d) = n.ntlm_dns_computer {
        theirs.push(("NTLM DNS computer name", d));
    }
    if let Some(d) = n.ntlm_netbios_computer {
        theirs.push(("NTLM NetBIOS computer name", d));
    }
    if n.cert_self_signed {
        theirs.extend(
            n.cert_names
                .iter()
                .map(|c| ("self-signed certificate", c.as_str())),
        );
    }
    theirs.retain(|(_, name)| {
        !name.is_empty()
            && !name.starts_with("*.")
            && !is_localhost(name)
            && name.parse::<core::net::IpAddr>().is_err()
    });
    if theirs.is_empty() {
        return None;
    }
    let ours = [Some(target), canonical];
    if ours
        .iter()
        .flatten()
        .any(|o| theirs.iter().any(|(_, t)| same_host(o, t)))
    {
        return None;
    }
    let said = theirs
        .iter()
        .map(|(what, name)| format!("{what} {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let alias = canonical
        .filter(|c| !c.eq_ignore_ascii_case(target))
        .map(|c| format!(" (an alias of {c})"))
        .unwrap_or_default();
    Some(finding(
        FindingId::WrongHost,
        format!("asked for {target}{alias}; the server calls itself: {said}"),
    ))
}

fn is_localhost(name: &str) -> bool {
    let first = name.split('.').next().unwrap_or_default();
    first.eq_ignore_ascii_case("localhost")
}

/// Whether two host names name the same machine (see [`wrong_host`]).
fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let la = a.split('.').next().unwrap_or_default();
    let lb = b.split('.').next().unwrap_or_default();
    if la.eq_ignore_ascii_case(lb) {
        return true;
    }
    // NetBIOS names are at most 15 characters: a longer host name is cut.
    let cut = |long: &str, nb: &str| {
        nb.len() == 15
            && long.len() > 15
            && long.as_bytes()[..15].eq_ignore_ascii_case(nb.as_bytes())
    };
    cut(la, lb) || cut(lb, la)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings of one Confirm, from real Confirms: a legacy server answering a negotiating
    /// client is legacy (not also "not requested", which is for an RDP_NEG_RSP outside the
    /// request); FreeRDP's HYBRID selection answering a request for SSL alone is outside it.
    #[test]
    fn the_findings_of_one_confirm() {
        let peer = |n: &str| crate::testdata::pdu(&format!("peers/{n}"));
        let ids = |c: &Confirm, r| {
            let (f, stops) = confirm(c, r);
            (f.iter().map(|f| f.id).collect::<Vec<_>>(), stops)
        };
        let legacy = Confirm::parse(&peer(
            "../suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin",
        ))
        .unwrap();
        let everything = SecurityProtocol::SSL | SecurityProtocol::HYBRID;
        assert_eq!(
            ids(&legacy, Some(everything)),
            (vec![FindingId::LegacyNoNegotiation], false)
        );
        assert_eq!(
            ids(&legacy, None),
            (vec![FindingId::LegacyNoNegotiation], false)
        );
        let nla = Confirm::parse(&peer("credssp/shadow-nla_x224_cc.bin")).unwrap();
        assert_eq!(ids(&nla, Some(everything)), (vec![], false));
        assert_eq!(
            ids(&nla, Some(SecurityProtocol::SSL)),
            (vec![FindingId::NegProtocolNotRequested], false)
        );
        let malformed = Confirm {
            bad_length: Some(0),
            ..nla
        };
        assert_eq!(
            ids(&malformed, Some(everything)),
            (vec![FindingId::X224Malformed], true)
        );
    }

    #[test]
    fn set_error_info_codes_name_their_cause() {
        let id = |code| set_error_info(ErrorInfo(code), Stage::Capabilities).id;
        assert_eq!(id(7), FindingId::ServerDeniedConnection);
        assert_eq!(id(9), FindingId::InsufficientPrivileges);
        assert_eq!(id(0xA), FindingId::FreshCredentialsRequired);
        assert_eq!(id(5), FindingId::SessionReplaced);
        assert_eq!(id(3), FindingId::SessionTimeLimit);
        assert_eq!(id(0x1A), FindingId::ServerShuttingDown);
        assert_eq!(id(0x17), FindingId::ServerResources);
        assert_eq!(id(0x10A), FindingId::LicensingError);
        assert_eq!(id(0x408), FindingId::BrokerError);
        assert_eq!(id(0x10EA), FindingId::ServerErrorInfo);
        let f = set_error_info(ErrorInfo(7), Stage::Capabilities);
        assert_eq!(
            f.evidence,
            "Set Error Info 0x00000007 ERRINFO_SERVER_DENIED_CONNECTION during capabilities"
        );
        let lic = set_error_info(ErrorInfo(0x104), Stage::Licensing);
        assert!(
            lic.remediation.contains("MSLicensing"),
            "{}",
            lic.remediation
        );
        // Every code of 2.2.5.1.1 is named, the protocol errors included.
        for (code, name) in [
            (0x10DD, "ERRINFO_PERSISTENTKEYPDUTOOMANYCACHEKEYS"),
            (0x10E0, "ERRINFO_SECURITYDATATOOSHORT"),
            (0x1126, "ERRINFO_SECURITYDATATOOSHORT23"),
            (0x1136, "ERRINFO_INVALIDMONITORCOUNT"),
        ] {
            let f = set_error_info(ErrorInfo(code), Stage::Active);
            assert!(f.evidence.contains(name), "{}", f.evidence);
        }
        let logoff = set_error_info(ErrorInfo(0xC), Stage::Active);
        assert_eq!(logoff.severity, crate::diagnose::Severity::Info);
    }

    #[test]
    fn a_selection_outside_the_request_is_noticed() {
        let p = SecurityProtocol::from_bits_retain;
        assert!(protocol_not_requested(p(0x0B), p(0x02)).is_none());
        assert!(protocol_not_requested(p(0x0B), p(0x00)).is_some());
        assert!(protocol_not_requested(p(0x01), p(0x02)).is_some());
        assert!(protocol_not_requested(p(0x00), p(0x00)).is_none());
        assert_eq!(
            protocol_not_requested(p(0x03), p(0x00)).unwrap().evidence,
            "requested ssl|hybrid, selected rdp"
        );
    }

    #[test]
    fn weak_encryption_names_the_weak_methods_or_the_level() {
        let m = EncryptionMethods::from_bits_retain;
        assert!(weak_rdp_encryption(
            &[m(0x02)],
            Some(EncryptionLevel::ENCRYPTION_LEVEL_CLIENT_COMPATIBLE)
        )
        .is_none());
        let f = weak_rdp_encryption(
            &[m(0x02), m(0x01)],
            Some(EncryptionLevel::ENCRYPTION_LEVEL_HIGH),
        )
        .unwrap();
        assert_eq!(f.evidence, "accepted 40bit; level ENCRYPTION_LEVEL_HIGH");
        let f = weak_rdp_encryption(&[m(0x02)], Some(EncryptionLevel::ENCRYPTION_LEVEL_LOW));
        assert_eq!(
            f.unwrap().evidence,
            "accepted 128bit; level ENCRYPTION_LEVEL_LOW"
        );
    }

    #[test]
    fn open_layers_rdstls_alone_is_not_open() {
        assert!(open_layers(OpenLayers::default()).is_empty());
        let ids: Vec<_> = open_layers(OpenLayers {
            rdp: true,
            rdp_only_legacy: true,
            ssl: false,
        })
        .iter()
        .map(|f| f.id)
        .collect();
        assert_eq!(
            ids,
            [FindingId::NlaNotRequired, FindingId::RdpSecurityAllowed]
        );
    }

    #[test]
    fn wrong_host_only_when_no_name_of_the_server_fits_the_target() {
        let ntlm = |dns, nb| ServerNames {
            ntlm_dns_computer: Some(dns),
            ntlm_netbios_computer: Some(nb),
            ..ServerNames::default()
        };
        let wrong = |t: &str, c: Option<&str>, n: &ServerNames| wrong_host(t, c, n).is_some();
        let srv7 = ntlm("srv7.corp.example", "SRV7");
        // The help-desk case: a stale record sends srv1 to srv7.
        let f = wrong_host("srv1.corp.example", None, &srv7).unwrap();
        assert_eq!(f.id, FindingId::WrongHost);
        assert!(
            f.evidence
                .contains("NTLM DNS computer name srv7.corp.example"),
            "{f:?}"
        );
        // The same machine, by its short name, its FQDN, any case, a trailing dot.
        assert!(!wrong("srv7", None, &srv7));
        assert!(!wrong("SRV7.corp.example.", None, &srv7));
        assert!(!wrong("srv7.other.example", None, &srv7));
        // An IP target, localhost: nothing to compare.
        assert!(!wrong("192.0.2.7", None, &srv7));
        assert!(!wrong("[2001:db8::7]", None, &srv7));
        assert!(!wrong("localhost", None, &srv7));
        // An alias whose canonical name is the server's.
        assert!(!wrong("rdp.corp.example", Some("srv7.corp.example"), &srv7));
        assert!(wrong("rdp.corp.example", Some("srv1.corp.example"), &srv7));
        // A CA certificate naming the target: a farm behind one name.
        let farm = ServerNames {
            cert_matches_target: true,
            ..srv7
        };
        assert!(!wrong("rdp.corp.example", None, &farm));
        // A self-signed certificate is the machine's own name, and alone is enough.
        let names = ["WKS-0042.corp.example".to_owned()];
        let selfsigned = ServerNames {
            cert_names: &names,
            cert_self_signed: true,
            ..ServerNames::default()
        };
        assert!(wrong("wks-0017.corp.example", None, &selfsigned));
        assert!(!wrong("wks-0042", None, &selfsigned));
        // A CA certificate's names (a wildcard) say nothing about the machine.
        let wild = ["*.corp.example".to_owned()];
        let ca = ServerNames {
            cert_names: &wild,
            ..ServerNames::default()
        };
        assert!(!wrong("wks-0017.corp.example", None, &ca));
        // NetBIOS names are cut at 15 characters.
        let long = ntlm("", "ACCOUNTING-SERV");
        assert!(!wrong("accounting-server-01.corp.example", None, &long));
        assert!(wrong("accounting-other-01", None, &long));
        // No names at all: nothing to say.
        assert!(!wrong("srv1", None, &ServerNames::default()));
    }
}
