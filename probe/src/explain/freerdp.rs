//! FreeRDP's error codes as it prints them (`freerdp_get_last_error`, e.g. `[0x0002000D]`
//! ERRCONNECT_CONNECT_TRANSPORT_FAILED). The code is `class << 16 | type` (`MAKE_FREERDP_ERROR`,
//! FreeRDP `include/freerdp/error.h`): class 1 is ERRINFO, the server's Set Error Info code;
//! class 2 is ERRCONNECT, FreeRDP's own reason (`libfreerdp/core/errconnect.c` holds the
//! messages quoted below). Codes 0x1C and 0x1D came with FreeRDP 3.0 and 3.18, 0x1E only in
//! FreeRDP's master after 3.30 (2.x ends the same server answer as 0x0C). Stages and causes
//! are rdprobe's reading of where FreeRDP raises each (`libfreerdp/core/connection.c`,
//! `nla.c`, `transport.c`).

use super::{both, cause, extended_reason, Explanation, Kind};
use crate::diagnose::FindingId as I;

/// `FREERDP_ERROR_ERRINFO_CLASS`.
pub const ERRINFO_CLASS: u32 = 1;
/// `FREERDP_ERROR_CONNECT_CLASS`.
pub const CONNECT_CLASS: u32 = 2;

/// One ERRCONNECT code: value, name, FreeRDP's message, where it arises, its causes in order.
struct Entry {
    code: u32,
    name: &'static str,
    message: &'static str,
    stage: &'static str,
    causes: &'static [I],
}

const SOURCE: &str = "FreeRDP include/freerdp/error.h (ERRCONNECT_*, MAKE_FREERDP_ERROR) and libfreerdp/core/errconnect.c (the messages)";

const AUTH: &[I] = &[
    I::LogonFailure,
    I::AccountLocked,
    I::AccountDisabled,
    I::PasswordExpired,
    I::LogonRestricted,
    I::NoLogonServers,
    I::CredsspUnpatched,
];

const TABLE: &[Entry] = &[
    Entry { code: 0x01, name: "ERRCONNECT_PRE_CONNECT_FAILED", message: "A configuration error prevented a connection to be established.", stage: "before the connection (the client's own settings)", causes: &[] },
    Entry { code: 0x02, name: "ERRCONNECT_CONNECT_UNDEFINED", message: "A undefined connection error occurred.", stage: "any", causes: &[I::ClosedByServer, I::ResetByServer] },
    Entry { code: 0x03, name: "ERRCONNECT_POST_CONNECT_FAILED", message: "The connection attempt was aborted due to post connect configuration errors.", stage: "after the connection sequence (the client's own settings or display)", causes: &[] },
    Entry { code: 0x04, name: "ERRCONNECT_DNS_ERROR", message: "The DNS entry could not be resolved.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x05, name: "ERRCONNECT_DNS_NAME_NOT_FOUND", message: "The DNS host name was not found.", stage: "dns", causes: &[I::DnsUnresolved] },
    Entry { code: 0x06, name: "ERRCONNECT_CONNECT_FAILED", message: "The connection failed.", stage: "tcp, or any stage after it", causes: &[I::TcpRefused, I::TcpTimeout, I::TcpUnreachable, I::X224Closed, I::ClosedByServer] },
    Entry { code: 0x07, name: "ERRCONNECT_MCS_CONNECT_INITIAL_ERROR", message: "The connection failed at initial MCS connect", stage: "mcs", causes: &[I::ClosedByServer, I::WeakRdpEncryption, I::NegProtocolNotRequested] },
    Entry { code: 0x08, name: "ERRCONNECT_TLS_CONNECT_FAILED", message: "The connection failed at TLS connect.", stage: "tls", causes: &[I::TlsLegacyOnly, I::TlsHandshakeFailed, I::CertWeak, I::NegSslCertNotOnServer] },
    Entry { code: 0x09, name: "ERRCONNECT_AUTHENTICATION_FAILED", message: "An authentication failure aborted the connection.", stage: "credssp", causes: AUTH },
    Entry { code: 0x0A, name: "ERRCONNECT_INSUFFICIENT_PRIVILEGES", message: "Insufficient privileges to establish a connection.", stage: "credssp or after the logon", causes: &[I::UserNotAuthorized, I::InsufficientPrivileges] },
    Entry { code: 0x0B, name: "ERRCONNECT_CONNECT_CANCELLED", message: "The connection was cancelled.", stage: "any (the user or the client cancelled, e.g. a refused certificate prompt)", causes: &[I::CertSelfSigned, I::CertNameMismatch, I::CertExpired] },
    Entry { code: 0x0C, name: "ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED", message: "The connection failed at negotiating security settings.", stage: "x224", causes: &[I::NegHybridRequired, I::NegSslRequired, I::NegSslNotAllowed, I::NegSslCertNotOnServer, I::NegProtocolNotRequested, I::NegInconsistentFlags] },
    Entry { code: 0x0D, name: "ERRCONNECT_CONNECT_TRANSPORT_FAILED", message: "The connection transport layer failed.", stage: "tcp, or a transport failure during any later stage", causes: &[I::TcpRefused, I::TcpTimeout, I::X224NoResponse, I::ResetByServer, I::InjectedReset, I::PacketLoss] },
    Entry { code: 0x0E, name: "ERRCONNECT_PASSWORD_EXPIRED", message: "The password has expired and must be changed.", stage: "credssp", causes: &[I::PasswordExpired] },
    Entry { code: 0x0F, name: "ERRCONNECT_PASSWORD_CERTAINLY_EXPIRED", message: "The password has certainly expired and must be changed.", stage: "credssp", causes: &[I::PasswordExpired] },
    Entry { code: 0x10, name: "ERRCONNECT_CLIENT_REVOKED", message: "The client has been revoked.", stage: "credssp (Kerberos)", causes: &[I::AccountDisabled] },
    Entry { code: 0x11, name: "ERRCONNECT_KDC_UNREACHABLE", message: "The KDC is unreachable.", stage: "credssp (Kerberos)", causes: &[I::NoLogonServers] },
    Entry { code: 0x12, name: "ERRCONNECT_ACCOUNT_DISABLED", message: "The account is disabled.", stage: "credssp", causes: &[I::AccountDisabled] },
    Entry { code: 0x13, name: "ERRCONNECT_PASSWORD_MUST_CHANGE", message: "The password must be changed.", stage: "credssp", causes: &[I::PasswordExpired] },
    Entry { code: 0x14, name: "ERRCONNECT_LOGON_FAILURE", message: "Logon failed.", stage: "credssp", causes: &[I::LogonFailure, I::AuthFailed] },
    Entry { code: 0x15, name: "ERRCONNECT_WRONG_PASSWORD", message: "Wrong password supplied.", stage: "credssp", causes: &[I::LogonFailure] },
    Entry { code: 0x16, name: "ERRCONNECT_ACCESS_DENIED", message: "Access denied.", stage: "credssp", causes: &[I::UserNotAuthorized, I::LogonRestricted, I::InsufficientPrivileges] },
    Entry { code: 0x17, name: "ERRCONNECT_ACCOUNT_RESTRICTION", message: "Account restriction.", stage: "credssp", causes: &[I::LogonRestricted] },
    Entry { code: 0x18, name: "ERRCONNECT_ACCOUNT_LOCKED_OUT", message: "Account locked out.", stage: "credssp", causes: &[I::AccountLocked] },
    Entry { code: 0x19, name: "ERRCONNECT_ACCOUNT_EXPIRED", message: "Account expired.", stage: "credssp", causes: &[I::AccountDisabled] },
    Entry { code: 0x1A, name: "ERRCONNECT_LOGON_TYPE_NOT_GRANTED", message: "Logon type not granted.", stage: "credssp", causes: &[I::LogonRestricted] },
    Entry { code: 0x1B, name: "ERRCONNECT_NO_OR_MISSING_CREDENTIALS", message: "Credentials invalid or missing.", stage: "credssp (before anything is sent: no user or password given)", causes: &[I::NegHybridRequired] },
    Entry { code: 0x1C, name: "ERRCONNECT_ACTIVATION_TIMEOUT", message: "(FreeRDP 3: the server did not finish the activation in time; errconnect.c has no message for it)", stage: "capabilities to active", causes: &[I::ServerSilent, I::PacketLoss] },
    Entry { code: 0x1D, name: "ERRCONNECT_TARGET_BOOTING", message: "(FreeRDP 3: the broker's target is still booting; errconnect.c has no message for it)", stage: "after MCS (a broker)", causes: &[I::BrokerError] },
    Entry { code: 0x1E, name: "ERRCONNECT_HYBRID_REQUIRED_BY_SERVER", message: "The server requires Network Level Authentication, but it is not enabled.", stage: "x224", causes: &[I::NegHybridRequired] },
];

/// A FreeRDP error code (`0x0002000D`).
pub fn explain(v: u32) -> Explanation {
    let (class, ty) = (v >> 16, v & 0xFFFF);
    if class == ERRINFO_CLASS {
        let mut e = extended_reason(ty);
        e.kind = Kind::Freerdp;
        e.code = format!("0x{v:08X} (ERRINFO class: the server's Set Error Info 0x{ty:X})");
        e.source = "FreeRDP include/freerdp/error.h (FREERDP_ERROR_ERRINFO_CLASS) and MS-RDPBCGR 2.2.5.1.1";
        return e;
    }
    if class == CONNECT_CLASS {
        if let Some(t) = TABLE.iter().find(|t| t.code == ty) {
            return Explanation {
                kind: Kind::Freerdp,
                code: format!("0x{v:08X}"),
                name: Some(t.name.to_owned()),
                meaning: if t.message.starts_with('(') {
                    t.message.to_owned()
                } else {
                    format!("FreeRDP: \"{}\"", t.message)
                },
                stage: t.stage,
                causes: t.causes.iter().map(|i| cause(*i)).collect(),
                source: SOURCE,
                known: true,
            };
        }
        return Explanation::unknown(
            Kind::Freerdp,
            format!("0x{v:08X}"),
            "not known; the nearest family: FreeRDP's own connection errors (ERRCONNECT class), a code newer than this table".into(),
            SOURCE,
        );
    }
    Explanation::unknown(
        Kind::Freerdp,
        both(v),
        format!(
            "not known: class {class} is neither ERRINFO (1) nor ERRCONNECT (2); FreeRDP prints codes as class << 16 | type"
        ),
        SOURCE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_freerdp_prints_them() {
        let e = explain(0x0002_000D);
        assert_eq!(
            e.name.as_deref(),
            Some("ERRCONNECT_CONNECT_TRANSPORT_FAILED")
        );
        assert!(e.meaning.contains("transport layer failed"));
        assert_eq!(e.causes[0].finding, I::TcpRefused);
        let info = explain(0x0001_0007);
        assert_eq!(
            info.name.as_deref(),
            Some("ERRINFO_SERVER_DENIED_CONNECTION")
        );
        assert_eq!(info.causes[0].finding, I::ServerDeniedConnection);
        assert!(!explain(0x0002_00FF).known);
        assert!(!explain(0x0005_0001).known);
        // The table is in code order, without gaps or repeats.
        for (i, t) in TABLE.iter().enumerate() {
            assert_eq!(t.code as usize, i + 1, "{}", t.name);
        }
    }
}
