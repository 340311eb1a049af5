//! The walk's I/O: the MCS connect on the main connection (over TLS when TLS without CredSSP was
//! selected), then the frames [`super::plan::Walk`] asks for, each server frame read by the
//! deframer's hint within the stage timeout and the target's deadline.

use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::nego::SecurityProtocol;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::conn::{exchange, Run};
use super::net::{self, FrameReader, ReadFailure};
use super::pdu;
use super::plan::{self, Step, Walk};
use crate::diagnose::{transport, Stage, StageStatus};
use crate::facts::gcc::ConnectResponseFacts;
use crate::facts::probe::MethodOffer;
use crate::facts::x224::Answer;

/// The mcs stage on `stream` (the Connection Confirm selected `selected`), then the walk as far
/// as `--stop-after`; what it saw goes to the run's facts (`session`).
pub(super) async fn mcs_and_walk<S: AsyncRead + AsyncWrite + Unpin>(
    run: &mut Run<'_>,
    stream: &mut S,
    selected: SecurityProtocol,
) {
    run.rec.begin(Stage::Mcs);
    let mut reader = FrameReader::default();
    let Some(cr) = connect(
        run,
        stream,
        &mut reader,
        EncryptionMethods::empty(),
        Some(selected),
        true,
    )
    .await
    else {
        return;
    };
    let credssp = selected.is_nla();
    let over = if credssp { Over::Credssp } else { Over::Tls };
    walk(run, stream, reader, &cr, over).await;
}

/// What protects the walk's connection, which decides where the password may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Over {
    /// CredSSP carried the password: the Client Info names the user only.
    Credssp,
    /// TLS without CredSSP: the Client Info carries the password (auto-logon).
    Tls,
    /// Standard RDP Security: the password only when the Client Info is encrypted.
    RdpSecurity,
}

/// The walk under Standard RDP Security, on a connection of its own (the mcs stage, with its
/// enumeration, is already recorded): the Connection Request and the Connect-Initial mstsc
/// sends (40, 56, 128-bit and FIPS offered), then the walk.
pub(super) async fn rdp_security_walk(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: Option<SecurityProtocol>,
) {
    run.rec.begin(Stage::Channels);
    if run.out_of_time() {
        return;
    }
    run.pace().await;
    let ex = exchange(addr, request, run.opts, run.deadline).await;
    let Some((confirm, mut stream, mut reader)) = ex.confirmed() else {
        let why = ReadFailure::Unexpected("the walk's connection got no Connection Confirm".into());
        failed(run, Stage::Channels, &why);
        return;
    };
    let selected = match confirm.answer {
        Answer::Selected { protocol, .. } => Some(protocol),
        _ => None,
    };
    let methods = MethodOffer::MSTSC.0;
    let Some(cr) = connect(run, &mut stream, &mut reader, methods, selected, false).await else {
        return;
    };
    walk(run, &mut stream, reader, &cr, Over::RdpSecurity).await;
}

/// Sends the Connect-Initial offering `methods` and reads the Connect-Response; the mcs stage is
/// recorded when `record` (else only a failure, against the stage the walk is in).
async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    run: &mut Run<'_>,
    stream: &mut S,
    reader: &mut FrameReader,
    methods: EncryptionMethods,
    selected: Option<SecurityProtocol>,
    record: bool,
) -> Option<ConnectResponseFacts> {
    let stage = if record { Stage::Mcs } else { Stage::Channels };
    let ci = pdu::connect_initial(methods, selected).ok()?;
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let answer = match stream.write_all(&ci).await {
        Ok(()) => reader.next_tpkt(stream, deadline).await,
        Err(e) => Err(ReadFailure::Io(e.to_string())),
    };
    let at = run.at();
    let cr = match answer.map(|f| ConnectResponseFacts::parse(&f)) {
        Ok(Some(cr)) if cr.result.0 == 0 => cr,
        Ok(Some(cr)) => {
            let why = format!("Connect-Response {}", cr.result);
            run.rec.stage(stage, StageStatus::Failed, at, why.clone());
            run.rec.stop(stage);
            run.rec.findings.push(transport::closed_by_server(format!(
                "the server refused the MCS connect: {why}"
            )));
            return None;
        }
        Ok(None) => {
            failed(
                run,
                stage,
                &ReadFailure::Unexpected("not a Connect-Response".into()),
            );
            return None;
        }
        Err(e) => {
            failed(run, stage, &e);
            return None;
        }
    };
    if record {
        run.rec.stage(
            Stage::Mcs,
            StageStatus::Ok,
            at,
            format!(
                "Connect-Response, RDP {}",
                cr.version.map_or_else(|| "?".to_owned(), |v| v.label())
            ),
        );
    }
    Some(cr)
}

/// The walk past the Connect-Response, as far as `--stop-after`.
async fn walk<S: AsyncRead + AsyncWrite + Unpin>(
    run: &mut Run<'_>,
    stream: &mut S,
    mut reader: FrameReader,
    cr: &ConnectResponseFacts,
    over: Over,
) {
    let mut random = [0u8; 80];
    let (a, b) = (run.random(), run.random());
    random[..32].copy_from_slice(&a);
    random[32..64].copy_from_slice(&b);
    random[64..].copy_from_slice(&run.random()[..16]);
    let secured = match plan::standard_security(cr, &run.random()) {
        Ok(s) => s,
        Err(why) => {
            let at = run.at();
            run.rec
                .stage(Stage::SecurityExchange, StageStatus::Failed, at, why);
            run.rec.stop(Stage::SecurityExchange);
            return;
        }
    };
    let encrypted = secured.is_some();
    let (mut walk, mut step) = Walk::start(
        cr.io_channel.unwrap_or(1003),
        run.opts.stop_after,
        random,
        secured,
    );
    if let Some(c) = &run.opts.credentials {
        // Never in clear: at encryption level NONE the Client Info names the user only.
        let without_password = match over {
            Over::Credssp => Some("no password: it went in CredSSP"),
            Over::Tls => None,
            Over::RdpSecurity if encrypted => None,
            Over::RdpSecurity => Some("no password: encryption level NONE would send it in clear"),
        };
        walk.set_logon(plan::Logon::new(c, without_password));
    }
    loop {
        match step {
            Step::Send(frames) => {
                for mut f in frames {
                    let sent = stream.write_all(&f).await;
                    // A Client Info may hold the password.
                    zeroize::Zeroize::zeroize(&mut f);
                    if let Err(e) = sent {
                        failed(run, walk.stage(), &ReadFailure::Io(e.to_string()));
                        run.facts.session = Some(walk.facts);
                        return;
                    }
                }
            }
            Step::Wait => {}
            Step::WaitUpTo(d) => {
                let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout)
                    .min(tokio::time::Instant::now() + d);
                step = match reader.next(stream, deadline).await {
                    Ok(frame) => {
                        let at = run.at();
                        walk.on_frame(&frame, &mut run.rec, at)
                    }
                    Err(ReadFailure::Timeout { .. }) => {
                        let at = run.at();
                        walk.on_quiet(&mut run.rec, at)
                    }
                    Err(e) => {
                        failed(run, walk.stage(), &e);
                        break;
                    }
                };
                continue;
            }
            Step::Close(frames) => {
                close(run, stream, &mut reader, &frames).await;
                break;
            }
            Step::Done => break,
        }
        run.rec.begin(walk.stage());
        let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
        // Any frame: after the finalization a server may send fast-path output (skipped).
        match reader.next(stream, deadline).await {
            Ok(frame) => {
                let at = run.at();
                step = walk.on_frame(&frame, &mut run.rec, at);
            }
            Err(e) => {
                failed(run, walk.stage(), &e);
                break;
            }
        }
    }
    run.facts.session = Some(walk.facts);
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

/// The stage in progress ends without the server's answer: closed (`closed-by-server`) or
/// silent (`server-silent`).
fn failed(run: &mut Run<'_>, stage: Stage, e: &ReadFailure) {
    let at = run.at();
    let (status, f) = match e {
        ReadFailure::Timeout { .. } => (
            StageStatus::Timeout,
            transport::server_silent(format!("no answer during {stage}: {}", e.describe())),
        ),
        _ => (
            StageStatus::Failed,
            transport::closed_by_server(format!("during {stage}: {}", e.describe())),
        ),
    };
    run.rec.stage(stage, status, at, e.describe());
    run.rec.stop(stage);
    run.rec.findings.push(f);
}
