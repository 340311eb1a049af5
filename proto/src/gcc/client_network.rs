//! [MS-RDPBCGR 2.2.1.3.4] Client Network Data (TS_UD_CS_NET) and its channel definitions.

use crate::codec::{array, le_u32, len_u32};
use crate::PResult;

use super::sized_array;

/// [2.2.1.3.4.1] Channel Definition Structure (CHANNEL_DEF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelDef<'a> {
    /// name: 8 bytes, ANSI, NUL-terminated.
    pub name: &'a [u8; 8],
    /// options
    pub options: u32,
}

impl ChannelDef<'_> {
    /// The name as text.
    pub fn name(&self) -> String {
        crate::ascii_until_nul(self.name)
    }
}

/// [2.2.1.3.4] Client Network Data (TS_UD_CS_NET).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientNetworkData<'a> {
    /// channelDefArray (channelCount entries)
    pub channels: Vec<ChannelDef<'a>>,
    /// Bytes after the array.
    pub trailing: &'a [u8],
}

impl<'a> ClientNetworkData<'a> {
    pub(super) fn parse(data: &'a [u8]) -> PResult<'a, Self> {
        let (d, count) = le_u32("channelCount")(data)?;
        let (trailing, mut defs) = sized_array(d, count, 12, "channelDefArray")?;
        let mut channels = Vec::with_capacity(defs.len() / 12);
        while !defs.is_empty() {
            let (r, name) = array::<8>(defs, "name")?;
            let (r, options) = le_u32("options")(r)?;
            channels.push(ChannelDef { name, options });
            defs = r;
        }
        Ok((&[], Self { channels, trailing }))
    }

    pub(super) fn encoded_len(&self) -> usize {
        4 + 12 * self.channels.len() + self.trailing.len()
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&len_u32(self.channels.len()).to_le_bytes());
        for c in &self.channels {
            dst.extend_from_slice(c.name);
            dst.extend_from_slice(&c.options.to_le_bytes());
        }
        dst.extend_from_slice(self.trailing);
    }
}
