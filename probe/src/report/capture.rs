//! Output DTOs of `rdprobe pcap` (the JSON keys the README lists under `rdprobe pcap`), filled by the capture pipeline and
//! rendered as JSON or text. No protocol types here: owned, serializable values.

use serde::{Deserialize, Serialize};

use crate::diagnose::diagnosis::Diagnosis;
use crate::diagnose::mstsc::MstscView;
use crate::diagnose::{Finding, Stage, StageRecord, Verdict};
use crate::facts::cert::CertFacts;
use crate::facts::decrypt::Decryption;
use crate::facts::gcc::{method_name, method_names, ConnectResponseFacts};
use crate::facts::probe::AuthFacts;
use crate::facts::rdp::{
    ClientFacts, ClientInfoFacts, NlaFacts, RdpFacts, Side, TlsHandshakeFacts,
};
use crate::facts::rdpeudp::UdpSynFacts;
use crate::facts::session::SessionFacts;
use crate::facts::tcp::ConnState;
use crate::facts::x224::protocol_names;
use crate::report::probe::{AuthReport, CredsspReport};
use crate::time::rfc3339;

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TcpReport {
    pub state: ConnState,
    pub history: String,
    pub syn_rtt_ms: Option<f64>,
    pub packets: u64,
    pub bytes: u64,
    pub client_packets: u64,
    pub server_packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub retransmissions: u64,
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub lost_segments: u64,
    pub out_of_order: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub keep_alives: u64,
    pub reset_by: Option<Side>,
    /// The stage during which the first RST was sent.
    pub reset_stage: Option<Stage>,
    pub injected_resets: u64,
    pub conflicting_overlaps: u64,
    pub gap_bytes: u64,
    pub role_guessed: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ClientData {
    pub version: Option<String>,
    pub build: Option<u32>,
    pub name: Option<String>,
    pub keyboard_layout: Option<u32>,
    pub desktop_width: Option<u16>,
    pub desktop_height: Option<u16>,
    pub color_depth: Option<u16>,
    pub product_id: Option<String>,
    pub channels: Vec<String>,
    pub encryption_methods: Vec<String>,
    pub early_capability_flags: Option<u16>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ServerData {
    pub version: Option<String>,
    pub mcs_result: Option<String>,
    pub encryption_method: Option<String>,
    pub encryption_level: Option<String>,
    pub certificate_type: Option<String>,
    pub certificate_count: Option<usize>,
    pub certificate_permanent: Option<bool>,
    pub rsa_key_bits: Option<u32>,
    pub client_requested_protocols: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub self_signed: bool,
    pub key_type: String,
    pub key_bits: u32,
    pub signature: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TlsReport {
    pub client_versions: Vec<String>,
    pub sni: Option<String>,
    pub client_suites: usize,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub certificate: Option<Certificate>,
    pub chain_length: usize,
    pub alert: Option<String>,
    pub alert_by: Option<Side>,
    pub established: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RdpReport {
    pub cookie: Option<String>,
    pub routing_token: Option<String>,
    pub requested_protocols: Option<Vec<String>>,
    /// The Connection Request's RDP_NEG_REQ flags (RESTRICTED_ADMIN_MODE_REQUIRED: Restricted
    /// Admin, no credentials delegated; REDIRECTED_AUTHENTICATION_MODE_REQUIRED: Remote
    /// Credential Guard); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_flags: Vec<String>,
    pub selected_protocol: Option<String>,
    pub failure: Option<String>,
    pub neg_flags: Vec<String>,
    pub legacy_no_negotiation: bool,
    pub client: Option<ClientData>,
    pub server: Option<ServerData>,
    pub tls: Option<TlsReport>,
    pub licensing: Option<String>,
    pub error_info: Option<String>,
    pub disconnect_reason: Option<String>,
    pub fast_path_pdus: u64,
    pub bulk_bytes: u64,
    /// Bytes before the first TPKT that were skipped (e.g. a SOCKS5 CONNECT exchange).
    pub prefix_bytes: u64,
    /// The capture joined this connection after its start (no SYN, no X.224: it begins in
    /// TLS): only what is visible is reported.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub joined_midstream: bool,
    /// What was seen after the MCS connect (null when nothing was).
    pub session: Option<SessionReport>,
    /// The TLS session read with a key (absent when no key log was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionReport>,
    /// CredSSP read from the decrypted session: the server's TSRequest (as in a probe result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credssp: Option<CredsspReport>,
    /// The logon the client attempted in CredSSP (as in a probe result, plus what the client
    /// said about itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthReport>,
    /// The Client Info PDU (a password in it: `password_present`, never the password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<ClientInfoReport>,
}

/// `decryption`: with which key a connection's TLS was read, or why it was not.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct DecryptionReport {
    /// "decrypted", "no_key" or "failed".
    pub result: &'static str,
    /// "keylog_file" or "capture_file" (a pcapng Decryption Secrets Block).
    pub source: Option<&'static str>,
    pub suite: Option<String>,
    /// Records opened, client and server.
    pub records: Option<(u64, u64)>,
    /// Why not, or where it stopped ("the key does not decrypt: server record 5 fails its tag").
    pub notice: Option<String>,
}

impl From<&Decryption> for DecryptionReport {
    fn from(d: &Decryption) -> Self {
        let notice = d.notice();
        match *d {
            Decryption::Decrypted {
                source,
                suite,
                records,
            } => Self {
                result: "decrypted",
                source: Some(source.as_str()),
                suite: Some(suite.to_string()),
                records: Some(records),
                notice,
            },
            Decryption::NoKey(_) => Self {
                result: "no_key",
                source: None,
                suite: None,
                records: None,
                notice,
            },
            Decryption::Failed { source, suite, .. } => Self {
                result: "failed",
                source: Some(source.as_str()),
                suite: Some(suite.to_string()),
                records: None,
                notice,
            },
        }
    }
}

/// `client_info`: who logs on to the session, from the Client Info PDU.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ClientInfoReport {
    pub user: String,
    pub domain: String,
    pub password_present: bool,
    pub auto_logon: bool,
}

impl From<&ClientInfoFacts> for ClientInfoReport {
    fn from(c: &ClientInfoFacts) -> Self {
        Self {
            user: c.user.clone(),
            domain: c.domain.clone(),
            password_present: c.password_present,
            auto_logon: c.auto_logon,
        }
    }
}

/// The `auth` object of a captured logon.
fn captured_auth(nla: &NlaFacts, ended: bool) -> Option<AuthReport> {
    let outcome = nla.outcome(ended)?;
    let mut r = AuthReport::from(&AuthFacts {
        user: nla.account(),
        mechanism: crate::facts::credssp::Mechanism::Ntlm,
        fallback_reason: None,
        outcome,
    });
    r.mechanism = nla.client.mechanism.map(|m| m.as_str());
    r.workstation = nla.client.workstation.clone();
    Some(r)
}

impl From<&ClientFacts> for ClientData {
    fn from(c: &ClientFacts) -> Self {
        Self {
            version: c.version.map(|v| v.label()),
            build: c.build,
            name: c.name.clone(),
            keyboard_layout: c.keyboard_layout,
            desktop_width: c.desktop_width,
            desktop_height: c.desktop_height,
            color_depth: c.color_depth,
            product_id: c.product_id.clone(),
            channels: c.channels.clone(),
            encryption_methods: method_names(c.encryption_methods),
            early_capability_flags: c.early_capability_flags,
        }
    }
}

impl From<&TlsHandshakeFacts> for TlsReport {
    /// Everything but the certificate, which the analyzer judges once per capture.
    fn from(t: &TlsHandshakeFacts) -> Self {
        Self {
            client_versions: t.client_versions.iter().map(|v| v.label()).collect(),
            sni: t.sni.clone(),
            client_suites: t.client_suites,
            version: t.server.map(|sh| sh.version.label()),
            cipher: t.server.map(|sh| sh.cipher.to_string()),
            certificate: None,
            chain_length: t.chain_length,
            alert: t
                .alert
                .map(|(_, a)| format!("{} {}", a.level, a.description)),
            alert_by: t.alert.map(|(d, _)| d.sender()),
            established: t.established,
        }
    }
}

impl From<&RdpFacts> for RdpReport {
    /// Everything but the TLS certificate, which the analyzer judges once per capture.
    fn from(f: &RdpFacts) -> Self {
        let confirm = f.confirm.as_ref();
        Self {
            cookie: f.cookie.clone(),
            routing_token: f.routing_token.clone(),
            requested_protocols: f.requested.map(|p| p.names()),
            request_flags: f
                .request_flags
                .map_or_else(Vec::new, rdp_proto::nego::flag_names),
            selected_protocol: confirm.and_then(|c| c.selected()).map(protocol_names),
            failure: confirm
                .and_then(|c| c.failure())
                .map(|code| code.to_string()),
            neg_flags: confirm.map_or_else(Vec::new, |c| rdp_proto::nego::flag_names(c.flags())),
            legacy_no_negotiation: confirm.is_some_and(|c| c.is_legacy()),
            client: f.client.as_ref().map(ClientData::from),
            server: f.connect_response.as_ref().map(ServerData::from_facts),
            tls: f.tls.as_ref().map(TlsReport::from),
            licensing: f
                .session
                .licensing
                .error
                .map(|(code, transition)| format!("{code} / {transition}")),
            error_info: f.session.error_info.map(|e| format!("0x{:08x} {e}", e.0)),
            disconnect_reason: f.ended_by.map(|e| e.describe()),
            fast_path_pdus: f.fast_path_pdus,
            bulk_bytes: f.bulk_bytes,
            prefix_bytes: f.prefix_bytes,
            joined_midstream: f.joined_midstream,
            session: (!f.session.is_empty()).then(|| SessionReport::from(&f.session)),
            decryption: f.decryption.as_ref().map(DecryptionReport::from),
            credssp: f
                .nla
                .as_ref()
                .and_then(|n| n.server.as_ref())
                .map(CredsspReport::from),
            // The report is built when the connection is over.
            auth: f.nla.as_ref().and_then(|n| captured_auth(n, true)),
            client_info: f.client_info.as_ref().map(ClientInfoReport::from),
        }
    }
}

/// `session`: the walk past MCS as far as it was seen (the same object in a probe result and in
/// a capture connection's `rdp`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SessionReport {
    pub channels: ChannelsReport,
    pub licensing: LicensingReport,
    pub error_info: Option<CodeName>,
    pub disconnect_reason: Option<String>,
    pub redirect: Option<RedirectReport>,
    pub capabilities: Option<CapabilitiesReport>,
    /// The logon notification after a logon with credentials.
    pub logon: Option<LogonReport>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LogonReport {
    pub notified: bool,
    #[serde(rename = "type")]
    pub info_type: String,
}

/// A Server Redirection: where a broker sent the client (never followed).
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RedirectReport {
    pub target_address: Option<String>,
    pub target_fqdn: Option<String>,
    pub target_netbios: Option<String>,
    pub load_balance_info: Option<String>,
    pub session_id: u32,
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ChannelsReport {
    pub io_channel: Option<u16>,
    pub user_channel: Option<u16>,
    pub joined: Vec<u16>,
    pub refused: Vec<RefusedChannel>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RefusedChannel {
    pub channel: u16,
    pub result: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LicensingReport {
    /// "valid_client", "license_issued", "error", "started", "encrypted", "not_reached".
    pub outcome: &'static str,
    pub error_code: Option<u32>,
    pub error_name: Option<String>,
    pub state_transition: Option<String>,
}

/// A code and its name (`name` is the number when the code is not known).
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CodeName {
    pub code: u32,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CapabilitiesReport {
    pub os_major: Option<String>,
    pub os_minor: Option<String>,
    pub desktop_width: Option<u16>,
    pub desktop_height: Option<u16>,
    pub color_depth: Option<u16>,
    pub sets: Vec<String>,
}

impl From<&SessionFacts> for SessionReport {
    fn from(f: &SessionFacts) -> Self {
        let c = &f.channels;
        let l = &f.licensing;
        Self {
            channels: ChannelsReport {
                io_channel: c.io_channel,
                user_channel: c.user_channel,
                joined: c.joined.clone(),
                refused: c
                    .refused
                    .iter()
                    .map(|(channel, result)| RefusedChannel {
                        channel: *channel,
                        result: result.to_string(),
                    })
                    .collect(),
            },
            licensing: LicensingReport {
                outcome: l.outcome.as_str(),
                error_code: l.error.map(|(code, _)| code.0),
                error_name: l.error.map(|(code, _)| code.to_string()),
                state_transition: l.error.map(|(_, st)| st.to_string()),
            },
            error_info: f.error_info.map(|e| CodeName {
                code: e.0,
                name: e.to_string(),
            }),
            disconnect_reason: f.disconnect.map(|r| r.to_string()),
            redirect: f.redirect.as_ref().map(|r| RedirectReport {
                target_address: r.target_address.clone(),
                target_fqdn: r.target_fqdn.clone(),
                target_netbios: r.target_netbios.clone(),
                load_balance_info: r.load_balance_info.clone(),
                session_id: r.session_id,
                flags: r.flag_names(),
            }),
            capabilities: f.capabilities.as_ref().map(|c| CapabilitiesReport {
                os_major: c.os_major.map(|v| v.to_string()),
                os_minor: c.os_minor.map(|v| v.to_string()),
                desktop_width: c.desktop_width,
                desktop_height: c.desktop_height,
                color_depth: c.color_depth,
                sets: c.sets.iter().map(|s| s.to_string()).collect(),
            }),
            logon: f.logon.as_ref().map(|l| LogonReport {
                notified: true,
                info_type: l.info_type.clone(),
            }),
        }
    }
}

/// One connection of a capture.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Connection {
    pub client: String,
    pub server: String,
    /// RFC 3339 time of the first packet.
    pub start: String,
    pub duration_ms: f64,
    pub verdict: Verdict,
    pub stopped_at: Option<Stage>,
    pub stages: Vec<StageRecord>,
    pub tcp: TcpReport,
    // Boxed, as are the other large optional parts: a connection without them (a SYN scan's)
    // is a few hundred bytes to build, hand on and drop, not kilobytes.
    pub rdp: Option<Box<RdpReport>>,
    /// A connection that began with a TLS ClientHello (HTTPS): the name asked for and the
    /// certificate, whether it was decrypted and read as an RD Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<Box<HttpsReport>>,
    /// An RD Gateway connection, decrypted: the gateway's answer, authentication, transport,
    /// tunnel and channel (the same object as the probe's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Box<crate::report::gateway::GatewayReport>>,
    /// The RDP connection inside the gateway's tunnel, analysed as a connection of its own
    /// (its stages, facts, findings and verdict; no TCP of its own in the capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<Box<Connection>>,
    /// What mstsc would most likely show (null: it connects).
    pub mstsc: Option<MstscView>,
    /// One sentence: what happens, why, the fix to try first.
    pub diagnosis: Diagnosis,
    pub findings: Vec<Finding>,
    /// The connection over time (only with `--html`, for its plots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Box<SeriesReport>>,
    /// First packet number in the file.
    pub first_packet: u64,
}

/// A connection that began with a TLS ClientHello.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct HttpsReport {
    /// The ClientHello's server_name.
    pub sni: Option<String>,
    pub version: Option<String>,
    /// The server's certificate (TLS 1.2 in clear; TLS 1.3 only decrypted).
    pub certificate: Option<Certificate>,
    pub decrypted: bool,
    /// Its decrypted requests are an RD Gateway's (`RDG_OUT_DATA`, `RDG_IN_DATA`).
    pub rd_gateway: bool,
}

/// A UDP flow that speaks MS-RDPEUDP.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct UdpFlow {
    pub client: String,
    pub server: String,
    pub start: String,
    pub datagrams: u64,
    pub bytes: u64,
    pub syn: u64,
    pub syn_ack: u64,
    /// The client's SYN and the server's SYN+ACK, decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_syn: Option<UdpSynReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_syn_ack: Option<UdpSynReport>,
    /// The version the server chose ("1", "2", "3 (RDP-UDP2)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The RDP TCP connection this transport belongs to (`client -> server`, as its
    /// connection is named), by hosts and time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_connection: Option<String>,
}

/// One SYN or SYN+ACK of MS-RDPEUDP.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct UdpSynReport {
    pub version: String,
    pub up_mtu: u16,
    pub down_mtu: u16,
    pub receive_window: u16,
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cookie_hash: bool,
}

impl From<&UdpSynFacts> for UdpSynReport {
    fn from(f: &UdpSynFacts) -> Self {
        Self {
            version: f.version().label(),
            up_mtu: f.up_mtu,
            down_mtu: f.down_mtu,
            receive_window: f.receive_window,
            flags: f
                .flags
                .iter_names()
                .map(|(n, _)| n.trim_start_matches("RDPUDP_FLAG_").to_owned())
                .collect(),
            correlation_id: f
                .correlation_id
                .map(|id| id.iter().map(|b| format!("{b:02x}")).collect()),
            cookie_hash: f.cookie_hash,
        }
    }
}

impl UdpFlow {
    /// The report of one flow: its endpoints and start, (datagrams, bytes, SYNs, SYN+ACKs),
    /// its handshake and its TCP connection.
    pub fn from_facts(
        client: String,
        server: String,
        start: String,
        (datagrams, bytes, syn, syn_ack): (u64, u64, u64, u64),
        client_syn: Option<&UdpSynFacts>,
        server_syn_ack: Option<&UdpSynFacts>,
        tcp_connection: Option<String>,
    ) -> Self {
        Self {
            client,
            server,
            start,
            datagrams,
            bytes,
            syn,
            syn_ack,
            client_syn: client_syn.map(UdpSynReport::from),
            server_syn_ack: server_syn_ack.map(UdpSynReport::from),
            version: server_syn_ack.map(|s| s.version().label()),
            tcp_connection,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Summary {
    pub connections: usize,
    pub rdp_connections: usize,
    pub ok: usize,
    pub warning: usize,
    pub error: usize,
    pub other_tcp_flows: u64,
    /// Of those, refused or unanswered ones (RDP on a port not given with --port?), and the
    /// first few of their ports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_tcp_failed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_tcp_failed_ports: Vec<u16>,
    pub udp_rdp_flows: usize,
    pub evicted_flows: u64,
    pub undecodable_packets: u64,
    pub non_ip_packets: u64,
    /// Bytes and gaps given up to keep out-of-order reassembly within its memory limits
    /// (256 KiB a direction, segment overhead included; 128 MiB in all); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reassembly_skipped_bytes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reassembly_skipped_gaps: u64,
}

/// Most ports [`Summary::other_tcp_failed_ports`] names.
pub const MAX_FAILED_PORTS: usize = 8;

impl Summary {
    /// Adds another file's summary: the counts summed (saturating: `summarize` reads them from
    /// files), the failed ports the lowest [`MAX_FAILED_PORTS`] of both (so the sum does not
    /// depend on the order).
    pub fn add(&mut self, o: &Summary) {
        self.connections = self.connections.saturating_add(o.connections);
        self.rdp_connections = self.rdp_connections.saturating_add(o.rdp_connections);
        self.ok = self.ok.saturating_add(o.ok);
        self.warning = self.warning.saturating_add(o.warning);
        self.error = self.error.saturating_add(o.error);
        self.other_tcp_flows = self.other_tcp_flows.saturating_add(o.other_tcp_flows);
        self.other_tcp_failed = self.other_tcp_failed.saturating_add(o.other_tcp_failed);
        let ports = &mut self.other_tcp_failed_ports;
        ports.extend(&o.other_tcp_failed_ports);
        ports.sort_unstable();
        ports.dedup();
        ports.truncate(MAX_FAILED_PORTS);
        self.udp_rdp_flows = self.udp_rdp_flows.saturating_add(o.udp_rdp_flows);
        self.evicted_flows = self.evicted_flows.saturating_add(o.evicted_flows);
        self.undecodable_packets = self
            .undecodable_packets
            .saturating_add(o.undecodable_packets);
        self.non_ip_packets = self.non_ip_packets.saturating_add(o.non_ip_packets);
        self.reassembly_skipped_bytes = self
            .reassembly_skipped_bytes
            .saturating_add(o.reassembly_skipped_bytes);
        self.reassembly_skipped_gaps = self
            .reassembly_skipped_gaps
            .saturating_add(o.reassembly_skipped_gaps);
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Everything `rdprobe pcap` says about one file.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CaptureReport {
    pub file: String,
    pub packets: u64,
    pub bytes: u64,
    /// What the connections show together (`password-spray`, `brute-force`), before them:
    /// absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub connections: Vec<Connection>,
    pub udp: Vec<UdpFlow>,
    pub notices: Vec<String>,
    pub summary: Summary,
}

impl ServerData {
    /// The `rdp.server` object of a Connect-Response.
    pub fn from_facts(f: &ConnectResponseFacts) -> Self {
        let sec = f.security.as_ref();
        Self {
            version: f.version.map(|v| v.label()),
            mcs_result: Some(f.result.to_string()),
            encryption_method: sec.map(|s| method_name(s.method)),
            encryption_level: sec.map(|s| s.level.to_string()),
            certificate_type: sec
                .and_then(|s| s.certificate)
                .map(|k| k.label().to_owned()),
            certificate_count: sec.and_then(|s| s.certificate_count),
            certificate_permanent: sec.and_then(|s| s.permanent),
            rsa_key_bits: sec.and_then(|s| s.rsa_bits),
            client_requested_protocols: f.client_requested_protocols.map(|p| p.names()),
        }
    }
}

impl Certificate {
    /// A certificate's facts, its validity judged at `now` (Unix seconds).
    pub fn from_facts(c: &CertFacts, now: i64) -> Self {
        Self {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sans: c.sans.clone(),
            serial: c.serial.clone(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            expired: c.expired_at(now),
            not_yet_valid: c.not_yet_valid_at(now),
            self_signed: c.self_signed,
            key_type: c.key_type.clone(),
            key_bits: c.key_bits,
            signature: c.signature.clone(),
        }
    }
}

/// A connection over time (the JSON's `series`): values per interval of `interval_ms` from the
/// connection's first packet.
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SeriesReport {
    pub interval_ms: f64,
    pub client_bytes: Vec<u64>,
    pub server_bytes: Vec<u64>,
    pub retransmissions: Vec<u32>,
    pub zero_windows: Vec<u32>,
    /// The largest RTT sample in each interval (null: none), in ms.
    pub rtt_ms: Vec<Option<f64>>,
    /// The longest time without a packet, and when it began.
    pub longest_gap_ms: f64,
    pub longest_gap_from_ms: f64,
}
