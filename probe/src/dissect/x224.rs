//! TPKT and X.224: Connection Request / Confirm with their negotiation, Data, Disconnect.

use rdp_proto::nego::flag_names;
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{NegotiationResult, Token, Tpdu};
use rdp_proto::DecodeError;

use super::*;

pub(super) fn tpkt_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let tpkt: Tpkt = dec(input, part)?;
    let mut n = Node::new("TPKT", input, part);
    n.f("version", 3u8).f("length", part.len());
    let tpdu: Tpdu = dec(input, tpkt.payload)?;
    let mut t = Node::new(format!("X.224 {}", tpdu.kind()), input, tpkt.payload);
    match &tpdu {
        Tpdu::ConnectionRequest(cr) => {
            t.f("CDT", cr.credit)
                .f("DST-REF", cr.dst_ref)
                .f("SRC-REF", cr.src_ref)
                .f("class", cr.class_option);
            match cr.token {
                Some(Token::Cookie(c)) => {
                    t.f("cookie", wire_text(c));
                }
                Some(Token::RoutingToken(r)) => {
                    t.f("routingToken", wire_text(r));
                }
                None => {}
            }
            if let Some(neg) = cr.negotiation {
                let mut x = Node::new("RDP_NEG_REQ", input, &[]);
                x.length = Some(8);
                x.hex32("flags", neg.flags.bits().into())
                    .f("flags names", flag_names(neg.flags));
                x.f("length", neg.length)
                    .f("requestedProtocols", protocols(neg.requested_protocols));
                t.child(x);
            } else {
                t.f(
                    "rdpNegReq",
                    "absent (legacy client: Standard RDP Security only)",
                );
            }
            if let Some(c) = cr.correlation {
                let mut x = Node::new("RDP_NEG_CORRELATION_INFO", input, &[]);
                x.length = Some(36);
                x.f("correlationId", hex::encode(c.correlation_id));
                t.child(x);
            }
            if !cr.trailing.is_empty() {
                t.f("trailing bytes", hex::encode(cr.trailing));
            }
        }
        Tpdu::ConnectionConfirm(cc) => {
            t.f("CDT", cc.credit)
                .f("DST-REF", cc.dst_ref)
                .f("SRC-REF", cc.src_ref)
                .f("class", cc.class_option);
            match cc.negotiation {
                Some(NegotiationResult::Response(r)) => {
                    let mut x = Node::new("RDP_NEG_RSP", input, &[]);
                    x.length = Some(8);
                    x.hex32("flags", r.flags.bits().into())
                        .f("flags names", flag_names(r.flags));
                    x.f("length", r.length)
                        .f("selectedProtocol", protocols(r.selected_protocol));
                    if r.length != rdp_proto::nego::NEG_LEN {
                        x.error = Some(format!("length is {}, the spec says 8", r.length));
                    }
                    t.child(x);
                }
                Some(NegotiationResult::Failure(f)) => {
                    let mut x = Node::new("RDP_NEG_FAILURE", input, &[]);
                    x.length = Some(8);
                    x.f("length", f.length)
                        .f("failureCode", format!("{} ({})", f.code.0, f.code));
                    t.child(x);
                }
                None => {
                    t.f(
                        "rdpNegData",
                        "absent (server predates negotiation: Standard RDP Security)",
                    );
                }
            }
            if !cc.trailing.is_empty() {
                t.f("trailing bytes", hex::encode(cc.trailing));
            }
        }
        Tpdu::DisconnectRequest(dr) => {
            t.f("DST-REF", dr.dst_ref)
                .f("SRC-REF", dr.src_ref)
                .f("reason", dr.reason);
        }
        Tpdu::Error(er) => {
            t.f("DST-REF", er.dst_ref).f("reject cause", er.cause);
        }
        Tpdu::Data(d) => {
            t.f("EOT", d.eot & 0x80 != 0);
            if !d.payload.is_empty() {
                t.child(
                    mcs_node(input, d.payload).unwrap_or_else(|e| error_node(input, d.payload, e)),
                );
            }
        }
    }
    n.child(t);
    Ok(n)
}
