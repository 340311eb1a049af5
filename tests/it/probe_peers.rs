//! `rdprobe probe` against real peers the test starts on ephemeral loopback ports (xrdp in its
//! configurations, FreeRDP's NLA shadow server under Xvfb; `rdp_tests::peers`). Without the
//! packages the test prints a loud SKIPPED; CI sets RDPROBE_REQUIRE_PEERS=1, which makes a
//! missing peer a failure.

use rdprobe::facts::tls::TlsVersion;
use rdprobe::facts::x224::Layer;
use std::time::Duration;

use rdp_tests::peers::{self, Cert, CryptLevel, Security, XrdpConfig};
use rdprobe::active::run::{probe, ProbeOptions, Target};
use rdprobe::report::probe::ProbeResult;

fn opts() -> ProbeOptions {
    ProbeOptions {
        timeout: Duration::from_secs(20),
        stage_timeout: Duration::from_secs(4),
        pace: Duration::from_millis(10),
        enumerate: true,
        sni: None,
        rate: None,
        stop_after: rdprobe::diagnose::Stage::Active,
        credentials: None,
        keylog: None,
        udp: false,
        gateway: None,
        auth: Default::default(),
        kdc: None,
    }
}

fn run(peer: &peers::Peer) -> ProbeResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let r = rt.block_on(probe(
        &Target {
            host: "127.0.0.1".into(),
            port: peer.addr().port(),
        },
        &opts(),
    ));
    assert!(
        t.elapsed() < opts().timeout,
        "{} took {:?}",
        peer.describe(),
        t.elapsed()
    );
    r
}

fn accepted(r: &ProbeResult) -> Vec<&'static str> {
    r.security
        .protocols
        .iter()
        .filter(|(_, p)| p.accepted)
        .map(|(k, _)| k.key())
        .collect()
}

fn has(r: &ProbeResult, id: &str) -> bool {
    r.findings.iter().any(|f| f.id == id)
}

fn xrdp(
    security: Security,
    crypt_level: CryptLevel,
    cert: Cert,
    tls_protocols: Option<&'static str>,
) -> Option<peers::Peer> {
    peers::or_skip(peers::xrdp(&XrdpConfig {
        security,
        crypt_level,
        cert,
        tls_protocols,
    }))
}

#[test]
fn xrdp_standard_rdp_security_in_every_crypt_level() {
    let cases = [
        (CryptLevel::High, "ENCRYPTION_LEVEL_HIGH", "128bit", false),
        (CryptLevel::Low, "ENCRYPTION_LEVEL_LOW", "40bit", true),
        (
            CryptLevel::Medium,
            "ENCRYPTION_LEVEL_CLIENT_COMPATIBLE",
            "40bit",
            true,
        ),
        (CryptLevel::Fips, "ENCRYPTION_LEVEL_FIPS", "fips", false),
        (CryptLevel::None, "ENCRYPTION_LEVEL_NONE", "none", true),
    ];
    for (level, level_name, method, weak) in cases {
        let Some(peer) = xrdp(Security::Rdp, level, Cert::Default, None) else {
            return;
        };
        let r = run(&peer);
        assert_eq!(accepted(&r), vec!["rdp"], "{level:?}: {:?}", r.security);
        assert_eq!(r.security.nla_required, Some(false));
        // xrdp selects PROTOCOL_RDP whatever is requested: nmap calls that "SUCCESS" for SSL/NLA.
        assert!(
            has(&r, "neg-protocol-not-requested") && has(&r, "rdp-security-allowed"),
            "{level:?}: {:?}",
            r.findings
        );
        let s = r.rdp_security.as_ref().expect("RDP security facts");
        assert_eq!(s.encryption_level.as_deref(), Some(level_name), "{level:?}");
        assert!(
            s.encryption_methods.iter().any(|m| m == method),
            "{level:?}: {:?}",
            s
        );
        assert_eq!(s.server_version.as_deref(), Some("5.0+"));
        if level != CryptLevel::None {
            assert_eq!(
                s.certificate_type.as_deref(),
                Some("proprietary"),
                "{level:?}"
            );
            assert_eq!(s.rsa_key_bits, Some(2048), "{level:?}");
        }
        assert_eq!(
            has(&r, "weak-rdp-encryption"),
            weak,
            "{level:?}: {:?}",
            r.findings
        );
        assert_eq!(r.stopped_at, None, "{level:?}: {:?}", r.stages);
        // The walk, anonymously, to the logon screen: under Standard RDP Security's
        // encryption (the session keys are right: xrdp reads our Client Info and we check the
        // MAC of every PDU it sends) or in clear at level NONE.
        let walked: Vec<(&str, &str)> = r
            .stages
            .iter()
            .skip_while(|s| s.name != "mcs")
            .map(|s| (s.name.as_str(), s.status.as_str()))
            .collect();
        let mut want = vec![("mcs", "ok"), ("channels", "ok")];
        if level != CryptLevel::None {
            want.push(("security_exchange", "ok"));
        }
        want.extend([
            ("client_info", "ok"),
            ("licensing", "ok"),
            ("capabilities", "ok"),
            ("finalization", "ok"),
            ("active", "ok"),
        ]);
        assert_eq!(walked, want, "{level:?}: {:?}", r.stages);
        let session = r.session.as_ref().expect("the walk's facts");
        assert_eq!(session.licensing.outcome, "valid_client", "{level:?}");
        let caps = session.capabilities.as_ref().expect("xrdp's Demand Active");
        assert!(caps.desktop_width.is_some_and(|w| w > 0), "{caps:?}");
    }
}

#[test]
fn xrdp_tls_with_good_expired_and_mismatched_certificates() {
    let Some(peer) = xrdp(Security::Tls, CryptLevel::High, Cert::Default, None) else {
        return;
    };
    let r = run(&peer);
    assert_eq!(accepted(&r), vec!["ssl"]);
    assert!(has(&r, "nla-not-required") && !has(&r, "rdp-security-allowed"));
    let tls = r.tls.as_ref().unwrap();
    assert!(
        tls.versions[&TlsVersion::V1_2]
            && tls.versions[&TlsVersion::V1_3]
            && !tls.versions[&TlsVersion::V1_0]
            && !tls.versions[&TlsVersion::V1_1],
        "{tls:?}"
    );
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    let c = tls.certificate.as_ref().unwrap();
    assert!(
        !c.cert.expired && c.cert.self_signed && c.name_matches,
        "{c:?}"
    );
    assert!(!has(&r, "cert-expired") && !has(&r, "cert-name-mismatch"));

    let Some(peer) = xrdp(
        Security::Tls,
        CryptLevel::High,
        Cert::Expired,
        Some("TLSv1.2"),
    ) else {
        return;
    };
    let r = run(&peer);
    let tls = r.tls.as_ref().unwrap();
    assert!(
        tls.versions[&TlsVersion::V1_2] && !tls.versions[&TlsVersion::V1_3],
        "{tls:?}"
    );
    let c = tls.certificate.as_ref().unwrap();
    assert!(c.cert.expired);
    assert_eq!(
        (c.cert.not_before.as_str(), c.cert.not_after.as_str()),
        ("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z")
    );
    assert!(has(&r, "cert-expired"));
    assert_eq!(r.verdict, "error");

    let Some(peer) = xrdp(
        Security::Tls,
        CryptLevel::High,
        Cert::Mismatch,
        Some("TLSv1.2"),
    ) else {
        return;
    };
    let r = run(&peer);
    let c = r.tls.as_ref().unwrap().certificate.as_ref().unwrap();
    assert!(!c.name_matches && !c.cert.expired, "{c:?}");
    assert!(has(&r, "cert-name-mismatch"));
}

#[test]
fn xrdp_negotiate_accepts_rdp_and_tls() {
    let Some(peer) = xrdp(Security::Negotiate, CryptLevel::High, Cert::Default, None) else {
        return;
    };
    let r = run(&peer);
    assert_eq!(accepted(&r), vec!["rdp", "ssl"]);
    assert_eq!(r.security.nla_required, Some(false));
    assert!(r.tls.is_some() && r.rdp_security.is_some());
}

#[test]
fn freerdp_nla_server_credssp_identity() {
    let Some(peer) = peers::or_skip(peers::shadow_nla()) else {
        return;
    };
    let r = run(&peer);
    assert_eq!(accepted(&r), vec!["hybrid"]);
    assert_eq!(r.security.nla_required, Some(true));
    assert_eq!(
        r.security.protocols[&Layer::Rdp].failure.as_deref(),
        Some("HYBRID_REQUIRED_BY_SERVER")
    );
    let c = r.credssp.as_ref().expect("CredSSP facts");
    assert_eq!(c.version, 6);
    assert!(c.patched_cve_2018_0886);
    let n = c.ntlm.as_ref().expect("NTLM CHALLENGE");
    assert_eq!(n.product_version.as_deref(), Some("6.1.7601"));
    assert!(
        n.netbios_computer.as_deref().is_some_and(|s| !s.is_empty()),
        "{n:?}"
    );
    assert!(n.clock_skew_s.is_some_and(|s| s.abs() < 60), "{n:?}");
    assert!(!has(&r, "credssp-unpatched"));
    assert!(!has(&r, "nla-not-required"));
    // No credentials: the headline says NLA is required, and what comes first for a client
    // (the certificate names no loopback address).
    assert!(
        r.diagnosis
            .headline
            .starts_with("Reachable, NLA required: "),
        "{:?}",
        r.diagnosis
    );
}

/// xrdp with TLS and without NLA is walked past MCS on the connection mstsc makes: the MCS
/// connect over TLS, Attach User and Channel Joins (user and I/O channels), the anonymous Client
/// Info, xrdp's License Request answered with a New License Request, STATUS_VALID_CLIENT, xrdp's
/// Demand Active, our Confirm Active and finalization, and xrdp's Font Map: `active`, the logon
/// screen. `--stop-after channels` stops after the joins.
#[test]
fn xrdp_tls_is_walked_past_mcs() {
    let Some(peer) = xrdp(Security::Tls, CryptLevel::High, Cert::Default, None) else {
        return;
    };
    let r = run(&peer);
    let stages: Vec<(&str, &str)> = r
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    for want in [
        "tls",
        "mcs",
        "channels",
        "client_info",
        "licensing",
        "capabilities",
        "finalization",
        "active",
    ] {
        assert!(stages.contains(&(want, "ok")), "{want}: {stages:?}");
    }
    assert_eq!(r.stopped_at, None);
    let session = r.session.as_ref().expect("the walk's facts");
    assert_eq!(session.channels.io_channel, Some(1003));
    let user = session.channels.user_channel.expect("a user channel");
    assert_eq!(session.channels.joined, [user, 1003]);
    assert_eq!(session.licensing.outcome, "valid_client");
    let caps = session.capabilities.as_ref().expect("xrdp's Demand Active");
    assert!(caps.desktop_width.is_some_and(|w| w > 0), "{caps:?}");
    assert!(
        caps.sets.iter().any(|s| s == "CAPSTYPE_GENERAL"),
        "{caps:?}"
    );
    assert_eq!(r.mstsc, None);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let short = rt.block_on(probe(
        &Target {
            host: "127.0.0.1".into(),
            port: peer.addr().port(),
        },
        &ProbeOptions {
            stop_after: rdprobe::diagnose::Stage::Channels,
            enumerate: false,
            ..opts()
        },
    ));
    let names: Vec<&str> = short.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["tcp", "x224", "tls", "mcs", "channels"],
        "{:?}",
        short.stages
    );
}

/// Holds three real peers (xrdp with Standard RDP Security, xrdp with TLS, FreeRDP's NLA
/// shadow server) for `RDPROBE_HOLD_SECS` seconds and writes their addresses, one per line, to
/// `RDPROBE_PEER_ADDRS`: the probe's wall time on real peers is then measured from outside,
/// old and new binary side by side (the README's command). Ignored by default.
#[test]
#[ignore]
fn hold_peers_for_benchmarks() {
    let secs: u64 = std::env::var("RDPROBE_HOLD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let out = std::env::var("RDPROBE_PEER_ADDRS").unwrap_or_else(|_| "/tmp/rdprobe-peers".into());
    let configs = [
        XrdpConfig {
            security: Security::Rdp,
            crypt_level: CryptLevel::High,
            cert: Cert::Default,
            tls_protocols: None,
        },
        XrdpConfig {
            security: Security::Tls,
            crypt_level: CryptLevel::High,
            cert: Cert::Default,
            tls_protocols: None,
        },
    ];
    let mut held = Vec::new();
    for c in &configs {
        held.extend(peers::or_skip(peers::xrdp(c)));
    }
    held.extend(peers::or_skip(peers::shadow_nla()));
    // Fourth: xrdp with TLS 1.2 only (the key log fixtures' TLS 1.2 session).
    held.extend(peers::or_skip(peers::xrdp(&XrdpConfig {
        security: Security::Tls,
        crypt_level: CryptLevel::High,
        cert: Cert::Default,
        tls_protocols: Some("TLSv1.2"),
    })));
    let addrs: Vec<String> = held.iter().map(|p| p.addr().to_string()).collect();
    std::fs::write(&out, addrs.join("\n") + "\n").unwrap();
    eprintln!("holding {} for {secs} s: {}", addrs.join(", "), out);
    std::thread::sleep(Duration::from_secs(secs));
}

/// `--user` against FreeRDP's NLA server: CredSSP with NTLMv2 (pubKeyAuth with the client
/// nonce, the server's checked), then the walk to `active` with the user in the Client Info;
/// a wrong password stops at credssp, named. The password never appears in the result, its
/// JSON or its text.
#[test]
fn freerdp_nla_server_with_credentials() {
    use rdprobe::active::credentials::Credentials;
    let Some(peer) = peers::or_skip(peers::shadow_nla()) else {
        return;
    };
    let probe_as = |password: &str| {
        let creds = Credentials::new(
            "PROBEDOM\\probeuser",
            zeroize::Zeroizing::new(password.into()),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(probe(
            &Target {
                host: "127.0.0.1".into(),
                port: peer.addr().port(),
            },
            &ProbeOptions {
                enumerate: false,
                credentials: Some(std::sync::Arc::new(creds)),
                ..opts()
            },
        ));
        let json = serde_json::to_string(&r).unwrap();
        let mut text = String::new();
        rdprobe::report::text::probe(&r, &mut text);
        for (what, out) in [
            ("JSON", &json),
            ("text", &text),
            ("Debug", &format!("{r:?}")),
        ] {
            assert!(!out.contains(password), "the password is in the {what}");
        }
        r
    };
    assert_eq!(peers::NLA_PASSWORD, "Probe-Pass1");
    let ok = probe_as(peers::NLA_PASSWORD);
    let auth = ok.auth.as_ref().expect("the auth object");
    assert_eq!(
        (auth.user.as_str(), auth.result),
        ("PROBEDOM\\probeuser", "ok")
    );
    assert_eq!(ok.stopped_at, None, "{:?}", ok.stages);
    let stages: Vec<(&str, &str)> = ok
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    for want in [
        "credssp",
        "mcs",
        "channels",
        "client_info",
        "licensing",
        "active",
    ] {
        assert!(stages.contains(&(want, "ok")), "{want}: {stages:?}");
    }
    let info = ok.stages.iter().find(|s| s.name == "client_info").unwrap();
    assert!(info.detail.contains("PROBEDOM\\probeuser"), "{info:?}");

    let bad = probe_as("not-the-password");
    assert_eq!(bad.stopped_at.map(|s| s.as_str()), Some("credssp"));
    let auth = bad.auth.as_ref().unwrap();
    assert_eq!(auth.result, "failed");
    // FreeRDP's server closes after the AUTHENTICATE without an errorCode.
    let f = bad
        .findings
        .iter()
        .find(|f| f.id == "auth-failed" || f.id == "logon-failure")
        .expect("auth-failed or logon-failure");
    assert!(f.evidence.contains("AUTHENTICATE"), "{f:?}");
    assert!(bad.session.is_none(), "no walk after a failed logon");
    // The headline: the wrong password, at credssp; the right one: nothing to fix but the
    // certificate warning a name-less loopback target gets.
    let d = &bad.diagnosis;
    assert_eq!(d.primary_finding, Some(f.id), "{d:?}");
    assert_eq!(d.stage.map(|s| s.as_str()), Some("credssp"), "{d:?}");
    assert!(
        d.headline
            .starts_with("Reachable, NLA required — fails at credssp: authentication failed"),
        "{d:?}"
    );
    assert!(!d.headline.contains("not-the-password"));
    assert_ne!(ok.diagnosis.stage.map(|s| s.as_str()), Some("credssp"));
}

/// Runs rdesktop against `port` on `display` for at most `secs` seconds, answering "yes" to its
/// certificate question; returns (still running when stopped, everything it printed).
fn rdesktop(exe: &std::path::Path, display: u32, port: u16, secs: u64) -> (bool, String) {
    use std::io::{Read, Write};
    let mut child = std::process::Command::new(exe)
        .args(["-u", "probeuser", &format!("127.0.0.1:{port}")])
        .env("DISPLAY", format!(":{display}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rdesktop");
    let _ = child.stdin.take().unwrap().write_all(b"yes\n");
    let t = std::time::Instant::now();
    let running = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut out);
    (running, out)
}

/// The client matrix from real peers' facts, and rdesktop 1.9 (a real client) doing what its
/// row says: against FreeRDP's NLA server it fails with "CredSSP required by server"; against
/// xrdp with TLS 1.2/1.3 it connects (still connected after a few seconds).
#[test]
fn client_matrix_of_real_peers_checked_with_rdesktop() {
    use rdprobe::diagnose::clients::Outcome;
    let Some(shadow) = peers::or_skip(peers::shadow_nla()) else {
        return;
    };
    let Some(tls) = xrdp(Security::Tls, CryptLevel::High, Cert::Default, None) else {
        return;
    };
    let row = |r: &ProbeResult, prefix: &str| {
        r.clients
            .iter()
            .find(|c| c.client.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no {prefix} in {:?}", r.clients))
    };
    let nla = run(&shadow);
    let rd = row(&nla, "rdesktop");
    assert_eq!(
        (rd.outcome, rd.stage.map(|s| s.as_str())),
        (Outcome::Fails, Some("x224"))
    );
    assert!(rd.message.contains("CredSSP required by server"), "{rd:?}");
    assert_eq!(row(&nla, "mstsc, Windows 10").outcome, Outcome::Connects);
    assert_eq!(row(&nla, "FreeRDP 2").outcome, Outcome::Connects);
    let win7 = row(&nla, "mstsc, Windows 7");
    assert_eq!(win7.stage.map(|s| s.as_str()), Some("tls"), "{win7:?}");

    let t = run(&tls);
    assert_eq!(row(&t, "rdesktop").outcome, Outcome::Connects);
    assert_eq!(row(&t, "mstsc, Windows 7").outcome, Outcome::Fails);
    assert!(row(&t, "FreeRDP 2")
        .message
        .contains("with TLS, without NLA"));

    let exe = match peers::client_exe("rdesktop") {
        Ok(p) => p,
        Err(why) => {
            peers::or_skip(Err(why));
            return;
        }
    };
    let display = shadow.display().expect("the shadow server's X display");
    let (running, out) = rdesktop(&exe, display, shadow.addr().port(), 10);
    assert!(!running, "rdesktop should give up: {out}");
    assert!(out.contains("CredSSP required by server"), "{out}");
    let (running, out) = rdesktop(&exe, display, tls.addr().port(), 4);
    assert!(running, "rdesktop should stay connected: {out}");
    assert!(!out.contains("Failed to connect"), "{out}");
}
