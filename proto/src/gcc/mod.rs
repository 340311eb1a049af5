//! [T.124] GCC Conference Create Request / Response (PER) and the RDP user data blocks they
//! carry ([MS-RDPBCGR 2.2.1.3.1] .. [2.2.1.4.6]).
//!
//! ```text
//! ConnectData: t124Identifier OID 0.0.20.124.0.1 | connectPDU length | ConnectGCCPDU
//!   conferenceCreateRequest:  ... h221NonStandard key "Duca" | length | client blocks
//!   conferenceCreateResponse: ... h221NonStandard key "McDn" | length | server blocks
//! block: type (u16 LE) | length (u16 LE, header included) | data
//! ```
//!
//! [T.124]: https://www.itu.int/rec/T-REC-T.124
//! [MS-RDPBCGR 2.2.1.3.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/6c074267-1b32-4ceb-9496-2eb941a23e6b
//!
//! One file per part: `conference_create` (the T.124 envelope of both directions); one per
//! client block (`client_core`, `client_security`, `client_network`, `client_cluster`,
//! `client_monitor`) and per server block (`server_core`, `server_security`, `server_network`),
//! with the server certificate in `server_certificate`. This file holds what they share, and
//! [`ClientBlock`] / [`ServerBlock`], any block of a Conference Create Request / Response.

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, open_enum, take};
use crate::{EncodeError, PResult};

mod client_cluster;
mod client_core;
mod client_monitor;
mod client_network;
mod client_security;
mod conference_create;
mod server_certificate;
mod server_core;
mod server_network;
mod server_security;

pub use client_cluster::*;
pub use client_core::*;
pub use client_monitor::*;
pub use client_network::*;
pub use client_security::*;
pub use conference_create::*;
pub use server_certificate::*;
pub use server_core::*;
pub use server_network::*;
pub use server_security::*;

/// ConnectData's key: object identifier t124Identifier {0 0 20 124 0 1}, PER-encoded.
pub const T124_OBJECT_ID: [u8; 7] = [0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01];
/// h221NonStandard key of a client's user data.
pub const H221_CLIENT_KEY: [u8; 4] = *b"Duca";
/// h221NonStandard key of a server's user data.
pub const H221_SERVER_KEY: [u8; 4] = *b"McDn";

open_enum! {
    /// [2.2.1.3.1] User Data Header `type`.
    pub struct BlockType(u16) {
        CS_CORE = 0xC001,
        CS_SECURITY = 0xC002,
        CS_NET = 0xC003,
        CS_CLUSTER = 0xC004,
        CS_MONITOR = 0xC005,
        CS_MCS_MSGCHANNEL = 0xC006,
        CS_MONITOR_EX = 0xC008,
        CS_UNUSED1 = 0xC00C,
        CS_MULTITRANSPORT = 0xC00A,
        SC_CORE = 0x0C01,
        SC_SECURITY = 0x0C02,
        SC_NET = 0x0C03,
        SC_MCS_MSGCHANNEL = 0x0C04,
        SC_MULTITRANSPORT = 0x0C08,
    }
}

/// A block that is not decoded (unknown type), kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBlock<'a> {
    pub block_type: BlockType,
    pub data: &'a [u8],
}

/// A known fixed-layout block whose size does not match its layout is kept raw as
/// [`UnknownBlock`] rather than decoded with bytes dropped (parsing stays lossless).
fn client_block_size_fits(ty: BlockType, data: &[u8]) -> bool {
    let word = |at: usize| {
        data.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u64::from(u32::from_le_bytes(b)))
    };
    let len = data.len() as u64;
    match ty {
        BlockType::CS_SECURITY | BlockType::CS_CLUSTER => len == 8,
        BlockType::CS_MCS_MSGCHANNEL | BlockType::CS_MULTITRANSPORT => len == 4,
        BlockType::CS_MONITOR => word(4).is_some_and(|n| len == 8 + 20 * n),
        BlockType::CS_MONITOR_EX => {
            matches!((word(4), word(8)), (Some(size), Some(n)) if len == 12 + size * n)
        }
        _ => true,
    }
}

fn server_block_size_fits(ty: BlockType, data: &[u8]) -> bool {
    match ty {
        BlockType::SC_CORE => matches!(data.len(), 4 | 8 | 12),
        BlockType::SC_MCS_MSGCHANNEL => data.len() == 2,
        BlockType::SC_MULTITRANSPORT => data.len() == 4,
        _ => true,
    }
}

/// Parses `n` × `size` bytes after checking the input holds them (no allocation from `n`).
fn sized_array<'a>(i: &'a [u8], n: u32, size: usize, ctx: &'static str) -> PResult<'a, &'a [u8]> {
    let Some(total) = usize::try_from(n).ok().and_then(|n| n.checked_mul(size)) else {
        return invalid(i, ctx, "count overflows");
    };
    take(i, total, ctx)
}

fn flags_only<'a>(data: &'a [u8], ctx: &'static str) -> PResult<'a, u32> {
    le_u32(ctx)(data)
}

fn opt_u32<'a>(d: &'a [u8], ctx: &'static str) -> PResult<'a, Option<u32>> {
    if d.len() < 4 {
        return Ok((d, None));
    }
    le_u32(ctx)(d).map(|(r, v)| (r, Some(v)))
}

/// Splits user data into blocks: header, then the data the header's length covers.
fn parse_blocks<'a, B>(
    mut i: &'a [u8],
    parse: impl Fn(BlockType, &'a [u8]) -> Result<B, nom::Err<crate::ParseError<'a>>>,
) -> PResult<'a, Vec<B>> {
    let mut blocks = Vec::new();
    while !i.is_empty() {
        let start = i;
        let (r, ty) = le_u16("User Data Header type")(i)?;
        let (r, len) = le_u16("User Data Header length")(r)?;
        let Some(data_len) = usize::from(len).checked_sub(4) else {
            return invalid(start, "User Data Header length", "shorter than the header");
        };
        let (r, data) = take(r, data_len, "user data block")?;
        blocks.push(parse(BlockType(ty), data)?);
        i = r;
    }
    Ok((i, blocks))
}

fn write_block(dst: &mut Vec<u8>, ty: BlockType, data_len: usize) -> Result<(), EncodeError> {
    fit("GCC", "User Data Header length", data_len + 4, 0xFFFF)?;
    dst.extend_from_slice(&ty.0.to_le_bytes());
    dst.extend_from_slice(&len_u16(data_len + 4).to_le_bytes());
    Ok(())
}

/// A user data block of a Conference Create Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientBlock<'a> {
    Core(ClientCoreData<'a>),
    Security(ClientSecurityData),
    Network(ClientNetworkData<'a>),
    Cluster(ClientClusterData),
    Monitor(ClientMonitorData<'a>),
    /// [2.2.1.3.7] Client Message Channel Data: flags.
    MessageChannel {
        flags: u32,
    },
    MonitorEx(ClientMonitorExData<'a>),
    /// [2.2.1.3.8] Client Multitransport Channel Data: flags.
    Multitransport {
        flags: u32,
    },
    Unknown(UnknownBlock<'a>),
}

impl<'a> ClientBlock<'a> {
    pub fn block_type(&self) -> BlockType {
        match self {
            Self::Core(_) => BlockType::CS_CORE,
            Self::Security(_) => BlockType::CS_SECURITY,
            Self::Network(_) => BlockType::CS_NET,
            Self::Cluster(_) => BlockType::CS_CLUSTER,
            Self::Monitor(_) => BlockType::CS_MONITOR,
            Self::MessageChannel { .. } => BlockType::CS_MCS_MSGCHANNEL,
            Self::MonitorEx(_) => BlockType::CS_MONITOR_EX,
            Self::Multitransport { .. } => BlockType::CS_MULTITRANSPORT,
            Self::Unknown(u) => u.block_type,
        }
    }

    fn parse_data(
        block_type: BlockType,
        data: &'a [u8],
    ) -> Result<Self, nom::Err<crate::ParseError<'a>>> {
        if !client_block_size_fits(block_type, data) {
            return Ok(Self::Unknown(UnknownBlock { block_type, data }));
        }
        Ok(match block_type {
            BlockType::CS_CORE => Self::Core(ClientCoreData::parse(data)?.1),
            BlockType::CS_SECURITY => Self::Security(ClientSecurityData::parse(data)?.1),
            BlockType::CS_NET => Self::Network(ClientNetworkData::parse(data)?.1),
            BlockType::CS_CLUSTER => Self::Cluster(ClientClusterData::parse(data)?.1),
            BlockType::CS_MONITOR => Self::Monitor(ClientMonitorData::parse(data)?.1),
            BlockType::CS_MCS_MSGCHANNEL => Self::MessageChannel {
                flags: flags_only(data, "flags")?.1,
            },
            BlockType::CS_MONITOR_EX => Self::MonitorEx(ClientMonitorExData::parse(data)?.1),
            BlockType::CS_MULTITRANSPORT => Self::Multitransport {
                flags: flags_only(data, "flags")?.1,
            },
            _ => Self::Unknown(UnknownBlock { block_type, data }),
        })
    }

    fn data_len(&self) -> usize {
        match self {
            Self::Core(c) => c.encoded_len(),
            Self::Security(s) => s.encoded_len(),
            Self::Network(n) => n.encoded_len(),
            Self::Cluster(c) => c.encoded_len(),
            Self::Monitor(m) => m.encoded_len(),
            Self::MessageChannel { .. } | Self::Multitransport { .. } => 4,
            Self::MonitorEx(m) => m.encoded_len(),
            Self::Unknown(u) => u.data.len(),
        }
    }

    fn encode_data(&self, dst: &mut Vec<u8>) {
        match self {
            Self::Core(c) => c.encode(dst),
            Self::Security(s) => s.encode(dst),
            Self::Network(n) => n.encode(dst),
            Self::Cluster(c) => c.encode(dst),
            Self::Monitor(m) => m.encode(dst),
            Self::MessageChannel { flags } | Self::Multitransport { flags } => {
                dst.extend_from_slice(&flags.to_le_bytes());
            }
            Self::MonitorEx(m) => m.encode(dst),
            Self::Unknown(u) => dst.extend_from_slice(u.data),
        }
    }
}

/// A user data block of a Conference Create Response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerBlock<'a> {
    Core(ServerCoreData),
    Security(ServerSecurityData<'a>),
    Network(ServerNetworkData<'a>),
    /// [2.2.1.4.5] Server Message Channel Data: MCSChannelID.
    MessageChannel {
        mcs_channel_id: u16,
    },
    /// [2.2.1.4.6] Server Multitransport Channel Data: flags.
    Multitransport {
        flags: u32,
    },
    Unknown(UnknownBlock<'a>),
}

impl<'a> ServerBlock<'a> {
    pub fn block_type(&self) -> BlockType {
        match self {
            Self::Core(_) => BlockType::SC_CORE,
            Self::Security(_) => BlockType::SC_SECURITY,
            Self::Network(_) => BlockType::SC_NET,
            Self::MessageChannel { .. } => BlockType::SC_MCS_MSGCHANNEL,
            Self::Multitransport { .. } => BlockType::SC_MULTITRANSPORT,
            Self::Unknown(u) => u.block_type,
        }
    }

    fn parse_data(
        block_type: BlockType,
        data: &'a [u8],
    ) -> Result<Self, nom::Err<crate::ParseError<'a>>> {
        if !server_block_size_fits(block_type, data) {
            return Ok(Self::Unknown(UnknownBlock { block_type, data }));
        }
        Ok(match block_type {
            BlockType::SC_CORE => Self::Core(ServerCoreData::parse(data)?.1),
            BlockType::SC_SECURITY => Self::Security(ServerSecurityData::parse(data)?.1),
            BlockType::SC_NET => Self::Network(ServerNetworkData::parse(data)?.1),
            BlockType::SC_MCS_MSGCHANNEL => Self::MessageChannel {
                mcs_channel_id: le_u16("MCSChannelID")(data)?.1,
            },
            BlockType::SC_MULTITRANSPORT => Self::Multitransport {
                flags: flags_only(data, "flags")?.1,
            },
            _ => Self::Unknown(UnknownBlock { block_type, data }),
        })
    }

    fn data_len(&self) -> usize {
        match self {
            Self::Core(c) => c.encoded_len(),
            Self::Security(s) => s.encoded_len(),
            Self::Network(n) => n.encoded_len(),
            Self::MessageChannel { .. } => 2,
            Self::Multitransport { .. } => 4,
            Self::Unknown(u) => u.data.len(),
        }
    }

    fn encode_data(&self, dst: &mut Vec<u8>) {
        match self {
            Self::Core(c) => c.encode(dst),
            Self::Security(s) => s.encode(dst),
            Self::Network(n) => n.encode(dst),
            Self::MessageChannel { mcs_channel_id } => {
                dst.extend_from_slice(&mcs_channel_id.to_le_bytes())
            }
            Self::Multitransport { flags } => dst.extend_from_slice(&flags.to_le_bytes()),
            Self::Unknown(u) => dst.extend_from_slice(u.data),
        }
    }
}
