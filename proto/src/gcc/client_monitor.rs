//! [MS-RDPBCGR 2.2.1.3.6] Client Monitor Data and [2.2.1.3.9] Client Monitor Extended Data.

use crate::codec::{le_u32, len_u32};
use crate::PResult;

use super::sized_array;

/// [2.2.1.3.6] Client Monitor Data (TS_UD_CS_MONITOR).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientMonitorData<'a> {
    /// flags
    pub flags: u32,
    /// monitorCount
    pub monitor_count: u32,
    /// monitorDefArray: monitorCount × 20 bytes (TS_MONITOR_DEF), raw.
    pub monitors: &'a [u8],
}

impl<'a> ClientMonitorData<'a> {
    pub(super) fn parse(data: &'a [u8]) -> PResult<'a, Self> {
        let (d, flags) = le_u32("flags")(data)?;
        let (d, monitor_count) = le_u32("monitorCount")(d)?;
        let (d, monitors) = sized_array(d, monitor_count, 20, "monitorDefArray")?;
        Ok((
            d,
            Self {
                flags,
                monitor_count,
                monitors,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        8 + self.monitors.len()
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.flags.to_le_bytes());
        dst.extend_from_slice(&self.monitor_count.to_le_bytes());
        dst.extend_from_slice(self.monitors);
    }
}

/// [2.2.1.3.9] Client Monitor Extended Data (TS_UD_CS_MONITOR_EX).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientMonitorExData<'a> {
    /// flags
    pub flags: u32,
    /// monitorAttributeSize
    pub monitor_attribute_size: u32,
    /// monitorCount
    pub monitor_count: u32,
    /// monitorAttributesArray, raw.
    pub attributes: &'a [u8],
}

impl<'a> ClientMonitorExData<'a> {
    pub(super) fn parse(data: &'a [u8]) -> PResult<'a, Self> {
        let (d, flags) = le_u32("flags")(data)?;
        let (d, size) = le_u32("monitorAttributeSize")(d)?;
        let (d, monitor_count) = le_u32("monitorCount")(d)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let (d, attributes) = sized_array(d, monitor_count, size, "monitorAttributesArray")?;
        Ok((
            d,
            Self {
                flags,
                monitor_attribute_size: len_u32(size),
                monitor_count,
                attributes,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        12 + self.attributes.len()
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.flags.to_le_bytes());
        dst.extend_from_slice(&self.monitor_attribute_size.to_le_bytes());
        dst.extend_from_slice(&self.monitor_count.to_le_bytes());
        dst.extend_from_slice(self.attributes);
    }
}
