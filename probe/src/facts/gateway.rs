//! What an RD Gateway's answer to an anonymous `RDG_OUT_DATA /remoteDesktopGateway/` says
//! (MS-TSGU 3.3.5.1; FreeRDP's rdg.c handling of each status): the one interpreter of that
//! answer, for the probe's `http` stage and the capture's gateway reader.

use rdp_proto::http::ResponseHead;

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
