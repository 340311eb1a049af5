//! [MS-RDPBCGR 2.2.1.3.5] Client Cluster Data (TS_UD_CS_CLUSTER).

use crate::codec::le_u32;
use crate::PResult;

/// [2.2.1.3.5] Client Cluster Data (TS_UD_CS_CLUSTER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientClusterData {
    /// Flags (REDIRECTION_SUPPORTED 0x01, version in bits 2..5, REDIRECTED_SESSIONID_FIELD_VALID 0x02, REDIRECTED_SMARTCARD 0x40)
    pub flags: u32,
    /// RedirectedSessionID
    pub redirected_session_id: u32,
}

impl ClientClusterData {
    pub(super) fn parse(data: &[u8]) -> PResult<'_, Self> {
        let (d, flags) = le_u32("Flags")(data)?;
        let (d, redirected_session_id) = le_u32("RedirectedSessionID")(d)?;
        Ok((
            d,
            Self {
                flags,
                redirected_session_id,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        8
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.flags.to_le_bytes());
        dst.extend_from_slice(&self.redirected_session_id.to_le_bytes());
    }
}
