//! [T.125] MCS: the BER Connect-Initial / Connect-Response that carry GCC, and the PER domain
//! PDUs of the channel connection phase ([MS-RDPBCGR 2.2.1.3] .. [2.2.1.9]).
//!
//! [T.125]: https://www.itu.int/rec/T-REC-T.125-199802-I
//! [MS-RDPBCGR 2.2.1.3]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/db6713ee-1c0e-4064-a3b3-0fac30b4037b

use crate::ber::{self, Layout};
use crate::codec::{open_enum, take, u8, unexpected};
use crate::per;
use crate::{EncodeError, Layer, PResult, Pdu};

/// Connect-Initial: [APPLICATION 101], constructed, in BER's two-octet tag form.
pub const TAG_CONNECT_INITIAL: [u8; 2] = [0x7F, 0x65];
/// Connect-Response: [APPLICATION 102].
pub const TAG_CONNECT_RESPONSE: [u8; 2] = [0x7F, 0x66];
/// T.125 channel and user ids are PER-encoded relative to this base.
pub const BASE_CHANNEL_ID: u16 = 1001;

/// [T.125 7] DomainParameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DomainParameters {
    pub max_channel_ids: u32,
    pub max_user_ids: u32,
    pub max_token_ids: u32,
    pub num_priorities: u32,
    pub min_throughput: u32,
    pub max_height: u32,
    pub max_mcspdu_size: u32,
    pub protocol_version: u32,
    /// Slot 0: sequence length octets; 1..=8: each INTEGER's content octets.
    pub layout: Layout,
}

impl DomainParameters {
    fn values(&self) -> [u32; 8] {
        [
            self.max_channel_ids,
            self.max_user_ids,
            self.max_token_ids,
            self.num_priorities,
            self.min_throughput,
            self.max_height,
            self.max_mcspdu_size,
            self.protocol_version,
        ]
    }

    fn content_len(&self) -> usize {
        self.values()
            .iter()
            .enumerate()
            .map(|(k, v)| ber::uint_len(*v, self.layout.get(k + 1)))
            .sum()
    }

    fn parse<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, Self> {
        let (rest, (mut c, octets)) = ber::parse_tlv(i, ber::TAG_SEQUENCE, ctx)?;
        let mut layout = Layout::default();
        layout.set(0, octets);
        let mut v = [0u32; 8];
        const NAMES: [&str; 8] = [
            "maxChannelIds",
            "maxUserIds",
            "maxTokenIds",
            "numPriorities",
            "minThroughput",
            "maxHeight",
            "maxMCSPDUsize",
            "protocolVersion",
        ];
        for (k, (slot, name)) in v.iter_mut().zip(NAMES).enumerate() {
            let (r, (value, width)) = ber::parse_u32(c, name)?;
            *slot = value;
            layout.set(k + 1, width);
            c = r;
        }
        if !c.is_empty() {
            return crate::codec::invalid(c, ctx, "trailing bytes in DomainParameters");
        }
        let [a, b, cc, d, e, f, g, h] = v;
        Ok((
            rest,
            Self {
                max_channel_ids: a,
                max_user_ids: b,
                max_token_ids: cc,
                num_priorities: d,
                min_throughput: e,
                max_height: f,
                max_mcspdu_size: g,
                protocol_version: h,
                layout,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        ber::tlv_len(self.content_len(), self.layout.get(0))
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.push(ber::TAG_SEQUENCE);
        ber::write_length(dst, self.content_len(), self.layout.get(0))?;
        for (k, v) in self.values().iter().enumerate() {
            ber::write_uint(dst, ber::TAG_INTEGER, *v, self.layout.get(k + 1))?;
        }
        Ok(())
    }
}

fn parse_app_tag<'a>(i: &'a [u8], tag: [u8; 2], ctx: &'static str) -> PResult<'a, (&'a [u8], u8)> {
    let (rest, t) = crate::codec::array::<2>(i, ctx)?;
    if *t != tag {
        return unexpected(i, ctx, u32::from(u16::from_be_bytes(*t)));
    }
    let (rest, (len, octets)) = ber::parse_length(rest, ctx)?;
    let (rest, content) = take(rest, len, ctx)?;
    Ok((rest, (content, ber::len_slot(len, octets))))
}

/// [T.125 11.1] Connect-Initial, as [MS-RDPBCGR 2.2.1.3] uses it: the client's GCC Conference
/// Create Request travels in `userData`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnectInitial<'a> {
    /// callingDomainSelector
    pub calling_domain_selector: &'a [u8],
    /// calledDomainSelector
    pub called_domain_selector: &'a [u8],
    /// upwardFlag
    pub upward_flag: bool,
    /// targetParameters
    pub target_parameters: DomainParameters,
    /// minimumParameters
    pub minimum_parameters: DomainParameters,
    /// maximumParameters
    pub maximum_parameters: DomainParameters,
    /// userData (a GCC ConnectData with the Conference Create Request).
    pub user_data: &'a [u8],
    /// Length octets: 0 outer, 1 calling, 2 called, 3 userData.
    pub layout: Layout,
}

impl ConnectInitial<'_> {
    fn content_len(&self) -> usize {
        ber::tlv_len(self.calling_domain_selector.len(), self.layout.get(1))
            + ber::tlv_len(self.called_domain_selector.len(), self.layout.get(2))
            + 3
            + self.target_parameters.encoded_len()
            + self.minimum_parameters.encoded_len()
            + self.maximum_parameters.encoded_len()
            + ber::tlv_len(self.user_data.len(), self.layout.get(3))
    }
}

impl<'a> Pdu<'a> for ConnectInitial<'a> {
    const NAME: &'static str = "MCS Connect-Initial";
    const LAYER: Layer = Layer::Mcs;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (c, outer)) = parse_app_tag(i, TAG_CONNECT_INITIAL, "Connect-Initial")?;
        let mut layout = Layout::default();
        layout.set(0, outer);
        let (c, (calling, w)) = ber::parse_tlv(c, ber::TAG_OCTET_STRING, "callingDomainSelector")?;
        layout.set(1, w);
        let (c, (called, w)) = ber::parse_tlv(c, ber::TAG_OCTET_STRING, "calledDomainSelector")?;
        layout.set(2, w);
        let (c, upward_flag) = ber::parse_bool(c, "upwardFlag")?;
        let (c, target) = DomainParameters::parse(c, "targetParameters")?;
        let (c, minimum) = DomainParameters::parse(c, "minimumParameters")?;
        let (c, maximum) = DomainParameters::parse(c, "maximumParameters")?;
        let (c, (user_data, w)) = ber::parse_tlv(c, ber::TAG_OCTET_STRING, "userData")?;
        layout.set(3, w);
        if !c.is_empty() {
            return crate::codec::invalid(c, "Connect-Initial", "trailing bytes");
        }
        Ok((
            rest,
            Self {
                calling_domain_selector: calling,
                called_domain_selector: called,
                upward_flag,
                target_parameters: target,
                minimum_parameters: minimum,
                maximum_parameters: maximum,
                user_data,
                layout,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2 + ber::length_octets(self.content_len(), self.layout.get(0)) + self.content_len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&TAG_CONNECT_INITIAL);
        ber::write_length(dst, self.content_len(), self.layout.get(0))?;
        ber::write_tlv(
            dst,
            ber::TAG_OCTET_STRING,
            self.calling_domain_selector,
            self.layout.get(1),
        )?;
        ber::write_tlv(
            dst,
            ber::TAG_OCTET_STRING,
            self.called_domain_selector,
            self.layout.get(2),
        )?;
        dst.extend_from_slice(&[ber::TAG_BOOLEAN, 1, if self.upward_flag { 0xFF } else { 0 }]);
        self.target_parameters.encode(dst)?;
        self.minimum_parameters.encode(dst)?;
        self.maximum_parameters.encode(dst)?;
        ber::write_tlv(
            dst,
            ber::TAG_OCTET_STRING,
            self.user_data,
            self.layout.get(3),
        )
    }
}

open_enum! {
    /// [T.125 7] Result (ENUMERATED), as in Connect-Response and the confirms.
    pub struct McsResult(u32) {
        RT_SUCCESSFUL = 0,
        RT_DOMAIN_MERGING = 1,
        RT_DOMAIN_NOT_HIERARCHICAL = 2,
        RT_NO_SUCH_CHANNEL = 3,
        RT_NO_SUCH_DOMAIN = 4,
        RT_NO_SUCH_USER = 5,
        RT_NOT_ADMITTED = 6,
        RT_OTHER_USER_ID = 7,
        RT_PARAMETERS_UNACCEPTABLE = 8,
        RT_TOKEN_NOT_AVAILABLE = 9,
        RT_TOKEN_NOT_POSSESSED = 10,
        RT_TOO_MANY_CHANNELS = 11,
        RT_TOO_MANY_TOKENS = 12,
        RT_TOO_MANY_USERS = 13,
        RT_UNSPECIFIED_FAILURE = 14,
        RT_USER_REJECTED = 15,
    }
}

/// [T.125 11.2] Connect-Response, as [MS-RDPBCGR 2.2.1.4] uses it: the server's GCC Conference
/// Create Response travels in `userData`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnectResponse<'a> {
    /// result
    pub result: McsResult,
    /// calledConnectId
    pub called_connect_id: u32,
    /// domainParameters
    pub domain_parameters: DomainParameters,
    /// userData
    pub user_data: &'a [u8],
    /// 0 outer length, 1 result content octets, 2 calledConnectId content octets, 3 userData length.
    pub layout: Layout,
}

impl ConnectResponse<'_> {
    fn content_len(&self) -> usize {
        ber::uint_len(self.result.0, self.layout.get(1))
            + ber::uint_len(self.called_connect_id, self.layout.get(2))
            + self.domain_parameters.encoded_len()
            + ber::tlv_len(self.user_data.len(), self.layout.get(3))
    }
}

impl<'a> Pdu<'a> for ConnectResponse<'a> {
    const NAME: &'static str = "MCS Connect-Response";
    const LAYER: Layer = Layer::Mcs;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (c, outer)) = parse_app_tag(i, TAG_CONNECT_RESPONSE, "Connect-Response")?;
        let mut layout = Layout::default();
        layout.set(0, outer);
        let (c, (result, w)) = ber::parse_enumerated(c, "result")?;
        layout.set(1, w);
        let (c, (called_connect_id, w)) = ber::parse_u32(c, "calledConnectId")?;
        layout.set(2, w);
        let (c, domain_parameters) = DomainParameters::parse(c, "domainParameters")?;
        let (c, (user_data, w)) = ber::parse_tlv(c, ber::TAG_OCTET_STRING, "userData")?;
        layout.set(3, w);
        if !c.is_empty() {
            return crate::codec::invalid(c, "Connect-Response", "trailing bytes");
        }
        Ok((
            rest,
            Self {
                result: McsResult(result),
                called_connect_id,
                domain_parameters,
                user_data,
                layout,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2 + ber::length_octets(self.content_len(), self.layout.get(0)) + self.content_len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&TAG_CONNECT_RESPONSE);
        ber::write_length(dst, self.content_len(), self.layout.get(0))?;
        ber::write_uint(dst, ber::TAG_ENUMERATED, self.result.0, self.layout.get(1))?;
        ber::write_uint(
            dst,
            ber::TAG_INTEGER,
            self.called_connect_id,
            self.layout.get(2),
        )?;
        self.domain_parameters.encode(dst)?;
        ber::write_tlv(
            dst,
            ber::TAG_OCTET_STRING,
            self.user_data,
            self.layout.get(3),
        )
    }
}

open_enum! {
    /// [T.125 7] DomainMCSPDU CHOICE index (the top six bits of the first PER octet).
    pub struct DomainPduType(u8) {
        PLUMB_DOMAIN_INDICATION = 0,
        ERECT_DOMAIN_REQUEST = 1,
        DISCONNECT_PROVIDER_ULTIMATUM = 8,
        REJECT_MCS_PDU_ULTIMATUM = 9,
        ATTACH_USER_REQUEST = 10,
        ATTACH_USER_CONFIRM = 11,
        DETACH_USER_REQUEST = 12,
        DETACH_USER_INDICATION = 13,
        CHANNEL_JOIN_REQUEST = 14,
        CHANNEL_JOIN_CONFIRM = 15,
        SEND_DATA_REQUEST = 25,
        SEND_DATA_INDICATION = 26,
    }
}

open_enum! {
    /// [T.125 7] Reason (of Disconnect-Provider-Ultimatum).
    pub struct DisconnectReason(u8) {
        RN_DOMAIN_DISCONNECTED = 0,
        RN_PROVIDER_INITIATED = 1,
        RN_TOKEN_PURGED = 2,
        RN_USER_REQUESTED = 3,
        RN_CHANNEL_PURGED = 4,
    }
}

/// [T.125 7] SendDataRequest / SendDataIndication: header fields and the user data slice.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SendData<'a> {
    /// initiator (a user id)
    pub initiator: u16,
    /// channelId
    pub channel_id: u16,
    /// dataPriority and segmentation, as one octet (0x70 in RDP: high priority, begin|end).
    pub priority_segmentation: u8,
    /// userData
    pub data: &'a [u8],
    /// Whether the length determinant used the two-octet form.
    pub long_length: bool,
}

/// A T.125 domain PDU (PER), as used in [MS-RDPBCGR 2.2.1.5] .. [2.2.1.9] and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainPdu<'a> {
    /// [2.2.1.5] erectDomainRequest: subHeight, subInterval (INTEGER), with their octets.
    ErectDomainRequest {
        sub_height: u32,
        sub_interval: u32,
        widths: [u8; 2],
    },
    /// [2.2.2.3] disconnectProviderUltimatum
    DisconnectProviderUltimatum { reason: DisconnectReason },
    /// [2.2.1.6] attachUserRequest
    AttachUserRequest,
    /// [2.2.1.7] attachUserConfirm: result and initiator (the user id, when present).
    AttachUserConfirm {
        result: McsResult,
        initiator: Option<u16>,
    },
    /// [2.2.1.8] channelJoinRequest
    ChannelJoinRequest { initiator: u16, channel_id: u16 },
    /// [2.2.1.9] channelJoinConfirm
    ChannelJoinConfirm {
        result: McsResult,
        initiator: u16,
        requested: u16,
        channel_id: Option<u16>,
    },
    /// sendDataRequest (client to server)
    SendDataRequest(SendData<'a>),
    /// sendDataIndication (server to client)
    SendDataIndication(SendData<'a>),
    /// Any other choice, raw after the first octet.
    Other { first: u8, rest: &'a [u8] },
}

impl DomainPdu<'_> {
    /// The CHOICE index.
    pub fn pdu_type(&self) -> DomainPduType {
        DomainPduType(match self {
            Self::ErectDomainRequest { .. } => 1,
            Self::DisconnectProviderUltimatum { .. } => 8,
            Self::AttachUserRequest => 10,
            Self::AttachUserConfirm { .. } => 11,
            Self::ChannelJoinRequest { .. } => 14,
            Self::ChannelJoinConfirm { .. } => 15,
            Self::SendDataRequest(_) => 25,
            Self::SendDataIndication(_) => 26,
            Self::Other { first, .. } => first >> 2,
        })
    }
}

fn parse_send_data(i: &[u8]) -> PResult<'_, SendData<'_>> {
    let (i, initiator) = per::parse_u16_min(i, BASE_CHANNEL_ID, "initiator")?;
    let (i, channel_id) = per::parse_u16_min(i, 0, "channelId")?;
    let (i, priority_segmentation) = u8("dataPriority")(i)?;
    let (i, len) = per::parse_length(i, "userData length")?;
    let (i, data) = take(i, len.value.into(), "userData")?;
    Ok((
        i,
        SendData {
            initiator,
            channel_id,
            priority_segmentation,
            data,
            long_length: len.long,
        },
    ))
}

fn write_send_data(dst: &mut Vec<u8>, first: u8, sd: &SendData<'_>) -> Result<(), EncodeError> {
    dst.push(first);
    per::write_u16_min(dst, sd.initiator, BASE_CHANNEL_ID);
    per::write_u16_min(dst, sd.channel_id, 0);
    dst.push(sd.priority_segmentation);
    per::write_length(dst, sd.data.len(), sd.long_length)?;
    dst.extend_from_slice(sd.data);
    Ok(())
}

impl<'a> Pdu<'a> for DomainPdu<'a> {
    const NAME: &'static str = "MCS DomainMCSPDU";
    const LAYER: Layer = Layer::Mcs;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, first) = u8("DomainMCSPDU")(i)?;
        let pdu = match first >> 2 {
            1 => {
                let (i, (sub_height, w0)) = per::parse_integer(i, "subHeight")?;
                let (i, (sub_interval, w1)) = per::parse_integer(i, "subInterval")?;
                let pdu = Self::ErectDomainRequest {
                    sub_height,
                    sub_interval,
                    widths: [w0, w1],
                };
                return Ok((i, pdu));
            }
            8 => {
                let (i, second) = u8("reason")(i)?;
                let reason = DisconnectReason(((first & 0x03) << 1) | (second >> 7));
                return Ok((i, Self::DisconnectProviderUltimatum { reason }));
            }
            10 => return Ok((i, Self::AttachUserRequest)),
            11 => {
                let (i, result) = u8("result")(i)?;
                let (i, initiator) = if first & 0x02 != 0 {
                    let (i, id) = per::parse_u16_min(i, BASE_CHANNEL_ID, "initiator")?;
                    (i, Some(id))
                } else {
                    (i, None)
                };
                return Ok((
                    i,
                    Self::AttachUserConfirm {
                        result: McsResult(result.into()),
                        initiator,
                    },
                ));
            }
            14 => {
                let (i, initiator) = per::parse_u16_min(i, BASE_CHANNEL_ID, "initiator")?;
                let (i, channel_id) = per::parse_u16_min(i, 0, "channelId")?;
                return Ok((
                    i,
                    Self::ChannelJoinRequest {
                        initiator,
                        channel_id,
                    },
                ));
            }
            15 => {
                let (i, result) = u8("result")(i)?;
                let (i, initiator) = per::parse_u16_min(i, BASE_CHANNEL_ID, "initiator")?;
                let (i, requested) = per::parse_u16_min(i, 0, "requested")?;
                let (i, channel_id) = if first & 0x02 != 0 {
                    let (i, id) = per::parse_u16_min(i, 0, "channelId")?;
                    (i, Some(id))
                } else {
                    (i, None)
                };
                let result = McsResult(result.into());
                return Ok((
                    i,
                    Self::ChannelJoinConfirm {
                        result,
                        initiator,
                        requested,
                        channel_id,
                    },
                ));
            }
            25 => {
                let (i, sd) = parse_send_data(i)?;
                return Ok((i, Self::SendDataRequest(sd)));
            }
            26 => {
                let (i, sd) = parse_send_data(i)?;
                return Ok((i, Self::SendDataIndication(sd)));
            }
            _ => Self::Other { first, rest: i },
        };
        Ok((&[], pdu))
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::ErectDomainRequest {
                sub_height,
                sub_interval,
                widths,
            } => {
                3 + per::integer_octets(*sub_height, widths[0])
                    + per::integer_octets(*sub_interval, widths[1])
            }
            Self::DisconnectProviderUltimatum { .. } => 2,
            Self::AttachUserRequest => 1,
            Self::AttachUserConfirm { initiator, .. } => 2 + initiator.map_or(0, |_| 2),
            Self::ChannelJoinRequest { .. } => 5,
            Self::ChannelJoinConfirm { channel_id, .. } => 6 + channel_id.map_or(0, |_| 2),
            Self::SendDataRequest(sd) | Self::SendDataIndication(sd) => {
                6 + per::length_len(sd.data.len(), sd.long_length) + sd.data.len()
            }
            Self::Other { rest, .. } => 1 + rest.len(),
        }
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::ErectDomainRequest {
                sub_height,
                sub_interval,
                widths,
            } => {
                dst.push(1 << 2);
                per::write_integer(dst, *sub_height, widths[0]);
                per::write_integer(dst, *sub_interval, widths[1]);
            }
            Self::DisconnectProviderUltimatum { reason } => {
                dst.push((8 << 2) | ((reason.0 >> 1) & 0x03));
                dst.push((reason.0 & 1) << 7);
            }
            Self::AttachUserRequest => dst.push(10 << 2),
            Self::AttachUserConfirm { result, initiator } => {
                dst.push((11 << 2) | if initiator.is_some() { 2 } else { 0 });
                dst.push(crate::codec::len_u8(result.0 as usize));
                if let Some(id) = initiator {
                    per::write_u16_min(dst, *id, BASE_CHANNEL_ID);
                }
            }
            Self::ChannelJoinRequest {
                initiator,
                channel_id,
            } => {
                dst.push(14 << 2);
                per::write_u16_min(dst, *initiator, BASE_CHANNEL_ID);
                per::write_u16_min(dst, *channel_id, 0);
            }
            Self::ChannelJoinConfirm {
                result,
                initiator,
                requested,
                channel_id,
            } => {
                dst.push((15 << 2) | if channel_id.is_some() { 2 } else { 0 });
                dst.push(crate::codec::len_u8(result.0 as usize));
                per::write_u16_min(dst, *initiator, BASE_CHANNEL_ID);
                per::write_u16_min(dst, *requested, 0);
                if let Some(id) = channel_id {
                    per::write_u16_min(dst, *id, 0);
                }
            }
            Self::SendDataRequest(sd) => write_send_data(dst, 25 << 2, sd)?,
            Self::SendDataIndication(sd) => write_send_data(dst, 26 << 2, sd)?,
            Self::Other { first, rest } => {
                dst.push(*first);
                dst.extend_from_slice(rest);
            }
        }
        Ok(())
    }
}
