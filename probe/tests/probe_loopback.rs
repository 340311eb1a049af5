//! `rdprobe probe` against misbehaving servers started by the test on 127.0.0.1:0: each
//! asserts the verdict, the stage the probe stopped at, the finding, and that the probe ended
//! within its deadline.

use rdprobe::facts::tls::TlsVersion;
use rdprobe::facts::x224::Layer;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdprobe::active::run::{probe, ProbeOptions, Target};
use rdprobe::report::probe::ProbeResult;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn opts() -> ProbeOptions {
    ProbeOptions {
        timeout: Duration::from_secs(6),
        stage_timeout: Duration::from_millis(800),
        pace: Duration::ZERO,
        enumerate: true,
        sni: None,
        rate: None,
        // These servers end at TLS: no walk past the MCS connect (the probe before the walk).
        stop_after: rdprobe::diagnose::Stage::Mcs,
        credentials: None,
        keylog: None,
        udp: false,
        gateway: None,
        auth: Default::default(),
        kdc: None,
    }
}

/// A real FreeRDP Connection Confirm selecting PROTOCOL_SSL (flags EXTENDED_CLIENT_DATA).
const CC_SSL: [u8; 19] = [
    3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
];

async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut rest = vec![0u8; len.saturating_sub(4)];
    s.read_exact(&mut rest).await.ok()?;
    Some(rest)
}

/// Starts a server whose every connection runs `handler`; returns its port.
async fn server<F, Fut>(handler: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), handler)
}

/// Serves every connection of `l` with `handler`; returns its port.
fn server_on<F, Fut>(l: TcpListener, handler: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let port = l.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let h = handler.clone();
            tokio::spawn(async move { h(s).await });
        }
    });
    port
}

/// SO_LINGER {on, 0}: closing sends RST instead of FIN.
fn socket_linger_zero(s: &std::net::TcpStream) -> std::io::Result<()> {
    let sock = socket2::SockRef::from(s);
    sock.set_linger(Some(Duration::ZERO))
}

async fn run(port: u16) -> (ProbeResult, Duration) {
    let t = Instant::now();
    let r = probe(
        &Target {
            host: "127.0.0.1".into(),
            port,
        },
        &opts(),
    )
    .await;
    (r, t.elapsed())
}

fn ids(r: &ProbeResult) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

fn assert_stop(r: &ProbeResult, elapsed: Duration, stage: &str, id: &str) {
    assert_eq!(r.verdict, "error", "{r:#?}");
    assert_eq!(r.stopped_at.map(|s| s.as_str()), Some(stage), "{r:#?}");
    assert!(ids(r).contains(&id), "no {id} in {:?}", ids(r));
    // The headline is about what stopped the connection, where it stopped.
    let d = &r.diagnosis;
    assert_eq!(d.primary_finding.map(|i| i.as_str()), Some(id), "{d:?}");
    assert_eq!(d.stage.map(|s| s.as_str()), Some(stage), "{d:?}");
    assert!(d
        .headline
        .contains(r.findings.iter().find(|f| f.id == id).unwrap().summary));
    assert!(
        elapsed < opts().timeout + Duration::from_millis(500),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn refused() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let (r, t) = run(port).await;
    assert_stop(&r, t, "tcp", "tcp-refused");
}

#[tokio::test]
async fn silent_after_accept() {
    let port = server(|s| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "x224-no-response");
    assert!(
        t < Duration::from_secs(2),
        "one stage timeout, not the whole deadline: {t:?}"
    );
}

#[tokio::test]
async fn one_byte_a_second() {
    let port = server(|mut s| async move {
        let _ = read_request(&mut s).await;
        for b in CC_SSL {
            if s.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "x224-no-response");
    assert!(
        r.stages
            .iter()
            .any(|s| s.detail.contains("bytes of a frame")),
        "{:?}",
        r.stages
    );
}

#[tokio::test]
async fn garbage_answer_is_not_rdp() {
    let port = server(|mut s| async move {
        let _ = read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "not-rdp");
    assert!(
        r.findings
            .iter()
            .any(|f| f.evidence.contains("HTTP/1.1 400")),
        "{:?}",
        r.findings
    );

    let port = server(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "not-rdp");
}

#[tokio::test]
async fn tpkt_65535_then_nothing() {
    let port = server(|mut s| async move {
        let _ = read_request(&mut s).await;
        let _ = s.write_all(&[3, 0, 0xFF, 0xFF, 0x02, 0xF0]).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "x224-no-response");
}

#[tokio::test]
async fn reset_after_the_request() {
    let port = server(|mut s| async move {
        let _ = read_request(&mut s).await;
        // SO_LINGER 0 on close sends a RST (set on the std socket: tokio deprecates it).
        if let Ok(std) = s.into_std() {
            let _ = socket_linger_zero(&std);
            drop(std);
        }
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "x224-closed");
}

#[tokio::test]
async fn close_after_the_client_hello() {
    let port = server(|mut s| async move {
        if read_request(&mut s).await.is_none() {
            return;
        }
        let _ = s.write_all(&CC_SSL).await;
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).await;
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "tls", "tls-handshake-failed");
    assert!(r.security.protocols[&Layer::Ssl].accepted);
}

#[tokio::test]
async fn tls_alert() {
    let port = server(|mut s| async move {
        if read_request(&mut s).await.is_none() {
            return;
        }
        let _ = s.write_all(&CC_SSL).await;
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).await;
        // fatal handshake_failure
        let _ = s
            .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
            .await;
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "tls", "tls-handshake-failed");
    let tls = r.tls.as_ref().unwrap();
    assert!(
        tls.rejections
            .values()
            .all(|w| w.contains("HANDSHAKE_FAILURE")),
        "{:?}",
        tls.rejections
    );
}

/// A TLS-only RDP server (rustls) with the given certificate.
async fn tls_server(cert: rcgen::CertifiedKey<rcgen::KeyPair>) -> u16 {
    tls_server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), cert)
}

/// A TLS-only RDP server (rustls) on `l` with the given certificate.
fn tls_server_on(l: TcpListener, cert: rcgen::CertifiedKey<rcgen::KeyPair>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    server_on(l, move |mut s| {
        let acceptor = acceptor.clone();
        async move {
            if read_request(&mut s).await.is_none() {
                return;
            }
            let _ = s.write_all(&CC_SSL).await;
            if let Ok(mut tls) = acceptor.accept(s).await {
                let mut buf = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_millis(300), tls.read(&mut buf)).await;
            }
        }
    })
}

#[tokio::test]
async fn expired_and_mismatched_certificates() {
    let mut params = rcgen::CertificateParams::new(vec!["mismatch.invalid".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let port = tls_server(rcgen::CertifiedKey {
        cert,
        signing_key: key,
    })
    .await;
    let t = Instant::now();
    let r = probe(
        &Target {
            host: "127.0.0.1".into(),
            port,
        },
        &opts(),
    )
    .await;
    assert!(t.elapsed() < opts().timeout);
    let ids = ids(&r);
    for id in [
        "cert-expired",
        "cert-name-mismatch",
        "cert-self-signed",
        "nla-not-required",
    ] {
        assert!(ids.contains(&id), "no {id} in {ids:?}");
    }
    assert_eq!(r.verdict, "error");
    let tls = r.tls.as_ref().unwrap();
    assert!(tls.versions[&TlsVersion::V1_2]);
    assert!(tls.versions[&TlsVersion::V1_3]);
    assert!(
        !tls.versions[&TlsVersion::V1_0],
        "rustls servers refuse TLS 1.0"
    );
    let c = tls.certificate.as_ref().unwrap();
    assert!(c.cert.expired && !c.name_matches);
    let d = &r.diagnosis;
    assert_eq!(
        d.primary_finding.map(|i| i.as_str()),
        Some("cert-expired"),
        "{d:?}"
    );
    assert!(
        d.headline.starts_with(
            "Reachable, TLS without NLA: clients connect only after a certificate warning because the certificate has expired"
        ),
        "{d:?}"
    );
    assert_eq!(c.cert.not_after, "2021-01-01T00:00:00Z");
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
}

/// A real FreeRDP Connection Confirm selecting PROTOCOL_HYBRID.
fn cc_hybrid() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/peers/credssp/shadow-nla_x224_cc.bin"),
    )
    .unwrap()
}

/// FreeRDP's real CHALLENGE TSRequest, with its version field rewritten to `version`.
fn challenge(version: u8) -> Vec<u8> {
    let mut b = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/peers/credssp/shadow-nla_tsrequest_challenge.bin"),
    )
    .unwrap();
    // 30 81 9f | a0 03 02 01 06: the version INTEGER's value byte is at offset 7.
    assert_eq!(b[3..8], [0xA0, 0x03, 0x02, 0x01, 0x06]);
    b[7] = version;
    b
}

#[tokio::test]
async fn credssp_old_version_and_a_skewed_clock() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let cc = cc_hybrid();
    let answer = challenge(3);
    let port = server(move |mut s| {
        let (acceptor, cc, answer) = (acceptor.clone(), cc.clone(), answer.clone());
        async move {
            if read_request(&mut s).await.is_none() {
                return;
            }
            let _ = s.write_all(&cc).await;
            if let Ok(mut tls) = acceptor.accept(s).await {
                let mut buf = [0u8; 512];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await
                {
                    if n > 0 && buf[0] == 0x30 {
                        let _ = tls.write_all(&answer).await;
                        let _ = tls.flush().await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    })
    .await;
    let (r, t) = run(port).await;
    assert!(t < opts().timeout);
    let c = r.credssp.as_ref().expect("CredSSP facts");
    assert_eq!(c.version, 3);
    assert!(!c.patched_cve_2018_0886);
    let n = c.ntlm.as_ref().unwrap();
    assert_eq!(n.product_version.as_deref(), Some("6.1.7601"));
    assert_eq!(n.netbios_computer.as_deref(), Some("VM"));
    assert_eq!(n.timestamp.as_deref(), Some("2026-11-24T01:47:35Z"));
    let ids = ids(&r);
    assert!(ids.contains(&"credssp-unpatched"), "{ids:?}");
    // The recorded CHALLENGE carries the server's clock of when it was captured.
    assert_eq!(
        ids.contains(&"clock-skew"),
        n.clock_skew_s.is_some_and(|s| s.abs() > 300)
    );
    assert_eq!(r.security.nla_required, Some(true));
}

#[tokio::test]
async fn host_names_go_through_the_dns_stage() {
    let port = server(|mut s| async move {
        let _ = read_request(&mut s).await;
        let _ = s
            .write_all(&[
                0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0, 0, 0x12, 0x34, 0, 3, 0, 8, 0, 5, 0, 0, 0,
            ])
            .await;
    })
    .await;
    // /etc/hosts answers for localhost: no query leaves the machine.
    let r = probe(
        &Target {
            host: "localhost".into(),
            port,
        },
        &opts(),
    )
    .await;
    assert_eq!(r.stages[0].name, "dns");
    assert_eq!(r.stages[0].status, "ok");
    assert!(
        r.addresses
            .iter()
            .any(|a| a.address == "127.0.0.1" && a.outcome == "rdp"),
        "{:?}",
        r.addresses
    );
    assert!(ids(&r).contains(&"neg-hybrid-required"), "{:?}", ids(&r));
}

/// A server that only speaks TLS 1.0, replaying a real Windows Server 2008 R2 answer
/// (zeek__rdp-to-ssl: Connection Confirm selecting HYBRID, then ServerHello TLS 1.0
/// TLS_RSA_WITH_AES_128_CBC_SHA + Certificate + ServerHelloDone in one record) to a TLS 1.0
/// ClientHello, and `protocol_version` alerts to the others. rustls cannot talk to it: our own
/// ClientHello finds out.
#[tokio::test]
async fn tls_1_0_only_server_from_real_bytes() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdu/zeek__rdp-to-ssl");
    let cc = std::fs::read(dir.join("002-s2c-x224-cc.bin")).unwrap();
    let flight = std::fs::read(dir.join("004-s2c-tls-handshake-server-hello.bin")).unwrap();
    let port = server(move |mut s| {
        let (cc, flight) = (cc.clone(), flight.clone());
        async move {
            if read_request(&mut s).await.is_none() {
                return;
            }
            let _ = s.write_all(&cc).await;
            let mut buf = vec![0u8; 4096];
            let Ok(n) = s.read(&mut buf).await else {
                return;
            };
            // ClientHello record: 16 03 xx LL LL | 01 LLLLLL | client_version (2 bytes)
            let offered = (n >= 11).then(|| u16::from_be_bytes([buf[9], buf[10]]));
            let supported_versions_13 = buf[..n].windows(3).any(|w| w == [0x02, 0x03, 0x04]);
            if offered == Some(0x0301) && !supported_versions_13 {
                let _ = s.write_all(&flight).await;
                let _ = s.read(&mut buf).await;
            } else {
                let _ = s.write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70]).await;
            }
        }
    })
    .await;
    let (r, t) = run(port).await;
    assert!(t < opts().timeout);
    let tls = r.tls.as_ref().expect("TLS facts");
    assert!(tls.versions[&TlsVersion::V1_0], "{tls:?}");
    assert!(
        !tls.versions[&TlsVersion::V1_1]
            && !tls.versions[&TlsVersion::V1_2]
            && !tls.versions[&TlsVersion::V1_3],
        "{tls:?}"
    );
    assert!(
        tls.rejections[&TlsVersion::V1_2].contains("PROTOCOL_VERSION"),
        "{:?}",
        tls.rejections
    );
    let c = tls
        .certificate
        .as_ref()
        .expect("certificate from the plaintext Certificate message");
    assert_eq!(c.cert.subject, "CN=WIN2K8R2.awakecoding.ath.cx");
    assert_eq!(c.cert.serial, "16ed2aa0495f259d4f5d99edada570d1");
    assert!(c.cert.expired && !c.name_matches);
    let ids = ids(&r);
    for id in [
        "tls-legacy-only",
        "cert-expired",
        "cert-name-mismatch",
        "cert-weak",
    ] {
        assert!(ids.contains(&id), "no {id} in {ids:?}");
    }
    assert!(r.security.protocols[&Layer::Hybrid].accepted);
    // The headline names what stops clients first: TLS 1.0 only.
    let d = &r.diagnosis;
    assert_eq!(
        d.primary_finding.map(|i| i.as_str()),
        Some("tls-legacy-only"),
        "{d:?}"
    );
    assert_eq!(d.stage.map(|s| s.as_str()), Some("tls"));
    assert!(d.headline.contains("TLS 1.2"), "{d:?}");
}

// ---- Hard deadlines (every wait inside --timeout, whatever the server does) ----

/// A TLS 1.2 ServerHello selecting TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (which rustls and our
/// own ClientHello offer), without extensions.
fn server_hello_tls12() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]);
    body.extend_from_slice(&[0x00, 0xC0, 0x2F, 0x00]);
    let mut hs = vec![0x02, 0x00, 0x00, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x03, 0x00, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

fn tight() -> ProbeOptions {
    ProbeOptions {
        timeout: Duration::from_secs(3),
        stage_timeout: Duration::from_millis(1500),
        ..opts()
    }
}

async fn run_with(port: u16, o: &ProbeOptions) -> (ProbeResult, Duration) {
    let t = Instant::now();
    let r = probe(
        &Target {
            host: "127.0.0.1".into(),
            port,
        },
        o,
    )
    .await;
    (r, t.elapsed())
}

/// Answers the Connection Request with a Confirm selecting TLS and reads the ClientHello;
/// false if the client went away first.
async fn confirm_ssl_and_take_the_hello(s: &mut TcpStream) -> bool {
    if read_request(s).await.is_none() {
        return false;
    }
    let _ = s.write_all(&CC_SSL).await;
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf).await;
    true
}

/// Probes `port` with and without enumeration: both stop at tls in time.
async fn assert_tls_stops_with_and_without_enumeration(port: u16) {
    for o in [
        tight(),
        ProbeOptions {
            enumerate: false,
            ..tight()
        },
    ] {
        let (r, t) = run_with(port, &o).await;
        assert_tls_stopped(&r, t, &o);
    }
}

/// The TLS stage failed or timed out and the probe stopped there, within --timeout + 1 s.
fn assert_tls_stopped(r: &ProbeResult, elapsed: Duration, o: &ProbeOptions) {
    assert!(
        elapsed < o.timeout + Duration::from_secs(1),
        "took {elapsed:?}: {r:#?}"
    );
    assert_eq!(r.stopped_at.map(|s| s.as_str()), Some("tls"), "{r:#?}");
    let tls = r
        .stages
        .iter()
        .find(|s| s.name == "tls")
        .expect("a tls stage");
    assert!(
        tls.status == "failed" || tls.status == "timeout",
        "{:?}",
        r.stages
    );
    assert_eq!(r.verdict, "error");
}

#[tokio::test]
async fn drip_after_the_server_hello_stops_at_tls_within_the_deadline() {
    let port = server(|mut s| async move {
        if !confirm_ssl_and_take_the_hello(&mut s).await {
            return;
        }
        let _ = s.write_all(&server_hello_tls12()).await;
        // A Certificate record, one byte every 300 ms: never finished.
        for b in [0x16u8, 0x03, 0x03, 0x10, 0x00, 0x0B, 0x00, 0x0F, 0xF0]
            .iter()
            .cycle()
        {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    assert_tls_stops_with_and_without_enumeration(port).await;
}

#[tokio::test]
async fn a_16_mb_certificate_claim_then_a_flood_stops_at_tls_within_the_deadline() {
    let port = server(|mut s| async move {
        if !confirm_ssl_and_take_the_hello(&mut s).await {
            return;
        }
        let mut first = server_hello_tls12();
        // Certificate, 0xFFFFFF bytes long, in one-byte fragments for ever.
        first.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x0B, 0xFF, 0xFF, 0xFF]);
        if s.write_all(&first).await.is_err() {
            return;
        }
        let flood: Vec<u8> = [0x16u8, 0x03, 0x03, 0x00, 0x01, 0x00].repeat(4096);
        while s.write_all(&flood).await.is_ok() {}
    })
    .await;
    assert_tls_stops_with_and_without_enumeration(port).await;
}

#[tokio::test]
async fn a_flood_of_garbage_after_the_confirm_stops_at_tls_within_the_deadline() {
    let port = server(|mut s| async move {
        if read_request(&mut s).await.is_none() {
            return;
        }
        let _ = s.write_all(&CC_SSL).await;
        let flood = vec![0x17u8; 64 * 1024];
        while s.write_all(&flood).await.is_ok() {}
    })
    .await;
    let o = tight();
    let (r, t) = run_with(port, &o).await;
    assert_tls_stopped(&r, t, &o);
}

/// Many targets at once, each a server that drips during TLS: every one within its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_dripping_targets_at_once_each_within_its_deadline() {
    let port = server(|mut s| async move {
        if !confirm_ssl_and_take_the_hello(&mut s).await {
            return;
        }
        let _ = s.write_all(&server_hello_tls12()).await;
        loop {
            if s.write_all(&[0x16]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let o = Arc::new(ProbeOptions {
        timeout: Duration::from_secs(2),
        stage_timeout: Duration::from_secs(2),
        ..opts()
    });
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let o = o.clone();
        set.spawn(async move { run_with(port, &o).await });
    }
    let mut n = 0;
    while let Some(done) = set.join_next().await {
        let (r, t) = done.unwrap();
        assert!(t < o.timeout + Duration::from_secs(1), "took {t:?}: {r:#?}");
        assert_eq!(r.stopped_at.map(|s| s.as_str()), Some("tls"), "{r:#?}");
        n += 1;
    }
    assert_eq!(n, 64);
}

#[tokio::test]
async fn pacing_never_outlasts_the_deadline() {
    let port = tls_server_self_signed().await;
    let o = ProbeOptions {
        timeout: Duration::from_secs(2),
        pace: Duration::from_secs(3),
        ..opts()
    };
    let (r, t) = run_with(port, &o).await;
    assert!(t < o.timeout + Duration::from_secs(1), "took {t:?}");
    assert!(ids(&r).contains(&"probe-timeout"), "{:?}", ids(&r));
    // What did not fit is said: a layer skipped, and the tls stage timed out or skipped.
    assert!(
        r.security
            .protocols
            .values()
            .any(|p| p.failure.as_deref() == Some("skipped: --timeout ran out")),
        "{:?}",
        r.security.protocols
    );
    let tls = r
        .stages
        .iter()
        .find(|s| s.name == "tls")
        .expect("tls stage");
    assert!(
        tls.status == "skipped" || tls.status == "timeout",
        "{:?}",
        r.stages
    );
}

/// A reset right after accepting (SO_LINGER 0 on accept, before reading anything) is the
/// server closing: `x224-closed` at x224, never `tcp-unreachable`, however the race goes.
#[tokio::test]
async fn a_reset_right_after_accepting_is_x224_closed_every_time() {
    let port = server(|s| async move {
        if let Ok(std) = s.into_std() {
            let _ = socket_linger_zero(&std);
            drop(std);
        }
    })
    .await;
    for _ in 0..30 {
        let (r, t) = run(port).await;
        assert_stop(&r, t, "x224", "x224-closed");
        assert!(!ids(&r).contains(&"tcp-unreachable"), "{:?}", ids(&r));
    }
}

async fn tls_server_self_signed() -> u16 {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    tls_server(rcgen::CertifiedKey {
        cert,
        signing_key: key,
    })
    .await
}

/// `--no-enum` still makes the whole connection mstsc makes: x224, then TLS on it.
#[tokio::test]
async fn no_enum_still_makes_the_tls_connection() {
    let port = tls_server_self_signed().await;
    let o = ProbeOptions {
        enumerate: false,
        ..opts()
    };
    let (r, _) = run_with(port, &o).await;
    let names: Vec<&str> = r.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["tcp", "x224", "tls"], "{:?}", r.stages);
    assert!(r.stages.iter().all(|s| s.status == "ok"), "{:?}", r.stages);
    let tls = r.tls.as_ref().unwrap();
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert!(tls.certificate.is_some());
    assert_eq!(r.stopped_at, None);
}

/// Zeek's `rdp-invalid-length` server: a Connection Confirm whose RDP_NEG_RSP has length 0
/// (real bytes). The probe raises `x224-malformed` and stops at x224, as the analyzer does on
/// the capture.
#[tokio::test]
async fn a_zero_length_neg_rsp_is_x224_malformed() {
    let cc = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/zeek__rdp-invalid-length/001-s2c-x224-cc.bin"),
    )
    .unwrap();
    let cc = Arc::new(cc);
    let port = server(move |mut s| {
        let cc = cc.clone();
        async move {
            if read_request(&mut s).await.is_some() {
                let _ = s.write_all(&cc).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    let (r, t) = run(port).await;
    assert_stop(&r, t, "x224", "x224-malformed");
    let x224 = r.stages.iter().find(|s| s.name == "x224").unwrap();
    assert_eq!(x224.status, "failed", "{r:#?}");
}

/// xrdp's real frames at level NONE (fixtures/pdu/peers/xfreerdp_xrdp-rdp-none), by number.
fn xrdp_frame(n: u32) -> Vec<u8> {
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
}

/// `data` as the server sends it on the I/O channel (MCS Send Data Indication), built with
/// rdp-proto's encoders.
fn io_frame(data: &[u8]) -> Vec<u8> {
    use rdp_proto::encode_vec;
    use rdp_proto::mcs::{DomainPdu, SendData};
    let mcs = encode_vec(&DomainPdu::SendDataIndication(SendData {
        initiator: 1002,
        channel_id: 1003,
        priority_segmentation: 0x70,
        data,
        long_length: true,
    }))
    .unwrap();
    mcs_frame(&mcs)
}

/// An MCS domain PDU in X.224 Data in a TPKT.
fn mcs_frame(mcs: &[u8]) -> Vec<u8> {
    use rdp_proto::encode_vec;
    use rdp_proto::tpkt::Tpkt;
    use rdp_proto::x224::{Data, Tpdu};
    let x224 = encode_vec(&Tpdu::Data(Data {
        eot: 0x80,
        variable: &[],
        payload: mcs,
    }))
    .unwrap();
    encode_vec(&Tpkt {
        reserved: 0,
        payload: &x224,
    })
    .unwrap()
}

/// A Share Data PDU of `pdu_type2` with `body` on the I/O channel (share id 0x103ea).
fn share_data_frame(pdu_type2: rdp_proto::slowpath::PduType2, body: &[u8]) -> Vec<u8> {
    use rdp_proto::encode_vec;
    use rdp_proto::slowpath::ShareDataPdu;
    let data = encode_vec(&ShareDataPdu {
        share_id: 0x0001_03ea,
        pad1: 0,
        stream_id: 1,
        uncompressed_length: u16::try_from(body.len() + 4).unwrap(),
        pdu_type2,
        compressed_type: 0,
        compressed_length: 0,
        body,
    })
    .unwrap();
    share_control_frame(0x17, &data)
}

/// A Share Control PDU (`pdu_type_raw`: type and version) from the server on the I/O channel.
fn share_control_frame(pdu_type_raw: u16, body: &[u8]) -> Vec<u8> {
    let control = rdp_proto::encode_vec(&rdp_proto::slowpath::ShareControlPdu {
        total_length: 0,
        pdu_type_raw,
        pdu_source: 1002,
        body,
    })
    .unwrap();
    io_frame(&control)
}

/// A server Set Error Info PDU on the I/O channel.
fn set_error_info_frame(code: u32) -> Vec<u8> {
    use rdp_proto::slowpath::{ErrorInfo, PduType2, SetErrorInfo};
    let info = rdp_proto::encode_vec(&SetErrorInfo {
        error_info: ErrorInfo(code),
    })
    .unwrap();
    share_data_frame(PduType2::PDUTYPE2_SET_ERROR_INFO_PDU, &info)
}

/// A licensing Error Alert (MS-RDPBCGR 2.2.1.12.1.3) with `code` and `transition`, behind the
/// basic security header xrdp sends (flags SEC_LICENSE_PKT, flagsHi 0x0010).
fn license_error_frame(code: u32, transition: u32) -> Vec<u8> {
    use rdp_proto::licensing::{
        LicenseErrorCode, LicenseMsgType, LicensingBody, LicensingErrorMessage, LicensingPdu,
        StateTransition,
    };
    let pdu = rdp_proto::encode_vec(&LicensingPdu {
        msg_type: LicenseMsgType::ERROR_ALERT,
        flags: 0x83,
        body: LicensingBody::ErrorAlert(LicensingErrorMessage {
            error_code: LicenseErrorCode(code),
            state_transition: StateTransition(transition),
            blob_type: 0x0004,
            blob: &[],
        }),
    })
    .unwrap();
    let mut data = vec![0x80, 0, 0x10, 0];
    data.extend(pdu);
    io_frame(&data)
}

/// An MCS Disconnect Provider Ultimatum with `reason`.
fn ultimatum_frame(reason: rdp_proto::mcs::DisconnectReason) -> Vec<u8> {
    let mcs =
        rdp_proto::encode_vec(&rdp_proto::mcs::DomainPdu::DisconnectProviderUltimatum { reason })
            .unwrap();
    mcs_frame(&mcs)
}

/// A server that speaks TLS without NLA and then answers each client frame of the walk in
/// turn with `answers` (Connect-Initial, Erect Domain, Attach User, the two Channel Joins, the
/// Client Info, ...), then keeps the connection open (silent) for `hold`.
async fn walk_server(answers: Vec<Vec<Vec<u8>>>, hold: Duration) -> u16 {
    walk_server_with(move |n, _| answers.get(n).cloned(), hold).await
}

/// [`walk_server`] with the answers computed: `answer(n, frame)` gets the index of the client's
/// frame after the Connection Request and its bytes after the TPKT header; None ends the
/// answering (the connection is then held, silent).
async fn walk_server_with<F>(answer: F, hold: Duration) -> u16
where
    F: Fn(usize, &[u8]) -> Option<Vec<Vec<u8>>> + Send + Sync + 'static,
{
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let answer = Arc::new(answer);
    server(move |mut s| {
        let acceptor = acceptor.clone();
        let answer = answer.clone();
        async move {
            if read_request(&mut s).await.is_none() {
                return;
            }
            let _ = s.write_all(&CC_SSL).await;
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            for n in 0.. {
                let Some(frame) = read_request(&mut tls).await else {
                    return;
                };
                let Some(frames) = answer(n, &frame) else {
                    break;
                };
                for f in frames {
                    if tls.write_all(&f).await.is_err() {
                        return;
                    }
                }
            }
            let mut buf = [0u8; 256];
            let end = tokio::time::Instant::now() + hold;
            while let Ok(Ok(n)) = tokio::time::timeout_at(end, tls.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
            }
        }
    })
    .await
}

/// xrdp's real answers up to the Client Info: Connect-Response, nothing to Erect Domain, the
/// Attach User Confirm, the two Channel Join Confirms.
fn up_to_client_info() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![xrdp_frame(4)],
        vec![],
        vec![xrdp_frame(7)],
        vec![xrdp_frame(9)],
        vec![xrdp_frame(11)],
    ]
}

/// The probe's options for the walk: the mstsc connection only, every stage.
fn walk_opts() -> ProbeOptions {
    ProbeOptions {
        enumerate: false,
        stop_after: rdprobe::diagnose::Stage::Active,
        ..opts()
    }
}

fn stage_status(r: &ProbeResult, name: &str) -> Option<&'static str> {
    r.stages
        .iter()
        .find(|s| s.name.as_str() == name)
        .map(|s| s.status.as_str())
}

/// A server that behaves like Windows refusing new sessions (the help-desk case): TLS without
/// NLA, then xrdp's real MCS answers (Connect-Response, Attach User Confirm, Channel Join
/// Confirms) and STATUS_VALID_CLIENT, then Set Error Info 7 after licensing. The probe walks
/// to it and says server-denied-connection, stopped at capabilities, mstsc 0x904 / 0x7.
#[tokio::test]
async fn set_error_info_7_after_licensing_is_server_denied_connection() {
    let mut answers = up_to_client_info();
    answers.push(vec![xrdp_frame(23), set_error_info_frame(7)]);
    let port = walk_server(answers, Duration::from_millis(500)).await;
    let o = walk_opts();
    let (r, t) = run_with(port, &o).await;
    assert!(t < o.timeout, "took {t:?}");
    assert_eq!(r.verdict, "error", "{r:#?}");
    assert_eq!(
        r.stopped_at.map(|s| s.as_str()),
        Some("capabilities"),
        "{r:#?}"
    );
    assert!(
        ids(&r).contains(&"server-denied-connection"),
        "{:?}",
        ids(&r)
    );
    let m = r.mstsc.as_ref().expect("the mstsc view");
    assert_eq!(
        (m.disconnect_reason.as_deref(), m.extended_reason.as_deref()),
        (Some("0x904"), Some("0x7"))
    );
    let s = r.session.as_ref().unwrap();
    assert_eq!(s.licensing.outcome, "valid_client");
    assert_eq!(
        s.error_info.as_ref().map(|e| e.name.as_str()),
        Some("ERRINFO_SERVER_DENIED_CONNECTION")
    );
    // The help-desk case, in one sentence.
    let d = &r.diagnosis;
    assert_eq!(
        d.primary_finding.map(|i| i.as_str()),
        Some("server-denied-connection")
    );
    assert_eq!(d.stage.map(|s| s.as_str()), Some("capabilities"));
    assert!(
        d.headline.starts_with(
            "Reachable, TLS without NLA — fails at capabilities: the server denied the connection"
        ),
        "{d:?}"
    );
    assert!(d.headline.contains("0x904 / extended 0x7"), "{d:?}");
    assert!(d.headline.contains("drain mode"), "the fix: {d:?}");
}

/// Set Error Info 9 (ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES) and 0x10A (no license: the grace
/// period is over) after licensing: each named as its own finding, at capabilities, with
/// mstsc's extended reason.
#[tokio::test]
async fn set_error_info_9_and_0x10a_name_their_causes() {
    for (code, id, name, extended) in [
        (
            9,
            "insufficient-privileges",
            "ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES",
            "0x9",
        ),
        (
            0x10A,
            "licensing-error",
            "ERRINFO_LICENSE_NO_REMOTE_CONNECTIONS",
            "0x10a",
        ),
    ] {
        let mut answers = up_to_client_info();
        answers.push(vec![xrdp_frame(23), set_error_info_frame(code)]);
        let port = walk_server(answers, Duration::from_millis(500)).await;
        let (r, _) = run_with(port, &walk_opts()).await;
        assert_eq!(
            r.stopped_at.map(|s| s.as_str()),
            Some("capabilities"),
            "{code:#x}: {r:#?}"
        );
        assert!(ids(&r).contains(&id), "{code:#x}: {:?}", ids(&r));
        let f = r.findings.iter().find(|f| f.id.as_str() == id).unwrap();
        assert!(f.evidence.contains("capabilities"), "{code:#x}: {f:?}");
        let s = r.session.as_ref().unwrap();
        assert_eq!(
            s.error_info.as_ref().map(|e| e.name.as_str()),
            Some(name),
            "{code:#x}"
        );
        let m = r.mstsc.as_ref().expect("the mstsc view");
        assert_eq!(m.extended_reason.as_deref(), Some(extended), "{code:#x}");
    }
}

/// A licensing Error Alert instead of STATUS_VALID_CLIENT (no license server): licensing-error
/// at licensing, the code and state transition recorded.
#[tokio::test]
async fn a_licensing_error_alert_is_licensing_error() {
    let mut answers = up_to_client_info();
    // ERR_NO_LICENSE_SERVER, ST_TOTAL_ABORT
    answers.push(vec![license_error_frame(6, 1)]);
    let port = walk_server(answers, Duration::from_millis(500)).await;
    let (r, _) = run_with(port, &walk_opts()).await;
    assert_eq!(r.verdict, "error", "{r:#?}");
    assert_eq!(
        r.stopped_at.map(|s| s.as_str()),
        Some("licensing"),
        "{r:#?}"
    );
    assert_eq!(stage_status(&r, "licensing"), Some("failed"));
    assert!(ids(&r).contains(&"licensing-error"), "{:?}", ids(&r));
    let s = r.session.as_ref().unwrap();
    assert_eq!(s.licensing.outcome, "error");
    assert_eq!(
        s.licensing.error_name.as_deref(),
        Some("ERR_NO_LICENSE_SERVER")
    );
    assert_eq!(
        s.licensing.state_transition.as_deref(),
        Some("ST_TOTAL_ABORT")
    );
}

/// A Disconnect Provider Ultimatum in the middle of the channel joins: stopped at channels,
/// closed by the server, the reason named.
#[tokio::test]
async fn an_ultimatum_during_the_channel_joins_stops_at_channels() {
    let answers = vec![
        vec![xrdp_frame(4)],
        vec![],
        vec![xrdp_frame(7)],
        vec![ultimatum_frame(
            rdp_proto::mcs::DisconnectReason::RN_PROVIDER_INITIATED,
        )],
    ];
    let port = walk_server(answers, Duration::from_millis(500)).await;
    let (r, _) = run_with(port, &walk_opts()).await;
    assert_eq!(r.stopped_at.map(|s| s.as_str()), Some("channels"), "{r:#?}");
    assert_eq!(stage_status(&r, "channels"), Some("failed"));
    assert!(ids(&r).contains(&"closed-by-server"), "{:?}", ids(&r));
    let s = r.session.as_ref().unwrap();
    assert_eq!(
        s.disconnect_reason.as_deref(),
        Some("RN_PROVIDER_INITIATED")
    );
    assert_eq!(s.channels.joined, Vec::<u16>::new(), "{s:?}");
    assert!(r.mstsc.is_some(), "{r:#?}");
}

/// A server that goes silent after the Client Info: the licensing stage times out within the
/// stage timeout, server-silent, and the probe ends within its deadline.
#[tokio::test]
async fn silence_after_the_client_info_times_out_in_licensing() {
    let mut answers = up_to_client_info();
    answers.push(vec![]);
    let port = walk_server(answers, Duration::from_secs(10)).await;
    let o = walk_opts();
    let (r, t) = run_with(port, &o).await;
    assert_eq!(
        r.stopped_at.map(|s| s.as_str()),
        Some("licensing"),
        "{r:#?}"
    );
    assert_eq!(stage_status(&r, "licensing"), Some("timeout"));
    assert!(ids(&r).contains(&"server-silent"), "{:?}", ids(&r));
    assert!(t < o.stage_timeout * 3, "took {t:?}");
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A broker's answer after licensing: an Enhanced Security Server Redirection PDU (MS-RDPBCGR
/// 2.2.13.3.1) naming another host (a loopback address and a reserved name: nothing is sent
/// there, the probe never follows a redirection). Reported as `redirected` with its target,
/// the walk ends at capabilities, not as a failure.
#[tokio::test]
async fn a_server_redirection_is_reported_never_followed() {
    use rdp_proto::redirection::{RedirFlags, ServerRedirection};
    let addr = utf16z("127.0.0.2");
    let fqdn = utf16z("rdsh2.example.invalid");
    let lb = b"tsv://MS Terminal Services Plugin.1.Pool\r\n".to_vec();
    let redirect = rdp_proto::encode_vec(&ServerRedirection {
        flags: 0x0400,
        session_id: 3,
        redir_flags: RedirFlags::LB_TARGET_NET_ADDRESS
            | RedirFlags::LB_LOAD_BALANCE_INFO
            | RedirFlags::LB_TARGET_FQDN,
        fields: vec![
            (RedirFlags::LB_TARGET_NET_ADDRESS, &addr),
            (RedirFlags::LB_LOAD_BALANCE_INFO, &lb),
            (RedirFlags::LB_TARGET_FQDN, &fqdn),
        ],
        pad: &[0; 8],
    })
    .unwrap();
    let mut body = vec![0, 0];
    body.extend(redirect);
    let mut answers = up_to_client_info();
    // STATUS_VALID_CLIENT, then PDUTYPE_SERVER_REDIR_PKT (0xA, version 1).
    answers.push(vec![xrdp_frame(23), share_control_frame(0x1A, &body)]);
    let port = walk_server(answers, Duration::from_millis(500)).await;
    let (r, _) = run_with(port, &walk_opts()).await;
    assert_eq!(r.stopped_at, None, "{r:#?}");
    assert_eq!(stage_status(&r, "capabilities"), Some("ok"), "{r:#?}");
    assert_eq!(stage_status(&r, "active"), None, "{r:#?}");
    let f = r
        .findings
        .iter()
        .find(|f| f.id.as_str() == "redirected")
        .expect("redirected");
    assert!(
        f.evidence.contains("rdsh2.example.invalid") && f.evidence.contains("127.0.0.2"),
        "{f:?}"
    );
    let s = r.session.as_ref().unwrap();
    let red = s.redirect.as_ref().expect("the redirect facts");
    assert_eq!(red.target_fqdn.as_deref(), Some("rdsh2.example.invalid"));
    assert_eq!(red.target_address.as_deref(), Some("127.0.0.2"));
    assert_eq!(
        red.load_balance_info.as_deref(),
        Some("tsv://MS Terminal Services Plugin.1.Pool")
    );
    assert_eq!(red.session_id, 3);
    assert_eq!(
        red.flags,
        [
            "LB_TARGET_NET_ADDRESS",
            "LB_LOAD_BALANCE_INFO",
            "LB_TARGET_FQDN"
        ]
    );
    assert_eq!(r.mstsc, None, "mstsc follows a redirection: no error");
}

/// One capability set: type, length (header included), then `data`.
fn cap(set_type: u16, data: &[u8]) -> Vec<u8> {
    let mut v = set_type.to_le_bytes().to_vec();
    v.extend(u16::try_from(data.len() + 4).unwrap().to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// A Demand Active with the capability sets Windows Server sends, in its order (MS-RDPBCGR
/// 2.2.1.13.1; the sets as FreeRDP and Wireshark list them for Windows Server 2016+): General
/// (Windows NT), Bitmap (1920x1080, 32 bpp) and the rest with plausible sizes.
fn windows_demand_active() -> Vec<u8> {
    #[rustfmt::skip]
    let general = [1, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0x1D, 0x04, 0, 0, 0, 0, 0, 0, 1, 0];
    #[rustfmt::skip]
    let bitmap = [32, 0, 1, 0, 1, 0, 1, 0, 0x80, 0x07, 0x38, 0x04, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0];
    let sets: Vec<Vec<u8>> = vec![
        cap(9, &[0xEA, 0x03, 0, 0]),
        cap(1, &general),
        cap(20, &[0; 4]),
        cap(22, &[0; 36]),
        cap(14, &[1, 0, 0, 0]),
        cap(2, &bitmap),
        cap(3, &[0; 84]),
        cap(10, &[6, 0, 0, 0]),
        cap(18, &[0; 4]),
        cap(8, &[1, 0, 25, 0, 25, 0]),
        cap(13, &[0; 84]),
        cap(23, &[0; 4]),
        cap(24, &[0; 7]),
        cap(25, &[0; 2]),
        cap(26, &[0; 4]),
        cap(27, &[0; 2]),
        cap(28, &[0; 8]),
        cap(29, &[0; 1]),
        cap(30, &[0; 4]),
    ];
    let mut caps: Vec<u8> = Vec::new();
    for s in &sets {
        caps.extend(s);
    }
    let mut body = 0x0001_03EAu32.to_le_bytes().to_vec(); // shareId
    body.extend(4u16.to_le_bytes()); // lengthSourceDescriptor
    body.extend(u16::try_from(caps.len() + 4).unwrap().to_le_bytes());
    body.extend(b"RDP\0");
    body.extend(u16::try_from(sets.len()).unwrap().to_le_bytes());
    body.extend([0, 0]);
    body.extend(caps);
    body.extend(1u32.to_le_bytes()); // sessionId
    share_control_frame(0x11, &body)
}

/// A server that answers like Windows Server: STATUS_VALID_CLIENT, a Demand Active with its
/// capability sets; it takes the probe's Confirm Active and finalization PDUs (each must parse:
/// the server checks), answers with the Font Map, and gets the probe's Disconnect Provider
/// Ultimatum. The probe reads the sets and reaches `active`.
#[tokio::test]
async fn a_windows_demand_active_is_read_and_confirmed_to_active() {
    use rdp_proto::slowpath::PduType2;
    let mut answers = up_to_client_info();
    answers.push(vec![xrdp_frame(23), windows_demand_active()]);
    // Confirm Active, Synchronize, Control Cooperate, Control Request: nothing yet; Font List:
    // the Font Map.
    answers.extend([vec![], vec![], vec![], vec![]]);
    answers.push(vec![share_data_frame(
        PduType2::PDUTYPE2_FONTMAP,
        &[0, 0, 0, 0, 3, 0, 4, 0],
    )]);
    // The ultimatum.
    answers.push(vec![]);
    let port = walk_server(answers, Duration::from_millis(500)).await;
    let (r, _) = run_with(port, &walk_opts()).await;
    assert_eq!(r.stopped_at, None, "{r:#?}");
    for st in [
        "channels",
        "client_info",
        "licensing",
        "capabilities",
        "finalization",
        "active",
    ] {
        assert_eq!(stage_status(&r, st), Some("ok"), "{st}: {:?}", r.stages);
    }
    let s = r.session.as_ref().unwrap();
    let caps = s.capabilities.as_ref().unwrap();
    assert_eq!(caps.os_major.as_deref(), Some("OSMAJORTYPE_WINDOWS"));
    assert_eq!(caps.os_minor.as_deref(), Some("OSMINORTYPE_WINDOWS_NT"));
    assert_eq!(
        (caps.desktop_width, caps.desktop_height),
        (Some(1920), Some(1080))
    );
    assert_eq!(caps.color_depth, Some(32));
    assert_eq!(caps.sets.len(), 19, "{caps:?}");
    assert!(caps.sets.iter().any(|s| s == "CAPSTYPE_RAIL"), "{caps:?}");
    assert!(
        caps.sets
            .iter()
            .any(|s| s == "CAPSSETTYPE_FRAME_ACKNOWLEDGE"),
        "{caps:?}"
    );
}

/// A 512-bit RSA key made for this test with `openssl genrsa 512` (big-endian hex): the test
/// server's licensing key, so that it can read the premaster secret the probe sends.
const TEST_RSA_N: &str = "d45ad11386efd271f9cd1651f5e28c2ee1b7946d2414b476d9ff9651e2f458448c7d1b7abc921514c28201c5fcdb084ba3ea63877aafc920cd5d76865ae433f1";
const TEST_RSA_D: &str = "00c3440b3300867025dc04e8fc4eb49620d9ef7c2d6bdb1a229bccb905ed42b012128ae755741131d3c5dc1cd90c2ce0cb7d6f784b7714a8bff976aa65d100682d";

/// The licensing PDU in a client frame (the bytes after the TPKT header).
fn client_licensing(frame: &[u8]) -> Option<(u8, Vec<u8>)> {
    use rdp_proto::licensing::{LicensingBody, LicensingPdu};
    use rdp_proto::mcs::DomainPdu;
    let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(frame.get(3..)?).ok()?
    else {
        return None;
    };
    let l: LicensingPdu = rdp_proto::decode(sd.data.get(4..)?).ok()?;
    let LicensingBody::Other(body) = l.body else {
        return None;
    };
    Some((l.msg_type.0, body.to_vec()))
}

/// A server licensing PDU (`msg_type`, `body`) on the I/O channel, SEC_LICENSE_PKT.
fn licensing_frame(msg_type: u8, body: &[u8]) -> Vec<u8> {
    use rdp_proto::licensing::{LicenseMsgType, LicensingBody, LicensingPdu};
    let pdu = rdp_proto::encode_vec(&LicensingPdu {
        msg_type: LicenseMsgType(msg_type),
        flags: 0x83,
        body: LicensingBody::Other(body),
    })
    .unwrap();
    let mut data = vec![0x80, 0, 0, 0];
    data.extend(pdu);
    io_frame(&data)
}

/// A server that issues licenses (MS-RDPELE 1.3.3): a License Request (xrdp's, its RSA key
/// replaced with the test's), then, from the probe's New License Request, the premaster
/// secret decrypted with the test's private key and the licensing keys derived; a Platform
/// Challenge encrypted and MACed with them; the probe's Platform Challenge Response decrypted
/// and checked (the challenge echoed, the MAC over response and hardware id); a New License if
/// all holds, else ERR_INVALID_MAC. The probe says `license_issued`.
#[tokio::test]
async fn the_full_licensing_exchange_with_a_platform_challenge() {
    use num_bigint::BigUint;
    use rdp_proto::gcc::{parse_server_certificate, ServerCertificate};
    use rdp_proto::licensing::{
        LicenseBlob, LicenseRequest, NewLicenseRequest, PlatformChallenge,
        PlatformChallengeResponse, BB_ENCRYPTED_DATA_BLOB,
    };
    use rdprobe::active::client::licensing::LicensingKeys;

    // xrdp's License Request with the test key in its proprietary certificate.
    let mut request = xrdp_frame(21);
    let n = BigUint::parse_bytes(TEST_RSA_N.as_bytes(), 16).unwrap();
    let d = BigUint::parse_bytes(TEST_RSA_D.as_bytes(), 16).unwrap();
    let (offset, server_random) = {
        let (_, data) = request.split_at(7);
        let rdp_proto::mcs::DomainPdu::SendDataIndication(sd) =
            rdp_proto::decode::<rdp_proto::mcs::DomainPdu>(data).unwrap()
        else {
            panic!()
        };
        let l: rdp_proto::licensing::LicensingPdu = rdp_proto::decode(&sd.data[4..]).unwrap();
        let rdp_proto::licensing::LicensingBody::Other(body) = l.body else {
            panic!()
        };
        let lr: LicenseRequest = rdp_proto::decode(body).unwrap();
        let (_, cert) = parse_server_certificate(lr.certificate.data).unwrap();
        let ServerCertificate::Proprietary(p) = cert.certificate else {
            panic!("xrdp's certificate is proprietary")
        };
        assert_eq!(p.public_key.modulus.len(), 72, "a 512-bit key");
        assert_eq!(p.public_key.pub_exp, 65537);
        let offset = p.public_key.modulus.as_ptr() as usize - request.as_ptr() as usize;
        (offset, <[u8; 32]>::try_from(lr.server_random).unwrap())
    };
    let mut n_le = n.to_bytes_le();
    n_le.resize(64, 0);
    request[offset..offset + 64].copy_from_slice(&n_le);

    let challenge = b"T\0E\0S\0T\0\0\0".to_vec();
    let keys = std::sync::Mutex::new(None::<LicensingKeys>);
    let verdict = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = verdict.clone();
    let port = walk_server_with(
        move |i, frame| match i {
            0..=4 => up_to_client_info().get(i).cloned(),
            5 => Some(vec![request.clone()]),
            6 => {
                let (msg, body) = client_licensing(frame)?;
                assert_eq!(msg, 0x13, "a New License Request");
                let nlr: NewLicenseRequest = rdp_proto::decode(&body).unwrap();
                let premaster = BigUint::from_bytes_le(nlr.encrypted_premaster.data)
                    .modpow(&d, &n)
                    .to_bytes_le();
                let mut pm = [0u8; 48];
                pm.copy_from_slice(&premaster[..48]);
                let client_random = <[u8; 32]>::try_from(nlr.client_random).unwrap();
                let k = LicensingKeys::derive(&pm, &client_random, &server_random);
                let encrypted = k.rc4(&challenge);
                let mac = k.mac(&challenge);
                let pc = rdp_proto::encode_vec(&PlatformChallenge {
                    connect_flags: 0,
                    encrypted_challenge: LicenseBlob {
                        blob_type: BB_ENCRYPTED_DATA_BLOB,
                        data: &encrypted,
                    },
                    mac: &mac,
                })
                .unwrap();
                *keys.lock().unwrap() = Some(k);
                Some(vec![licensing_frame(0x02, &pc)])
            }
            7 => {
                let (msg, body) = client_licensing(frame)?;
                assert_eq!(msg, 0x15, "a Platform Challenge Response");
                let pcr: PlatformChallengeResponse = rdp_proto::decode(&body).unwrap();
                let guard = keys.lock().unwrap();
                let k = guard.as_ref().unwrap();
                let response = k.rc4(pcr.encrypted_response.data);
                let hwid = k.rc4(pcr.encrypted_hwid.data);
                let mut signed = response.clone();
                signed.extend(&hwid);
                let ok = response[..6] == [0x00, 0x01, 0x00, 0xFF, 0x03, 0x00]
                    && response[8..] == challenge[..]
                    && usize::from(u16::from_le_bytes([response[6], response[7]]))
                        == challenge.len()
                    && hwid.len() == 20
                    && k.mac(&signed) == pcr.mac;
                *seen.lock().unwrap() = format!("response checked: {ok}");
                if ok {
                    // SERVER_NEW_LICENSE: its (encrypted) license, not read by the probe.
                    Some(vec![licensing_frame(
                        0x03,
                        &[9, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8],
                    )])
                } else {
                    Some(vec![license_error_frame(3, 1)])
                }
            }
            _ => None,
        },
        Duration::from_millis(500),
    )
    .await;
    let o = ProbeOptions {
        stop_after: rdprobe::diagnose::Stage::Licensing,
        ..walk_opts()
    };
    let (r, _) = run_with(port, &o).await;
    assert_eq!(*verdict.lock().unwrap(), "response checked: true");
    assert_eq!(r.stopped_at, None, "{r:#?}");
    assert_eq!(stage_status(&r, "licensing"), Some("ok"), "{r:#?}");
    let s = r.session.as_ref().unwrap();
    assert_eq!(s.licensing.outcome, "license_issued", "{s:?}");
}

/// One DER TLV (a TSRequest) from `s`, whole.
async fn read_der<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.ok()?;
    let mut out = head.to_vec();
    let len = if head[1] & 0x80 == 0 {
        usize::from(head[1])
    } else {
        let n = usize::from(head[1] & 0x7F);
        if n > 3 {
            return None;
        }
        let mut l = vec![0u8; n];
        s.read_exact(&mut l).await.ok()?;
        out.extend(&l);
        l.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b))
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    out.extend(body);
    Some(out)
}

/// What the loopback NLA server does after the client's AUTHENTICATE.
#[derive(Clone, Copy)]
enum NlaAnswer {
    /// A TSRequest with this errorCode (as Windows does for a bad logon).
    ErrorCode(u32),
    /// CredSSP completed (the NTLMv2 proof checked with the password, its pubKeyAuth sent, the
    /// TSCredentials read back), then this Early User Authorization Result (HYBRID_EX).
    Complete(u32),
}

const NLA_PASSWORD: &str = "Loopback-Pass1";

/// A server that answers like Windows with NLA: a Confirm selecting HYBRID (or HYBRID_EX for
/// [`NlaAnswer::Complete`]), TLS, FreeRDP's real CHALLENGE, then `answer`. Returns the port and
/// what the server saw of the client's credentials.
async fn nla_server(answer: NlaAnswer) -> (u16, Arc<std::sync::Mutex<String>>) {
    use rdp_proto::credssp::{NtStatus, TsCredentials, TsPasswordCreds, TsRequest};
    use rdp_proto::ntlm::{Authenticate, Challenge};
    use rdprobe::active::crypto::ntlm::{ntowf_v2, rc4, Direction, Ntlmv2, Sealer};
    use sha2::Digest;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let public_key = {
        use x509_parser::prelude::FromDer;
        let (_, c) = x509_parser::prelude::X509Certificate::from_der(cert.der()).unwrap();
        c.public_key().subject_public_key.data.to_vec()
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut cc = cc_hybrid();
    if matches!(answer, NlaAnswer::Complete(_)) {
        cc[15] = 0x08; // PROTOCOL_HYBRID_EX
    }
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let log = seen.clone();
    let port = server(move |mut s| {
        let (acceptor, cc, public_key, log) = (
            acceptor.clone(),
            cc.clone(),
            public_key.clone(),
            log.clone(),
        );
        async move {
            if read_request(&mut s).await.is_none() {
                return;
            }
            let _ = s.write_all(&cc).await;
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            let challenge_req = challenge_for_rdprobe();
            if read_der(&mut tls).await.is_none() || tls.write_all(&challenge_req).await.is_err() {
                return;
            }
            let Some(auth_req) = read_der(&mut tls).await else {
                return;
            };
            let req: TsRequest = rdp_proto::decode(&auth_req).unwrap();
            match answer {
                NlaAnswer::ErrorCode(code) => {
                    let e = rdp_proto::encode_vec(&TsRequest {
                        version: 6,
                        error_code: Some(NtStatus(code)),
                        ..Default::default()
                    })
                    .unwrap();
                    let _ = tls.write_all(&e).await;
                    *log.lock().unwrap() = "errorCode sent".into();
                }
                NlaAnswer::Complete(euar) => {
                    // The server's side of NTLMv2: the proof checked with the password.
                    let ch_req: TsRequest = rdp_proto::decode(&challenge_req).unwrap();
                    let ch: Challenge = rdp_proto::decode(ch_req.nego_tokens[0]).unwrap();
                    let a: Authenticate = rdp_proto::decode(req.nego_tokens[0]).unwrap();
                    let nt = a.nt_response.data;
                    let temp = &nt[16..];
                    let key = ntowf_v2(NLA_PASSWORD, &a.user_name(), &a.domain_name());
                    let r = Ntlmv2::compute(
                        &key,
                        &ch.server_challenge,
                        temp[16..24].try_into().unwrap(),
                        u64::from_le_bytes(temp[8..16].try_into().unwrap()),
                        &temp[28..temp.len() - 4],
                        true,
                    );
                    if r.nt_response[..16] != nt[..16] {
                        *log.lock().unwrap() = "the NTLMv2 proof does not match".into();
                        return;
                    }
                    let exported: [u8; 16] = rc4(&r.session_base_key, a.session_key.data)
                        .try_into()
                        .unwrap();
                    let mut client = Sealer::new(&exported, Direction::ClientToServer);
                    let mut server = Sealer::new(&exported, Direction::ServerToClient);
                    let nonce = req.client_nonce.unwrap();
                    let hash = |magic: &[u8]| {
                        let mut h = sha2::Sha256::new();
                        h.update(magic);
                        h.update(nonce);
                        h.update(&public_key);
                        h.finalize().to_vec()
                    };
                    let theirs = client.unseal(req.pub_key_auth.unwrap());
                    if theirs.as_deref()
                        != Some(&hash(b"CredSSP Client-To-Server Binding Hash\0")[..])
                    {
                        *log.lock().unwrap() = "the client's pubKeyAuth does not match".into();
                        return;
                    }
                    let ours = server.seal(&hash(b"CredSSP Server-To-Client Binding Hash\0"));
                    let reply = rdp_proto::encode_vec(&TsRequest {
                        version: 6,
                        pub_key_auth: Some(&ours),
                        ..Default::default()
                    })
                    .unwrap();
                    if tls.write_all(&reply).await.is_err() {
                        return;
                    }
                    let Some(creds_req) = read_der(&mut tls).await else {
                        return;
                    };
                    let creds_req: TsRequest = rdp_proto::decode(&creds_req).unwrap();
                    let plain = client.unseal(creds_req.auth_info.unwrap()).unwrap();
                    let c: TsCredentials = rdp_proto::decode(&plain).unwrap();
                    let p: TsPasswordCreds = rdp_proto::decode(c.credentials).unwrap();
                    let text = |b: &[u8]| rdp_proto::utf16le(b);
                    *log.lock().unwrap() = format!(
                        "credentials {}\\{} password ok: {}",
                        text(p.domain),
                        text(p.user),
                        text(p.password) == NLA_PASSWORD
                    );
                    let _ = tls.write_all(&euar.to_le_bytes()).await;
                }
            }
            let mut buf = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_millis(500), tls.read(&mut buf)).await;
        }
    })
    .await;
    (port, seen)
}

fn nla_opts() -> ProbeOptions {
    let creds = rdprobe::active::credentials::Credentials::new(
        "CORP\\alice",
        zeroize::Zeroizing::new(NLA_PASSWORD.into()),
    )
    .unwrap();
    ProbeOptions {
        enumerate: false,
        stop_after: rdprobe::diagnose::Stage::Active,
        credentials: Some(Arc::new(creds)),
        ..opts()
    }
}

/// A Windows-like NLA server's errorCode after the AUTHENTICATE, named: the finding its
/// NTSTATUS family names, stopped at credssp, the code in `auth`; never the password.
#[tokio::test]
async fn ntstatus_after_the_authenticate_names_the_cause() {
    for (code, id, name) in [
        (0xC000_0234, "account-locked", "STATUS_ACCOUNT_LOCKED_OUT"),
        (0xC000_0071, "password-expired", "STATUS_PASSWORD_EXPIRED"),
        (
            0xC000_015B,
            "logon-restricted",
            "STATUS_LOGON_TYPE_NOT_GRANTED",
        ),
        (0xC000_006D, "logon-failure", "STATUS_LOGON_FAILURE"),
        (0xC000_005E, "no-logon-servers", "STATUS_NO_LOGON_SERVERS"),
    ] {
        let (port, _) = nla_server(NlaAnswer::ErrorCode(code)).await;
        let o = nla_opts();
        let (r, t) = run_with(port, &o).await;
        assert!(t < o.timeout, "took {t:?}");
        assert_eq!(
            r.stopped_at.map(|s| s.as_str()),
            Some("credssp"),
            "{name}: {r:#?}"
        );
        assert!(
            ids(&r).contains(&id),
            "{name}: {:?} {:?}",
            ids(&r),
            r.stages
        );
        let auth = r.auth.as_ref().unwrap();
        assert_eq!(auth.result, "failed");
        assert_eq!(auth.ntstatus_name.as_deref(), Some(name));
        assert_eq!(auth.user, "CORP\\alice");
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(NLA_PASSWORD));
    }
}

/// HYBRID_EX: CredSSP completes (the server checks the NTLMv2 proof against the password,
/// our pubKeyAuth, and reads our TSCredentials back), then the Early User Authorization Result
/// says access denied: user-not-authorized, stopped at credssp.
#[tokio::test]
async fn early_user_authorization_denied_is_user_not_authorized() {
    let (port, seen) = nla_server(NlaAnswer::Complete(5)).await;
    let o = nla_opts();
    let (r, _) = run_with(port, &o).await;
    assert_eq!(
        *seen.lock().unwrap(),
        "credentials CORP\\alice password ok: true"
    );
    assert_eq!(r.stopped_at.map(|s| s.as_str()), Some("credssp"), "{r:#?}");
    assert!(ids(&r).contains(&"user-not-authorized"), "{:?}", ids(&r));
    let auth = r.auth.as_ref().unwrap();
    assert_eq!(
        auth.early_user_authorization.as_deref(),
        Some("access_denied")
    );
    assert_eq!(auth.result, "failed");
}

/// FreeRDP's real CHALLENGE (version 6), its flags answering rdprobe's NEGOTIATE as a Windows
/// server does: key exchange, extended session security, 128-bit, sealing, signing, Unicode.
fn challenge_for_rdprobe() -> Vec<u8> {
    use rdp_proto::credssp::TsRequest;
    use rdp_proto::ntlm::{Challenge, NegotiateFlags as F};
    let b = challenge(6);
    let req: TsRequest = rdp_proto::decode(&b).unwrap();
    let mut ch: Challenge = rdp_proto::decode(req.nego_tokens[0]).unwrap();
    ch.flags |= F::NTLMSSP_NEGOTIATE_KEY_EXCH
        | F::NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
        | F::NTLMSSP_NEGOTIATE_128
        | F::NTLMSSP_NEGOTIATE_SEAL
        | F::NTLMSSP_NEGOTIATE_SIGN
        | F::NTLMSSP_NEGOTIATE_UNICODE;
    let token = rdp_proto::encode_vec(&ch).unwrap();
    rdp_proto::encode_vec(&TsRequest {
        version: 6,
        nego_tokens: vec![&token],
        ..Default::default()
    })
    .unwrap()
}

/// The command line with `--user`: the password from RDPROBE_PASSWORD reaches the server (it
/// checks it) and appears in no output, text or JSON, stdout or stderr; without it and without
/// a terminal, a usage error (exit 2) that says where the password comes from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_the_password_from_the_environment_and_never_prints_it() {
    let (port, seen) = nla_server(NlaAnswer::Complete(5)).await;
    for format in ["text", "json", "jsonl"] {
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_rdprobe"))
                .args([
                    "probe",
                    "--no-enum",
                    "--user",
                    "CORP\\alice",
                    "--format",
                    format,
                ])
                .arg(format!("127.0.0.1:{port}"))
                .env("RDPROBE_PASSWORD", NLA_PASSWORD)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains("user-not-authorized"), "{format}: {stdout}");
        assert!(!stdout.contains(NLA_PASSWORD) && !stderr.contains(NLA_PASSWORD));
        assert!(stdout.contains("alice"), "{format}: {stdout}");
    }
    assert_eq!(
        *seen.lock().unwrap(),
        "credentials CORP\\alice password ok: true"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(["probe", "--user", "alice", "127.0.0.1:9"])
        .env_remove("RDPROBE_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RDPROBE_PASSWORD"), "{stderr}");
}

/// `--user` on a server with TLS and no NLA: the Client Info carries the user and the password
/// (auto-logon, inside TLS); after the finalization the server says the user logged on (Save
/// Session Info, INFOTYPE_LOGON_LONG), then the probe leaves (Shutdown Request, ultimatum).
/// Another server refuses the session after the logon instead (Set Error Info 9).
#[tokio::test]
async fn a_logon_over_tls_is_notified_or_refused() {
    use rdp_proto::slowpath::PduType2;
    for (after, want) in [
        (
            share_data_frame(PduType2::PDUTYPE2_SAVE_SESSION_INFO, &[1, 0, 0, 0]),
            None,
        ),
        (set_error_info_frame(9), Some("insufficient-privileges")),
    ] {
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let log = seen.clone();
        let mut answers = up_to_client_info();
        answers.push(vec![xrdp_frame(23), windows_demand_active()]);
        answers.extend([vec![], vec![], vec![], vec![]]);
        answers.push(vec![
            share_data_frame(PduType2::PDUTYPE2_FONTMAP, &[0, 0, 0, 0, 3, 0, 4, 0]),
            after,
        ]);
        let port = walk_server_with(
            move |n, frame| {
                if n == 5 {
                    // The Client Info (inside TLS): who logs on, with which password.
                    let info = frame.get(3..).and_then(|mcs| {
                        let rdp_proto::mcs::DomainPdu::SendDataRequest(sd) =
                            rdp_proto::decode::<rdp_proto::mcs::DomainPdu>(mcs).ok()?
                        else {
                            return None;
                        };
                        let ci: rdp_proto::info::ClientInfo =
                            rdp_proto::decode(sd.data.get(4..)?).ok()?;
                        Some(format!(
                            "{} autologon {} password ok {}",
                            ci.user_name_text(),
                            ci.flags
                                .contains(rdp_proto::info::InfoFlags::INFO_AUTOLOGON),
                            rdp_proto::utf16le_until_nul(ci.password) == NLA_PASSWORD
                        ))
                    });
                    *log.lock().unwrap() = info.unwrap_or_else(|| "no Client Info".into());
                }
                answers.get(n).cloned()
            },
            Duration::from_millis(500),
        )
        .await;
        let (r, _) = run_with(port, &nla_opts()).await;
        assert_eq!(
            *seen.lock().unwrap(),
            "alice autologon true password ok true"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(NLA_PASSWORD));
        match want {
            None => {
                assert_eq!(r.stopped_at, None, "{r:#?}");
                let logon = r.session.as_ref().unwrap().logon.as_ref().expect("logon");
                assert_eq!(logon.info_type, "INFOTYPE_LOGON_LONG");
                let active = r.stages.iter().find(|s| s.name == "active").unwrap();
                assert!(active.detail.contains("logon notification"), "{active:?}");
            }
            Some(id) => {
                assert_eq!(r.stopped_at.map(|s| s.as_str()), Some("active"), "{r:#?}");
                assert!(ids(&r).contains(&id), "{:?}", ids(&r));
            }
        }
    }
}

// ---- Names: the wrong host, an alias, several addresses, no address (a namespace's hosts) ----

mod common;

/// Binds `addrs` inside the network namespace `ns` (a thread joins it with setns(2); sockets
/// stay in the namespace they were made in), for servers this process runs.
fn listeners_in(ns: &str, addrs: &[&str]) -> Vec<TcpListener> {
    let path = format!("/var/run/netns/{ns}");
    let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let std_listeners = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        addrs
            .iter()
            .map(|a| {
                let l = std::net::TcpListener::bind(a.as_str()).unwrap();
                l.set_nonblocking(true).unwrap();
                l
            })
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    std_listeners
        .into_iter()
        .map(|l| TcpListener::from_std(l).unwrap())
        .collect()
}

/// `wrong-host`, `dns-multiple-addresses` and `dns-unresolved` through a hosts file: the test
/// makes a network namespace (`ip netns exec` bind-mounts /etc/netns/NAME/hosts and
/// resolv.conf), serves TLS RDP there with the self-signed certificate of srv7.rdprobe.test (as
/// Windows' default RDP certificate names its machine), and runs `rdprobe probe` inside it:
/// - wrong.rdprobe.test (another name for the address) is `wrong-host`, and the headline says so;
/// - alias.rdprobe.test, a hosts-file alias of srv7.rdprobe.test (its canonical name), is not;
///   neither is srv7.rdprobe.test itself;
/// - multi.rdprobe.test has two addresses, one served and one refused: `dns-multiple-addresses`;
/// - nothere.rdprobe.test is in no hosts file and the namespace has no resolver: `dns-unresolved`.
///
/// Needs root and `ip` (SKIPPED without them; a failure under RDPROBE_REQUIRE_PEERS=1).
#[tokio::test]
async fn names_from_a_hosts_file_wrong_host_alias_multiple_and_unresolved() {
    let what = "names test";
    let Some(ns) = common::netns(what, "names") else {
        return;
    };
    let dir = format!("/etc/netns/{}", ns.0);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        format!("{dir}/hosts"),
        "127.0.0.1 localhost\n\
         127.0.0.2 wrong.rdprobe.test\n\
         127.0.0.3 srv7.rdprobe.test alias.rdprobe.test\n\
         127.0.0.4 multi.rdprobe.test\n\
         127.0.0.5 multi.rdprobe.test\n",
    )
    .unwrap();
    // No resolver inside the namespace: a name outside the hosts file fails at once.
    std::fs::write(format!("{dir}/resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    for l in listeners_in(
        &ns.0,
        &["127.0.0.2:3389", "127.0.0.3:3389", "127.0.0.4:3389"],
    ) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["srv7.rdprobe.test".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        tls_server_on(
            l,
            rcgen::CertifiedKey {
                cert,
                signing_key: key,
            },
        );
    }
    let ns_name = ns.0.clone();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns_name, env!("CARGO_BIN_EXE_rdprobe")])
            .args([
                "probe",
                "--format",
                "jsonl",
                "--no-enum",
                "--stop-after",
                "mcs",
            ])
            .args(["--timeout", "5", "--stage-timeout", "1.5"])
            .args([
                "wrong.rdprobe.test",
                "alias.rdprobe.test",
                "srv7.rdprobe.test",
                "multi.rdprobe.test",
                "nothere.rdprobe.test",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let results: std::collections::HashMap<String, serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "target")
        .map(|v| {
            (
                v["data"]["target"].as_str().unwrap().to_owned(),
                v["data"].clone(),
            )
        })
        .collect();
    assert_eq!(
        results.len(),
        5,
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ids = |t: &str| -> Vec<String> {
        results[t]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let wrong = &results["wrong.rdprobe.test"];
    assert!(
        ids("wrong.rdprobe.test").contains(&"wrong-host".into()),
        "{wrong}"
    );
    let f = wrong["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "wrong-host")
        .unwrap();
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("self-signed certificate srv7.rdprobe.test"),
        "{f}"
    );
    assert_eq!(
        wrong["diagnosis"]["primary_finding"], "wrong-host",
        "{wrong}"
    );
    assert!(
        wrong["diagnosis"]["headline"]
            .as_str()
            .unwrap()
            .contains("clients reach another machine than the one named"),
        "{wrong}"
    );
    for t in ["alias.rdprobe.test", "srv7.rdprobe.test"] {
        assert!(
            !ids(t).contains(&"wrong-host".into()),
            "{t}: {}",
            results[t]
        );
        assert_eq!(
            results[t]["stopped_at"],
            serde_json::Value::Null,
            "{}",
            results[t]
        );
    }
    // The alias and the wrong name both miss the certificate; only one is the wrong host.
    assert!(ids("alias.rdprobe.test").contains(&"cert-name-mismatch".into()));
    let multi = &results["multi.rdprobe.test"];
    assert!(
        ids("multi.rdprobe.test").contains(&"dns-multiple-addresses".into()),
        "{multi}"
    );
    let outcomes: Vec<&str> = multi["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 2, "{multi}");
    assert!(outcomes.contains(&"refused"), "{multi}");
    let none = &results["nothere.rdprobe.test"];
    assert_eq!(none["stopped_at"], "dns", "{none}");
    assert_eq!(
        ids("nothere.rdprobe.test"),
        vec!["dns-unresolved".to_owned()]
    );
    assert_eq!(none["diagnosis"]["primary_finding"], "dns-unresolved");
    assert_eq!(none["mstsc"]["disconnect_reason"], "0x104");
    assert!(none["diagnosis"]["headline"]
        .as_str()
        .unwrap()
        .starts_with("Not reachable: the name does not resolve"));
}

/// A server-side key log: every (label, client random, secret) the TLS server derives.
#[derive(Debug, Default)]
struct ServerKeys(std::sync::Mutex<Vec<String>>);

impl rustls::KeyLog for ServerKeys {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push(rdprobe::active::keylog::line(label, client_random, secret));
    }
}

/// `probe --keylog FILE`: the main TLS session's secrets, in the NSS key log format, are the
/// very secrets the server derived (TLS 1.3 traffic secrets here, and TLS 1.2's master secret),
/// so a capture of the probe decrypts; the file is readable by its owner only.
#[tokio::test]
async fn keylog_holds_the_secrets_the_server_derived() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .unwrap();
        let server_keys = Arc::new(ServerKeys::default());
        config.key_log = server_keys.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server_on(l, move |mut s| {
            let acceptor = acceptor.clone();
            async move {
                if read_request(&mut s).await.is_none() {
                    return;
                }
                let _ = s.write_all(&CC_SSL).await;
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 64];
                    let _ =
                        tokio::time::timeout(Duration::from_millis(300), tls.read(&mut buf)).await;
                }
            }
        });
        let path =
            std::env::temp_dir().join(format!("rdprobe-keylog-test-{}-{port}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let o = ProbeOptions {
            enumerate: false,
            stop_after: rdprobe::diagnose::Stage::Tls,
            keylog: Some(Arc::new(
                rdprobe::active::keylog::KeyLogTo::open(&path).unwrap(),
            )),
            ..opts()
        };
        let r = probe(
            &Target {
                host: "127.0.0.1".into(),
                port,
            },
            &o,
        )
        .await;
        assert!(r.tls.as_ref().is_some_and(|t| t.version.is_some()), "{r:?}");
        let written = std::fs::read_to_string(&path).unwrap();
        let derived = server_keys.0.lock().unwrap().clone();
        assert!(!derived.is_empty());
        for l in &derived {
            assert!(written.contains(l.as_str()), "{l} not in {written}");
        }
        let labels: Vec<&str> = written
            .lines()
            .filter_map(|l| l.split(' ').next())
            .collect();
        if version == &rustls::version::TLS13 {
            assert!(labels.contains(&"CLIENT_TRAFFIC_SECRET_0"), "{labels:?}");
        } else {
            assert_eq!(labels, ["CLIENT_RANDOM"]);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_file(&path);
    }
}
