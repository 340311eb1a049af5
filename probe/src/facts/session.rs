//! What the PDUs after the MCS connect say (MS-RDPBCGR 1.3.1.1, phases 5 to 10): the channels
//! joined, the licensing outcome (MS-RDPELE), the server's capabilities (Demand Active), errors
//! (Set Error Info, Disconnect Provider Ultimatum). Filled as far as the PDUs were readable.

use rdp_proto::capabilities::{CapabilitySetType, DemandActive, OsMajorType, OsMinorType};
use rdp_proto::licensing::{
    LicenseErrorCode, LicenseMsgType, LicensingBody, LicensingPdu, StateTransition,
};
use rdp_proto::mcs::{DisconnectReason, McsResult};
use rdp_proto::redirection::{RedirFlags, ServerRedirection};
use rdp_proto::slowpath::{
    ErrorInfo, PduType, PduType2, SetErrorInfo, ShareControlPdu, ShareDataPdu,
};

/// Phase 6, channel connection: Attach User and Channel Joins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelFacts {
    /// The I/O channel (Server Network Data's MCSChannelId).
    pub io_channel: Option<u16>,
    /// The user channel (Attach User Confirm's initiator).
    pub user_channel: Option<u16>,
    /// Channels the server confirmed (rt-successful).
    pub joined: Vec<u16>,
    /// Channels the server refused, with its result.
    pub refused: Vec<(u16, McsResult)>,
}

impl ChannelFacts {
    /// Most channels recorded (a client joins a few; a hostile stream cannot grow this).
    pub const MAX: usize = 64;

    /// A Channel Join Confirm: `requested` with `result`.
    pub fn join_confirm(&mut self, requested: u16, result: McsResult) {
        if self.joined.len() + self.refused.len() >= Self::MAX {
            return;
        }
        if result == McsResult::RT_SUCCESSFUL {
            self.joined.push(requested);
        } else {
            self.refused.push((requested, result));
        }
    }
}

/// How licensing ended (MS-RDPELE 1.3.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LicensingOutcome {
    /// STATUS_VALID_CLIENT: licensing is fine.
    ValidClient,
    /// The server issued (or upgraded) a license.
    LicenseIssued,
    /// An error alert other than STATUS_VALID_CLIENT.
    Error,
    /// Licensing started (a license request or challenge) and its end was not seen.
    Started,
    /// Licensing PDUs went by encrypted (Standard RDP Security, seen in a capture): their
    /// content cannot be read.
    Encrypted,
    /// No licensing PDU was seen.
    #[default]
    NotReached,
}

impl LicensingOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidClient => "valid_client",
            Self::LicenseIssued => "license_issued",
            Self::Error => "error",
            Self::Started => "started",
            Self::Encrypted => "encrypted",
            Self::NotReached => "not_reached",
        }
    }
}

/// Phase 8, licensing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LicensingFacts {
    pub outcome: LicensingOutcome,
    /// The error alert's code and state transition (STATUS_VALID_CLIENT included).
    pub error: Option<(LicenseErrorCode, StateTransition)>,
}

impl LicensingFacts {
    /// One licensing PDU, in either direction.
    pub fn on_pdu(&mut self, pdu: &LicensingPdu<'_>) {
        match &pdu.body {
            LicensingBody::ErrorAlert(m) => {
                self.error = Some((m.error_code, m.state_transition));
                self.outcome = if m.error_code == LicenseErrorCode::STATUS_VALID_CLIENT {
                    LicensingOutcome::ValidClient
                } else {
                    LicensingOutcome::Error
                };
            }
            LicensingBody::Other(_) => match pdu.msg_type {
                LicenseMsgType::NEW_LICENSE | LicenseMsgType::UPGRADE_LICENSE => {
                    self.outcome = LicensingOutcome::LicenseIssued;
                }
                _ if self.outcome == LicensingOutcome::NotReached => {
                    self.outcome = LicensingOutcome::Started;
                }
                _ => {}
            },
        }
    }
}

/// Phase 9: what the server's Demand Active says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityFacts {
    pub os_major: Option<OsMajorType>,
    pub os_minor: Option<OsMinorType>,
    pub desktop_width: Option<u16>,
    pub desktop_height: Option<u16>,
    /// The Bitmap Capability Set's preferredBitsPerPixel.
    pub color_depth: Option<u16>,
    /// The capability sets, in order.
    pub sets: Vec<CapabilitySetType>,
}

impl CapabilityFacts {
    /// The one interpreter of a Demand Active.
    pub fn from_demand_active(d: &DemandActive<'_>) -> Self {
        let general = d.general();
        let bitmap = d.bitmap();
        Self {
            os_major: general.map(|g| g.os_major),
            os_minor: general.map(|g| g.os_minor),
            desktop_width: bitmap.map(|b| b.desktop_width),
            desktop_height: bitmap.map(|b| b.desktop_height),
            color_depth: bitmap.map(|b| b.preferred_bits_per_pixel),
            sets: d.capability_sets.iter().map(|s| s.set_type).collect(),
        }
    }
}

/// Everything after the MCS connect, as far as it was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionFacts {
    pub channels: ChannelFacts,
    pub licensing: LicensingFacts,
    pub capabilities: Option<CapabilityFacts>,
    /// A non-zero Set Error Info.
    pub error_info: Option<ErrorInfo>,
    /// The reason of an MCS Disconnect Provider Ultimatum.
    pub disconnect: Option<DisconnectReason>,
    /// A Server Redirection (never followed).
    pub redirect: Option<RedirectFacts>,
    /// The logon notification (Save Session Info), after a logon with credentials.
    pub logon: Option<LogonFacts>,
}

/// A Save Session Info PDU (MS-RDPBCGR 2.2.10.1): the server says the user logged on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogonFacts {
    /// infoType: INFOTYPE_LOGON, INFOTYPE_LOGON_LONG, INFOTYPE_LOGON_PLAINNOTIFY,
    /// INFOTYPE_LOGON_EXTENDED_INFO, or the number.
    pub info_type: String,
}

impl LogonFacts {
    pub fn from_info_type(t: Option<u32>) -> Self {
        let info_type = match t {
            Some(0) => "INFOTYPE_LOGON".to_owned(),
            Some(1) => "INFOTYPE_LOGON_LONG".to_owned(),
            Some(2) => "INFOTYPE_LOGON_PLAINNOTIFY".to_owned(),
            Some(3) => "INFOTYPE_LOGON_EXTENDED_INFO".to_owned(),
            Some(n) => format!("{n:#x}"),
            None => "(empty)".to_owned(),
        };
        Self { info_type }
    }
}

/// A Server Redirection (MS-RDPBCGR 2.2.13.1): where a broker sends the client. Strings are cut
/// at 256 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectFacts {
    pub session_id: u32,
    pub flags: RedirFlags,
    /// TargetNetAddress
    pub target_address: Option<String>,
    /// TargetFQDN
    pub target_fqdn: Option<String>,
    /// TargetNetBiosName
    pub target_netbios: Option<String>,
    /// LoadBalanceInfo (a routing token or cookie), as text.
    pub load_balance_info: Option<String>,
}

impl RedirectFacts {
    /// A Server Redirection Packet at the start of `bytes` (None: it is not one).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        rdp_proto::decode_prefix::<ServerRedirection>(bytes)
            .ok()
            .map(|(_, r)| Self::from_pdu(&r))
    }

    /// The one interpreter of a Server Redirection Packet.
    pub fn from_pdu(r: &ServerRedirection<'_>) -> Self {
        let text = |flag| {
            r.field(flag).map(|b| {
                rdp_proto::utf16le_until_nul(b)
                    .chars()
                    .take(256)
                    .collect::<String>()
            })
        };
        Self {
            session_id: r.session_id,
            flags: r.redir_flags,
            target_address: text(RedirFlags::LB_TARGET_NET_ADDRESS),
            target_fqdn: text(RedirFlags::LB_TARGET_FQDN),
            target_netbios: text(RedirFlags::LB_TARGET_NETBIOS_NAME),
            load_balance_info: r.field(RedirFlags::LB_LOAD_BALANCE_INFO).map(|b| {
                String::from_utf8_lossy(b)
                    .trim_end_matches(['\r', '\n', '\0'])
                    .chars()
                    .take(256)
                    .collect()
            }),
        }
    }

    /// Where the client is sent: the FQDN, else the address, else the NetBIOS name.
    pub fn target(&self) -> Option<&str> {
        self.target_fqdn
            .as_deref()
            .or(self.target_address.as_deref())
            .or(self.target_netbios.as_deref())
    }

    /// The names of the flags set.
    pub fn flag_names(&self) -> Vec<String> {
        let named = RedirFlags::all()
            .iter_names()
            .fold(0, |all, (_, f)| all | f.bits());
        self.flags
            .iter_names()
            .map(|(n, _)| n.to_owned())
            .chain(
                Some(self.flags.bits() & !named)
                    .filter(|b| *b != 0)
                    .map(|b| format!("{b:#x}")),
            )
            .collect()
    }
}

impl SessionFacts {
    /// Nothing after the MCS connect was seen.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
/// What one plain Share Control PDU says (MS-RDPBCGR 2.2.8, 2.2.13.3): the one reader of
/// the slow-path PDUs past the security header, for the probe's walk and the capture's reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareControlFacts {
    /// An Enhanced Security Server Redirection (two pad bytes, then the packet).
    Redirect(RedirectFacts),
    /// The Demand Active: its shareId and capabilities (None: it does not decode).
    DemandActive(Option<(u32, CapabilityFacts)>),
    /// The client's Confirm Active.
    ConfirmActive,
    /// The client's Font List (its last finalization PDU).
    FontList,
    /// The server's Font Map (its last finalization PDU, MS-RDPBCGR 1.3.1.1 phase 10).
    FontMap,
    /// A non-zero Set Error Info.
    ErrorInfo(ErrorInfo),
    /// The logon notification (Save Session Info).
    Logon(LogonFacts),
    /// Anything else.
    Other,
}

impl ShareControlFacts {
    /// The one interpreter of a plain Share Control PDU.
    pub fn from_pdu(sc: &ShareControlPdu<'_>) -> Self {
        match sc.pdu_type() {
            PduType::PDUTYPE_SERVER_REDIR_PKT => sc
                .body
                .get(2..)
                .and_then(RedirectFacts::parse)
                .map_or(Self::Other, Self::Redirect),
            PduType::PDUTYPE_DEMANDACTIVEPDU => Self::DemandActive(
                rdp_proto::decode::<DemandActive>(sc.body)
                    .ok()
                    .map(|d| (d.share_id, CapabilityFacts::from_demand_active(&d))),
            ),
            PduType::PDUTYPE_CONFIRMACTIVEPDU => Self::ConfirmActive,
            PduType::PDUTYPE_DATAPDU => {
                let Ok(sd) = rdp_proto::decode::<ShareDataPdu>(sc.body) else {
                    return Self::Other;
                };
                match sd.pdu_type2 {
                    PduType2::PDUTYPE2_FONTLIST => Self::FontList,
                    PduType2::PDUTYPE2_FONTMAP => Self::FontMap,
                    PduType2::PDUTYPE2_SAVE_SESSION_INFO => {
                        let info_type = sd
                            .body
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        Self::Logon(LogonFacts::from_info_type(info_type))
                    }
                    PduType2::PDUTYPE2_SET_ERROR_INFO_PDU => {
                        match rdp_proto::decode::<SetErrorInfo>(sd.body) {
                            Ok(e) if e.error_info.0 != 0 => Self::ErrorInfo(e.error_info),
                            _ => Self::Other,
                        }
                    }
                    _ => Self::Other,
                }
            }
            _ => Self::Other,
        }
    }
}
