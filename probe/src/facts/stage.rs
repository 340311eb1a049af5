//! The stages of an RDP connection (MS-RDPBCGR 1.3.1.1) in timeline order, the path through
//! them for a selected security layer, and how one went.

use rdp_proto::nego::SecurityProtocol;
use serde::Serialize;

/// One stage of the connection sequence. The declaration order is the timeline order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `--gateway`: the RD Gateway's name, TCP and TLS (its own connection, before the target's).
    GatewayDns,
    GatewayTcp,
    GatewayTls,
    /// `RDG_OUT_DATA` and the gateway's first answer (MS-TSGU 3.3.5.1).
    GatewayHttp,
    /// HTTP authentication (NTLM), then the WebSocket upgrade or the legacy transport.
    GatewayAuth,
    /// MS-TSGU handshake, tunnel create and tunnel authorization (the RD CAP).
    GatewayTunnel,
    /// The channel to the target (the RD RAP; the gateway connects to the target).
    GatewayChannel,
    Dns,
    Tcp,
    X224,
    Tls,
    /// `--user` with Kerberos: the KDC's tickets for the user and for `TERMSRV/host` (asked
    /// when CredSSP starts, as mstsc's Negotiate package does).
    Kerberos,
    Credssp,
    Mcs,
    Channels,
    SecurityExchange,
    ClientInfo,
    Licensing,
    Capabilities,
    Finalization,
    Active,
}

impl Stage {
    /// Every stage, in timeline order.
    pub const ALL: [Self; 21] = [
        Self::GatewayDns,
        Self::GatewayTcp,
        Self::GatewayTls,
        Self::GatewayHttp,
        Self::GatewayAuth,
        Self::GatewayTunnel,
        Self::GatewayChannel,
        Self::Dns,
        Self::Tcp,
        Self::X224,
        Self::Tls,
        Self::Kerberos,
        Self::Credssp,
        Self::Mcs,
        Self::Channels,
        Self::SecurityExchange,
        Self::ClientInfo,
        Self::Licensing,
        Self::Capabilities,
        Self::Finalization,
        Self::Active,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GatewayDns => "gateway_dns",
            Self::GatewayTcp => "gateway_tcp",
            Self::GatewayTls => "gateway_tls",
            Self::GatewayHttp => "gateway_http",
            Self::GatewayAuth => "gateway_auth",
            Self::GatewayTunnel => "gateway_tunnel",
            Self::GatewayChannel => "gateway_channel",
            Self::Dns => "dns",
            Self::Tcp => "tcp",
            Self::X224 => "x224",
            Self::Tls => "tls",
            Self::Kerberos => "kerberos",
            Self::Credssp => "credssp",
            Self::Mcs => "mcs",
            Self::Channels => "channels",
            Self::SecurityExchange => "security_exchange",
            Self::ClientInfo => "client_info",
            Self::Licensing => "licensing",
            Self::Capabilities => "capabilities",
            Self::Finalization => "finalization",
            Self::Active => "active",
        }
    }
}

impl Stage {
    /// The stage that follows this one on a connection whose Confirm selected `selected`
    /// (None: no selection seen): MS-RDPBCGR 1.3.1.1's sequence, with TLS and CredSSP only
    /// for the layers that run them and the Security Exchange only under Standard RDP
    /// Security. `Active` is the last. The gateway's stages (with `--gateway`) come first.
    pub fn after(self, selected: Option<SecurityProtocol>) -> Self {
        let tls = selected.is_some_and(|p| !p.is_empty());
        let nla = selected.is_some_and(SecurityProtocol::is_nla);
        let rdp_security = selected == Some(SecurityProtocol::RDP);
        match self {
            Self::GatewayDns => Self::GatewayTcp,
            Self::GatewayTcp => Self::GatewayTls,
            Self::GatewayTls => Self::GatewayHttp,
            Self::GatewayHttp => Self::GatewayAuth,
            Self::GatewayAuth => Self::GatewayTunnel,
            Self::GatewayTunnel => Self::GatewayChannel,
            // Inside the tunnel: the gateway resolved and connected to the target.
            Self::GatewayChannel => Self::X224,
            Self::Dns => Self::Tcp,
            Self::Tcp => Self::X224,
            Self::X224 if tls => Self::Tls,
            Self::X224 => Self::Mcs,
            Self::Tls if nla => Self::Credssp,
            Self::Kerberos => Self::Credssp,
            Self::Tls | Self::Credssp => Self::Mcs,
            Self::Mcs => Self::Channels,
            Self::Channels if rdp_security => Self::SecurityExchange,
            Self::Channels | Self::SecurityExchange => Self::ClientInfo,
            Self::ClientInfo => Self::Licensing,
            Self::Licensing => Self::Capabilities,
            Self::Capabilities => Self::Finalization,
            Self::Finalization | Self::Active => Self::Active,
        }
    }

    /// The stages after X.224 up to and including `last`, for a connection whose Confirm
    /// selected `selected`.
    pub fn path(selected: SecurityProtocol, last: Self) -> Vec<Self> {
        let mut out = Vec::new();
        let mut s = Self::X224;
        while s < last {
            s = s.after(Some(selected));
            out.push(s);
        }
        out
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How a stage went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Ok,
    Failed,
    Timeout,
    /// Seen beginning (a capture that ends or breaks before the stage completes).
    Started,
    /// Not tried: the target's time ran out first.
    Skipped,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Started => "started",
            Self::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for StageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for StageStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path after X.224 for each kind of selection.
    #[test]
    fn the_path_follows_the_selected_layer() {
        use Stage::*;
        let nla = SecurityProtocol::HYBRID;
        assert_eq!(Stage::path(nla, Mcs), [Tls, Credssp, Mcs]);
        assert_eq!(Stage::path(SecurityProtocol::SSL, Mcs), [Tls, Mcs]);
        assert_eq!(
            Stage::path(SecurityProtocol::RDP, ClientInfo),
            [Mcs, Channels, SecurityExchange, ClientInfo]
        );
        assert_eq!(
            Stage::path(nla, Active)[3..],
            [
                Channels,
                ClientInfo,
                Licensing,
                Capabilities,
                Finalization,
                Active
            ]
        );
        assert_eq!(Capabilities.after(Some(nla)), Finalization);
        assert_eq!(Active.after(None), Active);
        assert_eq!(X224.after(None), Mcs);
    }

    #[test]
    fn names_are_the_json_names_in_timeline_order() {
        let all = Stage::ALL;
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        for s in all {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(
            serde_json::to_string(&StageStatus::Skipped).unwrap(),
            "\"skipped\""
        );
    }
}

/// One stage of a timeline, as recorded: how it went, when it ended, and in words.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct StageRecord {
    pub name: Stage,
    pub status: StageStatus,
    /// Milliseconds from the connection's (or the probe's) start to the end of this stage.
    pub elapsed_ms: f64,
    pub detail: String,
}
