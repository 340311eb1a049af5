//! The `kerberos` stage's I/O: finds the realm's KDC (`--kdc`, krb5.conf, the realm's name),
//! and carries [`KdcClient`]'s messages to it over TCP (RFC 4120 7.2.2: a 4-byte length, one
//! connection per request, as MIT's library does), each within the stage timeout and the
//! target's deadline. The decisions are the client's (`client/kerberos.rs`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::client::kerberos::{Clock, KdcClient, KdcStep, ServiceTicket};
use super::conn::Run;
use super::net;
use crate::facts::kerberos::KdcFacts;

/// The longest KDC answer read (a ticket with a large PAC is a few KiB).
const MAX_REPLY: usize = 256 * 1024;

/// The clock now.
pub(super) fn clock() -> Clock {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Clock {
        unix: d.as_secs(),
        usec: d.subsec_micros(),
    }
}

/// Asks the realm's KDC for a service ticket for `TERMSRV/<host>` as `--user`: the facts of
/// the exchange, and the ticket when one came.
pub(super) async fn logon(
    run: &mut Run<'_>,
    realm: &str,
    host: &str,
) -> (KdcFacts, Option<ServiceTicket>) {
    let Some(creds) = run.opts.credentials.clone() else {
        return (KdcFacts::default(), None);
    };
    let seed = run.random();
    let (mut client, mut message) = KdcClient::start(&creds, realm, host, clock(), seed);
    let deadline = run.deadline;
    let stage_timeout = run.opts.stage_timeout;
    let (source, candidates) =
        match locate(run.opts.kdc.as_deref(), realm, deadline, stage_timeout).await {
            Ok(found) => found,
            Err(why) => {
                client.on_unreachable(why);
                return (std::mem::take(&mut client.facts), None);
            }
        };
    client.facts.kdc_source = Some(source);
    loop {
        let stage_deadline = net::stage_deadline(deadline, stage_timeout);
        let reply = exchange(&candidates, &message, stage_deadline).await;
        zeroize::Zeroize::zeroize(&mut message);
        let (addr, reply) = match reply {
            Ok(r) => r,
            Err(why) => {
                client.on_unreachable(why);
                return (std::mem::take(&mut client.facts), None);
            }
        };
        client.facts.kdc = Some(addr.to_string());
        match client.on_reply(&reply, clock()) {
            KdcStep::Send(next) => message = next,
            KdcStep::Ticket(t) => return (std::mem::take(&mut client.facts), Some(t)),
            KdcStep::Failed(_) => return (std::mem::take(&mut client.facts), None),
        }
    }
}

/// The KDC's addresses: `--kdc`, else krb5.conf's `kdc` for the realm, else DNS SRV
/// `_kerberos._tcp.REALM` (RFC 4120 7.2.3.2, what Windows clients use), else the realm's name
/// (Active Directory: the domain name resolves to its domain controllers). Returns how it
/// was found.
async fn locate(
    kdc: Option<&str>,
    realm: &str,
    deadline: Instant,
    stage_timeout: std::time::Duration,
) -> Result<(&'static str, Vec<SocketAddr>), String> {
    let stage_deadline = net::stage_deadline(deadline, stage_timeout);
    let (source, specs) = match kdc {
        Some(k) => ("--kdc", vec![k.to_owned()]),
        None => match krb5_conf_kdc(realm) {
            Some(k) => ("krb5.conf", vec![k]),
            None => match srv(realm, stage_deadline).await {
                Some(found) if !found.is_empty() => ("dns-srv", found),
                _ => ("realm-name", vec![realm.to_ascii_lowercase()]),
            },
        },
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut why = String::new();
    for spec in &specs {
        let t = match super::targets::parse_target(spec, 88) {
            Ok(t) => t,
            Err(e) => {
                why = format!("KDC {spec:?}: {e}");
                continue;
            }
        };
        let lookup = tokio::net::lookup_host((t.host.as_str(), t.port));
        match timeout_at(stage_deadline, lookup).await {
            Ok(Ok(a)) => addrs.extend(a.take(8)),
            Ok(Err(e)) => {
                why = format!("the KDC name {} ({source}) does not resolve: {e}", t.host);
            }
            Err(_) => why = format!("resolving the KDC {} ({source}) timed out", t.host),
        }
        if addrs.len() >= 8 {
            break;
        }
    }
    if addrs.is_empty() {
        if why.is_empty() {
            why = format!("the KDC ({source}) has no address");
        }
        return Err(why);
    }
    Ok((source, addrs))
}

/// The targets (`host:port`) of the SRV records `_kerberos._tcp.REALM`, asked of the first
/// nameserver of /etc/resolv.conf that answers; None when none answers.
async fn srv(realm: &str, deadline: Instant) -> Option<Vec<String>> {
    let conf = std::fs::File::open("/etc/resolv.conf").ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(conf, 64 * 1024), &mut text).ok()?;
    let servers: Vec<std::net::IpAddr> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse().ok())
        .take(3)
        .collect();
    let name = format!("_kerberos._tcp.{}", realm.to_ascii_lowercase());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let id = (nanos >> 8) as u16;
    let query = rdp_proto::dns::srv_query(id, &name)?;
    for server in servers {
        let bind: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.connect((server, 53)).await.is_err() || sock.send(&query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        let Ok(Ok(n)) = timeout_at(deadline, sock.recv(&mut buf)).await else {
            continue;
        };
        if let Ok(records) = rdp_proto::dns::parse_srv_answer(&buf[..n], id) {
            return Some(
                records
                    .into_iter()
                    .take(4)
                    .map(|r| format!("{}:{}", r.target, r.port))
                    .collect(),
            );
        }
    }
    None
}

/// The first `kdc = ...` of `realm` in krb5.conf (`KRB5_CONFIG`, else /etc/krb5.conf).
fn krb5_conf_kdc(realm: &str) -> Option<String> {
    let path = std::env::var_os("KRB5_CONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/krb5.conf".into());
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > 1 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    kdc_in_conf(&text, realm)
}

/// The first `kdc` of `realm`'s block in the `[realms]` section of a krb5.conf text.
pub(crate) fn kdc_in_conf(text: &str, realm: &str) -> Option<String> {
    let mut in_realms = false;
    let mut in_block = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            in_realms = line.eq_ignore_ascii_case("[realms]");
            in_block = false;
            continue;
        }
        if !in_realms {
            continue;
        }
        if let Some((name, rest)) = line.split_once('=') {
            let (name, rest) = (name.trim(), rest.trim());
            if rest.starts_with('{') {
                in_block = name.eq_ignore_ascii_case(realm);
                continue;
            }
            if in_block && name == "kdc" && !rest.is_empty() {
                return Some(rest.to_owned());
            }
        } else if line.starts_with('}') {
            in_block = false;
        }
    }
    None
}

/// One request to the first KDC address that answers.
async fn exchange(
    candidates: &[SocketAddr],
    message: &[u8],
    deadline: Instant,
) -> Result<(SocketAddr, Vec<u8>), String> {
    let mut last = String::from("no address");
    for addr in candidates {
        match timeout_at(deadline, one(*addr, message)).await {
            Ok(Ok(reply)) => return Ok((*addr, reply)),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => {
                last = format!("{addr}: no answer before the stage timeout");
                break;
            }
        }
    }
    Err(last)
}

async fn one(addr: SocketAddr, message: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut frame = rdp_proto::kerberos::tcp_frame(message);
    let written = s.write_all(&frame).await;
    zeroize::Zeroize::zeroize(&mut frame);
    written.map_err(|e| format!("send: {e}"))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .await
        .map_err(|e| format!("the KDC closed without an answer ({e})"))?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_REPLY {
        return Err(format!(
            "the KDC's answer claims {n} bytes (more than {MAX_REPLY})"
        ));
    }
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)
        .await
        .map_err(|e| format!("the KDC's answer ended early ({e})"))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krb5_conf_realm_blocks() {
        let conf = "[libdefaults]\n  default_realm = CORP.TEST\n[realms]\n  OTHER.TEST = {\n    kdc = other:88\n  }\n  CORP.TEST = {\n    # comment\n    kdc = 127.0.0.3:88\n    kdc = second\n  }\n[domain_realm]\n  kdc = nothere\n";
        assert_eq!(
            kdc_in_conf(conf, "CORP.TEST").as_deref(),
            Some("127.0.0.3:88")
        );
        assert_eq!(
            kdc_in_conf(conf, "corp.test").as_deref(),
            Some("127.0.0.3:88")
        );
        assert_eq!(kdc_in_conf(conf, "OTHER.TEST").as_deref(), Some("other:88"));
        assert_eq!(kdc_in_conf(conf, "NONE.TEST"), None);
    }
}
