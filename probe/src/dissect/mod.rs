//! Layer-by-layer decoding of PDUs into a tree of named fields, for `rdprobe decode` (and for
//! anyone who wants to see every field of a frame). Field names are the spec's.

use rdp_proto::fastpath::FastPathPdu;
use rdp_proto::frame::{Deframer, FrameKind, Framing};
use rdp_proto::gcc::{self as pgcc};
use rdp_proto::mcs::{self as pmcs};
use rdp_proto::nego::{flag_names, SecurityProtocol};
use rdp_proto::ntlm::{self};
use rdp_proto::{decode, DecodeError, Pdu};
use serde::Serialize;

use crate::escape;

mod credssp;
mod gcc;
mod mcs;
mod slowpath;
mod tls;
mod x224;

use credssp::*;
use gcc::*;
use mcs::*;
use slowpath::*;
pub use tls::x509_node;
use tls::*;
use x224::*;

/// A field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
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

pub(super) fn fields_as_map<S: serde::Serializer>(
    f: &[(String, Value)],
    s: S,
) -> Result<S::Ok, S::Error> {
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
    if input.starts_with(&pmcs::TAG_CONNECT_INITIAL)
        || input.starts_with(&pmcs::TAG_CONNECT_RESPONSE)
    {
        return single(input, mcs_node(input, input));
    }
    if input.starts_with(&pgcc::T124_OBJECT_ID) {
        let node = match decode::<pgcc::ConferenceCreateRequest>(input) {
            Ok(req) => Ok(gcc_request_node(input, input, &req)),
            Err(_) => decode::<pgcc::ConferenceCreateResponse>(input)
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

pub(super) fn single(
    input: &[u8],
    node: Result<Node, DecodeError>,
) -> (Vec<Node>, Option<DissectError>) {
    match node {
        Ok(n) => (vec![n], None),
        Err(e) => {
            let _ = input;
            (Vec::new(), Some(e.into()))
        }
    }
}

/// A frame whose inner layers failed: the error is shown with an offset in the input.
pub(super) fn error_node(input: &[u8], part: &[u8], e: DecodeError) -> Node {
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
pub(super) fn dec<'a, T: Pdu<'a>>(whole: &[u8], part: &'a [u8]) -> Result<T, DecodeError> {
    decode::<T>(part).map_err(|mut e| {
        e.offset += rdp_proto::error::offset_in(whole, part);
        e
    })
}

pub(super) fn protocols(p: SecurityProtocol) -> String {
    format!(
        "0x{:08x} ({})",
        p.bits(),
        p.names().join("|").to_uppercase()
    )
}

pub(super) fn fastpath_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let fp: FastPathPdu = dec(input, part)?;
    let mut n = Node::new("Fast-path PDU", input, part);
    n.f("action", "FASTPATH_ACTION_FASTPATH")
        .f("flags", flag_names(fp.flags()))
        .f("numEvents", fp.num_events())
        .f("length", part.len())
        .f("body length", fp.body.len());
    Ok(n)
}

/// Bytes from the wire as text (invalid UTF-8 becomes U+FFFD); renderers escape it.
pub(super) fn wire_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
