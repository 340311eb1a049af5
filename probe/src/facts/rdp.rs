//! What one observed RDP connection established, PDU by PDU, as the capture's RDP reader fills
//! it: the Connection Request and Confirm, the client's GCC data, the Connect-Response, the TLS
//! handshake in clear, the certificates, what came after the MCS connect, and how the
//! connection was ended by a PDU. The report is built from this (`report::capture`), and the
//! rules read it; nothing here is a report string.

use rdp_proto::gcc::{ClientBlock, ConferenceCreateRequest, EncryptionMethods, RdpVersion};
use rdp_proto::mcs::DisconnectReason;
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{Alert, ClientHello, ProtocolVersion};
use serde::Serialize;

use super::credssp::{
    AuthFailure, AuthOutcome, AuthStep, ClientTsRequest, EarlyAuthz, NtlmStep, TsRequestFacts,
};
use super::decrypt::Decryption;
use super::gcc::ConnectResponseFacts;
use super::probe::CredsspFacts;
use super::session::SessionFacts;
use super::tls::ServerHelloFacts;
use super::x224::Confirm;

/// Direction of bytes: client to server, or server to client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    /// 0 for the client's direction, 1 for the server's (per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Self::ClientToServer => 0,
            Self::ServerToClient => 1,
        }
    }

    /// The side that sends in this direction.
    pub fn sender(self) -> Side {
        match self {
            Self::ClientToServer => Side::Client,
            Self::ServerToClient => Side::Server,
        }
    }

    /// The direction `side` sends in.
    pub fn from(side: Side) -> Self {
        match side {
            Side::Client => Self::ClientToServer,
            Side::Server => Self::ServerToClient,
        }
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One RDP connection as observed.
#[derive(Clone, Debug, Default)]
pub struct RdpFacts {
    /// The Connection Request's cookie (`mstshash=`) or routing token, as sent.
    pub cookie: Option<String>,
    pub routing_token: Option<String>,
    /// The client's RDP_NEG_REQ `requestedProtocols` (None: no negotiation data).
    pub requested: Option<SecurityProtocol>,
    /// The RDP_NEG_REQ flags: Restricted Admin or Remote Credential Guard asked for (the
    /// kind of logon; the credentials themselves stay sealed inside CredSSP).
    pub request_flags: Option<rdp_proto::nego::NegRequestFlags>,
    /// The server's Connection Confirm.
    pub confirm: Option<Confirm>,
    /// The client's GCC Conference Create Request.
    pub client: Option<ClientFacts>,
    /// The server's MCS Connect-Response.
    pub connect_response: Option<ConnectResponseFacts>,
    /// The TLS handshake as far as it is in clear (None: no TLS record seen).
    pub tls: Option<TlsHandshakeFacts>,
    /// The TLS certificate chain, DER, server's first (at most a few certificates).
    pub tls_chain: Vec<Vec<u8>>,
    /// The X.509 chain of Standard RDP Security's server certificate.
    pub rdp_x509_chain: Vec<Vec<u8>>,
    /// What the PDUs after the MCS connect said (channels, licensing, Demand Active, errors).
    pub session: SessionFacts,
    /// The last PDU that ended the connection (X.224 Disconnect Request, MCS ultimatum).
    pub ended_by: Option<EndingPdu>,
    /// The capture joined this connection after its start (it begins in TLS).
    pub joined_midstream: bool,
    /// The TLS session read with its key, or why not (None: no key log was given).
    pub decryption: Option<Decryption>,
    /// CredSSP as read from the decrypted TLS session.
    pub nla: Option<NlaFacts>,
    /// The first TLS records after the handshake, their sizes: CredSSP's turns without keys.
    pub sealed: SealedTrace,
    /// The Client Info PDU, when it was in clear or decrypted.
    pub client_info: Option<ClientInfoFacts>,
    /// Bytes before the first TPKT that were skipped (e.g. a SOCKS5 CONNECT exchange).
    pub prefix_bytes: u64,
    pub fast_path_pdus: u64,
    /// TLS application-data bytes, both ways.
    pub bulk_bytes: u64,
}

/// A PDU that ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndingPdu {
    /// X.224 Disconnect Request (ISO 8073 13.5) with its reason.
    X224DisconnectRequest(u8),
    /// MCS Disconnect Provider Ultimatum (T.125) with its reason.
    Ultimatum(DisconnectReason),
}

impl EndingPdu {
    /// In words, with the reason.
    pub fn describe(self) -> String {
        match self {
            Self::X224DisconnectRequest(reason) => {
                format!("X.224 Disconnect Request, reason {reason}")
            }
            Self::Ultimatum(reason) => format!("MCS Disconnect Provider Ultimatum {reason}"),
        }
    }
}

/// The TLS handshake of one connection, as far as it is in clear.
#[derive(Clone, Debug, Default)]
pub struct TlsHandshakeFacts {
    /// The ClientHello's versions (supported_versions, else legacy_version), its SNI and how
    /// many cipher suites it offers.
    pub client_versions: Vec<ProtocolVersion>,
    pub sni: Option<String>,
    pub client_suites: usize,
    pub server: Option<ServerHelloFacts>,
    /// Certificates in the server's Certificate message.
    pub chain_length: usize,
    /// A TLS alert during the handshake, and who sent it.
    pub alert: Option<(Dir, Alert)>,
    /// ChangeCipherSpec seen both ways.
    pub established: bool,
}

impl TlsHandshakeFacts {
    /// The ClientHello's part.
    pub fn client_hello(&mut self, ch: &ClientHello<'_>) {
        self.client_versions = ch.versions();
        self.sni = ch.sni().map(|s| String::from_utf8_lossy(s).into_owned());
        self.client_suites = ch.cipher_suites().count();
    }
}

/// What a client's GCC Conference Create Request says about it (MS-RDPBCGR 2.2.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFacts {
    pub version: Option<RdpVersion>,
    pub build: Option<u32>,
    pub name: Option<String>,
    pub keyboard_layout: Option<u32>,
    pub desktop_width: Option<u16>,
    pub desktop_height: Option<u16>,
    pub color_depth: Option<u16>,
    pub product_id: Option<String>,
    pub early_capability_flags: Option<u16>,
    /// The static virtual channels' names (CS_NET).
    pub channels: Vec<String>,
    /// CS_SECURITY `encryptionMethods` (empty when the block is missing).
    pub encryption_methods: EncryptionMethods,
}

impl ClientFacts {
    /// The one interpreter of a client's GCC data.
    pub fn from_pdu(gcc: &ConferenceCreateRequest<'_>) -> Self {
        let mut c = Self::default();
        if let Some(core) = gcc.core() {
            c.version = Some(core.version);
            c.build = Some(core.client_build);
            c.name = Some(core.client_name());
            c.keyboard_layout = Some(core.keyboard_layout);
            c.desktop_width = Some(core.desktop_width);
            c.desktop_height = Some(core.desktop_height);
            c.color_depth = core.optional.high_color_depth;
            c.product_id = core.dig_product_id();
            c.early_capability_flags = core.optional.early_capability_flags;
        }
        for b in &gcc.blocks {
            match b {
                ClientBlock::Security(s) => c.encryption_methods = s.encryption_methods,
                ClientBlock::Network(n) => {
                    c.channels = n.channels.iter().map(|ch| ch.name()).collect();
                }
                _ => {}
            }
        }
        c
    }
}

/// CredSSP (MS-CSSP 3.1.5) as a capture reads it from the decrypted TLS session: both sides'
/// TSRequests, in order.
#[derive(Clone, Debug, Default)]
pub struct NlaFacts {
    /// The server's first TSRequest (its CHALLENGE's names, version, clock) and the capture
    /// time it came at, Unix seconds.
    pub server: Option<CredsspFacts>,
    /// What the client's TSRequests said: the mechanism, the AUTHENTICATE's account and
    /// workstation, whether the credentials were sent.
    pub client: ClientTsRequest,
    /// TSRequests seen (client, server).
    pub requests: (u32, u32),
    /// The client's last step: NEGOTIATE sent, AUTHENTICATE sent, credentials sent.
    pub step: Option<AuthStep>,
    /// The server's errorCode, and after which step it came.
    pub error: Option<(rdp_proto::credssp::NtStatus, AuthStep)>,
    /// The server answered the AUTHENTICATE with its pubKeyAuth (it took the password).
    pub server_pub_key_auth: bool,
    /// HYBRID_EX: the Early User Authorization Result (MS-RDPBCGR 2.2.10.2).
    pub early_authz: Option<EarlyAuthz>,
}

impl NlaFacts {
    /// One client TSRequest.
    pub fn on_client(&mut self, c: ClientTsRequest) {
        self.requests.0 += 1;
        if c.credentials {
            self.step = Some(AuthStep::Credentials);
            self.client.credentials = true;
        } else if c.ntlm == Some(NtlmStep::Authenticate) || c.pub_key_auth {
            self.step = Some(AuthStep::Authenticate);
        } else if self.step.is_none() {
            self.step = Some(AuthStep::Negotiate);
        }
        let merged = ClientTsRequest {
            version: c.version.max(self.client.version),
            mechanism: c.mechanism.or(self.client.mechanism),
            ntlm: c.ntlm.or(self.client.ntlm),
            user: c.user.or(self.client.user.take()),
            domain: c.domain.or(self.client.domain.take()),
            workstation: c.workstation.or(self.client.workstation.take()),
            pub_key_auth: c.pub_key_auth || self.client.pub_key_auth,
            credentials: self.client.credentials,
        };
        self.client = merged;
    }

    /// One server TSRequest, at capture time `now` (Unix seconds).
    pub fn on_server(&mut self, f: TsRequestFacts, pub_key_auth: bool, now: i64) {
        self.requests.1 += 1;
        if let Some(code) = f.error_code {
            self.error
                .get_or_insert((code, self.step.unwrap_or(AuthStep::Negotiate)));
        }
        if pub_key_auth && self.step == Some(AuthStep::Authenticate) {
            self.server_pub_key_auth = true;
        }
        if self.server.is_none() {
            self.server = Some(CredsspFacts { ts: f, now });
        }
    }

    /// How the logon went, once the connection is over (`ended`) or as far as it went: None
    /// when the client never got to the password check.
    pub fn outcome(&self, ended: bool) -> Option<AuthOutcome> {
        if let Some((code, step)) = self.error {
            return Some(AuthOutcome::Failed(AuthFailure::Status(code, step)));
        }
        match self.step? {
            AuthStep::Credentials => Some(AuthOutcome::Ok(self.early_authz)),
            AuthStep::Authenticate if self.server_pub_key_auth => None,
            AuthStep::Authenticate if ended => Some(AuthOutcome::Ended(
                AuthStep::Authenticate,
                "the connection ended".into(),
            )),
            _ => None,
        }
    }

    /// The account the client logged on as (`DOMAIN\\user`), or what is known of it.
    pub fn account(&self) -> String {
        self.client
            .account()
            .unwrap_or_else(|| match self.client.mechanism {
                Some(super::credssp::Mechanism::Kerberos) => "(a Kerberos ticket)".into(),
                _ => "(not seen)".into(),
            })
    }
}

/// The Client Info PDU (MS-RDPBCGR 2.2.1.11.1.1): who logs on to the session. A password in it
/// is a flag, never its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfoFacts {
    pub user: String,
    pub domain: String,
    /// A password is in the PDU (auto-logon with the password given).
    pub password_present: bool,
    /// INFO_AUTOLOGON.
    pub auto_logon: bool,
}

impl ClientInfoFacts {
    pub fn from_pdu(ci: &rdp_proto::info::ClientInfo<'_>) -> Self {
        Self {
            user: ci.user_name_text(),
            domain: ci.domain_text(),
            password_present: ci.password.iter().any(|b| *b != 0),
            auto_logon: ci
                .flags
                .contains(rdp_proto::info::InfoFlags::INFO_AUTOLOGON),
        }
    }
}

/// One TLS record after the handshake as a capture without keys sees it: its direction, its
/// plaintext length (the record's, less the suite's overhead: an estimate for CBC suites), and
/// whether it is an alert (TLS 1.0-1.2's encrypted alerts have their own content type; TLS
/// 1.3's are 2 bytes of plaintext).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedRecord {
    pub dir: Dir,
    pub plaintext: usize,
    pub alert: bool,
}

impl SealedRecord {
    /// A TLS alert (close_notify and the like), not a message.
    pub fn is_alert(&self) -> bool {
        self.alert || self.plaintext <= 2
    }
}

/// The first records of a TLS session after its handshake (bounded): the turns of CredSSP.
#[derive(Clone, Debug, Default)]
pub struct SealedTrace {
    pub records: Vec<SealedRecord>,
}

/// How the server answered one of the client's CredSSP messages, by the size of its next
/// record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedAnswer {
    /// Nothing before the client's next message or the end.
    None,
    /// A TLS alert: the server closed the TLS session.
    Alert,
    /// A TSRequest of at most [`SealedTrace::SHORT`] bytes: a version and an errorCode.
    Short,
    /// A longer TSRequest: a CHALLENGE, a pubKeyAuth, an AP-REP.
    Long,
}

/// What CredSSP came to, from the decrypted TSRequests or, without keys, from the record
/// pattern ([`SealedTrace::guess`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NlaGuess {
    /// No CredSSP message from the client.
    NotStarted,
    /// The client stopped after `messages` message(s), before its AUTHENTICATE (a cancelled
    /// credential prompt, no credentials) or without waiting for the answer to it.
    ClientStopped { messages: u32 },
    /// The server refused after the client's first message (NEGOTIATE or Kerberos AP-REQ) or
    /// after its AUTHENTICATE (the password check): with an errorCode, or by closing.
    Refused { step: AuthStep, error_code: bool },
    /// The server answered the AUTHENTICATE as a success (a pubKeyAuth) and the client left
    /// before sending its credentials: mstsc does so when it checks the credentials before
    /// connecting again.
    AcceptedThenClientLeft,
    /// The client sent its credentials (a third message).
    CredentialsSent,
}

impl SealedTrace {
    /// Records kept.
    pub const MAX: usize = 16;
    /// The largest plaintext of a TSRequest that carries only a version and an errorCode (15 to
    /// 17 bytes DER; no NTLM or Kerberos message is this small).
    pub const SHORT: usize = 24;

    pub fn push(&mut self, r: SealedRecord) {
        if self.records.len() < Self::MAX {
            self.records.push(r);
        }
    }

    /// The server's answer to each of the client's messages (alerts are not messages).
    fn answers(&self) -> Vec<SealedAnswer> {
        let mut answers: Vec<SealedAnswer> = Vec::new();
        for r in &self.records {
            match r.dir {
                Dir::ClientToServer if !r.is_alert() => answers.push(SealedAnswer::None),
                Dir::ClientToServer => {}
                // The server closed the TLS session: what the client sends after it is no
                // answer to anything.
                Dir::ServerToClient if r.is_alert() && !answers.is_empty() => {
                    if let Some(last @ SealedAnswer::None) = answers.last_mut() {
                        *last = SealedAnswer::Alert;
                    }
                    break;
                }
                Dir::ServerToClient => {
                    if let Some(last @ SealedAnswer::None) = answers.last_mut() {
                        *last = if r.is_alert() {
                            SealedAnswer::Alert
                        } else if r.plaintext <= Self::SHORT {
                            SealedAnswer::Short
                        } else {
                            SealedAnswer::Long
                        };
                    }
                }
            }
        }
        answers
    }

    /// What the record pattern says, once the connection ended in CredSSP; `server_ended`: the
    /// server closed or reset the connection first. The rule (README, "Verdicts without keys"):
    /// the client's first message is NTLM's NEGOTIATE (or Kerberos' AP-REQ), its second the
    /// AUTHENTICATE, its third the credentials; a short answer is an errorCode.
    pub fn guess(&self, server_ended: bool) -> NlaGuess {
        let answers = self.answers();
        let refused = |step, answer| match answer {
            SealedAnswer::Short => Some(NlaGuess::Refused {
                step,
                error_code: true,
            }),
            SealedAnswer::Alert => Some(NlaGuess::Refused {
                step,
                error_code: false,
            }),
            SealedAnswer::None if server_ended => Some(NlaGuess::Refused {
                step,
                error_code: false,
            }),
            _ => None,
        };
        match answers.as_slice() {
            [] => NlaGuess::NotStarted,
            [first] => refused(AuthStep::Negotiate, *first)
                .unwrap_or(NlaGuess::ClientStopped { messages: 1 }),
            [_, second] => refused(AuthStep::Authenticate, *second).unwrap_or(match second {
                SealedAnswer::Long => NlaGuess::AcceptedThenClientLeft,
                _ => NlaGuess::ClientStopped { messages: 2 },
            }),
            _ => NlaGuess::CredentialsSent,
        }
    }
}

impl NlaFacts {
    /// The same guess from the decrypted TSRequests, for a CredSSP without an outcome.
    pub fn guess(&self) -> NlaGuess {
        match self.step {
            None => NlaGuess::NotStarted,
            Some(AuthStep::Credentials) => NlaGuess::CredentialsSent,
            Some(AuthStep::Authenticate) if self.server_pub_key_auth => {
                NlaGuess::AcceptedThenClientLeft
            }
            Some(_) => NlaGuess::ClientStopped {
                messages: self.requests.0,
            },
        }
    }
}
