//! The capture's RDP reader: per-connection RDP analysis over the two reassembled byte
//! streams, shared by file and live capture. Bytes go through `rdp_proto`'s deframer; each PDU
//! moves the connection through the stages of [`crate::diagnose::Stage`] and leaves its facts
//! in an [`RdpFacts`].
//!
//! Once the connection is in encrypted bulk data (TLS application data both ways, or fast-path
//! traffic), [`Session::wants_bytes`] turns false and the caller stops reassembling: from then
//! on only TCP metadata is tracked.

use rdp_proto::frame::{Deframer, FrameKind};
use rdp_proto::licensing::LicensingPdu;
use rdp_proto::mcs::{ConnectInitial, ConnectResponse, DomainPdu};
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::slowpath::{SecurityFlags, SecurityHeader, ShareControlPdu};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{Token, Tpdu};
use rdp_proto::{decode, decode_prefix};

use crate::capture::decrypt::Keys;
use crate::diagnose::Stage;
use crate::facts::gcc::ConnectResponseFacts;
use crate::facts::observe::describe_non_rdp;
use crate::facts::rdp::Dir;
use crate::facts::rdp::{ClientFacts, ClientInfoFacts, EndingPdu, RdpFacts};
use crate::facts::session::{LicensingOutcome, ShareControlFacts};
use crate::facts::tls::HandshakeReader;
use crate::facts::x224::Confirm;

mod decrypted;
mod gateway;
mod tls;

use decrypted::Decrypt;
pub use gateway::{pair_legacy, GatewayReader};

/// A stage boundary seen on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub stage: Stage,
    /// true when the stage completed with this event, false when it started.
    pub done: bool,
    pub ts_ns: i64,
    pub detail: String,
}

/// How much unframed prefix (SOCKS, proxies) a direction may skip looking for the first TPKT.
const MAX_PREFIX: usize = 2048;
/// Handshake bytes beyond which a connection is treated as bulk whatever it looks like.
const MAX_HANDSHAKE_BYTES: u64 = 512 * 1024;
/// TLS application-data records per direction that are counted before reassembly stops.
const APPDATA_RECORDS: u64 = 4;

#[derive(Debug, Default)]
struct DirState {
    deframer: Deframer,
    /// Still looking for the first frame (prefix bytes are skipped).
    seeking: bool,
    prefix: u64,
    broken: bool,
    ccs: bool,
    appdata: u64,
    appdata_bytes: u64,
    fastpath: u64,
    delivered: u64,
    /// Handshake messages spanning records.
    hs: HandshakeReader,
}

/// The RDP analysis of one connection.
#[derive(Debug)]
pub struct Session {
    dirs: [DirState; 2],
    /// What the connection established.
    pub rdp: RdpFacts,
    /// The connection spoke RDP (a Connection Request or Confirm was seen).
    pub is_rdp: bool,
    /// The server answered with bytes that are not RDP.
    pub not_rdp: Option<String>,
    /// The stage a Set Error Info ended: after licensing `capabilities`, after the logon
    /// screen `active`.
    pub error_stage: Option<Stage>,
    /// The server sent a Connection Confirm.
    server_spoke: bool,
    pub events: Vec<Event>,
    /// The furthest stage reached, and whether it completed.
    pub reached: Stage,
    pub reached_done: bool,
    bulk: bool,
    encrypted_rdp: bool,
    /// TLS 1.3 was negotiated and the client's Finished (its first encrypted record) is not
    /// seen yet: application-data records until then are the encrypted handshake.
    tls13_handshake: bool,
    /// A stream that may begin with a TLS record instead of a Connection Request (a capture
    /// joined mid-connection on an RDP port).
    tls_start_allowed: bool,
    /// The ClientHello's random, and the ServerHello's suite and random until the key is
    /// looked up: what finds the session in a key log.
    client_random: Option<[u8; 32]>,
    server_hello: Option<(
        rdp_proto::tls::CipherSuite,
        crate::capture::decrypt::record::CbcMode,
        [u8; 32],
    )>,
    decrypt: Decrypt,
    /// The client began with a TLS ClientHello, not a Connection Request: HTTPS (an RD
    /// Gateway, when its decrypted requests say so), never "not RDP".
    pub tls_first: bool,
    /// The RD Gateway read from the decrypted stream of a `tls_first` connection.
    pub gateway: Option<Box<GatewayReader>>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    pub fn new() -> Self {
        let dir = || DirState {
            seeking: true,
            ..DirState::default()
        };
        Self {
            dirs: [dir(), dir()],
            rdp: RdpFacts::default(),
            is_rdp: false,
            not_rdp: None,
            error_stage: None,
            server_spoke: false,
            events: Vec::new(),
            reached: Stage::X224,
            reached_done: false,
            bulk: false,
            encrypted_rdp: false,
            tls13_handshake: false,
            tls_start_allowed: false,
            client_random: None,
            server_hello: None,
            decrypt: Decrypt::Untried,
            tls_first: false,
            gateway: None,
        }
    }

    /// The capture joined this connection after its handshake began, on an RDP port: a stream
    /// that starts with a TLS record is read from there (TLS facts, the certificate of a
    /// TLS 1.0-1.2 server, encrypted CredSSP or bulk data), without inventing what came before.
    pub fn join_midstream(&mut self) {
        self.tls_start_allowed = true;
    }

    /// Whether the caller should keep reassembling and feeding bytes.
    pub fn wants_bytes(&self) -> bool {
        !(self.bulk || self.dirs[0].broken && self.dirs[1].broken)
    }

    /// TLS is established both ways (ChangeCipherSpec seen from each side).
    pub fn tls_established(&self) -> bool {
        self.dirs[0].ccs && self.dirs[1].ccs
    }

    /// The security protocol the Connection Confirm selected (a legacy Confirm: RDP).
    pub fn selected(&self) -> Option<SecurityProtocol> {
        self.rdp.confirm.as_ref().and_then(Confirm::selected)
    }

    /// The stage in progress: the furthest one seen, or the next when it completed.
    pub fn in_progress(&self) -> Stage {
        if self.reached_done {
            self.reached.after(self.selected())
        } else {
            self.reached
        }
    }

    /// Application-data records seen (client, server) after the TLS handshake.
    pub fn appdata(&self) -> (u64, u64) {
        (self.dirs[0].appdata, self.dirs[1].appdata)
    }

    fn event(&mut self, stage: Stage, done: bool, ts_ns: i64, detail: impl Into<String>) {
        if self.events.len() < 64 {
            self.events.push(Event {
                stage,
                done,
                ts_ns,
                detail: detail.into(),
            });
        }
        if stage > self.reached || (stage == self.reached && done) {
            self.reached = stage;
            self.reached_done = done;
        }
    }

    /// Feeds in-order bytes of one direction; `keys` decrypt its TLS session when they have it.
    pub fn feed(&mut self, dir: Dir, bytes: &[u8], ts_ns: i64, keys: &Keys) {
        let d = dir.index();
        if self.bulk || self.dirs[d].broken {
            return;
        }
        self.dirs[d].delivered += bytes.len() as u64;
        if self.dirs[0].delivered + self.dirs[1].delivered > MAX_HANDSHAKE_BYTES {
            self.bulk = true;
            return;
        }
        if self.dirs[d].deframer.push(bytes).is_err() {
            self.dirs[d].broken = true;
            return;
        }
        loop {
            if self.dirs[d].seeking && !self.seek(dir) {
                return;
            }
            // The deframer is taken out while its frame is handled: no copy of the frame.
            let mut deframer = std::mem::take(&mut self.dirs[d].deframer);
            let go_on = match deframer.next_frame() {
                Ok(Some(f)) => {
                    if f.kind == FrameKind::TlsRecord {
                        self.on_tls(dir, f.bytes, ts_ns, keys);
                    } else {
                        self.on_frame(dir, f.kind, f.bytes, ts_ns);
                    }
                    !self.bulk
                }
                Ok(None) => false,
                Err(_) => {
                    if !self.server_spoke && dir == Dir::ServerToClient && self.not_rdp.is_none() {
                        self.not_rdp = Some(describe_non_rdp(deframer.buffered()));
                    }
                    self.dirs[d].broken = true;
                    false
                }
            };
            self.dirs[d].deframer = deframer;
            if !go_on {
                return;
            }
        }
    }

    /// Skips a non-RDP prefix (a SOCKS5 exchange, a proxy header) up to the first plausible
    /// Connection Request (client) or Confirm (server). Returns true once positioned.
    fn seek(&mut self, dir: Dir) -> bool {
        let d = &mut self.dirs[dir.index()];
        let buf = d.deframer.buffered();
        let want = if dir == Dir::ClientToServer {
            rdp_proto::x224::TPDU_CONNECTION_REQUEST
        } else {
            rdp_proto::x224::TPDU_CONNECTION_CONFIRM
        };
        // Joined mid-connection: a TLS record at the very start (change_cipher_spec, alert,
        // handshake or application data; version 3.x; a record length TLS allows) is where
        // this stream is read from. Not a heartbeat (24): no connection starts with one.
        use rdp_proto::tls::ContentType;
        // HTTPS (an RD Gateway): the client's first bytes are a TLS handshake record, the
        // server's then too.
        if d.prefix == 0
            && buf.len() >= 5
            && buf[1] == 3
            && buf[2] <= 4
            && buf[0] == ContentType::HANDSHAKE.0
            && (dir == Dir::ClientToServer && !self.server_spoke || self.tls_first)
            && !self.is_rdp
            && !self.tls_start_allowed
        {
            d.seeking = false;
            self.tls_first = true;
            return true;
        }
        let record_types = ContentType::CHANGE_CIPHER_SPEC.0..=ContentType::APPLICATION_DATA.0;
        if self.tls_start_allowed
            && d.prefix == 0
            && buf.len() >= 5
            && record_types.contains(&buf[0])
            && buf[1] == 3
            && buf[2] <= 4
            && u16::from_be_bytes([buf[3], buf[4]]) <= 16_384 + 2_048
        {
            d.seeking = false;
            self.is_rdp = true;
            self.rdp.joined_midstream = true;
            return true;
        }
        let found = buf.windows(6).position(|w| {
            w[0] == 3
                && w[1] == 0
                && u16::from_be_bytes([w[2], w[3]]) >= 11
                && w[5] & 0xF0 == want
                && usize::from(w[4]) + 5 <= usize::from(u16::from_be_bytes([w[2], w[3]]))
        });
        match found {
            Some(0) => {
                d.seeking = false;
                true
            }
            Some(n) => {
                d.prefix += n as u64;
                d.deframer.skip(n);
                d.seeking = false;
                true
            }
            None if buf.len() > MAX_PREFIX => {
                if dir == Dir::ServerToClient && !self.server_spoke && self.not_rdp.is_none() {
                    self.not_rdp = Some(describe_non_rdp(buf));
                }
                d.broken = true;
                false
            }
            None => {
                // A prefix that cannot be RDP yet: a server answer is judged when the stream ends.
                false
            }
        }
    }

    /// The server's first bytes if they never became RDP, and the counters (called at the end
    /// of a connection).
    pub fn finish(&mut self) {
        if let Some(g) = self.gateway.as_mut() {
            g.finish();
        }
        if let Some(io) = self
            .rdp
            .connect_response
            .as_ref()
            .and_then(|c| c.io_channel)
        {
            self.rdp.session.channels.io_channel = Some(io);
        }
        let s = &self.dirs[1];
        if !self.server_spoke && self.not_rdp.is_none() && !s.deframer.buffered().is_empty() {
            self.not_rdp = Some(describe_non_rdp(s.deframer.buffered()));
        }
        let (c, s) = (&self.dirs[0], &self.dirs[1]);
        self.rdp.prefix_bytes = c.prefix.max(s.prefix);
        self.rdp.fast_path_pdus = c.fastpath + s.fastpath;
        self.rdp.bulk_bytes = c.appdata_bytes + s.appdata_bytes;
        let established = self.tls_established();
        if let Some(t) = self.rdp.tls.as_mut() {
            t.established = established;
        }
        self.rdp.decryption = self.decrypt.facts();
    }

    fn on_frame(&mut self, dir: Dir, kind: FrameKind, bytes: &[u8], ts: i64) {
        match kind {
            FrameKind::Tpkt => self.on_tpkt(dir, bytes, ts),
            // Read by `on_tls` (it needs the keys); never inside a decrypted stream.
            FrameKind::TlsRecord => {}
            FrameKind::FastPath => {
                let d = &mut self.dirs[dir.index()];
                d.fastpath += 1;
                if self.is_rdp {
                    self.event(Stage::Active, true, ts, "fast-path traffic");
                    if self.dirs[0].fastpath > 0 && self.dirs[1].fastpath > 0 {
                        self.bulk = true;
                    }
                }
            }
            FrameKind::Der => {}
        }
    }

    fn on_tpkt(&mut self, dir: Dir, bytes: &[u8], ts: i64) {
        let Ok(tpkt) = decode::<Tpkt>(bytes) else {
            return;
        };
        let Ok(tpdu) = decode::<Tpdu>(tpkt.payload) else {
            if !self.server_spoke && dir == Dir::ServerToClient {
                self.not_rdp = Some(describe_non_rdp(bytes));
            }
            return;
        };
        match tpdu {
            Tpdu::ConnectionRequest(cr) if dir == Dir::ClientToServer => {
                self.is_rdp = true;
                match cr.token {
                    Some(Token::Cookie(c)) => {
                        self.rdp.cookie = Some(String::from_utf8_lossy(c).into_owned());
                    }
                    Some(Token::RoutingToken(t)) => {
                        self.rdp.routing_token = Some(String::from_utf8_lossy(t).into_owned());
                    }
                    None => {}
                }
                self.rdp.requested = cr.negotiation.map(|n| n.requested_protocols);
                self.rdp.request_flags = cr.negotiation.map(|n| n.flags);
                self.event(Stage::X224, false, ts, "Connection Request");
            }
            Tpdu::ConnectionConfirm(cc) if dir == Dir::ServerToClient => {
                self.is_rdp = true;
                self.server_spoke = true;
                let c = Confirm::from_pdu(&cc);
                self.rdp.confirm = Some(c);
                let done = c.failure().is_none();
                self.event(Stage::X224, done, ts, c.detail());
            }
            Tpdu::DisconnectRequest(dr) => {
                self.rdp.ended_by = Some(EndingPdu::X224DisconnectRequest(dr.reason));
            }
            Tpdu::Data(d) => self.on_mcs(dir, d.payload, ts),
            _ => {}
        }
    }

    fn on_mcs(&mut self, dir: Dir, p: &[u8], ts: i64) {
        if p.starts_with(&rdp_proto::mcs::TAG_CONNECT_INITIAL) {
            self.event(Stage::Mcs, false, ts, "Connect-Initial");
            if let Ok(ci) = decode::<ConnectInitial>(p) {
                if let Ok(gcc) = decode::<rdp_proto::gcc::ConferenceCreateRequest>(ci.user_data) {
                    self.rdp.client = Some(ClientFacts::from_pdu(&gcc));
                }
            }
            return;
        }
        if p.starts_with(&rdp_proto::mcs::TAG_CONNECT_RESPONSE) {
            if let Ok(cr) = decode::<ConnectResponse>(p) {
                let facts = ConnectResponseFacts::from_pdu(&cr);
                self.encrypted_rdp = facts.security.as_ref().is_some_and(|sec| sec.level.0 != 0);
                if let Some(sec) = &facts.security {
                    self.rdp.rdp_x509_chain = sec.x509_chain.iter().take(4).cloned().collect();
                }
                self.event(
                    Stage::Mcs,
                    true,
                    ts,
                    format!("Connect-Response {}", cr.result),
                );
                self.rdp.connect_response = Some(facts);
            }
            return;
        }
        let Ok(pdu) = decode::<DomainPdu>(p) else {
            return;
        };
        match pdu {
            DomainPdu::ErectDomainRequest { .. } | DomainPdu::AttachUserRequest => {
                self.event(Stage::Channels, false, ts, "Erect Domain / Attach User");
            }
            DomainPdu::AttachUserConfirm { initiator, .. } => {
                self.rdp.session.channels.user_channel = initiator;
            }
            DomainPdu::ChannelJoinConfirm {
                result, requested, ..
            } => {
                self.rdp.session.channels.join_confirm(requested, result);
                self.event(Stage::Channels, true, ts, "Channel Join Confirm")
            }
            DomainPdu::DisconnectProviderUltimatum { reason } => {
                self.rdp.ended_by = Some(EndingPdu::Ultimatum(reason));
                self.rdp.session.disconnect = Some(reason);
            }
            DomainPdu::SendDataRequest(sd) | DomainPdu::SendDataIndication(sd) => {
                self.on_slowpath(dir, sd.data, ts)
            }
            _ => {}
        }
    }

    /// Slow-path data after the MCS connect: security exchange, Client Info, licensing, the
    /// capabilities exchange. Encrypted PDUs are recognised by their security header flags.
    fn on_slowpath(&mut self, dir: Dir, data: &[u8], ts: i64) {
        if !self.encrypted_rdp {
            if let Ok(sc) = decode::<ShareControlPdu>(data) {
                if sc.pdu_type_raw & 0xFFF0 == 0x0010 {
                    self.on_share_control(&sc, ts);
                    return;
                }
            }
        }
        let Ok((rest, sec)) = decode_prefix::<SecurityHeader>(data) else {
            return;
        };
        let f = sec.flags;
        if f.contains(SecurityFlags::SEC_EXCHANGE_PKT) {
            self.event(Stage::SecurityExchange, true, ts, "Security Exchange PDU");
        } else if f.contains(SecurityFlags::SEC_INFO_PKT) {
            if !f.contains(SecurityFlags::SEC_ENCRYPT) {
                if let Ok(ci) = decode::<rdp_proto::info::ClientInfo>(rest) {
                    self.rdp.client_info = Some(ClientInfoFacts::from_pdu(&ci));
                }
            }
            self.event(Stage::ClientInfo, true, ts, "Client Info PDU");
        } else if f.contains(SecurityFlags::SEC_LICENSE_PKT) {
            self.event(Stage::Licensing, false, ts, "licensing");
            // In clear unless encrypted (then nothing can be read without the keys).
            if f.contains(SecurityFlags::SEC_ENCRYPT) {
                if self.rdp.session.licensing.outcome == LicensingOutcome::NotReached {
                    self.rdp.session.licensing.outcome = LicensingOutcome::Encrypted;
                }
            } else {
                if let Ok(l) = decode::<LicensingPdu>(rest) {
                    self.rdp.session.licensing.on_pdu(&l);
                    if l.is_valid_client() {
                        self.event(Stage::Licensing, true, ts, "STATUS_VALID_CLIENT");
                    }
                }
            }
        } else if f.contains(SecurityFlags::SEC_ENCRYPT) && dir == Dir::ServerToClient {
            // An encrypted server PDU after licensing: Demand Active or later.
            if self.reached >= Stage::Licensing {
                self.event(Stage::Capabilities, false, ts, "encrypted slow-path data");
            }
        } else if let Ok(sc) = decode::<ShareControlPdu>(rest) {
            self.on_share_control(&sc, ts);
        }
    }

    fn on_share_control(&mut self, sc: &ShareControlPdu<'_>, ts: i64) {
        match ShareControlFacts::from_pdu(sc) {
            ShareControlFacts::Redirect(facts) => {
                self.event(
                    Stage::Capabilities,
                    true,
                    ts,
                    format!(
                        "Server Redirection to {}",
                        facts.target().unwrap_or("no target named")
                    ),
                );
                self.rdp.session.redirect = Some(facts);
            }
            ShareControlFacts::DemandActive(d) => {
                if let Some((_, caps)) = d {
                    self.rdp.session.capabilities = Some(caps);
                }
                self.event(Stage::Capabilities, false, ts, "Demand Active");
            }
            ShareControlFacts::ConfirmActive => {
                self.event(Stage::Capabilities, true, ts, "Confirm Active");
            }
            ShareControlFacts::FontList => self.event(Stage::Finalization, false, ts, "Font List"),
            ShareControlFacts::FontMap => {
                self.event(Stage::Finalization, true, ts, "Font Map");
                // Read with its key: the session is reached, the rest is bulk data.
                if self.reading() {
                    self.bulk = true;
                }
            }
            ShareControlFacts::ErrorInfo(e) => {
                // The stage in progress: after the licensing result it ends the capabilities
                // stage; after the logon screen, the session.
                self.rdp.session.error_info = Some(e);
                self.error_stage = Some(self.in_progress());
            }
            ShareControlFacts::Logon(logon) => self.rdp.session.logon = Some(logon),
            ShareControlFacts::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_proto::encode_vec;
    use rdp_proto::mcs::SendData;
    use rdp_proto::slowpath::{ErrorInfo, PduType2, SetErrorInfo, ShareDataPdu};
    use rdp_proto::x224::Data;

    /// A server Set Error Info PDU at encryption level NONE, built with rdp-proto's encoders.
    fn set_error_info(code: u32) -> Vec<u8> {
        let info = encode_vec(&SetErrorInfo {
            error_info: ErrorInfo(code),
        })
        .unwrap();
        let data = encode_vec(&ShareDataPdu {
            share_id: 0x0001_03ea,
            pad1: 0,
            stream_id: 1,
            uncompressed_length: 8,
            pdu_type2: PduType2::PDUTYPE2_SET_ERROR_INFO_PDU,
            compressed_type: 0,
            compressed_length: 0,
            body: &info,
        })
        .unwrap();
        let control = encode_vec(&ShareControlPdu {
            total_length: 0,
            pdu_type_raw: 0x17,
            pdu_source: 1002,
            body: &data,
        })
        .unwrap();
        let mcs = encode_vec(&DomainPdu::SendDataIndication(SendData {
            initiator: 1002,
            channel_id: 1003,
            priority_segmentation: 0x70,
            data: &control,
            long_length: true,
        }))
        .unwrap();
        let x224 = encode_vec(&Tpdu::Data(Data {
            eot: 0x80,
            variable: &[],
            payload: &mcs,
        }))
        .unwrap();
        encode_vec(&Tpkt {
            reserved: 0,
            payload: &x224,
        })
        .unwrap()
    }

    /// xfreerdp's real Connection Request with RESTRICTED_ADMIN_MODE_REQUIRED set (as
    /// `mstsc /restrictedAdmin` sends it): the request flags are a fact of the connection.
    #[test]
    fn restricted_admin_is_read_from_the_request() {
        let mut cr = crate::testdata::pdu("peers/credssp/xfreerdp_x224_cr.bin");
        let n = cr.len();
        // RDP_NEG_REQ: type, flags, length (2), requestedProtocols (4).
        cr[n - 7] = 0x01;
        let mut s = Session::new();
        s.feed(Dir::ClientToServer, &cr, 1, &Keys::default());
        s.finish();
        let report = crate::report::capture::RdpReport::from(&s.rdp);
        assert_eq!(report.request_flags, ["RESTRICTED_ADMIN_MODE_REQUIRED"]);
    }

    /// xfreerdp and xrdp at level NONE (their real PDUs up to licensing), then a Set Error Info
    /// 7 from the server: recorded with the stage it ends (capabilities, after licensing).
    #[test]
    fn a_set_error_info_after_licensing_ends_capabilities() {
        let mut s = Session::new();
        for n in 1..=23 {
            let (bytes, from_client) = crate::testdata::peer_frame("xfreerdp_xrdp-rdp-none", n);
            let d = if from_client {
                Dir::ClientToServer
            } else {
                Dir::ServerToClient
            };
            s.feed(d, &bytes, i64::from(n), &Keys::default());
        }
        assert_eq!(s.rdp.session.licensing.outcome.as_str(), "valid_client");
        s.feed(
            Dir::ServerToClient,
            &set_error_info(7),
            100,
            &Keys::default(),
        );
        assert_eq!(s.rdp.session.error_info, Some(ErrorInfo(7)));
        assert_eq!(s.error_stage, Some(Stage::Capabilities));
        s.finish();
        let r = crate::report::capture::SessionReport::from(&s.rdp.session);
        assert_eq!(
            r.error_info.as_ref().map(|e| e.name.as_str()),
            Some("ERRINFO_SERVER_DENIED_CONNECTION")
        );
    }
}
