//! What one captured connection established: its TCP facts (Zeek's conn_state, the handshake,
//! who reset or closed it, loss) and its RDP facts, as the capture analyzer hands them to
//! [`crate::diagnose::conclude::connection`]. The report is built from these and the
//! conclusion at the edge.

use super::cert::CertFacts;
use super::kerberos::KrbEvent;
use super::rdp::{RdpFacts, Side};
use super::stage::Stage;
use super::tcp::ConnState;

/// One finished connection of a capture.
#[derive(Clone, Debug)]
pub struct ConnectionFacts<'a> {
    pub tcp: TcpFacts,
    /// What the RDP reader established.
    pub rdp: &'a RdpFacts,
    /// The connection spoke RDP (a Connection Request or Confirm was seen, or it joined in TLS
    /// on an RDP port).
    pub is_rdp: bool,
    /// The server answered with bytes that are not RDP.
    pub not_rdp: Option<&'a str>,
    /// The server's port is one the user named as RDP.
    pub rdp_port: bool,
    /// TLS is established both ways (ChangeCipherSpec seen from each side).
    pub tls_established: bool,
    /// Encrypted bulk data both ways, or fast-path traffic: the session was reached.
    pub reached_bulk: bool,
    /// The stage a Set Error Info ended.
    pub error_stage: Option<Stage>,
    /// The stage in progress (or due next) when the connection ended, from its start.
    pub due: Stage,
    /// The certificates, parsed: the TLS server's and Standard RDP Security's own.
    pub tls_certificate: Option<CertFacts>,
    pub rdp_certificate: Option<CertFacts>,
    /// The capture time of the first packet, Unix seconds (certificates are judged then).
    pub start: i64,
    /// The client's Kerberos exchange with its KDC just before and during the connection.
    pub kerberos: &'a [KrbEvent],
}

/// The TCP side of a finished connection.
#[derive(Clone, Debug, Default)]
pub struct TcpFacts {
    /// The server's address and port, as evidence names it.
    pub server: String,
    pub state: ConnState,
    /// The client's SYN and the server's SYN-ACK were seen.
    pub syn: bool,
    pub synack: bool,
    /// The three-way handshake completed.
    pub established: bool,
    /// Payload was seen from the client, from the server.
    pub client_spoke: bool,
    pub server_spoke: bool,
    /// Who sent the first RST, and the stage it came in (None: unknown).
    pub first_rst: Option<(Side, Option<Stage>)>,
    /// Who sent the first FIN.
    pub first_fin: Option<Side>,
    /// Who ended the connection first (FIN or RST), in words ("the client closed the
    /// connection", "the capture ends").
    pub ended_by: String,
    pub client_ended_first: bool,
    /// The server sent FIN or RST.
    pub server_closed: bool,
    /// Neither side sent FIN or RST before the capture ended.
    pub open_at_end: bool,
    /// From the first packet to the last, ns.
    pub duration_ns: i64,
    /// Resets injected by a middlebox, and why they look injected.
    pub injected_resets: u64,
    pub injected_detail: Option<String>,
    /// Packets the client sent (its SYNs, for an unanswered connection).
    pub client_packets: u64,
    pub packets: u64,
    pub retransmissions: u64,
    pub lost_segments: u64,
    pub zero_windows: u64,
}

impl TcpFacts {
    /// No handshake in the capture: it joined the connection mid-way.
    pub fn midstream(&self) -> bool {
        !self.syn && !self.synack
    }
}
