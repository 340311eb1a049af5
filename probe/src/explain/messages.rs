//! Messages mstsc shows, matched loosely: the words of the input against the key words of each
//! message (case, punctuation and word order do not matter; a fragment is enough). Each entry
//! names the public Microsoft page that documents the message and its causes.

use super::{cause, Explanation, Kind};
use crate::diagnose::FindingId as I;

struct Entry {
    /// The message as mstsc shows it (its start, as the documentation quotes it).
    text: &'static str,
    /// The words that identify it (lowercase); a match needs most of them.
    keys: &'static [&'static str],
    meaning: &'static str,
    stage: &'static str,
    causes: &'static [I],
    source: &'static str,
}

const TABLE: &[Entry] = &[
    Entry {
        text: "An authentication error has occurred. The function requested is not supported.",
        keys: &["authentication", "error", "function", "requested", "not", "supported", "credssp", "encryption", "oracle", "remediation"],
        meaning: "the client and the server disagree on CredSSP since the CVE-2018-0886 updates: one side is unpatched and the other's \"Encryption Oracle Remediation\" policy refuses it (or NLA is required and the client cannot do CredSSP)",
        stage: "credssp",
        causes: &[I::CredsspUnpatched, I::NegHybridRequired, I::NtlmRefused, I::CredsspFailed],
        source: "Microsoft: \"CredSSP updates for CVE-2018-0886\" (KB4093492) and the troubleshooting article on the CredSSP encryption oracle remediation error (learn.microsoft.com)",
    },
    Entry {
        text: "The remote computer requires Network Level Authentication, which your computer does not support.",
        keys: &["remote", "computer", "requires", "network", "level", "authentication", "nla", "does", "not", "support"],
        meaning: "the server refuses every request without CredSSP (HYBRID_REQUIRED_BY_SERVER) and the client did not offer it",
        stage: "x224",
        causes: &[I::NegHybridRequired, I::NoLogonServers],
        source: "MS-RDPBCGR 2.2.1.2.2 (RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER); learn.microsoft.com, Remote Desktop troubleshooting (Network Level Authentication)",
    },
    Entry {
        text: "Because of a protocol error, this session will be disconnected.",
        keys: &["because", "protocol", "error", "session", "disconnected", "code"],
        meaning: "the server (or the client) received a PDU it could not accept: the Set Error Info protocol codes 0x10C9..0x1196 name which; a middlebox rewriting or cutting the stream, or a client/server feature mismatch",
        stage: "after MCS (capabilities or the active session)",
        causes: &[I::ServerErrorInfo, I::InjectedReset, I::PacketLoss],
        source: "MS-RDPBCGR 2.2.5.1.1 (the RDP-specific Set Error Info codes); learn.microsoft.com, Remote Desktop troubleshooting",
    },
    Entry {
        text: "Remote Desktop can't connect to the remote computer for one of these reasons: Remote access to the server is not enabled; The remote computer is turned off; The remote computer is not available on the network.",
        keys: &["remote", "desktop", "can't", "cant", "cannot", "connect", "one", "these", "reasons", "turned", "off", "available", "network", "access", "enabled"],
        meaning: "no RDP answer to the connection: nothing listens, a firewall drops it, the host is off or unreachable (discReason 0x204)",
        stage: "tcp",
        causes: &[I::TcpRefused, I::TcpTimeout, I::TcpUnreachable, I::DnsUnresolved, I::NotRdp, I::WrongHost],
        source: "learn.microsoft.com: \"Remote Desktop can't connect to the remote computer\" troubleshooting (General Remote Desktop connection troubleshooting)",
    },
    Entry {
        text: "The connection was denied because the user account is not authorized for remote login.",
        keys: &["connection", "denied", "user", "account", "not", "authorized", "remote", "login"],
        meaning: "the user authenticated but is not allowed to log on through Remote Desktop",
        stage: "credssp (Early User Authorization) or after the logon",
        causes: &[I::UserNotAuthorized, I::InsufficientPrivileges, I::LogonRestricted],
        source: "learn.microsoft.com: Remote Desktop troubleshooting, \"The connection was denied because the user account is not authorized for remote login\"",
    },
    Entry {
        text: "To sign in remotely, you need the right to sign in through Remote Desktop Services.",
        keys: &["sign", "remotely", "need", "right", "through", "remote", "desktop", "services"],
        meaning: "the user lacks \"Allow log on through Remote Desktop Services\" (or has \"Deny log on ...\"), or is not in Remote Desktop Users",
        stage: "after the logon (Set Error Info 9) or credssp",
        causes: &[I::InsufficientPrivileges, I::UserNotAuthorized, I::LogonRestricted],
        source: "learn.microsoft.com: Remote Desktop troubleshooting, \"To sign in remotely, you need the right to sign in through Remote Desktop Services\"",
    },
    Entry {
        text: "The remote session was disconnected because there are no Remote Desktop License Servers available to provide a license.",
        keys: &["remote", "session", "disconnected", "no", "license", "servers", "available", "provide", "licensing"],
        meaning: "the session host cannot get a license: no license server, no CALs left, or the grace period is over",
        stage: "licensing",
        causes: &[I::LicensingError],
        source: "learn.microsoft.com: \"Troubleshoot RD Licensing connection problems\"; MS-RDPBCGR 2.2.5.1.1 (ERRINFO_LICENSE_*)",
    },
    Entry {
        text: "The logon attempt failed.",
        keys: &["logon", "attempt", "failed", "credentials", "did", "not", "work"],
        meaning: "the server rejected the user name or password (or the account's state)",
        stage: "credssp",
        causes: &[I::LogonFailure, I::KerberosPreauthFailed, I::AccountLocked, I::KerberosClientRevoked, I::AccountDisabled, I::KerberosClientUnknown, I::PasswordExpired, I::LogonRestricted, I::AuthFailed],
        source: "learn.microsoft.com: Remote Desktop troubleshooting (authentication errors); MS-CSSP 2.2.1 errorCode",
    },
    Entry {
        text: "Your credentials did not work.",
        keys: &["your", "credentials", "did", "not", "work", "remote", "computer"],
        meaning: "the server rejected the credentials mstsc sent",
        stage: "credssp",
        causes: &[I::LogonFailure, I::KerberosPreauthFailed, I::AccountLocked, I::PasswordExpired, I::NtlmRefused, I::AuthFailed],
        source: "learn.microsoft.com: Remote Desktop troubleshooting (authentication errors)",
    },
    Entry {
        text: "The identity of the remote computer cannot be verified.",
        keys: &["identity", "remote", "computer", "cannot", "verified", "certificate", "trusted", "name", "problems"],
        meaning: "the server's certificate is not trusted, has another name, or has expired: mstsc asks before it goes on",
        stage: "tls",
        causes: &[I::CertNameMismatch, I::CertExpired, I::CertSelfSigned, I::WrongHost, I::CertNotYetValid],
        source: "learn.microsoft.com: Remote Desktop certificate warnings (\"The identity of the remote computer cannot be verified\")",
    },
    Entry {
        text: "An internal error has occurred.",
        keys: &["internal", "error", "has", "occurred"],
        meaning: "mstsc's generic error (discReason 0x4 / 0x408): most often the TLS stage, an unusable certificate or private key, or a TLS version or cipher mismatch",
        stage: "x224 / tls",
        causes: &[I::TlsHandshakeFailed, I::NegSslCertNotOnServer, I::TlsLegacyOnly, I::CertWeak],
        source: "learn.microsoft.com: \"An internal error has occurred\" when connecting with Remote Desktop (troubleshooting)",
    },
    Entry {
        text: "This computer can't connect to the remote computer.",
        keys: &["this", "computer", "can't", "cant", "cannot", "connect", "remote", "computer", "try", "again"],
        meaning: "the connection was set up and then dropped during the handshake: often TLS, a security layer mismatch or the service closing",
        stage: "x224 / tls",
        causes: &[I::X224Closed, I::TlsHandshakeFailed, I::TlsLegacyOnly, I::NegSslNotAllowed, I::ClosedByServer],
        source: "learn.microsoft.com: General Remote Desktop connection troubleshooting",
    },
    Entry {
        text: "There is a time and/or date difference between the client and server.",
        keys: &["time", "date", "difference", "between", "client", "server"],
        meaning: "Kerberos refused the logon because the clocks differ by more than 5 minutes (KRB_AP_ERR_SKEW, SEC_E_TIME_SKEW)",
        stage: "kerberos / credssp",
        causes: &[I::KerberosClockSkew, I::ClockSkew],
        source: "the SSPI message of SEC_E_TIME_SKEW (MS-ERREF 2.1); RFC 4120 7.5.9 KRB_AP_ERR_SKEW",
    },
    Entry {
        text: "The target principal name is incorrect.",
        keys: &["target", "principal", "name", "incorrect", "account"],
        meaning: "the Kerberos ticket was made for another account than the server's (SEC_E_WRONG_PRINCIPAL): a TERMSRV SPN registered on two accounts, a stale computer password, or a DNS name that points at another machine",
        stage: "credssp",
        causes: &[I::KerberosTicketRejected, I::WrongHost, I::KerberosSpnUnknown],
        source: "the SSPI message of SEC_E_WRONG_PRINCIPAL (MS-ERREF 2.1); MS-KILE (KRB_AP_ERR_MODIFIED)",
    },
    Entry {
        text: "The Local Security Authority cannot be contacted.",
        keys: &["local", "security", "authority", "cannot", "contacted", "lsa"],
        meaning: "CredSSP could not complete: most often an expired password that must be changed (NLA cannot change it), or no domain controller reachable",
        stage: "credssp",
        causes: &[I::PasswordExpired, I::KerberosPasswordExpired, I::NoLogonServers, I::KdcUnreachable],
        source: "learn.microsoft.com: Remote Desktop troubleshooting (\"The Local Security Authority cannot be contacted\")",
    },
    Entry {
        text: "The remote session was disconnected because another user has connected to the session.",
        keys: &["another", "user", "connected", "session", "disconnected"],
        meaning: "a new connection took over the session (Set Error Info 5)",
        stage: "active",
        causes: &[I::SessionReplaced],
        source: "MS-RDPBCGR 2.2.5.1.1 ERRINFO_DISCONNECTED_BY_OTHERCONNECTION",
    },
    Entry {
        text: "Your Remote Desktop Services session has ended.",
        keys: &["remote", "desktop", "services", "session", "ended", "administrator", "time", "limit", "idle"],
        meaning: "the server ended the session: an administrator, a session time limit or an idle limit",
        stage: "active",
        causes: &[I::SessionTimeLimit, I::ServerShuttingDown, I::ServerErrorInfo],
        source: "MS-RDPBCGR 2.2.5.1.1 (ERRINFO_IDLE_TIMEOUT, ERRINFO_LOGON_TIMEOUT, ERRINFO_RPC_INITIATED_DISCONNECT)",
    },
];

/// Words that say nothing about which message it is.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "is", "to", "be", "will", "has", "have", "for", "and", "or", "on",
    "in", "it", "been", "was", "at", "by", "with", "please", "error", "code",
];

/// The input's words, lowercase, without stopwords and quoted codes (`0x112f`).
fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w) && !w.starts_with("0x"))
        .map(str::to_owned)
        .collect()
}

/// How well `input` matches an entry: the share of the input's words that are its key words,
/// and how many key words were hit.
fn score(input: &[String], e: &Entry) -> (usize, usize) {
    let hits = input
        .iter()
        .filter(|w| e.keys.contains(&w.as_str()))
        .count();
    let share = if input.is_empty() {
        0
    } else {
        hits * 100 / input.len()
    };
    (share, hits)
}

/// The messages that match `text`, best first (at most two).
pub fn explain(text: &str) -> Vec<Explanation> {
    let input = words(text);
    let mut ranked: Vec<(usize, usize, &Entry)> = TABLE
        .iter()
        .map(|e| {
            let (share, hits) = score(&input, e);
            (share, hits, e)
        })
        .filter(|(share, hits, _)| *hits >= 2 && *share >= 50)
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse((r.1, r.0)));
    // A second reading only when it fits as well as the first.
    let best = ranked.first().map_or((0, 0), |r| (r.1, r.0));
    ranked
        .into_iter()
        .filter(|r| (r.1, r.0) >= best)
        .take(2)
        .map(|(_, _, e)| Explanation {
            kind: Kind::MstscMessage,
            code: e.text.to_owned(),
            name: None,
            meaning: e.meaning.to_owned(),
            stage: e.stage,
            causes: e.causes.iter().map(|i| cause(*i)).collect(),
            source: e.source,
            known: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(s: &str) -> Option<String> {
        explain(s).first().map(|e| e.code.clone())
    }

    #[test]
    fn messages_match_loosely() {
        let oracle = explain("function requested is not supported");
        assert!(
            oracle[0].code.starts_with("An authentication error"),
            "{oracle:?}"
        );
        assert_eq!(oracle[0].causes[0].finding, I::CredsspUnpatched);
        assert!(
            first("THE REMOTE COMPUTER REQUIRES NETWORK LEVEL AUTHENTICATION")
                .unwrap()
                .contains("Network Level Authentication")
        );
        assert!(first(
            "because of a protocol error (code: 0x112f) the session will be disconnected"
        )
        .unwrap()
        .starts_with("Because of a protocol error"));
        assert!(first("no remote desktop license servers available")
            .unwrap()
            .contains("License Servers"));
        assert!(first("identity of the remote computer cannot be verified")
            .unwrap()
            .starts_with("The identity"));
        assert_eq!(first("hello world"), None);
        assert_eq!(first(""), None);
    }
}
