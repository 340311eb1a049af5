//! mstsc's disconnect reasons: the `discReason` of `IMsTscAxEvents::OnDisconnected`, which mstsc
//! shows in its dialogs ("Error code: 0x904"), sometimes in decimal (2308). The names and
//! meanings are Microsoft's (learn.microsoft.com, "IMsTscAxEvents::OnDisconnected method" and
//! the older "OnConnectionTerminated" list); where each arises and its causes are rdprobe's
//! reading; the SSL_ERR_* codes (CredSSP / NLA failures) are on the same Microsoft page. Codes
//! not in those lists are "not known", with the family the documented codes of the same low
//! byte share (an observation on the table, not a documented rule).

use super::{both, cause, Explanation, Kind};
use crate::diagnose::FindingId as I;

const SOURCE: &str = "learn.microsoft.com: IMsTscAxEvents::OnDisconnected method (discReason) and OnConnectionTerminated (the older list)";

struct Entry {
    code: u32,
    name: &'static str,
    meaning: &'static str,
    stage: &'static str,
    causes: &'static [I],
}

const TABLE: &[Entry] = &[
    Entry { code: 0x0, name: "disconnectReasonNoInfo", meaning: "No information is available.", stage: "any", causes: &[] },
    Entry { code: 0x1, name: "disconnectReasonLocalNotError", meaning: "Local disconnection (not an error).", stage: "any: the user or the client ended it", causes: &[] },
    Entry { code: 0x2, name: "disconnectReasonRemoteByUser", meaning: "Remote disconnection by user (not an error).", stage: "active", causes: &[] },
    Entry { code: 0x3, name: "disconnectReasonByServer", meaning: "Remote disconnection by server (not an error code; the extended reason says why).", stage: "after MCS", causes: &[I::ServerErrorInfo, I::ServerDeniedConnection, I::SessionTimeLimit, I::SessionReplaced] },
    Entry { code: 0x104, name: "disconnectReasonDNSLookupFailed", meaning: "DNS name lookup failure.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x106, name: "disconnectReasonOutOfMemory", meaning: "Out of memory (on the client).", stage: "any", causes: &[] },
    Entry { code: 0x108, name: "disconnectReasonConnectionTimedOut", meaning: "Connection timed out.", stage: "tcp to the end of the connection sequence", causes: &[I::X224NoResponse, I::TcpTimeout, I::ServerSilent, I::PacketLoss] },
    Entry { code: 0x204, name: "disconnectReasonSocketConnectFailed", meaning: "Windows Sockets connect failed (mstsc: \"Remote Desktop can't connect to the remote computer for one of these reasons\").", stage: "tcp", causes: &[I::TcpRefused, I::TcpTimeout, I::TcpUnreachable, I::DnsMultipleAddresses, I::WrongHost] },
    Entry { code: 0x206, name: "disconnectReasonOutOfMemory2", meaning: "Out of memory (on the client).", stage: "any", causes: &[] },
    Entry { code: 0x208, name: "disconnectReasonHostNotFound", meaning: "Host not found error.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x304, name: "disconnectReasonWinsockSendFailed", meaning: "Windows Sockets send call failed.", stage: "any after tcp", causes: &[I::ResetByServer, I::InjectedReset, I::PacketLoss] },
    Entry { code: 0x306, name: "disconnectReasonOutOfMemory3", meaning: "Out of memory (on the client).", stage: "any", causes: &[] },
    Entry { code: 0x308, name: "disconnectReasonInvalidIPAddr", meaning: "The IP address specified is not valid.", stage: "before tcp (the address as typed)", causes: &[] },
    Entry { code: 0x404, name: "disconnectReasonSocketRecvFailed", meaning: "Windows Sockets recv call failed.", stage: "any after tcp", causes: &[I::ResetByServer, I::InjectedReset, I::PacketLoss] },
    Entry { code: 0x406, name: "disconnectReasonInvalidSecurityData", meaning: "Invalid security data.", stage: "mcs / security_exchange (Standard RDP Security)", causes: &[I::WeakRdpEncryption, I::RdpSecurityAllowed] },
    Entry { code: 0x408, name: "disconnectReasonInternalError", meaning: "Internal error (mstsc: \"An internal error has occurred\"; often the TLS stage: an unusable certificate or a protocol mismatch).", stage: "x224 / tls", causes: &[I::TlsHandshakeFailed, I::NegSslCertNotOnServer, I::TlsLegacyOnly, I::CertWeak] },
    Entry { code: 0x506, name: "disconnectReasonInvalidEncryption", meaning: "The encryption method specified is not valid.", stage: "mcs (Standard RDP Security)", causes: &[I::WeakRdpEncryption] },
    Entry { code: 0x508, name: "disconnectReasonDNSLookupFailed2", meaning: "DNS lookup failed.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x604, name: "disconnectReasonGetHostByNameFailed", meaning: "Windows Sockets gethostbyname call failed.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x606, name: "disconnectReasonInvalidServerSecurityInfo", meaning: "Invalid server security data.", stage: "mcs (the server's security data in the Connect-Response)", causes: &[I::RdpSecurityAllowed] },
    Entry { code: 0x608, name: "disconnectReasonTimerError", meaning: "Internal timer error.", stage: "any", causes: &[] },
    Entry { code: 0x704, name: "disconnectReasonTimeoutOccurred", meaning: "Time-out occurred.", stage: "the connection sequence", causes: &[I::ServerSilent, I::X224NoResponse, I::PacketLoss] },
    Entry { code: 0x706, name: "disconnectReasonServerCertificateUnpackErr", meaning: "Failed to unpack the server certificate.", stage: "mcs (Standard RDP Security's server certificate)", causes: &[I::RdpSecurityAllowed] },
    Entry { code: 0x804, name: "disconnectReasonInvalidIP", meaning: "The IP address specified is not valid.", stage: "before tcp (the address as typed)", causes: &[] },
    Entry { code: 0x807, name: "SSL_ERR_LOGON_FAILURE", meaning: "Login failed (CredSSP: the server refused the credentials).", stage: "credssp", causes: &[I::LogonFailure, I::AuthFailed] },
    Entry { code: 0x808, name: "disconnectReasonLicensingFailed", meaning: "Licensing failed.", stage: "licensing", causes: &[I::LicensingError] },
    Entry { code: 0x904, name: "disconnectReasonAtClientWinsockFDCLOSE", meaning: "Socket closed: the server (or a middlebox) closed the connection; with an extended reason, the server said why first.", stage: "any after tcp; with an extended reason, after MCS", causes: &[I::ServerDeniedConnection, I::X224Closed, I::CredsspFailed, I::AuthFailed, I::CredsspUnpatched, I::ClosedByServer, I::ResetByServer, I::InjectedReset, I::LicensingError] },
    Entry { code: 0x906, name: "disconnectReasonInternalSecurityError", meaning: "Internal security error.", stage: "tls / credssp", causes: &[I::TlsHandshakeFailed, I::CredsspUnpatched, I::CertWeak] },
    Entry { code: 0x908, name: "disconnectReasonLicensingTimeout", meaning: "Licensing time-out.", stage: "licensing", causes: &[I::ServerSilent, I::LicensingError] },
    Entry { code: 0xA06, name: "disconnectReasonInternalSecurityError2", meaning: "Internal security error.", stage: "tls / credssp", causes: &[I::TlsHandshakeFailed, I::CredsspUnpatched] },
    Entry { code: 0xA07, name: "SSL_ERR_NO_SUCH_USER", meaning: "The specified user has no account.", stage: "credssp", causes: &[I::LogonFailure] },
    Entry { code: 0xB06, name: "disconnectReasonEncryptionError", meaning: "Encryption error.", stage: "after MCS (Standard RDP Security)", causes: &[I::WeakRdpEncryption] },
    Entry { code: 0xB07, name: "SSL_ERR_ACCOUNT_DISABLED", meaning: "The account is disabled.", stage: "credssp", causes: &[I::AccountDisabled] },
    Entry { code: 0xC06, name: "disconnectReasonDecryptionError", meaning: "Decryption error.", stage: "after MCS (Standard RDP Security, or a corrupted stream)", causes: &[I::WeakRdpEncryption, I::InjectedReset, I::PacketLoss] },
    Entry { code: 0xC07, name: "SSL_ERR_ACCOUNT_RESTRICTION", meaning: "The account is restricted (logon hours, workstations, logon type).", stage: "credssp", causes: &[I::LogonRestricted] },
    Entry { code: 0xC08, name: "disconnectReasonClientDecompressionError", meaning: "Decompression error.", stage: "active", causes: &[I::PacketLoss] },
    Entry { code: 0xD07, name: "SSL_ERR_ACCOUNT_LOCKED_OUT", meaning: "The account is locked out.", stage: "credssp", causes: &[I::AccountLocked] },
    Entry { code: 0xE07, name: "SSL_ERR_ACCOUNT_EXPIRED", meaning: "The account is expired.", stage: "credssp", causes: &[I::AccountDisabled] },
    Entry { code: 0xF07, name: "SSL_ERR_PASSWORD_EXPIRED", meaning: "The password is expired.", stage: "credssp", causes: &[I::PasswordExpired] },
    Entry { code: 0x1207, name: "SSL_ERR_PASSWORD_MUST_CHANGE", meaning: "The user password must be changed before logging on for the first time.", stage: "credssp", causes: &[I::PasswordExpired] },
    Entry { code: 0x1607, name: "SSL_ERR_DELEGATION_POLICY", meaning: "The policy does not support delegation of credentials to the target server (CredSSP delegation policy).", stage: "credssp", causes: &[I::CredsspFailed, I::WrongHost] },
    Entry { code: 0x1707, name: "SSL_ERR_POLICY_NTLM_ONLY", meaning: "Delegation of credentials to the target server is not allowed unless mutual authentication has been achieved (NTLM only, no Kerberos).", stage: "credssp", causes: &[I::WrongHost, I::NoLogonServers] },
    Entry { code: 0x1807, name: "SSL_ERR_NO_AUTHENTICATING_AUTHORITY", meaning: "No authority could be contacted for authentication: the domain could be wrong or unreachable, or a trust relationship failed.", stage: "credssp", causes: &[I::NoLogonServers, I::ClockSkew] },
    Entry { code: 0x1B07, name: "SSL_ERR_CERT_EXPIRED", meaning: "The received certificate is expired (or the clocks differ much).", stage: "tls", causes: &[I::CertExpired, I::CertNotYetValid, I::ClockSkew] },
    Entry { code: 0x1C07, name: "SSL_ERR_SMARTCARD_WRONG_PIN", meaning: "An incorrect PIN was presented to the smart card.", stage: "credssp (smart card)", causes: &[] },
    Entry { code: 0x2107, name: "SSL_ERR_FRESH_CRED_REQUIRED_BY_SERVER", meaning: "The server authentication policy does not allow connection requests using saved credentials: the user must enter new credentials.", stage: "credssp / after the logon", causes: &[I::FreshCredentialsRequired] },
    Entry { code: 0x2207, name: "SSL_ERR_SMARTCARD_CARD_BLOCKED", meaning: "The smart card is blocked.", stage: "credssp (smart card)", causes: &[] },
];

/// The family that documented codes with the same low byte share (read off the table above).
fn family(code: u32) -> Option<&'static str> {
    Some(match code & 0xFF {
        0x04 => "codes ending in 04 are network errors (DNS, connect, send, receive, a closed socket, a time-out)",
        0x06 => "codes ending in 06 are security and encryption errors (or the client out of memory)",
        0x07 => "the documented codes ending in 07 are all SSL_ERR_* (CredSSP / NLA: accounts, credentials, certificates, smart cards): look at the tls and credssp stages, and with --user at the NTSTATUS",
        0x08 => "codes ending in 08 are time-outs, internal errors and licensing",
        _ => return None,
    })
}

/// An mstsc disconnect reason.
pub fn explain(code: u32) -> Explanation {
    if let Some(t) = TABLE.iter().find(|t| t.code == code) {
        return Explanation {
            kind: Kind::MstscDisconnectReason,
            code: both(code),
            name: Some(t.name.to_owned()),
            meaning: t.meaning.to_owned(),
            stage: t.stage,
            causes: t.causes.iter().map(|i| cause(*i)).collect(),
            source: SOURCE,
            known: true,
        };
    }
    let meaning = match family(code) {
        Some(f) => format!("not known; the nearest family: {f}"),
        None => "not known: not in Microsoft's discReason list (on Windows, MsTscAx's GetErrorDescription(code, 0) prints mstsc's text for it)".into(),
    };
    Explanation::unknown(Kind::MstscDisconnectReason, both(code), meaning, SOURCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_desk_code_and_its_neighbours() {
        let e = explain(0x904);
        assert_eq!(
            e.name.as_deref(),
            Some("disconnectReasonAtClientWinsockFDCLOSE")
        );
        assert_eq!(e.code, "0x904 (2308)");
        assert_eq!(e.causes[0].finding, I::ServerDeniedConnection);
        assert_eq!(explain(0x204).causes[0].finding, I::TcpRefused);
        let unknown = explain(0x2407);
        assert!(!unknown.known);
        assert!(unknown.meaning.contains("SSL_ERR_"), "{unknown:?}");
        let locked = explain(0xD07);
        assert_eq!(locked.name.as_deref(), Some("SSL_ERR_ACCOUNT_LOCKED_OUT"));
        assert_eq!(locked.causes[0].finding, I::AccountLocked);
        assert!(explain(0x1234_5678).meaning.starts_with("not known"));
        let mut codes: Vec<u32> = TABLE.iter().map(|t| t.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len(), "sorted, no repeats");
    }
}
