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

impl ChallengeFacts {
    /// The one interpreter of an NTLM CHALLENGE (MS-NLMP 2.2.1.2), wherever it travels: in a
    /// TSRequest's negoToken, in an RD Gateway's `WWW-Authenticate: NTLM` answer.
    pub fn from_ntlm(msg: &[u8]) -> Option<Self> {
        let Ok(Message::Challenge(ch)) = rdp_proto::decode::<Message>(msg) else {
            return None;
        };
        let text = |id| ch.av(id).map(|p| p.text());
        Some(Self {
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
    }
}

impl TsRequestFacts {
    /// The one interpreter of a server TSRequest.
    pub fn from_pdu(ts: &TsRequest<'_>) -> Self {
        let challenge = ts
            .nego_tokens
            .first()
            .and_then(|token| ChallengeFacts::from_ntlm(ntlm_in(token)?));
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

/// The NTLM message in a negoToken: the token itself (raw NTLM, as FreeRDP and rdprobe send
/// it) or inside SPNEGO (RFC 4178, as mstsc and Windows send it), found by its `NTLMSSP\0`
/// signature; its offsets are relative to that signature, so it decodes from there.
pub fn ntlm_in(token: &[u8]) -> Option<&[u8]> {
    const SIGNATURE: &[u8] = b"NTLMSSP\0";
    let at = token
        .windows(SIGNATURE.len())
        .position(|w| w == SIGNATURE)?;
    token.get(at..)
}

/// The authentication package a CredSSP negoToken carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Ntlm,
    /// Kerberos (RFC 4121), by its OID (1.2.840.113554.1.2.2, or Microsoft's 1.2.840.48018.1.2.2).
    Kerberos,
    Unknown,
}

impl Mechanism {
    /// The mechanism of one negoToken.
    pub fn of(token: &[u8]) -> Self {
        const KRB5: [u8; 11] = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ];
        const MS_KRB5: [u8; 11] = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ];
        if ntlm_in(token).is_some() {
            Self::Ntlm
        } else if token.windows(11).any(|w| w == KRB5 || w == MS_KRB5) {
            Self::Kerberos
        } else {
            Self::Unknown
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ntlm => "ntlm",
            Self::Kerberos => "kerberos",
            Self::Unknown => "unknown",
        }
    }
}

/// What a client TSRequest says (the capture's view of the client's side of CredSSP).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTsRequest {
    pub version: u32,
    pub mechanism: Option<Mechanism>,
    /// The NTLM message carried, if any.
    pub ntlm: Option<NtlmStep>,
    /// An AUTHENTICATE's names (never a response or a key).
    pub user: Option<String>,
    pub domain: Option<String>,
    pub workstation: Option<String>,
    /// pubKeyAuth: the client proves the TLS key (with the AUTHENTICATE, or after Kerberos).
    pub pub_key_auth: bool,
    /// authInfo: the encrypted TSCredentials, the credentials themselves.
    pub credentials: bool,
}

/// Which NTLM message a TSRequest carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtlmStep {
    Negotiate,
    Challenge,
    Authenticate,
}

impl ClientTsRequest {
    /// The one interpreter of a client TSRequest.
    pub fn from_pdu(ts: &TsRequest<'_>) -> Self {
        let mut f = Self {
            version: ts.version,
            pub_key_auth: ts.pub_key_auth.is_some(),
            credentials: ts.auth_info.is_some(),
            ..Self::default()
        };
        if let Some(token) = ts.nego_tokens.first() {
            f.mechanism = Some(Mechanism::of(token));
            match ntlm_in(token).map(rdp_proto::decode::<Message>) {
                Some(Ok(Message::Negotiate(_))) => f.ntlm = Some(NtlmStep::Negotiate),
                Some(Ok(Message::Challenge(_))) => f.ntlm = Some(NtlmStep::Challenge),
                Some(Ok(Message::Authenticate(a))) => {
                    f.ntlm = Some(NtlmStep::Authenticate);
                    let some = |s: String| (!s.is_empty()).then_some(s);
                    f.user = some(a.user_name());
                    f.domain = some(a.domain_name());
                    f.workstation = some(a.workstation_name());
                }
                _ => {}
            }
        }
        f
    }

    /// `DOMAIN\user`, or the user alone.
    pub fn account(&self) -> Option<String> {
        let user = self.user.as_deref()?;
        Some(match self.domain.as_deref() {
            Some(d) => format!("{d}\\{user}"),
            None => user.to_owned(),
        })
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
    /// Kerberos: our AP-REQ (the service ticket) was sent; the AP-REP was due.
    ApReq,
    /// Kerberos: our pubKeyAuth was sent; the server's was due.
    PubKeyAuth,
}

impl AuthStep {
    pub fn label(self) -> &'static str {
        match self {
            Self::Negotiate => "after the NTLM NEGOTIATE",
            Self::Authenticate => "after the NTLM AUTHENTICATE (the password check)",
            Self::Credentials => "after the TSCredentials",
            Self::ApReq => "after the Kerberos AP-REQ (the service ticket)",
            Self::PubKeyAuth => "after pubKeyAuth (Kerberos)",
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
    /// The server answered the Kerberos AP-REQ with a KRB-ERROR (its code and e-text).
    Kerberos(crate::facts::kerberos::KrbErrorCode, Option<String>),
    /// No service ticket: the KDC refused or could not be reached (the `kerberos` stage).
    Kdc(crate::facts::kerberos::KerberosFailure),
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
            Self::Failed(AuthFailure::Kerberos(code, text)) => {
                let mut s = format!("the server answered the AP-REQ with {code} ({})", code.0);
                if let Some(t) = text {
                    s.push_str(&format!(": {t:?}"));
                }
                s
            }
            Self::Failed(AuthFailure::Kdc(f)) => format!("no service ticket: {}", f.describe()),
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
