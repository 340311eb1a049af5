//! An RD Gateway connection in a capture: the decrypted HTTPS stream read as MS-TSGU's HTTP
//! transport (3.3.5). The client's requests (`RDG_OUT_DATA`, `RDG_IN_DATA`, the NTLM user in
//! `Authorization`) and the gateway's answers (the first one read by
//! [`GatewayAnswer::from_head`], the CHALLENGE's names, 101 / 200 / 401), then the WebSocket
//! frames (the client's unmasked) or the legacy channel's raw or chunked body, then the
//! MS-TSGU packets, whose setup [`GatewayFacts::observe`] reads, as the probe does; the DATA
//! packets' bytes are the inner RDP connection, read by a nested [`Session`] with the same
//! keys. Bounded: heads by `rdp_proto::http`, frames and packets by their readers, the inner
//! connection by the session's own limits.

use base64::Engine as _;
use rdp_proto::http::{parse_request, parse_response};
use rdp_proto::tsgu::Packet;

use super::{Dir, Event, Session};
use crate::capture::decrypt::Keys;
use crate::diagnose::Stage;
use crate::facts::credssp::{ntlm_in, ChallengeFacts};
use crate::facts::gateway::{GatewayAnswer, GatewayAuth, GatewayFacts, GatewayTransport};
use rdp_proto::tsgu::PacketReader;
use rdp_proto::websocket::{Event as WsEvent, Reader as WsReader};

/// How one direction's bytes are read now.
#[derive(Debug)]
enum Mode {
    /// HTTP heads (and the bodies their lengths give).
    Http {
        buf: Vec<u8>,
        body: usize,
    },
    WebSocket(WsReader),
    /// The legacy OUT channel's body after its 200: `skip` seed bytes, then packets.
    Raw {
        skip: usize,
    },
    /// The legacy IN channel's chunked body.
    Chunked(Vec<u8>),
    Broken,
}

#[derive(Debug)]
struct Side {
    mode: Mode,
    packets: PacketReader,
}

impl Default for Side {
    fn default() -> Self {
        Self {
            mode: Mode::Http {
                buf: Vec::new(),
                body: 0,
            },
            packets: PacketReader::default(),
        }
    }
}

/// The RD Gateway side of one captured connection.
#[derive(Debug, Default)]
pub struct GatewayReader {
    pub facts: GatewayFacts,
    /// An `RDG_*` request was seen: this is an RD Gateway connection.
    pub recognized: bool,
    /// `RDG_OUT_DATA` or `RDG_IN_DATA`: which channel (the legacy transport has two).
    pub method: Option<String>,
    pub events: Vec<Event>,
    /// Why reading stopped, if it did.
    pub broken: Option<String>,
    /// The NTLM AUTHENTICATE's user, once sent.
    user: Option<String>,
    sides: [Side; 2],
    /// The inner RDP connection, from the channel's DATA packets (the legacy transport's:
    /// rebuilt from both channels by [`pair_legacy`]).
    pub inner: Option<Box<Session>>,
    /// `RDG-Connection-Id`: the legacy transport's two channels carry the same one.
    pub connection_id: Option<String>,
    /// The legacy transport's DATA, in order, for [`pair_legacy`]: this channel carries one
    /// direction of the inner connection. Bounded by [`MAX_LEGACY_DATA`].
    legacy_data: Vec<(Dir, i64, Vec<u8>)>,
    legacy_bytes: usize,
}

/// Most DATA bytes a legacy channel keeps for the inner connection (its handshake is a few
/// tens of KiB; the session reads no further than it needs).
const MAX_LEGACY_DATA: usize = 1024 * 1024;

/// Most bytes of a legacy chunk line or a head's body skipped at once.
const MAX_BODY: usize = 64 * 1024;

impl GatewayReader {
    fn event(&mut self, stage: Stage, done: bool, ts_ns: i64, detail: impl Into<String>) {
        self.events.push(Event {
            stage,
            done,
            ts_ns,
            detail: detail.into(),
        });
    }

    fn fail(&mut self, d: usize, why: String) {
        self.sides[d].mode = Mode::Broken;
        self.broken.get_or_insert(why);
    }

    /// Decrypted bytes of `dir`, in order.
    pub fn feed(&mut self, dir: Dir, data: &[u8], ts: i64, keys: &Keys) {
        let d = dir.index();
        let mut pending = data.to_vec();
        // A direction's mode can change mid-buffer (a head, then frames): loop over the rest.
        while !pending.is_empty() {
            let rest = match std::mem::replace(&mut self.sides[d].mode, Mode::Broken) {
                Mode::Broken => return,
                Mode::Http { mut buf, mut body } => {
                    let skip = body.min(pending.len());
                    body -= skip;
                    buf.extend_from_slice(&pending[skip..]);
                    self.sides[d].mode = Mode::Http { buf, body: 0 };
                    if body > 0 {
                        self.sides[d].mode = Mode::Http {
                            buf: Vec::new(),
                            body,
                        };
                        return;
                    }
                    self.http(dir, ts)
                }
                Mode::WebSocket(mut ws) => {
                    ws.push(&pending);
                    let mut out = Vec::new();
                    let mut broken = None;
                    loop {
                        match ws.next_event() {
                            Ok(Some(WsEvent::Data(b))) => out.extend(b),
                            Ok(Some(WsEvent::Pong(_))) => {}
                            Ok(Some(WsEvent::Closed(_))) | Ok(None) => break,
                            Err(e) => {
                                broken = Some(format!("WebSocket: {e}"));
                                break;
                            }
                        }
                    }
                    match broken {
                        Some(why) => self.fail(d, why),
                        None => self.sides[d].mode = Mode::WebSocket(ws),
                    }
                    self.packets(dir, &out, ts, keys);
                    Vec::new()
                }
                Mode::Raw { skip } => {
                    let n = skip.min(pending.len());
                    self.sides[d].mode = Mode::Raw { skip: skip - n };
                    let body = pending[n..].to_vec();
                    self.packets(dir, &body, ts, keys);
                    Vec::new()
                }
                Mode::Chunked(mut buf) => {
                    buf.extend_from_slice(&pending);
                    let mut out = Vec::new();
                    let mut broken = None;
                    loop {
                        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
                            if buf.len() > 32 {
                                broken = Some("a chunk size line over 32 bytes".to_owned());
                            }
                            break;
                        };
                        let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
                        let size =
                            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16);
                        let Ok(size) = size else {
                            broken = Some(format!("a chunk size of {line:?}"));
                            break;
                        };
                        if size > MAX_BODY {
                            broken = Some(format!("a chunk of {size} bytes"));
                            break;
                        }
                        if buf.len() < eol + 2 + size + 2 {
                            break;
                        }
                        out.extend_from_slice(&buf[eol + 2..eol + 2 + size]);
                        buf.drain(..eol + 2 + size + 2);
                        if size == 0 {
                            break;
                        }
                    }
                    match broken {
                        Some(why) => self.fail(d, format!("legacy IN channel: {why}")),
                        None => self.sides[d].mode = Mode::Chunked(buf),
                    }
                    self.packets(dir, &out, ts, keys);
                    Vec::new()
                }
            };
            pending = rest;
        }
    }

    /// One HTTP head from the buffer of `dir`, if complete; returns the bytes after it (and
    /// its body) for the mode it switched to.
    fn http(&mut self, dir: Dir, ts: i64) -> Vec<u8> {
        let d = dir.index();
        let Mode::Http { buf, .. } = std::mem::replace(&mut self.sides[d].mode, Mode::Broken)
        else {
            return Vec::new();
        };
        if dir == Dir::ClientToServer {
            let head = match parse_request(&buf) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    self.sides[d].mode = Mode::Http { buf, body: 0 };
                    return Vec::new();
                }
                Err(e) => {
                    self.fail(d, format!("HTTP request: {e}"));
                    return Vec::new();
                }
            };
            let len = head.len;
            let method = head.method.to_owned();
            if method.starts_with("RDG_") {
                self.recognized = true;
                if self.method.is_none() {
                    self.event(
                        Stage::GatewayHttp,
                        false,
                        ts,
                        format!("{method} {}", head.path),
                    );
                }
                self.method.get_or_insert(method.clone());
            }
            if let Some(id) = head.value("rdg-connection-id") {
                self.connection_id.get_or_insert(id);
            }
            if let Some(host) = head.value("host") {
                if self.facts.host.is_empty() {
                    self.facts.host = host;
                }
            }
            if let Some(auth) = head.value("authorization") {
                if let Some(user) = ntlm_user(&auth) {
                    self.user = Some(user);
                }
            }
            let chunked = head
                .value("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
            let body = head
                .value("content-length")
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0)
                .min(MAX_BODY);
            let rest = buf[len..].to_vec();
            if chunked && method == "RDG_IN_DATA" {
                self.sides[d].mode = Mode::Chunked(Vec::new());
                self.facts.transport = Some(GatewayTransport::Legacy);
                return rest;
            }
            self.sides[d].mode = Mode::Http {
                buf: Vec::new(),
                body,
            };
            rest
        } else {
            let head = match parse_response(&buf) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    self.sides[d].mode = Mode::Http { buf, body: 0 };
                    return Vec::new();
                }
                Err(e) => {
                    self.fail(d, format!("HTTP answer: {e}"));
                    return Vec::new();
                }
            };
            let len = head.len;
            let first = self.facts.answer.is_none();
            if first {
                self.facts.answer = Some(GatewayAnswer::from_head(&head));
                self.event(
                    Stage::GatewayHttp,
                    true,
                    ts,
                    format!("{} {}", head.status, head.reason),
                );
            }
            let user = self.user.clone();
            match head.status {
                401 => {
                    let challenge = head.values("www-authenticate").find_map(|v| {
                        let text = core::str::from_utf8(v).ok()?;
                        let (_, token) = text.split_once(' ')?;
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(token.trim())
                            .ok()?;
                        ChallengeFacts::from_ntlm(ntlm_in(&raw)?)
                    });
                    if let Some(c) = challenge {
                        self.facts.ntlm = Some(c);
                    } else if let Some(user) = user {
                        self.facts.auth = Some(GatewayAuth::Refused {
                            user,
                            status: 401,
                            reason: head.reason.to_owned(),
                            rdg_auth_scheme: head.value("rdg-auth-scheme"),
                        });
                        self.event(Stage::GatewayAuth, false, ts, "credentials refused");
                    }
                    let body = head
                        .value("content-length")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0)
                        .min(MAX_BODY);
                    self.sides[d].mode = Mode::Http {
                        buf: Vec::new(),
                        body,
                    };
                }
                101 | 200 => {
                    self.facts.auth = Some(match user {
                        Some(user) => GatewayAuth::Accepted { user },
                        None => GatewayAuth::Anonymous,
                    });
                    if head.status == 101 {
                        self.facts.transport = Some(GatewayTransport::WebSocket);
                        self.sides[0].mode = Mode::WebSocket(WsReader::default());
                        self.sides[1].mode = Mode::WebSocket(WsReader::default());
                    } else if self.method.as_deref() == Some("RDG_OUT_DATA") {
                        self.facts.transport = Some(GatewayTransport::Legacy);
                        // The random seed body FreeRDP and rdprobe skip (10 bytes).
                        self.sides[1].mode = Mode::Raw { skip: 10 };
                    } else {
                        // RDG_IN_DATA's 200: the client's chunked body comes next.
                        self.facts.transport = Some(GatewayTransport::Legacy);
                        self.sides[1].mode = Mode::Http {
                            buf: Vec::new(),
                            body: 0,
                        };
                    }
                    let transport = self.facts.transport.map_or("", |t| t.as_str());
                    let who = match &self.facts.auth {
                        Some(GatewayAuth::Accepted { user }) => format!("{user} accepted (NTLM)"),
                        _ => "no authentication asked".to_owned(),
                    };
                    self.event(
                        Stage::GatewayAuth,
                        true,
                        ts,
                        format!(
                            "{} {}: {who}, transport {transport}",
                            head.status, head.reason
                        ),
                    );
                }
                _ => {
                    self.sides[d].mode = Mode::Http {
                        buf: Vec::new(),
                        body: 0,
                    };
                }
            }
            buf[len..].to_vec()
        }
    }

    /// Tunnel bytes of `dir`: MS-TSGU packets, the DATA ones to the inner connection.
    fn packets(&mut self, dir: Dir, bytes: &[u8], ts: i64, keys: &Keys) {
        let d = dir.index();
        self.sides[d].packets.push(bytes);
        loop {
            let p = match self.sides[d].packets.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => return self.fail(d, e),
            };
            let Ok(packet) = rdp_proto::decode::<Packet>(&p) else {
                return self.fail(d, "a malformed MS-TSGU packet".into());
            };
            self.facts.observe(&packet);
            match &packet {
                Packet::HandshakeRequest { .. } => {
                    self.event(Stage::GatewayTunnel, false, ts, "handshake request")
                }
                Packet::TunnelAuthResponse { error_code, .. } => {
                    let code = crate::facts::gateway::ProxyError(*error_code);
                    let detail = if code.is_error() {
                        format!("tunnel authorization: {code}")
                    } else {
                        "authorized".to_owned()
                    };
                    self.event(Stage::GatewayTunnel, true, ts, detail);
                }
                Packet::ChannelCreate { .. } => {
                    self.event(Stage::GatewayChannel, false, ts, "channel create")
                }
                Packet::ChannelResponse { error_code, .. } => {
                    let code = crate::facts::gateway::ProxyError(*error_code);
                    let detail = if code.is_error() {
                        code.to_string()
                    } else {
                        "channel open".to_owned()
                    };
                    self.event(Stage::GatewayChannel, true, ts, detail);
                }
                // The legacy transport splits the inner connection over two TCP connections
                // (each carries one direction): kept for [`pair_legacy`].
                Packet::Data(bytes)
                    if self.facts.transport == Some(GatewayTransport::Legacy)
                        && self.legacy_bytes + bytes.len() <= MAX_LEGACY_DATA =>
                {
                    self.legacy_bytes += bytes.len();
                    self.legacy_data.push((dir, ts, bytes.to_vec()));
                }
                // Past the bound: the inner connection's handshake is long over.
                Packet::Data(_) if self.facts.transport == Some(GatewayTransport::Legacy) => {}
                Packet::Data(bytes) => {
                    let inner = self.inner.get_or_insert_with(|| Box::new(Session::new()));
                    if inner.wants_bytes() {
                        inner.feed(dir, bytes, ts, keys);
                    }
                }
                _ => {}
            }
        }
    }

    /// Ends the inner connection (its counters and facts).
    pub fn finish(&mut self) {
        if let Some(i) = self.inner.as_mut() {
            i.finish();
        }
    }
}

impl GatewayReader {
    /// The legacy transport's channel: its `RDG-Connection-Id`, when recognised as one.
    pub fn legacy_id(&self) -> Option<&str> {
        (self.recognized && self.facts.transport == Some(GatewayTransport::Legacy))
            .then_some(self.connection_id.as_deref())
            .flatten()
    }
}

/// The legacy transport's two channels of one connection id (MS-TSGU 3.3.5.1: `RDG_OUT_DATA`
/// carries the gateway's packets, `RDG_IN_DATA` the client's): the inner RDP connection is
/// rebuilt from the DATA of both, in time order, and given to the OUT channel's reader, with
/// the resource the client asked for on the IN channel.
pub fn pair_legacy(a: &mut GatewayReader, b: &mut GatewayReader, keys: &Keys) {
    let (out, inn) = if a.method.as_deref() == Some("RDG_OUT_DATA") {
        (a, b)
    } else {
        (b, a)
    };
    // The client's requests (the resource it asked a channel to) went over the IN channel.
    if out.facts.resource.is_none() {
        out.facts.resource = inn.facts.resource.clone();
    }
    let mut data = std::mem::take(&mut inn.legacy_data);
    data.append(&mut out.legacy_data);
    // Stable: at the same instant the client's bytes (the IN channel's) come first.
    data.sort_by_key(|(_, ts, _)| *ts);
    let mut session = Session::new();
    for (dir, ts, bytes) in &data {
        if session.wants_bytes() {
            session.feed(*dir, bytes, *ts, keys);
        }
    }
    session.finish();
    out.inner = Some(Box::new(session));
}

/// The account of an NTLM AUTHENTICATE in an `Authorization` field (`NTLM` or `Negotiate`).
fn ntlm_user(field: &str) -> Option<String> {
    let (_, token) = field.split_once(' ')?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let Ok(rdp_proto::ntlm::Message::Authenticate(a)) =
        rdp_proto::decode::<rdp_proto::ntlm::Message>(ntlm_in(&raw)?)
    else {
        return None;
    };
    let (user, domain) = (a.user_name(), a.domain_name());
    (!user.is_empty()).then(|| {
        if domain.is_empty() {
            user
        } else {
            format!("{domain}\\{user}")
        }
    })
}
