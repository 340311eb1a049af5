//! What mstsc most likely shows for an outcome: the disconnect reason of
//! `IMsTscAxEvents::OnDisconnected` (`discReason`, e.g. 0x904 "socket closed") and the extended
//! reason (`ExtendedDisconnectReasonCode`, which carries the server's Set Error Info code, e.g.
//! 0x7). Sources: the public `IMsTscAxEvents::OnDisconnected` and `ExtendedDisconnectReasonCode`
//! documentation (learn.microsoft.com, Remote Desktop Services API) and MS-RDPBCGR 2.2.5.1.1.
//! The mapping from a finding to mstsc's code is our inference from those tables, which is why
//! the JSON says "most likely".

use serde::Serialize;

use super::{Finding, FindingId, Severity};

/// mstsc's view of an outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MstscView {
    /// `discReason` in hex (`0x904`), or null when mstsc shows a dialog without one.
    pub disconnect_reason: Option<String>,
    /// `ExtendedDisconnectReasonCode` in hex: the Set Error Info code, when the server sent one.
    pub extended_reason: Option<String>,
    /// What the code means, and why this outcome leads to it.
    pub meaning: &'static str,
}

/// `discReason` values (IMsTscAxEvents::OnDisconnected) used below.
const DNS_LOOKUP_FAILED: u32 = 0x104;
const CONNECTION_TIMED_OUT: u32 = 0x108;
const SOCKET_CONNECT_FAILED: u32 = 0x204;
const LICENSING_FAILED: u32 = 0x808;
const SOCKET_CLOSED: u32 = 0x904;

/// The view of a result from its findings, whether it stopped, and, when the server sent one,
/// its Set Error Info code; None when nothing stopped it (mstsc connects).
pub fn view(findings: &[Finding], stopped: bool, error_info: Option<u32>) -> Option<MstscView> {
    let hex = |v: u32| Some(format!("0x{v:x}"));
    if let Some(code) = error_info.filter(|c| !matches!(c, 0 | 0xB | 0xC)) {
        return Some(MstscView {
            disconnect_reason: hex(SOCKET_CLOSED),
            extended_reason: hex(code),
            meaning: "\"socket closed\" (0x904) with the server's reason as the extended code: the server ended the connection after telling why",
        });
    }
    let failed = |id: FindingId| {
        findings
            .iter()
            .any(|f| f.id == id && f.severity == Severity::Error)
    };
    if let Some(v) = gateway(&failed) {
        return Some(v);
    }
    let (reason, meaning) = if failed(FindingId::DnsUnresolved) {
        (
            DNS_LOOKUP_FAILED,
            "\"DNS name lookup failure\": the name does not resolve",
        )
    } else if [
        FindingId::TcpRefused,
        FindingId::TcpTimeout,
        FindingId::TcpUnreachable,
        FindingId::SynUnanswered,
    ]
    .into_iter()
    .any(failed)
    {
        (
            SOCKET_CONNECT_FAILED,
            "\"socket connect failed\" (0x204, \"Remote Desktop can't connect to the remote computer\"): nothing accepted the TCP connection",
        )
    } else if failed(FindingId::X224NoResponse) {
        (
            CONNECTION_TIMED_OUT,
            "\"connection timed out\": the server accepted TCP but never answered the Connection Request",
        )
    } else if failed(FindingId::LicensingError) {
        (
            LICENSING_FAILED,
            "\"licensing failed\": the licensing exchange ended in an error",
        )
    } else if [
        FindingId::NegSslRequired,
        FindingId::NegSslNotAllowed,
        FindingId::NegSslCertNotOnServer,
        FindingId::NegInconsistentFlags,
        FindingId::NegHybridRequired,
        FindingId::NegSslWithUserAuthRequired,
    ]
    .into_iter()
    .any(failed)
    {
        return Some(MstscView {
            disconnect_reason: None,
            extended_reason: None,
            meaning: "mstsc shows a dialog naming the negotiation failure (for HYBRID_REQUIRED_BY_SERVER: \"The remote computer requires Network Level Authentication\") rather than a disconnect code",
        });
    } else if stopped && findings.iter().any(|f| f.severity == Severity::Error) {
        (
            SOCKET_CLOSED,
            "\"socket closed\" (0x904) without an extended reason: the server or a middlebox closed the connection during the handshake",
        )
    } else {
        return None;
    };
    Some(MstscView {
        disconnect_reason: hex(reason),
        extended_reason: None,
        meaning,
    })
}

/// mstsc's view of an RD Gateway failure, the first in timeline order (mstsc stops there).
/// The gateway disconnect reasons are rdpgw's list of mstsc's codes; 0x300001B's text is the
/// one mstsc shows for a refused resource (mRemoteNG issue 2486). Where no code is known to
/// go with a failure, the view says what mstsc shows instead.
fn gateway(failed: &dyn Fn(FindingId) -> bool) -> Option<MstscView> {
    use FindingId as I;
    const TABLE: [(I, Option<&str>, &str); 12] = [
        (I::GatewayUnreachable, None, "mstsc says it cannot connect to the RD Gateway (its address is unreachable or wrong)"),
        (I::GatewayTlsFailed, None, "mstsc says it cannot connect to the RD Gateway (a TLS or certificate error)"),
        (I::GatewayCertInvalid, None, "a certificate error for the RD Gateway, which mstsc does not let the user pass: 0x3000005 (not trusted), 0x3000006 (another name) or 0x3000007 (expired); the evidence says which"),
        (I::GatewayMethodsBlocked, None, "mstsc says the RD Gateway is unavailable (a proxy in front answers instead)"),
        (I::GatewayHttpTransportDisabled, None, "mstsc falls back to RPC over HTTP; it fails there if RPC over HTTP is off too"),
        (I::GatewayUnavailable, None, "mstsc says the RD Gateway is temporarily unavailable (0x300000D is its code for that)"),
        (I::GatewayAuthFailed, None, "mstsc asks for the gateway credentials again (\"your credentials did not work\")"),
        (I::GatewayAccountRestricted, None, "mstsc asks for other credentials or a smart card for the RD Gateway"),
        (I::GatewayPolicyDenied, Some("0x300001c"), "ERROR_SECURITY_GATEWAY_UNAUTHORIZED (most likely): the user is not authorized to use the RD Gateway (an RD CAP refuses)"),
        (I::GatewayResourceDenied, Some("0x300001b"), "ERROR_SECURITY_GATEWAY_NOT_PERMITTED (50331675): \"your user account is not listed in the RD Gateway's permission list, or the remote computer is named in NetBIOS format\" (an RD RAP refuses)"),
        (I::GatewayTargetUnreachable, None, "mstsc says the remote computer cannot be reached through the RD Gateway (it is off, or the gateway cannot reach it)"),
        (I::GatewayRefused, None, "mstsc shows the RD Gateway's refusal with its code"),
    ];
    TABLE
        .iter()
        .find(|(id, ..)| failed(*id))
        .map(|(_, code, meaning)| MstscView {
            disconnect_reason: code.map(str::to_owned),
            extended_reason: None,
            meaning,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::finding;

    #[test]
    fn the_help_desk_case_is_0x904_extended_0x7() {
        let v = view(&[], true, Some(7)).unwrap();
        assert_eq!(v.disconnect_reason.as_deref(), Some("0x904"));
        assert_eq!(v.extended_reason.as_deref(), Some("0x7"));
        let refused = view(&[finding(FindingId::TcpRefused, "")], true, None).unwrap();
        assert_eq!(refused.disconnect_reason.as_deref(), Some("0x204"));
        assert_eq!(
            view(&[finding(FindingId::CertSelfSigned, "")], false, None),
            None
        );
        assert_eq!(view(&[], false, Some(0xC)), None, "a user's own logoff");
        let strict = finding(FindingId::NegProtocolNotRequested, "");
        assert_eq!(
            view(std::slice::from_ref(&strict), false, None),
            None,
            "it did not stop"
        );
        assert!(view(&[strict], true, None).is_some());
        let nla = view(&[finding(FindingId::NegHybridRequired, "")], true, None).unwrap();
        assert_eq!(nla.disconnect_reason, None);
        let rap = view(&[finding(FindingId::GatewayResourceDenied, "")], true, None).unwrap();
        assert_eq!(rap.disconnect_reason.as_deref(), Some("0x300001b"));
    }
}
