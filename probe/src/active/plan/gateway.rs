//! The RD Gateway's stages (`--gateway`), sans-IO: what each step's outcome means for the
//! timeline (gateway_dns .. gateway_channel), which finding it raises (`diagnose::gateway`)
//! and where the probe stops. The driver (`active/gateway.rs`) calls one function per step.

use core::time::Duration;

use super::{ConnectFailure, Record};
use crate::diagnose::{gateway as rules, Stage, StageStatus};
use crate::facts::gateway::{GatewayAuth, GatewayFacts, GatewayHttp, ProxyError};
use crate::facts::probe::{TlsFailure, TlsSession};

fn stop(rec: &mut Record, stage: Stage, status: StageStatus, at: Duration, detail: String) {
    rec.stage(stage, status, at, detail);
    rec.stop(stage);
}

/// The gateway's name did not resolve (`timed_out`: the resolver did not answer).
pub fn dns_failed(rec: &mut Record, host: &str, why: &str, timed_out: bool, at: Duration) {
    let status = if timed_out {
        StageStatus::Timeout
    } else {
        StageStatus::Failed
    };
    stop(rec, Stage::GatewayDns, status, at, why.to_owned());
    rec.findings.push(crate::diagnose::finding(
        crate::diagnose::FindingId::GatewayUnreachable,
        format!("the gateway {host} does not resolve: {why}"),
    ));
}

/// The TCP connection to the gateway: true when it opened.
pub fn tcp(
    rec: &mut Record,
    addr: &str,
    outcome: &Result<(), ConnectFailure>,
    at: Duration,
) -> bool {
    match outcome {
        Ok(()) => {
            rec.stage(Stage::GatewayTcp, StageStatus::Ok, at, addr.to_owned());
            true
        }
        Err(e) => {
            let (status, what) = match e {
                ConnectFailure::Refused => (StageStatus::Failed, "refused (RST to SYN)".to_owned()),
                ConnectFailure::Timeout => {
                    (StageStatus::Timeout, "no answer to the SYN".to_owned())
                }
                ConnectFailure::NoTime => (StageStatus::Skipped, "no time left".to_owned()),
                ConnectFailure::Reset => (StageStatus::Failed, "reset at once".to_owned()),
                ConnectFailure::Unreachable(w) | ConnectFailure::Other(w) => {
                    (StageStatus::Failed, w.clone())
                }
            };
            stop(
                rec,
                Stage::GatewayTcp,
                status,
                at,
                format!("{addr}: {what}"),
            );
            if status != StageStatus::Skipped {
                rec.findings.push(crate::diagnose::finding(
                    crate::diagnose::FindingId::GatewayUnreachable,
                    format!("TCP to the gateway {addr}: {what}"),
                ));
            }
            false
        }
    }
}

/// The TLS handshake with the gateway (the certificate judged at `now` for `name`, the name
/// the client uses): true when it completed.
pub fn tls(
    rec: &mut Record,
    f: &mut GatewayFacts,
    outcome: Result<TlsSession, TlsFailure>,
    name: &str,
    now: i64,
    at: Duration,
) -> bool {
    match outcome {
        Ok(session) => {
            let cert = session
                .chain
                .first()
                .and_then(|der| crate::facts::cert::CertFacts::parse(der));
            let subject = cert
                .as_ref()
                .map_or_else(|| "no certificate".to_owned(), |c| c.subject.clone());
            rec.stage(
                Stage::GatewayTls,
                StageStatus::Ok,
                at,
                format!(
                    "{} {}, certificate {subject}",
                    session.version, session.cipher
                ),
            );
            if let Some(finding) = cert.as_ref().and_then(|c| rules::certificate(c, now, name)) {
                rec.findings.push(finding);
            }
            f.cert = cert;
            f.tls = Some(session);
            true
        }
        Err(e) => {
            let status = if e.timed_out {
                StageStatus::Timeout
            } else {
                StageStatus::Failed
            };
            stop(rec, Stage::GatewayTls, status, at, e.why.clone());
            rec.findings.push(crate::diagnose::finding(
                crate::diagnose::FindingId::GatewayTlsFailed,
                format!("{name}: {}", e.why),
            ));
            false
        }
    }
}

/// The answer to the first request: recorded; false (stopped) when it refuses the request
/// itself. `None`: no HTTP answer came (`why`).
pub fn http(rec: &mut Record, f: &GatewayFacts, no_answer: Option<&str>, at: Duration) -> bool {
    let gateway = f.host.as_str();
    let Some(a) = &f.answer else {
        let why = no_answer.unwrap_or("no answer");
        stop(
            rec,
            Stage::GatewayHttp,
            StageStatus::Failed,
            at,
            why.to_owned(),
        );
        rec.findings.push(rules::no_answer(gateway, why));
        return false;
    };
    let server = a
        .server
        .as_deref()
        .map_or_else(String::new, |s| format!(" ({s})"));
    let detail = match &a.answer {
        GatewayHttp::Upgraded => "101 Switching Protocols without credentials".to_owned(),
        GatewayHttp::Legacy => "200 without credentials: the legacy HTTP transport".to_owned(),
        GatewayHttp::AuthRequired {
            schemes,
            rdg_auth_scheme,
            reason,
        } => {
            let extra = rdg_auth_scheme
                .as_deref()
                .map_or_else(String::new, |s| format!(", RDG-Auth-Scheme {s}"));
            format!("401 {reason}: {}{extra}", schemes.join(", "))
        }
        GatewayHttp::TransportDisabled { status } => format!("{status}: no HTTP transport"),
        GatewayHttp::MethodsBlocked => "501 Not Implemented".to_owned(),
        GatewayHttp::Unavailable => "503 Service Unavailable".to_owned(),
        GatewayHttp::Other { status, reason } => format!("{status} {reason}"),
    };
    match rules::answer(a, gateway) {
        Some(finding) => {
            stop(
                rec,
                Stage::GatewayHttp,
                StageStatus::Failed,
                at,
                detail + &server,
            );
            rec.findings.push(finding);
            false
        }
        None => {
            rec.stage(Stage::GatewayHttp, StageStatus::Ok, at, detail + &server);
            true
        }
    }
}

/// The authentication's end: true when the tunnel may start (101 or 200). Without
/// credentials, the anonymous NTLM round is the end (not an error, as for CredSSP).
pub fn auth(rec: &mut Record, f: &GatewayFacts, broken: Option<&str>, at: Duration) -> bool {
    let names = f.ntlm.as_ref().map(|n| {
        let host = n.dns_computer.as_deref().or(n.netbios_computer.as_deref());
        format!(
            "NTLM names {} / {}, Windows {}",
            host.unwrap_or("-"),
            n.netbios_domain.as_deref().unwrap_or("-"),
            n.product_version.as_deref().unwrap_or("-")
        )
    });
    let transport = f
        .transport
        .map_or_else(String::new, |t| format!(", transport {}", t.as_str()));
    let lead = |s: &str| match &names {
        Some(n) => format!("{s}; {n}"),
        None => s.to_owned(),
    };
    match (&f.auth, broken) {
        (_, Some(why)) => {
            stop(rec, Stage::GatewayAuth, StageStatus::Failed, at, lead(why));
            rec.findings.push(rules::no_answer(&f.host, why));
            false
        }
        (Some(GatewayAuth::Anonymous), None) => {
            rec.stage(
                Stage::GatewayAuth,
                StageStatus::Ok,
                at,
                format!("no authentication asked{transport}"),
            );
            true
        }
        (Some(GatewayAuth::Accepted { user }), None) => {
            rec.stage(
                Stage::GatewayAuth,
                StageStatus::Ok,
                at,
                lead(&format!("{user} accepted (NTLM){transport}")),
            );
            true
        }
        (Some(a @ GatewayAuth::Refused { .. }), None) => {
            stop(
                rec,
                Stage::GatewayAuth,
                StageStatus::Failed,
                at,
                lead("credentials refused"),
            );
            rec.findings.extend(rules::auth(a, &f.host));
            false
        }
        (Some(GatewayAuth::NoScheme { offered }), None) => {
            rec.stage(
                Stage::GatewayAuth,
                StageStatus::Skipped,
                at,
                format!(
                    "the gateway offers {}: rdprobe speaks NTLM (and Negotiate with NTLM)",
                    offered.join(", ")
                ),
            );
            false
        }
        (Some(GatewayAuth::NotAttempted) | None, None) => {
            rec.stage(
                Stage::GatewayAuth,
                StageStatus::Skipped,
                at,
                lead(
                    "not attempted: no --user (the anonymous NTLM round gave the gateway's names)",
                ),
            );
            false
        }
    }
}

/// The handshake, tunnel and tunnel authorization: true when all three succeeded.
pub fn tunnel(rec: &mut Record, f: &GatewayFacts, broken: Option<&str>, at: Duration) -> bool {
    let gateway = f.host.as_str();
    let h = f.handshake;
    let t = f.tunnel;
    let refusal = [
        h.map(|h| (h.error, "handshake")),
        t.and_then(|t| t.status).map(|c| (c, "tunnel create")),
        t.and_then(|t| t.authorization)
            .map(|c| (c, "tunnel authorization")),
    ]
    .into_iter()
    .flatten()
    .find(|(c, _)| c.is_error());
    if let Some((code, what)) = refusal {
        stop(
            rec,
            Stage::GatewayTunnel,
            StageStatus::Failed,
            at,
            format!("{what}: {code}"),
        );
        rec.findings.push(rules::proxy_error(code, what, gateway));
        return false;
    }
    let authorized = t.is_some_and(|t| t.authorization == Some(ProxyError(0)));
    if let (Some(h), Some(t), true) = (h, t, authorized) {
        let idle = t
            .idle_timeout
            .filter(|m| *m > 0)
            .map_or_else(String::new, |m| format!(", idle timeout {m} min"));
        rec.stage(
            Stage::GatewayTunnel,
            StageStatus::Ok,
            at,
            format!(
                "MS-TSGU {}.{}, extended auth {:#x}, tunnel {}, authorized{idle}",
                h.version.0,
                h.version.1,
                h.extended_auth,
                t.tunnel_id
                    .map_or_else(|| "-".to_owned(), |i| i.to_string())
            ),
        );
        return true;
    }
    let why = broken.unwrap_or("the gateway ended the tunnel setup");
    stop(
        rec,
        Stage::GatewayTunnel,
        StageStatus::Failed,
        at,
        why.to_owned(),
    );
    rec.findings.push(rules::no_answer(gateway, why));
    false
}

/// The channel to the target: true when it opened.
pub fn channel(rec: &mut Record, f: &GatewayFacts, broken: Option<&str>, at: Duration) -> bool {
    let target = f
        .resource
        .as_ref()
        .map_or_else(|| "the target".to_owned(), |(r, p)| format!("{r}:{p}"));
    match f.channel {
        Some(c) if !c.error.is_error() => {
            let udp = c
                .udp_port
                .map_or_else(String::new, |p| format!(", UDP port {p}"));
            rec.stage(
                Stage::GatewayChannel,
                StageStatus::Ok,
                at,
                format!(
                    "channel {} to {target}{udp}",
                    c.channel_id
                        .map_or_else(|| "-".to_owned(), |i| i.to_string())
                ),
            );
            true
        }
        Some(c) => {
            stop(
                rec,
                Stage::GatewayChannel,
                StageStatus::Failed,
                at,
                format!("{target}: {}", c.error),
            );
            rec.findings.push(rules::proxy_error(
                c.error,
                &format!("channel to {target}"),
                &f.host,
            ));
            false
        }
        None => {
            let why = broken.unwrap_or("no channel response");
            stop(
                rec,
                Stage::GatewayChannel,
                StageStatus::Failed,
                at,
                why.to_owned(),
            );
            rec.findings.push(rules::no_answer(&f.host, why));
            false
        }
    }
}
