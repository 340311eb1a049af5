//! The TLS records of a connection: the handshake (hellos, certificate, alerts) in clear, then
//! encrypted records counted until the connection is in bulk data.

use rdp_proto::decode;
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{self, ContentType, HandshakeType, ProtocolVersion};

use super::{Dir, Session, APPDATA_RECORDS};
use crate::capture::decrypt::record::{CbcMode, Cipher, Suite};
use crate::capture::decrypt::Keys;
use crate::diagnose::Stage;
use crate::facts::rdp::{SealedRecord, TlsHandshakeFacts};
use crate::facts::tls::ServerHelloFacts;

impl Session {
    pub(super) fn on_tls(&mut self, dir: Dir, bytes: &[u8], ts: i64, keys: &Keys) {
        let Ok(rec) = decode::<tls::Record>(bytes) else {
            return;
        };
        let d = dir.index();
        self.rdp.tls.get_or_insert_with(TlsHandshakeFacts::default);
        if self.reading() {
            self.on_record_reading(dir, &rec, bytes, ts, keys);
        }
        match rec.content_type {
            ContentType::HANDSHAKE if !self.dirs[d].ccs => {
                // Handshake messages may span records: a bounded carry-over.
                let mut reader = std::mem::take(&mut self.dirs[d].hs);
                reader.push(rec.fragment, |hs| self.on_handshake(dir, hs, ts));
                self.dirs[d].hs = reader;
                if let Some((suite, mode, random)) = self.server_hello.take() {
                    self.start_decrypting(suite, mode, &random, keys);
                }
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                self.dirs[d].ccs = true;
                if self.tls_established() && !self.tls13_handshake {
                    let detail = self
                        .rdp
                        .tls
                        .as_ref()
                        .and_then(|t| t.server.map(|sh| sh.version.label()))
                        .unwrap_or_default();
                    self.event(Stage::Tls, true, ts, detail);
                }
            }
            // TLS 1.0-1.2: an encrypted alert (close_notify, or a refusal's).
            ContentType::ALERT if self.dirs[d].ccs && !self.reading() => {
                self.rdp.sealed.push(SealedRecord {
                    dir,
                    plaintext: 2,
                    alert: true,
                });
            }
            ContentType::ALERT if rec.fragment.len() == 2 && !self.dirs[d].ccs => {
                if let Ok(a) = decode::<tls::Alert>(rec.fragment) {
                    if let Some(t) = self.rdp.tls.as_mut() {
                        t.alert = Some((dir, a));
                    }
                }
            }
            // The client's Finished (its first encrypted record) ends the TLS 1.3 handshake;
            // the server's encrypted records before it are handshake, not CredSSP.
            ContentType::APPLICATION_DATA if self.tls13_handshake && dir == Dir::ClientToServer => {
                self.tls13_handshake = false;
                self.event(Stage::Tls, true, ts, "TLSv1.3");
            }
            ContentType::APPLICATION_DATA if self.tls13_handshake => {}
            ContentType::APPLICATION_DATA => {
                let overhead = self.record_overhead();
                self.rdp.sealed.push(SealedRecord {
                    dir,
                    plaintext: rec.fragment.len().saturating_sub(overhead),
                    alert: false,
                });
                let st = &mut self.dirs[d];
                st.appdata += 1;
                st.appdata_bytes += rec.fragment.len() as u64;
                if self.reading() {
                    // The decrypted stream says which stage this is.
                    return;
                }
                let selected = self.selected();
                if selected.is_some_and(SecurityProtocol::is_nla) {
                    self.event(Stage::Credssp, false, ts, "CredSSP (encrypted)");
                } else if selected.is_some() {
                    self.event(Stage::Mcs, false, ts, "MCS (encrypted)");
                }
                if self.tls_first {
                    // HTTPS without its key: nothing more to learn from its records.
                    if self.dirs[0].appdata >= APPDATA_RECORDS
                        && self.dirs[1].appdata >= APPDATA_RECORDS
                    {
                        self.bulk = true;
                    }
                    return;
                }
                // Joined mid-way with no selection seen: encrypted records, stage unknown.
                if self.dirs[0].appdata >= APPDATA_RECORDS
                    && self.dirs[1].appdata >= APPDATA_RECORDS
                {
                    self.event(Stage::Active, true, ts, "encrypted bulk data (inferred)");
                    self.bulk = true;
                }
            }
            _ => {}
        }
    }

    /// Bytes a protected record adds to its plaintext under the negotiated suite: TLS 1.3's
    /// tag and content type (17); TLS 1.2's AES-GCM explicit nonce and tag (24), ChaCha20's tag
    /// (16); for CBC suites an estimate (IV, MAC and padding: 48).
    fn record_overhead(&self) -> usize {
        let Some(sh) = self.rdp.tls.as_ref().and_then(|t| t.server) else {
            return 0;
        };
        match Suite::from_id(sh.cipher.0) {
            Some(s) if s.tls13 => 17,
            Some(s) if s.cipher == Cipher::ChaCha20Poly1305 => 16,
            Some(Suite {
                cipher: Cipher::Aes128Gcm | Cipher::Aes256Gcm,
                ..
            }) => 24,
            Some(_) => 48,
            None if sh.is_tls13() => 17,
            None => 48,
        }
    }

    pub(super) fn on_handshake(&mut self, dir: Dir, hs: &tls::Handshake<'_>, ts: i64) {
        let t = self.rdp.tls.get_or_insert_with(TlsHandshakeFacts::default);
        match hs.msg_type {
            HandshakeType::CLIENT_HELLO if dir == Dir::ClientToServer => {
                if let Ok(ch) = decode::<tls::ClientHello>(hs.body) {
                    t.client_hello(&ch);
                    self.client_random = Some(*ch.random);
                    self.event(Stage::Tls, false, ts, "ClientHello");
                }
            }
            HandshakeType::SERVER_HELLO if dir == Dir::ServerToClient => {
                if let Ok(pdu) = decode::<tls::ServerHello>(hs.body) {
                    let sh = ServerHelloFacts::from_pdu(&pdu);
                    if !sh.hello_retry {
                        let v = sh.version;
                        let mode = CbcMode {
                            tls10: v == ProtocolVersion::TLS_1_0,
                            legacy_prf: v.0 < ProtocolVersion::TLS_1_2.0,
                            etm: pdu
                                .extensions()
                                .any(|e| e.ext_type == tls::ExtensionType::ENCRYPT_THEN_MAC),
                        };
                        self.server_hello = Some((pdu.cipher_suite, mode, *pdu.random));
                    }
                    self.tls13_handshake = sh.is_tls13();
                    t.server = Some(sh);
                }
            }
            HandshakeType::CERTIFICATE if dir == Dir::ServerToClient => {
                // TLS 1.3's (RFC 8446 4.4.2) is only seen decrypted.
                let chain = if t.server.is_some_and(|s| s.is_tls13()) {
                    decode::<tls::Certificate13>(hs.body).map(|c| c.certificates)
                } else {
                    decode::<tls::Certificate>(hs.body).map(|c| c.certificates)
                };
                if let Ok(certificates) = chain {
                    t.chain_length = certificates.len();
                    self.rdp.tls_chain = certificates.iter().take(4).map(|d| d.to_vec()).collect();
                }
            }
            _ => {}
        }
    }
}
