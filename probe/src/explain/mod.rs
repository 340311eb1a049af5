//! `rdprobe explain CODE [EXTENDED] | "MESSAGE"`: what an error a user saw means, where in the
//! connection it arises, its usual causes in order, and the rdprobe command that confirms or
//! rules out each. Pure tables and lookups, no I/O.
//!
//! What can be explained, and where each table comes from:
//! - mstsc's disconnect reason (`discReason` of `IMsTscAxEvents::OnDisconnected`, shown in hex
//!   or decimal: 0x904 = 2308): [`mstsc`];
//! - mstsc's extended reason, which is the server's Set Error Info code (MS-RDPBCGR 2.2.5.1.1;
//!   the names are `rdp_proto::slowpath::ErrorInfo`, the causes `diagnose::rules::set_error_info`);
//! - FreeRDP's error codes as it prints them (`[0x0002000D]`): [`freerdp`];
//! - an NTSTATUS from CredSSP's errorCode (MS-CSSP 2.2.1; names in
//!   `rdp_proto::credssp::NtStatus`, causes in `diagnose::rules::ntstatus_finding_id`);
//! - a KRB-ERROR by name (`KDC_ERR_PREAUTH_FAILED`) or as `krb:24`: [`kerberos`];
//! - a well-known mstsc message, matched loosely: [`messages`].
//!
//! Each cause is a finding of the catalogue, so the cause, its fix and the command that shows
//! it are written once (the catalogue, [`check`]).

use serde::Serialize;

use crate::diagnose::{FindingId, Severity};
use rdp_proto::credssp::NtStatus;
use rdp_proto::slowpath::ErrorInfo;

pub mod freerdp;
pub mod gateway;
pub mod kerberos;
pub mod messages;
pub mod mstsc;

/// One reading of the input.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Explanation {
    /// What the input was read as.
    pub kind: Kind,
    /// The code as given, normalised (`0x904 (2308)`), or the message matched.
    pub code: String,
    /// The code's name in its source (`ERRINFO_SERVER_DENIED_CONNECTION`), if it has one.
    pub name: Option<String>,
    /// What it means; for an unknown code, "not known" and the nearest family.
    pub meaning: String,
    /// Where in the connection it arises.
    pub stage: &'static str,
    /// Its usual causes, most likely first.
    pub causes: Vec<Cause>,
    /// The public table the entry comes from.
    pub source: &'static str,
    /// Whether the code is in the table (false: only its family is known).
    pub known: bool,
}

impl Explanation {
    /// A code that is not in its table: "not known" and, in `meaning`, its nearest family.
    pub fn unknown(kind: Kind, code: String, meaning: String, source: &'static str) -> Self {
        Explanation {
            kind,
            code,
            name: None,
            meaning,
            stage: "unknown",
            causes: Vec::new(),
            source,
            known: false,
        }
    }
}

/// What the input was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// mstsc's disconnect reason (`discReason`).
    MstscDisconnectReason,
    /// mstsc's extended disconnect reason: the server's Set Error Info code.
    ExtendedReason,
    /// A FreeRDP error code (`freerdp_get_last_error`).
    Freerdp,
    /// An NTSTATUS (or SSPI status) from CredSSP.
    Ntstatus,
    /// A message mstsc shows.
    MstscMessage,
    /// An RD Gateway's E_PROXY_* code (MS-TSGU).
    GatewayError,
    /// A KRB-ERROR code (RFC 4120 7.5.9).
    KerberosError,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MstscDisconnectReason => "mstsc disconnect reason",
            Self::ExtendedReason => "extended reason / Set Error Info code",
            Self::Freerdp => "FreeRDP error code",
            Self::Ntstatus => "NTSTATUS from CredSSP",
            Self::MstscMessage => "mstsc message",
            Self::GatewayError => "RD Gateway error (E_PROXY_*)",
            Self::KerberosError => "Kerberos error (KRB-ERROR)",
        }
    }
}

/// One cause: a finding of the catalogue, and the command that shows it.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Cause {
    pub finding: FindingId,
    pub severity: Severity,
    pub cause: &'static str,
    pub fix: &'static str,
    /// The rdprobe command that confirms or rules it out.
    pub check: &'static str,
}

/// The cause a finding names, with its command.
pub fn cause(id: FindingId) -> Cause {
    let (severity, summary, remediation) = id.entry();
    Cause {
        finding: id,
        severity,
        cause: summary,
        fix: remediation,
        check: check(id),
    }
}

/// The rdprobe command that shows whether `id` is the cause (HOST, DOMAIN\USER and FILE are
/// for the user to fill in).
pub fn check(id: FindingId) -> &'static str {
    use FindingId as I;
    match id {
        I::GatewayUnreachable
        | I::GatewayTlsFailed
        | I::GatewayCertInvalid
        | I::GatewayUnavailable
        | I::GatewayHttpTransportDisabled
        | I::GatewayMethodsBlocked => {
            "rdprobe probe HOST --gateway GATEWAY   (the gateway's dns, tcp, tls and certificate, and its answer to RDG_OUT_DATA)"
        }
        I::GatewayAuthFailed
        | I::GatewayAccountRestricted
        | I::GatewayPolicyDenied
        | I::GatewayResourceDenied
        | I::GatewayTargetUnreachable
        | I::GatewayRefused => {
            "rdprobe probe HOST --gateway GATEWAY --user DOMAIN\\USER   (password from RDPROBE_PASSWORD or RDPROBE_GATEWAY_PASSWORD: the gateway's HTTP authentication, tunnel authorization and channel, each with its E_PROXY code)"
        }
        I::DnsUnresolved | I::DnsMultipleAddresses | I::WrongHost => {
            "rdprobe probe HOST   (by the name the client uses: the dns stage lists the addresses; wrong-host compares the names the server gives)"
        }
        I::TcpRefused | I::TcpTimeout | I::TcpUnreachable | I::SynUnanswered => {
            "rdprobe probe HOST -p PORT   (the tcp stage: refused, timeout or unreachable)"
        }
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
        | I::RdpSecurityAllowed
        | I::WeakRdpEncryption => {
            "rdprobe probe HOST   (the security layers each request gets, and the x224 stage)"
        }
        I::TlsLegacyOnly
        | I::TlsLegacyEnabled
        | I::TlsHandshakeFailed
        | I::CertExpired
        | I::CertNotYetValid
        | I::CertNameMismatch
        | I::CertSelfSigned
        | I::CertWeak => "rdprobe probe HOST   (the TLS versions accepted and the certificate)",
        I::CredsspUnpatched | I::ClockSkew | I::RestrictedAdminSupported => {
            "rdprobe probe HOST   (credssp: the TSRequest version and the NTLM CHALLENGE)"
        }
        I::KerberosPreauthFailed
        | I::KerberosClientUnknown
        | I::KerberosClientRevoked
        | I::KerberosPasswordExpired
        | I::KerberosClockSkew
        | I::KerberosSpnUnknown
        | I::KerberosError
        | I::KdcUnreachable
        | I::KerberosTicketRejected => {
            "rdprobe probe HOST.FQDN --user USER@REALM --auth kerberos [--kdc DC]   (the kerberos stage: each KDC answer, its KRB-ERROR, the clock difference; then the server's answer to the ticket)"
        }
        I::NtlmRefused => {
            "rdprobe probe HOST.FQDN --user USER@REALM   (by name: Kerberos as mstsc would use it; --auth ntlm shows the NTLM refusal)"
        }
        I::CredsspFailed
        | I::CredsspAbandoned
        | I::LogonFailure
        | I::AccountLocked
        | I::AccountDisabled
        | I::PasswordExpired
        | I::LogonRestricted
        | I::NoLogonServers
        | I::UserNotAuthorized
        | I::AuthFailed => {
            "rdprobe probe HOST --user DOMAIN\\USER   (password from RDPROBE_PASSWORD or a prompt: the NTSTATUS the server returns)"
        }
        I::InsufficientPrivileges
        | I::FreshCredentialsRequired
        | I::SessionReplaced
        | I::ServerResources => {
            "rdprobe probe HOST --user DOMAIN\\USER   (the walk to the logon: the Set Error Info that comes instead)"
        }
        I::ServerErrorInfo
        | I::ServerDeniedConnection
        | I::SessionTimeLimit
        | I::ServerShuttingDown
        | I::BrokerError
        | I::Redirected
        | I::LicensingError => {
            "rdprobe probe HOST   (the walk past MCS: licensing, capabilities, the Set Error Info)"
        }
        I::PacketLoss
        | I::ClosedByServer
        | I::ServerSilent
        | I::ResetByServer
        | I::ResetByClient
        | I::InjectedReset
        | I::ZeroWindow => {
            "rdprobe probe HOST --watch 10   (intermittent: failures by stage), and rdprobe pcap FILE on a capture of the failing client"
        }
        I::ProbeTimeout | I::InternalError => "rdprobe probe HOST --timeout 60",
        I::PasswordSpray | I::BruteForce => {
            "rdprobe pcap FILE   (on a capture at the server: the refused logons by source and user; --keylog names the accounts)"
        }
    }
}

/// A number as the user wrote it: `0x904`, `2308`, `[0x0002000D]`, `0XC0000234`.
pub fn parse_code(s: &str) -> Option<(u32, bool)> {
    let t = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).ok().map(|v| (v, true));
    }
    if t.len() == 8
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && !t.bytes().all(|b| b.is_ascii_digit())
    {
        return u32::from_str_radix(t, 16).ok().map(|v| (v, true));
    }
    t.parse::<u32>().ok().map(|v| (v, false))
}

/// Every reading of the arguments, the most likely first. Empty: nothing matched (the caller
/// says so).
pub fn explain(args: &[&str]) -> Vec<Explanation> {
    match args {
        [code, extended] if parse_code(code).is_some() && parse_code(extended).is_some() => {
            let (c, _) = parse_code(code).unwrap_or_default();
            let (x, _) = parse_code(extended).unwrap_or_default();
            vec![mstsc::explain(c), extended_reason(x)]
        }
        [one] => match (parse_code(one), kerberos::parse(one)) {
            (_, Some(k)) => vec![kerberos::explain(k)],
            (Some((v, hex)), None) => number(v, hex, one),
            (None, None) => message(one),
        },
        _ => message(&args.join(" ")),
    }
}

/// A message, and the code in it if it quotes one ("Because of a protocol error (code:
/// 0x112f) ...": the Set Error Info code).
fn message(text: &str) -> Vec<Explanation> {
    let mut out = messages::explain(text);
    let quoted = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 2 && (w.starts_with("0x") || w.starts_with("0X")))
        .filter_map(parse_code)
        .map(|(v, _)| v);
    for code in quoted.take(2) {
        let protocol_error = out
            .first()
            .is_some_and(|e| e.code.starts_with("Because of a protocol error"));
        out.push(if protocol_error {
            extended_reason(code)
        } else {
            let mut all = number(code, true, &format!("0x{code:X}"));
            if all.is_empty() {
                continue;
            }
            all.remove(0)
        });
    }
    out
}

/// The readings of one number.
fn number(v: u32, hex: bool, raw: &str) -> Vec<Explanation> {
    let eight_digits = raw
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .len()
        == 8;
    if let Some(p) = gateway::proxy_error(v) {
        return vec![p];
    }
    if v >= 0x8000_0000 {
        return vec![ntstatus(v)];
    }
    if gateway::is_gateway_family(v) {
        return vec![gateway::disconnect_reason(v).unwrap_or_else(|| {
            Explanation::unknown(
                Kind::MstscDisconnectReason,
                both(v),
                "not known; the nearest family: mstsc's RD Gateway disconnect reasons (0x3000001 ..): look at the gateway_* stages of rdprobe probe HOST --gateway GATEWAY".into(),
                "mstsc's gateway disconnect reasons as rdpgw lists them",
            )
        })];
    }
    if (v >> 16) != 0 || (hex && eight_digits) {
        return vec![freerdp::explain(v)];
    }
    let mut out = Vec::new();
    let disc = mstsc::explain(v);
    let sei = extended_reason(v);
    match (disc.known, sei.known) {
        (true, true) => out.extend([disc, sei]),
        (true, false) => out.push(disc),
        (false, true) => out.push(sei),
        (false, false) => out.extend([disc, sei]),
    }
    out
}

/// Hex and decimal (`0x904 (2308)`).
pub fn both(v: u32) -> String {
    format!("0x{v:X} ({v})")
}

/// An extended disconnect reason: the server's Set Error Info code.
pub fn extended_reason(code: u32) -> Explanation {
    let e = ErrorInfo(code);
    let f = crate::diagnose::rules::set_error_info(e, crate::diagnose::Stage::Capabilities);
    let family = sei_family(code);
    let known = e.name().is_some();
    let mut c = cause(f.id);
    c.fix = f.remediation;
    let meaning = match (e.name(), family) {
        (Some(_), Some(fam)) => format!("{}; {fam}", f.summary),
        (Some(_), None) => f.summary.to_string(),
        (None, Some(fam)) => format!("not known; the nearest family: {fam}"),
        (None, None) => "not known, and outside every family MS-RDPBCGR 2.2.5.1.1 lists".into(),
    };
    let causes = if known || family.is_some() {
        vec![c]
    } else {
        Vec::new()
    };
    Explanation {
        kind: Kind::ExtendedReason,
        code: both(code),
        name: e.name().map(str::to_owned),
        meaning,
        stage: "after MCS: licensing, capabilities or the active session (the server's Set Error Info PDU, then a disconnect)",
        causes,
        source: "MS-RDPBCGR 2.2.5.1.1 Set Error Info PDU (errorInfo); mstsc's ExtendedDisconnectReasonCode carries it",
        known,
    }
}

/// The family of a Set Error Info code (MS-RDPBCGR 2.2.5.1.1 groups them).
fn sei_family(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0..=0xFF => "protocol-independent codes: the server or an administrator ended the session, session limits, the session host's own failures",
        0x100..=0x1FF => "protocol-independent licensing codes: the licensing exchange or the license server",
        0x400..=0x4FF => "protocol-independent connection broker codes: the broker could not place the session",
        0xD00..=0xDFF => "RDP-specific codes of the graphics and remote application pipeline",
        0x1000..=0x1FFF => "RDP-specific protocol error codes: a PDU the server could not accept (mstsc: \"Because of a protocol error, this session will be disconnected\")",
        _ => return None,
    })
}

/// An NTSTATUS (or SSPI SEC_E_*) from CredSSP's errorCode.
pub fn ntstatus(code: u32) -> Explanation {
    let s = NtStatus(code);
    let id = crate::diagnose::rules::ntstatus_finding_id(s);
    let known = s.name().is_some();
    let meaning = match s.name() {
        Some(_) => id.entry().1.to_string(),
        None if code >> 30 == 3 => {
            "not known to rdprobe; an error status (severity bits 11): the server refused the logon for a reason its Security log names".into()
        }
        None => "not known to rdprobe".into(),
    };
    Explanation {
        kind: Kind::Ntstatus,
        code: format!("0x{code:08X}"),
        name: s.name().map(str::to_owned),
        meaning,
        stage: "credssp: the server's answer to the NTLM AUTHENTICATE or to the credentials (NLA)",
        causes: vec![cause(id)],
        source: "MS-CSSP 2.2.1 (errorCode); the values are MS-ERREF 2.3 NTSTATUS",
        known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_what_they_look_like() {
        assert_eq!(parse_code("0x904"), Some((0x904, true)));
        assert_eq!(parse_code("2308"), Some((2308, false)));
        assert_eq!(parse_code("[0x0002000D]"), Some((0x2000D, true)));
        assert_eq!(parse_code("0XC0000234"), Some((0xC000_0234, true)));
        assert_eq!(parse_code("C0000234"), Some((0xC000_0234, true)));
        assert_eq!(parse_code("function"), None);
        assert_eq!(parse_code("0x1_0000_0000"), None);
        let n = explain(&["0xC0000234"]);
        assert_eq!(n[0].kind, Kind::Ntstatus);
        assert_eq!(n[0].name.as_deref(), Some("STATUS_ACCOUNT_LOCKED_OUT"));
        assert_eq!(n[0].causes[0].finding, FindingId::AccountLocked);
        let x = extended_reason(7);
        assert_eq!(x.name.as_deref(), Some("ERRINFO_SERVER_DENIED_CONNECTION"));
        assert_eq!(x.causes[0].finding, FindingId::ServerDeniedConnection);
        let unknown = extended_reason(0x10FF);
        assert!(!unknown.known);
        assert!(unknown
            .meaning
            .starts_with("not known; the nearest family: RDP-specific protocol error"));
        let lic = extended_reason(0x102);
        assert!(lic.causes[0].fix.contains("CALs"), "{lic:?}");
        // Odd input is explained or not matched, never a panic.
        for odd in [
            "",
            " ",
            "[",
            "]",
            "0x",
            "0X",
            "[0x]",
            "0xFFFFFFFF",
            "4294967295",
            "4294967296",
            "-1",
            "0x-1",
            "ÿÿÿ",
            "0x0000000D",
            "00000000",
            "0x1 0x2 0x3",
            "((((",
            "0xzz",
        ] {
            let _ = explain(&[odd]);
            let _ = explain(&[odd, odd]);
        }
        let proto = explain(&[
            "Because of a protocol error (code: 0x112f), the remote session will be disconnected.",
        ]);
        assert_eq!(proto.len(), 2, "{proto:?}");
        assert_eq!(
            proto[1].name.as_deref(),
            Some("ERRINFO_GRAPHICSSUBSYSTEMFAILED")
        );
    }
}
