//! The probe's driver: one target, stage by stage, each attempt on its own TCP connection,
//! every wait bounded by the stage timeout and the target's deadline. It only resolves,
//! connects, writes, reads frames by the deframer's hint, paces and keeps time; what to try and
//! what each answer means is decided in [`super::plan`] (sans-IO), what it all comes to in
//! [`crate::diagnose::conclude`], and the result is built from the facts at the edge.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use rdp_proto::nego::SecurityProtocol;
use tokio::io::AsyncWriteExt;

use super::client::connector::Mode;
use super::conn::{exchange, unix_now, Run};
pub use super::conn::{ProbeOptions, Rate};
use super::net;
use super::pdu;
use super::plan::{self, ConnectFailure, CrOutcome};
pub use super::targets::{parse_target, Target};
use crate::diagnose::conclude::{self, Recorded};
use crate::diagnose::{self, Finding, FindingId, Stage};
use crate::facts::gcc::ConnectResponseFacts;
use crate::facts::observe::AddressOutcome;
use crate::facts::probe::{AddressFacts, MethodAnswer, MethodOffer, ProbeFacts, RdpSecurityFacts};
use crate::facts::x224::{Answer, Layer};
use crate::report::probe::ProbeResult;

/// Probes one target. `--timeout` is a hard deadline: whatever the server does, the probe of
/// one target returns by then (what was not done is reported as timed out or skipped).
pub async fn probe(target: &Target, opts: &ProbeOptions) -> ProbeResult {
    let mut run = Run::new(opts, &target.host, target.port);
    run.rec.begin(Stage::Dns);
    let deadline = run.deadline;
    let finished = tokio::time::timeout_at(deadline, probe_into(&mut run, target)).await;
    let (limit, at) = (run.limit(), run.at());
    if finished.is_err() {
        run.rec.deadline_passed(&limit, at);
    }
    run.rec.finish(&limit, at);
    let mut facts = run.facts;
    facts.elapsed = run.t0.elapsed();
    let recorded = Recorded {
        stages: run.rec.stages,
        findings: run.rec.findings,
        stopped_at: run.rec.stopped_at,
    };
    let conclusion = conclude::probe(&facts, recorded);
    ProbeResult::from((&facts, conclusion))
}

/// The result for a target whose probe task failed inside rdprobe (a panic): reported, never
/// silently missing.
pub fn internal_error(target: &Target, what: &str) -> ProbeResult {
    let facts = ProbeFacts::new(&target.host, target.port);
    ProbeResult::from((&facts, conclude::internal_error(what)))
}

/// Every address of the target (the dns stage when it is a name); None when none resolved.
async fn resolve(run: &mut Run<'_>, target: &Target) -> Option<Vec<SocketAddr>> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Some(vec![SocketAddr::new(ip, target.port)]);
    }
    let host = target.host.clone();
    let port = target.port;
    let lookup = tokio::time::timeout_at(
        net::stage_deadline(run.deadline, run.opts.stage_timeout),
        tokio::task::spawn_blocking(move || net::getaddrinfo(&host, port)),
    )
    .await;
    let at = run.at();
    let addrs = match lookup {
        Ok(Ok(Ok((v, canonical)))) => {
            run.facts.canonical = canonical;
            v
        }
        Ok(Err(e)) => {
            plan::dns_failed(&mut run.rec, &target.host, &e.to_string(), false, at);
            return None;
        }
        Ok(Ok(Err(e))) => {
            plan::dns_failed(&mut run.rec, &target.host, &e.to_string(), false, at);
            return None;
        }
        Err(_) => {
            plan::dns_failed(&mut run.rec, &target.host, "resolver timeout", true, at);
            return None;
        }
    };
    if addrs.is_empty() {
        plan::dns_failed(&mut run.rec, &target.host, "no address", false, at);
        return None;
    }
    let list = addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let list = match &run.facts.canonical {
        Some(c) => format!("{list} (canonical name {c})"),
        None => list,
    };
    run.rec
        .stage(Stage::Dns, diagnose::StageStatus::Ok, at, list);
    Some(addrs)
}

async fn probe_into(run: &mut Run<'_>, target: &Target) {
    // Through an RD Gateway: its stages, then the target's inside the tunnel.
    if let Some(gw) = run.opts.gateway.clone() {
        if let Some(opened) = super::gateway::open(run, &gw, &target.host, target.port).await {
            super::gateway::walk(run, opened, &target.host, target.port).await;
        }
        return;
    }
    let Some(addrs) = resolve(run, target).await else {
        return;
    };
    // The UDP transport, first: it does not depend on what TCP says.
    if run.opts.udp {
        if let Some(addr) = addrs.first() {
            let until = net::stage_deadline(run.deadline, run.opts.stage_timeout);
            let random = run.random();
            run.facts.udp = Some(super::udp::probe_udp(*addr, until, random).await);
        }
    }

    // tcp + x224: the connection mstsc would make, on each address until one speaks RDP.
    // Different addresses are different servers: no pacing between them, but every attempt
    // inside the target's deadline; those that did not fit are reported as skipped.
    let mut chosen = None;
    let mut first_failure = None;
    let mut tried = Vec::new();
    run.rec.begin(Stage::Tcp);
    for addr in &addrs {
        if run.out_of_time() {
            run.facts.addresses.push(AddressFacts {
                address: addr.ip(),
                outcome: AddressOutcome::Skipped,
                probed: false,
            });
            continue;
        }
        let ex = exchange(*addr, Some(plan::PRIMARY), run.opts, run.deadline).await;
        let outcome = plan::address_outcome(&ex.outcome);
        tried.push(outcome);
        let rdp = outcome == AddressOutcome::Rdp;
        run.facts.addresses.push(AddressFacts {
            address: addr.ip(),
            outcome,
            probed: chosen.is_none() && rdp,
        });
        if chosen.is_none() && rdp {
            chosen = Some((*addr, ex));
        } else if first_failure.is_none() {
            first_failure = Some((*addr, ex));
        }
    }
    if chosen.is_none() {
        if let Some(a) = run.facts.addresses.first_mut() {
            a.probed = true;
        }
        chosen = first_failure;
    }
    run.rec
        .findings
        .extend(plan::mixed_addresses(&tried, &run.facts.addresses));
    let Some((addr, primary)) = chosen else {
        return;
    };
    run.rec.begin(Stage::X224);
    let addr_text = addr.to_string();
    if plan::primary_failed(
        &mut run.rec,
        &addr_text,
        &primary.outcome,
        run.opts.stage_timeout,
        primary.tcp,
        primary.x224,
    ) {
        return;
    }
    let CrOutcome::Confirmed(confirm) = primary.outcome.clone() else {
        return;
    };
    run.facts.confirm = Some(confirm);
    plan::primary_confirmed(
        &mut run.rec,
        &addr_text,
        &confirm,
        primary.tcp,
        primary.x224,
    );

    // Security layers, each on its own connection.
    let mut results: BTreeMap<Layer, CrOutcome> = BTreeMap::new();
    results.insert(Layer::HybridEx, primary.outcome.clone());
    // A selection outside the request on another connection of the enumeration, when the
    // main connection's Confirm (its findings are in) had none.
    let primary_outside = run
        .rec
        .findings
        .iter()
        .any(|f| f.id == FindingId::NegProtocolNotRequested);
    let mut not_requested: Vec<Finding> = Vec::new();
    drop(primary);
    let mut legacy_cc = confirm.is_legacy();
    if run.opts.enumerate {
        for layer in Layer::ALL {
            if layer == Layer::HybridEx {
                continue;
            }
            if run.out_of_time() {
                results.insert(layer, CrOutcome::ConnectFailed(ConnectFailure::NoTime));
                run.rec.skip(format!("layer {layer}"));
                continue;
            }
            run.pace().await;
            let ex = exchange(addr, Some(layer.request()), run.opts, run.deadline).await;
            not_requested.extend(plan::not_requested(layer.request(), &ex.outcome));
            if ex.outcome == CrOutcome::ConnectFailed(ConnectFailure::NoTime) {
                run.rec.skip(format!("layer {layer}"));
            }
            results.insert(layer, ex.outcome);
        }
        run.pace().await;
        let ex = exchange(addr, None, run.opts, run.deadline).await;
        legacy_cc |= matches!(&ex.outcome, CrOutcome::Confirmed(c) if c.is_legacy());
    }
    // A Confirm without negotiation is only half an answer (xrdp set to TLS sends one and then
    // drops the Connect-Initial): Standard RDP Security is accepted if the MCS stage works.
    let mut legacy_accepted = confirm.is_legacy();
    let mut legacy_found = None;
    let rdp_accepted = results
        .get(&Layer::Rdp)
        .is_some_and(|o| o.accepts(Layer::Rdp));
    if legacy_cc && !rdp_accepted && run.opts.enumerate {
        let found = rdp_security_attempts(run, addr, None).await;
        if found.as_ref().is_some_and(|f| f.version.is_some()) {
            legacy_accepted = true;
            legacy_found = found;
        }
    }
    if !primary_outside {
        run.rec.findings.extend(not_requested.into_iter().take(1));
    }
    let layers = plan::conclude_layers(
        &mut run.rec,
        &mut run.facts,
        results,
        &confirm,
        legacy_accepted,
    );

    // `--stop-after tcp|x224`: the negotiation only.
    if run.opts.stop_after <= Stage::X224 {
        return;
    }
    let over_tls = layers.tls.is_some();
    if let Some((request, credssp)) = layers.tls {
        super::tls::tls_stage(run, addr, request, credssp).await;
    }
    // `--stop-after tls|credssp`: nothing on the MCS layer.
    if run.opts.stop_after < Stage::Mcs {
        return;
    }
    let Some(request) = plan::rdp_security_request(&layers, &confirm, run.opts.enumerate) else {
        return;
    };
    run.rec.begin(Stage::Mcs);
    let found = match legacy_found {
        Some(found) => Some(found),
        None => rdp_security_attempts(run, addr, request).await,
    };
    if let Some(found) = found {
        let at = run.at();
        plan::conclude_rdp_security(&mut run.rec, &found, unix_now(), at);
        run.facts.rdp_security = Some(found);
    }
    // The walk follows mstsc's path: over TLS when the server selected it (done above).
    if run.opts.stop_after > Stage::Mcs && run.rec.stopped_at.is_none() && !over_tls {
        // The walk under Standard RDP Security, on a connection of its own (the mcs stage,
        // with its enumeration, is already recorded).
        run.rec.begin(Stage::Channels);
        if !run.out_of_time() {
            run.pace().await;
            super::connect::connection(run, addr, request, Mode::RdpSecurity).await;
        }
    }
}

/// Offers each encryption method alone in an MCS Connect-Initial (when enumerating), else the
/// one Connect-Initial mstsc sends. None when nothing could be tried in time.
async fn rdp_security_attempts(
    run: &mut Run<'_>,
    addr: SocketAddr,
    request: Option<SecurityProtocol>,
) -> Option<RdpSecurityFacts> {
    let offers: &[MethodOffer] = if run.opts.enumerate {
        &MethodOffer::EACH
    } else {
        &[MethodOffer::MSTSC]
    };
    let mut found = RdpSecurityFacts::default();
    for &offer in offers {
        if run.out_of_time() {
            found.answers.push((offer, MethodAnswer::Skipped));
            run.rec.skip(format!("encryption method {}", offer.name()));
            continue;
        }
        run.pace().await;
        let ex = exchange(addr, request, run.opts, run.deadline).await;
        let no_time = ex.outcome == CrOutcome::ConnectFailed(ConnectFailure::NoTime);
        let Some((confirm, mut stream, mut reader)) = ex.confirmed() else {
            if no_time {
                found.answers.push((offer, MethodAnswer::Skipped));
                run.rec.skip(format!("encryption method {}", offer.name()));
            } else {
                found.answers.push((offer, MethodAnswer::NoConfirm));
            }
            continue;
        };
        let selected = match confirm.answer {
            Answer::Selected { protocol, .. } => Some(protocol),
            _ => None,
        };
        let Ok(ci) = pdu::connect_initial(offer.0, selected) else {
            continue;
        };
        if stream.write_all(&ci).await.is_err() {
            found.answers.push((offer, MethodAnswer::Closed));
            continue;
        }
        let answer = reader
            .next(
                &mut stream,
                net::stage_deadline(run.deadline, run.opts.stage_timeout),
            )
            .await
            .map_err(|e| e.describe())
            .and_then(|frame| {
                ConnectResponseFacts::parse(&frame).ok_or_else(|| "not a Connect-Response".into())
            });
        found.answer(offer, answer);
    }
    if found.all_skipped() && run.out_of_time() {
        // Nothing could be tried in time: not a server failure (the mcs stage is skipped).
        return None;
    }
    Some(found)
}
