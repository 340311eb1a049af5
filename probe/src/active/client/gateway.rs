//! The client side of an RD Gateway (MS-TSGU's HTTP transport, 3.3.5), sans-IO: the HTTP
//! requests and their authentication ([`HttpAuth`]: the anonymous `RDG_OUT_DATA`, NTLM's
//! NEGOTIATE and AUTHENTICATE in `Authorization` headers), the tunnel's packets ([`Tsgu`]:
//! handshake, tunnel create, tunnel authorization, channel create), and the framing of the
//! tunnel's bytes (WebSocket frames, the legacy transport's chunks, [`PacketReader`]). The
//! driver (`active/gateway.rs`) moves the bytes; every fact goes to [`GatewayFacts`], whose
//! meaning `plan::gateway` decides.

use base64::Engine as _;
use rdp_proto::http::ResponseHead;
use rdp_proto::ntlm::{Challenge, Message};
use rdp_proto::tsgu::Packet;
pub use rdp_proto::tsgu::PacketReader;
use rdp_proto::websocket::{self, Frame};
pub use rdp_proto::websocket::{Event as WsEvent, Reader as WsReader};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use super::cssp::{authenticate, probe_version, NtlmLogon};
use crate::active::credentials::Credentials;
use crate::facts::credssp::ChallengeFacts;
use crate::facts::gateway::{
    ChannelFacts, GatewayAnswer, GatewayAuth, GatewayFacts, HandshakeFacts, ProxyError, TunnelFacts,
};

/// The gateway's HTTP endpoint (MS-TSGU 3.3.5.1).
pub const PATH: &str = "/remoteDesktopGateway/";
/// RFC 6455 1.3: the GUID of Sec-WebSocket-Accept.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The client name rdprobe gives in the tunnel authorization.
pub const CLIENT_NAME: &str = "RDPROBE";

/// Which of the two HTTP channels (the WebSocket upgrade rides on `RDG_OUT_DATA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Out,
    In,
}

impl Channel {
    pub fn method(self) -> &'static str {
        match self {
            Self::Out => "RDG_OUT_DATA",
            Self::In => "RDG_IN_DATA",
        }
    }
}

/// What one HTTP connection to the gateway needs.
#[derive(Debug)]
pub struct HttpConfig<'c> {
    pub channel: Channel,
    /// Ask for the WebSocket upgrade (the OUT channel, first try).
    pub websocket: bool,
    /// The gateway's name for `Host` and the NTLM target `HTTP/<host>`.
    pub host: String,
    /// `RDG-Connection-Id`: a braced GUID shared by the two legacy channels.
    pub connection_id: String,
    /// `--user` (None: the anonymous round only).
    pub credentials: Option<&'c Credentials>,
    /// 16 random bytes: the WebSocket key.
    pub key: [u8; 16],
    /// The NTLM client challenge (8) and exported session key (16).
    pub ntlm_random: [u8; 24],
    pub now_filetime: u64,
    /// The MD5 of the TLS channel bindings (`tls-server-end-point`, RFC 5929), zeros without.
    pub channel_bindings: [u8; 16],
    /// Start with the NTLM NEGOTIATE (the IN channel: the OUT channel's first answer is known).
    pub skip_anonymous: bool,
}

/// What the driver does after an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpStep {
    /// Write this request on the same connection and read the next answer head.
    Send(Vec<u8>),
    /// 101 Switching Protocols with a valid `Sec-WebSocket-Accept`: the tunnel rides on it.
    Upgraded,
    /// 200: the legacy transport (OUT: the 10-byte seed body follows; IN: the chunked body
    /// is next to write).
    Accepted,
    /// Over: refused, or no credentials to go on with (the facts say which).
    Stop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Anonymous,
    Negotiate,
    Authenticate,
    Done,
}

/// The HTTP exchange on one connection to the gateway: the request, then NTLM in
/// `Authorization` headers (`NTLM` or `Negotiate`, whichever the gateway offered) until 101,
/// 200 or a refusal.
pub struct HttpAuth<'c> {
    cfg: HttpConfig<'c>,
    state: State,
    /// The scheme the NTLM tokens go in ("NTLM" or "Negotiate").
    scheme: &'static str,
    negotiate: Vec<u8>,
    ws_key: String,
}

impl core::fmt::Debug for HttpAuth<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpAuth")
            .field("channel", &self.cfg.channel)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 4.2.2).
pub fn websocket_accept(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WEBSOCKET_GUID.as_bytes());
    b64(&h.finalize())
}

impl<'c> HttpAuth<'c> {
    /// The exchange and its first request.
    pub fn start(cfg: HttpConfig<'c>) -> (Self, Vec<u8>) {
        let negotiate = rdp_proto::encode_vec(&rdp_proto::ntlm::Negotiate::probe(probe_version()))
            .unwrap_or_default();
        let ws_key = b64(&cfg.key);
        let mut a = Self {
            state: State::Anonymous,
            scheme: "NTLM",
            negotiate,
            ws_key,
            cfg,
        };
        let first = if a.cfg.skip_anonymous {
            a.state = State::Negotiate;
            a.request(Some(&a.negotiate.clone()))
        } else {
            a.request(None)
        };
        (a, first)
    }

    /// An HTTP request as mstsc makes it (research: gateway-udp-kerberos.md 2.1), with the
    /// NTLM `token` in `Authorization` when given.
    fn request(&self, token: Option<&[u8]>) -> Vec<u8> {
        let c = &self.cfg;
        let mut r = format!(
            "{} {PATH} HTTP/1.1\r\nCache-Control: no-cache\r\nPragma: no-cache\r\nAccept: */*\r\n\
             User-Agent: MS-RDGateway/1.0\r\nHost: {}\r\nRDG-Connection-Id: {}\r\n",
            c.channel.method(),
            c.host,
            c.connection_id
        );
        if c.websocket {
            r += &format!(
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: {}\r\n",
                self.ws_key
            );
        } else {
            r += "Connection: Keep-Alive\r\n";
        }
        if let Some(t) = token {
            r += &format!("Authorization: {} {}\r\n", self.scheme, b64(t));
        }
        r += "Content-Length: 0\r\n\r\n";
        r.into_bytes()
    }

    /// The IN channel's second request once authenticated: the same request, its body chunked
    /// (the client-to-gateway stream; FreeRDP's rdg.c and Windows' mstsc do this).
    pub fn chunked_request(&self) -> Vec<u8> {
        let c = &self.cfg;
        format!(
            "{} {PATH} HTTP/1.1\r\nCache-Control: no-cache\r\nPragma: no-cache\r\nAccept: */*\r\n\
             User-Agent: MS-RDGateway/1.0\r\nHost: {}\r\nRDG-Connection-Id: {}\r\n\
             Connection: Keep-Alive\r\nTransfer-Encoding: chunked\r\n\r\n",
            c.channel.method(),
            c.host,
            c.connection_id
        )
        .into_bytes()
    }

    /// The gateway's answer `head` to the last request.
    pub fn on_head(&mut self, head: &ResponseHead<'_>, f: &mut GatewayFacts) -> HttpStep {
        let state = std::mem::replace(&mut self.state, State::Done);
        if state == State::Anonymous || (f.answer.is_none() && self.cfg.channel == Channel::Out) {
            f.answer = Some(GatewayAnswer::from_head(head));
        }
        let user = || {
            self.cfg
                .credentials
                .map(|c| c.display())
                .unwrap_or_default()
        };
        match head.status {
            101 => {
                if state == State::Anonymous {
                    f.auth = Some(GatewayAuth::Anonymous);
                } else if state == State::Authenticate {
                    f.auth = Some(GatewayAuth::Accepted { user: user() });
                }
                let accept = head.value("sec-websocket-accept");
                if self.cfg.websocket && accept.as_deref() == Some(&websocket_accept(&self.ws_key))
                {
                    HttpStep::Upgraded
                } else {
                    f.auth = Some(GatewayAuth::Refused {
                        user: user(),
                        status: 101,
                        reason: format!(
                            "101 without a valid Sec-WebSocket-Accept ({})",
                            accept.as_deref().unwrap_or("none")
                        ),
                        rdg_auth_scheme: None,
                    });
                    HttpStep::Stop
                }
            }
            200 => {
                if state == State::Anonymous {
                    f.auth = Some(GatewayAuth::Anonymous);
                } else if state == State::Authenticate {
                    f.auth = Some(GatewayAuth::Accepted { user: user() });
                }
                HttpStep::Accepted
            }
            401 => self.on_401(state, head, f),
            _ => {
                if state == State::Authenticate {
                    f.auth = Some(GatewayAuth::Refused {
                        user: user(),
                        status: head.status,
                        reason: head.reason.to_owned(),
                        rdg_auth_scheme: head.value("rdg-auth-scheme"),
                    });
                }
                HttpStep::Stop
            }
        }
    }

    fn on_401(&mut self, state: State, head: &ResponseHead<'_>, f: &mut GatewayFacts) -> HttpStep {
        let user = || {
            self.cfg
                .credentials
                .map(|c| c.display())
                .unwrap_or_default()
        };
        match state {
            State::Anonymous => {
                let offered: Vec<String> = head
                    .values("www-authenticate")
                    .filter_map(|v| {
                        String::from_utf8_lossy(v)
                            .split_whitespace()
                            .next()
                            .map(str::to_owned)
                    })
                    .collect();
                let scheme = if offered.iter().any(|s| s.eq_ignore_ascii_case("NTLM")) {
                    "NTLM"
                } else if offered.iter().any(|s| s.eq_ignore_ascii_case("Negotiate")) {
                    "Negotiate"
                } else {
                    f.auth = Some(GatewayAuth::NoScheme { offered });
                    return HttpStep::Stop;
                };
                self.scheme = scheme;
                self.state = State::Negotiate;
                HttpStep::Send(self.request(Some(&self.negotiate)))
            }
            State::Negotiate => {
                let token = head.values("www-authenticate").find_map(|v| {
                    let text = core::str::from_utf8(v).ok()?;
                    let (scheme, token) = text.split_once(' ')?;
                    let ok = scheme.eq_ignore_ascii_case("NTLM")
                        || scheme.eq_ignore_ascii_case("Negotiate");
                    ok.then(|| {
                        base64::engine::general_purpose::STANDARD
                            .decode(token.trim())
                            .ok()
                    })
                    .flatten()
                });
                let Some(token) = token else {
                    // No CHALLENGE: the NEGOTIATE itself was refused.
                    f.auth = Some(GatewayAuth::Refused {
                        user: user(),
                        status: 401,
                        reason: format!("{} (no NTLM CHALLENGE)", head.reason),
                        rdg_auth_scheme: head.value("rdg-auth-scheme"),
                    });
                    return HttpStep::Stop;
                };
                let challenge = crate::facts::credssp::ntlm_in(&token)
                    .and_then(|m| ChallengeFacts::from_ntlm(m).map(|c| (m, c)));
                let Some((msg, facts)) = challenge else {
                    f.auth = Some(GatewayAuth::Refused {
                        user: user(),
                        status: 401,
                        reason: "the WWW-Authenticate token is not an NTLM CHALLENGE".into(),
                        rdg_auth_scheme: None,
                    });
                    return HttpStep::Stop;
                };
                f.ntlm = Some(facts);
                let Some(creds) = self.cfg.credentials else {
                    f.auth.get_or_insert(GatewayAuth::NotAttempted);
                    return HttpStep::Stop;
                };
                let Ok(Message::Challenge(ch)) = rdp_proto::decode::<Message>(msg) else {
                    return HttpStep::Stop;
                };
                match self.authenticate(creds, &ch, msg) {
                    Some(auth) => {
                        self.state = State::Authenticate;
                        HttpStep::Send(self.request(Some(&auth)))
                    }
                    None => {
                        f.auth = Some(GatewayAuth::Refused {
                            user: user(),
                            status: 401,
                            reason: "the CHALLENGE does not offer what NTLMv2 needs".into(),
                            rdg_auth_scheme: None,
                        });
                        HttpStep::Stop
                    }
                }
            }
            State::Authenticate | State::Done => {
                f.auth = Some(GatewayAuth::Refused {
                    user: user(),
                    status: 401,
                    reason: head.reason.to_owned(),
                    rdg_auth_scheme: head.value("rdg-auth-scheme"),
                });
                HttpStep::Stop
            }
        }
    }

    fn authenticate(
        &self,
        creds: &Credentials,
        ch: &Challenge<'_>,
        token: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(&self.cfg.ntlm_random[..8]);
        let mut exported = Zeroizing::new([0u8; 16]);
        exported.copy_from_slice(&self.cfg.ntlm_random[8..]);
        let target = format!("HTTP/{}", self.cfg.host);
        authenticate(
            &NtlmLogon {
                creds,
                negotiate: &self.negotiate,
                target_name: &target,
                channel_bindings: self.cfg.channel_bindings,
                now_filetime: self.cfg.now_filetime,
                client_challenge,
                exported: &exported,
            },
            ch,
            token,
        )
        .map(Zeroizing::new)
    }
}

/// The MD5 of the TLS channel bindings for a server certificate (RFC 5929
/// `tls-server-end-point`, in a gss_channel_bindings_struct as MS-NLMP's MsvAvChannelBindings
/// carries it): what a gateway with Extended Protection for Authentication checks. The hash is
/// SHA-256 (the certificate's own hash when it is SHA-384 or SHA-512 is not told apart here).
pub fn channel_bindings(cert_der: &[u8]) -> [u8; 16] {
    use md5::Md5;
    let mut app = b"tls-server-end-point:".to_vec();
    app.extend_from_slice(&sha2::Sha256::digest(cert_der));
    let mut st = Vec::with_capacity(20 + app.len());
    // initiator addrtype and address, acceptor addrtype and address: empty.
    st.extend_from_slice(&[0u8; 16]);
    st.extend_from_slice(&u32::try_from(app.len()).unwrap_or(0).to_le_bytes());
    st.extend_from_slice(&app);
    Md5::digest(&st).into()
}

/// A packet, encoded.
fn packet(p: &Packet<'_>) -> Vec<u8> {
    rdp_proto::encode_vec(p).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    Tunnel,
    Authorization,
    Channel,
    Open,
    Refused,
}

/// What the driver does after a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum TsguStep {
    Send(Vec<u8>),
    /// Read the next packet (a keepalive or a service message came).
    Read,
    /// The channel is open: DATA packets from now on.
    Open,
    /// The gateway refused (the facts hold its code).
    Refused,
}

/// The tunnel's setup (MS-TSGU 3.3.5.2 to 3.3.5.5): handshake, tunnel create, tunnel
/// authorization, channel create to `resource`:`port`.
#[derive(Debug)]
pub struct Tsgu {
    phase: Phase,
    resource: String,
    port: u16,
}

/// HTTP_CAPABILITY_IDLE_TIMEOUT: the only capability rdprobe asks for (no consent or service
/// message to answer, no health statement).
const CAPS: u32 = 0x2;

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

impl Tsgu {
    /// The setup and its first packet, the handshake request (version 1.0, no extended
    /// authentication).
    pub fn start(resource: &str, port: u16) -> (Self, Vec<u8>) {
        (
            Self {
                phase: Phase::Handshake,
                resource: resource.to_owned(),
                port,
            },
            packet(&Packet::HandshakeRequest {
                ver_major: 1,
                ver_minor: 0,
                client_version: 0,
                extended_auth: 0,
            }),
        )
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// The gateway's next packet.
    pub fn on_packet(&mut self, p: &Packet<'_>, f: &mut GatewayFacts) -> TsguStep {
        f.observe(p);
        let refused = |me: &mut Self| {
            me.phase = Phase::Refused;
            TsguStep::Refused
        };
        let failed = |code: &u32| ProxyError(*code).is_error();
        match (self.phase, p) {
            (Phase::Handshake, Packet::HandshakeResponse { error_code, .. }) => {
                if failed(error_code) {
                    return refused(self);
                }
                self.phase = Phase::Tunnel;
                TsguStep::Send(packet(&Packet::TunnelCreate {
                    caps: CAPS,
                    fields_present: 0,
                    optional: &[],
                }))
            }
            (Phase::Tunnel, Packet::TunnelResponse { status_code, .. }) => {
                if failed(status_code) {
                    return refused(self);
                }
                self.phase = Phase::Authorization;
                let name = utf16z(CLIENT_NAME);
                TsguStep::Send(packet(&Packet::TunnelAuth {
                    fields_present: 0,
                    client_name: &name,
                    rest: &[],
                }))
            }
            (Phase::Authorization, Packet::TunnelAuthResponse { error_code, .. }) => {
                if failed(error_code) {
                    return refused(self);
                }
                self.phase = Phase::Channel;
                let name = utf16z(&self.resource);
                let create = Packet::ChannelCreate {
                    port: self.port,
                    protocol: 3,
                    resources: vec![&name],
                    alt_resources: vec![],
                };
                f.observe(&create);
                TsguStep::Send(packet(&create))
            }
            (Phase::Channel, Packet::ChannelResponse { error_code, .. }) => {
                if failed(error_code) {
                    return refused(self);
                }
                self.phase = Phase::Open;
                TsguStep::Open
            }
            // The gateway ends the tunnel: its status is the answer to what was asked.
            (phase, Packet::CloseChannel { status_code, .. }) => {
                let error = ProxyError(*status_code);
                match phase {
                    Phase::Handshake => {
                        f.handshake = Some(HandshakeFacts {
                            error,
                            version: (0, 0),
                            server_version: 0,
                            extended_auth: 0,
                        });
                    }
                    Phase::Tunnel => {
                        f.tunnel.get_or_insert_with(TunnelFacts::default).status = Some(error);
                    }
                    Phase::Authorization => {
                        f.tunnel
                            .get_or_insert_with(TunnelFacts::default)
                            .authorization = Some(error);
                    }
                    _ => {
                        f.channel = Some(ChannelFacts {
                            error,
                            channel_id: None,
                            udp_port: None,
                        });
                    }
                }
                refused(self)
            }
            (_, Packet::Other { .. }) => TsguStep::Read,
            _ => refused(self),
        }
    }
}

/// The tunnel's DATA packets for `bytes` (at most 64 KiB less the header each).
pub fn data_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .chunks(0xFFF0)
        .map(|c| packet(&Packet::Data(c)))
        .collect()
}

/// The close request rdprobe sends when its RDP connection is done.
pub fn close_packet() -> Vec<u8> {
    packet(&Packet::CloseChannel {
        response: false,
        status_code: 0,
    })
}

/// A client's WebSocket binary frame (masked with `mask`, RFC 6455 5.3).
pub fn websocket_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let masked: Vec<u8> = payload
        .iter()
        .zip(mask.iter().cycle())
        .map(|(b, k)| b ^ k)
        .collect();
    rdp_proto::encode_vec(&Frame {
        fin: true,
        rsv: 0,
        opcode: websocket::OPCODE_BINARY,
        mask: Some(mask),
        payload: &masked,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests;
