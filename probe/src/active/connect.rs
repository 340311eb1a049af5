//! The driver of one connection: it runs [`Connector`] (sans-IO, `plan/connector.rs`) over any
//! `AsyncRead + AsyncWrite` byte stream, in IronRDP's shape: the steps before TLS on the plain
//! stream, the TLS handshake (rustls) when the connector asks for it, the rest over TLS. It
//! writes, reads by the deframer's hint within the stage timeout and the target's deadline,
//! and reports back; every decision is the connector's.

use std::net::SocketAddr;
use std::sync::Arc;

use rdp_proto::nego::SecurityProtocol;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::client::connector::{Action, Config, Connector, Mode, Now, Randoms, Read};
use super::conn::{self, unix_now, Run};
use super::net::{self, FrameReader};
use crate::facts::cert::subject_public_key;
use crate::facts::probe::{TlsFailure, TlsSession};

/// Opens the connection to `addr` and runs it as `mode` asks, with the Connection Request
/// for `request`; returns the main TLS session (or why none), in Tls mode.
pub(super) async fn connection(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: Option<SecurityProtocol>,
    mode: Mode,
) -> Option<Result<TlsSession, TlsFailure>> {
    let credentials = run.opts.credentials.clone();
    let mut credssp = [0u8; 56];
    credssp[..32].copy_from_slice(&run.random());
    credssp[32..].copy_from_slice(&run.random()[..24]);
    let mut walk = [0u8; 80];
    walk[..32].copy_from_slice(&run.random());
    walk[32..64].copy_from_slice(&run.random());
    walk[64..].copy_from_slice(&run.random()[..16]);
    let randoms = Randoms {
        credssp,
        walk,
        client: run.random(),
        kerberos: run.random(),
    };
    let name = match run.sni() {
        Some(n) => rustls::pki_types::ServerName::try_from(n).map_err(|e| e.to_string()),
        None => Ok(rustls::pki_types::ServerName::IpAddress(addr.ip().into())),
    };
    let mut c = Connector::new(Config {
        request,
        mode,
        stop_after: run.opts.stop_after,
        credentials: credentials.as_deref(),
        host: run.sni().unwrap_or_else(|| run.facts.host.clone()),
        auth: run.opts.auth,
        randoms,
    });
    match conn::open(addr, run.opts, run.deadline).await {
        Ok(stream) => drive(run, stream, name, &mut c).await,
        Err(_) => {
            let now = now(run);
            c.on_connect_failed(&mut run.rec, now);
        }
    }
    c.take_tls()
}

/// Runs `c` over `stream` to the end: plain, then over TLS when it asks (`name`: the TLS
/// server name, or why there is none).
pub(super) async fn drive<S>(
    run: &mut Run<'_>,
    mut stream: S,
    name: Result<rustls::pki_types::ServerName<'static>, String>,
    c: &mut Connector<'_>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    if !phase(run, &mut stream, c).await {
        return;
    }
    let name = match name {
        Ok(n) => n,
        Err(why) => return c.on_upgrade_failed(TlsFailure::from(why)),
    };
    let config = match tls_config(run.opts.keylog.clone()) {
        Ok(c) => c,
        Err(why) => return c.on_upgrade_failed(TlsFailure::from(why)),
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let mut tls = match tokio::time::timeout_at(deadline, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return c.on_upgrade_failed(TlsFailure::from(e.to_string())),
        Err(_) => {
            return c.on_upgrade_failed(TlsFailure {
                timed_out: true,
                why: "the TLS handshake did not finish before the deadline".to_owned(),
            })
        }
    };
    let now = now(run);
    let (session, public_key) = session_of(&tls, now.at);
    c.on_upgraded(session, public_key, &mut run.rec, &mut run.facts, now);
    phase(run, &mut tls, c).await;
}

/// The facts of an established rustls client session: version, suite, the chain, and the
/// leaf's SubjectPublicKey (for CredSSP's pubKeyAuth); `at`: when it finished.
pub(super) fn session_of<S>(
    tls: &tokio_rustls::client::TlsStream<S>,
    at: std::time::Duration,
) -> (TlsSession, Vec<u8>) {
    let (_, session) = tls.get_ref();
    let version = session.protocol_version().map_or("?".into(), |v| match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    });
    let cipher = session
        .negotiated_cipher_suite()
        .map_or("?".into(), |s| format!("{:?}", s.suite()));
    let chain: Vec<Vec<u8>> = session
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
        .unwrap_or_default();
    let public_key = chain
        .first()
        .and_then(|der| subject_public_key(der))
        .unwrap_or_default();
    (
        TlsSession {
            version,
            cipher,
            chain,
            at,
        },
        public_key,
    )
}

/// The connector's actions on one stream until it is done (false) or asks for TLS (true).
async fn phase<S>(run: &mut Run<'_>, stream: &mut S, c: &mut Connector<'_>) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = FrameReader::default();
    loop {
        match c.action(&mut run.rec) {
            Action::Send(frames) => {
                let mut failure = None;
                for mut f in frames {
                    if failure.is_none() {
                        if let Err(e) = stream.write_all(&f).await {
                            failure = Some(e.to_string());
                        }
                    }
                    // A Client Info or the TSCredentials may hold the password.
                    zeroize::Zeroize::zeroize(&mut f);
                }
                let now = now(run);
                match failure {
                    None => c.on_sent(&mut run.rec, &mut run.facts, now),
                    Some(why) => c.on_send_failure(why, &mut run.rec, &mut run.facts, now),
                }
            }
            Action::Read(read) => {
                reader.set_framing(read.framing());
                let mut deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
                let answer = match read {
                    Read::Tpkt => reader.next_tpkt(stream, deadline).await,
                    Read::Word => match reader.next_bytes::<4, _>(stream, deadline).await {
                        Ok(word) => {
                            let now = now(run);
                            c.on_word(word, &mut run.rec, &mut run.facts, now);
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                    Read::RdpUpTo(d) => {
                        deadline = deadline.min(tokio::time::Instant::now() + d);
                        match reader.next(stream, deadline).await {
                            Err(net::ReadFailure::Timeout { .. }) => {
                                let now = now(run);
                                c.on_quiet(&mut run.rec, &mut run.facts, now);
                                continue;
                            }
                            other => other,
                        }
                    }
                    Read::Rdp | Read::Der => reader.next(stream, deadline).await,
                };
                let now = now(run);
                match answer {
                    Ok(frame) => c.on_frame(&frame, &mut run.rec, &mut run.facts, now),
                    Err(e) => c.on_read_failure(e, &mut run.rec, &mut run.facts, now),
                }
            }
            Action::UpgradeTls => return true,
            Action::Kerberos { realm, host } => {
                let (facts, ticket) = super::kerberos::logon(run, &realm, &host).await;
                let now = now(run);
                c.on_kerberos(facts, ticket, &mut run.rec, &mut run.facts, now);
            }
            Action::Close(frames) => close(run, stream, &mut reader, &frames).await,
            Action::Done => return false,
        }
    }
}

/// Ends the connection as a client does: `frames` (the ultimatum), no more writes, then what the
/// server still sends is read and dropped until it closes (at most a second).
async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    run: &Run<'_>,
    stream: &mut S,
    reader: &mut FrameReader,
    frames: &[Vec<u8>],
) {
    for f in frames {
        if stream.write_all(f).await.is_err() {
            return;
        }
    }
    if stream.shutdown().await.is_err() {
        return;
    }
    // At most a second: the server has been told; a busy one may still be sending graphics.
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout)
        .min(tokio::time::Instant::now() + std::time::Duration::from_secs(1));
    while reader.next(stream, deadline).await.is_ok() {}
}

fn now(run: &Run<'_>) -> Now {
    Now {
        at: run.at(),
        unix: unix_now(),
    }
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

/// rustls for the main session: TLS 1.2 and 1.3, any certificate (reported, not trusted), no
/// resumption; its secrets to `keylog` when given.
pub(super) fn tls_config(
    keylog: Option<Arc<dyn rustls::KeyLog>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    if let Some(k) = keylog {
        cfg.key_log = k;
    }
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::{Stage, StageStatus};
    use crate::facts::observe::ReadFailure;
    use tokio::io::AsyncWriteExt;

    /// xfreerdp against xrdp at encryption level NONE: frame `n` of the server.
    fn xrdp(n: u32) -> Vec<u8> {
        crate::testdata::peer_frame("xfreerdp_xrdp-rdp-none", n).0
    }

    /// The walk under Standard RDP Security, as far as `stop_after`, without credentials.
    fn rdp_security_walk(stop_after: Stage) -> Connector<'static> {
        Connector::new(Config {
            request: None,
            mode: Mode::RdpSecurity,
            stop_after,
            credentials: None,
            host: "127.0.0.1".into(),
            auth: Default::default(),
            randoms: Randoms {
                credssp: [1; 56],
                walk: [2; 80],
                client: [3; 32],
                kerberos: [4; 32],
            },
        })
    }

    /// A server that answers each group of client frames with xrdp's real frames, in order,
    /// then keeps the stream open; returns the client frames it read.
    async fn replay<S: AsyncRead + AsyncWrite + Unpin>(
        mut s: S,
        script: &[(usize, &[u32])],
    ) -> Result<Vec<Vec<u8>>, ReadFailure> {
        let mut reader = FrameReader::default();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        for (reads, answers) in script {
            for _ in 0..*reads {
                seen.push(reader.next(&mut s, deadline).await?);
            }
            for n in *answers {
                s.write_all(&xrdp(*n))
                    .await
                    .map_err(|e| ReadFailure::Io(e.to_string()))?;
            }
        }
        // Until the client is done with the stream.
        let _ = reader.next(&mut s, deadline).await;
        Ok(seen)
    }

    /// The connector runs over a `tokio::io::duplex` pair (no socket), the way an RD Gateway
    /// tunnel will carry it: xrdp's real frames answer the Connection Request, the MCS
    /// connect, the channel joins, the Client Info and licensing, up to the Demand Active.
    #[tokio::test]
    async fn the_connector_walks_over_a_duplex_pair() {
        let opts = crate::active::conn::ProbeOptions {
            stop_after: Stage::Capabilities,
            ..Default::default()
        };
        let (client, server) = tokio::io::duplex(64 * 1024);
        let script: &[(usize, &[u32])] = &[
            (1, &[2]),      // Connection Request -> Confirm
            (1, &[4]),      // Connect-Initial -> Connect-Response
            (2, &[7]),      // Erect Domain, Attach User -> Attach User Confirm
            (1, &[9]),      // join the user channel
            (1, &[11]),     // join the I/O channel
            (1, &[21]),     // Client Info -> License Request
            (1, &[23, 24]), // New License Request -> STATUS_VALID_CLIENT, Demand Active
        ];
        let server = tokio::spawn(async move { replay(server, script).await });
        let mut run = Run::new(&opts, "127.0.0.1", 3389);
        let mut c = rdp_security_walk(Stage::Capabilities);
        drive(&mut run, client, Err("no TLS expected".into()), &mut c).await;
        let seen = server.await.unwrap().unwrap();
        // The Connection Request had no negotiation data (a request for Standard RDP Security
        // from a client without negotiation).
        let (_, (_, tpdu)) = rdp_proto::x224::Tpdu::parse_tpkt(&seen[0]).unwrap();
        let rdp_proto::x224::Tpdu::ConnectionRequest(cr) = tpdu else {
            panic!("{tpdu:?}")
        };
        assert!(cr.negotiation.is_none());
        let stages: Vec<_> = run.rec.stages.iter().map(|s| (s.name, s.status)).collect();
        assert_eq!(
            stages,
            [
                (Stage::Channels, StageStatus::Ok),
                (Stage::ClientInfo, StageStatus::Ok),
                (Stage::Licensing, StageStatus::Ok),
                (Stage::Capabilities, StageStatus::Ok)
            ]
        );
        assert_eq!(run.rec.stopped_at, None);
        let session = run.facts.session.as_ref().expect("the walk's facts");
        assert_eq!(session.channels.joined, [1008, 1003]);
        let caps = session.capabilities.as_ref().unwrap();
        assert_eq!(
            (caps.desktop_width, caps.desktop_height),
            (Some(1024), Some(768))
        );
    }

    /// The server closes after the Connect-Response: the walk's stage fails, closed by the
    /// server, and the walk's facts so far are kept.
    #[tokio::test]
    async fn a_close_during_the_walk_is_recorded_against_its_stage() {
        let opts = crate::active::conn::ProbeOptions::default();
        let (client, server) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut s = server;
            let mut reader = FrameReader::default();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            for answer in [2, 4] {
                reader.next(&mut s, deadline).await.unwrap();
                s.write_all(&xrdp(answer)).await.unwrap();
            }
            drop(s);
        });
        let mut run = Run::new(&opts, "127.0.0.1", 3389);
        let mut c = rdp_security_walk(Stage::Active);
        drive(&mut run, client, Err("no TLS expected".into()), &mut c).await;
        server.await.unwrap();
        assert_eq!(run.rec.stopped_at, Some(Stage::Channels));
        assert_eq!(run.rec.stages[0].status, StageStatus::Failed);
        assert!(run
            .rec
            .findings
            .iter()
            .any(|f| f.id == crate::diagnose::FindingId::ClosedByServer));
        assert!(run.facts.session.is_some());
    }
}
