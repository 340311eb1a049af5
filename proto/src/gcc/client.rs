//! [MS-RDPBCGR 2.2.1.3.3] .. [2.2.1.3.9] The client blocks after the core: security, network
//! (channels), cluster, monitors; and [`ClientBlock`], any block of a Conference Create Request.

use crate::codec::{array, le_u32};

use super::*;

bitflags::bitflags! {
    /// [2.2.1.3.3] `encryptionMethods` / [2.2.1.4.3] `encryptionMethod`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct EncryptionMethods: u32 {
        const ENCRYPTION_METHOD_40BIT = 0x0000_0001;
        const ENCRYPTION_METHOD_128BIT = 0x0000_0002;
        const ENCRYPTION_METHOD_56BIT = 0x0000_0008;
        const ENCRYPTION_METHOD_FIPS = 0x0000_0010;
        const _ = !0;
    }
}

/// [2.2.1.3.3] Client Security Data (TS_UD_CS_SEC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientSecurityData {
    /// encryptionMethods
    pub encryption_methods: EncryptionMethods,
    /// extEncryptionMethods (French locale only)
    pub ext_encryption_methods: u32,
}

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

/// [2.2.1.3.5] Client Cluster Data (TS_UD_CS_CLUSTER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientClusterData {
    /// Flags (REDIRECTION_SUPPORTED 0x01, version in bits 2..5, REDIRECTED_SESSIONID_FIELD_VALID 0x02, REDIRECTED_SMARTCARD 0x40)
    pub flags: u32,
    /// RedirectedSessionID
    pub redirected_session_id: u32,
}

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

    pub(super) fn parse_data(
        block_type: BlockType,
        data: &'a [u8],
    ) -> Result<Self, nom::Err<crate::ParseError<'a>>> {
        if !client_block_size_fits(block_type, data) {
            return Ok(Self::Unknown(UnknownBlock { block_type, data }));
        }
        Ok(match block_type {
            BlockType::CS_CORE => Self::Core(ClientCoreData::parse(data)?.1),
            BlockType::CS_SECURITY => {
                let (d, m) = le_u32("encryptionMethods")(data)?;
                let (_, ext) = le_u32("extEncryptionMethods")(d)?;
                Self::Security(ClientSecurityData {
                    encryption_methods: EncryptionMethods::from_bits_retain(m),
                    ext_encryption_methods: ext,
                })
            }
            BlockType::CS_NET => {
                let (d, count) = le_u32("channelCount")(data)?;
                let (trailing, mut defs) = sized_array(d, count, 12, "channelDefArray")?;
                let mut channels = Vec::with_capacity(defs.len() / 12);
                while !defs.is_empty() {
                    let (r, name) = array::<8>(defs, "name")?;
                    let (r, options) = le_u32("options")(r)?;
                    channels.push(ChannelDef { name, options });
                    defs = r;
                }
                Self::Network(ClientNetworkData { channels, trailing })
            }
            BlockType::CS_CLUSTER => {
                let (d, flags) = le_u32("Flags")(data)?;
                let (_, redirected_session_id) = le_u32("RedirectedSessionID")(d)?;
                Self::Cluster(ClientClusterData {
                    flags,
                    redirected_session_id,
                })
            }
            BlockType::CS_MONITOR => {
                let (d, flags) = le_u32("flags")(data)?;
                let (d, monitor_count) = le_u32("monitorCount")(d)?;
                let (_, monitors) = sized_array(d, monitor_count, 20, "monitorDefArray")?;
                Self::Monitor(ClientMonitorData {
                    flags,
                    monitor_count,
                    monitors,
                })
            }
            BlockType::CS_MCS_MSGCHANNEL => Self::MessageChannel {
                flags: flags_only(data, "flags")?.1,
            },
            BlockType::CS_MONITOR_EX => {
                let (d, flags) = le_u32("flags")(data)?;
                let (d, size) = le_u32("monitorAttributeSize")(d)?;
                let (d, monitor_count) = le_u32("monitorCount")(d)?;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let (_, attributes) =
                    sized_array(d, monitor_count, size, "monitorAttributesArray")?;
                Self::MonitorEx(ClientMonitorExData {
                    flags,
                    monitor_attribute_size: crate::codec::len_u32(size),
                    monitor_count,
                    attributes,
                })
            }
            BlockType::CS_MULTITRANSPORT => Self::Multitransport {
                flags: flags_only(data, "flags")?.1,
            },
            _ => Self::Unknown(UnknownBlock { block_type, data }),
        })
    }

    pub(super) fn data_len(&self) -> usize {
        match self {
            Self::Core(c) => c.encoded_len(),
            Self::Security(_) => 8,
            Self::Network(n) => 4 + 12 * n.channels.len() + n.trailing.len(),
            Self::Cluster(_) => 8,
            Self::Monitor(m) => 8 + m.monitors.len(),
            Self::MessageChannel { .. } | Self::Multitransport { .. } => 4,
            Self::MonitorEx(m) => 12 + m.attributes.len(),
            Self::Unknown(u) => u.data.len(),
        }
    }

    pub(super) fn encode_data(&self, dst: &mut Vec<u8>) {
        match self {
            Self::Core(c) => c.encode(dst),
            Self::Security(s) => {
                dst.extend_from_slice(&s.encryption_methods.bits().to_le_bytes());
                dst.extend_from_slice(&s.ext_encryption_methods.to_le_bytes());
            }
            Self::Network(n) => {
                dst.extend_from_slice(&crate::codec::len_u32(n.channels.len()).to_le_bytes());
                for c in &n.channels {
                    dst.extend_from_slice(c.name);
                    dst.extend_from_slice(&c.options.to_le_bytes());
                }
                dst.extend_from_slice(n.trailing);
            }
            Self::Cluster(c) => {
                dst.extend_from_slice(&c.flags.to_le_bytes());
                dst.extend_from_slice(&c.redirected_session_id.to_le_bytes());
            }
            Self::Monitor(m) => {
                dst.extend_from_slice(&m.flags.to_le_bytes());
                dst.extend_from_slice(&m.monitor_count.to_le_bytes());
                dst.extend_from_slice(m.monitors);
            }
            Self::MessageChannel { flags } | Self::Multitransport { flags } => {
                dst.extend_from_slice(&flags.to_le_bytes());
            }
            Self::MonitorEx(m) => {
                dst.extend_from_slice(&m.flags.to_le_bytes());
                dst.extend_from_slice(&m.monitor_attribute_size.to_le_bytes());
                dst.extend_from_slice(&m.monitor_count.to_le_bytes());
                dst.extend_from_slice(m.attributes);
            }
            Self::Unknown(u) => dst.extend_from_slice(u.data),
        }
    }
}
