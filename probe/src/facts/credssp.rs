//! The server's TSRequest (MS-CSSP 2.2.1) and the NTLM CHALLENGE inside it (MS-NLMP 2.2.1.2):
//! version, CVE-2018-0886 fix, errorCode, and the names and clock the CHALLENGE reveals.

use rdp_proto::credssp::{NtStatus, TsRequest};
use rdp_proto::ntlm::{self, AvId, Message};

/// What a server TSRequest says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsRequestFacts {
    pub version: u32,
    /// Version 5 or later (or 2..=4 patched servers answer 6): the CVE-2018-0886 fix.
    pub patched_cve_2018_0886: bool,
    pub error_code: Option<NtStatus>,
    pub challenge: Option<ChallengeFacts>,
}

/// What an NTLM CHALLENGE says about the server (its AV pairs and version).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChallengeFacts {
    pub netbios_domain: Option<String>,
    pub netbios_computer: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_tree: Option<String>,
    /// `10.0.19041` and the like.
    pub product_version: Option<String>,
    /// MsvAvTimestamp, Unix seconds: the server's clock.
    pub timestamp: Option<i64>,
}

impl TsRequestFacts {
    /// The one interpreter of a server TSRequest.
    pub fn from_pdu(ts: &TsRequest<'_>) -> Self {
        let challenge = ts.nego_tokens.first().and_then(|token| {
            let Ok(Message::Challenge(ch)) = rdp_proto::decode::<Message>(token) else {
                return None;
            };
            let text = |id| ch.av(id).map(|p| p.text());
            Some(ChallengeFacts {
                netbios_domain: text(AvId::MSV_AV_NB_DOMAIN_NAME),
                netbios_computer: text(AvId::MSV_AV_NB_COMPUTER_NAME),
                dns_domain: text(AvId::MSV_AV_DNS_DOMAIN_NAME),
                dns_computer: text(AvId::MSV_AV_DNS_COMPUTER_NAME),
                dns_tree: text(AvId::MSV_AV_DNS_TREE_NAME),
                product_version: ch.version.map(|v| v.product_version()),
                timestamp: ch
                    .av(AvId::MSV_AV_TIMESTAMP)
                    .and_then(|p| p.filetime())
                    .and_then(ntlm::filetime_to_unix)
                    .and_then(|t| i64::try_from(t).ok()),
            })
        });
        Self {
            version: ts.version,
            patched_cve_2018_0886: ts.patched_cve_2018_0886(),
            error_code: ts.error_code,
            challenge,
        }
    }

    /// Reads one DER TSRequest.
    pub fn parse(frame: &[u8]) -> Result<Self, rdp_proto::DecodeError> {
        rdp_proto::decode::<TsRequest>(frame).map(|ts| Self::from_pdu(&ts))
    }
}

/// The step of CredSSP after which something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// Our NEGOTIATE was sent; the CHALLENGE was due.
    Negotiate,
    /// Our AUTHENTICATE and pubKeyAuth were sent; the server's pubKeyAuth was due.
    Authenticate,
    /// Our TSCredentials were sent.
    Credentials,
}

impl AuthStep {
    pub fn label(self) -> &'static str {
        match self {
            Self::Negotiate => "after the NTLM NEGOTIATE",
            Self::Authenticate => "after the NTLM AUTHENTICATE (the password check)",
            Self::Credentials => "after the TSCredentials",
        }
    }
}

/// Why CredSSP with credentials failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// The server's TSRequest carried an errorCode (version 3 and later).
    Status(NtStatus, AuthStep),
    /// The server's answer does not parse, or is not what the step expects.
    Malformed(String, AuthStep),
    /// The server's pubKeyAuth does not match the TLS key: a man in the middle, or a broken
    /// server.
    PubKeyMismatch,
}

/// The Early User Authorization Result (MS-RDPBCGR 2.2.10.2), HYBRID_EX only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyAuthz {
    /// AUTHZ_SUCCESS (0).
    Success,
    /// AUTHZ_ACCESS_DENIED (5).
    AccessDenied,
    Other(u32),
}

impl EarlyAuthz {
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Success,
            5 => Self::AccessDenied,
            o => Self::Other(o),
        }
    }

    pub fn label(self) -> String {
        match self {
            Self::Success => "success".into(),
            Self::AccessDenied => "access_denied".into(),
            Self::Other(v) => format!("0x{v:08x}"),
        }
    }
}

/// How CredSSP with credentials ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The server took the credentials (and, for HYBRID_EX, said so or not).
    Ok(Option<EarlyAuthz>),
    Failed(AuthFailure),
    /// The server closed or went silent at `step` without an errorCode.
    Ended(AuthStep, String),
}

impl AuthOutcome {
    /// The user may go on to the session.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Ok(None | Some(EarlyAuthz::Success)))
    }

    /// One line for the stage's detail.
    pub fn describe(&self) -> String {
        match self {
            Self::Ok(None) => "credentials accepted".into(),
            Self::Ok(Some(e)) => format!(
                "credentials accepted; Early User Authorization Result {}",
                e.label()
            ),
            Self::Failed(AuthFailure::Status(code, step)) => {
                format!("errorCode 0x{:08x} {code} {}", code.0, step.label())
            }
            Self::Failed(AuthFailure::Malformed(why, step)) => format!("{why} ({})", step.label()),
            Self::Failed(AuthFailure::PubKeyMismatch) => {
                "the server's pubKeyAuth does not match its TLS key".into()
            }
            Self::Ended(step, why) => format!("{why} {}, without an errorCode", step.label()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FreeRDP's NLA server (freerdp-shadow-cli): its real CHALLENGE TSRequest.
    #[test]
    fn a_real_challenge() {
        let bytes = crate::testdata::pdu("peers/credssp/shadow-nla_tsrequest_challenge.bin");
        let f = TsRequestFacts::parse(&bytes).unwrap();
        assert!(f.version >= 2);
        assert_eq!(f.error_code, None);
        let ch = f.challenge.expect("a CHALLENGE");
        assert!(ch.netbios_computer.is_some(), "{ch:?}");
        assert!(ch.timestamp.is_some(), "{ch:?}");
        assert!(TsRequestFacts::parse(b"not DER").is_err());
    }
}
