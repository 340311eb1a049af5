//! Rules of the transport and the first answer: how the TCP connection was (not) established
//! and how a connection ended before the server's answer (both fronts: the probe sees it on its
//! own connection, the capture on the wire), and what only a capture can observe: how a
//! connection ended before its next stage, resets, loss and zero windows. The fronts decide
//! *which* situation a connection is in; these functions decide the finding, its severity and
//! its evidence.

use super::{finding, finding_with, Finding, FindingId, Severity, Stage};
use crate::facts::rdp::{EndingPdu, NlaGuess};

/// How a TCP handshake that did not complete ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Establishment {
    /// The SYN was answered with RST (Zeek's REJ; the probe's connection refused).
    Refused,
    /// SYNs without a SYN-ACK in the capture (S0, SH).
    Unanswered { syns: u64 },
    /// The client reset after unanswered SYNs (RSTOS0).
    ClientGaveUp,
    /// The probe's connect got no answer within `within`.
    TimedOut { within: std::time::Duration },
    /// The probe's connect failed with a network error (no route, host unreachable).
    Unreachable(String),
}

/// `tcp-refused`, `syn-unanswered`, `tcp-timeout`, `tcp-unreachable`.
pub fn establishment(e: Establishment, server: &str) -> Finding {
    match e {
        Establishment::Refused => finding(
            FindingId::TcpRefused,
            format!("{server} answered the SYN with RST"),
        ),
        Establishment::TimedOut { within } => finding(
            FindingId::TcpTimeout,
            format!("no answer from {server} within {within:?}"),
        ),
        Establishment::Unreachable(why) => {
            finding(FindingId::TcpUnreachable, format!("{server}: {why}"))
        }
        Establishment::Unanswered { syns } => finding(
            FindingId::SynUnanswered,
            format!("{syns} SYN(s) to {server} without a reply in the capture"),
        ),
        Establishment::ClientGaveUp => finding(
            FindingId::SynUnanswered,
            format!("the client gave up (RST) after SYNs to {server} got no reply"),
        ),
    }
}

/// Why the server's first answer (a Connection Confirm, or a Connect-Response) did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// Nothing came (`x224-no-response`).
    Silent,
    /// Bytes that are not RDP came (`not-rdp`).
    NotRdp,
    /// The server closed or reset the connection (`x224-closed`).
    Closed,
}

/// `x224-no-response`, `not-rdp`, `x224-closed`, with the evidence the front saw.
pub fn no_answer(kind: NoAnswer, evidence: String) -> Finding {
    let id = match kind {
        NoAnswer::Silent => FindingId::X224NoResponse,
        NoAnswer::NotRdp => FindingId::NotRdp,
        NoAnswer::Closed => FindingId::X224Closed,
    };
    finding(id, evidence)
}

/// `not-rdp` from a capture: the server answered with something else (`what`: an HTTP line,
/// hex).
pub fn not_rdp(what: &str) -> Finding {
    no_answer(NoAnswer::NotRdp, format!("the server answered {what}"))
}

/// How a connection ended, as the capture shows it.
#[derive(Clone, Copy, Debug)]
pub struct Ending<'a> {
    /// "the client closed the connection and the server reset it", ...
    pub text: &'a str,
    /// The client ended it first (FIN or RST).
    pub client_first: bool,
    /// The server sent payload.
    pub server_spoke: bool,
    /// The server sent FIN or RST.
    pub server_closed: bool,
}

/// The finding for a connection that ended while stage `due` was in progress or due next.
/// `credssp`: what CredSSP came to (from its TSRequests or its record pattern);
/// `disconnect`: the server's disconnect reason, if it sent one.
pub fn ended_during(
    due: Stage,
    end: &Ending<'_>,
    credssp: NlaGuess,
    disconnect: Option<EndingPdu>,
) -> Option<Finding> {
    let by = end.text;
    match due {
        Stage::X224 if end.server_spoke => Some(no_answer(
            NoAnswer::Closed,
            format!("{by} after the Connection Request"),
        )),
        Stage::X224 if end.server_closed => Some(no_answer(
            NoAnswer::Closed,
            format!("the server closed without a Connection Confirm ({by})"),
        )),
        Stage::X224 => Some(no_answer(
            NoAnswer::Silent,
            format!("no Connection Confirm; {by}"),
        )),
        Stage::Tls => Some(super::rules::tls_failed(format!(
            "the TLS handshake did not complete: {by}"
        ))),
        Stage::Credssp => Some(super::rules::credssp_ended(
            credssp,
            by,
            !end.client_first && end.server_closed,
        )),
        _ if !end.client_first => {
            let why = disconnect
                .map(|r| format!(" ({})", r.describe()))
                .unwrap_or_default();
            Some(closed_by_server(format!("{by} during {due}{why}")))
        }
        _ => None,
    }
}

/// `server-silent`: the server stopped answering in the middle of the connection sequence.
pub fn server_silent(evidence: String) -> Finding {
    finding(FindingId::ServerSilent, evidence)
}

/// `closed-by-server`: the server ended the connection (the evidence says when and how).
pub fn closed_by_server(evidence: String) -> Finding {
    finding(FindingId::ClosedByServer, evidence)
}

/// A connection to an RDP port that never spoke RDP: `client_sent` payload or not.
pub fn silent_rdp_port(end: &Ending<'_>, client_sent: bool) -> Option<Finding> {
    if !client_sent {
        return None;
    }
    Some(if end.server_closed {
        no_answer(NoAnswer::Closed, format!("{} without answering", end.text))
    } else {
        no_answer(
            NoAnswer::Silent,
            format!("no answer to the request; {}", end.text),
        )
    })
}

/// `reset-by-server` / `reset-by-client`: an abnormal reset during `stage` (None: the capture
/// joined mid-way); a server reset is an error when the connection stopped, else information.
pub fn reset(by_server: bool, stage: Option<Stage>, stopped: bool) -> Finding {
    let during = stage.map_or_else(
        || "(the capture joined the connection mid-way: its stage is not visible)".to_owned(),
        |st| format!("during {st}"),
    );
    if by_server {
        let severity = if stopped {
            Severity::Error
        } else {
            Severity::Info
        };
        finding_with(
            FindingId::ResetByServer,
            severity,
            format!("server RST {during}"),
        )
    } else {
        finding(FindingId::ResetByClient, format!("client RST {during}"))
    }
}

/// `injected-reset`: a RST whose TTL or sequence betrays a middlebox.
pub fn injected_reset(detail: &str) -> Finding {
    finding(FindingId::InjectedReset, detail)
}

/// `packet-loss`: more than 1 % of the packets (and at least two) retransmitted or lost, on a
/// connection that was established (SYN retries of an unanswered one are not path loss).
pub fn loss(established: bool, retransmissions: u64, lost: u64, packets: u64) -> Option<Finding> {
    let lossy = retransmissions + lost;
    (established && lossy * 100 > packets.max(1) && lossy >= 2).then(|| {
        finding(
            FindingId::PacketLoss,
            format!(
                "{retransmissions} retransmissions and {lost} lost segments in {packets} packets"
            ),
        )
    })
}

/// `zero-window`: a receiver advertised a zero window.
pub fn zero_window(count: u64) -> Option<Finding> {
    (count > 0).then(|| {
        finding(
            FindingId::ZeroWindow,
            format!("{count} zero-window advertisements"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credssp_endings_by_their_pattern() {
        use crate::facts::credssp::AuthStep;
        let end = Ending {
            text: "the client closed the connection",
            client_first: true,
            server_spoke: true,
            server_closed: false,
        };
        let server = Ending {
            client_first: false,
            server_closed: true,
            text: "the server closed the connection",
            ..end
        };
        let f = |e: &Ending<'_>, g| ended_during(Stage::Credssp, e, g, None).unwrap();
        let checked = f(&end, NlaGuess::AcceptedThenClientLeft);
        assert_eq!(
            (checked.id, checked.severity),
            (FindingId::CredsspFailed, Severity::Info)
        );
        let stopped = f(&end, NlaGuess::ClientStopped { messages: 1 });
        assert_eq!(
            (stopped.id, stopped.severity),
            (FindingId::CredsspAbandoned, Severity::Warning)
        );
        let refused = NlaGuess::Refused {
            step: AuthStep::Authenticate,
            error_code: true,
        };
        // Whoever closed: a refused AUTHENTICATE is an error.
        for e in [&end, &server] {
            let r = f(e, refused);
            assert_eq!((r.id, r.severity), (FindingId::AuthFailed, Severity::Error));
        }
        assert_eq!(f(&server, NlaGuess::NotStarted).severity, Severity::Error);
        assert_eq!(f(&end, NlaGuess::NotStarted).severity, Severity::Warning);
        assert!(ended_during(Stage::Mcs, &end, NlaGuess::NotStarted, None).is_none());
        let ultimatum = EndingPdu::Ultimatum(rdp_proto::mcs::DisconnectReason(3));
        let server_mcs = Ending {
            text: "the client closed the connection",
            ..server
        };
        assert_eq!(
            ended_during(
                Stage::Mcs,
                &server_mcs,
                NlaGuess::NotStarted,
                Some(ultimatum)
            )
            .unwrap()
            .evidence,
            format!(
                "the client closed the connection during mcs ({})",
                ultimatum.describe()
            )
        );
    }

    #[test]
    fn loss_needs_an_established_connection_and_more_than_one_percent() {
        assert!(loss(false, 5, 0, 10).is_none());
        assert!(loss(true, 1, 0, 10).is_none());
        assert!(loss(true, 1, 1, 300).is_none());
        assert!(loss(true, 2, 1, 100).is_some());
    }
}
