//! The TLS stage's I/O: the main session through rustls (TLS 1.2/1.3, certificates reported,
//! never trusted), CredSSP's first round on it, and our own ClientHello per version. What the
//! answers mean is decided in [`super::plan`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdp_proto::credssp::TsRequest;
use rdp_proto::frame::Framing;
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::ntlm;
use rdp_proto::tls::{self as ptls, ProtocolVersion};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::conn::{exchange, unix_now, Run};
use super::net::{self, FrameReader};
use super::plan::{self, HelloAnswer, HelloStep, TlsObserved};
use crate::diagnose::Stage;
use crate::facts::credssp::TsRequestFacts;
use crate::facts::probe::{TlsFailure, TlsSession};
use crate::facts::tls::TlsVersion;
use crate::facts::x224::{Answer, Confirm};

/// The TLS stage: first the connection mstsc makes (rustls, TLS 1.2/1.3, then CredSSP on it
/// when `credssp`), then, when enumerating, our own ClientHello per version.
pub(super) async fn tls_stage(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: SecurityProtocol,
    credssp: bool,
) {
    run.pace().await;
    if run.out_of_time() {
        // Never started: reported as skipped (a planned stage) with the probe-timeout finding.
        run.rec.skip("tls");
        return;
    }
    run.rec.begin(Stage::Tls);
    let (main, credssp_answer, stream, auth) =
        match rustls_session(run, addr, request, credssp).await {
            Ok(m) => (Ok(m.session), m.credssp, m.stream, m.auth),
            Err(e) => (Err(e), None, None, None),
        };
    let mut observed = TlsObserved {
        main,
        hellos: Vec::new(),
        skipped: Vec::new(),
        enumerated: run.opts.enumerate,
    };
    // The main session's stage first, then CredSSP's (it ran on that session).
    if let Ok(s) = &observed.main {
        plan::tls_established(&mut run.rec, s);
    }
    if let Some((at, answer)) = credssp_answer {
        run.facts.credssp = plan::conclude_credssp(&mut run.rec, answer, unix_now(), at);
    }
    if let (Some((at, outcome)), Some(creds)) = (auth, &run.opts.credentials) {
        run.facts.auth = Some(plan::conclude_auth(
            &mut run.rec,
            &creds.display(),
            outcome,
            at,
        ));
    }
    // `--stop-after mcs` is the probe without the walk: no MCS connect over TLS.
    if let Some((selected, mut tls)) = stream {
        if run.opts.stop_after > Stage::Mcs {
            super::walk::mcs_and_walk(run, &mut tls, selected).await;
        }
    }
    if run.opts.enumerate {
        for v in TlsVersion::ALL {
            if run.out_of_time() {
                observed.skipped.push(v);
                run.rec.skip(v.key());
                continue;
            }
            run.pace().await;
            let answer = hello_attempt(run, addr, request, v.protocol()).await;
            observed.hellos.push((v, answer));
        }
    }
    let at = run.at();
    let facts = plan::conclude_tls(&mut run.rec, observed, &run.facts.host, unix_now(), at);
    if let Some(c) = &run.facts.credssp {
        plan::credssp_findings(&mut run.rec, c);
    }
    run.facts.tls = Some(facts);
}

/// Records nothing and accepts everything: the probe reports on certificates, it does not trust them.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

/// The TLS stream of the main session, kept for the walk past MCS when CredSSP did not run.
type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// When CredSSP ended, and the server's TSRequest or why none came.
type CredsspAnswer = (Duration, Result<TsRequestFacts, String>);

/// The main TLS session: its facts, CredSSP's first round, CredSSP with credentials, and the
/// stream when the connection goes on to MCS (with the protocol the server selected).
struct MainTls {
    session: TlsSession,
    credssp: Option<CredsspAnswer>,
    auth: Option<(Duration, plan::cssp::AuthOutcome)>,
    stream: Option<(SecurityProtocol, TlsStream)>,
}

/// The main TLS session (rustls) on a Connection Request for `request`, and CredSSP's first
/// round on it when asked and selected: (when CredSSP ended, the server's TSRequest or why not).
async fn rustls_session(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: SecurityProtocol,
    credssp: bool,
) -> Result<MainTls, TlsFailure> {
    let ex = exchange(addr, Some(request), run.opts, run.deadline).await;
    let Some((confirm, stream, _)) = ex.confirmed() else {
        return Err(TlsFailure::from(
            "no TLS-capable Connection Confirm".to_owned(),
        ));
    };
    let Answer::Selected { protocol, .. } = confirm.answer else {
        return Err(TlsFailure::from(
            "no TLS-capable Connection Confirm".to_owned(),
        ));
    };
    let name = match run.sni() {
        Some(n) => rustls::pki_types::ServerName::try_from(n).map_err(|e| e.to_string())?,
        None => rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config()?);
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut tls = tokio::time::timeout_at(deadline, connector.connect(name, stream))
        .await
        .map_err(|_| TlsFailure {
            timed_out: true,
            why: "the TLS handshake did not finish before the deadline".to_owned(),
        })?
        .map_err(|e| e.to_string())?;
    let at = run.at();
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().map_or("?".into(), |v| match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    });
    let cipher = conn
        .negotiated_cipher_suite()
        .map_or("?".into(), |s| format!("{:?}", s.suite()));
    let chain = conn
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
        .unwrap_or_default();
    let session = TlsSession {
        version,
        cipher,
        chain,
        at,
    };
    let hybrid = protocol.is_nla();
    if credssp && hybrid {
        run.rec.begin(Stage::Credssp);
        if let Some(creds) = run.opts.credentials.clone() {
            let public_key = session
                .chain
                .first()
                .and_then(|der| subject_public_key(der))
                .unwrap_or_default();
            let (answer, outcome) =
                authenticated_credssp(run, &mut tls, &creds, public_key, protocol).await;
            let at = run.at();
            let passed = outcome.passed();
            return Ok(MainTls {
                session,
                credssp: Some((at, answer)),
                auth: Some((at, outcome)),
                stream: passed.then_some((protocol, tls)),
            });
        }
        let answer = credssp_exchange(run, &mut tls).await;
        return Ok(MainTls {
            session,
            credssp: Some((run.at(), answer)),
            auth: None,
            stream: None,
        });
    }
    // TLS without CredSSP: the connection goes on to MCS (the walk, if asked).
    let walkable = !hybrid && protocol.contains(SecurityProtocol::SSL);
    Ok(MainTls {
        session,
        credssp: None,
        auth: None,
        stream: walkable.then_some((SecurityProtocol::SSL, tls)),
    })
}

/// The SubjectPublicKey of a DER certificate (what CredSSP's pubKeyAuth binds).
fn subject_public_key(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// CredSSP with credentials on the main session (MS-CSSP 3.1.5): the plan's
/// [`plan::cssp::CredsspClient`] fed every TSRequest, then for HYBRID_EX the Early User
/// Authorization Result. Returns the first round's facts (the CHALLENGE) and the outcome.
async fn authenticated_credssp(
    run: &mut Run<'_>,
    tls: &mut TlsStream,
    creds: &super::credentials::Credentials,
    public_key: Vec<u8>,
    protocol: SecurityProtocol,
) -> (Result<TsRequestFacts, String>, plan::cssp::AuthOutcome) {
    use plan::cssp::{AuthOutcome, CredsspClient, CredsspStep, EarlyAuthz};
    use tokio::io::AsyncReadExt;
    let mut random = [0u8; 56];
    random[..32].copy_from_slice(&run.random());
    random[32..].copy_from_slice(&run.random()[..24]);
    // Now as a FILETIME (100 ns since 1601), for servers that send no timestamp.
    let now = (u64::try_from(unix_now()).unwrap_or(0) + 11_644_473_600) * 10_000_000;
    let host = run.sni().unwrap_or_else(|| run.facts.host.clone());
    let (mut client, first) = CredsspClient::start(creds, public_key, &host, now, random);
    let mut facts = Err("no TSRequest from the server".to_owned());
    if let Err(e) = tls.write_all(&first).await {
        return (
            Err(format!("sending the NTLM NEGOTIATE: {e}")),
            AuthOutcome::Ended(client.step(), e.to_string()),
        );
    }
    let mut reader = FrameReader::new(Framing::Der);
    let mut answers = 0;
    loop {
        let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
        let frame = match reader.next(tls, deadline).await {
            Ok(f) => f,
            Err(e) => {
                let why = e.describe();
                if answers == 0 {
                    facts = Err(format!("after the NTLM NEGOTIATE: {why}"));
                }
                return (facts, AuthOutcome::Ended(client.step(), why));
            }
        };
        if answers == 0 {
            facts = TsRequestFacts::parse(&frame).map_err(|e| format!("server TSRequest: {e}"));
        }
        answers += 1;
        match client.on_ts_request(&frame) {
            CredsspStep::Send(bytes) => {
                if let Err(e) = tls.write_all(&bytes).await {
                    return (facts, AuthOutcome::Ended(client.step(), e.to_string()));
                }
            }
            CredsspStep::Done(mut bytes) => {
                let sent = tls.write_all(&bytes).await;
                zeroize::Zeroize::zeroize(&mut bytes);
                if let Err(e) = sent {
                    return (facts, AuthOutcome::Ended(client.step(), e.to_string()));
                }
                break;
            }
            CredsspStep::Failed(f) => return (facts, AuthOutcome::Failed(f)),
        }
    }
    if !protocol.contains(SecurityProtocol::HYBRID_EX) {
        return (facts, AuthOutcome::Ok(None));
    }
    // HYBRID_EX: the Early User Authorization Result, 4 bytes (MS-RDPBCGR 2.2.10.2).
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut word = [0u8; 4];
    match tokio::time::timeout_at(deadline, tls.read_exact(&mut word)).await {
        Ok(Ok(_)) => (
            facts,
            AuthOutcome::Ok(Some(EarlyAuthz::from_u32(u32::from_le_bytes(word)))),
        ),
        Ok(Err(e)) => (facts, AuthOutcome::Ended(client.step(), e.to_string())),
        Err(_) => (
            facts,
            AuthOutcome::Ended(
                client.step(),
                "no Early User Authorization Result before the stage timeout".into(),
            ),
        ),
    }
}

/// CredSSP's first round: our NTLM NEGOTIATE, the server's TSRequest (the CHALLENGE).
async fn credssp_exchange(
    run: &mut Run<'_>,
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
) -> Result<TsRequestFacts, String> {
    let negotiate = ntlm::Negotiate::probe(ntlm::Version {
        major: 10,
        minor: 0,
        build: 19041,
        reserved: [0; 3],
        revision: 15,
    });
    let token = rdp_proto::encode_vec(&negotiate).map_err(|e| e.to_string())?;
    let req = TsRequest {
        version: 6,
        nego_tokens: vec![&token],
        ..Default::default()
    };
    let bytes = rdp_proto::encode_vec(&req).map_err(|e| e.to_string())?;
    tls.write_all(&bytes)
        .await
        .map_err(|e| format!("sending the NTLM NEGOTIATE: {e}"))?;
    let mut reader = FrameReader::new(Framing::Der);
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let frame = reader
        .next(tls, deadline)
        .await
        .map_err(|e| format!("after the NTLM NEGOTIATE: {}", e.describe()))?;
    TsRequestFacts::parse(&frame).map_err(|e| format!("server TSRequest: {e}"))
}

/// Sends our own ClientHello offering only `v`; Ok(the plaintext chain, if any) if the server
/// accepts it (answers with a ServerHello of that version).
async fn hello_attempt(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: SecurityProtocol,
    v: ProtocolVersion,
) -> plan::HelloResult {
    let ex = exchange(addr, Some(request), run.opts, run.deadline).await;
    let Some((
        Confirm {
            answer: Answer::Selected { .. },
            ..
        },
        mut stream,
        mut reader,
    )) = ex.confirmed()
    else {
        return Err("no TLS-capable Connection Confirm".into());
    };
    let sni = run.sni();
    let hello = ptls::ProbeHello {
        version: v,
        suites: ptls::ProbeHello::default_suites(v),
        sni: sni.as_deref(),
        random: run.random(),
    };
    let record = hello.to_record().map_err(|e| e.to_string())?;
    stream.write_all(&record).await.map_err(|e| e.to_string())?;
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut answer = HelloAnswer::new(v);
    loop {
        match reader.next(&mut stream, deadline).await {
            Ok(frame) => {
                if let HelloStep::Done(r) = answer.on_record(&frame) {
                    return r;
                }
            }
            Err(e) => return answer.on_read_failure(&e),
        }
    }
}
