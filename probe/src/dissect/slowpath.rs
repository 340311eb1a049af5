//! Slow-path data: security header, Share Control / Share Data, licensing.

use rdp_proto::licensing::{LicensingBody, LicensingPdu};
use rdp_proto::nego::flag_names;
use rdp_proto::slowpath::{
    PduType, PduType2, SecurityFlags, SecurityHeader, SetErrorInfo, ShareControlPdu, ShareDataPdu,
};
use rdp_proto::{decode, decode_prefix};

use super::*;

/// Slow-path data: without the connection's security state, try a Share Control PDU spanning
/// the data first, then a basic security header.
pub(super) fn slowpath_node(input: &[u8], data: &[u8]) -> Node {
    if let Ok(sc) = decode::<ShareControlPdu>(data) {
        if sc.pdu_type_raw & 0xFFF0 == 0x0010 {
            return share_control_node(input, data, &sc);
        }
    }
    let Ok((rest, sec)) = decode_prefix::<SecurityHeader>(data) else {
        let mut n = Node::new("slow-path data", input, data);
        n.error = Some("shorter than a security header".into());
        return n;
    };
    let mut n = Node::new("TS_SECURITY_HEADER", input, data);
    n.hex32("flags", sec.flags.bits().into())
        .f("flags names", flag_names(sec.flags))
        .f("flagsHi", sec.flags_hi);
    if sec.flags.contains(SecurityFlags::SEC_ENCRYPT) {
        n.f("encrypted data", rest.len());
    } else if sec.flags.contains(SecurityFlags::SEC_LICENSE_PKT) {
        n.child(match dec::<LicensingPdu>(input, rest) {
            Ok(l) => licensing_node(input, rest, &l),
            Err(e) => error_node(input, rest, e),
        });
    } else if sec.flags.contains(SecurityFlags::SEC_EXCHANGE_PKT) {
        n.f("Security Exchange PDU data", rest.len());
    } else if sec.flags.contains(SecurityFlags::SEC_INFO_PKT) {
        n.f("Client Info PDU data (in clear)", rest.len());
    } else if let Ok(sc) = decode::<ShareControlPdu>(rest) {
        n.child(share_control_node(input, rest, &sc));
    }
    n
}

pub(super) fn share_control_node(input: &[u8], part: &[u8], sc: &ShareControlPdu<'_>) -> Node {
    let mut n = Node::new("TS_SHARECONTROLHEADER", input, part);
    n.f("totalLength", sc.total_length)
        .f("pduType", sc.pdu_type().to_string())
        .f("pduSource", sc.pdu_source);
    if sc.pdu_type() == PduType::PDUTYPE_DATAPDU {
        if let Ok(sd) = decode::<ShareDataPdu>(sc.body) {
            let mut d = Node::new("TS_SHAREDATAHEADER", input, sc.body);
            d.f("shareId", sd.share_id)
                .f("streamId", sd.stream_id)
                .f("pduType2", sd.pdu_type2.to_string());
            if sd.pdu_type2 == PduType2::PDUTYPE2_SET_ERROR_INFO_PDU {
                if let Ok(e) = decode::<SetErrorInfo>(sd.body) {
                    let mut x = Node::new("TS_SET_ERROR_INFO_PDU", input, sd.body);
                    x.f(
                        "errorInfo",
                        format!("0x{:08x} ({})", e.error_info.0, e.error_info),
                    );
                    d.child(x);
                }
            }
            n.child(d);
        }
    }
    n
}

pub(super) fn licensing_node(input: &[u8], part: &[u8], l: &LicensingPdu<'_>) -> Node {
    let mut n = Node::new("LICENSE_PREAMBLE", input, part);
    n.f("bMsgType", l.msg_type.to_string()).f("flags", l.flags);
    if let LicensingBody::ErrorAlert(m) = &l.body {
        let mut x = Node::new("LICENSE_ERROR_MESSAGE", input, &[]);
        x.f("dwErrorCode", m.error_code.to_string())
            .f("dwStateTransition", m.state_transition.to_string());
        x.f("wBlobType", m.blob_type).f("wBlobLen", m.blob.len());
        n.child(x);
    }
    n
}
