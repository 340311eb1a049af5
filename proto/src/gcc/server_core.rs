//! [MS-RDPBCGR 2.2.1.4.2] Server Core Data (TS_UD_SC_CORE).

use crate::codec::le_u32;
use crate::PResult;

use super::{opt_u32, RdpVersion};

/// [2.2.1.4.2] Server Core Data (TS_UD_SC_CORE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ServerCoreData {
    /// version
    pub version: RdpVersion,
    /// clientRequestedProtocols (optional)
    pub client_requested_protocols: Option<u32>,
    /// earlyCapabilityFlags (optional)
    pub early_capability_flags: Option<u32>,
}

impl ServerCoreData {
    pub(super) fn parse(data: &[u8]) -> PResult<'_, Self> {
        let (d, version) = le_u32("version")(data)?;
        let (d, requested) = opt_u32(d, "clientRequestedProtocols")?;
        let (d, early) = opt_u32(d, "earlyCapabilityFlags")?;
        Ok((
            d,
            Self {
                version: RdpVersion(version),
                client_requested_protocols: requested,
                early_capability_flags: early,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        4 + self.client_requested_protocols.map_or(0, |_| 4)
            + self.early_capability_flags.map_or(0, |_| 4)
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.version.0.to_le_bytes());
        if let Some(v) = self.client_requested_protocols {
            dst.extend_from_slice(&v.to_le_bytes());
            if let Some(e) = self.early_capability_flags {
                dst.extend_from_slice(&e.to_le_bytes());
            }
        }
    }
}
