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

use rdp_proto::capabilities::{CapabilitySet, CapabilitySetType, ConfirmActive, SERVER_CHANNEL_ID};
use rdp_proto::encode_vec;
use rdp_proto::info::ClientInfo;
use rdp_proto::licensing::{LicenseErrorCode, LicenseMsgType, LicensingBody, LicensingPdu};
use rdp_proto::mcs::{DomainPdu, McsResult, SendData};
use rdp_proto::slowpath::{PduType2, SecurityFlags, SecurityHeader, ShareControlPdu, ShareDataPdu};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{Data, Tpdu};

use super::licensing::LicensingClient;
use crate::active::crypto::rdp_security::{self, Role, RsaKey, Session};
use crate::active::plan::Record;
use crate::diagnose::{rules, transport, Stage, StageStatus};
use crate::facts::gcc::ConnectResponseFacts;

use crate::facts::session::{LicensingOutcome, RedirectFacts, SessionFacts, ShareControlFacts};

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
                self.on_attach(result, initiator, rec, at)
            }
            DomainPdu::ChannelJoinConfirm {
                result, requested, ..
            } if self.state == State::Join => self.on_join(result, requested, rec, at),
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
                return match RedirectFacts::parse(&plain) {
                    Some(facts) => self.on_redirect(facts, rec, at),
                    None => Step::Wait,
                };
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
}

mod activation;
mod channels;
mod licensing;
mod pdu;
mod security;
#[cfg(test)]
mod tests;

use pdu::{finalization, share_data};
use security::with_header;
pub use security::{standard_security, Secured};
