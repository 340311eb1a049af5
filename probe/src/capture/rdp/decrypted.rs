//! The TLS session read with its key ([`crate::capture::decrypt`]): each protected record
//! opened, the plaintext of each direction deframed the way the probe reads it (CredSSP's DER
//! TSRequests, HYBRID_EX's 4-byte Early User Authorization Result, then TPKT and fast-path), and
//! every frame given to the same readers as the clear ones. A record that does not open stops
//! the reading; what came before stays, and the connection carries the notice.

use rdp_proto::credssp::TsRequest;
use rdp_proto::decode;
use rdp_proto::frame::{Deframer, FrameKind, Framing};
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{self, CipherSuite, ContentType};

use super::{Dir, Session};
use crate::capture::decrypt::record::CbcMode;
use crate::capture::decrypt::session::SessionKeys;
use crate::capture::decrypt::Keys;
use crate::diagnose::Stage;
use crate::facts::credssp::{AuthStep, ClientTsRequest, EarlyAuthz, TsRequestFacts};
use crate::facts::decrypt::{Decryption, KeySource, NoKey};
use crate::facts::rdp::NlaFacts;

/// The decryption state of a connection.
#[derive(Debug, Default)]
pub(super) enum Decrypt {
    /// No key log, or the hellos not seen yet.
    #[default]
    Untried,
    Reading(Box<Reading>),
    /// Not decrypting (any more): why.
    Stopped(Decryption),
}

#[derive(Debug)]
pub(super) struct Reading {
    keys: SessionKeys,
    source: KeySource,
    suite: CipherSuite,
    inner: [Inner; 2],
    opened: [u64; 2],
}

#[derive(Debug, Default)]
struct Inner {
    deframer: Deframer,
    broken: bool,
}

impl Decrypt {
    /// The fact the report shows.
    pub(super) fn facts(&self) -> Option<Decryption> {
        match self {
            Self::Untried => None,
            Self::Reading(r) => Some(Decryption::Decrypted {
                source: r.source,
                suite: r.suite,
                records: (r.opened[0], r.opened[1]),
            }),
            Self::Stopped(d) => Some(*d),
        }
    }
}

impl Session {
    /// Whether the TLS session is being read with its key.
    pub(super) fn reading(&self) -> bool {
        matches!(self.decrypt, Decrypt::Reading(_))
    }

    /// At the ServerHello: the session's key, if the key log has it.
    pub(super) fn start_decrypting(
        &mut self,
        suite: CipherSuite,
        mode: CbcMode,
        server_random: &[u8; 32],
        keys: &Keys,
    ) {
        if keys.is_empty() || !matches!(self.decrypt, Decrypt::Untried) {
            return;
        }
        let Some(client_random) = self.client_random else {
            self.decrypt = Decrypt::Stopped(Decryption::NoKey(NoKey::NoHello));
            return;
        };
        let Some((secrets, source)) = keys.lookup(&client_random) else {
            self.decrypt = Decrypt::Stopped(Decryption::NoKey(NoKey::NotInKeyLog));
            return;
        };
        match SessionKeys::new(suite.0, mode, secrets, &client_random, server_random) {
            Ok(keys) => {
                let framing = if self.selected().is_some_and(SecurityProtocol::is_nla) {
                    Framing::Der
                } else {
                    Framing::Rdp
                };
                let inner = || {
                    let mut deframer = Deframer::new();
                    deframer.set_framing(framing);
                    Inner {
                        deframer,
                        broken: false,
                    }
                };
                self.decrypt = Decrypt::Reading(Box::new(Reading {
                    keys,
                    source,
                    suite,
                    inner: [inner(), inner()],
                    opened: [0, 0],
                }));
            }
            Err(why) => self.decrypt = Decrypt::Stopped(Decryption::NoKey(why)),
        }
    }

    /// A record of `dir` while reading: opened when protected, its plaintext read. The record's
    /// outer handling (counting, the TLS stage) goes on in the caller.
    pub(super) fn on_record_reading(
        &mut self,
        dir: Dir,
        rec: &tls::Record<'_>,
        bytes: &[u8],
        ts: i64,
        keys: &Keys,
    ) {
        let Decrypt::Reading(r) = &mut self.decrypt else {
            return;
        };
        if rec.content_type == ContentType::CHANGE_CIPHER_SPEC {
            r.keys.on_change_cipher_spec(dir);
            return;
        }
        if !r.keys.protected(dir, rec.content_type.0) {
            return;
        }
        let Some(header) = bytes.first_chunk::<5>() else {
            return;
        };
        match r.keys.open(dir, header, rec.fragment) {
            Ok(opened) => {
                r.opened[dir.index()] += 1;
                match ContentType(opened.content_type) {
                    ContentType::APPLICATION_DATA => self.on_plaintext(dir, &opened.data, ts, keys),
                    // TLS 1.3's encrypted handshake: the server's certificate is in it.
                    ContentType::HANDSHAKE => {
                        let d = dir.index();
                        let mut reader = std::mem::take(&mut self.dirs[d].hs);
                        reader.push(&opened.data, |hs| self.on_handshake(dir, hs, ts));
                        self.dirs[d].hs = reader;
                    }
                    ContentType::ALERT => {
                        if let Ok(a) = decode::<tls::Alert>(&opened.data) {
                            // close_notify ends a connection normally.
                            if a.description.0 != 0 {
                                if let Some(t) = self.rdp.tls.as_mut() {
                                    t.alert.get_or_insert((dir, a));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Err(failed) => {
                self.decrypt = Decrypt::Stopped(Decryption::Failed {
                    source: r.source,
                    suite: r.suite,
                    failed,
                });
            }
        }
    }

    /// HYBRID_EX and the client sent its credentials: the server's Early User Authorization
    /// Result is due before any RDP frame.
    fn early_authz_due(&self) -> bool {
        self.selected()
            .is_some_and(|p| p.contains(SecurityProtocol::HYBRID_EX))
            && self
                .rdp
                .nla
                .as_ref()
                .is_some_and(|n| n.step == Some(AuthStep::Credentials) && n.early_authz.is_none())
    }

    /// Decrypted application data of `dir`, in order.
    fn on_plaintext(&mut self, dir: Dir, data: &[u8], ts: i64, keys: &Keys) {
        if self.tls_first {
            let g = self.gateway.get_or_insert_with(Box::default);
            g.feed(dir, data, ts, keys);
            // The inner connection in bulk data: nothing more to read.
            if g.inner.as_ref().is_some_and(|i| !i.wants_bytes()) {
                self.bulk = true;
            }
            return;
        }
        let d = dir.index();
        {
            let Decrypt::Reading(r) = &mut self.decrypt else {
                return;
            };
            let inner = &mut r.inner[d];
            if inner.broken {
                return;
            }
            if inner.deframer.push(data).is_err() {
                inner.broken = true;
                return;
            }
        }
        loop {
            let Decrypt::Reading(r) = &mut self.decrypt else {
                return;
            };
            let mut deframer = std::mem::take(&mut r.inner[d].deframer);
            let mut go_on = true;
            if deframer.framing() == Framing::Der {
                match deframer.buffered().first() {
                    None => go_on = false,
                    Some(0x30) => {}
                    Some(_) if dir == Dir::ServerToClient && self.early_authz_due() => {
                        match deframer.buffered().first_chunk::<4>() {
                            Some(word) => {
                                let v = u32::from_le_bytes(*word);
                                deframer.skip(4);
                                deframer.set_framing(Framing::Rdp);
                                self.on_early_authz(EarlyAuthz::from_u32(v), ts);
                            }
                            None => go_on = false,
                        }
                    }
                    Some(_) => deframer.set_framing(Framing::Rdp),
                }
            }
            let mut broken = false;
            if go_on {
                go_on = match deframer.next_frame() {
                    Ok(Some(f)) => {
                        match f.kind {
                            FrameKind::Der => self.on_tsrequest(dir, f.bytes, ts),
                            FrameKind::Tpkt | FrameKind::FastPath => {
                                self.on_frame(dir, f.kind, f.bytes, ts)
                            }
                            // A TLS record inside TLS: not RDP.
                            FrameKind::TlsRecord => broken = true,
                        }
                        !self.bulk && !broken
                    }
                    Ok(None) => false,
                    Err(_) => {
                        broken = true;
                        false
                    }
                };
            }
            if let Decrypt::Reading(r) = &mut self.decrypt {
                r.inner[d].deframer = deframer;
                r.inner[d].broken |= broken;
            }
            if !go_on {
                return;
            }
        }
    }

    fn on_tsrequest(&mut self, dir: Dir, bytes: &[u8], ts: i64) {
        let Ok(req) = decode::<TsRequest>(bytes) else {
            return;
        };
        let nla = self.rdp.nla.get_or_insert_with(NlaFacts::default);
        match dir {
            Dir::ClientToServer => {
                let c = ClientTsRequest::from_pdu(&req);
                let first = nla.requests.0 == 0;
                let credentials = c.credentials;
                nla.on_client(c);
                if first {
                    self.event(Stage::Credssp, false, ts, "TSRequest");
                }
                if credentials
                    && !self
                        .selected()
                        .is_some_and(|p| p.contains(SecurityProtocol::HYBRID_EX))
                {
                    self.event(Stage::Credssp, true, ts, "credentials sent (TSCredentials)");
                }
            }
            Dir::ServerToClient => {
                let f = TsRequestFacts::from_pdu(&req);
                let error = f.error_code;
                nla.on_server(f, req.pub_key_auth.is_some(), ts.div_euclid(1_000_000_000));
                if let Some(code) = error {
                    self.event(
                        Stage::Credssp,
                        false,
                        ts,
                        format!("errorCode 0x{:08x} {code}", code.0),
                    );
                }
            }
        }
    }

    fn on_early_authz(&mut self, e: EarlyAuthz, ts: i64) {
        if let Some(nla) = self.rdp.nla.as_mut() {
            nla.early_authz = Some(e);
        }
        let detail = format!("Early User Authorization Result {}", e.label());
        self.event(Stage::Credssp, e == EarlyAuthz::Success, ts, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Write;
    use std::sync::Arc;

    use rdp_proto::credssp::NtStatus;
    use rdp_proto::encode_vec;

    use crate::capture::decrypt::keylog::KeyLog;
    use crate::facts::credssp::{AuthFailure, AuthOutcome, Mechanism};

    /// A client and a server in memory: what each writes reaches the other and, in order, the
    /// capture's [`Session`] (the key log is filled as rustls derives the secrets).
    struct Wire {
        client: rustls::ClientConnection,
        server: rustls::ServerConnection,
        log: Arc<crate::testdata::KeyLogLines>,
        session: Session,
        ts: i64,
    }

    impl Wire {
        fn new(version: &'static rustls::SupportedProtocolVersion) -> Self {
            let (client, server, log) =
                crate::testdata::tls_pair("srv", rustls::crypto::ring::default_provider(), version);
            Self {
                client,
                server,
                log,
                session: Session::new(),
                ts: 0,
            }
        }

        fn keys(&self) -> Keys {
            let mut log = KeyLog::default();
            log.add_text(&self.log.0.lock().unwrap());
            Keys {
                file: Some(Arc::new(log)),
                embedded: KeyLog::default(),
            }
        }

        fn clear(&mut self, dir: Dir, bytes: &[u8]) {
            self.ts += 1_000_000;
            let keys = self.keys();
            self.session.feed(dir, bytes, self.ts, &keys);
        }

        /// Moves what either side has to write, client first, until both are quiet.
        fn pump(&mut self) {
            loop {
                let mut moved = false;
                while self.client.wants_write() {
                    let mut buf = Vec::new();
                    self.client.write_tls(&mut buf).unwrap();
                    self.server.read_tls(&mut &buf[..]).unwrap();
                    self.server.process_new_packets().unwrap();
                    self.clear(Dir::ClientToServer, &buf);
                    moved = true;
                }
                while self.server.wants_write() {
                    let mut buf = Vec::new();
                    self.server.write_tls(&mut buf).unwrap();
                    self.client.read_tls(&mut &buf[..]).unwrap();
                    self.client.process_new_packets().unwrap();
                    self.clear(Dir::ServerToClient, &buf);
                    moved = true;
                }
                if !moved {
                    return;
                }
            }
        }

        fn send(&mut self, dir: Dir, plaintext: &[u8]) {
            match dir {
                Dir::ClientToServer => self.client.writer().write_all(plaintext).unwrap(),
                Dir::ServerToClient => self.server.writer().write_all(plaintext).unwrap(),
            }
            self.pump();
        }
    }

    fn pdu(name: &str) -> Vec<u8> {
        crate::testdata::pdu(&format!("peers/credssp/{name}"))
    }

    /// xfreerdp's Connection Request and FreeRDP's Confirm (HYBRID), or both moved to
    /// HYBRID_EX, then the TLS handshake.
    fn connect(version: &'static rustls::SupportedProtocolVersion, hybrid_ex: bool) -> Wire {
        let mut w = Wire::new(version);
        let (mut cr, mut cc) = (pdu("xfreerdp_x224_cr.bin"), pdu("shadow-nla_x224_cc.bin"));
        if hybrid_ex {
            let n = cr.len();
            cr[n - 4] = 0x0B;
            cc[15] = 0x08;
        }
        w.clear(Dir::ClientToServer, &cr);
        w.clear(Dir::ServerToClient, &cc);
        w.pump();
        assert!(!w.client.is_handshaking());
        w
    }

    fn server_error(code: NtStatus) -> Vec<u8> {
        encode_vec(&TsRequest {
            version: 6,
            error_code: Some(code),
            ..TsRequest::default()
        })
        .unwrap()
    }

    /// Real NTLM messages (xfreerdp's NEGOTIATE and AUTHENTICATE, FreeRDP's CHALLENGE), then a
    /// Windows-like errorCode: read inside TLS 1.2 and 1.3, the account and the NTSTATUS
    /// named, the step it came after known.
    #[test]
    fn an_error_code_after_the_authenticate_is_the_logon_failure() {
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let mut w = connect(version, false);
            w.send(
                Dir::ClientToServer,
                &pdu("xfreerdp_tsrequest_negotiate.bin"),
            );
            w.send(
                Dir::ServerToClient,
                &pdu("shadow-nla_tsrequest_challenge.bin"),
            );
            w.send(
                Dir::ClientToServer,
                &pdu("xfreerdp_tsrequest_authenticate.bin"),
            );
            w.send(
                Dir::ServerToClient,
                &server_error(NtStatus::STATUS_ACCOUNT_LOCKED_OUT),
            );
            let s = &mut w.session;
            s.finish();
            assert!(
                matches!(s.rdp.decryption, Some(Decryption::Decrypted { .. })),
                "{:?}",
                s.rdp.decryption
            );
            let nla = s.rdp.nla.as_ref().expect("CredSSP read");
            assert_eq!(nla.requests, (2, 2), "{version:?}");
            assert_eq!(nla.client.mechanism, Some(Mechanism::Ntlm));
            // xfreerdp was given the user without a domain.
            assert_eq!(nla.account(), "probeuser");
            let outcome = nla.outcome(true).unwrap();
            assert_eq!(
                outcome,
                AuthOutcome::Failed(AuthFailure::Status(
                    NtStatus::STATUS_ACCOUNT_LOCKED_OUT,
                    AuthStep::Authenticate
                ))
            );
            let f = crate::diagnose::rules::auth(&outcome, &nla.account()).unwrap();
            assert_eq!(f.id, crate::diagnose::FindingId::AccountLocked);
            assert!(nla.server.as_ref().unwrap().ts.challenge.is_some());
        }
    }

    /// HYBRID_EX: after the credentials, the server's Early User Authorization Result (4 bytes,
    /// not DER) is read, and an access denied is the user not authorized; then the server's
    /// TPKT frames are read again.
    #[test]
    fn the_early_user_authorization_result_is_read() {
        let mut w = connect(&rustls::version::TLS13, true);
        w.send(
            Dir::ClientToServer,
            &pdu("xfreerdp_tsrequest_negotiate.bin"),
        );
        w.send(
            Dir::ServerToClient,
            &pdu("shadow-nla_tsrequest_challenge.bin"),
        );
        w.send(
            Dir::ClientToServer,
            &pdu("xfreerdp_tsrequest_authenticate.bin"),
        );
        let pub_key = encode_vec(&TsRequest {
            version: 6,
            pub_key_auth: Some(&[7; 32]),
            ..TsRequest::default()
        })
        .unwrap();
        w.send(Dir::ServerToClient, &pub_key);
        let creds = encode_vec(&TsRequest {
            version: 6,
            auth_info: Some(&[9; 40]),
            ..TsRequest::default()
        })
        .unwrap();
        w.send(Dir::ClientToServer, &creds);
        w.send(Dir::ServerToClient, &5u32.to_le_bytes());
        let nla = w.session.rdp.nla.clone().unwrap();
        assert!(nla.server_pub_key_auth);
        assert_eq!(nla.early_authz, Some(EarlyAuthz::AccessDenied));
        let outcome = nla.outcome(true).unwrap();
        assert_eq!(
            crate::diagnose::rules::auth(&outcome, &nla.account()).map(|f| f.id),
            Some(crate::diagnose::FindingId::UserNotAuthorized)
        );
        // A Disconnect Provider Ultimatum in a TPKT after it: read as RDP again.
        let mcs = encode_vec(&rdp_proto::mcs::DomainPdu::DisconnectProviderUltimatum {
            reason: rdp_proto::mcs::DisconnectReason::RN_USER_REQUESTED,
        })
        .unwrap();
        let x224 = encode_vec(&rdp_proto::x224::Tpdu::Data(rdp_proto::x224::Data {
            eot: 0x80,
            variable: &[],
            payload: &mcs,
        }))
        .unwrap();
        let tpkt = encode_vec(&rdp_proto::tpkt::Tpkt {
            reserved: 0,
            payload: &x224,
        })
        .unwrap();
        w.send(Dir::ServerToClient, &tpkt);
        assert_eq!(
            w.session.rdp.ended_by,
            Some(crate::facts::rdp::EndingPdu::Ultimatum(
                rdp_proto::mcs::DisconnectReason::RN_USER_REQUESTED
            ))
        );
    }
}
