//! Layer-by-layer decoding of PDUs into a tree of named fields, for `rdprobe decode` (and for
//! anyone who wants to see every field of a frame). Field names are the spec's.

use rdp_proto::credssp::TsRequest;
use rdp_proto::fastpath::FastPathPdu;
use rdp_proto::frame::{Deframer, FrameKind, Framing};
use rdp_proto::gcc::{self, ClientBlock, ServerBlock, ServerCertificate};
use rdp_proto::licensing::{LicensingBody, LicensingPdu};
use rdp_proto::mcs::{self, ConnectInitial, ConnectResponse, DomainParameters, DomainPdu};
use rdp_proto::nego::{flag_names, SecurityProtocol};
use rdp_proto::ntlm::{self, AvId, AvPair, Message};
use rdp_proto::slowpath::{
    PduType, PduType2, SecurityFlags, SecurityHeader, SetErrorInfo, ShareControlPdu, ShareDataPdu,
};
use rdp_proto::tls::{self, ContentType, HandshakeType};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{NegotiationResult, Token, Tpdu};
use rdp_proto::{decode, decode_prefix, DecodeError, Pdu};
use serde::Serialize;

use crate::escape;
use crate::facts::cert::oid_name;
use crate::time::rfc3339;

/// A field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Num(u64),
    Bool(bool),
    Text(String),
    List(Vec<String>),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Self::Num(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Num(v.into())
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Self::Num(v.into())
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Self::Num(v.into())
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Self::Num(v as u64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Self::List(v)
    }
}

/// One decoded structure: its spec name, where it is, its fields, and what it contains.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Node {
    pub name: String,
    /// Where the structure starts in the input, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    #[serde(serialize_with = "fields_as_map")]
    pub fields: Vec<(String, Value)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
    /// Set when this structure (or something inside it) could not be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn fields_as_map<S: serde::Serializer>(f: &[(String, Value)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(f.len()))?;
    for (k, v) in f {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

impl Node {
    fn new(name: impl Into<String>, whole: &[u8], part: &[u8]) -> Self {
        let known = !part.is_empty();
        Self {
            name: name.into(),
            offset: known.then(|| rdp_proto::error::offset_in(whole, part)),
            length: known.then_some(part.len()),
            ..Self::default()
        }
    }

    fn f(&mut self, name: &str, v: impl Into<Value>) -> &mut Self {
        self.fields.push((name.to_owned(), v.into()));
        self
    }

    fn hex32(&mut self, name: &str, v: u32) -> &mut Self {
        self.f(name, format!("0x{v:08x}"))
    }

    fn child(&mut self, n: Node) -> &mut Self {
        self.children.push(n);
        self
    }

    /// The first error in this tree, depth first.
    pub fn first_error(&self) -> Option<&str> {
        self.error
            .as_deref()
            .or_else(|| self.children.iter().find_map(Node::first_error))
    }

    /// Renders the tree as indented text; wire strings are escaped.
    pub fn render_text(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        match (self.offset, self.length) {
            (Some(o), Some(l)) => {
                out.push_str(&format!("{pad}{} [offset {o}, {l} bytes]\n", self.name))
            }
            (_, Some(l)) => out.push_str(&format!("{pad}{} [{l} bytes]\n", self.name)),
            _ => out.push_str(&format!("{pad}{}\n", self.name)),
        }
        for (k, v) in &self.fields {
            let v = match v {
                Value::Num(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Text(t) => escape::terminal(t),
                Value::List(l) => l
                    .iter()
                    .map(|s| escape::terminal(s))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            out.push_str(&format!("{pad}  {k}: {v}\n"));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("{pad}  error: {}\n", escape::terminal(e)));
        }
        for c in &self.children {
            c.render_text(out, depth + 1);
        }
    }
}

/// Why input could not be decoded at all.
#[derive(Debug, thiserror::Error)]
pub enum DissectError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("input is empty")]
    Empty,
    #[error("{remaining} bytes at offset {offset} are not a complete frame (need {needed})")]
    Incomplete {
        offset: usize,
        remaining: usize,
        needed: usize,
    },
}

/// Decodes `input`: a run of frames (TPKT, TLS records, fast-path), or one bare PDU
/// (an MCS connect PDU, GCC ConnectData, a TSRequest, an NTLM message). Returns the decoded
/// trees and, if the bytes stop making sense somewhere, the error with its offset.
pub fn dissect(input: &[u8]) -> (Vec<Node>, Option<DissectError>) {
    if input.is_empty() {
        return (Vec::new(), Some(DissectError::Empty));
    }
    if input.starts_with(&ntlm::SIGNATURE) {
        return single(input, ntlm_node(input, input));
    }
    if input.starts_with(&mcs::TAG_CONNECT_INITIAL) || input.starts_with(&mcs::TAG_CONNECT_RESPONSE)
    {
        return single(input, mcs_node(input, input));
    }
    if input.starts_with(&gcc::T124_OBJECT_ID) {
        let node = match decode::<gcc::ConferenceCreateRequest>(input) {
            Ok(req) => Ok(gcc_request_node(input, input, &req)),
            Err(_) => decode::<gcc::ConferenceCreateResponse>(input)
                .map(|r| gcc_response_node(input, input, &r)),
        };
        return single(input, node);
    }
    let framing = if input.first() == Some(&0x30) {
        Framing::Der
    } else {
        Framing::Rdp
    };
    let mut d = Deframer::with_limit(input.len().max(rdp_proto::frame::DEFAULT_LIMIT));
    d.set_framing(framing);
    if d.push(input).is_err() {
        return (Vec::new(), Some(DissectError::Empty));
    }
    let mut nodes = Vec::new();
    loop {
        match d.next_frame() {
            Ok(Some(frame)) => {
                let off = frame.offset as usize;
                let bytes = frame.bytes;
                let part = &input[off..off + bytes.len()];
                let node = match frame.kind {
                    FrameKind::Tpkt => tpkt_node(input, part),
                    FrameKind::TlsRecord => tls_record_node(input, part),
                    FrameKind::FastPath => fastpath_node(input, part),
                    FrameKind::Der => credssp_node(input, part),
                };
                nodes.push(node.unwrap_or_else(|e| error_node(input, part, e)));
            }
            Ok(None) => {
                let rest = d.buffered();
                if rest.is_empty() {
                    return (nodes, None);
                }
                let offset = d.offset() as usize;
                let needed = match rdp_proto::frame::frame_header(rest, framing, offset) {
                    Ok(rdp_proto::frame::Header::Frame { len, .. }) => len,
                    _ => rest.len() + 1,
                };
                return (
                    nodes,
                    Some(DissectError::Incomplete {
                        offset,
                        remaining: rest.len(),
                        needed,
                    }),
                );
            }
            Err(e) => return (nodes, Some(e.into())),
        }
    }
}

fn single(input: &[u8], node: Result<Node, DecodeError>) -> (Vec<Node>, Option<DissectError>) {
    match node {
        Ok(n) => (vec![n], None),
        Err(e) => {
            let _ = input;
            (Vec::new(), Some(e.into()))
        }
    }
}

/// A frame whose inner layers failed: the error is shown with an offset in the input.
fn error_node(input: &[u8], part: &[u8], e: DecodeError) -> Node {
    let mut n = Node::new("undecodable frame", input, part);
    let base = rdp_proto::error::offset_in(input, part);
    n.error = Some(format!(
        "{} {}: {} at offset {}",
        e.layer,
        e.context,
        e.kind,
        base + e.offset
    ));
    n
}

/// Decodes `T` from `part` and shifts the error offset to be relative to `whole`.
fn dec<'a, T: Pdu<'a>>(whole: &[u8], part: &'a [u8]) -> Result<T, DecodeError> {
    decode::<T>(part).map_err(|mut e| {
        e.offset += rdp_proto::error::offset_in(whole, part);
        e
    })
}

fn protocols(p: SecurityProtocol) -> String {
    format!(
        "0x{:08x} ({})",
        p.bits(),
        p.names().join("|").to_uppercase()
    )
}

fn tpkt_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
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

fn domain_parameters(input: &[u8], name: &str, p: &DomainParameters) -> Node {
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

fn mcs_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    if part.starts_with(&mcs::TAG_CONNECT_INITIAL) {
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
        let g = dec::<gcc::ConferenceCreateRequest>(input, ci.user_data)
            .map(|r| gcc_request_node(input, ci.user_data, &r));
        n.child(g.unwrap_or_else(|e| error_node(input, ci.user_data, e)));
        return Ok(n);
    }
    if part.starts_with(&mcs::TAG_CONNECT_RESPONSE) {
        let cr: ConnectResponse = dec(input, part)?;
        let mut n = Node::new("MCS Connect-Response", input, part);
        n.f("result", cr.result.to_string())
            .f("calledConnectId", cr.called_connect_id);
        n.child(domain_parameters(
            input,
            "domainParameters",
            &cr.domain_parameters,
        ));
        let g = dec::<gcc::ConferenceCreateResponse>(input, cr.user_data)
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

/// Slow-path data: without the connection's security state, try a Share Control PDU spanning
/// the data first, then a basic security header.
fn slowpath_node(input: &[u8], data: &[u8]) -> Node {
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

fn share_control_node(input: &[u8], part: &[u8], sc: &ShareControlPdu<'_>) -> Node {
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

fn licensing_node(input: &[u8], part: &[u8], l: &LicensingPdu<'_>) -> Node {
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

fn gcc_request_node(input: &[u8], part: &[u8], req: &gcc::ConferenceCreateRequest<'_>) -> Node {
    let mut n = Node::new("GCC Conference Create Request", input, part);
    n.f("h221NonStandard", wire_text(req.h221_key));
    for b in &req.blocks {
        n.child(client_block_node(input, b));
    }
    n
}

fn client_block_node(input: &[u8], b: &ClientBlock<'_>) -> Node {
    let ty = b.block_type();
    let mut n = Node::new(format!("{ty}"), input, &[]);
    match b {
        ClientBlock::Core(c) => {
            n.name = "TS_UD_CS_CORE".into();
            n.f(
                "version",
                format!("0x{:08x} (RDP {})", c.version.0, c.version.label()),
            )
            .f("desktopWidth", c.desktop_width)
            .f("desktopHeight", c.desktop_height)
            .f("colorDepth", c.color_depth.to_string())
            .f("keyboardLayout", format!("0x{:08x}", c.keyboard_layout))
            .f("clientBuild", c.client_build)
            .f("clientName", c.client_name())
            .f("keyboardType", c.keyboard_type)
            .f("keyboardFunctionKey", c.keyboard_function_key);
            let o = &c.optional;
            if let Some(v) = o.post_beta2_color_depth {
                n.f("postBeta2ColorDepth", v.to_string());
            }
            if let Some(v) = o.client_product_id {
                n.f("clientProductId", v);
            }
            if let Some(v) = o.high_color_depth {
                n.f("highColorDepth", v);
            }
            if let Some(v) = o.supported_color_depths {
                n.f("supportedColorDepths", format!("0x{v:04x}"));
            }
            if let Some(v) = o.early_capability_flags {
                n.f("earlyCapabilityFlags", format!("0x{v:04x}"));
            }
            if let Some(v) = c.dig_product_id() {
                n.f("clientDigProductId", v);
            }
            if let Some(v) = o.connection_type {
                n.f("connectionType", v);
            }
            if let Some(v) = o.server_selected_protocol {
                n.f(
                    "serverSelectedProtocol",
                    protocols(SecurityProtocol::from_bits_retain(v)),
                );
            }
        }
        ClientBlock::Security(s) => {
            n.name = "TS_UD_CS_SEC".into();
            n.hex32("encryptionMethods", s.encryption_methods.bits())
                .f("encryptionMethods names", flag_names(s.encryption_methods))
                .f("extEncryptionMethods", s.ext_encryption_methods);
        }
        ClientBlock::Network(net) => {
            n.name = "TS_UD_CS_NET".into();
            n.f("channelCount", net.channels.len());
            n.f(
                "channelDefArray",
                net.channels
                    .iter()
                    .map(|c| format!("{} (0x{:08x})", c.name(), c.options))
                    .collect::<Vec<_>>(),
            );
        }
        ClientBlock::Cluster(c) => {
            n.name = "TS_UD_CS_CLUSTER".into();
            n.hex32("Flags", c.flags)
                .f("RedirectedSessionID", c.redirected_session_id);
        }
        ClientBlock::Monitor(m) => {
            n.name = "TS_UD_CS_MONITOR".into();
            n.f("monitorCount", m.monitor_count);
        }
        ClientBlock::MonitorEx(m) => {
            n.name = "TS_UD_CS_MONITOR_EX".into();
            n.f("monitorCount", m.monitor_count);
        }
        ClientBlock::MessageChannel { flags } => {
            n.name = "TS_UD_CS_MCS_MSGCHANNEL".into();
            n.hex32("flags", *flags);
        }
        ClientBlock::Multitransport { flags } => {
            n.name = "TS_UD_CS_MULTITRANSPORT".into();
            n.hex32("flags", *flags);
        }
        ClientBlock::Unknown(u) => {
            n.name = format!("user data block 0x{:04x}", u.block_type.0);
            n.f("data", hex::encode(u.data));
        }
    }
    n
}

fn gcc_response_node(input: &[u8], part: &[u8], resp: &gcc::ConferenceCreateResponse<'_>) -> Node {
    let mut n = Node::new("GCC Conference Create Response", input, part);
    n.f("nodeID", resp.node_id)
        .f("result", resp.result)
        .f("h221NonStandard", wire_text(resp.h221_key));
    for b in &resp.blocks {
        n.child(server_block_node(input, b));
    }
    n
}

fn server_block_node(input: &[u8], b: &ServerBlock<'_>) -> Node {
    let mut n = Node::new(format!("{}", b.block_type()), input, &[]);
    match b {
        ServerBlock::Core(c) => {
            n.name = "TS_UD_SC_CORE".into();
            n.f(
                "version",
                format!("0x{:08x} (RDP {})", c.version.0, c.version.label()),
            );
            if let Some(p) = c.client_requested_protocols {
                n.f(
                    "clientRequestedProtocols",
                    protocols(SecurityProtocol::from_bits_retain(p)),
                );
            }
            if let Some(e) = c.early_capability_flags {
                n.hex32("earlyCapabilityFlags", e);
            }
        }
        ServerBlock::Security(s) => {
            n.name = "TS_UD_SC_SEC1".into();
            n.hex32("encryptionMethod", s.encryption_method.bits())
                .f("encryptionMethod names", flag_names(s.encryption_method))
                .f("encryptionLevel", s.encryption_level.to_string());
            if let Some(r) = s.server_random {
                n.f("serverRandomLen", r.len());
            }
            if let Some(c) = s.server_certificate {
                n.f("serverCertLen", c.len());
            }
            match s.certificate() {
                Some(Ok(cert)) => {
                    let mut c = Node::new(
                        "SERVER_CERTIFICATE",
                        input,
                        s.server_certificate.unwrap_or_default(),
                    );
                    c.f("certificate type", cert.cert_type().to_string())
                        .f("permanent", cert.permanent());
                    match &cert.certificate {
                        ServerCertificate::Proprietary(p) => {
                            c.f("PublicKeyBlob bitlen", p.public_key.bitlen)
                                .f("pubExp", p.public_key.pub_exp);
                        }
                        ServerCertificate::X509 { certificates, .. } => {
                            c.f("NumCertBlobs", certificates.len());
                            for der in certificates {
                                c.child(x509_node(input, der));
                            }
                        }
                        ServerCertificate::Unknown { .. } => {}
                    }
                    n.child(c);
                }
                Some(Err(e)) => n.error = Some(e.to_string()),
                None => {}
            }
        }
        ServerBlock::Network(net) => {
            n.name = "TS_UD_SC_NET".into();
            n.f("MCSChannelId", net.mcs_channel_id);
            n.f(
                "channelIdArray",
                net.channel_ids().map(|c| c.to_string()).collect::<Vec<_>>(),
            );
        }
        ServerBlock::MessageChannel { mcs_channel_id } => {
            n.name = "TS_UD_SC_MCS_MSGCHANNEL".into();
            n.f("MCSChannelID", *mcs_channel_id);
        }
        ServerBlock::Multitransport { flags } => {
            n.name = "TS_UD_SC_MULTITRANSPORT".into();
            n.hex32("flags", *flags);
        }
        ServerBlock::Unknown(u) => {
            n.name = format!("user data block 0x{:04x}", u.block_type.0);
            n.f("data", hex::encode(u.data));
        }
    }
    n
}

/// An X.509 certificate's facts.
pub fn x509_node(input: &[u8], der: &[u8]) -> Node {
    use x509_parser::prelude::*;
    let mut n = Node::new("Certificate (X.509)", input, der);
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => {
            n.f("subject", cert.subject().to_string())
                .f("issuer", cert.issuer().to_string())
                .f("serial", cert.raw_serial_as_string().replace(':', ""))
                .f("notBefore", rfc3339(cert.validity().not_before.timestamp()))
                .f("notAfter", rfc3339(cert.validity().not_after.timestamp()));
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                let names = san
                    .value
                    .general_names
                    .iter()
                    .map(|g| g.to_string())
                    .collect::<Vec<_>>();
                n.f("subjectAltName", names);
            }
            let key = cert.public_key();
            let alg = key.algorithm.algorithm.to_id_string();
            let bits = key.parsed().map(|k| k.key_size()).unwrap_or(0);
            n.f("publicKey", format!("{} {} bits", oid_name(&alg), bits));
            n.f(
                "signature",
                oid_name(&cert.signature_algorithm.algorithm.to_id_string()),
            );
        }
        Err(e) => n.error = Some(format!("X.509: {e}")),
    }
    n
}

/// The name of a signature or key algorithm OID.
fn tls_record_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let rec: tls::Record = dec(input, part)?;
    let mut n = Node::new(format!("TLS record: {}", rec.content_type), input, part);
    n.f("version", rec.version.label())
        .f("length", rec.fragment.len());
    match rec.content_type {
        ContentType::HANDSHAKE => {
            let mut frag = rec.fragment;
            while !frag.is_empty() {
                match decode_prefix::<tls::Handshake>(frag) {
                    Ok((rest, hs)) if hs.msg_type.name().is_some() => {
                        let whole = &frag[..frag.len() - rest.len()];
                        n.child(handshake_node(input, whole, &hs));
                        frag = rest;
                    }
                    _ => {
                        n.f("encrypted handshake data", frag.len());
                        break;
                    }
                }
            }
        }
        ContentType::ALERT if rec.fragment.len() == 2 => {
            let a: tls::Alert = dec(input, rec.fragment)?;
            let mut x = Node::new("Alert", input, rec.fragment);
            x.f("level", a.level.to_string())
                .f("description", a.description.to_string());
            n.child(x);
        }
        ContentType::ALERT => {
            n.f("encrypted alert", rec.fragment.len());
        }
        _ => {}
    }
    Ok(n)
}

fn handshake_node(input: &[u8], whole: &[u8], hs: &tls::Handshake<'_>) -> Node {
    let mut n = Node::new(format!("Handshake: {}", hs.msg_type), input, whole);
    let body = hs.body;
    let r: Result<(), DecodeError> = (|| {
        match hs.msg_type {
            HandshakeType::CLIENT_HELLO => {
                let ch: tls::ClientHello = dec(input, body)?;
                n.f("legacy_version", ch.version.label())
                    .f(
                        "versions",
                        ch.versions().iter().map(|v| v.label()).collect::<Vec<_>>(),
                    )
                    .f("random", hex::encode(ch.random))
                    .f("legacy_session_id", hex::encode(ch.session_id))
                    .f(
                        "cipher_suites",
                        ch.cipher_suites()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>(),
                    )
                    .f(
                        "extensions",
                        ch.extensions()
                            .map(|e| e.ext_type.to_string())
                            .collect::<Vec<_>>(),
                    );
                if let Some(sni) = ch.sni() {
                    n.f("server_name", wire_text(sni));
                }
            }
            HandshakeType::SERVER_HELLO => {
                let sh: tls::ServerHello = dec(input, body)?;
                n.f("legacy_version", sh.version.label())
                    .f("selected version", sh.selected_version().label())
                    .f("cipher_suite", sh.cipher_suite.to_string())
                    .f("random", hex::encode(sh.random))
                    .f(
                        "extensions",
                        sh.extensions()
                            .map(|e| e.ext_type.to_string())
                            .collect::<Vec<_>>(),
                    );
                if sh.is_hello_retry_request() {
                    n.f("HelloRetryRequest", true);
                }
            }
            HandshakeType::CERTIFICATE => {
                let c: tls::Certificate = dec(input, body)?;
                n.f("certificates", c.certificates.len());
                for der in &c.certificates {
                    n.child(x509_node(input, der));
                }
            }
            _ => {
                n.f("body length", body.len());
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        n.error = Some(e.to_string());
    }
    n
}

fn fastpath_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let fp: FastPathPdu = dec(input, part)?;
    let mut n = Node::new("Fast-path PDU", input, part);
    n.f("action", "FASTPATH_ACTION_FASTPATH")
        .f("flags", flag_names(fp.flags()))
        .f("numEvents", fp.num_events())
        .f("length", part.len())
        .f("body length", fp.body.len());
    Ok(n)
}

fn credssp_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let req: TsRequest = dec(input, part)?;
    let mut n = Node::new("CredSSP TSRequest", input, part);
    n.f("version", req.version).f(
        "patched CVE-2018-0886 (version >= 5)",
        req.patched_cve_2018_0886(),
    );
    for t in &req.nego_tokens {
        let mut tok = Node::new("negoToken", input, t);
        match ntlm_node(input, t) {
            Ok(x) => {
                tok.child(x);
            }
            Err(_) if !t.starts_with(&ntlm::SIGNATURE) => {
                tok.f("token", "not NTLM (SPNEGO/Kerberos)");
            }
            Err(e) => tok.error = Some(e.to_string()),
        }
        n.child(tok);
    }
    if let Some(a) = req.auth_info {
        n.f("authInfo length", a.len());
    }
    if let Some(p) = req.pub_key_auth {
        n.f("pubKeyAuth length", p.len());
    }
    if let Some(e) = req.error_code {
        n.f("errorCode", format!("0x{:08x} ({e})", e.0));
    }
    if let Some(c) = req.client_nonce {
        n.f("clientNonce", hex::encode(c));
    }
    Ok(n)
}

fn av_pairs_node<'a>(input: &[u8], info: &[u8], pairs: impl Iterator<Item = AvPair<'a>>) -> Node {
    let mut n = Node::new("AV_PAIRs", input, info);
    for p in pairs {
        let name = p.id.to_string();
        match p.id {
            AvId::MSV_AV_TIMESTAMP => {
                let ft = p.filetime().unwrap_or(0);
                let t = ntlm::filetime_to_unix(ft)
                    .map_or_else(|| ft.to_string(), |s| rfc3339(s as i64));
                n.f(&name, t);
            }
            AvId::MSV_AV_FLAGS => {
                n.f(&name, hex::encode(p.value));
            }
            AvId::MSV_AV_CHANNEL_BINDINGS | AvId::MSV_AV_SINGLE_HOST => {
                n.f(&name, hex::encode(p.value));
            }
            _ if p.id.name().is_some() => {
                n.f(&name, p.text());
            }
            _ => {
                n.f(&name, hex::encode(p.value));
            }
        }
    }
    n
}

fn ntlm_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let msg: Message = dec(input, part)?;
    Ok(match &msg {
        Message::Negotiate(m) => {
            let mut n = Node::new("NTLM NEGOTIATE_MESSAGE", input, part);
            n.hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags));
            n.f("DomainName", wire_text(m.domain.data))
                .f("Workstation", wire_text(m.workstation.data));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            n
        }
        Message::Challenge(m) => {
            let mut n = Node::new("NTLM CHALLENGE_MESSAGE", input, part);
            n.f("TargetName", rdp_proto::utf16le(m.target_name.data))
                .hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags))
                .f("ServerChallenge", hex::encode(m.server_challenge));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            n.child(av_pairs_node(input, m.target_info.data, m.av_pairs()));
            n
        }
        Message::Authenticate(m) => {
            let mut n = Node::new("NTLM AUTHENTICATE_MESSAGE", input, part);
            n.f("DomainName", m.domain_name())
                .f("UserName", m.user_name())
                .f("Workstation", m.workstation_name())
                .f("LmChallengeResponse length", m.lm_response.data.len())
                .f("NtChallengeResponse length", m.nt_response.data.len())
                .hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            if let Some(mic) = m.mic {
                n.f("MIC", hex::encode(mic));
            }
            if m.nt_response.data.len() > 44 {
                n.child(av_pairs_node(
                    input,
                    m.nt_response.data,
                    m.ntlmv2_av_pairs(),
                ));
            }
            n
        }
    })
}

/// Bytes from the wire as text (invalid UTF-8 becomes U+FFFD); renderers escape it.
fn wire_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
