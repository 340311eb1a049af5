//! Oracles for the fuzz targets over this crate's own input handling (`fuzz/`): each takes
//! arbitrary bytes and must never panic; the assertions are properties the code promises.
//! They also run under `cargo test` on the fixtures (tests/it/fuzz_regression.rs).

use crate::active::{plan, targets};
use crate::capture::link;
use crate::capture::source::LinkType;

/// The link decoder: the fast path, when it takes a packet, gives what etherparse gives.
pub fn link_decode(data: &[u8]) {
    for link_type in [
        LinkType::ETHERNET,
        LinkType::LINUX_SLL,
        LinkType::LINUX_SLL2,
        LinkType::RAW,
        LinkType::NULL,
    ] {
        let _ = link::decode(link_type, data);
    }
    if let Some(fast) = link::fast_ethernet(data) {
        assert_eq!(Ok(fast), link::decode_general(LinkType::ETHERNET, data));
    }
}

/// What a server answers the probe: a Connection Confirm or a Connect-Response, whatever the
/// bytes; then the walk past MCS fed the bytes as server frames.
pub fn probe_answers(data: &[u8]) {
    let _ = crate::facts::x224::Confirm::parse(data);
    if let Some(cr) = crate::facts::gcc::ConnectResponseFacts::parse(data) {
        let _ = crate::active::client::walk::standard_security(&cr, &[7; 32]);
    }
    walk(data);
    credssp(data);
    connector(data);
}

/// The main connection's connector fed hostile bytes as everything the server sends (the
/// Confirm, TSRequests, the Early User Authorization word, the Connect-Response, the walk's
/// frames), in each mode, with and without credentials: it never panics, never asks to send
/// more than a few frames at once, and ends within a number of steps bounded by the input.
pub fn connector(data: &[u8]) {
    use crate::active::client::connector::{Action, Config, Connector, Mode, Now, Randoms, Read};
    use crate::active::credentials::Credentials;
    use crate::diagnose::Stage;
    use crate::facts::observe::ReadFailure;
    use crate::facts::probe::{ProbeFacts, TlsFailure, TlsSession};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(creds) = Credentials::new("fuzz", zeroize::Zeroizing::new("fuzz".to_owned())) else {
        return;
    };
    let cfg = Config {
        request: Some(rdp_proto::nego::SecurityProtocol::from_bits_retain(
            u32::from(mode >> 4),
        )),
        mode: if mode & 1 == 0 {
            Mode::Tls {
                credssp: mode & 2 == 0,
            }
        } else {
            Mode::RdpSecurity
        },
        stop_after: Stage::Active,
        credentials: (mode & 4 != 0).then_some(&creds),
        host: "fuzz".into(),
        auth: Default::default(),
        randoms: Randoms {
            credssp: [1; 56],
            walk: [2; 80],
            client: [3; 32],
            kerberos: [4; 32],
        },
    };
    let mut c = Connector::new(cfg);
    let mut rec = plan::Record::default();
    let mut f = ProbeFacts::default();
    let now = Now {
        at: core::time::Duration::ZERO,
        unix: 0,
    };
    // Length-prefixed frames; when they run out every read fails.
    let mut frames = rest;
    let mut next = || -> Option<Vec<u8>> {
        if frames.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([frames[0], frames[1]]));
        let (frame, tail) = frames[2..].split_at(len.min(frames.len() - 2));
        frames = tail;
        Some(frame.to_vec())
    };
    let bound = data.len() * 4 + 32;
    for step in 0.. {
        assert!(step <= bound, "the connector does not end");
        match c.action(&mut rec) {
            Action::Send(out) => {
                assert!(out.len() <= 8, "{} frames at once", out.len());
                c.on_sent(&mut rec, &mut f, now);
            }
            Action::Read(Read::Word) => match next() {
                Some(w) if w.len() >= 4 => {
                    c.on_word([w[0], w[1], w[2], w[3]], &mut rec, &mut f, now);
                }
                _ => c.on_read_failure(ReadFailure::Closed { got: 0 }, &mut rec, &mut f, now),
            },
            Action::Read(read) => match next() {
                Some(frame) => c.on_frame(&frame, &mut rec, &mut f, now),
                None if matches!(read, Read::RdpUpTo(_)) => c.on_quiet(&mut rec, &mut f, now),
                None => c.on_read_failure(ReadFailure::Timeout { got: 0 }, &mut rec, &mut f, now),
            },
            Action::UpgradeTls if mode & 8 == 0 => {
                let session = TlsSession {
                    version: "TLSv1.3".into(),
                    cipher: "fuzz".into(),
                    chain: Vec::new(),
                    at: core::time::Duration::ZERO,
                };
                c.on_upgraded(session, vec![0x30, 0], &mut rec, &mut f, now);
            }
            Action::UpgradeTls => c.on_upgrade_failed(TlsFailure::from("fuzz".to_owned())),
            Action::Kerberos { .. } => {
                let facts = crate::facts::kerberos::KdcFacts {
                    failure: Some(crate::facts::kerberos::KerberosFailure::Unreachable(
                        "fuzz".into(),
                    )),
                    ..Default::default()
                };
                c.on_kerberos(facts, None, &mut rec, &mut f, now);
            }
            Action::Close(_) | Action::Done => break,
        }
    }
}

/// CredSSP with credentials fed hostile TSRequests: as the answer to the NEGOTIATE, and (after
/// a real CHALLENGE when the bytes hold one) as the answer to the AUTHENTICATE. Never panics.
pub fn credssp(data: &[u8]) {
    use crate::active::client::cssp::{CredsspClient, CredsspStep};
    use crate::active::credentials::Credentials;
    let Ok(creds) = Credentials::new("DOM\\user", zeroize::Zeroizing::new("pw".into())) else {
        return;
    };
    let (mut c, _) = CredsspClient::start(&creds, vec![0x30, 0], "host", 0, [9; 56]);
    if let CredsspStep::Send(out) = c.on_ts_request(data) {
        assert!(out.len() < 4096 + data.len());
        let _ = c.on_ts_request(data);
    }
}

/// The walk (sans-IO) fed hostile server frames: the first byte picks the security (none,
/// 40-bit, 128-bit RC4, FIPS) and the stage to stop after; the rest is cut into frames by a
/// 2-byte length, each given to the walk as it is and wrapped as I/O channel data (so the fuzzer
/// reaches licensing and the share control PDUs). Whatever it is fed, the walk never panics,
/// never asks to send more than it was given room for, and ends.
pub fn walk(data: &[u8]) {
    use crate::active::crypto::rdp_security::{Role, Session};
    use crate::diagnose::Stage;
    use rdp_proto::gcc::EncryptionMethods;
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let method = match mode & 3 {
        0 => None,
        1 => Some(EncryptionMethods::ENCRYPTION_METHOD_40BIT),
        2 => Some(EncryptionMethods::ENCRYPTION_METHOD_128BIT),
        _ => Some(EncryptionMethods::ENCRYPTION_METHOD_FIPS),
    };
    let secured = method.and_then(|m| {
        Some(crate::active::client::walk::Secured {
            session: Session::new(Role::Client, m, &[1; 32], &[2; 32])?,
            exchange: vec![1, 0, 0, 0],
            server_key: None,
        })
    });
    let stop_after = if mode & 4 == 0 {
        Stage::Active
    } else {
        Stage::Licensing
    };
    let (mut w, _) = crate::active::client::walk::Walk::start(1003, stop_after, [3; 80], secured);
    let mut rec = plan::Record::default();
    let at = core::time::Duration::ZERO;
    let mut steps = 0u32;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let (frame, tail) = rest[2..].split_at(len.min(rest.len() - 2));
        rest = tail;
        for f in [frame.to_vec(), io_frame(frame)] {
            steps += 1;
            if let crate::active::client::walk::Step::Send(out)
            | crate::active::client::walk::Step::Close(out) = w.on_frame(&f, &mut rec, at)
            {
                assert!(out.len() <= 8, "{} frames at once", out.len());
            }
        }
    }
    assert!(steps <= data.len() as u32 * 2 + 2);
}

/// `data` as server data on the I/O channel (MCS Send Data Indication in X.224 in a TPKT).
fn io_frame(data: &[u8]) -> Vec<u8> {
    use rdp_proto::mcs::{DomainPdu, SendData};
    let Ok(mcs) = rdp_proto::encode_vec(&DomainPdu::SendDataIndication(SendData {
        initiator: 1002,
        channel_id: 1003,
        priority_segmentation: 0x70,
        data,
        long_length: true,
    })) else {
        return Vec::new();
    };
    let Ok(x224) = rdp_proto::encode_vec(&rdp_proto::x224::Tpdu::Data(rdp_proto::x224::Data {
        eot: 0x80,
        variable: &[],
        payload: &mcs,
    })) else {
        return Vec::new();
    };
    rdp_proto::encode_vec(&rdp_proto::tpkt::Tpkt {
        reserved: 0,
        payload: &x224,
    })
    .unwrap_or_default()
}

/// Target lists (`-i FILE`, arguments): any line parses or is refused; a block names its
/// addresses without materialising them.
pub fn target_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in targets::list_lines(text) {
        let _ = targets::ambiguity(line, 3389);
        if let Ok(spec) = targets::parse_spec(line, 3389, true) {
            assert!(!spec.is_empty());
            assert!(spec.targets().take(3).count() >= 1);
        }
    }
}

/// JSON output: any string is written without terminal controls and reads back the same.
pub fn json_text(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let line = crate::report::json::line(&*s);
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    let back: String = serde_json::from_str(&line).unwrap_or_default();
    assert_eq!(back, s);
}

/// `summarize`'s reading of a JSON Lines line (bytes as a line's JSON; serde_json bounds the
/// nesting): a probe result, a capture's connection or its end, added to the summaries; never
/// panics, and counts from the file saturate instead of overflowing.
pub fn summary_lines(data: &[u8]) {
    use crate::report::archive::{ArchiveSummary, ConnectionEntry, FileEntry};
    use crate::report::fleet::{Entry, FleetSummary};
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    // The envelope as `summarize` reads it: `data` kept as text for the entry of its type.
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        file: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let Ok(v) = serde_json::from_str::<Envelope>(text) else {
        return;
    };
    let data = v.data.get();
    let mut fleet = FleetSummary::default();
    if let Some(e) = Entry::from_json(data) {
        fleet.add_entry(&e);
        fleet.add_entry(&e);
        assert_eq!(fleet.targets, 2);
    }
    let mut archive = ArchiveSummary::default();
    if let Some(c) = ConnectionEntry::from_json(data) {
        archive.add_entry(&c);
    }
    if let Some(f) = FileEntry::from_json(v.file.as_deref().unwrap_or_default(), data) {
        archive.add_file(&f);
        archive.add_file(&f);
        let twice = archive.clone();
        archive.merge(&twice);
        assert_eq!(archive.files, 4);
    }
}

/// TLS decryption with valid keys fed hostile records: byte 0 picks the suite (TLS 1.3, TLS
/// 1.2's AEADs, the CBC suites in each layout) and which side's ChangeCipherSpec comes first; then records
/// with a 2-byte length, alternating direction. Never panics; a direction that failed once
/// stays failed.
pub fn tls_decrypt(data: &[u8]) {
    use crate::capture::decrypt::keylog::Secrets;
    use crate::capture::decrypt::session::SessionKeys;
    use crate::facts::rdp::Dir;
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let suites = [
        0x1301u16, 0x1302, 0x1303, 0xC02F, 0xC030, 0xCCA8, 0x002F, 0xC014, 0x003C, 0xC028,
    ];
    let suite = suites[usize::from(mode) % suites.len()];
    let secret = |n: u8, len| Some(zeroize::Zeroizing::new(vec![n; len]));
    let len = if suite == 0x1302 { 48 } else { 32 };
    let secrets = Secrets {
        master: secret(1, 48),
        client_handshake: secret(2, len),
        server_handshake: secret(3, len),
        client_traffic: secret(4, len),
        server_traffic: secret(5, len),
    };
    // Bits 4..6: TLS 1.0's chained IVs, the MD5/SHA-1 PRF, encrypt-then-MAC.
    let cbc = crate::capture::decrypt::record::CbcMode {
        tls10: mode & 0x10 != 0,
        legacy_prf: mode & 0x20 != 0,
        etm: mode & 0x40 != 0,
    };
    let Ok(mut session) = SessionKeys::new(suite, cbc, &secrets, &[6; 32], &[7; 32]) else {
        return;
    };
    let mut failed = [false; 2];
    let mut dir = if mode & 0x80 == 0 {
        Dir::ClientToServer
    } else {
        Dir::ServerToClient
    };
    while rest.len() >= 3 {
        let kind = rest[0];
        let n = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let (fragment, tail) = rest[3..].split_at(n.min(rest.len() - 3));
        rest = tail;
        let header = [
            kind,
            3,
            3,
            fragment.len().to_be_bytes()[6],
            fragment.len().to_be_bytes()[7],
        ];
        if kind == 20 {
            session.on_change_cipher_spec(dir);
        } else if session.protected(dir, kind) {
            let r = session.open(dir, &header, fragment);
            if failed[dir.index()] {
                assert!(r.is_err(), "a failed direction opened a record");
            }
            failed[dir.index()] |= r.is_err();
        }
        dir = match dir {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        };
    }
}

/// Kerberos on port 88: the bytes as a TCP stream (length-prefixed messages, cut anywhere) and
/// as one UDP datagram, each message through the interpreter; nothing may panic, and a
/// message that parses keeps its principals' text bounded by the input.
pub fn kerberos(data: &[u8]) {
    use crate::capture::kerberos::KrbStream;
    use crate::facts::kerberos::KrbMessage;
    let _ = KrbMessage::parse(data);
    let mut stream = KrbStream::default();
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(cut);
    for part in [a, b] {
        stream.feed(part, |msg| {
            if let Some(KrbMessage::AsReq { client }) = KrbMessage::parse(msg) {
                assert!(client.name.len() <= msg.len() * 4);
            }
        });
    }
}

/// The probe's Kerberos client fed hostile KDC and server answers: every rdp-proto Kerberos
/// reader, the KDC exchange (`KdcClient`) answered with the input's chunks (each prefixed by
/// its 2-byte big-endian length), the GSS context's answer and unwrap, and the AES decryption of the input.
/// Never panics, never loops: each answer moves the exchange on or ends it.
pub fn kerberos_client(data: &[u8]) {
    use crate::active::client::kerberos::{Clock, KdcClient, KdcStep};
    use crate::active::crypto::kerberos::{unwrap, Key};
    use rdp_proto::kerberos as k;
    let _ = k::KrbError::decode(data).map(|e| e.etype_info2());
    let _ = k::KdcRep::decode(data);
    let _ = k::EncKdcRepPart::decode(data);
    let _ = k::decode_ap_rep(data);
    let _ = k::EncApRepPart::decode(data);
    let _ = k::NegTokenResp::decode(data);
    let _ = k::decode_gss_token(data);
    let key = Key::new(k::EType::AES128_CTS_HMAC_SHA1_96, &[7; 16]);
    if let Some(key) = &key {
        let _ = key.decrypt(3, data);
        let _ = unwrap(key, data);
    }
    let creds = crate::active::credentials::Credentials::new(
        "alice@corp.test",
        zeroize::Zeroizing::new("fuzz-pass".into()),
    )
    .unwrap_or_else(|_| unreachable!());
    let now = Clock {
        unix: 1_800_000_000,
        usec: 0,
    };
    let (mut c, _) = KdcClient::start(&creds, "CORP.TEST", "srv.corp.test", now, [5; 32]);
    let mut rest = data;
    let mut steps = 0;
    while let [hi, lo, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        rest = after;
        steps += 1;
        assert!(steps <= data.len());
        match c.on_reply(chunk, now) {
            KdcStep::Send(m) => assert!(m.len() < 4096 + 2 * data.len()),
            KdcStep::Ticket(_) | KdcStep::Failed(_) => break,
        }
    }
    assert!(c.facts.exchanges.len() <= steps + 1);
}

/// An RD Gateway's decrypted stream as the capture reads it (`capture::rdp::GatewayReader`):
/// the input cut into alternating client and server chunks (each chunk's length its first
/// byte), HTTP heads, WebSocket frames, chunked bodies, MS-TSGU packets and the nested RDP
/// connection behind DATA; nothing may panic, and every fact stays bounded by the input.
pub fn gateway_stream(data: &[u8]) {
    use crate::capture::rdp::GatewayReader;
    use crate::facts::rdp::Dir;
    let keys = crate::capture::decrypt::Keys::default();
    let mut g = GatewayReader::default();
    let mut rest = data;
    let mut dir = Dir::ClientToServer;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        g.feed(dir, chunk, 0, &keys);
        dir = if dir == Dir::ClientToServer {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        rest = after;
    }
    g.finish();
    // Lossy UTF-8: a replacement character is 3 bytes for 1.
    assert!(g.facts.host.len() <= 3 * data.len());
    assert!(g.events.len() <= data.len() + 1);
    // Paired as a legacy channel with one that read the same bytes: the inner connection is
    // rebuilt from whatever DATA both kept, and given to one of them.
    let mut other = GatewayReader::default();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        other.feed(Dir::ClientToServer, chunk, 1, &keys);
        rest = after;
    }
    crate::capture::rdp::pair_legacy(&mut g, &mut other, &keys);
    assert!(g.inner.is_some() || other.inner.is_some());
}

/// Every oracle of this module.
pub fn all(data: &[u8]) {
    summary_lines(data);
    gateway_stream(data);
    link_decode(data);
    tls_decrypt(data);
    kerberos(data);
    kerberos_client(data);
    probe_answers(data);
    target_list(data);
    json_text(data);
}
