//! What the driver observes: a connect failure, a read failure, a Connection Confirm.

use crate::facts::x224::Confirm;

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
            Self::NotFrame { head } => crate::session::describe_non_rdp(head),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::active::plan::*;
    use crate::diagnose::{FindingId, Stage};

    use crate::report::probe::*;
    use core::time::Duration;

    /// xrdp's real Disconnect Provider Ultimatum in place of a Confirm, and garbage.
    #[test]
    fn what_is_not_a_confirm_is_named() {
        let mut rec = Record::default();
        let garbage = read_confirm(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        assert_eq!(address_outcome(&garbage), AddressOutcome::NotRdp);
        assert!(primary_failed(
            &mut rec,
            "a",
            &garbage,
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::ZERO
        ));
        assert_eq!(rec.stopped_at, Some(Stage::X224));
        assert_eq!(rec.findings[0].id, FindingId::NotRdp);
        let silent = CrOutcome::NoConfirm(ReadFailure::Timeout { got: 0 });
        assert_eq!(address_outcome(&silent), AddressOutcome::Silent);
    }
}
