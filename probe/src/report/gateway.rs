//! `gateway` in a probe's result (`--gateway`): what the RD Gateway showed, stage by stage,
//! built from [`GatewayFacts`] at the edge.

use serde::Serialize;

use super::probe::NtlmReport;
use crate::facts::gateway::{GatewayAuth, GatewayFacts, GatewayHttp, ProxyError};
use crate::time::rfc3339;

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct GatewayCertReport {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub self_signed: bool,
    pub dns_names: Vec<String>,
}

/// The gateway's answer to the anonymous `RDG_OUT_DATA`.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct GatewayHttpReport {
    /// "upgraded", "legacy", "auth_required", "transport_disabled", "methods_blocked",
    /// "unavailable", "other".
    pub answer: &'static str,
    pub status: u16,
    pub server: Option<String>,
    /// `WWW-Authenticate` schemes, in the order offered.
    pub schemes: Vec<String>,
    pub rdg_auth_scheme: Option<String>,
    pub reason: Option<String>,
}

/// The HTTP authentication.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct GatewayAuthReport {
    /// "anonymous", "not_attempted", "ok", "refused", "no_scheme".
    pub result: &'static str,
    pub user: Option<String>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub rdg_auth_scheme: Option<String>,
}

/// An E_PROXY code: hex and name.
fn code(e: ProxyError) -> String {
    if e.is_error() {
        e.to_string()
    } else {
        "ok".to_owned()
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TunnelReport {
    pub handshake: Option<String>,
    pub version: Option<String>,
    /// HTTP_EXTENDED_AUTH bits the gateway answered (0x1 smart card, 0x2 PAA, 0x4 SSPI NTLM).
    pub extended_auth: Option<u16>,
    pub tunnel_id: Option<u32>,
    pub status: Option<String>,
    pub caps: Option<u32>,
    /// The tunnel authorization's code (the RD CAP).
    pub authorization: Option<String>,
    pub redir_flags: Option<u32>,
    pub idle_timeout_min: Option<u32>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ChannelReport {
    pub resource: Option<String>,
    pub port: Option<u16>,
    /// The channel response's code (the RD RAP; E_PROXY_TS_CONNECTFAILED).
    pub result: String,
    pub channel_id: Option<u32>,
    pub udp_port: Option<u16>,
}

/// What the probe learned of the RD Gateway.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct GatewayReport {
    pub host: String,
    pub port: u16,
    pub address: Option<String>,
    pub tls: Option<String>,
    pub certificate: Option<GatewayCertReport>,
    pub http: Option<GatewayHttpReport>,
    /// The anonymous NTLM round: the gateway's names, Windows version and clock.
    pub ntlm: Option<NtlmReport>,
    pub auth: Option<GatewayAuthReport>,
    /// "websocket" or "legacy".
    pub transport: Option<&'static str>,
    pub tunnel: Option<TunnelReport>,
    pub channel: Option<ChannelReport>,
}

impl From<&GatewayFacts> for GatewayReport {
    fn from(f: &GatewayFacts) -> Self {
        let http = f.answer.as_ref().map(|a| {
            let (answer, status, schemes, rdg, reason) = match &a.answer {
                GatewayHttp::Upgraded => ("upgraded", 101, vec![], None, None),
                GatewayHttp::Legacy => ("legacy", 200, vec![], None, None),
                GatewayHttp::AuthRequired {
                    schemes,
                    rdg_auth_scheme,
                    reason,
                } => (
                    "auth_required",
                    401,
                    schemes.clone(),
                    rdg_auth_scheme.clone(),
                    Some(reason.clone()),
                ),
                GatewayHttp::TransportDisabled { status } => {
                    ("transport_disabled", *status, vec![], None, None)
                }
                GatewayHttp::MethodsBlocked => ("methods_blocked", 501, vec![], None, None),
                GatewayHttp::Unavailable => ("unavailable", 503, vec![], None, None),
                GatewayHttp::Other { status, reason } => {
                    ("other", *status, vec![], None, Some(reason.clone()))
                }
            };
            GatewayHttpReport {
                answer,
                status,
                server: a.server.clone(),
                schemes,
                rdg_auth_scheme: rdg,
                reason,
            }
        });
        let auth = f.auth.as_ref().map(|a| match a {
            GatewayAuth::Anonymous => GatewayAuthReport {
                result: "anonymous",
                user: None,
                status: None,
                reason: None,
                rdg_auth_scheme: None,
            },
            GatewayAuth::NotAttempted => GatewayAuthReport {
                result: "not_attempted",
                user: None,
                status: None,
                reason: None,
                rdg_auth_scheme: None,
            },
            GatewayAuth::Accepted { user } => GatewayAuthReport {
                result: "ok",
                user: Some(user.clone()),
                status: None,
                reason: None,
                rdg_auth_scheme: None,
            },
            GatewayAuth::Refused {
                user,
                status,
                reason,
                rdg_auth_scheme,
            } => GatewayAuthReport {
                result: "refused",
                user: Some(user.clone()),
                status: Some(*status),
                reason: Some(reason.clone()),
                rdg_auth_scheme: rdg_auth_scheme.clone(),
            },
            GatewayAuth::NoScheme { offered } => GatewayAuthReport {
                result: "no_scheme",
                user: None,
                status: Some(401),
                reason: Some(offered.join(", ")),
                rdg_auth_scheme: None,
            },
        });
        let tunnel = (f.handshake.is_some() || f.tunnel.is_some()).then(|| {
            let t = f.tunnel.unwrap_or_default();
            TunnelReport {
                handshake: f.handshake.map(|h| code(h.error)),
                version: f
                    .handshake
                    .map(|h| format!("{}.{}", h.version.0, h.version.1)),
                extended_auth: f.handshake.map(|h| h.extended_auth),
                tunnel_id: t.tunnel_id,
                status: t.status.map(code),
                caps: t.caps,
                authorization: t.authorization.map(code),
                redir_flags: t.redir_flags,
                idle_timeout_min: t.idle_timeout,
            }
        });
        let channel = f.channel.map(|c| ChannelReport {
            resource: f.resource.as_ref().map(|r| r.0.clone()),
            port: f.resource.as_ref().map(|r| r.1),
            result: code(c.error),
            channel_id: c.channel_id,
            udp_port: c.udp_port,
        });
        Self {
            host: f.host.clone(),
            port: f.port,
            address: f.address.map(|a| a.to_string()),
            tls: f
                .tls
                .as_ref()
                .map(|t| format!("{} {}", t.version, t.cipher)),
            certificate: f.cert.as_ref().map(|c| GatewayCertReport {
                subject: c.subject.clone(),
                issuer: c.issuer.clone(),
                not_after: rfc3339(c.not_after),
                self_signed: c.self_signed,
                dns_names: c.dns_names.clone(),
            }),
            http,
            ntlm: f.ntlm.as_ref().map(|ch| NtlmReport {
                netbios_domain: ch.netbios_domain.clone(),
                netbios_computer: ch.netbios_computer.clone(),
                dns_domain: ch.dns_domain.clone(),
                dns_computer: ch.dns_computer.clone(),
                dns_tree: ch.dns_tree.clone(),
                product_version: ch.product_version.clone(),
                timestamp: ch.timestamp.map(rfc3339),
                clock_skew_s: None,
            }),
            auth,
            transport: f.transport.map(|t| t.as_str()),
            tunnel,
            channel,
        }
    }
}
