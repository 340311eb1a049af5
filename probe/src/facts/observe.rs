//! What a client observes of one connection attempt before any PDU has a meaning: a connect
//! failure, a read failure, a Connection Confirm or what came instead, and what one address
//! answered. The probe's driver fills these; the plan and the report read them.

use serde::Serialize;

use super::x224::Confirm;

/// Why a TCP connection did not open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    Refused,
    Timeout,
    /// The server accepted (SYN-ACK) and reset before the connect call returned: that is a
    /// server closing at once, not a network error.
    Reset,
    /// The target's deadline (or the global --rate) left no time to try.
    NoTime,
    Unreachable(String),
    Other(String),
}

/// Why no frame came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// The deadline passed; `got` bytes had arrived (a silent server has 0).
    Timeout {
        got: usize,
    },
    /// The peer closed (FIN) after `got` bytes.
    Closed {
        got: usize,
    },
    /// The peer reset the connection.
    Reset {
        got: usize,
    },
    /// The bytes are not the expected framing (HTTP, an SSH banner, garbage).
    NotFrame {
        head: Vec<u8>,
    },
    /// A well-formed frame, but not the one expected (e.g. an MCS Disconnect Provider
    /// Ultimatum instead of a Connection Confirm).
    Unexpected(String),
    Io(String),
}

impl ReadFailure {
    pub fn describe(&self) -> String {
        match self {
            Self::Timeout { got: 0 } => "no answer before the deadline".into(),
            Self::Timeout { got } => format!("only {got} bytes of a frame before the deadline"),
            Self::Closed { got: 0 } => "the server closed the connection without answering".into(),
            Self::Closed { got } => format!("the server closed the connection after {got} bytes"),
            Self::Reset { got } => format!("the server reset the connection (after {got} bytes)"),
            Self::NotFrame { head } => describe_non_rdp(head),
            Self::Unexpected(what) => what.clone(),
            Self::Io(e) => e.clone(),
        }
    }
}

/// How one Connection Request went: the answer, or where it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrOutcome {
    Confirmed(Confirm),
    ConnectFailed(ConnectFailure),
    NoConfirm(ReadFailure),
}

impl CrOutcome {
    /// A Confirm that accepts `layer` asked for alone.
    pub fn accepts(&self, layer: super::x224::Layer) -> bool {
        matches!(self, Self::Confirmed(c) if layer.accepted_by(c))
    }
}

/// What a TPKT frame that should have been a Connection Confirm was.
pub fn read_confirm(frame: &[u8]) -> CrOutcome {
    use rdp_proto::x224::Tpdu;
    if let Some(c) = Confirm::parse(frame) {
        return CrOutcome::Confirmed(c);
    }
    // xrdp answers some requests with an MCS Disconnect Provider Ultimatum.
    let failure = match Tpdu::parse_tpkt(frame) {
        Ok((_, (_, Tpdu::Data(d)))) => {
            let what = match rdp_proto::decode::<rdp_proto::mcs::DomainPdu>(d.payload) {
                Ok(rdp_proto::mcs::DomainPdu::DisconnectProviderUltimatum { reason }) => {
                    format!("MCS Disconnect Provider Ultimatum ({reason}) instead of a Connection Confirm")
                }
                Ok(p) => format!("MCS {} instead of a Connection Confirm", p.pdu_type()),
                Err(_) => "X.224 Data instead of a Connection Confirm".to_owned(),
            };
            ReadFailure::Unexpected(what)
        }
        Ok((_, (_, t))) => ReadFailure::Unexpected(format!(
            "X.224 {} instead of a Connection Confirm",
            t.kind()
        )),
        Err(_) => ReadFailure::NotFrame {
            head: frame.iter().take(64).copied().collect(),
        },
    };
    CrOutcome::NoConfirm(failure)
}

/// A short description of a non-RDP answer: an HTTP status line, an SSH banner, or hex.
pub fn describe_non_rdp(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(32)];
    if bytes.starts_with(b"HTTP/")
        || bytes.starts_with(b"SSH-")
        || head
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r' || *b == b'\n')
    {
        let line = head
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or_default();
        return format!("text: {}", String::from_utf8_lossy(line));
    }
    if bytes.first() == Some(&3) && bytes.len() < 11 {
        return format!(
            "truncated TPKT ({} bytes): {}",
            bytes.len(),
            hex::encode(head)
        );
    }
    format!("{} bytes: {}", bytes.len(), hex::encode(head))
}

/// What one address of a target answered to the mstsc request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AddressOutcome {
    /// A Connection Confirm.
    Rdp,
    Refused,
    /// No SYN-ACK in time.
    Timeout,
    Unreachable,
    /// Another connect error.
    Error,
    /// Not tried: the target's time ran out.
    Skipped,
    /// Bytes that are not RDP.
    NotRdp,
    /// Connected, no answer.
    Silent,
    /// Connected, closed or reset without a Confirm.
    Closed,
}

impl AddressOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::NotRdp => "not-rdp",
            Self::Silent => "silent",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for AddressOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for AddressOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
