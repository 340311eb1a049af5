//! [MS-RDPBCGR 2.2.1.4.4] Server Network Data (TS_UD_SC_NET).

use crate::codec::{le_u16, len_u16, take};
use crate::PResult;

/// [2.2.1.4.4] Server Network Data (TS_UD_SC_NET).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerNetworkData<'a> {
    /// MCSChannelId (the I/O channel)
    pub mcs_channel_id: u16,
    /// channelIdArray, raw (channelCount × u16 LE).
    pub channel_ids: &'a [u8],
    /// Pad (two bytes when channelCount is odd), and anything after.
    pub trailing: &'a [u8],
}

impl ServerNetworkData<'_> {
    /// The channel ids assigned to the client's channels, in order.
    pub fn channel_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.channel_ids.chunks_exact(2).map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
    }
}

impl<'a> ServerNetworkData<'a> {
    pub(super) fn parse(data: &'a [u8]) -> PResult<'a, Self> {
        let (d, mcs_channel_id) = le_u16("MCSChannelId")(data)?;
        let (d, count) = le_u16("channelCount")(d)?;
        let (trailing, channel_ids) = take(d, usize::from(count) * 2, "channelIdArray")?;
        Ok((
            &[],
            Self {
                mcs_channel_id,
                channel_ids,
                trailing,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        4 + self.channel_ids.len() + self.trailing.len()
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.mcs_channel_id.to_le_bytes());
        dst.extend_from_slice(&len_u16(self.channel_ids.len() / 2).to_le_bytes());
        dst.extend_from_slice(self.channel_ids);
        dst.extend_from_slice(self.trailing);
    }
}
