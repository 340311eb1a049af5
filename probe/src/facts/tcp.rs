//! What a TCP connection came to, in Zeek's vocabulary (`conn_state`, the `conn.log` field the
//! capture report keeps as `tcp.state`).

use serde::Serialize;

/// Zeek's `conn_state` of a connection (Zeek `base/protocols/conn/main.zeek`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, the originator aborted (sent a RST).
    RSTO,
    /// The responder sent a RST.
    RSTR,
    /// The originator sent a SYN followed by a RST; no SYN-ACK from the responder.
    RSTOS0,
    /// The responder sent a SYN-ACK followed by a RST; no SYN from the (purported) originator.
    RSTRH,
    /// The originator sent a SYN followed by a FIN; no SYN-ACK from the responder.
    SH,
    /// The responder sent a SYN-ACK followed by a FIN; no SYN from the originator.
    SHR,
    /// No SYN seen, just midstream traffic.
    #[default]
    OTH,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S0 => "S0",
            Self::S1 => "S1",
            Self::SF => "SF",
            Self::REJ => "REJ",
            Self::S2 => "S2",
            Self::S3 => "S3",
            Self::RSTO => "RSTO",
            Self::RSTR => "RSTR",
            Self::RSTOS0 => "RSTOS0",
            Self::RSTRH => "RSTRH",
            Self::SH => "SH",
            Self::SHR => "SHR",
            Self::OTH => "OTH",
        }
    }

    /// The connection never got an answer that opened it: refused, unanswered, or given up
    /// by the client before any answer.
    pub fn never_established(self) -> bool {
        matches!(self, Self::REJ | Self::S0 | Self::SH | Self::RSTOS0)
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
