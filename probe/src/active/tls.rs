//! The TLS stage: the connection mstsc makes (run by [`super::connect`]: TLS, CredSSP, and the
//! walk when the server lets it), then, when enumerating, our own ClientHello per version on
//! connections of their own. What the answers mean is decided in [`super::plan`].

use std::net::SocketAddr;

use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{self as ptls, ProtocolVersion};
use tokio::io::AsyncWriteExt;

use super::client::connector::Mode;
use super::conn::{exchange, unix_now, Run};
use super::net;
use super::plan::{self, HelloAnswer, HelloStep, TlsObserved};
use crate::diagnose::Stage;
use crate::facts::probe::TlsFailure;
use crate::facts::tls::TlsVersion;
use crate::facts::x224::{Answer, Confirm};

/// The TLS stage: first the connection mstsc makes (TLS 1.2/1.3 with rustls, then CredSSP on
/// it when `credssp`, then MCS and the walk as far as the server and `--stop-after` let it),
/// then, when enumerating, our own ClientHello per version.
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
    let main = super::connect::connection(run, addr, Some(request), Mode::Tls { credssp })
        .await
        .unwrap_or_else(|| {
            Err(TlsFailure::from(
                "no TLS-capable Connection Confirm".to_owned(),
            ))
        });
    let mut observed = TlsObserved {
        main,
        hellos: Vec::new(),
        skipped: Vec::new(),
        enumerated: run.opts.enumerate,
    };
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
