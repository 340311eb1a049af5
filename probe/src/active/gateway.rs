//! The driver of `--gateway` (MS-TSGU over HTTPS): it resolves and connects to the RD Gateway,
//! does TLS, carries the HTTP exchange of [`HttpAuth`] and the tunnel setup of [`Tsgu`] (both
//! sans-IO, `client/gateway.rs`), and once the channel to the target is open, pumps the
//! tunnel's DATA packets to and from a `tokio::io::duplex` pair, over which the same
//! [`Connector`] as for a direct connection runs the target's stages. What each step means is
//! `plan::gateway`'s; every wait is bounded by the stage timeout and the target's deadline.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rdp_proto::http::{parse_response, MAX_HEAD};
use rdp_proto::tsgu::Packet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

use super::client::connector::{Config, Connector, Mode, Now, Randoms};
use super::client::gateway::{
    channel_bindings, close_packet, data_packets, websocket_frame, Channel, HttpAuth, HttpConfig,
    HttpStep, PacketReader, Tsgu, TsguStep, WsEvent, WsReader,
};
use super::conn::{self, unix_now, Run};
use super::credentials::Credentials;
use super::net::{self, FrameReader};
use super::pdu;
use super::plan::{self, gateway as gplan, CrOutcome, ReadFailure, TlsObserved};
use crate::diagnose::Stage;
use crate::facts::gateway::{GatewayFacts, GatewayTransport};
use crate::facts::probe::TlsFailure;
use crate::facts::x224::Layer;

/// `--gateway GW[:PORT]`: the RD Gateway in front of the targets.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    pub host: String,
    pub port: u16,
    /// The gateway's credentials: `--user` with RDPROBE_GATEWAY_PASSWORD when set, else the
    /// target's.
    pub credentials: Option<Arc<Credentials>>,
}

type Tls = TlsStream<TcpStream>;
type BoxRead = Box<dyn AsyncRead + Unpin + Send>;
type BoxWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// The gateway's bytes to MS-TSGU packets (through WebSocket frames, or raw on the legacy
/// OUT channel).
struct Incoming {
    r: BoxRead,
    ws: Option<WsReader>,
    packets: PacketReader,
}

impl Incoming {
    /// Feeds bytes read from the gateway; the packets now complete.
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        match &mut self.ws {
            Some(ws) => {
                ws.push(bytes);
                while let Some(ev) = ws.next_event()? {
                    match ev {
                        WsEvent::Data(d) => self.packets.push(&d),
                        WsEvent::Pong(_) => {}
                        WsEvent::Closed(code) => {
                            return Err(format!(
                                "the gateway closed the WebSocket ({})",
                                code.map_or_else(|| "no status".to_owned(), |c| c.to_string())
                            ))
                        }
                    }
                }
            }
            None => self.packets.push(bytes),
        }
        let mut out = Vec::new();
        while let Some(p) = self.packets.next_packet()? {
            out.push(p);
        }
        Ok(out)
    }

    /// The next packet, within `deadline`.
    async fn next(
        &mut self,
        queue: &mut Vec<Vec<u8>>,
        deadline: Instant,
    ) -> Result<Vec<u8>, String> {
        loop {
            if !queue.is_empty() {
                return Ok(queue.remove(0));
            }
            let mut buf = [0u8; 16 * 1024];
            let n = match tokio::time::timeout_at(deadline, self.r.read(&mut buf)).await {
                Err(_) => return Err("no answer from the gateway in time".into()),
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(0)) => return Err("the gateway closed the connection".into()),
                Ok(Ok(n)) => n,
            };
            queue.extend(self.feed(&buf[..n])?);
        }
    }
}

/// Packets to the gateway: masked WebSocket binary frames, or chunks of the legacy IN
/// channel's body.
struct Outgoing {
    w: BoxWrite,
    /// WebSocket masks (xorshift), None for the legacy transport.
    mask: Option<u64>,
}

impl Outgoing {
    async fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
        let bytes = match &mut self.mask {
            Some(m) => {
                *m ^= *m << 13;
                *m ^= *m >> 7;
                *m ^= *m << 17;
                let k = m.to_le_bytes();
                websocket_frame(packet, [k[0], k[1], k[2], k[3]])
            }
            None => {
                let mut c = format!("{:X}\r\n", packet.len()).into_bytes();
                c.extend_from_slice(packet);
                c.extend_from_slice(b"\r\n");
                c
            }
        };
        self.w.write_all(&bytes).await?;
        self.w.flush().await
    }
}

/// A braced GUID from 16 random bytes (RDG-Connection-Id).
fn guid(b: &[u8; 32]) -> String {
    let h = hex::encode(&b[..16]);
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn filetime_now() -> u64 {
    u64::try_from(unix_now()).unwrap_or(0) * 10_000_000 + 116_444_736_000_000_000
}

/// Resolves the gateway: its first address, or None (recorded).
async fn resolve(run: &mut Run<'_>, gw: &GatewayOptions) -> Option<SocketAddr> {
    run.rec.begin(Stage::GatewayDns);
    if let Ok(ip) = gw.host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, gw.port));
    }
    let (host, port) = (gw.host.clone(), gw.port);
    let lookup = tokio::time::timeout_at(
        net::stage_deadline(run.deadline, run.opts.stage_timeout),
        tokio::task::spawn_blocking(move || net::getaddrinfo(&host, port)),
    )
    .await;
    let at = run.at();
    match lookup {
        Ok(Ok(Ok((addrs, _)))) if !addrs.is_empty() => {
            let list = addrs
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            run.rec.stage(
                Stage::GatewayDns,
                crate::diagnose::StageStatus::Ok,
                at,
                list,
            );
            addrs.first().copied()
        }
        Ok(Ok(Ok(_))) => {
            gplan::dns_failed(&mut run.rec, &gw.host, "no address", false, at);
            None
        }
        Ok(Ok(Err(e))) => {
            gplan::dns_failed(&mut run.rec, &gw.host, &e.to_string(), false, at);
            None
        }
        Ok(Err(e)) => {
            gplan::dns_failed(&mut run.rec, &gw.host, &e.to_string(), false, at);
            None
        }
        Err(_) => {
            gplan::dns_failed(&mut run.rec, &gw.host, "resolver timeout", true, at);
            None
        }
    }
}

/// TCP and TLS to the gateway. `record`: the first connection records its stages.
async fn connect(
    run: &mut Run<'_>,
    gw: &GatewayOptions,
    addr: SocketAddr,
    record: Option<&mut GatewayFacts>,
) -> Result<Tls, String> {
    let tcp = conn::open(addr, run.opts, run.deadline).await;
    let at = run.at();
    let stream = match tcp {
        Ok(s) => {
            if record.is_some() {
                run.rec.begin(Stage::GatewayTls);
                gplan::tcp(&mut run.rec, &addr.to_string(), &Ok(()), at);
            }
            s
        }
        Err(e) => {
            let why = format!("{e:?}");
            if record.is_some() {
                gplan::tcp(&mut run.rec, &addr.to_string(), &Err(e), at);
            }
            return Err(why);
        }
    };
    let name = match gw.host.parse::<IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
        Err(_) => {
            rustls::pki_types::ServerName::try_from(gw.host.clone()).map_err(|e| e.to_string())?
        }
    };
    let config = super::connect::tls_config(run.opts.keylog.clone())?;
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    let connector = tokio_rustls::TlsConnector::from(config);
    let outcome = match tokio::time::timeout_at(deadline, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(TlsFailure::from(e.to_string())),
        Err(_) => Err(TlsFailure {
            timed_out: true,
            why: "the TLS handshake did not finish before the deadline".to_owned(),
        }),
    };
    let at = run.at();
    match (outcome, record) {
        (Ok(tls), Some(f)) => {
            let (session, _) = super::connect::session_of(&tls, at);
            gplan::tls(&mut run.rec, f, Ok(session), &gw.host, unix_now(), at);
            Ok(tls)
        }
        (Ok(tls), None) => Ok(tls),
        (Err(e), Some(f)) => {
            let why = e.why.clone();
            gplan::tls(&mut run.rec, f, Err(e), &gw.host, unix_now(), at);
            Err(why)
        }
        (Err(e), None) => Err(e.why),
    }
}

/// Reads one HTTP response head from `s` (`buf` holds what was read beyond the last one) and
/// hands it to `auth`; then skips its body (`Content-Length`, bounded) unless it opened the
/// transport. Err: no answer (why).
async fn exchange(
    run: &Run<'_>,
    s: &mut Tls,
    buf: &mut Vec<u8>,
    auth: &mut HttpAuth<'_>,
    f: &mut GatewayFacts,
) -> Result<HttpStep, String> {
    let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
    loop {
        match parse_response(buf) {
            Ok(Some(head)) => {
                let len = head.len;
                let body = head
                    .value("content-length")
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0)
                    .min(64 * 1024);
                let step = auth.on_head(&head, f);
                buf.drain(..len);
                if matches!(step, HttpStep::Send(_) | HttpStep::Stop) {
                    read_at_least(s, buf, body, deadline).await?;
                    buf.drain(..body.min(buf.len()));
                }
                return Ok(step);
            }
            Ok(None) => {}
            Err(e) => return Err(format!("not an HTTP answer: {e}")),
        }
        if buf.len() > MAX_HEAD {
            return Err("an HTTP answer head over 16 KiB".into());
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => return Err("no HTTP answer in time".into()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err("TLS closed without an HTTP answer (no close_notify)".into())
            }
            Ok(Err(e)) => return Err(format!("the connection failed: {e}")),
            Ok(Ok(0)) => return Err("TLS closed without an HTTP answer".into()),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn read_at_least(
    s: &mut Tls,
    buf: &mut Vec<u8>,
    n: usize,
    deadline: Instant,
) -> Result<(), String> {
    while buf.len() < n {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(m)) if m > 0 => buf.extend_from_slice(&chunk[..m]),
            _ => return Err("the answer's body did not come".into()),
        }
    }
    Ok(())
}

/// The HTTP exchange on one connection until it ends.
async fn http<'c>(
    run: &Run<'_>,
    s: &mut Tls,
    buf: &mut Vec<u8>,
    mut auth: HttpAuth<'c>,
    first: Vec<u8>,
    f: &mut GatewayFacts,
) -> Result<(HttpStep, HttpAuth<'c>), String> {
    let mut req = first;
    loop {
        s.write_all(&req)
            .await
            .map_err(|e| format!("the request could not be sent: {e}"))?;
        match exchange(run, s, buf, &mut auth, f).await? {
            HttpStep::Send(next) => req = next,
            other => return Ok((other, auth)),
        }
    }
}

/// What the gateway stages came to.
pub(super) struct Opened {
    /// The target's end of the tunnel.
    pub stream: DuplexStream,
    pump: tokio::task::JoinHandle<()>,
}

/// The gateway's stages up to an open channel to `target`:`port`; None when the probe stops
/// at the gateway (recorded).
pub(super) async fn open(
    run: &mut Run<'_>,
    gw: &GatewayOptions,
    target: &str,
    port: u16,
) -> Option<Opened> {
    let mut f = GatewayFacts {
        host: gw.host.clone(),
        port: gw.port,
        ..GatewayFacts::default()
    };
    let opened = open_into(run, gw, target, port, &mut f).await;
    run.facts.gateway = Some(f);
    opened
}

async fn open_into(
    run: &mut Run<'_>,
    gw: &GatewayOptions,
    target: &str,
    port: u16,
    f: &mut GatewayFacts,
) -> Option<Opened> {
    let addr = resolve(run, gw).await?;
    f.address = Some(addr.ip());
    run.rec.begin(Stage::GatewayTcp);
    let mut out = connect(run, gw, addr, Some(f)).await.ok()?;
    let stop_after = run.opts.stop_after;
    if stop_after < Stage::GatewayHttp {
        return None;
    }
    run.rec.begin(Stage::GatewayHttp);
    let r = run.random();
    let connection_id = guid(&r);
    let bindings = f
        .tls
        .as_ref()
        .and_then(|t| t.chain.first())
        .map_or([0; 16], |c| channel_bindings(c));
    let creds = gw.credentials.clone();
    let config = |channel: Channel, websocket: bool, random: [u8; 32], skip_anonymous: bool| {
        let mut key = [0u8; 16];
        key.copy_from_slice(&random[..16]);
        let mut ntlm_random = [0u8; 24];
        ntlm_random.copy_from_slice(&random[8..]);
        HttpConfig {
            channel,
            websocket,
            host: gw.host.clone(),
            connection_id: connection_id.clone(),
            credentials: creds.as_deref(),
            key,
            ntlm_random,
            now_filetime: filetime_now(),
            channel_bindings: bindings,
            skip_anonymous,
        }
    };
    let mut buf = Vec::new();
    let (auth, first) = HttpAuth::start(config(Channel::Out, true, run.random(), false));
    let result = http(run, &mut out, &mut buf, auth, first, f).await;
    let at = run.at();
    // The gateway_http stage: the first answer (or none).
    let no_answer = match &result {
        Err(why) if f.answer.is_none() => Some(why.clone()),
        _ => None,
    };
    if !gplan::http(&mut run.rec, f, no_answer.as_deref(), at) || stop_after < Stage::GatewayAuth {
        return None;
    }
    run.rec.begin(Stage::GatewayAuth);
    let step = match result {
        Ok((step, _)) => step,
        Err(why) => {
            {
                let at = run.at();
                gplan::auth(&mut run.rec, f, Some(&why), at)
            };
            return None;
        }
    };
    let (incoming, outgoing) = match step {
        HttpStep::Upgraded => {
            f.transport = Some(GatewayTransport::WebSocket);
            let (r, w) = tokio::io::split(out);
            let mut incoming = Incoming {
                r: Box::new(r),
                ws: Some(WsReader::default()),
                packets: PacketReader::default(),
            };
            let seed = u64::from_le_bytes(run.random()[..8].try_into().unwrap_or([1; 8])) | 1;
            let leftover = std::mem::take(&mut buf);
            let queued = incoming.feed(&leftover);
            (
                (incoming, queued),
                Outgoing {
                    w: Box::new(w),
                    mask: Some(seed),
                },
            )
        }
        HttpStep::Accepted => {
            f.transport = Some(GatewayTransport::Legacy);
            // The OUT channel's 200 carries a random seed body (FreeRDP reads 10 bytes).
            let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
            if let Err(why) = read_at_least(&mut out, &mut buf, 10, deadline).await {
                {
                    let at = run.at();
                    gplan::auth(&mut run.rec, f, Some(&why), at)
                };
                return None;
            }
            buf.drain(..10);
            // The IN channel: its own connection and NTLM round, then the chunked body.
            let random = run.random();
            let authenticated = f.auth != Some(crate::facts::gateway::GatewayAuth::Anonymous);
            let cfg = config(Channel::In, false, random, authenticated);
            let inn = match legacy_in(run, gw, addr, cfg, f).await {
                Ok(s) => s,
                Err(why) => {
                    {
                        let at = run.at();
                        gplan::auth(&mut run.rec, f, Some(&format!("RDG_IN_DATA: {why}")), at)
                    };
                    return None;
                }
            };
            let mut incoming = Incoming {
                r: Box::new(out),
                ws: None,
                packets: PacketReader::default(),
            };
            let leftover = std::mem::take(&mut buf);
            let queued = incoming.feed(&leftover);
            (
                (incoming, queued),
                Outgoing {
                    w: Box::new(inn),
                    mask: None,
                },
            )
        }
        HttpStep::Send(_) | HttpStep::Stop => {
            {
                let at = run.at();
                gplan::auth(&mut run.rec, f, None, at)
            };
            return None;
        }
    };
    if !{
        let at = run.at();
        gplan::auth(&mut run.rec, f, None, at)
    } || stop_after < Stage::GatewayTunnel
    {
        return None;
    }
    let ((mut incoming, queued), mut outgoing) = (incoming, outgoing);
    let mut queue = match queued {
        Ok(q) => q,
        Err(why) => {
            {
                let at = run.at();
                gplan::tunnel(&mut run.rec, f, Some(&why), at)
            };
            return None;
        }
    };
    // The tunnel: handshake, tunnel create, tunnel authorization, channel create.
    run.rec.begin(Stage::GatewayTunnel);
    let (mut tsgu, first) = Tsgu::start(target, port);
    let mut send = Some(first);
    let mut broken = None;
    let mut tunnel_recorded = false;
    loop {
        if let Some(p) = send.take() {
            if let Err(e) = outgoing.send(&p).await {
                broken = Some(format!("the gateway connection failed: {e}"));
                break;
            }
        }
        let deadline = net::stage_deadline(run.deadline, run.opts.stage_timeout);
        let bytes = match incoming.next(&mut queue, deadline).await {
            Ok(b) => b,
            Err(why) => {
                broken = Some(why);
                break;
            }
        };
        let packet = match rdp_proto::decode::<Packet>(&bytes) {
            Ok(p) => p,
            Err(e) => {
                broken = Some(format!("a malformed MS-TSGU packet: {e}"));
                break;
            }
        };
        let authorized_before = f.tunnel.and_then(|t| t.authorization).is_some();
        let step = tsgu.on_packet(&packet, f);
        if !authorized_before
            && f.tunnel.and_then(|t| t.authorization).is_some()
            && !tunnel_recorded
        {
            tunnel_recorded = true;
            if !{
                let at = run.at();
                gplan::tunnel(&mut run.rec, f, None, at)
            } || stop_after < Stage::GatewayChannel
            {
                return None;
            }
            run.rec.begin(Stage::GatewayChannel);
        }
        match step {
            TsguStep::Send(p) => send = Some(p),
            TsguStep::Read => {}
            TsguStep::Open | TsguStep::Refused => break,
        }
    }
    let at = run.at();
    if !tunnel_recorded {
        gplan::tunnel(&mut run.rec, f, broken.as_deref(), at);
        return None;
    }
    if !gplan::channel(&mut run.rec, f, broken.as_deref(), at)
        || !tsgu.is_open()
        || stop_after < Stage::X224
    {
        return None;
    }
    let (local, remote) = tokio::io::duplex(64 * 1024);
    let until = run.deadline + Duration::from_secs(2);
    let pump = tokio::spawn(async move {
        let _ = tokio::time::timeout_at(until, pump(incoming, queue, outgoing, remote)).await;
    });
    Some(Opened {
        stream: local,
        pump,
    })
}

/// The legacy IN channel: a second connection, its own NTLM round, then the chunked request
/// whose body carries the client's packets.
async fn legacy_in(
    run: &mut Run<'_>,
    gw: &GatewayOptions,
    addr: SocketAddr,
    cfg: HttpConfig<'_>,
    f: &mut GatewayFacts,
) -> Result<Tls, String> {
    let mut s = connect(run, gw, addr, None).await?;
    let mut buf = Vec::new();
    let (auth, first) = HttpAuth::start(cfg);
    let (step, auth) = http(run, &mut s, &mut buf, auth, first, f).await?;
    if step != HttpStep::Accepted {
        return Err("the gateway did not accept RDG_IN_DATA".into());
    }
    s.write_all(&auth.chunked_request())
        .await
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// Moves the target connection's bytes: from `local` into DATA packets to the gateway, and
/// the gateway's DATA packets into `local`, until either side ends (then a close request).
async fn pump(
    mut incoming: Incoming,
    queue: Vec<Vec<u8>>,
    mut outgoing: Outgoing,
    mut local: DuplexStream,
) {
    for p in queue {
        if let Ok(Packet::Data(d)) = rdp_proto::decode::<Packet>(&p) {
            if local.write_all(d).await.is_err() {
                return;
            }
        }
    }
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = local.read(&mut up) => match n {
                Ok(0) | Err(_) => {
                    let _ = outgoing.send(&close_packet()).await;
                    return;
                }
                Ok(n) => {
                    for p in data_packets(&up[..n]) {
                        if outgoing.send(&p).await.is_err() {
                            return;
                        }
                    }
                }
            },
            n = incoming.r.read(&mut down) => {
                let n = match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let Ok(packets) = incoming.feed(&down[..n]) else {
                    return;
                };
                for p in packets {
                    match rdp_proto::decode::<Packet>(&p) {
                        Ok(Packet::Data(d)) => {
                            if local.write_all(d).await.is_err() {
                                return;
                            }
                        }
                        Ok(Packet::CloseChannel { .. }) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            }
        }
    }
}

/// The target's stages inside the tunnel: the Connection Request and Confirm (x224), then the
/// connection mstsc makes (TLS, CredSSP, MCS and the walk) on the same stream. Nothing is
/// enumerated: each attempt would need a tunnel of its own.
pub(super) async fn walk(run: &mut Run<'_>, opened: Opened, target: &str, port: u16) {
    let Opened { mut stream, pump } = opened;
    let via = format!("{target}:{port} via the RD Gateway");
    run.rec.begin(Stage::X224);
    // The channel opened now: the gateway's TCP connection to the target.
    let opened_at = run.at();
    let t0 = Instant::now();
    let cr = pdu::connection_request(Some(plan::PRIMARY)).unwrap_or_default();
    let mut confirm_frame = Vec::new();
    let outcome = match stream.write_all(&cr).await {
        Err(e) => CrOutcome::NoConfirm(ReadFailure::Io(e.to_string())),
        Ok(()) => {
            let mut reader = FrameReader::default();
            match reader
                .next_tpkt(
                    &mut stream,
                    net::stage_deadline(run.deadline, run.opts.stage_timeout),
                )
                .await
            {
                Ok(frame) => {
                    confirm_frame = frame.to_vec();
                    plan::read_confirm(&frame)
                }
                Err(e) => CrOutcome::NoConfirm(e),
            }
        }
    };
    let x224 = t0.elapsed();
    if plan::primary_failed(
        &mut run.rec,
        &via,
        &outcome,
        run.opts.stage_timeout,
        opened_at,
        x224,
    ) {
        return finish(stream, pump).await;
    }
    let CrOutcome::Confirmed(confirm) = outcome.clone() else {
        return finish(stream, pump).await;
    };
    run.facts.confirm = Some(confirm);
    plan::primary_confirmed(&mut run.rec, &via, &confirm, opened_at, x224);
    let mut results = BTreeMap::new();
    results.insert(Layer::HybridEx, outcome);
    let layers = plan::conclude_layers(
        &mut run.rec,
        &mut run.facts,
        results,
        &confirm,
        confirm.is_legacy(),
    );
    if run.opts.stop_after <= Stage::X224 {
        return finish(stream, pump).await;
    }
    let Some((request, credssp)) = layers.tls else {
        run.rec.stage(
            Stage::Mcs,
            crate::diagnose::StageStatus::Skipped,
            run.at(),
            "Standard RDP Security through a gateway is not walked by rdprobe",
        );
        return finish(stream, pump).await;
    };
    run.rec.begin(Stage::Tls);
    let credentials = run.opts.credentials.clone();
    let mut credssp_r = [0u8; 56];
    credssp_r[..32].copy_from_slice(&run.random());
    credssp_r[32..].copy_from_slice(&run.random()[..24]);
    let mut walk_r = [0u8; 80];
    walk_r[..32].copy_from_slice(&run.random());
    walk_r[32..64].copy_from_slice(&run.random());
    walk_r[64..].copy_from_slice(&run.random()[..16]);
    let randoms = Randoms {
        credssp: credssp_r,
        walk: walk_r,
        client: run.random(),
        kerberos: run.random(),
    };
    let mut c = Connector::new(Config {
        request: Some(request),
        mode: Mode::Tls { credssp },
        stop_after: run.opts.stop_after,
        credentials: credentials.as_deref(),
        host: run.sni().unwrap_or_else(|| run.facts.host.clone()),
        auth: run.opts.auth,
        randoms,
    });
    // The Connection Request went out above and its Confirm is read: the connector takes it
    // from there (its own request is dropped, the Confirm handed over).
    let _ = c.action(&mut run.rec);
    let frame = confirm_frame;
    let now = Now {
        at: run.at(),
        unix: unix_now(),
    };
    c.on_frame(&frame, &mut run.rec, &mut run.facts, now);
    let name = match run.sni() {
        Some(n) => rustls::pki_types::ServerName::try_from(n).map_err(|e| e.to_string()),
        None => target
            .parse::<IpAddr>()
            .map(|ip| rustls::pki_types::ServerName::IpAddress(ip.into()))
            .map_err(|_| format!("{target} is not a TLS server name")),
    };
    super::connect::drive(run, &mut stream, name, &mut c).await;
    let main = c.take_tls().unwrap_or_else(|| {
        Err(TlsFailure::from(
            "no TLS-capable Connection Confirm".to_owned(),
        ))
    });
    let observed = TlsObserved {
        main,
        hellos: Vec::new(),
        skipped: Vec::new(),
        enumerated: false,
    };
    let at = run.at();
    let facts = plan::conclude_tls(&mut run.rec, observed, &run.facts.host, unix_now(), at);
    if let Some(c) = &run.facts.credssp {
        plan::credssp_findings(&mut run.rec, c);
    }
    run.facts.tls = Some(facts);
    finish(stream, pump).await;
}

/// Ends the tunnel: the target's stream dropped, the pump sends the close request; waited for
/// a second at most.
async fn finish(stream: DuplexStream, pump: tokio::task::JoinHandle<()>) {
    drop(stream);
    let _ = tokio::time::timeout(Duration::from_secs(1), pump).await;
}
