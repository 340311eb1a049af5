//! The RD Gateway's rules: its answers, its authentication, its E_PROXY codes and its
//! certificate, to findings. The probe's `plan::gateway` and the capture's gateway reader both
//! call these; each gateway finding is raised here and nowhere else.

use super::{finding, rules, Finding, FindingId};
use crate::facts::cert::CertFacts;
use crate::facts::gateway::{GatewayAnswer, GatewayAuth, GatewayHttp, ProxyError};

/// The finding of the gateway's answer to `RDG_OUT_DATA`, when it refuses the request itself
/// (not an authentication request).
pub fn answer(a: &GatewayAnswer, gateway: &str) -> Option<Finding> {
    let server = a
        .server
        .as_deref()
        .map_or_else(String::new, |s| format!(", Server: {s}"));
    Some(match &a.answer {
        GatewayHttp::TransportDisabled { status } => finding(
            FindingId::GatewayHttpTransportDisabled,
            format!("{gateway} answered RDG_OUT_DATA /remoteDesktopGateway/ with {status}{server}"),
        ),
        GatewayHttp::MethodsBlocked => finding(
            FindingId::GatewayMethodsBlocked,
            format!("{gateway} answered RDG_OUT_DATA with 501 Not Implemented{server}"),
        ),
        GatewayHttp::Unavailable => finding(
            FindingId::GatewayUnavailable,
            format!("{gateway} answered 503 Service Unavailable{server}"),
        ),
        GatewayHttp::Other { status, reason } => finding(
            FindingId::GatewayUnavailable,
            format!("{gateway} answered RDG_OUT_DATA with {status} {reason}{server}"),
        ),
        GatewayHttp::Upgraded | GatewayHttp::Legacy | GatewayHttp::AuthRequired { .. } => {
            return None
        }
    })
}

/// `gateway-unavailable`: TLS closed (or a malformed answer) instead of an HTTP answer; MS RD
/// Gateway does this when it does not like the request (FreeRDP's rdg.c: "HTTP transport
/// broken").
pub fn no_answer(gateway: &str, why: &str) -> Finding {
    finding(
        FindingId::GatewayUnavailable,
        format!("{gateway}: no HTTP answer to RDG_OUT_DATA ({why})"),
    )
}

/// The finding of a refused HTTP authentication.
pub fn auth(a: &GatewayAuth, gateway: &str) -> Option<Finding> {
    let GatewayAuth::Refused {
        user,
        status,
        reason,
        rdg_auth_scheme,
    } = a
    else {
        return None;
    };
    let scheme = rdg_auth_scheme
        .as_deref()
        .map_or_else(String::new, |s| format!(", RDG-Auth-Scheme: {s}"));
    let evidence = format!("{gateway} answered {user}'s NTLM logon with {status} {reason}{scheme}");
    let restricted =
        reason.to_ascii_lowercase().contains("restricted") || rdg_auth_scheme.is_some();
    Some(finding(
        if restricted {
            FindingId::GatewayAccountRestricted
        } else {
            FindingId::GatewayAuthFailed
        },
        evidence,
    ))
}

/// The finding of an E_PROXY code, at the step that got it (`what`: "tunnel authorization",
/// "channel to HOST:3389").
pub fn proxy_error(code: ProxyError, what: &str, gateway: &str) -> Finding {
    let id = match code {
        ProxyError::E_PROXY_NAP_ACCESSDENIED => FindingId::GatewayPolicyDenied,
        ProxyError::E_PROXY_RAP_ACCESSDENIED => FindingId::GatewayResourceDenied,
        ProxyError::E_PROXY_TS_CONNECTFAILED => FindingId::GatewayTargetUnreachable,
        _ => FindingId::GatewayRefused,
    };
    let meaning = code
        .meaning()
        .map_or_else(String::new, |m| format!(": {m}"));
    finding(
        id,
        format!("{gateway} answered the {what} with {code}{meaning}"),
    )
}

/// `gateway-cert-invalid`: what mstsc checks of a gateway's certificate (validity now, a CA's
/// signature, the name): one finding naming each problem.
pub fn certificate(c: &CertFacts, now: i64, gateway_name: &str) -> Option<Finding> {
    let mut problems: Vec<String> = rules::certificate(c, now, "now")
        .into_iter()
        .filter(|f| f.id != FindingId::CertWeak)
        .map(|f| f.evidence)
        .collect();
    if let Some(f) = rules::certificate_name(c, gateway_name) {
        problems.push(f.evidence);
    }
    (!problems.is_empty()).then(|| {
        finding(
            FindingId::GatewayCertInvalid,
            format!("the RD Gateway's certificate: {}", problems.join("; ")),
        )
    })
}
