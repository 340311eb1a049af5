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
//! One file per part: [`client_core`] (TS_UD_CS_CORE), [`client`] (the other client blocks),
//! [`server`] (the server blocks and the server certificate), [`conference_create`] (the T.124
//! envelope of both directions).

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, open_enum, take};
use crate::{EncodeError, PResult};

mod client;
mod client_core;
mod conference_create;
mod server;

pub use client::*;
pub use client_core::*;
pub use conference_create::*;
pub use server::*;

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
