//! Captures of `rdprobe probe --keylog` against real peers (fixtures/captures/keylog: xrdp with
//! TLS 1.3 and with TLS 1.2 only, FreeRDP's NLA server with the right and a wrong password),
//! read back by `rdprobe pcap --keylog`: the capture's facts, findings and diagnosis equal the
//! probe's own result for the same connection. Also: the same TLS 1.2 session decrypted from
//! the capture's own pcapng Decryption Secrets Block (written by Wireshark's editcap), and
//! notices for a missing or a wrong key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rdprobe::capture::analyzer::Config;
use rdprobe::capture::decrypt::keylog::KeyLog;
use rdprobe::capture::run::analyze_file;
use rdprobe::report::capture::{CaptureReport, Connection};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures/keylog")
}

fn keylog(text: &str) -> Arc<KeyLog> {
    let mut log = KeyLog::default();
    log.add_text(text);
    Arc::new(log)
}

fn analyze(file: &str, keys: Option<Arc<KeyLog>>) -> CaptureReport {
    let cfg = Config {
        keylog: keys,
        ..Config::default()
    };
    analyze_file(&dir().join(file), cfg, |_| {}, |_| {}).unwrap()
}

/// The connection whose TLS was decrypted (the probe's main connection; its other
/// connections, the X.224 check, carry no TLS).
fn decrypted(r: &CaptureReport) -> Connection {
    let mut it = r.connections.iter().filter(|c| {
        c.rdp
            .as_ref()
            .and_then(|r| r.decryption.as_ref())
            .is_some_and(|d| d.result == "decrypted")
    });
    let c = it.next().expect("a decrypted connection").clone();
    assert!(it.next().is_none(), "one decrypted connection");
    c
}

/// Findings only the probe can raise: the name the user typed is not on the wire (no SNI for
/// an IP address), so the capture cannot match the certificate to it.
const PROBE_ONLY: &[&str] = &["cert-name-mismatch"];

fn compare(name: &str) -> (Connection, Value) {
    let key = std::fs::read_to_string(dir().join(format!("{name}.keylog"))).unwrap();
    let r = analyze(&format!("{name}.pcap"), Some(keylog(&key)));
    let c = decrypted(&r);
    let probe: Value =
        serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.probe.json"))).unwrap())
            .unwrap();
    let cj = serde_json::to_value(&c).unwrap();

    // Where it stopped, and the findings both fronts can see.
    assert_eq!(cj["stopped_at"], probe["stopped_at"], "{name}");
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .filter(|id| !PROBE_ONLY.contains(&id.as_str()))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&cj), ids(&probe), "{name}: findings");
    // The diagnosis: the same primary finding and stage, the same cause in the headline (the
    // probe's headline begins with what it checked itself: "Reachable, NLA required").
    let primary = probe["diagnosis"]["primary_finding"].as_str();
    if !primary.is_some_and(|p| PROBE_ONLY.contains(&p)) {
        assert_eq!(
            cj["diagnosis"]["primary_finding"], probe["diagnosis"]["primary_finding"],
            "{name}"
        );
        assert_eq!(
            cj["diagnosis"]["stage"], probe["diagnosis"]["stage"],
            "{name}"
        );
        let cause = |v: &Value| {
            let h = v["diagnosis"]["headline"].as_str().unwrap().to_owned();
            h.split_once(" — ")
                .or_else(|| h.split_once(": "))
                .map(|(_, c)| c.to_owned())
                .unwrap_or(h)
        };
        assert_eq!(cause(&cj), cause(&probe), "{name}: headline");
    }
    // The same facts: CredSSP, the logon, the session past MCS.
    let rdp = &cj["rdp"];
    assert_eq!(rdp["credssp"], probe["credssp"], "{name}: credssp");
    for field in ["user", "result", "ntstatus", "ntstatus_name"] {
        assert_eq!(
            rdp["auth"][field], probe["auth"][field],
            "{name}: auth.{field}"
        );
    }
    for field in [
        "channels",
        "licensing",
        "error_info",
        "redirect",
        "capabilities",
    ] {
        assert_eq!(
            rdp["session"][field], probe["session"][field],
            "{name}: session.{field}"
        );
    }
    (c, probe)
}

#[test]
fn xrdp_tls13_decrypts_to_what_the_probe_saw() {
    let (c, _) = compare("xrdp-tls13");
    let rdp = c.rdp.unwrap();
    let d = rdp.decryption.unwrap();
    assert_eq!(d.suite.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(d.source, Some("keylog_file"));
    // TLS 1.3's certificate is encrypted: read once decrypted.
    assert!(c.findings.iter().any(|f| f.id == "cert-self-signed"));
    assert_eq!(
        rdp.session.unwrap().licensing.outcome,
        "valid_client",
        "xrdp's licensing, read inside TLS"
    );
}

#[test]
fn xrdp_tls12_decrypts_to_what_the_probe_saw() {
    let (c, _) = compare("xrdp-tls12");
    let d = c.rdp.unwrap().decryption.unwrap();
    assert_eq!(
        d.suite.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    );
}

#[test]
fn freerdp_nla_right_password_decrypts_to_what_the_probe_saw() {
    let (c, _) = compare("shadow-nla-ok");
    let rdp = c.rdp.unwrap();
    let auth = rdp.auth.unwrap();
    assert_eq!(
        (auth.mechanism, auth.workstation.as_deref()),
        (Some("ntlm"), Some("RDPROBE"))
    );
    let info = rdp.client_info.unwrap();
    assert_eq!(
        (info.user.as_str(), info.domain.as_str()),
        ("probeuser", "PROBEDOM")
    );
    assert!(!info.password_present);
    assert_eq!(c.verdict.as_str(), "ok");
}

#[test]
fn freerdp_nla_wrong_password_decrypts_to_what_the_probe_saw() {
    let (c, probe) = compare("shadow-nla-bad");
    assert_eq!(c.verdict.as_str(), "error");
    assert_eq!(probe["auth"]["result"], "failed");
    let f = c.findings.iter().find(|f| f.id == "auth-failed").unwrap();
    assert!(f.evidence.contains("PROBEDOM\\probeuser"), "{f:?}");
    assert!(f.evidence.contains("AUTHENTICATE"), "{f:?}");
}

/// The same TLS 1.2 session, its key in the capture (editcap --inject-secrets): decrypted
/// without --keylog, the key's source named.
#[test]
fn a_pcapng_decryption_secrets_block_is_used() {
    let r = analyze("xrdp-tls12-dsb.pcapng", None);
    let c = decrypted(&r);
    let d = c.rdp.as_ref().unwrap().decryption.as_ref().unwrap();
    assert_eq!(d.source, Some("capture_file"));
    let with_file = decrypted(&analyze(
        "xrdp-tls12.pcap",
        Some(keylog(
            &std::fs::read_to_string(dir().join("xrdp-tls12.keylog")).unwrap(),
        )),
    ));
    assert_eq!(
        serde_json::to_value(&c.findings).unwrap(),
        serde_json::to_value(&with_file.findings).unwrap()
    );
    assert_eq!(
        d.records,
        with_file.rdp.unwrap().decryption.unwrap().records
    );
}

/// A key log without this session: "no key for this session"; a wrong secret for it: the
/// record that fails is named; either way the connection reads as it does without keys.
#[test]
fn a_missing_or_wrong_key_is_a_notice_not_garbage() {
    let without = analyze("xrdp-tls12.pcap", None);
    let other = analyze(
        "xrdp-tls12.pcap",
        Some(keylog(&format!(
            "CLIENT_RANDOM {} {}\n",
            "11".repeat(32),
            "22".repeat(48)
        ))),
    );
    let text = std::fs::read_to_string(dir().join("xrdp-tls12.keylog")).unwrap();
    let random = text.split_whitespace().nth(1).unwrap();
    let wrong = analyze(
        "xrdp-tls12.pcap",
        Some(keylog(&format!(
            "CLIENT_RANDOM {random} {}\n",
            "22".repeat(48)
        ))),
    );
    let tls_conn = |r: &CaptureReport| {
        r.connections
            .iter()
            .find(|c| {
                c.rdp
                    .as_ref()
                    .is_some_and(|r| r.tls.as_ref().is_some_and(|t| t.established))
            })
            .unwrap()
            .clone()
    };
    let (base, other, wrong) = (tls_conn(&without), tls_conn(&other), tls_conn(&wrong));
    assert!(base.rdp.as_ref().unwrap().decryption.is_none());
    let notice = |c: &Connection| {
        c.rdp
            .as_ref()
            .unwrap()
            .decryption
            .as_ref()
            .unwrap()
            .notice
            .clone()
            .unwrap()
    };
    assert_eq!(notice(&other), "no key for this session");
    assert_eq!(
        notice(&wrong),
        "the key does not decrypt: client record 1 fails its tag"
    );
    for c in [&other, &wrong] {
        assert_eq!(c.verdict, base.verdict);
        assert_eq!(
            serde_json::to_value(&c.findings).unwrap(),
            serde_json::to_value(&base.findings).unwrap()
        );
    }
}

/// A password spray made here: `rdprobe probe --user CORP\NAME` with one wrong password for
/// twelve names against FreeRDP's NLA server, within seconds. Without keys it is a brute force
/// (the only user name in clear is the probe's cookie); with the key log the twelve accounts
/// are read from the AUTHENTICATEs and it is a spray. The capture leads with it.
#[test]
fn a_spray_is_named_across_the_capture() {
    let without = analyze("spray.pcap", None);
    assert_eq!(without.findings.len(), 1, "{:?}", without.findings);
    let f = &without.findings[0];
    assert_eq!(f.id.as_str(), "brute-force");
    assert!(
        f.evidence
            .starts_with("12 refused NLA logons from 127.0.0.1 (12) to 127.0.0.1:"),
        "{}",
        f.evidence
    );
    let key = std::fs::read_to_string(dir().join("spray.keylog")).unwrap();
    let with = analyze("spray.pcap", Some(keylog(&key)));
    let f = &with.findings[0];
    assert_eq!(f.id.as_str(), "password-spray");
    for user in ["CORP\\alice", "CORP\\oscar"] {
        assert!(f.evidence.contains(user), "{}", f.evidence);
    }
    // Each refused connection stays an error of its own, named by its NTSTATUS-less close.
    let refused = with
        .connections
        .iter()
        .filter(|c| c.findings.iter().any(|f| f.id == "auth-failed"))
        .count();
    assert_eq!(refused, 12);
    let mut text = String::new();
    rdprobe::report::text::capture(&with, &mut text);
    let lead = text.find("password-spray").unwrap();
    assert!(
        lead < text.find("\n== 127.0.0.1").unwrap(),
        "the spray leads the report"
    );
}

/// A Windows-like loopback NLA server (fixtures/tools/ntstatus_server.py) refusing the probe's
/// logon with an errorCode, one NTSTATUS per capture: decrypted, each is the probe's own
/// finding; without the key, the short errorCode TSRequest after the AUTHENTICATE still makes
/// it a refused logon (`auth-failed`), never `ok`.
#[test]
fn each_ntstatus_decrypts_to_the_probe_finding_and_is_refused_without_keys() {
    for (status, id) in [
        ("c000006d", "logon-failure"),
        ("c0000234", "account-locked"),
        ("c0000072", "account-disabled"),
        ("c0000071", "password-expired"),
    ] {
        let name = format!("ntstatus-{status}");
        let (c, probe) = compare(&name);
        assert_eq!(probe["findings"][0]["id"], id, "{name}");
        assert!(c.findings.iter().any(|f| f.id.as_str() == id), "{name}");
        let auth = c.rdp.as_ref().unwrap().auth.as_ref().unwrap();
        assert_eq!(auth.ntstatus.as_deref(), Some(&*format!("0x{status}")));
        let sealed = analyze(&format!("{name}.pcap"), None);
        let last = sealed.connections.last().unwrap();
        assert_eq!(last.verdict.as_str(), "error", "{name}");
        let f = last
            .findings
            .iter()
            .find(|f| f.id.as_str() == "auth-failed")
            .unwrap();
        assert!(
            f.evidence.contains("a short TSRequest (an errorCode"),
            "{}",
            f.evidence
        );
    }
}

/// Each direction's TCP payload of a loopback capture (no loss there; a segment sent again is
/// skipped by its sequence number), by whether the client (the first SYN's sender) sent it.
fn streams(path: &Path) -> [Vec<u8>; 2] {
    use rdprobe::capture::link::{self, Transport};
    let mut reader = rdprobe::capture::source::PacketReader::open(path).unwrap();
    let mut client_port = None;
    let mut out = [Vec::new(), Vec::new()];
    let mut next: [Option<u32>; 2] = [None, None];
    while let Some(p) = reader.next_packet().unwrap() {
        let Ok(d) = link::decode(p.link, p.data) else {
            continue;
        };
        if let Transport::Tcp(t) = d.transport {
            let client = *client_port.get_or_insert(t.src_port);
            let i = usize::from(t.src_port != client);
            if t.payload.is_empty() || next[i].is_some_and(|n| t.seq != n) {
                continue;
            }
            next[i] = Some(t.seq.wrapping_add(t.payload.len() as u32));
            out[i].extend_from_slice(t.payload);
        }
    }
    out
}

/// OpenSSL's s_client and s_server in the CBC suites Windows servers still negotiate
/// (fixtures/captures/tls-cbc, made by fixtures/tools/tls_cbc_capture.sh): TLS 1.0 with its
/// chained IVs, 1.1 and 1.2; HMAC-SHA1, SHA-256, SHA-384; MAC-then-encrypt and
/// encrypt-then-MAC; decrypted from s_client's key log to the line each side wrote.
#[test]
fn cbc_suites_decrypt_what_openssl_wrote() {
    use rdp_proto::tls::{self, ContentType, ExtensionType, HandshakeType, ProtocolVersion};
    use rdprobe::capture::decrypt::record::CbcMode;
    use rdprobe::capture::decrypt::session::SessionKeys;
    use rdprobe::facts::rdp::Dir;
    /// A record: its header, its content type, its fragment.
    type Rec = ([u8; 5], ContentType, Vec<u8>);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures/tls-cbc");
    for name in [
        "tls10-aes128-sha",
        "tls10-aes128-sha-etm",
        "tls11-aes256-sha",
        "tls12-aes128-sha256",
        "tls12-ecdhe-aes256-sha384",
        "tls12-ecdhe-aes128-sha-etm",
    ] {
        let [c2s, s2c] = streams(&dir.join(format!("{name}.pcap")));
        let records = |mut b: &[u8]| {
            let mut out = Vec::new();
            while let Ok((rest, r)) = rdp_proto::decode_prefix::<tls::Record>(b) {
                out.push((
                    b[..5].try_into().unwrap(),
                    r.content_type,
                    r.fragment.to_vec(),
                ));
                b = rest;
            }
            out
        };
        let (c, s): (Vec<Rec>, Vec<Rec>) = (records(&c2s), records(&s2c));
        let ch_body = rdp_proto::decode::<tls::Handshake>(&c[0].2)
            .unwrap()
            .body
            .to_vec();
        let ch = rdp_proto::decode::<tls::ClientHello>(&ch_body).unwrap();
        let sh_hs = rdp_proto::decode_prefix::<tls::Handshake>(&s[0].2)
            .unwrap()
            .1;
        assert_eq!(sh_hs.msg_type, HandshakeType::SERVER_HELLO);
        let sh = rdp_proto::decode::<tls::ServerHello>(sh_hs.body).unwrap();
        let v = sh.selected_version();
        let mode = CbcMode {
            tls10: v == ProtocolVersion::TLS_1_0,
            legacy_prf: v.0 < ProtocolVersion::TLS_1_2.0,
            etm: sh
                .extensions()
                .any(|e| e.ext_type == ExtensionType::ENCRYPT_THEN_MAC),
        };
        assert_eq!(mode.etm, name.ends_with("-etm"), "{name}");
        let log = keylog(&std::fs::read_to_string(dir.join(format!("{name}.keylog"))).unwrap());
        let secrets = log.get(ch.random).expect("the session in the key log");
        let mut keys =
            SessionKeys::new(sh.cipher_suite.0, mode, secrets, ch.random, sh.random).unwrap();
        let mut read = |d: Dir, recs: &[Rec]| {
            let mut app = Vec::new();
            for (header, ty, fragment) in recs {
                if *ty == ContentType::CHANGE_CIPHER_SPEC {
                    keys.on_change_cipher_spec(d);
                } else if keys.protected(d, ty.0) {
                    let opened = keys
                        .open(d, header, fragment)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    if opened.content_type == 23 {
                        app.extend_from_slice(&opened.data);
                    }
                }
            }
            String::from_utf8(app).unwrap()
        };
        assert_eq!(
            read(Dir::ClientToServer, &c),
            format!("client: TSRequest over {name}\n"),
            "{name}"
        );
        assert_eq!(
            read(Dir::ServerToClient, &s),
            format!("server: TSRequest over {name}\n"),
            "{name}"
        );
    }
}

/// A Set Error Info over TLS: the probe through fixtures/tools/sei_proxy.py, a TLS-terminating
/// proxy in front of a real xrdp that sends Set Error Info 7 right after xrdp's licensing
/// answer. Decrypted, the capture names it at the stage the probe does.
#[test]
fn a_set_error_info_over_tls_decrypts_to_what_the_probe_saw() {
    let (c, probe) = compare("sei-over-tls");
    assert_eq!(probe["stopped_at"], "capabilities");
    let f = c
        .findings
        .iter()
        .find(|f| f.id.as_str() == "server-denied-connection");
    assert!(f.is_some(), "{:?}", c.findings);
    let session = c.rdp.unwrap().session.unwrap();
    assert_eq!(session.licensing.outcome, "valid_client");
    assert!(session.error_info.is_some());
}
