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
        match SessionKeys::new(suite.0, secrets, &client_random, server_random) {
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
                    ContentType::APPLICATION_DATA => self.on_plaintext(dir, &opened.data, ts),
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
    fn on_plaintext(&mut self, dir: Dir, data: &[u8], ts: i64) {
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
