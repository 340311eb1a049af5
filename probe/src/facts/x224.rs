//! The Connection Confirm (MS-RDPBCGR 2.2.1.2): what the server selected, refused or skipped.

use rdp_proto::nego::{FailureCode, NegResponseFlags, SecurityProtocol, NEG_LEN};
use rdp_proto::x224::{ConnectionConfirm, NegotiationResult, Tpdu};
use serde::Serialize;

/// The answer carried by a Connection Confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// RDP_NEG_RSP (2.2.1.2.1): the selected protocol and the response flags.
    Selected {
        protocol: SecurityProtocol,
        flags: NegResponseFlags,
    },
    /// RDP_NEG_FAILURE (2.2.1.2.2).
    Failure(FailureCode),
    /// No negotiation data: a legacy server, Standard RDP Security.
    Legacy,
}

/// What one Connection Confirm says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirm {
    pub answer: Answer,
    /// The RDP_NEG_RSP / RDP_NEG_FAILURE `length` field, when it is not the 8 the spec fixes.
    pub bad_length: Option<u16>,
}

impl Confirm {
    /// The one interpreter of a Connection Confirm.
    pub fn from_pdu(cc: &ConnectionConfirm<'_>) -> Self {
        let check = |len: u16| (len != NEG_LEN).then_some(len);
        match cc.negotiation {
            Some(NegotiationResult::Response(r)) => Self {
                answer: Answer::Selected {
                    protocol: r.selected_protocol,
                    flags: r.flags,
                },
                bad_length: check(r.length),
            },
            Some(NegotiationResult::Failure(f)) => Self {
                answer: Answer::Failure(f.code),
                bad_length: check(f.length),
            },
            None => Self {
                answer: Answer::Legacy,
                bad_length: None,
            },
        }
    }

    /// Reads a Connection Confirm from one TPKT frame; None if it is not one.
    pub fn parse(frame: &[u8]) -> Option<Self> {
        match Tpdu::parse_tpkt(frame).ok()? {
            (_, (_, Tpdu::ConnectionConfirm(cc))) => Some(Self::from_pdu(&cc)),
            _ => None,
        }
    }

    /// The security protocol the connection goes on with: a legacy Confirm means Standard RDP
    /// Security; a failure, none.
    pub fn selected(&self) -> Option<SecurityProtocol> {
        match self.answer {
            Answer::Selected { protocol, .. } => Some(protocol),
            Answer::Legacy => Some(SecurityProtocol::RDP),
            Answer::Failure(_) => None,
        }
    }

    pub fn is_legacy(&self) -> bool {
        self.answer == Answer::Legacy
    }

    pub fn failure(&self) -> Option<FailureCode> {
        match self.answer {
            Answer::Failure(code) => Some(code),
            _ => None,
        }
    }

    /// The response flags (empty unless RDP_NEG_RSP).
    pub fn flags(&self) -> NegResponseFlags {
        match self.answer {
            Answer::Selected { flags, .. } => flags,
            _ => NegResponseFlags::empty(),
        }
    }

    /// The `x224` stage's detail line.
    pub fn detail(&self) -> String {
        match self.answer {
            Answer::Selected { protocol, .. } => format!("selected {}", protocol_names(protocol)),
            Answer::Failure(code) => format!("RDP_NEG_FAILURE {code}"),
            Answer::Legacy => "Connection Confirm without negotiation (legacy server)".to_owned(),
        }
    }

    /// What is malformed about it, in words.
    pub fn malformed(&self) -> Option<String> {
        let len = self.bad_length?;
        let what = match self.answer {
            Answer::Failure(_) => "RDP_NEG_FAILURE",
            _ => "RDP_NEG_RSP",
        };
        Some(format!("{what} length is {len}, the spec says 8"))
    }
}

/// A security layer asked for alone (MS-RDPBCGR 2.2.1.1.1 `requestedProtocols`). The
/// declaration order is the protocol order of the JSON's `security.protocols` (Standard RDP
/// Security first); the serialised name is its key there.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Rdp,
    Ssl,
    Hybrid,
    HybridEx,
    Rdstls,
    Rdsaad,
}

impl Layer {
    /// In the order they are tried; HYBRID_EX is the main connection's (mstsc's) request.
    pub const ALL: [Self; 6] = [
        Self::Rdp,
        Self::Ssl,
        Self::Hybrid,
        Self::HybridEx,
        Self::Rdstls,
        Self::Rdsaad,
    ];

    /// The key in `security.protocols`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Ssl => "ssl",
            Self::Hybrid => "hybrid",
            Self::HybridEx => "hybrid_ex",
            Self::Rdstls => "rdstls",
            Self::Rdsaad => "rdsaad",
        }
    }

    /// The request that asks for it (HYBRID needs SSL too, HYBRID_EX needs HYBRID).
    pub fn request(self) -> SecurityProtocol {
        match self {
            Self::Rdp => SecurityProtocol::RDP,
            Self::Ssl => SecurityProtocol::SSL,
            Self::Hybrid => SecurityProtocol::SSL | SecurityProtocol::HYBRID,
            Self::HybridEx => {
                SecurityProtocol::SSL | SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX
            }
            Self::Rdstls => SecurityProtocol::RDSTLS,
            Self::Rdsaad => SecurityProtocol::RDSAAD,
        }
    }

    /// The selection that means "accepted".
    pub fn selection(self) -> SecurityProtocol {
        match self {
            Self::Rdp => SecurityProtocol::RDP,
            Self::Ssl => SecurityProtocol::SSL,
            Self::Hybrid => SecurityProtocol::HYBRID,
            Self::HybridEx => SecurityProtocol::HYBRID_EX,
            Self::Rdstls => SecurityProtocol::RDSTLS,
            Self::Rdsaad => SecurityProtocol::RDSAAD,
        }
    }

    /// Whether a Confirm accepts this layer asked for alone: it selects exactly the layer, or,
    /// for Standard RDP Security, it is a Confirm without negotiation.
    pub fn accepted_by(self, c: &Confirm) -> bool {
        match c.answer {
            Answer::Selected { protocol, .. } => protocol == self.selection(),
            Answer::Failure(_) => false,
            Answer::Legacy => self == Self::Rdp,
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

/// `ssl|hybrid`, or `rdp` for the empty set.
pub fn protocol_names(p: SecurityProtocol) -> String {
    p.names().join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str) -> Vec<u8> {
        crate::testdata::pdu(&format!("peers/{name}"))
    }

    #[test]
    fn confirms_from_real_servers() {
        let nla = Confirm::parse(&peer("credssp/shadow-nla_x224_cc.bin")).unwrap();
        assert_eq!(
            nla.answer,
            Answer::Selected {
                protocol: SecurityProtocol::HYBRID,
                flags: NegResponseFlags::from_bits_retain(3)
            }
        );
        assert_eq!(nla.bad_length, None);
        assert_eq!(nla.detail(), "selected hybrid");
        let fail = Confirm::parse(&peer("nmap_shadow-nla/014-s2c-x224-cc.bin")).unwrap();
        assert_eq!(fail.failure(), Some(FailureCode(5)));
        assert_eq!(fail.selected(), None);
        let xp = Confirm::parse(&peer(
            "../suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin",
        ))
        .unwrap();
        assert!(xp.is_legacy());
        assert_eq!(xp.selected(), Some(SecurityProtocol::RDP));
    }

    #[test]
    fn a_zero_length_neg_rsp_is_malformed() {
        // TPKT, X.224 CC, RDP_NEG_RSP with length 0 (selected SSL).
        let frame = [
            3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 0, 0, 0, 1, 0, 0, 0,
        ];
        let c = Confirm::parse(&frame).unwrap();
        assert_eq!(c.bad_length, Some(0));
        assert_eq!(
            c.malformed().as_deref(),
            Some("RDP_NEG_RSP length is 0, the spec says 8")
        );
    }
}
