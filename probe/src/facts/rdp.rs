//! What one observed RDP connection established, PDU by PDU, as the capture's RDP reader fills
//! it: the Connection Request and Confirm, the client's GCC data, the Connect-Response, the TLS
//! handshake in clear, the certificates, what came after the MCS connect, and how the
//! connection was ended by a PDU. The report is built from this (`report::capture`), and the
//! rules read it; nothing here is a report string.

use rdp_proto::gcc::{ClientBlock, ConferenceCreateRequest, EncryptionMethods, RdpVersion};
use rdp_proto::mcs::DisconnectReason;
use rdp_proto::nego::SecurityProtocol;
use rdp_proto::tls::{Alert, ClientHello, ProtocolVersion};
use serde::Serialize;

use super::gcc::ConnectResponseFacts;
use super::session::SessionFacts;
use super::tls::ServerHelloFacts;
use super::x224::Confirm;

/// Direction of bytes: client to server, or server to client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    /// 0 for the client's direction, 1 for the server's (per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Self::ClientToServer => 0,
            Self::ServerToClient => 1,
        }
    }

    /// The side that sends in this direction.
    pub fn sender(self) -> Side {
        match self {
            Self::ClientToServer => Side::Client,
            Self::ServerToClient => Side::Server,
        }
    }

    /// The direction `side` sends in.
    pub fn from(side: Side) -> Self {
        match side {
            Side::Client => Self::ClientToServer,
            Side::Server => Self::ServerToClient,
        }
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One RDP connection as observed.
#[derive(Clone, Debug, Default)]
pub struct RdpFacts {
    /// The Connection Request's cookie (`mstshash=`) or routing token, as sent.
    pub cookie: Option<String>,
    pub routing_token: Option<String>,
    /// The client's RDP_NEG_REQ `requestedProtocols` (None: no negotiation data).
    pub requested: Option<SecurityProtocol>,
    /// The server's Connection Confirm.
    pub confirm: Option<Confirm>,
    /// The client's GCC Conference Create Request.
    pub client: Option<ClientFacts>,
    /// The server's MCS Connect-Response.
    pub connect_response: Option<ConnectResponseFacts>,
    /// The TLS handshake as far as it is in clear (None: no TLS record seen).
    pub tls: Option<TlsHandshakeFacts>,
    /// The TLS certificate chain, DER, server's first (at most a few certificates).
    pub tls_chain: Vec<Vec<u8>>,
    /// The X.509 chain of Standard RDP Security's server certificate.
    pub rdp_x509_chain: Vec<Vec<u8>>,
    /// What the PDUs after the MCS connect said (channels, licensing, Demand Active, errors).
    pub session: SessionFacts,
    /// The last PDU that ended the connection (X.224 Disconnect Request, MCS ultimatum).
    pub ended_by: Option<EndingPdu>,
    /// The capture joined this connection after its start (it begins in TLS).
    pub joined_midstream: bool,
    /// Bytes before the first TPKT that were skipped (e.g. a SOCKS5 CONNECT exchange).
    pub prefix_bytes: u64,
    pub fast_path_pdus: u64,
    /// TLS application-data bytes, both ways.
    pub bulk_bytes: u64,
}

/// A PDU that ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndingPdu {
    /// X.224 Disconnect Request (ISO 8073 13.5) with its reason.
    X224DisconnectRequest(u8),
    /// MCS Disconnect Provider Ultimatum (T.125) with its reason.
    Ultimatum(DisconnectReason),
}

impl EndingPdu {
    /// In words, with the reason.
    pub fn describe(self) -> String {
        match self {
            Self::X224DisconnectRequest(reason) => {
                format!("X.224 Disconnect Request, reason {reason}")
            }
            Self::Ultimatum(reason) => format!("MCS Disconnect Provider Ultimatum {reason}"),
        }
    }
}

/// The TLS handshake of one connection, as far as it is in clear.
#[derive(Clone, Debug, Default)]
pub struct TlsHandshakeFacts {
    /// The ClientHello's versions (supported_versions, else legacy_version), its SNI and how
    /// many cipher suites it offers.
    pub client_versions: Vec<ProtocolVersion>,
    pub sni: Option<String>,
    pub client_suites: usize,
    pub server: Option<ServerHelloFacts>,
    /// Certificates in the server's Certificate message.
    pub chain_length: usize,
    /// A TLS alert during the handshake, and who sent it.
    pub alert: Option<(Dir, Alert)>,
    /// ChangeCipherSpec seen both ways.
    pub established: bool,
}

impl TlsHandshakeFacts {
    /// The ClientHello's part.
    pub fn client_hello(&mut self, ch: &ClientHello<'_>) {
        self.client_versions = ch.versions();
        self.sni = ch.sni().map(|s| String::from_utf8_lossy(s).into_owned());
        self.client_suites = ch.cipher_suites().count();
    }
}

/// What a client's GCC Conference Create Request says about it (MS-RDPBCGR 2.2.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFacts {
    pub version: Option<RdpVersion>,
    pub build: Option<u32>,
    pub name: Option<String>,
    pub keyboard_layout: Option<u32>,
    pub desktop_width: Option<u16>,
    pub desktop_height: Option<u16>,
    pub color_depth: Option<u16>,
    pub product_id: Option<String>,
    pub early_capability_flags: Option<u16>,
    /// The static virtual channels' names (CS_NET).
    pub channels: Vec<String>,
    /// CS_SECURITY `encryptionMethods` (empty when the block is missing).
    pub encryption_methods: EncryptionMethods,
}

impl ClientFacts {
    /// The one interpreter of a client's GCC data.
    pub fn from_pdu(gcc: &ConferenceCreateRequest<'_>) -> Self {
        let mut c = Self::default();
        if let Some(core) = gcc.core() {
            c.version = Some(core.version);
            c.build = Some(core.client_build);
            c.name = Some(core.client_name());
            c.keyboard_layout = Some(core.keyboard_layout);
            c.desktop_width = Some(core.desktop_width);
            c.desktop_height = Some(core.desktop_height);
            c.color_depth = core.optional.high_color_depth;
            c.product_id = core.dig_product_id();
            c.early_capability_flags = core.optional.early_capability_flags;
        }
        for b in &gcc.blocks {
            match b {
                ClientBlock::Security(s) => c.encryption_methods = s.encryption_methods,
                ClientBlock::Network(n) => {
                    c.channels = n.channels.iter().map(|ch| ch.name()).collect();
                }
                _ => {}
            }
        }
        c
    }
}
