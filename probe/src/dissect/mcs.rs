//! MCS: Connect-Initial / Connect-Response (with their GCC user data) and the domain PDUs.

use rdp_proto::gcc::{self as pgcc};
use rdp_proto::mcs::{self as pmcs, ConnectInitial, ConnectResponse, DomainParameters, DomainPdu};
use rdp_proto::DecodeError;

use super::*;

pub(super) fn domain_parameters(input: &[u8], name: &str, p: &DomainParameters) -> Node {
    let mut n = Node::new(name, input, &[]);
    n.f("maxChannelIds", p.max_channel_ids)
        .f("maxUserIds", p.max_user_ids)
        .f("maxTokenIds", p.max_token_ids)
        .f("numPriorities", p.num_priorities)
        .f("minThroughput", p.min_throughput)
        .f("maxHeight", p.max_height)
        .f("maxMCSPDUsize", p.max_mcspdu_size)
        .f("protocolVersion", p.protocol_version);
    n
}

pub(super) fn mcs_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    if part.starts_with(&pmcs::TAG_CONNECT_INITIAL) {
        let ci: ConnectInitial = dec(input, part)?;
        let mut n = Node::new("MCS Connect-Initial", input, part);
        n.f(
            "callingDomainSelector",
            hex::encode(ci.calling_domain_selector),
        )
        .f(
            "calledDomainSelector",
            hex::encode(ci.called_domain_selector),
        )
        .f("upwardFlag", ci.upward_flag);
        n.child(domain_parameters(
            input,
            "targetParameters",
            &ci.target_parameters,
        ));
        n.child(domain_parameters(
            input,
            "minimumParameters",
            &ci.minimum_parameters,
        ));
        n.child(domain_parameters(
            input,
            "maximumParameters",
            &ci.maximum_parameters,
        ));
        let g = dec::<pgcc::ConferenceCreateRequest>(input, ci.user_data)
            .map(|r| gcc_request_node(input, ci.user_data, &r));
        n.child(g.unwrap_or_else(|e| error_node(input, ci.user_data, e)));
        return Ok(n);
    }
    if part.starts_with(&pmcs::TAG_CONNECT_RESPONSE) {
        let cr: ConnectResponse = dec(input, part)?;
        let mut n = Node::new("MCS Connect-Response", input, part);
        n.f("result", cr.result.to_string())
            .f("calledConnectId", cr.called_connect_id);
        n.child(domain_parameters(
            input,
            "domainParameters",
            &cr.domain_parameters,
        ));
        let g = dec::<pgcc::ConferenceCreateResponse>(input, cr.user_data)
            .map(|r| gcc_response_node(input, cr.user_data, &r));
        n.child(g.unwrap_or_else(|e| error_node(input, cr.user_data, e)));
        return Ok(n);
    }
    let pdu: DomainPdu = dec(input, part)?;
    let mut n = Node::new(format!("MCS {}", pdu.pdu_type()), input, part);
    match &pdu {
        DomainPdu::ErectDomainRequest {
            sub_height,
            sub_interval,
            ..
        } => {
            n.f("subHeight", *sub_height)
                .f("subInterval", *sub_interval);
        }
        DomainPdu::DisconnectProviderUltimatum { reason } => {
            n.f("reason", reason.to_string());
        }
        DomainPdu::AttachUserRequest => {}
        DomainPdu::AttachUserConfirm { result, initiator } => {
            n.f("result", result.to_string());
            if let Some(i) = initiator {
                n.f("initiator", *i);
            }
        }
        DomainPdu::ChannelJoinRequest {
            initiator,
            channel_id,
        } => {
            n.f("initiator", *initiator).f("channelId", *channel_id);
        }
        DomainPdu::ChannelJoinConfirm {
            result,
            initiator,
            requested,
            channel_id,
        } => {
            n.f("result", result.to_string())
                .f("initiator", *initiator)
                .f("requested", *requested);
            if let Some(c) = channel_id {
                n.f("channelId", *c);
            }
        }
        DomainPdu::SendDataRequest(sd) | DomainPdu::SendDataIndication(sd) => {
            n.f("initiator", sd.initiator)
                .f("channelId", sd.channel_id)
                .f("userData length", sd.data.len());
            if !sd.data.is_empty() {
                n.child(slowpath_node(input, sd.data));
            }
        }
        DomainPdu::Other { .. } => {}
    }
    Ok(n)
}
