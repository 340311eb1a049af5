//! One TLS session's decryption, direction by direction: which key protects the next record
//! (TLS 1.2: after each side's ChangeCipherSpec; TLS 1.3: the handshake traffic keys until that
//! side's Finished, then the application traffic keys, renewed at each KeyUpdate).

use zeroize::Zeroizing;

use super::keylog::Secrets;
use super::record::{next_traffic_secret, tls12_openers, CbcMode, Opener, Suite};
use crate::facts::decrypt::{Failed, NoKey, OpenError};
use crate::facts::rdp::Dir;
use crate::facts::tls::HandshakeReader;

enum Phase {
    /// Not protected yet (TLS 1.2, before ChangeCipherSpec).
    Plain(Option<Opener>),
    /// TLS 1.3's handshake keys; the application traffic secret comes next.
    Handshake(Opener, Zeroizing<Vec<u8>>),
    /// Application keys (TLS 1.3: with the secret, for KeyUpdate).
    App(Opener, Option<Zeroizing<Vec<u8>>>),
    /// A record failed: the rest of the direction cannot be read.
    Broken,
}

struct Side {
    phase: Phase,
    /// Decrypted handshake messages across records (TLS 1.3's Finished, KeyUpdate).
    handshake: HandshakeReader,
    /// Records of this direction passed to [`SessionKeys::open`].
    records: u64,
}

/// The decryption of one session.
pub struct SessionKeys {
    suite: Suite,
    sides: [Side; 2],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// A decrypted record: its content type and plaintext.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub data: Vec<u8>,
}

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

impl SessionKeys {
    /// The keys of a session: its ServerHello's `suite_id` and, for CBC suites, the `mode` its
    /// version and extensions give; its secrets; both randoms.
    pub fn new(
        suite_id: u16,
        mode: CbcMode,
        secrets: &Secrets,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Result<Self, NoKey> {
        let suite = Suite::from_id(suite_id).ok_or(NoKey::Suite(suite_id))?;
        let side = |phase| Side {
            phase,
            handshake: HandshakeReader::default(),
            records: 0,
        };
        if suite.tls13 {
            let (Some(ch), Some(sh), Some(ca), Some(sa)) = (
                &secrets.client_handshake,
                &secrets.server_handshake,
                &secrets.client_traffic,
                &secrets.server_traffic,
            ) else {
                return Err(NoKey::Incomplete);
            };
            let client = Opener::tls13(suite, ch).ok_or(NoKey::Incomplete)?;
            let server = Opener::tls13(suite, sh).ok_or(NoKey::Incomplete)?;
            return Ok(Self {
                suite,
                sides: [
                    side(Phase::Handshake(client, ca.clone())),
                    side(Phase::Handshake(server, sa.clone())),
                ],
            });
        }
        let master = secrets.master.as_ref().ok_or(NoKey::Incomplete)?;
        let (client, server) = tls12_openers(suite, master, client_random, server_random, mode)
            .ok_or(NoKey::Incomplete)?;
        Ok(Self {
            suite,
            sides: [
                side(Phase::Plain(Some(client))),
                side(Phase::Plain(Some(server))),
            ],
        })
    }

    /// TLS 1.2: `dir` sent ChangeCipherSpec; its next records are protected.
    pub fn on_change_cipher_spec(&mut self, dir: Dir) {
        let side = &mut self.sides[dir.index()];
        if let Phase::Plain(opener) = &mut side.phase {
            side.phase = match opener.take() {
                Some(o) => Phase::App(o, None),
                None => Phase::Broken,
            };
        }
    }

    /// Whether a record of `dir` with this outer content type is protected: TLS 1.3's are
    /// application_data (23) records; TLS 1.2's are every record after that side's
    /// ChangeCipherSpec.
    pub fn protected(&self, dir: Dir, outer_type: u8) -> bool {
        if self.suite.tls13 {
            return outer_type == APPLICATION_DATA;
        }
        outer_type != CHANGE_CIPHER_SPEC
            && !matches!(self.sides[dir.index()].phase, Phase::Plain(_))
    }

    /// Opens one protected record of `dir` (`header`: its 5 bytes, `fragment` the rest). After
    /// a failure the direction stays unreadable (its records are out of step).
    pub fn open(&mut self, dir: Dir, header: &[u8; 5], fragment: &[u8]) -> Result<Opened, Failed> {
        let hash = self.suite.hash;
        let side = &mut self.sides[dir.index()];
        side.records += 1;
        let record = side.records;
        let fail = |why| Failed { dir, record, why };
        let (opened, switch) = match &mut side.phase {
            Phase::Plain(_) | Phase::Broken => return Err(fail(OpenError::Tag)),
            Phase::Handshake(opener, _) | Phase::App(opener, _) => {
                match opener.open(header, fragment) {
                    Ok((content_type, data)) => {
                        let mut finished = false;
                        let mut key_update = false;
                        if content_type == HANDSHAKE && self.suite.tls13 {
                            side.handshake.push(&data, |hs| match hs.msg_type.0 {
                                FINISHED => finished = true,
                                KEY_UPDATE => key_update = true,
                                _ => {}
                            });
                        }
                        (Opened { content_type, data }, (finished, key_update))
                    }
                    Err(why) => {
                        side.phase = Phase::Broken;
                        return Err(fail(why));
                    }
                }
            }
        };
        let (finished, key_update) = switch;
        let phase = std::mem::replace(&mut side.phase, Phase::Broken);
        side.phase = match phase {
            Phase::Handshake(_, app) if finished => match Opener::tls13(self.suite, &app) {
                Some(o) => Phase::App(o, Some(app)),
                None => Phase::Broken,
            },
            Phase::App(_, Some(secret)) if key_update => {
                match next_traffic_secret(hash, &secret)
                    .and_then(|next| Some((Opener::tls13(self.suite, &next)?, next)))
                {
                    Some((o, next)) => Phase::App(o, Some(next)),
                    None => Phase::Broken,
                }
            }
            other => other,
        };
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{Read, Write};

    use crate::capture::decrypt::keylog::KeyLog;

    /// Moves what `from` has to write into `to`, keeping the bytes.
    fn pump(
        from: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl rustls::SideData>>,
        to: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl rustls::SideData>>,
        wire: &mut Vec<u8>,
    ) {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).unwrap();
        }
        wire.extend_from_slice(&buf);
        let mut rest = &buf[..];
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
            to.process_new_packets().unwrap();
        }
    }

    /// The records of one direction: (header, fragment).
    fn records(wire: &[u8]) -> Vec<([u8; 5], Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = wire;
        while rest.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            let mut header = [0u8; 5];
            header.copy_from_slice(&rest[..5]);
            out.push((header, rest[5..5 + len].to_vec()));
            rest = &rest[5 + len..];
        }
        out
    }

    /// A rustls client and server talk in memory with `suite`; rdprobe decrypts both
    /// directions from the client's key log and finds what each side wrote (after a KeyUpdate
    /// too, in TLS 1.3).
    fn round_trip(
        suite: rustls::SupportedCipherSuite,
        version: &'static rustls::SupportedProtocolVersion,
    ) {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = vec![suite];
        let (mut client, mut server, keys) =
            crate::testdata::tls_pair("localhost", provider, version);
        let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
        while client.is_handshaking() || server.is_handshaking() {
            pump(&mut client, &mut server, &mut c2s);
            pump(&mut server, &mut client, &mut s2c);
        }
        client.writer().write_all(b"client: TSRequest").unwrap();
        server.writer().write_all(b"server: TSRequest").unwrap();
        pump(&mut client, &mut server, &mut c2s);
        pump(&mut server, &mut client, &mut s2c);
        if version == &rustls::version::TLS13 {
            client.refresh_traffic_keys().unwrap();
            server.refresh_traffic_keys().unwrap();
        }
        client.writer().write_all(b"client: after").unwrap();
        server.writer().write_all(b"server: after").unwrap();
        pump(&mut client, &mut server, &mut c2s);
        pump(&mut server, &mut client, &mut s2c);
        let mut sink = Vec::new();
        let _ = server.reader().read_to_end(&mut sink);

        let (c, s) = (records(&c2s), records(&s2c));
        let client_random: [u8; 32] = c[0].1[6..38].try_into().unwrap();
        let server_random: [u8; 32] = s[0].1[6..38].try_into().unwrap();
        let suite_id = u16::from(suite.suite());
        let mut log = KeyLog::default();
        log.add_text(&keys.0.lock().unwrap());
        let secrets = log.get(&client_random).expect("the session in the key log");
        let mut session = SessionKeys::new(
            suite_id,
            CbcMode::default(),
            secrets,
            &client_random,
            &server_random,
        )
        .unwrap();
        let mut read = |dir: Dir, recs: &[([u8; 5], Vec<u8>)]| -> Vec<u8> {
            let mut app = Vec::new();
            for (header, fragment) in recs {
                match header[0] {
                    20 => session.on_change_cipher_spec(dir),
                    t if !session.protected(dir, t) => {}
                    _ => {
                        let opened = session.open(dir, header, fragment).unwrap();
                        if opened.content_type == 23 {
                            app.extend_from_slice(&opened.data);
                        }
                    }
                }
            }
            app
        };
        // TLS 1.3 sends CCS only for middlebox compatibility: harmless here.
        let client_app = read(Dir::ClientToServer, &c);
        let server_app = read(Dir::ServerToClient, &s);
        assert_eq!(client_app, b"client: TSRequestclient: after", "{suite:?}");
        assert_eq!(server_app, b"server: TSRequestserver: after", "{suite:?}");
    }

    #[test]
    fn decrypts_what_rustls_wrote_in_every_suite() {
        use rustls::crypto::ring::cipher_suite as cs;
        for s in [
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
        ] {
            round_trip(s, &rustls::version::TLS13);
        }
        for s in [
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ] {
            round_trip(s, &rustls::version::TLS12);
        }
    }

    /// A wrong key: the first protected record fails its tag, named with its number; the
    /// direction stays unreadable.
    #[test]
    fn a_wrong_key_is_named_not_garbage() {
        let secrets = Secrets {
            master: Some(Zeroizing::new(vec![7; 48])),
            ..Secrets::default()
        };
        let mut session =
            SessionKeys::new(0xC02F, CbcMode::default(), &secrets, &[1; 32], &[2; 32]).unwrap();
        session.on_change_cipher_spec(Dir::ServerToClient);
        let header = [22, 3, 3, 0, 40];
        let e = session
            .open(Dir::ServerToClient, &header, &[0; 40])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key does not decrypt: server record 1 fails its tag"
        );
        assert!(session
            .open(Dir::ServerToClient, &header, &[0; 40])
            .is_err());
        assert_eq!(
            SessionKeys::new(0x0005, CbcMode::default(), &secrets, &[1; 32], &[2; 32]).unwrap_err(),
            NoKey::Suite(0x0005)
        );
    }
}
