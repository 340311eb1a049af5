//! The main connection as one sans-IO state machine, in the shape of IronRDP's
//! `ClientConnector`: the Connection Request and Confirm, the upgrade to TLS (the driver does
//! the handshake and reports it), CredSSP (the NTLM CHALLENGE only, or a logon with `--user`),
//! the MCS connect and the walk to `active` (MS-RDPBCGR 1.3.1.1). It runs over any byte stream:
//! a TCP socket today, an RD Gateway tunnel tomorrow, a `tokio::io::duplex` pair in tests.
//!
//! The driver asks [`Connector::action`] what to do, does it, and reports back with the
//! `on_*` methods, passing the time ([`Now`]). Every stage and finding goes to the [`Record`]
//! as it is decided, every fact to the [`ProbeFacts`]; which password may go where is decided
//! here ([`client_info_password`]).

use core::time::Duration;

use rdp_proto::frame::Framing;
use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::nego::SecurityProtocol;

use super::cssp::{CredsspClient, CredsspStep};
use super::kerberos::{choose, AuthPolicy, Choice, Clock, GssKerberos, ServiceTicket};
use super::walk::{standard_security, Logon, Step, Walk};
use crate::active::credentials::Credentials;
use crate::active::pdu;
use crate::active::plan::{
    conclude_auth, conclude_credssp, conclude_kerberos, tls_established, Record,
};
use crate::diagnose::{transport, Stage, StageStatus};
use crate::facts::credssp::{AuthFailure, AuthOutcome, EarlyAuthz, Mechanism, TsRequestFacts};
use crate::facts::gcc::ConnectResponseFacts;
use crate::facts::kerberos::{KdcFacts, KerberosFailure};
use crate::facts::observe::{read_confirm, CrOutcome, ReadFailure};
use crate::facts::probe::{AuthFacts, MethodOffer, ProbeFacts, TlsFailure, TlsSession};
use crate::facts::x224::Answer;

/// Which connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The connection mstsc makes to a TLS server: TLS, then CredSSP when the server selected
    /// it (`credssp`: the probe does CredSSP on it; without, an NLA selection ends it after
    /// TLS), then MCS and the walk. The tls stage is concluded by the caller, with the
    /// enumeration ([`Connector::tls`]).
    Tls { credssp: bool },
    /// The walk under Standard RDP Security on a connection of its own: the mcs stage is
    /// already recorded (by the method enumeration), so failures count against `channels`.
    RdpSecurity,
}

/// Randomness the connection needs, drawn by the driver.
#[derive(Clone, Copy, Debug)]
pub struct Randoms {
    /// The NTLM client challenge (8), the exported session key (16), the CredSSP nonce (32).
    pub credssp: [u8; 56],
    /// The licensing exchange's client random and premaster secret (and spare).
    pub walk: [u8; 80],
    /// Standard RDP Security's client random.
    pub client: [u8; 32],
    /// Kerberos: the seed of the KDC exchange's and the GSS context's confounders, nonces,
    /// subkey and sequence numbers.
    pub kerberos: [u8; 32],
}

/// What the connection is asked to do.
#[derive(Debug)]
pub struct Config<'c> {
    /// The Connection Request's `requestedProtocols` (None: no negotiation data).
    pub request: Option<SecurityProtocol>,
    pub mode: Mode,
    /// `--stop-after`: the last stage to walk.
    pub stop_after: Stage,
    /// `--user`: CredSSP and the Client Info carry these.
    pub credentials: Option<&'c Credentials>,
    /// The name CredSSP's service principal names (`TERMSRV/<host>`).
    pub host: String,
    /// `--auth`: Kerberos, NTLM, or what mstsc would pick.
    pub auth: AuthPolicy,
    pub randoms: Randoms,
}

/// The time of an event: from the target's start, and the wall clock (Unix seconds).
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: Duration,
    pub unix: i64,
}

/// How to read the next frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// A TPKT (the Confirm, the Connect-Response): any other first byte is "not RDP" at once.
    Tpkt,
    /// Any RDP frame (TPKT or fast-path), within the stage timeout.
    Rdp,
    /// Any RDP frame, for at most this long (within the stage timeout); if none comes, call
    /// [`Connector::on_quiet`].
    RdpUpTo(Duration),
    /// One DER TSRequest.
    Der,
    /// Four bytes: HYBRID_EX's Early User Authorization Result (MS-RDPBCGR 2.2.10.2).
    Word,
}

impl Read {
    /// The framing the reader needs (`Word` reads raw bytes).
    pub fn framing(self) -> Framing {
        match self {
            Self::Der => Framing::Der,
            _ => Framing::Rdp,
        }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these frames in order, zeroize them (a Client Info may hold the password), then
    /// call [`Connector::on_sent`] (or [`Connector::on_send_failure`]).
    Send(Vec<Vec<u8>>),
    /// Read, then call [`Connector::on_frame`] (`on_word` for [`Read::Word`]) or
    /// [`Connector::on_read_failure`].
    Read(Read),
    /// Do the TLS handshake on the stream, then call [`Connector::on_upgraded`] or
    /// [`Connector::on_upgrade_failed`]; everything after goes over TLS.
    UpgradeTls,
    /// Ask the KDC of `realm` for a ticket for `TERMSRV/<host>` (the `kerberos` stage), then
    /// call [`Connector::on_kerberos`].
    Kerberos { realm: String, host: String },
    /// Write these frames, then end the connection as a client does: no more writes, read
    /// until the server closes (at most a second, within the stage timeout).
    Close(Vec<Vec<u8>>),
    /// The connection is over.
    Done,
}

/// What protects the walk's connection, which decides where the password may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// CredSSP carried the password: the Client Info names the user only.
    Credssp,
    /// TLS without CredSSP: the Client Info carries the password (auto-logon).
    Tls,
    /// Standard RDP Security, encrypted or not (encryption level NONE).
    RdpSecurity { encrypted: bool },
}

/// Why the Client Info carries no password, or None when it carries it: never in clear (at
/// encryption level NONE), never twice (CredSSP carried it).
pub fn client_info_password(over: Over) -> Option<&'static str> {
    match over {
        Over::Credssp => Some("no password: it went in CredSSP"),
        Over::Tls | Over::RdpSecurity { encrypted: true } => None,
        Over::RdpSecurity { encrypted: false } => {
            Some("no password: encryption level NONE would send it in clear")
        }
    }
}

/// CredSSP in progress.
enum Cssp<'c> {
    /// The NTLM NEGOTIATE went out; the CHALLENGE is the answer (no credentials).
    FirstRound,
    /// With credentials: the client, the first answer's facts, how many answers came.
    Logon {
        client: Box<CredsspClient<'c>>,
        facts: Result<TsRequestFacts, String>,
        answers: u32,
    },
}

enum State<'c> {
    /// The Connection Request is out; the Confirm is due.
    Confirm,
    /// The Confirm selected `protocol`: the TLS handshake is due.
    Upgrade {
        protocol: SecurityProtocol,
    },
    /// CredSSP on the TLS session: the answer to what was sent is due (with credentials,
    /// `credentials_sent`: the TSCredentials went out, only HYBRID_EX's word is still due).
    Credssp {
        protocol: SecurityProtocol,
        cssp: Cssp<'c>,
        credentials_sent: bool,
    },
    /// The KDC's tickets are due (the driver asks, then calls `on_kerberos`).
    Kerberos {
        protocol: SecurityProtocol,
        public_key: Vec<u8>,
        realm: String,
    },
    /// The Connect-Initial is out; the Connect-Response is due. Over `over`.
    Mcs {
        over: Over,
    },
    /// The walk past the Connect-Response, at `step` (Send, Wait or WaitUpTo).
    Walk {
        walk: Box<Walk>,
        step: Step,
    },
    /// The walk asked to leave with these frames.
    Closing(Vec<Vec<u8>>),
    Done,
}

/// A write or a read that failed.
enum Failure {
    Send(String),
    Read(ReadFailure),
}

impl Failure {
    /// As a read failure (a write that failed is an I/O error).
    fn into_read(self) -> ReadFailure {
        match self {
            Self::Send(why) => ReadFailure::Io(why),
            Self::Read(e) => e,
        }
    }
}

/// One connection of the probe.
pub struct Connector<'c> {
    cfg: Config<'c>,
    state: State<'c>,
    /// Frames to write before anything else.
    out: Vec<Vec<u8>>,
    /// The main TLS session (Tls mode), or why it failed.
    tls: Option<Result<TlsSession, TlsFailure>>,
    /// The mechanism of the logon and why NTLM when it is (for `auth`).
    mechanism: Mechanism,
    fallback: Option<String>,
}

impl core::fmt::Debug for Connector<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connector")
            .field("mode", &self.cfg.mode)
            .field("tls", &self.tls.as_ref().map(Result::is_ok))
            .finish_non_exhaustive()
    }
}

impl<'c> Connector<'c> {
    /// A connection whose first action sends the Connection Request.
    pub fn new(cfg: Config<'c>) -> Self {
        let cr = pdu::connection_request(cfg.request).unwrap_or_default();
        Self {
            cfg,
            state: State::Confirm,
            out: vec![cr],
            tls: None,
            mechanism: Mechanism::Ntlm,
            fallback: None,
        }
    }

    /// The main TLS session, or why there was none (Tls mode; None: not tried).
    pub fn take_tls(&mut self) -> Option<Result<TlsSession, TlsFailure>> {
        self.tls.take()
    }

    /// What to do now.
    pub fn action(&mut self, rec: &mut Record) -> Action {
        if !self.out.is_empty() {
            return Action::Send(std::mem::take(&mut self.out));
        }
        match &mut self.state {
            State::Confirm | State::Mcs { .. } => Action::Read(Read::Tpkt),
            State::Upgrade { .. } => Action::UpgradeTls,
            State::Kerberos { realm, .. } => Action::Kerberos {
                realm: realm.clone(),
                host: self.cfg.host.clone(),
            },
            State::Credssp {
                credentials_sent: true,
                ..
            } => Action::Read(Read::Word),
            State::Credssp { .. } => Action::Read(Read::Der),
            State::Walk { walk, step } => match std::mem::replace(step, Step::Wait) {
                Step::Send(frames) => Action::Send(frames),
                Step::WaitUpTo(d) => Action::Read(Read::RdpUpTo(d)),
                // A read is due (Wait; Close and Done never stay in this state).
                _ => {
                    rec.begin(walk.stage());
                    Action::Read(Read::Rdp)
                }
            },
            State::Closing(frames) => {
                let frames = std::mem::take(frames);
                self.state = State::Done;
                Action::Close(frames)
            }
            State::Done => Action::Done,
        }
    }

    /// The frames of the last [`Action::Send`] went out.
    pub fn on_sent(&mut self, rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        // HYBRID: the TSCredentials were the last word.
        let hybrid_done = matches!(
            &self.state,
            State::Credssp { protocol, credentials_sent: true, .. }
                if !protocol.contains(SecurityProtocol::HYBRID_EX)
        );
        if !hybrid_done {
            return;
        }
        if let State::Credssp {
            protocol,
            cssp: Cssp::Logon { facts, .. },
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        {
            self.credssp_done(protocol, facts, AuthOutcome::Ok(None), rec, f, now);
        }
    }

    /// A write failed (`why`).
    pub fn on_send_failure(&mut self, why: String, rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        self.fail(Failure::Send(why), rec, f, now);
    }

    /// A read failed.
    pub fn on_read_failure(
        &mut self,
        e: ReadFailure,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        self.fail(Failure::Read(e), rec, f, now);
    }

    /// The TCP connection could not be opened (or the target's time ran out first): the
    /// Confirm never came.
    pub fn on_connect_failed(&mut self, rec: &mut Record, now: Now) {
        self.out.clear();
        self.no_confirm(rec, now);
    }

    /// A frame came.
    pub fn on_frame(&mut self, frame: &[u8], rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Confirm => match read_confirm(frame) {
                CrOutcome::Confirmed(c) => self.on_confirm(c.answer, rec, f, now),
                _ => self.no_confirm(rec, now),
            },
            State::Credssp { protocol, cssp, .. } => {
                self.on_ts_request(protocol, cssp, frame, rec, f, now);
            }
            State::Mcs { over } => self.on_connect_response(frame, over, rec, f, now),
            State::Walk { mut walk, .. } => {
                let step = walk.on_frame(frame, rec, now.at);
                self.walk_step(walk, step, f);
            }
            other => self.state = other,
        }
    }

    /// The four bytes of HYBRID_EX's Early User Authorization Result.
    pub fn on_word(&mut self, word: [u8; 4], rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        if let State::Credssp {
            protocol,
            cssp: Cssp::Logon { facts, .. },
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        {
            let outcome = AuthOutcome::Ok(Some(EarlyAuthz::from_u32(u32::from_le_bytes(word))));
            self.credssp_done(protocol, facts, outcome, rec, f, now);
        }
    }

    /// Nothing came within [`Read::RdpUpTo`].
    pub fn on_quiet(&mut self, rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        if let State::Walk { mut walk, .. } = std::mem::replace(&mut self.state, State::Done) {
            let step = walk.on_quiet(rec, now.at);
            self.walk_step(walk, step, f);
        }
    }

    /// The TLS handshake is done: `session` says how; `public_key` is the server
    /// certificate's SubjectPublicKey (what CredSSP's pubKeyAuth binds).
    pub fn on_upgraded(
        &mut self,
        session: TlsSession,
        public_key: Vec<u8>,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        let State::Upgrade { protocol } = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        tls_established(rec, &session);
        self.tls = Some(Ok(session));
        let Mode::Tls { credssp } = self.cfg.mode else {
            return;
        };
        if credssp && protocol.is_nla() {
            let Some(creds) = self.cfg.credentials else {
                rec.begin(Stage::Credssp);
                self.out.push(super::cssp::first_request());
                self.state = State::Credssp {
                    protocol,
                    cssp: Cssp::FirstRound,
                    credentials_sent: false,
                };
                return;
            };
            match choose(self.cfg.auth, creds, &self.cfg.host) {
                Choice::Kerberos { realm } => {
                    rec.begin(Stage::Kerberos);
                    self.state = State::Kerberos {
                        protocol,
                        public_key,
                        realm,
                    };
                }
                Choice::Ntlm { reason } => {
                    self.fallback = reason;
                    self.start_ntlm(protocol, public_key, creds, rec, now);
                }
            }
            return;
        }
        // TLS without CredSSP: the connection goes on to MCS (the walk, if asked).
        if !protocol.is_nla() && protocol.contains(SecurityProtocol::SSL) {
            let over = Over::Tls;
            self.mcs(
                EncryptionMethods::empty(),
                Some(SecurityProtocol::SSL),
                over,
                rec,
            );
        }
        let _ = f;
    }

    /// CredSSP over NTLM (MS-CSSP with NTLMv2): the NEGOTIATE goes out.
    fn start_ntlm(
        &mut self,
        protocol: SecurityProtocol,
        public_key: Vec<u8>,
        creds: &'c Credentials,
        rec: &mut Record,
        now: Now,
    ) {
        rec.begin(Stage::Credssp);
        self.mechanism = Mechanism::Ntlm;
        // Now as a FILETIME (100 ns since 1601), for servers that send no timestamp.
        let filetime = (u64::try_from(now.unix).unwrap_or(0) + 11_644_473_600) * 10_000_000;
        let (client, first) = CredsspClient::start(
            creds,
            public_key,
            &self.cfg.host,
            filetime,
            self.cfg.randoms.credssp,
        );
        self.logon(protocol, client, first);
    }

    /// CredSSP with credentials begins: `first` (the client's first TSRequest) goes out.
    fn logon(&mut self, protocol: SecurityProtocol, client: CredsspClient<'c>, first: Vec<u8>) {
        self.out.push(first);
        self.state = State::Credssp {
            protocol,
            cssp: Cssp::Logon {
                client: Box::new(client),
                facts: Err("no TSRequest from the server".to_owned()),
                answers: 0,
            },
            credentials_sent: false,
        };
    }

    /// The `kerberos` stage ended: `facts` say what the KDC answered, `ticket` is the service
    /// ticket when one came. CredSSP goes on over Kerberos with it; without, over NTLM when
    /// mstsc would fall back (`--auth auto`, no KDC or no SPN), else the logon ends here.
    pub fn on_kerberos(
        &mut self,
        facts: KdcFacts,
        ticket: Option<ServiceTicket>,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        let State::Kerberos {
            protocol,
            public_key,
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        let Some(creds) = self.cfg.credentials else {
            return;
        };
        let failure = facts.failure.clone();
        conclude_kerberos(rec, &facts, now.at);
        f.kerberos = Some(facts);
        if let Some(t) = ticket {
            rec.begin(Stage::Credssp);
            self.mechanism = Mechanism::Kerberos;
            let clock = Clock {
                unix: u64::try_from(now.unix).unwrap_or(0),
                usec: now.at.subsec_micros(),
            };
            let (gss, token) = GssKerberos::start(t, clock, self.cfg.randoms.kerberos);
            let mut nonce = [0u8; 32];
            nonce.copy_from_slice(&self.cfg.randoms.credssp[24..]);
            let (client, first) =
                CredsspClient::start_kerberos(creds, public_key, gss, &token, nonce);
            return self.logon(protocol, client, first);
        }
        let failure = failure.unwrap_or(KerberosFailure::Malformed("no ticket".into()));
        if self.cfg.auth == AuthPolicy::Auto && failure.falls_back() {
            self.fallback = Some(format!("Kerberos: {}", failure.describe()));
            return self.start_ntlm(protocol, public_key, creds, rec, now);
        }
        self.mechanism = Mechanism::Kerberos;
        rec.stop(Stage::Kerberos);
        f.auth = Some(AuthFacts {
            user: creds.display(),
            mechanism: Mechanism::Kerberos,
            fallback_reason: None,
            outcome: AuthOutcome::Failed(AuthFailure::Kdc(failure)),
        });
    }

    /// The TLS handshake failed.
    pub fn on_upgrade_failed(&mut self, failure: TlsFailure) {
        self.tls = Some(Err(failure));
        self.state = State::Done;
    }

    fn fail(&mut self, e: Failure, rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        self.out.clear();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Confirm => self.no_confirm(rec, now),
            State::Credssp {
                cssp: Cssp::FirstRound,
                ..
            } => {
                let why = match e {
                    Failure::Send(w) => format!("sending the NTLM NEGOTIATE: {w}"),
                    Failure::Read(e) => format!("after the NTLM NEGOTIATE: {}", e.describe()),
                };
                f.credssp = conclude_credssp(rec, Err(why), now.unix, now.at);
            }
            State::Credssp {
                protocol,
                cssp:
                    Cssp::Logon {
                        client,
                        mut facts,
                        answers,
                    },
                credentials_sent,
            } => {
                let sending = matches!(e, Failure::Send(_));
                let why = match e {
                    Failure::Read(ReadFailure::Timeout { .. }) if credentials_sent => {
                        "no Early User Authorization Result before the stage timeout".into()
                    }
                    Failure::Send(w) => w,
                    Failure::Read(e) => e.describe(),
                };
                if answers == 0 {
                    facts = Err(if sending {
                        format!("sending the NTLM NEGOTIATE: {why}")
                    } else {
                        format!("after the NTLM NEGOTIATE: {why}")
                    });
                }
                let outcome = AuthOutcome::Ended(client.step(), why);
                self.credssp_done(protocol, facts, outcome, rec, f, now);
            }
            State::Mcs { .. } => failed(rec, self.mcs_stage(), &e.into_read(), now.at),
            State::Walk { walk, .. } => {
                failed(rec, walk.stage(), &e.into_read(), now.at);
                f.session = Some(walk.facts);
            }
            State::Upgrade { .. } | State::Kerberos { .. } | State::Closing(_) | State::Done => {}
        }
    }

    /// The Confirm's answer.
    fn on_confirm(&mut self, answer: Answer, rec: &mut Record, f: &mut ProbeFacts, now: Now) {
        match (self.cfg.mode, answer) {
            (Mode::Tls { .. }, Answer::Selected { protocol, .. }) => {
                self.state = State::Upgrade { protocol };
            }
            (Mode::Tls { .. }, _) => self.no_confirm(rec, now),
            (Mode::RdpSecurity, answer) => {
                let selected = match answer {
                    Answer::Selected { protocol, .. } => Some(protocol),
                    _ => None,
                };
                let over = Over::RdpSecurity { encrypted: false };
                self.mcs(MethodOffer::MSTSC.0, selected, over, rec);
            }
        }
        let _ = f;
    }

    /// No usable Confirm: the TLS stage has no session; the walk's own connection failed.
    fn no_confirm(&mut self, rec: &mut Record, now: Now) {
        self.state = State::Done;
        match self.cfg.mode {
            Mode::Tls { .. } => {
                self.tls = Some(Err(TlsFailure::from(
                    "no TLS-capable Connection Confirm".to_owned(),
                )));
            }
            Mode::RdpSecurity => failed(
                rec,
                Stage::Channels,
                &ReadFailure::Unexpected("the walk's connection got no Connection Confirm".into()),
                now.at,
            ),
        }
    }
}

mod credssp;
mod mcs;
#[cfg(test)]
mod tests;

use mcs::failed;
