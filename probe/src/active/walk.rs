//! The walk's I/O: the MCS connect on the main connection (over TLS when TLS without CredSSP was
//! selected), then the frames [`super::plan::Walk`] asks for, each server frame read by the
//! deframer's hint within the stage timeout and the target's deadline.

use rdp_proto::gcc::EncryptionMethods;
use rdp_proto::nego::SecurityProtocol;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::net::{self, FrameReader, ReadFailure};
use super::pdu;
use super::plan::{Step, Walk};
use super::run::Run;
use crate::diagnose::{transport, Stage, StageStatus};
use crate::facts::gcc::ConnectResponseFacts;
use crate::report::capture::SessionReport;
use crate::report::probe::ProbeResult;

/// The mcs stage on `stream` (the Connection Confirm selected `selected`), then the walk as far
/// as `--stop-after`; what it saw goes to `result.session`.
pub(super) async fn mcs_and_walk<S: AsyncRead + AsyncWrite + Unpin>(
    run: &mut Run<'_>,
    stream: &mut S,
    selected: SecurityProtocol,
    result: &mut ProbeResult,
) {
    run.rec.begin(Stage::Mcs);
    let Ok(ci) = pdu::connect_initial(EncryptionMethods::empty(), Some(selected)) else {
        return;
    };
    let mut reader = FrameReader::default();
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
            run.rec
                .stage(Stage::Mcs, StageStatus::Failed, at, why.clone());
            run.rec.stop(Stage::Mcs);
            run.rec.findings.push(transport::closed_by_server(format!(
                "the server refused the MCS connect: {why}"
            )));
            return;
        }
        Ok(None) => {
            failed(
                run,
                Stage::Mcs,
                &ReadFailure::Unexpected("not a Connect-Response".into()),
            );
            return;
        }
        Err(e) => {
            failed(run, Stage::Mcs, &e);
            return;
        }
    };
    run.rec.stage(
        Stage::Mcs,
        StageStatus::Ok,
        at,
        format!(
            "Connect-Response, RDP {}",
            cr.version.map_or_else(|| "?".to_owned(), |v| v.label())
        ),
    );
    let mut random = [0u8; 80];
    let (a, b) = (run.random(), run.random());
    random[..32].copy_from_slice(&a);
    random[32..64].copy_from_slice(&b);
    random[64..].copy_from_slice(&run.random()[..16]);
    let (mut walk, mut step) =
        Walk::start(cr.io_channel.unwrap_or(1003), run.opts.stop_after, random);
    loop {
        match step {
            Step::Send(frames) => {
                for f in frames {
                    if let Err(e) = stream.write_all(&f).await {
                        failed(run, walk.stage(), &ReadFailure::Io(e.to_string()));
                        result.session = Some(SessionReport::from(&walk.facts));
                        return;
                    }
                }
            }
            Step::Wait => {}
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
    result.session = Some(SessionReport::from(&walk.facts));
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
