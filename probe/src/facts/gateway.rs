//! An RD Gateway (MS-TSGU over HTTPS): what its answer to an anonymous `RDG_OUT_DATA
//! /remoteDesktopGateway/` says (3.3.5.1; FreeRDP's rdg.c handling of each status), the one
//! interpreter of that answer for the probe's `gateway_http` stage and the capture's gateway
//! reader; the E_PROXY_* codes its packets carry; and what one probe learned of it
//! ([`GatewayFacts`]).

use core::net::IpAddr;

use rdp_proto::http::ResponseHead;
use rdp_proto::tsgu::Packet;

use super::cert::CertFacts;
use super::credssp::ChallengeFacts;
use super::probe::TlsSession;

/// An HRESULT an RD Gateway sends in a handshake, tunnel, tunnel authorization or channel
/// response (MS-TSGU 2.2.6, the E_PROXY_* values; FreeRDP's tsg.h, rdpgw's errors.go).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProxyError(pub u32);

impl ProxyError {
    pub const E_PROXY_INTERNALERROR: Self = Self(0x8007_59D8);
    pub const E_PROXY_RAP_ACCESSDENIED: Self = Self(0x8007_59DA);
    pub const E_PROXY_NAP_ACCESSDENIED: Self = Self(0x8007_59DB);
    pub const E_PROXY_TS_CONNECTFAILED: Self = Self(0x8007_59DD);
    pub const E_PROXY_ALREADYDISCONNECTED: Self = Self(0x8007_59DF);
    pub const E_PROXY_CAPABILITYMISMATCH: Self = Self(0x8007_59E9);
    pub const E_PROXY_QUARANTINE_ACCESSDENIED: Self = Self(0x8007_59ED);
    pub const E_PROXY_NOCERTAVAILABLE: Self = Self(0x8007_59EE);
    pub const E_PROXY_COOKIE_BADPACKET: Self = Self(0x8007_59F7);
    pub const E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED: Self = Self(0x8007_59F8);
    pub const E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD: Self = Self(0x8007_59F9);
    pub const E_PROXY_CONNECTIONABORTED: Self = Self(0x0000_04D4);
    pub const E_PROXY_MAXCONNECTIONSREACHED: Self = Self(0x0000_59E6);
    pub const E_PROXY_NOTSUPPORTED: Self = Self(0x0000_59E8);
    pub const E_PROXY_SESSIONTIMEOUT: Self = Self(0x0000_59F6);
    pub const E_PROXY_REAUTH_AUTHN_FAILED: Self = Self(0x0000_59FA);
    pub const E_PROXY_REAUTH_CAP_FAILED: Self = Self(0x0000_59FB);
    pub const E_PROXY_REAUTH_RAP_FAILED: Self = Self(0x0000_59FC);
    pub const E_PROXY_SDR_NOT_SUPPORTED_BY_TS: Self = Self(0x0000_59FD);
    pub const E_PROXY_REAUTH_NAP_FAILED: Self = Self(0x0000_5A00);

    /// Every named code with its name and what it means, in the order above.
    pub const TABLE: [(Self, &'static str, &'static str); 20] = [
        (Self::E_PROXY_INTERNALERROR, "E_PROXY_INTERNALERROR", "the gateway failed inside, or the client sent a packet out of order"),
        (Self::E_PROXY_RAP_ACCESSDENIED, "E_PROXY_RAP_ACCESSDENIED", "no RD resource authorization policy (RD RAP) lets this user reach this computer"),
        (Self::E_PROXY_NAP_ACCESSDENIED, "E_PROXY_NAP_ACCESSDENIED", "no RD connection authorization policy (RD CAP) lets this user use the gateway"),
        (Self::E_PROXY_TS_CONNECTFAILED, "E_PROXY_TS_CONNECTFAILED", "the gateway could not connect to the target (name, DNS or firewall as seen from the gateway, or the target is down)"),
        (Self::E_PROXY_ALREADYDISCONNECTED, "E_PROXY_ALREADYDISCONNECTED", "the tunnel or channel was already closed"),
        (Self::E_PROXY_CAPABILITYMISMATCH, "E_PROXY_CAPABILITYMISMATCH", "the client's and the gateway's capabilities or extended authentication do not match"),
        (Self::E_PROXY_QUARANTINE_ACCESSDENIED, "E_PROXY_QUARANTINE_ACCESSDENIED", "the client failed the gateway's health (NAP / SoH) check"),
        (Self::E_PROXY_NOCERTAVAILABLE, "E_PROXY_NOCERTAVAILABLE", "the gateway has no server certificate bound"),
        (Self::E_PROXY_COOKIE_BADPACKET, "E_PROXY_COOKIE_BADPACKET", "the pluggable-authentication (PAA) cookie is malformed"),
        (Self::E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED, "E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED", "the pluggable-authentication (PAA) cookie was refused"),
        (Self::E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD, "E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD", "the gateway does not accept this authentication method (password vs smart card, PAA)"),
        (Self::E_PROXY_CONNECTIONABORTED, "E_PROXY_CONNECTIONABORTED", "the connection was aborted"),
        (Self::E_PROXY_MAXCONNECTIONSREACHED, "E_PROXY_MAXCONNECTIONSREACHED", "the gateway's connection limit is reached"),
        (Self::E_PROXY_NOTSUPPORTED, "E_PROXY_NOTSUPPORTED", "the request is not supported by this gateway"),
        (Self::E_PROXY_SESSIONTIMEOUT, "E_PROXY_SESSIONTIMEOUT", "the gateway's session time limit ended the connection"),
        (Self::E_PROXY_REAUTH_AUTHN_FAILED, "E_PROXY_REAUTH_AUTHN_FAILED", "re-authentication failed"),
        (Self::E_PROXY_REAUTH_CAP_FAILED, "E_PROXY_REAUTH_CAP_FAILED", "re-authorization against the RD CAP failed"),
        (Self::E_PROXY_REAUTH_RAP_FAILED, "E_PROXY_REAUTH_RAP_FAILED", "re-authorization against the RD RAP failed"),
        (Self::E_PROXY_SDR_NOT_SUPPORTED_BY_TS, "E_PROXY_SDR_NOT_SUPPORTED_BY_TS", "the target does not support the gateway's silent reauthentication"),
        (Self::E_PROXY_REAUTH_NAP_FAILED, "E_PROXY_REAUTH_NAP_FAILED", "re-authorization against the health policy failed"),
    ];

    /// Success: zero (S_OK); FAILED(hr) is the top bit, but the 0x59xx codes come without it.
    pub fn is_error(self) -> bool {
        self.0 != 0
    }

    pub fn name(self) -> Option<&'static str> {
        Self::TABLE
            .iter()
            .find(|(c, ..)| *c == self)
            .map(|(_, n, _)| *n)
    }

    pub fn meaning(self) -> Option<&'static str> {
        Self::TABLE
            .iter()
            .find(|(c, ..)| *c == self)
            .map(|(.., m)| *m)
    }
}

impl core::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (0x{:08X})", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

/// How the tunnel's bytes travel (MS-TSGU 3.3.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayTransport {
    /// One connection upgraded to WebSocket (RFC 6455), the packets in binary frames.
    WebSocket,
    /// The legacy two-channel transport: `RDG_OUT_DATA`'s body from the gateway and
    /// `RDG_IN_DATA`'s chunked body to it, on two connections.
    Legacy,
}

impl GatewayTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::Legacy => "legacy",
        }
    }
}

/// How the gateway's HTTP authentication went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayAuth {
    /// The gateway let the request through without credentials.
    Anonymous,
    /// Not tried: no `--user` (the anonymous NTLM round gave the gateway's names).
    NotAttempted,
    /// The NTLM AUTHENTICATE was accepted: 101 (WebSocket) or 200 (legacy).
    Accepted { user: String },
    /// The gateway answered the AUTHENTICATE with this status and reason phrase (Windows
    /// says why: "User Account Restricted"), and `RDG-Auth-Scheme` (SMARTCARD, PAA) if any.
    Refused {
        user: String,
        status: u16,
        reason: String,
        rdg_auth_scheme: Option<String>,
    },
    /// The gateway offers no scheme rdprobe speaks (NTLM, or Negotiate with NTLM inside).
    NoScheme { offered: Vec<String> },
}

/// MS-TSGU 2.2.10.11 HTTP_HANDSHAKE_RESPONSE_PACKET, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeFacts {
    pub error: ProxyError,
    pub version: (u8, u8),
    pub server_version: u16,
    /// HTTP_EXTENDED_AUTH: 0x1 smart card, 0x2 PAA, 0x4 SSPI NTLM.
    pub extended_auth: u16,
}

/// MS-TSGU 2.2.10.20 HTTP_TUNNEL_RESPONSE, and 2.2.10.16 the tunnel authorization's answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelFacts {
    pub status: Option<ProxyError>,
    pub tunnel_id: Option<u32>,
    pub caps: Option<u32>,
    /// The tunnel authorization's errorCode (the RD CAP's answer).
    pub authorization: Option<ProxyError>,
    /// HTTP_TUNNEL_REDIR flags (device redirection the gateway allows).
    pub redir_flags: Option<u32>,
    /// Minutes; 0: none.
    pub idle_timeout: Option<u32>,
}

/// MS-TSGU 2.2.10.4 HTTP_CHANNEL_RESPONSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelFacts {
    pub error: ProxyError,
    pub channel_id: Option<u32>,
    pub udp_port: Option<u16>,
}

impl GatewayFacts {
    /// The one interpreter of the MS-TSGU packets of a tunnel's setup (either side's), for the
    /// probe's client and the capture's reader: the handshake, tunnel, authorization and
    /// channel answers with their codes, and the resource the client asked for. DATA, close
    /// and other packets say nothing here (a close's code depends on when it comes).
    pub fn observe(&mut self, p: &Packet<'_>) {
        match p {
            Packet::HandshakeResponse {
                error_code,
                ver_major,
                ver_minor,
                server_version,
                extended_auth,
            } => {
                self.handshake = Some(HandshakeFacts {
                    error: ProxyError(*error_code),
                    version: (*ver_major, *ver_minor),
                    server_version: *server_version,
                    extended_auth: *extended_auth,
                });
            }
            Packet::TunnelResponse {
                status_code,
                tunnel_id,
                caps,
                ..
            } => {
                let t = self.tunnel.get_or_insert_with(TunnelFacts::default);
                t.status = Some(ProxyError(*status_code));
                t.tunnel_id = *tunnel_id;
                t.caps = *caps;
            }
            Packet::TunnelAuthResponse {
                error_code,
                redir_flags,
                idle_timeout,
                ..
            } => {
                let t = self.tunnel.get_or_insert_with(TunnelFacts::default);
                t.authorization = Some(ProxyError(*error_code));
                t.redir_flags = *redir_flags;
                t.idle_timeout = *idle_timeout;
            }
            Packet::ChannelCreate {
                port, resources, ..
            } => {
                let name = resources.first().map_or_else(String::new, |r| {
                    let units: Vec<u16> = r
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .take_while(|u| *u != 0)
                        .collect();
                    String::from_utf16_lossy(&units)
                });
                self.resource = Some((name, *port));
            }
            Packet::ChannelResponse {
                error_code,
                channel_id,
                udp_port,
                ..
            } => {
                self.channel = Some(ChannelFacts {
                    error: ProxyError(*error_code),
                    channel_id: *channel_id,
                    udp_port: *udp_port,
                });
            }
            _ => {}
        }
    }
}

/// What one probe learned of the RD Gateway in front of the target.
#[derive(Clone, Debug, Default)]
pub struct GatewayFacts {
    pub host: String,
    pub port: u16,
    /// The address connected to.
    pub address: Option<IpAddr>,
    pub tls: Option<TlsSession>,
    /// The gateway's certificate.
    pub cert: Option<CertFacts>,
    /// The answer to the anonymous `RDG_OUT_DATA`.
    pub answer: Option<GatewayAnswer>,
    /// The anonymous NTLM CHALLENGE: the gateway's names, Windows version and clock.
    pub ntlm: Option<ChallengeFacts>,
    pub auth: Option<GatewayAuth>,
    pub transport: Option<GatewayTransport>,
    pub handshake: Option<HandshakeFacts>,
    pub tunnel: Option<TunnelFacts>,
    pub channel: Option<ChannelFacts>,
    /// The target as the channel request named it (resource, port).
    pub resource: Option<(String, u16)>,
}

/// The gateway's answer to the first, anonymous request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayHttp {
    /// 101 Switching Protocols: the WebSocket upgrade taken without credentials.
    Upgraded,
    /// 401: authentication required, with its schemes (Negotiate, NTLM, Basic, Digest, in the
    /// order offered), `RDG-Auth-Scheme` (SMARTCARD, PAA) and the reason phrase (Windows says
    /// why: "User Account Restricted").
    AuthRequired {
        schemes: Vec<String>,
        rdg_auth_scheme: Option<String>,
        reason: String,
    },
    /// 200: an older gateway without WebSocket: the legacy two-channel transport
    /// (RDG_IN_DATA and RDG_OUT_DATA).
    Legacy,
    /// 403, 404 or 410: the HTTP transport is disabled (RPC over HTTP only), or the path
    /// belongs to another application on the same server.
    TransportDisabled { status: u16 },
    /// 501: something in front (a reverse proxy, a CDN) refuses the RDG_* methods.
    MethodsBlocked,
    /// 503: the gateway service or its application pool is down.
    Unavailable,
    /// Anything else.
    Other { status: u16, reason: String },
}

/// The answer and who gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayAnswer {
    pub answer: GatewayHttp,
    /// The `Server` field (`Microsoft-HTTPAPI/2.0` for Windows' HTTP.sys).
    pub server: Option<String>,
}

impl GatewayAnswer {
    pub fn from_head(h: &ResponseHead<'_>) -> Self {
        let answer = match h.status {
            101 => GatewayHttp::Upgraded,
            200 => GatewayHttp::Legacy,
            401 => GatewayHttp::AuthRequired {
                schemes: h
                    .values("www-authenticate")
                    .filter_map(|v| {
                        let text = String::from_utf8_lossy(v);
                        text.split_whitespace().next().map(str::to_owned)
                    })
                    .collect(),
                rdg_auth_scheme: h.value("rdg-auth-scheme"),
                reason: h.reason.to_owned(),
            },
            403 | 404 | 410 => GatewayHttp::TransportDisabled { status: h.status },
            501 => GatewayHttp::MethodsBlocked,
            503 => GatewayHttp::Unavailable,
            status => GatewayHttp::Other {
                status,
                reason: h.reason.to_owned(),
            },
        };
        Self {
            answer,
            server: h.value("server"),
        }
    }

    /// Windows' HTTP.sys answered (an RD Gateway role, or another IIS application).
    pub fn windows(&self) -> bool {
        self.server
            .as_deref()
            .is_some_and(|s| s.starts_with("Microsoft-HTTPAPI") || s.starts_with("Microsoft-IIS"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_proto::http::parse_response;

    fn answer(head: &[u8]) -> GatewayAnswer {
        GatewayAnswer::from_head(&parse_response(head).unwrap().unwrap())
    }

    /// The answers a Windows gateway, a gateway without the HTTP transport, and a CDN in front
    /// give (research/gateway-udp-kerberos.md 2.1 and 2.4).
    #[test]
    fn each_answer_is_named() {
        let a = answer(b"HTTP/1.1 401 User Account Restricted\r\nServer: Microsoft-HTTPAPI/2.0\r\nRDG-Auth-Scheme: SMARTCARD\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nWWW-Authenticate: Digest qop=\"auth\",algorithm=MD5-sess\r\nWWW-Authenticate: Basic realm=\"gw01\"\r\n\r\n");
        assert!(a.windows());
        assert_eq!(
            a.answer,
            GatewayHttp::AuthRequired {
                schemes: vec![
                    "Negotiate".into(),
                    "NTLM".into(),
                    "Digest".into(),
                    "Basic".into()
                ],
                rdg_auth_scheme: Some("SMARTCARD".into()),
                reason: "User Account Restricted".into(),
            }
        );
        assert_eq!(
            answer(b"HTTP/1.1 404 Not Found\r\nServer: Microsoft-IIS/10.0\r\n\r\n").answer,
            GatewayHttp::TransportDisabled { status: 404 }
        );
        let cdn =
            answer(b"HTTP/1.1 501 Not Implemented\r\nServer: cloudflare\r\nCF-RAY: 1\r\n\r\n");
        assert_eq!(cdn.answer, GatewayHttp::MethodsBlocked);
        assert!(!cdn.windows());
        assert_eq!(
            answer(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").answer,
            GatewayHttp::Unavailable
        );
        assert_eq!(
            answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n").answer,
            GatewayHttp::Upgraded
        );
    }
}
