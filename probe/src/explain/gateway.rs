//! RD Gateway codes: mstsc's gateway disconnect reasons (the `discReason` family 0x3000001 ..,
//! shown as "Error code: 0x300001B" or in decimal, 50331675) and the E_PROXY_* HRESULTs a
//! gateway sends in its MS-TSGU answers (FreeRDP prints them: "E_PROXY_NAP_ACCESSDENIED
//! [0x800759DB]"). The disconnect reasons' names come from the table rdpgw keeps
//! (cmd/rdpgw/protocol/errors.go, mstsc's ERROR_* names); their meanings are read from the names
//! and, for 0x300001B, from the text mstsc shows (mRemoteNG issue 2486 quotes it). The E_PROXY
//! names are MS-TSGU's (FreeRDP's tsg.h), their meanings `facts::gateway::ProxyError`'s.

use super::{both, cause, Explanation, Kind};
use crate::diagnose::FindingId as I;
use crate::facts::gateway::ProxyError;

const DISC_SOURCE: &str = "mstsc's gateway disconnect reasons as rdpgw lists them (cmd/rdpgw/protocol/errors.go); 0x300001B's text as mstsc shows it (mRemoteNG issue 2486)";
const PROXY_SOURCE: &str = "MS-TSGU 2.2.6 / FreeRDP libfreerdp/core/gateway/tsg.h (E_PROXY_*)";

struct Entry {
    code: u32,
    name: &'static str,
    meaning: &'static str,
    stage: &'static str,
    causes: &'static [I],
}

#[rustfmt::skip]
const TABLE: &[Entry] = &[
    Entry { code: 0x3000001, name: "ERROR_SECURITY_USER_PASSWORD_INVALID", meaning: "The credentials given for the RD Gateway are not valid.", stage: "gateway_auth", causes: &[I::GatewayAuthFailed] },
    Entry { code: 0x3000002, name: "ERROR_SECURITY_CERTIFICATE_REVOKE_LIST_UNAVAIL", meaning: "The revocation list of the gateway's certificate could not be fetched.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000003, name: "ERROR_SECURITY_CERTIFICATE_INVALID", meaning: "The gateway's certificate is not valid.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000004, name: "ERROR_SECURITY_CERTIFICATE_REVOKED", meaning: "The gateway's certificate is revoked.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000005, name: "ERROR_SECURITY_GATEWAY_IDENTITY", meaning: "The RD Gateway's identity cannot be verified: its certificate is not from a trusted CA.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000006, name: "ERROR_SECURITY_GATEWAY_SUBJECT", meaning: "The RD Gateway's certificate is for another name than the one connected to.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000007, name: "ERROR_SECURITY_GATEWAY_EXPIRED", meaning: "The RD Gateway's certificate has expired (or is not yet valid).", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x3000008, name: "ERROR_SECURITY_REMOTE_ERROR", meaning: "The RD Gateway reported an error.", stage: "gateway_tunnel", causes: &[I::GatewayRefused, I::GatewayUnavailable] },
    Entry { code: 0x3000009, name: "ERROR_GATEWAY_NETWORK_SEND", meaning: "Sending to the RD Gateway failed.", stage: "gateway_tcp", causes: &[I::GatewayUnreachable, I::GatewayUnavailable] },
    Entry { code: 0x300000A, name: "ERROR_GATEWAY_NETWORK_RECEIVE", meaning: "Receiving from the RD Gateway failed.", stage: "gateway_http", causes: &[I::GatewayUnavailable, I::GatewayMethodsBlocked] },
    Entry { code: 0x300000B, name: "ERROR_SECURITY_ALTERNATE", meaning: "A security error with the RD Gateway.", stage: "gateway_tls", causes: &[I::GatewayTlsFailed] },
    Entry { code: 0x300000C, name: "ERROR_GATEWAY_INVALID_ADDRESS", meaning: "The RD Gateway's address is not valid or does not resolve.", stage: "gateway_dns", causes: &[I::GatewayUnreachable] },
    Entry { code: 0x300000D, name: "ERROR_GATEWAY_TEMP_UNAVAIL", meaning: "The RD Gateway is temporarily unavailable.", stage: "gateway_tcp / gateway_http", causes: &[I::GatewayUnreachable, I::GatewayUnavailable] },
    Entry { code: 0x300000E, name: "ERROR_REMOTE_CLIENT_MISSING", meaning: "The remote client component is missing.", stage: "before the gateway", causes: &[] },
    Entry { code: 0x300000F, name: "ERROR_GATEWAY_LOW_RESOURCES", meaning: "The RD Gateway is low on resources.", stage: "gateway_http", causes: &[I::GatewayUnavailable, I::GatewayRefused] },
    Entry { code: 0x3000010, name: "ERROR_GATEWAY_CLIENT_DLL", meaning: "The gateway client component of mstsc failed.", stage: "before the gateway", causes: &[] },
    Entry { code: 0x3000011, name: "ERROR_SMARTCART_NOSERVICE", meaning: "The smart card service is not running.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x3000012, name: "ERROR_SECURITY_SMARTCARD_REMOVED", meaning: "The smart card was removed.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x3000013, name: "ERROR_SECURITY_SMARTCARD_REQUIRED", meaning: "The RD Gateway requires a smart card.", stage: "gateway_auth", causes: &[I::GatewayAccountRestricted] },
    Entry { code: 0x3000014, name: "ERROR_SECURITY_SMARTCARD_REMOVED2", meaning: "The smart card was removed.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x3000015, name: "ERROR_SECURITY_USER_PASSWORD_INVALID2", meaning: "The credentials given for the RD Gateway are not valid.", stage: "gateway_auth", causes: &[I::GatewayAuthFailed] },
    Entry { code: 0x3000017, name: "ERROR_SECURITY_TRANSPORT", meaning: "The transport to the RD Gateway failed its security check.", stage: "gateway_tls", causes: &[I::GatewayTlsFailed] },
    Entry { code: 0x3000018, name: "ERROR_GATEWAY_TERMINATE", meaning: "The RD Gateway ended the connection.", stage: "any gateway stage", causes: &[I::GatewayRefused, I::GatewayUnavailable] },
    Entry { code: 0x3000019, name: "ERROR_GATEWAY_ADMIN_TERMINATE", meaning: "An administrator ended the connection at the RD Gateway.", stage: "after gateway_channel", causes: &[] },
    Entry { code: 0x300001A, name: "ERROR_SECURITY_USER_CREDENTIALS", meaning: "The RD Gateway did not accept the credentials.", stage: "gateway_auth", causes: &[I::GatewayAuthFailed, I::GatewayAccountRestricted] },
    Entry { code: 0x300001B, name: "ERROR_SECURITY_GATEWAY_NOT_PERMITTED", meaning: "The RD Gateway does not let this user reach this computer: mstsc says \"your user account is not listed in the RD Gateway's permission list, or you might have specified the remote computer in NetBIOS format but the RD Gateway expects an FQDN or IP address\" (an RD RAP, or an RD CAP, refuses).", stage: "gateway_channel / gateway_tunnel", causes: &[I::GatewayResourceDenied, I::GatewayPolicyDenied] },
    Entry { code: 0x300001C, name: "ERROR_SECURITY_GATEWAY_UNAUTHORIZED", meaning: "The user is not authorized to use the RD Gateway (an RD CAP refuses).", stage: "gateway_tunnel", causes: &[I::GatewayPolicyDenied, I::GatewayAccountRestricted] },
    Entry { code: 0x300001F, name: "ERROR_SECURITY_GATEWAY_RESTRICTED", meaning: "The RD Gateway restricts this connection (device redirection or policy).", stage: "gateway_tunnel", causes: &[I::GatewayPolicyDenied] },
    Entry { code: 0x3000020, name: "ERROR_SECURITY_PROXY_AUTH", meaning: "An HTTP proxy between the client and the RD Gateway asks for authentication.", stage: "gateway_http", causes: &[I::GatewayMethodsBlocked, I::GatewayUnavailable] },
    Entry { code: 0x3000021, name: "ERROR_SECURITY_USER_PASSWORD_MUST_CHANGE", meaning: "The password must be changed before using the RD Gateway.", stage: "gateway_auth", causes: &[I::GatewayAuthFailed] },
    Entry { code: 0x3000022, name: "ERROR_GATEWAY_MAX_REACHED", meaning: "The RD Gateway's connection limit is reached.", stage: "gateway_tunnel", causes: &[I::GatewayRefused] },
    Entry { code: 0x3000023, name: "ERROR_GATEWAY_UNSUPPORTED_REQUEST", meaning: "The RD Gateway does not support the request.", stage: "gateway_http / gateway_tunnel", causes: &[I::GatewayHttpTransportDisabled, I::GatewayRefused] },
    Entry { code: 0x3000024, name: "ERROR_GATEWAY_UNSUPPORTED_CAP", meaning: "The RD Gateway does not support a capability the client needs.", stage: "gateway_tunnel", causes: &[I::GatewayRefused] },
    Entry { code: 0x3000025, name: "ERROR_GATEWAY_INCOMPAT", meaning: "The client and the RD Gateway are not compatible.", stage: "gateway_http / gateway_tunnel", causes: &[I::GatewayHttpTransportDisabled, I::GatewayRefused] },
    Entry { code: 0x3000026, name: "ERROR_SECURITY_SMARTCARD_INVALID_CREDENTIALS", meaning: "The smart card credentials are not valid.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x3000027, name: "ERROR_SECURITY_NLA_INVALID", meaning: "Network Level Authentication failed through the RD Gateway.", stage: "credssp", causes: &[I::AuthFailed, I::CredsspFailed] },
    Entry { code: 0x3000028, name: "ERROR_GATEWAY_NO_CERTIFICATE", meaning: "The RD Gateway has no certificate.", stage: "gateway_tls", causes: &[I::GatewayTlsFailed] },
    Entry { code: 0x3000029, name: "ERROR_GATEWAY_NOT_ALLOWED", meaning: "Connections through this RD Gateway are not allowed.", stage: "gateway_tunnel", causes: &[I::GatewayPolicyDenied] },
    Entry { code: 0x300002A, name: "ERROR_GATEWAY_INVALID_CERTIFICATE", meaning: "The RD Gateway's certificate is not valid.", stage: "gateway_tls", causes: &[I::GatewayCertInvalid] },
    Entry { code: 0x300002B, name: "ERROR_SECURITY_GATEWAY_USER_PASSWORD_REQUIRED", meaning: "The RD Gateway requires a password.", stage: "gateway_auth", causes: &[I::GatewayAccountRestricted] },
    Entry { code: 0x300002C, name: "ERROR_SECURITY_GATEWAY_SMARTCARD_REQUIRED", meaning: "The RD Gateway requires a smart card.", stage: "gateway_auth", causes: &[I::GatewayAccountRestricted] },
    Entry { code: 0x300002D, name: "ERROR_SECURITY_SMARTCARD_UNAVAIL", meaning: "No smart card is available.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x300002F, name: "ERROR_SECURITY_FIREWALL_NOAUTH", meaning: "A firewall between the client and the RD Gateway refused the connection.", stage: "gateway_tcp", causes: &[I::GatewayUnreachable, I::GatewayMethodsBlocked] },
    Entry { code: 0x3000030, name: "ERROR_SECURITY_FIREWALL_AUTH", meaning: "A firewall between the client and the RD Gateway asks for authentication.", stage: "gateway_http", causes: &[I::GatewayMethodsBlocked] },
    Entry { code: 0x3000032, name: "ERROR_NO_INPUT", meaning: "No credentials were given for the RD Gateway.", stage: "gateway_auth", causes: &[] },
    Entry { code: 0x3000033, name: "ERROR_TIMEOUT", meaning: "The connection to the RD Gateway timed out.", stage: "gateway_tcp / gateway_http", causes: &[I::GatewayUnreachable, I::GatewayUnavailable] },
    Entry { code: 0x3000034, name: "ERROR_SECURITY_GATEWAY_COOKIE_INVALID", meaning: "The RD Gateway's authentication cookie (PAA) is not valid.", stage: "gateway_tunnel", causes: &[I::GatewayRefused] },
    Entry { code: 0x3000035, name: "ERROR_SECURITY_GATEWAY_COOKIE_REJECTED", meaning: "The RD Gateway rejected the authentication cookie (PAA).", stage: "gateway_tunnel", causes: &[I::GatewayRefused] },
    Entry { code: 0x3000037, name: "ERROR_SECURITY_GATEWAY_AUTH_METHOD", meaning: "The RD Gateway does not accept this authentication method (password vs smart card).", stage: "gateway_auth / gateway_tunnel", causes: &[I::GatewayAccountRestricted, I::GatewayRefused] },
    Entry { code: 0x3000038, name: "ERROR_SECURITY_USER_PERIOD_AUTH", meaning: "The RD Gateway's periodic re-authentication failed.", stage: "after gateway_channel", causes: &[I::GatewayAuthFailed] },
    Entry { code: 0x3000039, name: "ERROR_SECURITY_USER_PERIOD_AUTHZ", meaning: "The RD Gateway's periodic re-authorization failed.", stage: "after gateway_channel", causes: &[I::GatewayPolicyDenied] },
    Entry { code: 0x300003B, name: "ERROR_SECURITY_GATEWAY_POLICY", meaning: "The RD Gateway's policy refuses the connection.", stage: "gateway_tunnel / gateway_channel", causes: &[I::GatewayPolicyDenied, I::GatewayResourceDenied] },
    Entry { code: 0x300003C, name: "ERROR_SECURITY_SMARTCARD_CERTIFICATE", meaning: "The smart card's certificate is not accepted.", stage: "gateway_auth (smart card)", causes: &[] },
    Entry { code: 0x300003D, name: "ERROR_LOGON_FIRST", meaning: "The user must log on first.", stage: "gateway_auth", causes: &[] },
    Entry { code: 0x300003E, name: "ERROR_AUTH_LOGON_FIRST", meaning: "The user must authenticate first.", stage: "gateway_auth", causes: &[] },
    Entry { code: 0x300003F, name: "ERROR_SESSION_ENDED", meaning: "The session through the RD Gateway ended.", stage: "after gateway_channel", causes: &[] },
    Entry { code: 0x3000040, name: "ERROR_SESSION_ENDED_AUTH", meaning: "The session through the RD Gateway ended: its authentication expired.", stage: "after gateway_channel", causes: &[] },
    Entry { code: 0x3000041, name: "ERROR_SECURITY_GATEWAY_NAP", meaning: "The client failed the RD Gateway's health (NAP) policy.", stage: "gateway_tunnel", causes: &[I::GatewayPolicyDenied, I::GatewayRefused] },
    Entry { code: 0x3000042, name: "ERROR_COOKIE_SIZE", meaning: "The authentication cookie is too large.", stage: "gateway_tunnel", causes: &[I::GatewayRefused] },
    Entry { code: 0x3000044, name: "ERROR_PROXY_CONFIG", meaning: "The client's proxy configuration is wrong.", stage: "gateway_tcp", causes: &[I::GatewayUnreachable] },
    Entry { code: 0x3000045, name: "ERROR_NO_PERMISSION", meaning: "The user has no permission.", stage: "gateway_tunnel / gateway_channel", causes: &[I::GatewayPolicyDenied, I::GatewayResourceDenied] },
    Entry { code: 0x3000046, name: "ERROR_NO_RESOURCES", meaning: "No resources are available.", stage: "gateway_channel", causes: &[I::GatewayResourceDenied] },
    Entry { code: 0x3000047, name: "ERROR_RESOURCE_ACCESS", meaning: "The user may not access this resource (an RD RAP refuses).", stage: "gateway_channel", causes: &[I::GatewayResourceDenied] },
    Entry { code: 0x3000049, name: "ERROR_UPGRADE_CLIENT2", meaning: "The client must be upgraded.", stage: "gateway_http", causes: &[] },
    Entry { code: 0x300004A, name: "ERROR_SECURITY_NETWORK_HTTPS", meaning: "The HTTPS connection to the RD Gateway failed.", stage: "gateway_tls", causes: &[I::GatewayTlsFailed, I::GatewayCertInvalid] },
    Entry { code: 0x300004B, name: "ERROR_TEMP_FAIL", meaning: "A temporary failure.", stage: "any gateway stage", causes: &[I::GatewayUnavailable] },
    Entry { code: 0x300004C, name: "ERROR_SECURITY_USER_MISMATCH", meaning: "The user does not match.", stage: "gateway_auth", causes: &[I::GatewayAuthFailed] },
];

/// An mstsc gateway disconnect reason (0x3000001 ..), if it is one rdprobe knows.
pub fn disconnect_reason(code: u32) -> Option<Explanation> {
    let t = TABLE.iter().find(|t| t.code == code)?;
    Some(Explanation {
        kind: Kind::MstscDisconnectReason,
        code: both(code),
        name: Some(t.name.to_owned()),
        meaning: t.meaning.to_owned(),
        stage: t.stage,
        causes: t.causes.iter().map(|i| cause(*i)).collect(),
        source: DISC_SOURCE,
        known: true,
    })
}

/// Whether `code` is in mstsc's gateway family (0x3000000 ..= 0x30000FF).
pub fn is_gateway_family(code: u32) -> bool {
    code >> 8 == 0x30000
}

/// The findings an E_PROXY code leads to.
fn proxy_causes(code: ProxyError) -> &'static [I] {
    match code {
        ProxyError::E_PROXY_NAP_ACCESSDENIED | ProxyError::E_PROXY_REAUTH_CAP_FAILED => {
            &[I::GatewayPolicyDenied]
        }
        ProxyError::E_PROXY_RAP_ACCESSDENIED | ProxyError::E_PROXY_REAUTH_RAP_FAILED => {
            &[I::GatewayResourceDenied]
        }
        ProxyError::E_PROXY_TS_CONNECTFAILED => &[I::GatewayTargetUnreachable],
        ProxyError::E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD => {
            &[I::GatewayAccountRestricted, I::GatewayRefused]
        }
        ProxyError::E_PROXY_NOCERTAVAILABLE => &[I::GatewayTlsFailed],
        _ => &[I::GatewayRefused],
    }
}

/// An E_PROXY_* code, if it is one.
pub fn proxy_error(code: u32) -> Option<Explanation> {
    let e = ProxyError(code);
    let name = e.name()?;
    let stage = match e {
        ProxyError::E_PROXY_NAP_ACCESSDENIED
        | ProxyError::E_PROXY_CAPABILITYMISMATCH
        | ProxyError::E_PROXY_QUARANTINE_ACCESSDENIED
        | ProxyError::E_PROXY_COOKIE_BADPACKET
        | ProxyError::E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED
        | ProxyError::E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD
        | ProxyError::E_PROXY_MAXCONNECTIONSREACHED => {
            "gateway_tunnel (handshake, tunnel create or tunnel authorization)"
        }
        ProxyError::E_PROXY_RAP_ACCESSDENIED | ProxyError::E_PROXY_TS_CONNECTFAILED => {
            "gateway_channel (the channel to the target)"
        }
        _ => "any gateway stage, or the running session",
    };
    Some(Explanation {
        kind: Kind::GatewayError,
        code: format!("0x{code:08X}"),
        name: Some(name.to_owned()),
        meaning: e.meaning().unwrap_or_default().to_owned(),
        stage,
        causes: proxy_causes(e).iter().map(|i| cause(*i)).collect(),
        source: PROXY_SOURCE,
        known: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two examples: mstsc's 50331675 and FreeRDP's 0x800759DB.
    #[test]
    fn the_gateway_codes_users_quote() {
        let e = disconnect_reason(50_331_675).unwrap();
        assert_eq!(
            e.name.as_deref(),
            Some("ERROR_SECURITY_GATEWAY_NOT_PERMITTED")
        );
        assert_eq!(e.causes[0].finding, I::GatewayResourceDenied);
        assert!(e.causes[0].check.contains("--gateway"));
        let p = proxy_error(0x8007_59DB).unwrap();
        assert_eq!(p.name.as_deref(), Some("E_PROXY_NAP_ACCESSDENIED"));
        assert_eq!(p.causes[0].finding, I::GatewayPolicyDenied);
        assert!(proxy_error(0x8007_59DC).is_none());
        assert!(is_gateway_family(0x300_0099) && !is_gateway_family(0x2_000D));
    }
}
