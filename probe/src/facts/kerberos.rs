//! Kerberos in the clear (RFC 4120 5.4.1, 5.4.2, 5.9.1), as a capture sees it on port 88: who
//! asked the KDC for what (AS-REQ for a user, TGS-REQ for `TERMSRV/host`) and what it answered
//! (a ticket, or a KRB-ERROR and its code). Parsed with rusticata's `kerberos-parser`; the
//! tickets and encrypted parts are never opened.

use der_parser::asn1_rs::FromDer;
use kerberos_parser::krb5::{KdcRep, KdcReq, KrbError, PrincipalName, Realm};
use kerberos_parser::krb5_parser::{parse_as_rep, parse_as_req, parse_tgs_rep, parse_tgs_req};

/// A KRB-ERROR's error-code (RFC 4120 7.5.9, and Microsoft's use of them in MS-KILE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KrbErrorCode(pub i32);

impl KrbErrorCode {
    pub const C_PRINCIPAL_UNKNOWN: Self = Self(6);
    pub const S_PRINCIPAL_UNKNOWN: Self = Self(7);
    pub const POLICY: Self = Self(12);
    pub const ETYPE_NOSUPP: Self = Self(14);
    pub const CLIENT_REVOKED: Self = Self(18);
    pub const KEY_EXPIRED: Self = Self(23);
    pub const PREAUTH_FAILED: Self = Self(24);
    pub const PREAUTH_REQUIRED: Self = Self(25);
    pub const SKEW: Self = Self(37);
    /// KDC_ERR_WRONG_REALM / KRB_ERR_RESPONSE_TOO_BIG: the client goes on (another realm,
    /// TCP), nothing failed.
    pub const RESPONSE_TOO_BIG: Self = Self(52);
    pub const WRONG_REALM: Self = Self(68);
}

impl std::fmt::Display for KrbErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", kerberos_parser::ErrorCode(self.0))
    }
}

/// One Kerberos message of a KDC exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KrbMessage {
    /// An AS-REQ: a user asks for a ticket-granting ticket.
    AsReq { client: Principal },
    /// A TGS-REQ: a ticket for a service (`TERMSRV/host` for RDP).
    TgsReq { service: Principal },
    /// The KDC's ticket (AS-REP or TGS-REP) for `client`.
    Rep { client: Principal, tgs: bool },
    /// A KRB-ERROR: its code, for whom and for what.
    Error {
        code: KrbErrorCode,
        client: Option<Principal>,
        service: Principal,
        text: Option<String>,
    },
}

/// A principal as `name/instance@REALM` (the realm may be unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    pub name: String,
    pub realm: String,
}

impl Principal {
    fn new(name: &PrincipalName, realm: &Realm) -> Self {
        Self {
            name: name.to_string(),
            realm: realm.0.clone(),
        }
    }

    /// A Remote Desktop service principal (`TERMSRV/host`).
    pub fn is_termsrv(&self) -> bool {
        self.name
            .split_once('/')
            .is_some_and(|(svc, _)| svc.eq_ignore_ascii_case("TERMSRV"))
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.realm.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}@{}", self.name, self.realm)
        }
    }
}

impl KrbMessage {
    /// The one interpreter of a Kerberos message (its APPLICATION tag says which); None for
    /// anything else (AP-REQ and the like are not sent to a KDC).
    pub fn parse(msg: &[u8]) -> Option<Self> {
        match msg.first()? {
            0x6a => {
                let (_, r) = parse_as_req(msg).ok()?;
                Some(Self::AsReq {
                    client: req_client(&r),
                })
            }
            0x6c => {
                let (_, r) = parse_tgs_req(msg).ok()?;
                let service = r
                    .req_body
                    .sname
                    .as_ref()
                    .map(|s| Principal::new(s, &r.req_body.realm))
                    .unwrap_or_default();
                Some(Self::TgsReq { service })
            }
            0x6b => {
                let (_, r) = parse_as_rep(msg).ok()?;
                Some(rep(&r, false))
            }
            0x6d => {
                let (_, r) = parse_tgs_rep(msg).ok()?;
                Some(rep(&r, true))
            }
            0x7e => {
                let (_, e) = KrbError::from_der(msg).ok()?;
                Some(error(&e))
            }
            _ => None,
        }
    }
}

fn req_client(r: &KdcReq<'_>) -> Principal {
    r.req_body
        .cname
        .as_ref()
        .map(|c| Principal::new(c, &r.req_body.realm))
        .unwrap_or_default()
}

fn rep(r: &KdcRep<'_>, tgs: bool) -> KrbMessage {
    KrbMessage::Rep {
        client: Principal::new(&r.cname, &r.crealm),
        tgs,
    }
}

fn error(e: &KrbError<'_>) -> KrbMessage {
    let client = e.cname.as_ref().map(|c| {
        let realm = e.crealm.as_ref().unwrap_or(&e.realm);
        Principal::new(c, realm)
    });
    KrbMessage::Error {
        code: KrbErrorCode(e.error_code.0),
        client,
        service: Principal::new(&e.sname, &e.realm),
        text: e.etext.clone().filter(|t| !t.is_empty()),
    }
}

/// A Kerberos message seen in a capture: when, between which client and which KDC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KrbEvent {
    pub ts_ns: i64,
    /// The KDC's address and port, as evidence names it.
    pub kdc: String,
    pub message: KrbMessage,
}

/// Which request a KDC answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdcRequest {
    /// AS-REQ: the ticket-granting ticket for the user (the password check).
    As,
    /// TGS-REQ: the service ticket for `TERMSRV/host`.
    Tgs,
}

impl KdcRequest {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::As => "AS-REQ",
            Self::Tgs => "TGS-REQ",
        }
    }
}

/// One request of the probe to the KDC and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdcExchange {
    pub request: KdcRequest,
    /// With pre-authentication (PA-ENC-TIMESTAMP: the password was used).
    pub preauth: bool,
    /// `AS-REP`, `TGS-REP`, a KRB-ERROR's name, or what went wrong on the way.
    pub answer: String,
    /// The KRB-ERROR's code, if that was the answer.
    pub error: Option<KrbErrorCode>,
}

/// Why the probe got no service ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KerberosFailure {
    /// No KDC is known for the realm, or none answered (DNS, refused, silent).
    Unreachable(String),
    /// The KDC answered a request with a KRB-ERROR.
    Kdc {
        code: KrbErrorCode,
        request: KdcRequest,
        text: Option<String>,
    },
    /// The KDC's answer does not parse, does not open with the key, or asks for what rdprobe
    /// does not speak (an etype other than AES).
    Malformed(String),
}

impl KerberosFailure {
    /// Whether Windows' Negotiate package would fall back to NTLM after this (no KDC, no SPN):
    /// a refused password or account is final.
    pub fn falls_back(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Kdc { code, .. } => *code == KrbErrorCode::S_PRINCIPAL_UNKNOWN,
            Self::Malformed(_) => false,
        }
    }

    /// One line for the stage's detail and the fallback reason.
    pub fn describe(&self) -> String {
        match self {
            Self::Unreachable(why) => format!("no KDC answered: {why}"),
            Self::Kdc {
                code,
                request,
                text,
            } => {
                let mut s = format!("{code} ({}) to the {}", code.0, request.as_str());
                if let Some(t) = text {
                    s.push_str(&format!(": {t:?}"));
                }
                s
            }
            Self::Malformed(why) => why.clone(),
        }
    }
}

/// The probe's Kerberos logon (the `kerberos` stage): where it asked, what for, what came back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KdcFacts {
    /// The KDC's address as reached (`host:port`), or the candidates tried.
    pub kdc: Option<String>,
    /// How the KDC was found: `--kdc`, `krb5.conf`, `dns-srv`, `realm-name`.
    pub kdc_source: Option<&'static str>,
    pub realm: String,
    /// `user@REALM`.
    pub client: String,
    /// `TERMSRV/host@REALM`.
    pub service: String,
    /// The etype of the user's key (the KDC's ETYPE-INFO2 choice).
    pub etype: Option<rdp_proto::kerberos::EType>,
    /// The etype of the service ticket (the server account's key).
    pub ticket_etype: Option<rdp_proto::kerberos::EType>,
    /// The KDC's clock minus ours, in seconds (from its first KRB-ERROR).
    pub clock_skew_secs: Option<i64>,
    pub exchanges: Vec<KdcExchange>,
    /// None: a service ticket was obtained.
    pub failure: Option<KerberosFailure>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kerberos-parser's own sample KRB-ERROR, and bytes that are not Kerberos.
    #[test]
    fn reads_a_krb_error_and_refuses_the_rest() {
        assert_eq!(KrbMessage::parse(b""), None);
        assert_eq!(KrbMessage::parse(&[0x7e, 0x81]), None);
        assert_eq!(KrbMessage::parse(b"\x30\x03\x02\x01\x05"), None);
        assert_eq!(
            KrbErrorCode::PREAUTH_FAILED.to_string(),
            "KDC_ERR_PREAUTH_FAILED"
        );
        let p = Principal {
            name: "TERMSRV/srv01.corp.test".into(),
            realm: "CORP.TEST".into(),
        };
        assert!(p.is_termsrv());
        assert_eq!(p.to_string(), "TERMSRV/srv01.corp.test@CORP.TEST");
    }
}
