//! The walk past MCS (MS-RDPBCGR 1.3.1.1 phases 4 to 9) as a state machine: channel connection
//! (Erect Domain, Attach User, Channel Join for the user and I/O channels), the Client Info PDU
//! of an anonymous client, licensing, and the server's Demand Active. The driver writes the
//! frames a [`Step`] asks for and feeds every server frame to [`Walk::on_frame`]; a Set Error
//! Info or a Disconnect Provider Ultimatum at any point ends the walk with its finding.
//!
//! Runs where the PDUs need no Standard RDP Security encryption (TLS, or encryption level NONE).
//! A License Request is answered with a New License Request (MS-RDPELE 2.2.2.2: the premaster
//! secret RSA-encrypted with the key of the server certificate in the request); a Platform
//! Challenge, Confirm Active and the finalization are not answered yet: the walk stops there
//! and says so.

use core::time::Duration;

use rdp_proto::capabilities::{
    CapabilitySet, CapabilitySetType, ConfirmActive, DemandActive, SERVER_CHANNEL_ID,
};
use rdp_proto::encode_vec;
use rdp_proto::info::ClientInfo;
use rdp_proto::licensing::{LicenseErrorCode, LicenseMsgType, LicensingBody, LicensingPdu};
use rdp_proto::mcs::{DomainPdu, McsResult, SendData};
use rdp_proto::slowpath::{
    PduType, PduType2, SecurityFlags, SecurityHeader, SetErrorInfo, ShareControlPdu, ShareDataPdu,
};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{Data, Tpdu};

use super::licensing::LicensingClient;
use super::rdp_security::{self, Role, RsaKey, Session};
use super::record::Record;
use crate::diagnose::{rules, transport, Stage, StageStatus};
use crate::facts::gcc::ConnectResponseFacts;
use rdp_proto::redirection::ServerRedirection;

use crate::facts::session::{
    CapabilityFacts, LicensingOutcome, LogonFacts, RedirectFacts, SessionFacts,
};

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Write these frames (TPKTs), then read the next server frame.
    Send(Vec<Vec<u8>>),
    /// Read the next server frame.
    Wait,
    /// Read the next server frame for at most this long (within the stage timeout); if none
    /// comes, call [`Walk::on_quiet`].
    WaitUpTo(Duration),
    /// Write these frames, then end the connection cleanly: no more writes, read until the
    /// server closes (bounded by the stage timeout).
    Close(Vec<Vec<u8>>),
    /// The walk is over (what it found is in the record and [`Walk::facts`]).
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Attach,
    Join,
    Licensing,
    Capabilities,
    Finalizing,
    /// Logged on: the logon notification (Save Session Info) or a Set Error Info is due.
    LoggingOn,
    Done,
}

/// The user the Client Info logs on (`--user`): UTF-16LE strings with their terminators; the
/// password only where no CredSSP carried it (TLS without NLA, Standard RDP Security).
pub struct Logon {
    pub display: String,
    /// Why the Client Info carries no password (None: it does).
    pub without_password: Option<&'static str>,
    pub domain: Vec<u8>,
    pub user: Vec<u8>,
    pub password: zeroize::Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Logon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Logon")
            .field("user", &self.display)
            .finish_non_exhaustive()
    }
}

impl Logon {
    /// From the credentials; the Client Info carries the password unless `without_password`
    /// says why not.
    pub fn new(
        c: &crate::active::credentials::Credentials,
        without_password: Option<&'static str>,
    ) -> Self {
        let with_password = without_password.is_none();
        let z = |s: &str| {
            let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            v.extend([0, 0]);
            v
        };
        Self {
            display: c.display(),
            without_password,
            domain: z(c.domain()),
            user: z(c.user()),
            password: zeroize::Zeroizing::new(if with_password {
                z(c.password())
            } else {
                vec![0, 0]
            }),
        }
    }
}

/// How long the walk waits after the finalization for the logon notification.
pub const LOGON_WAIT: Duration = Duration::from_secs(2);

/// One walk on one connection.
#[derive(Debug)]
pub struct Walk {
    state: State,
    io_channel: u16,
    user: u16,
    /// Channels still to join, in order.
    pending: Vec<u16>,
    stop_after: Stage,
    /// Standard RDP Security's session keys, when the server encrypts.
    security: Option<Session>,
    /// The Security Exchange PDU still to send.
    exchange: Option<Vec<u8>>,
    /// The licensing exchange's client side (its randoms given by the driver).
    licensing: LicensingClient,
    /// The Server Security Data's RSA key, for a License Request without a certificate.
    server_key: Option<RsaKey>,
    /// `--user`: the Client Info logs this user on.
    logon: Option<Logon>,
    /// The Demand Active's shareId.
    share_id: u32,
    /// When the wait for the logon notification ends (from the target's start).
    logon_until: Duration,
    pub facts: SessionFacts,
}

/// One TPKT carrying an X.224 Data TPDU with this MCS domain PDU.
fn frame(pdu: &DomainPdu<'_>) -> Vec<u8> {
    let mcs = encode_vec(pdu).unwrap_or_default();
    let x224 = encode_vec(&Tpdu::Data(Data {
        eot: 0x80,
        variable: &[],
        payload: &mcs,
    }))
    .unwrap_or_default();
    encode_vec(&Tpkt {
        reserved: 0,
        payload: &x224,
    })
    .unwrap_or_default()
}

impl Walk {
    /// Starts the walk after a Connect-Response naming `io_channel`; the first step sends Erect
    /// Domain and Attach User. `stop_after`: the last stage to walk.
    ///
    /// `secured`: Standard RDP Security's keys and Security Exchange PDU ([`standard_security`]),
    /// None on TLS or at encryption level NONE.
    pub fn start(
        io_channel: u16,
        stop_after: Stage,
        random: [u8; 80],
        secured: Option<Secured>,
    ) -> (Self, Step) {
        let (security, exchange, server_key) = secured.map_or((None, None, None), |s| {
            (Some(s.session), Some(s.exchange), s.server_key)
        });
        let walk = Self {
            state: State::Attach,
            io_channel,
            user: 0,
            pending: Vec::new(),
            stop_after,
            security,
            exchange,
            licensing: LicensingClient::new(random),
            server_key,
            logon: None,
            share_id: 0,
            logon_until: Duration::ZERO,
            facts: SessionFacts {
                channels: crate::facts::session::ChannelFacts {
                    io_channel: Some(io_channel),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        let frames = vec![
            frame(&DomainPdu::ErectDomainRequest {
                sub_height: 0,
                sub_interval: 0,
                widths: [1, 1],
            }),
            frame(&DomainPdu::AttachUserRequest),
        ];
        (walk, Step::Send(frames))
    }

    /// Logs `logon` on with the Client Info (before it is sent).
    pub fn set_logon(&mut self, logon: Logon) {
        self.logon = Some(logon);
    }

    /// Nothing came within [`Step::WaitUpTo`]: after the logon, the session simply went on
    /// without a notification (not every server sends one); leave cleanly.
    pub fn on_quiet(&mut self, rec: &mut Record, at: Duration) -> Step {
        if self.state == State::LoggingOn {
            rec.amend(
                Stage::Active,
                StageStatus::Ok,
                at,
                "no logon notification within 2 s",
            );
            return self.leave();
        }
        Step::Wait
    }

    /// Leave as a client does: Shutdown Request (the server may deny it when a user is logged
    /// on: the session then stays, disconnected, as mstsc leaves it), then the MCS Disconnect
    /// Provider Ultimatum (user requested), then the server closes.
    fn leave(&mut self) -> Step {
        self.state = State::Done;
        let shutdown = share_data(
            self.share_id,
            self.user,
            PduType2::PDUTYPE2_SHUTDOWN_REQUEST,
            &[],
        );
        let shutdown = self.send_pdu(SecurityFlags::empty(), &shutdown);
        Step::Close(vec![
            shutdown,
            frame(&DomainPdu::DisconnectProviderUltimatum {
                reason: rdp_proto::mcs::DisconnectReason::RN_USER_REQUESTED,
            }),
        ])
    }

    /// The stage the walk is in.
    pub fn stage(&self) -> Stage {
        match self.state {
            State::Attach | State::Join => Stage::Channels,
            State::Licensing => Stage::Licensing,
            State::Capabilities => Stage::Capabilities,
            State::Finalizing => Stage::Finalization,
            State::LoggingOn | State::Done => Stage::Active,
        }
    }

    fn join(&self, channel: u16) -> Vec<u8> {
        frame(&DomainPdu::ChannelJoinRequest {
            initiator: self.user,
            channel_id: channel,
        })
    }

    fn send_data(&self, data: &[u8]) -> Vec<u8> {
        frame(&DomainPdu::SendDataRequest(SendData {
            initiator: self.user,
            channel_id: self.io_channel,
            priority_segmentation: 0x70,
            data,
            long_length: true,
        }))
    }

    /// A slow-path PDU behind the security header `flags` calls for: sealed under Standard RDP
    /// Security, else the basic header (when there are flags) and the PDU as it is.
    fn send_pdu(&mut self, flags: SecurityFlags, body: &[u8]) -> Vec<u8> {
        let data = match &mut self.security {
            Some(s) => s.seal(flags, body),
            None if flags.is_empty() => body.to_vec(),
            None => with_header(flags, body),
        };
        self.send_data(&data)
    }

    fn done(&mut self) -> Step {
        self.state = State::Done;
        Step::Done
    }

    /// Ends the walk at the current stage with a failure and its finding.
    fn fail(
        &mut self,
        rec: &mut Record,
        at: Duration,
        detail: String,
        f: impl Into<Option<crate::diagnose::Finding>>,
    ) -> Step {
        let stage = self.stage();
        rec.amend(stage, StageStatus::Failed, at, &detail);
        rec.stop(stage);
        rec.findings.extend(f.into());
        self.done()
    }

    /// One server frame (a TPKT, or fast-path output), at `at` from the target's start.
    pub fn on_frame(&mut self, frame_bytes: &[u8], rec: &mut Record, at: Duration) -> Step {
        let step = self.on_frame_inner(frame_bytes, rec, at);
        // While the logon notification is due, other frames (the session's graphics) do not
        // extend the wait.
        if self.state == State::LoggingOn && step == Step::Wait {
            return match self.logon_until.checked_sub(at).filter(|d| !d.is_zero()) {
                Some(left) => Step::WaitUpTo(left),
                None => self.on_quiet(rec, at),
            };
        }
        step
    }

    fn on_frame_inner(&mut self, frame_bytes: &[u8], rec: &mut Record, at: Duration) -> Step {
        let Ok(tpkt) = rdp_proto::decode::<Tpkt>(frame_bytes) else {
            // Fast-path output: skipped, but an encrypted one is decrypted all the same, so
            // that the RC4 key stream stays in step with the server's.
            return match self.fast_path(frame_bytes) {
                Err(e) => self.fail(rec, at, format!("fast-path output: {e}"), None),
                Ok(()) => Step::Wait,
            };
        };
        let Ok(Tpdu::Data(d)) = rdp_proto::decode::<Tpdu>(tpkt.payload) else {
            return Step::Wait;
        };
        let Ok(pdu) = rdp_proto::decode::<DomainPdu>(d.payload) else {
            return Step::Wait;
        };
        match pdu {
            DomainPdu::DisconnectProviderUltimatum { reason } => {
                self.facts.disconnect = Some(reason);
                let stage = self.stage();
                let why = format!("MCS Disconnect Provider Ultimatum {reason}");
                self.fail(
                    rec,
                    at,
                    why.clone(),
                    transport::closed_by_server(format!(
                        "the server ended the connection during {stage} ({why})"
                    )),
                )
            }
            DomainPdu::AttachUserConfirm { result, initiator } if self.state == State::Attach => {
                let Some(user) = initiator.filter(|_| result == McsResult::RT_SUCCESSFUL) else {
                    let why = format!("Attach User refused: {result}");
                    return self.fail(rec, at, why.clone(), transport::closed_by_server(why));
                };
                self.user = user;
                self.facts.channels.user_channel = Some(user);
                self.pending = vec![self.io_channel, user];
                self.state = State::Join;
                let first = self.join(user);
                Step::Send(vec![first])
            }
            DomainPdu::ChannelJoinConfirm {
                result, requested, ..
            } if self.state == State::Join => {
                self.facts.channels.join_confirm(requested, result);
                if result != McsResult::RT_SUCCESSFUL {
                    let why = format!("Channel Join of {requested} refused: {result}");
                    return self.fail(rec, at, why.clone(), transport::closed_by_server(why));
                }
                self.pending.retain(|c| *c != requested);
                if let Some(next) = self.pending.first().copied() {
                    return Step::Send(vec![self.join(next)]);
                }
                let joined = self.facts.channels.joined.clone();
                rec.stage(
                    Stage::Channels,
                    StageStatus::Ok,
                    at,
                    format!("user channel {}, joined {joined:?}", self.user),
                );
                if self.stop_after <= Stage::Channels {
                    return self.done();
                }
                let mut frames = Vec::new();
                if let Some(exchange) = self.exchange.take() {
                    frames.push(self.send_data(&exchange));
                    let method = self
                        .security
                        .as_ref()
                        .map(Session::method)
                        .unwrap_or_default();
                    rec.stage(
                        Stage::SecurityExchange,
                        StageStatus::Ok,
                        at,
                        format!(
                            "client random sent; {} session keys",
                            crate::facts::gcc::method_name(method)
                        ),
                    );
                    if self.stop_after <= Stage::SecurityExchange {
                        self.state = State::Done;
                        return Step::Send(frames);
                    }
                }
                let anonymous = ClientInfo::anonymous();
                let (info, detail) = match &self.logon {
                    Some(l) => {
                        let mut flags = anonymous.flags;
                        if l.password.len() > 2 {
                            flags |= rdp_proto::info::InfoFlags::INFO_AUTOLOGON;
                        }
                        let info = ClientInfo {
                            flags,
                            domain: &l.domain,
                            user_name: &l.user,
                            password: &l.password,
                            ..anonymous
                        };
                        let how = l
                            .without_password
                            .unwrap_or("with the password: auto-logon");
                        (
                            zeroize::Zeroizing::new(encode_vec(&info).unwrap_or_default()),
                            format!("Client Info sent for {} ({how})", l.display),
                        )
                    }
                    None => (
                        zeroize::Zeroizing::new(encode_vec(&anonymous).unwrap_or_default()),
                        "anonymous Client Info sent (no credentials, logon errors asked for)"
                            .to_owned(),
                    ),
                };
                frames.push(self.send_pdu(SecurityFlags::SEC_INFO_PKT, &info));
                rec.stage(Stage::ClientInfo, StageStatus::Ok, at, detail);
                self.state = if self.stop_after <= Stage::ClientInfo {
                    State::Done
                } else {
                    State::Licensing
                };
                Step::Send(frames)
            }
            DomainPdu::SendDataIndication(sd) => self.on_data(sd.data, rec, at),
            _ => Step::Wait,
        }
    }

    /// Slow-path data from the server: licensing, the Demand Active, Set Error Info.
    fn on_data(&mut self, data: &[u8], rec: &mut Record, at: Duration) -> Step {
        if let Some(session) = &mut self.security {
            // Standard RDP Security: every server PDU has a security header (2.2.9.1.1.3.1),
            // encrypted at levels above LOW.
            let Ok((rest, h)) = rdp_proto::decode_prefix::<SecurityHeader>(data) else {
                return Step::Wait;
            };
            let plain = if h.flags.contains(SecurityFlags::SEC_ENCRYPT) {
                match session.open(rest, h.flags.contains(SecurityFlags::SEC_SECURE_CHECKSUM)) {
                    Ok(p) => p,
                    Err(e) => {
                        return self.fail(rec, at, format!("a server PDU: {e}"), None);
                    }
                }
            } else {
                rest.to_vec()
            };
            if h.flags.contains(SecurityFlags::SEC_REDIRECTION_PKT) {
                // Standard Security Server Redirection PDU (2.2.13.2.1).
                return self.on_redirect(&plain, rec, at);
            }
            if h.flags.contains(SecurityFlags::SEC_LICENSE_PKT) {
                return match rdp_proto::decode::<LicensingPdu>(&plain) {
                    Ok(l) => self.on_licensing(&l, rec, at),
                    Err(_) => Step::Wait,
                };
            }
            return match rdp_proto::decode::<ShareControlPdu>(&plain) {
                Ok(sc) => self.on_share_control(&sc, rec, at),
                Err(_) => Step::Wait,
            };
        }
        // A Share Control PDU (its pduType carries protocol version 1 in bits 4..15), else a
        // security header (licensing) first: any 4 bytes would read as a security header.
        let share = rdp_proto::decode::<ShareControlPdu>(data)
            .ok()
            .filter(|sc| sc.pdu_type_raw & 0xFFF0 == 0x0010);
        let Some(sc) = share else {
            if let Ok((rest, h)) = rdp_proto::decode_prefix::<SecurityHeader>(data) {
                if h.flags.contains(SecurityFlags::SEC_LICENSE_PKT) {
                    if let Ok(l) = rdp_proto::decode::<LicensingPdu>(rest) {
                        return self.on_licensing(&l, rec, at);
                    }
                }
            }
            return Step::Wait;
        };
        self.on_share_control(&sc, rec, at)
    }

    /// A Share Control PDU from the server: the Demand Active, the Font Map, Set Error Info.
    fn on_share_control(
        &mut self,
        sc: &ShareControlPdu<'_>,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        match sc.pdu_type() {
            // Enhanced Security Server Redirection PDU (2.2.13.3.1): two pad bytes first.
            PduType::PDUTYPE_SERVER_REDIR_PKT => {
                self.on_redirect(sc.body.get(2..).unwrap_or_default(), rec, at)
            }
            PduType::PDUTYPE_DEMANDACTIVEPDU
                if matches!(self.state, State::Licensing | State::Capabilities) =>
            {
                let Ok(d) = rdp_proto::decode::<DemandActive>(sc.body) else {
                    return Step::Wait;
                };
                let c = CapabilityFacts::from_demand_active(&d);
                let detail = format!(
                    "Demand Active: {}x{}, {} bpp, {} capability sets",
                    c.desktop_width.unwrap_or(0),
                    c.desktop_height.unwrap_or(0),
                    c.color_depth.unwrap_or(0),
                    c.sets.len()
                );
                self.facts.capabilities = Some(c);
                rec.stage(Stage::Capabilities, StageStatus::Ok, at, detail);
                if self.stop_after <= Stage::Capabilities {
                    return self.done();
                }
                // Confirm Active, then the client's half of the finalization (MS-RDPBCGR
                // 1.3.1.1 phase 10); the server's Font Map ends it.
                self.state = State::Finalizing;
                self.share_id = d.share_id;
                let frames = finalization(d.share_id, self.user)
                    .iter()
                    .map(|data| self.send_pdu(SecurityFlags::empty(), data))
                    .collect();
                Step::Send(frames)
            }
            PduType::PDUTYPE_DATAPDU => {
                let Ok(sd) = rdp_proto::decode::<ShareDataPdu>(sc.body) else {
                    return Step::Wait;
                };
                if sd.pdu_type2 == PduType2::PDUTYPE2_FONTMAP && self.state == State::Finalizing {
                    rec.stage(
                        Stage::Finalization,
                        StageStatus::Ok,
                        at,
                        "Synchronize, Control, Font List / Font Map",
                    );
                    if let Some(l) = &self.logon {
                        rec.stage(
                            Stage::Active,
                            StageStatus::Ok,
                            at,
                            format!("the session of {}", l.display),
                        );
                        self.state = State::LoggingOn;
                        self.logon_until = at + LOGON_WAIT;
                        return Step::WaitUpTo(LOGON_WAIT);
                    }
                    rec.stage(
                        Stage::Active,
                        StageStatus::Ok,
                        at,
                        "the logon screen (no credentials)",
                    );
                    return self.leave();
                }
                if sd.pdu_type2 == PduType2::PDUTYPE2_SAVE_SESSION_INFO
                    && self.state == State::LoggingOn
                {
                    let info_type = sd
                        .body
                        .get(..4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    let logon = LogonFacts::from_info_type(info_type);
                    rec.amend(
                        Stage::Active,
                        StageStatus::Ok,
                        at,
                        &format!("logon notification ({})", logon.info_type),
                    );
                    self.facts.logon = Some(logon);
                    return self.leave();
                }
                if sd.pdu_type2 != PduType2::PDUTYPE2_SET_ERROR_INFO_PDU {
                    return Step::Wait;
                }
                let Ok(e) = rdp_proto::decode::<SetErrorInfo>(sd.body) else {
                    return Step::Wait;
                };
                if e.error_info.0 == 0 {
                    return Step::Wait;
                }
                self.facts.error_info = Some(e.error_info);
                // After licensing it ends the capabilities stage.
                let stage = self.stage();
                let f = rules::set_error_info(e.error_info, stage);
                let status = if rules::error_info_stops(&f) {
                    rec.stop(stage);
                    StageStatus::Failed
                } else {
                    StageStatus::Ok
                };
                rec.amend(
                    stage,
                    status,
                    at,
                    &format!("Set Error Info {}", e.error_info),
                );
                rec.findings.push(f);
                self.done()
            }
            _ => Step::Wait,
        }
    }

    /// A Server Redirection instead of the Demand Active: recorded and reported, never followed;
    /// the walk ends there (the stage it came in is done: the server answered).
    fn on_redirect(&mut self, bytes: &[u8], rec: &mut Record, at: Duration) -> Step {
        let Ok(r) = rdp_proto::decode_prefix::<ServerRedirection>(bytes).map(|(_, r)| r) else {
            return Step::Wait;
        };
        let facts = RedirectFacts::from_pdu(&r);
        let stage = self.stage();
        rec.stage(
            stage,
            StageStatus::Ok,
            at,
            format!(
                "Server Redirection to {} (not followed)",
                facts.target().unwrap_or("no target named")
            ),
        );
        // Not a failure: mstsc would follow it (rdprobe does not), so no `stopped_at`.
        rec.findings.push(rules::redirected(&facts, stage));
        self.facts.redirect = Some(facts);
        self.done()
    }

    fn on_licensing(&mut self, l: &LicensingPdu<'_>, rec: &mut Record, at: Duration) -> Step {
        self.facts.licensing.on_pdu(l);
        match self.facts.licensing.outcome {
            LicensingOutcome::ValidClient | LicensingOutcome::LicenseIssued => {
                let detail = if self.facts.licensing.outcome == LicensingOutcome::LicenseIssued {
                    "a license issued (New License Request, Platform Challenge Response)"
                } else if self.licensing.keys().is_some() {
                    "STATUS_VALID_CLIENT after a New License Request"
                } else {
                    "STATUS_VALID_CLIENT"
                };
                rec.stage(Stage::Licensing, StageStatus::Ok, at, detail);
                if self.stop_after <= Stage::Licensing {
                    return self.done();
                }
                self.state = State::Capabilities;
                Step::Wait
            }
            LicensingOutcome::Error => {
                let (code, transition) = self
                    .facts
                    .licensing
                    .error
                    .unwrap_or((LicenseErrorCode(0), Default::default()));
                let f = rules::licensing(code, transition).unwrap_or_else(|| {
                    transport::closed_by_server(format!("licensing error {code}"))
                });
                self.fail(rec, at, format!("{code} / {transition}"), f)
            }
            _ if l.msg_type == LicenseMsgType::LICENSE_REQUEST => {
                let LicensingBody::Other(body) = l.body else {
                    return Step::Wait;
                };
                match self.licensing.new_license_request(body, self.server_key.as_ref()) {
                    // Licensing PDUs go with the basic header, unencrypted (MS-RDPELE 2.2.2).
                    Some(pdu) => {
                        let data = with_header(SecurityFlags::SEC_LICENSE_PKT, &pdu);
                        Step::Send(vec![self.send_data(&data)])
                    }
                    None => self.fail(
                        rec,
                        at,
                        "License Request without a usable RSA key (no certificate, or a key under 256 or over 8,192 bits): it cannot be answered".to_owned(),
                        None,
                    ),
                }
            }
            _ if l.msg_type == LicenseMsgType::PLATFORM_CHALLENGE => {
                let LicensingBody::Other(body) = l.body else {
                    return Step::Wait;
                };
                match self.licensing.platform_challenge_response(body) {
                    Ok(pdu) => {
                        let data = with_header(SecurityFlags::SEC_LICENSE_PKT, &pdu);
                        Step::Send(vec![self.send_data(&data)])
                    }
                    Err(e) => self.fail(rec, at, format!("Platform Challenge: {e}"), None),
                }
            }
            _ => Step::Wait,
        }
    }
}

impl Walk {
    /// Decrypts an encrypted fast-path output PDU (2.2.9.1.2) to keep the key stream in step.
    fn fast_path(&mut self, frame: &[u8]) -> Result<(), rdp_security::OpenError> {
        let Some(session) = &mut self.security else {
            return Ok(());
        };
        let Some((&header, rest)) = frame.split_first() else {
            return Ok(());
        };
        if header & 0x3 != rdp_proto::fastpath::ACTION_FASTPATH {
            return Ok(());
        }
        let flags = rdp_proto::fastpath::FastPathFlags::from_bits_retain(header >> 6);
        if !flags.contains(rdp_proto::fastpath::FastPathFlags::ENCRYPTED) {
            return Ok(());
        }
        let Ok((body, _)) = rdp_proto::fastpath::parse_length(rest) else {
            return Ok(());
        };
        // fipsInformation (4 bytes) then dataSignature: the layout `open` reads.
        session
            .open(
                body,
                flags.contains(rdp_proto::fastpath::FastPathFlags::SECURE_CHECKSUM),
            )
            .map(drop)
    }
}

/// `body` behind a basic security header with `flags`.
fn with_header(flags: SecurityFlags, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend(flags.bits().to_le_bytes());
    out.extend([0, 0]);
    out.extend_from_slice(body);
    out
}

/// Standard RDP Security on the walk's connection: the client's session keys, and the Security
/// Exchange PDU that gives the server the client random.
#[derive(Debug)]
pub struct Secured {
    pub session: Session,
    pub exchange: Vec<u8>,
    /// The server's key (from the Server Security Data).
    pub server_key: Option<RsaKey>,
}

/// What Standard RDP Security asks of the walk after this Connect-Response (MS-RDPBCGR 5.3.2):
/// nothing on TLS or at encryption level NONE; else the keys made from `client_random` and the
/// server random, and the client random encrypted with the server's key; or why the walk
/// cannot go on.
pub fn standard_security(
    cr: &ConnectResponseFacts,
    client_random: &[u8; 32],
) -> Result<Option<Secured>, String> {
    let Some(sec) = &cr.security else {
        return Ok(None);
    };
    if sec.method.is_empty() || sec.level.0 == 0 {
        return Ok(None);
    }
    let server_random = sec
        .server_random
        .ok_or("the Server Security Data has no 32-byte server random")?;
    let key = sec
        .public_key
        .as_ref()
        .ok_or("the server certificate has no usable RSA key")?;
    let session = Session::new(Role::Client, sec.method, client_random, &server_random)
        .ok_or_else(|| {
            format!(
                "encryption method {:#x} is not one of 40, 56, 128-bit or FIPS",
                sec.method.bits()
            )
        })?;
    let encrypted = rdp_security::rsa_encrypt(key, client_random)
        .ok_or("the server's RSA key is unusable (under 256 or over 8,192 bits)")?;
    Ok(Some(Secured {
        session,
        exchange: rdp_security::security_exchange(&encrypted),
        server_key: Some(key.clone()),
    }))
}

/// One capability set: type, then data (the length is written by the encoder).
fn capability(set_type: CapabilitySetType, data: &[u8]) -> CapabilitySet<'_> {
    CapabilitySet { set_type, data }
}

/// The capability sets of the probe's Confirm Active (MS-RDPBCGR 2.2.7): the sets a client must
/// send, with the least it can claim (no drawing orders, no caches, 16 bpp at 1024x768).
#[rustfmt::skip]
const GENERAL: [u8; 20] = [
    1, 0, 3, 0, // osMajorType WINDOWS, osMinorType WINDOWS_NT
    0, 2, 0, 0, 0, 0, // protocolVersion 0x0200, pad, generalCompressionTypes
    0x05, 0x04, // extraFlags: FASTPATH_OUTPUT, LONG_CREDENTIALS, NO_BITMAP_COMPRESSION_HDR
    0, 0, 0, 0, 0, 0, 0, 0, // updateCapabilityFlag, remoteUnshareFlag, compressionLevel, refreshRect, suppressOutput
];
#[rustfmt::skip]
const BITMAP: [u8; 24] = [
    16, 0, 1, 0, 1, 0, 1, 0, // preferredBitsPerPixel 16, receive1/4/8BitPerPixel
    0x00, 0x04, 0x00, 0x03, // desktop 1024 x 768
    0, 0, 1, 0, 1, 0, // pad, desktopResizeFlag, bitmapCompressionFlag
    0, 0, 1, 0, 0, 0, // highColorFlags, drawingFlags, multipleRectangleSupport, pad
];
#[rustfmt::skip]
const ORDER: [u8; 84] = {
    let mut b = [0u8; 84];
    b[20] = 1; // desktopSaveXGranularity
    b[22] = 20; // desktopSaveYGranularity
    b[26] = 1; // maximumOrderLevel
    b[30] = 0x22; // orderFlags: NEGOTIATEORDERSUPPORT | COLORINDEXSUPPORT; orderSupport: none
    b
};
#[rustfmt::skip]
const POINTER: [u8; 6] = [1, 0, 20, 0, 21, 0];
#[rustfmt::skip]
const INPUT: [u8; 84] = {
    let mut b = [0u8; 84];
    b[0] = 1; // inputFlags: INPUT_FLAG_SCANCODES
    b[4] = 0x09; b[5] = 0x04; // keyboardLayout 0x409
    b[8] = 4; // keyboardType
    b[16] = 12; // keyboardFunctionKey
    b
};
#[rustfmt::skip]
const CONTROL: [u8; 8] = [0, 0, 0, 0, 2, 0, 2, 0];
const ZERO4: [u8; 4] = [0; 4];
const ZERO8: [u8; 8] = [0; 8];
const BITMAP_CACHE: [u8; 36] = [0; 36];
const GLYPH_CACHE: [u8; 48] = [0; 48];
const FONT: [u8; 4] = [1, 0, 0, 0];
const COLOR_CACHE: [u8; 4] = [6, 0, 0, 0];

/// A Share Control PDU from the client (`pdu_type_raw`: type and protocol version).
fn share_control(pdu_type_raw: u16, user: u16, body: &[u8]) -> Vec<u8> {
    encode_vec(&ShareControlPdu {
        total_length: 0,
        pdu_type_raw,
        pdu_source: user,
        body,
    })
    .unwrap_or_default()
}

/// A Share Data PDU from the client.
fn share_data(share_id: u32, user: u16, pdu_type2: PduType2, body: &[u8]) -> Vec<u8> {
    let sd = encode_vec(&ShareDataPdu {
        share_id,
        pad1: 0,
        stream_id: 1,
        uncompressed_length: u16::try_from(body.len() + 4).unwrap_or(0),
        pdu_type2,
        compressed_type: 0,
        compressed_length: 0,
        body,
    })
    .unwrap_or_default();
    share_control(0x17, user, &sd)
}

/// The client's half of the capabilities exchange and finalization: Confirm Active,
/// Synchronize, Control Cooperate, Control Request, Font List (each a slow-path PDU without a
/// security header: TLS, or encryption level NONE).
fn finalization(share_id: u32, user: u16) -> Vec<Vec<u8>> {
    let sets = vec![
        capability(CapabilitySetType::CAPSTYPE_GENERAL, &GENERAL),
        capability(CapabilitySetType::CAPSTYPE_BITMAP, &BITMAP),
        capability(CapabilitySetType::CAPSTYPE_ORDER, &ORDER),
        capability(CapabilitySetType::CAPSTYPE_BITMAPCACHE, &BITMAP_CACHE),
        capability(CapabilitySetType::CAPSTYPE_POINTER, &POINTER),
        capability(CapabilitySetType::CAPSTYPE_INPUT, &INPUT),
        capability(CapabilitySetType::CAPSTYPE_BRUSH, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_GLYPHCACHE, &GLYPH_CACHE),
        capability(CapabilitySetType::CAPSTYPE_OFFSCREENCACHE, &ZERO8),
        capability(CapabilitySetType::CAPSTYPE_VIRTUALCHANNEL, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_SOUND, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_SHARE, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_CONTROL, &CONTROL),
        capability(CapabilitySetType::CAPSTYPE_ACTIVATION, &ZERO8),
        capability(CapabilitySetType::CAPSTYPE_FONT, &FONT),
        capability(CapabilitySetType::CAPSTYPE_COLORCACHE, &COLOR_CACHE),
    ];
    let confirm = encode_vec(&ConfirmActive {
        share_id,
        originator_id: SERVER_CHANNEL_ID,
        source_descriptor: b"RDPROBE\0",
        number_capabilities: u16::try_from(sets.len()).unwrap_or(0),
        pad: 0,
        capability_sets: sets,
    })
    .unwrap_or_default();
    let control = |pdu_type_raw: u16, body: &[u8]| share_control(pdu_type_raw, user, body);
    let data = |pdu_type2: PduType2, body: &[u8]| share_data(share_id, user, pdu_type2, body);
    let channel = SERVER_CHANNEL_ID.to_le_bytes();
    vec![
        control(0x13, &confirm),
        // TS_SYNCHRONIZE_PDU: SYNCMSGTYPE_SYNC, targetUser (the server channel).
        data(
            PduType2::PDUTYPE2_SYNCHRONIZE,
            &[1, 0, channel[0], channel[1]],
        ),
        // TS_CONTROL_PDU: CTRLACTION_COOPERATE, then CTRLACTION_REQUEST_CONTROL.
        data(PduType2::PDUTYPE2_CONTROL, &[4, 0, 0, 0, 0, 0, 0, 0]),
        data(PduType2::PDUTYPE2_CONTROL, &[1, 0, 0, 0, 0, 0, 0, 0]),
        // TS_FONT_LIST_PDU: no fonts, FONTLIST_FIRST | FONTLIST_LAST, entry size 50.
        data(PduType2::PDUTYPE2_FONTLIST, &[0, 0, 0, 0, 3, 0, 0x32, 0]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    use rdp_proto::licensing::NewLicenseRequest;

    /// xrdp's real server frames at encryption level NONE (`fixtures/pdu/peers`), fed in turn:
    /// Attach User Confirm, the Channel Join Confirms, then its License Request.
    #[test]
    fn a_walk_over_xrdp_real_frames() {
        let frame = |n: u32| -> Vec<u8> {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/peers/xfreerdp_xrdp-rdp-none");
            let e = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .find(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{n:03}-"))
                })
                .unwrap();
            std::fs::read(e.path()).unwrap()
        };
        let mut rec = Record::default();
        let (mut walk, step) = Walk::start(1003, Stage::Active, [7; 80], None);
        let Step::Send(first) = step else { panic!() };
        assert_eq!(first.len(), 2, "Erect Domain and Attach User");
        // Our Erect Domain and Attach User are xfreerdp's bytes.
        assert_eq!(first[0], frame(5));
        assert_eq!(first[1], frame(6));
        let ms = Duration::from_millis(1);
        let Step::Send(join) = walk.on_frame(&frame(7), &mut rec, ms) else {
            panic!()
        };
        assert_eq!(walk.facts.channels.user_channel, Some(1008));
        assert_eq!(join[0], frame(8), "the user channel's join is xfreerdp's");
        // xrdp confirms the user channel, then (we ask for) the I/O channel.
        assert!(matches!(
            walk.on_frame(&frame(9), &mut rec, ms),
            Step::Send(_)
        ));
        let Step::Send(info) = walk.on_frame(&frame(11), &mut rec, ms) else {
            panic!()
        };
        assert_eq!(walk.facts.channels.joined, [1008, 1003]);
        assert_eq!(info.len(), 1, "the Client Info");
        assert_eq!(walk.stage(), Stage::Licensing);
        // xrdp's License Request is answered with a New License Request shaped like
        // xfreerdp's (its premaster secret encrypted with xrdp's 512-bit key).
        let Step::Send(nlr) = walk.on_frame(&frame(21), &mut rec, ms) else {
            panic!()
        };
        let nlr_of = |frame: &[u8]| -> (u32, u32, usize) {
            let tpkt: Tpkt = rdp_proto::decode(frame).unwrap();
            let Tpdu::Data(d) = rdp_proto::decode::<Tpdu>(tpkt.payload).unwrap() else {
                panic!()
            };
            let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(d.payload).unwrap()
            else {
                panic!()
            };
            let (rest, _) = rdp_proto::decode_prefix::<SecurityHeader>(sd.data).unwrap();
            let l: LicensingPdu = rdp_proto::decode(rest).unwrap();
            assert_eq!(l.msg_type, LicenseMsgType::NEW_LICENSE_REQUEST);
            let LicensingBody::Other(body) = l.body else {
                panic!()
            };
            let n: NewLicenseRequest = rdp_proto::decode(body).unwrap();
            (
                n.key_exchange_alg,
                n.platform_id,
                n.encrypted_premaster.data.len(),
            )
        };
        assert_eq!(nlr_of(&nlr[0]), nlr_of(&frame(22)));
        assert_eq!(walk.facts.licensing.outcome, LicensingOutcome::Started);
        // STATUS_VALID_CLIENT, then the Demand Active.
        assert_eq!(walk.on_frame(&frame(23), &mut rec, ms), Step::Wait);
        // The Demand Active: our Confirm Active and the client's finalization PDUs follow.
        let Step::Send(fin) = walk.on_frame(&frame(24), &mut rec, ms) else {
            panic!()
        };
        assert_eq!(
            fin.len(),
            5,
            "Confirm Active, Synchronize, 2 Controls, Font List"
        );
        let tpkt: Tpkt = rdp_proto::decode(&fin[0]).unwrap();
        let Tpdu::Data(d) = rdp_proto::decode::<Tpdu>(tpkt.payload).unwrap() else {
            panic!()
        };
        let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(d.payload).unwrap()
        else {
            panic!()
        };
        let sc: ShareControlPdu = rdp_proto::decode(sd.data).unwrap();
        assert_eq!(sc.pdu_type(), PduType::PDUTYPE_CONFIRMACTIVEPDU);
        let ca: ConfirmActive = rdp_proto::decode(sc.body).unwrap();
        assert_eq!(ca.capability_sets.len(), 16);
        assert_eq!(walk.stage(), Stage::Finalization);
        let caps = walk.facts.capabilities.as_ref().unwrap();
        assert_eq!(
            (caps.desktop_width, caps.desktop_height),
            (Some(1024), Some(768))
        );
        let stages: Vec<_> = rec.stages.iter().map(|s| (s.name, s.status)).collect();
        assert_eq!(
            stages,
            [
                (Stage::Channels, StageStatus::Ok),
                (Stage::ClientInfo, StageStatus::Ok),
                (Stage::Licensing, StageStatus::Ok),
                (Stage::Capabilities, StageStatus::Ok)
            ]
        );
        assert_eq!(rec.stopped_at, None);
    }
}
