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

use crate::codec::{
    array, fit, invalid, le_u16, le_u32, len_u16, len_u8, open_enum, take, u8, unexpected,
};
use crate::per;
use crate::{EncodeError, Layer, PResult, Pdu};

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

// ---------------------------------------------------------------------------------------------
// Client blocks

open_enum! {
    /// [2.2.1.3.2] RDP version numbers (`version` of client and server core data).
    pub struct RdpVersion(u32) {
        RDP_VERSION_4 = 0x0008_0001,
        RDP_VERSION_5_PLUS = 0x0008_0004,
        RDP_VERSION_10_0 = 0x0008_0005,
        RDP_VERSION_10_1 = 0x0008_0006,
        RDP_VERSION_10_2 = 0x0008_0007,
        RDP_VERSION_10_3 = 0x0008_0008,
        RDP_VERSION_10_4 = 0x0008_0009,
        RDP_VERSION_10_5 = 0x0008_000A,
        RDP_VERSION_10_6 = 0x0008_000B,
        RDP_VERSION_10_7 = 0x0008_000C,
        RDP_VERSION_10_8 = 0x0008_000D,
        RDP_VERSION_10_9 = 0x0008_000E,
        RDP_VERSION_10_10 = 0x0008_000F,
        RDP_VERSION_10_11 = 0x0008_0010,
        RDP_VERSION_10_12 = 0x0008_0011,
    }
}

impl RdpVersion {
    /// A human name: "4.0", "5.0+" (5.0 to 8.1), "10.0" .. "10.12", or the hex value.
    pub fn label(self) -> String {
        match self.0 {
            0x0008_0001 => "4.0".into(),
            0x0008_0004 => "5.0+".into(),
            v @ 0x0008_0005..=0x0008_00FF => format!("10.{}", v - 0x0008_0005),
            v => format!("0x{v:08x}"),
        }
    }
}

open_enum! {
    /// [2.2.1.3.2] `colorDepth` / `postBeta2ColorDepth`.
    pub struct ColorDepth(u16) {
        RNS_UD_COLOR_4BPP = 0xCA00,
        RNS_UD_COLOR_8BPP = 0xCA01,
        RNS_UD_COLOR_16BPP_555 = 0xCA02,
        RNS_UD_COLOR_16BPP_565 = 0xCA03,
        RNS_UD_COLOR_24BPP = 0xCA04,
    }
}

/// [2.2.1.3.2] Client Core Data (TS_UD_CS_CORE). The fields after `ime_file_name` are optional
/// and present in order; a client may stop after any of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCoreData<'a> {
    /// version
    pub version: RdpVersion,
    /// desktopWidth
    pub desktop_width: u16,
    /// desktopHeight
    pub desktop_height: u16,
    /// colorDepth
    pub color_depth: ColorDepth,
    /// SASSequence
    pub sas_sequence: u16,
    /// keyboardLayout (an LCID)
    pub keyboard_layout: u32,
    /// clientBuild
    pub client_build: u32,
    /// clientName: 32 bytes, UTF-16LE, NUL-terminated.
    pub client_name: &'a [u8; 32],
    /// keyboardType
    pub keyboard_type: u32,
    /// keyboardSubType
    pub keyboard_sub_type: u32,
    /// keyboardFunctionKey
    pub keyboard_function_key: u32,
    /// imeFileName: 64 bytes.
    pub ime_file_name: &'a [u8; 64],
    /// The optional fields, as far as the client sent them.
    pub optional: ClientCoreOptional<'a>,
    /// Bytes after the last field we know (newer clients, or a field cut short).
    pub trailing: &'a [u8],
}

/// The optional tail of [`ClientCoreData`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientCoreOptional<'a> {
    /// postBeta2ColorDepth
    pub post_beta2_color_depth: Option<ColorDepth>,
    /// clientProductId
    pub client_product_id: Option<u16>,
    /// serialNumber
    pub serial_number: Option<u32>,
    /// highColorDepth
    pub high_color_depth: Option<u16>,
    /// supportedColorDepths
    pub supported_color_depths: Option<u16>,
    /// earlyCapabilityFlags
    pub early_capability_flags: Option<u16>,
    /// clientDigProductId: 64 bytes, UTF-16LE.
    pub client_dig_product_id: Option<&'a [u8; 64]>,
    /// connectionType
    pub connection_type: Option<u8>,
    /// pad1octet
    pub pad1octet: Option<u8>,
    /// serverSelectedProtocol
    pub server_selected_protocol: Option<u32>,
    /// desktopPhysicalWidth
    pub desktop_physical_width: Option<u32>,
    /// desktopPhysicalHeight
    pub desktop_physical_height: Option<u32>,
    /// desktopOrientation
    pub desktop_orientation: Option<u16>,
    /// desktopScaleFactor
    pub desktop_scale_factor: Option<u32>,
    /// deviceScaleFactor
    pub device_scale_factor: Option<u32>,
}

/// Reads optional fields in order while enough bytes remain; stops at the first that does not fit.
macro_rules! optional_fields {
    ($i:ident, $opt:ident; $($field:ident : $n:expr => $read:expr),* $(,)?) => {
        'fields: {
            $(
                if $i.len() < $n { break 'fields; }
                let (rest, v) = $read($i)?;
                $opt.$field = Some(v);
                $i = rest;
            )*
        }
    };
}

impl<'a> ClientCoreData<'a> {
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, version) = le_u32("version")(i)?;
        let (i, desktop_width) = le_u16("desktopWidth")(i)?;
        let (i, desktop_height) = le_u16("desktopHeight")(i)?;
        let (i, color_depth) = le_u16("colorDepth")(i)?;
        let (i, sas_sequence) = le_u16("SASSequence")(i)?;
        let (i, keyboard_layout) = le_u32("keyboardLayout")(i)?;
        let (i, client_build) = le_u32("clientBuild")(i)?;
        let (i, client_name) = array::<32>(i, "clientName")?;
        let (i, keyboard_type) = le_u32("keyboardType")(i)?;
        let (i, keyboard_sub_type) = le_u32("keyboardSubType")(i)?;
        let (i, keyboard_function_key) = le_u32("keyboardFunctionKey")(i)?;
        let (mut i, ime_file_name) = array::<64>(i, "imeFileName")?;
        let mut o = ClientCoreOptional::default();
        optional_fields!(i, o;
            post_beta2_color_depth: 2 => |i| le_u16("postBeta2ColorDepth")(i).map(|(r, v)| (r, ColorDepth(v))),
            client_product_id: 2 => le_u16("clientProductId"),
            serial_number: 4 => le_u32("serialNumber"),
            high_color_depth: 2 => le_u16("highColorDepth"),
            supported_color_depths: 2 => le_u16("supportedColorDepths"),
            early_capability_flags: 2 => le_u16("earlyCapabilityFlags"),
            client_dig_product_id: 64 => |i| array::<64>(i, "clientDigProductId"),
            connection_type: 1 => u8("connectionType"),
            pad1octet: 1 => u8("pad1octet"),
            server_selected_protocol: 4 => le_u32("serverSelectedProtocol"),
            desktop_physical_width: 4 => le_u32("desktopPhysicalWidth"),
            desktop_physical_height: 4 => le_u32("desktopPhysicalHeight"),
            desktop_orientation: 2 => le_u16("desktopOrientation"),
            desktop_scale_factor: 4 => le_u32("desktopScaleFactor"),
            device_scale_factor: 4 => le_u32("deviceScaleFactor"),
        );
        Ok((
            &[],
            Self {
                version: RdpVersion(version),
                desktop_width,
                desktop_height,
                color_depth: ColorDepth(color_depth),
                sas_sequence,
                keyboard_layout,
                client_build,
                client_name,
                keyboard_type,
                keyboard_sub_type,
                keyboard_function_key,
                ime_file_name,
                optional: o,
                trailing: i,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let o = &self.optional;
        128 + o.post_beta2_color_depth.map_or(0, |_| 2)
            + o.client_product_id.map_or(0, |_| 2)
            + o.serial_number.map_or(0, |_| 4)
            + o.high_color_depth.map_or(0, |_| 2)
            + o.supported_color_depths.map_or(0, |_| 2)
            + o.early_capability_flags.map_or(0, |_| 2)
            + o.client_dig_product_id.map_or(0, |_| 64)
            + o.connection_type.map_or(0, |_| 1)
            + o.pad1octet.map_or(0, |_| 1)
            + o.server_selected_protocol.map_or(0, |_| 4)
            + o.desktop_physical_width.map_or(0, |_| 4)
            + o.desktop_physical_height.map_or(0, |_| 4)
            + o.desktop_orientation.map_or(0, |_| 2)
            + o.desktop_scale_factor.map_or(0, |_| 4)
            + o.device_scale_factor.map_or(0, |_| 4)
            + self.trailing.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.version.0.to_le_bytes());
        dst.extend_from_slice(&self.desktop_width.to_le_bytes());
        dst.extend_from_slice(&self.desktop_height.to_le_bytes());
        dst.extend_from_slice(&self.color_depth.0.to_le_bytes());
        dst.extend_from_slice(&self.sas_sequence.to_le_bytes());
        dst.extend_from_slice(&self.keyboard_layout.to_le_bytes());
        dst.extend_from_slice(&self.client_build.to_le_bytes());
        dst.extend_from_slice(self.client_name);
        dst.extend_from_slice(&self.keyboard_type.to_le_bytes());
        dst.extend_from_slice(&self.keyboard_sub_type.to_le_bytes());
        dst.extend_from_slice(&self.keyboard_function_key.to_le_bytes());
        dst.extend_from_slice(self.ime_file_name);
        let o = &self.optional;
        // Optional fields are written in order; a missing one ends the sequence as on the wire.
        'fields: {
            macro_rules! put {
                ($v:expr, $bytes:expr) => {
                    match $v {
                        Some(v) => dst.extend_from_slice(&$bytes(v)),
                        None => break 'fields,
                    }
                };
            }
            put!(o.post_beta2_color_depth, |v: ColorDepth| v.0.to_le_bytes());
            put!(o.client_product_id, u16::to_le_bytes);
            put!(o.serial_number, u32::to_le_bytes);
            put!(o.high_color_depth, u16::to_le_bytes);
            put!(o.supported_color_depths, u16::to_le_bytes);
            put!(o.early_capability_flags, u16::to_le_bytes);
            put!(o.client_dig_product_id, |v: &[u8; 64]| *v);
            put!(o.connection_type, |v: u8| [v]);
            put!(o.pad1octet, |v: u8| [v]);
            put!(o.server_selected_protocol, u32::to_le_bytes);
            put!(o.desktop_physical_width, u32::to_le_bytes);
            put!(o.desktop_physical_height, u32::to_le_bytes);
            put!(o.desktop_orientation, u16::to_le_bytes);
            put!(o.desktop_scale_factor, u32::to_le_bytes);
            put!(o.device_scale_factor, u32::to_le_bytes);
        }
        dst.extend_from_slice(self.trailing);
    }

    /// clientName as text.
    pub fn client_name(&self) -> String {
        crate::utf16le_until_nul(self.client_name)
    }

    /// clientDigProductId as text.
    pub fn dig_product_id(&self) -> Option<String> {
        self.optional
            .client_dig_product_id
            .map(|b| crate::utf16le_until_nul(b))
    }
}

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

    fn data_len(&self) -> usize {
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

    fn encode_data(&self, dst: &mut Vec<u8>) {
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

// ---------------------------------------------------------------------------------------------
// Server blocks

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

open_enum! {
    /// [2.2.1.4.3] `encryptionLevel`.
    pub struct EncryptionLevel(u32) {
        ENCRYPTION_LEVEL_NONE = 0,
        ENCRYPTION_LEVEL_LOW = 1,
        ENCRYPTION_LEVEL_CLIENT_COMPATIBLE = 2,
        ENCRYPTION_LEVEL_HIGH = 3,
        ENCRYPTION_LEVEL_FIPS = 4,
    }
}

open_enum! {
    /// [2.2.1.4.3.1] `dwVersion` certificate type (low 31 bits).
    pub struct CertificateType(u32) {
        CERT_CHAIN_VERSION_1 = 1,
        CERT_CHAIN_VERSION_2 = 2,
    }
}

/// [2.2.1.4.3.1.1.1] RSA Public Key (RSA_PUBLIC_KEY).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RsaPublicKey<'a> {
    /// magic ("RSA1")
    pub magic: u32,
    /// keylen (modulus bytes plus 8 bytes of padding)
    pub keylen: u32,
    /// bitlen
    pub bitlen: u32,
    /// datalen
    pub datalen: u32,
    /// pubExp
    pub pub_exp: u32,
    /// modulus (little-endian, keylen bytes)
    pub modulus: &'a [u8],
}

/// [2.2.1.4.3.1.1] Server Proprietary Certificate (PROPRIETARYSERVERCERTIFICATE).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProprietaryCertificate<'a> {
    /// dwSigAlgId
    pub sig_alg_id: u32,
    /// dwKeyAlgId
    pub key_alg_id: u32,
    /// wPublicKeyBlobType (BB_RSA_KEY_BLOB 0x0006)
    pub public_key_blob_type: u16,
    /// PublicKeyBlob
    pub public_key: RsaPublicKey<'a>,
    /// wSignatureBlobType (BB_RSA_SIGNATURE_BLOB 0x0008)
    pub signature_blob_type: u16,
    /// SignatureBlob
    pub signature: &'a [u8],
    /// Bytes after the signature blob.
    pub trailing: &'a [u8],
}

/// The certificate in Server Security Data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCertificate<'a> {
    /// CERT_CHAIN_VERSION_1
    Proprietary(ProprietaryCertificate<'a>),
    /// CERT_CHAIN_VERSION_2: [2.2.1.4.3.1.2] X.509 Certificate Chain; DER certificates, the
    /// server's last, then padding (8 + 4 × NumCertBlobs bytes).
    X509 {
        certificates: Vec<&'a [u8]>,
        padding: &'a [u8],
    },
    /// Another `dwVersion`, raw after it.
    Unknown { data: &'a [u8] },
}

/// [2.2.1.4.3.1] Server Certificate (SERVER_CERTIFICATE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCertificateBlob<'a> {
    /// dwVersion: certificate type in the low 31 bits; the high bit set means temporary.
    pub dw_version: u32,
    pub certificate: ServerCertificate<'a>,
}

impl ServerCertificateBlob<'_> {
    pub fn cert_type(&self) -> CertificateType {
        CertificateType(self.dw_version & 0x7FFF_FFFF)
    }

    /// The high bit of dwVersion clear: a permanent (not temporary) certificate.
    pub fn permanent(&self) -> bool {
        self.dw_version & 0x8000_0000 == 0
    }
}

/// [2.2.1.4.3] Server Security Data (TS_UD_SC_SEC1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerSecurityData<'a> {
    /// encryptionMethod
    pub encryption_method: EncryptionMethods,
    /// encryptionLevel
    pub encryption_level: EncryptionLevel,
    /// serverRandom (present when method and level are not both 0)
    pub server_random: Option<&'a [u8]>,
    /// serverCertificate, raw (see [`ServerSecurityData::certificate`])
    pub server_certificate: Option<&'a [u8]>,
    /// Bytes after the certificate.
    pub trailing: &'a [u8],
}

/// Largest certificate count accepted in an X.509 chain.
pub const MAX_CERT_BLOBS: u32 = 32;

impl<'a> ServerSecurityData<'a> {
    /// Decodes serverCertificate.
    pub fn certificate(&self) -> Option<Result<ServerCertificateBlob<'a>, crate::DecodeError>> {
        let raw = self.server_certificate?;
        Some(match parse_server_certificate(raw) {
            Ok((_, c)) => Ok(c),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                Err(e.into_decode_error(Layer::Gcc, raw))
            }
            Err(nom::Err::Incomplete(_)) => Err(crate::DecodeError {
                layer: Layer::Gcc,
                context: "serverCertificate",
                offset: raw.len(),
                kind: crate::DecodeErrorKind::NotEnoughBytes {
                    needed: 1,
                    available: 0,
                },
            }),
        })
    }
}

fn parse_server_certificate(i: &[u8]) -> PResult<'_, ServerCertificateBlob<'_>> {
    let (i, dw_version) = le_u32("dwVersion")(i)?;
    let certificate = match dw_version & 0x7FFF_FFFF {
        1 => {
            let (i, sig_alg_id) = le_u32("dwSigAlgId")(i)?;
            let (i, key_alg_id) = le_u32("dwKeyAlgId")(i)?;
            let (i, public_key_blob_type) = le_u16("wPublicKeyBlobType")(i)?;
            let (i, blob_len) = le_u16("wPublicKeyBlobLen")(i)?;
            let (i, blob) = take(i, blob_len.into(), "PublicKeyBlob")?;
            let (b, magic) = le_u32("magic")(blob)?;
            let (b, keylen) = le_u32("keylen")(b)?;
            let (b, bitlen) = le_u32("bitlen")(b)?;
            let (b, datalen) = le_u32("datalen")(b)?;
            let (modulus, pub_exp) = le_u32("pubExp")(b)?;
            let (i, signature_blob_type) = le_u16("wSignatureBlobType")(i)?;
            let (i, sig_len) = le_u16("wSignatureBlobLen")(i)?;
            let (i, signature) = take(i, sig_len.into(), "SignatureBlob")?;
            ServerCertificate::Proprietary(ProprietaryCertificate {
                sig_alg_id,
                key_alg_id,
                public_key_blob_type,
                public_key: RsaPublicKey {
                    magic,
                    keylen,
                    bitlen,
                    datalen,
                    pub_exp,
                    modulus,
                },
                signature_blob_type,
                signature,
                trailing: i,
            })
        }
        2 => {
            let (mut i, count) = le_u32("NumCertBlobs")(i)?;
            if count > MAX_CERT_BLOBS {
                return crate::codec::too_large(
                    i,
                    "NumCertBlobs",
                    MAX_CERT_BLOBS as usize,
                    count as usize,
                );
            }
            let mut certificates = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let (r, len) = le_u32("cbCert")(i)?;
                let (r, der) = take(r, len as usize, "abCert")?;
                certificates.push(der);
                i = r;
            }
            ServerCertificate::X509 {
                certificates,
                padding: i,
            }
        }
        _ => ServerCertificate::Unknown { data: i },
    };
    Ok((
        &[],
        ServerCertificateBlob {
            dw_version,
            certificate,
        },
    ))
}

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
            BlockType::SC_CORE => {
                let (d, version) = le_u32("version")(data)?;
                let (d, requested) = opt_u32(d, "clientRequestedProtocols")?;
                let (_, early) = opt_u32(d, "earlyCapabilityFlags")?;
                Self::Core(ServerCoreData {
                    version: RdpVersion(version),
                    client_requested_protocols: requested,
                    early_capability_flags: early,
                })
            }
            BlockType::SC_SECURITY => {
                let (d, method) = le_u32("encryptionMethod")(data)?;
                let (d, level) = le_u32("encryptionLevel")(d)?;
                let mut sec = ServerSecurityData {
                    encryption_method: EncryptionMethods::from_bits_retain(method),
                    encryption_level: EncryptionLevel(level),
                    server_random: None,
                    server_certificate: None,
                    trailing: d,
                };
                if !d.is_empty() {
                    let (d, random_len) = le_u32("serverRandomLen")(d)?;
                    let (d, cert_len) = le_u32("serverCertLen")(d)?;
                    let (d, random) = take(d, random_len as usize, "serverRandom")?;
                    let (d, cert) = take(d, cert_len as usize, "serverCertificate")?;
                    sec.server_random = Some(random);
                    sec.server_certificate = Some(cert);
                    sec.trailing = d;
                }
                Self::Security(sec)
            }
            BlockType::SC_NET => {
                let (d, mcs_channel_id) = le_u16("MCSChannelId")(data)?;
                let (d, count) = le_u16("channelCount")(d)?;
                let (trailing, channel_ids) = take(d, usize::from(count) * 2, "channelIdArray")?;
                Self::Network(ServerNetworkData {
                    mcs_channel_id,
                    channel_ids,
                    trailing,
                })
            }
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
            Self::Core(c) => {
                4 + c.client_requested_protocols.map_or(0, |_| 4)
                    + c.early_capability_flags.map_or(0, |_| 4)
            }
            Self::Security(s) => {
                8 + match (s.server_random, s.server_certificate) {
                    (Some(r), Some(c)) => 8 + r.len() + c.len(),
                    _ => 0,
                } + s.trailing.len()
            }
            Self::Network(n) => 4 + n.channel_ids.len() + n.trailing.len(),
            Self::MessageChannel { .. } => 2,
            Self::Multitransport { .. } => 4,
            Self::Unknown(u) => u.data.len(),
        }
    }

    fn encode_data(&self, dst: &mut Vec<u8>) {
        match self {
            Self::Core(c) => {
                dst.extend_from_slice(&c.version.0.to_le_bytes());
                if let Some(v) = c.client_requested_protocols {
                    dst.extend_from_slice(&v.to_le_bytes());
                    if let Some(e) = c.early_capability_flags {
                        dst.extend_from_slice(&e.to_le_bytes());
                    }
                }
            }
            Self::Security(s) => {
                dst.extend_from_slice(&s.encryption_method.bits().to_le_bytes());
                dst.extend_from_slice(&s.encryption_level.0.to_le_bytes());
                if let (Some(r), Some(c)) = (s.server_random, s.server_certificate) {
                    dst.extend_from_slice(&crate::codec::len_u32(r.len()).to_le_bytes());
                    dst.extend_from_slice(&crate::codec::len_u32(c.len()).to_le_bytes());
                    dst.extend_from_slice(r);
                    dst.extend_from_slice(c);
                }
                dst.extend_from_slice(s.trailing);
            }
            Self::Network(n) => {
                dst.extend_from_slice(&n.mcs_channel_id.to_le_bytes());
                dst.extend_from_slice(&len_u16(n.channel_ids.len() / 2).to_le_bytes());
                dst.extend_from_slice(n.channel_ids);
                dst.extend_from_slice(n.trailing);
            }
            Self::MessageChannel { mcs_channel_id } => {
                dst.extend_from_slice(&mcs_channel_id.to_le_bytes())
            }
            Self::Multitransport { flags } => dst.extend_from_slice(&flags.to_le_bytes()),
            Self::Unknown(u) => dst.extend_from_slice(u.data),
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Conference Create Request / Response

/// PER forms seen on the wire, for byte-exact re-encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PerForms {
    /// connectPDU length used two octets.
    pub connect_pdu_long: bool,
    /// The connectPDU length as declared, when it is not the real length. Windows servers
    /// write 0x2A whatever the response's size; readers (FreeRDP, mstsc) ignore it, and so do
    /// we: the connectPDU runs to the end of the MCS userData.
    pub connect_pdu_declared: Option<u16>,
    /// The user data length used two octets.
    pub user_data_long: bool,
}

/// [T.124 8.7] ConferenceCreateRequest inside ConnectData, as [2.2.1.3] sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConferenceCreateRequest<'a> {
    /// The ConnectGCCPDU CHOICE octet (0x00) and the optional-field bitmap (0x08: userData).
    pub preamble: [u8; 2],
    /// conferenceName: NumericString, digits packed four bits each (RDP sends "1").
    pub conference_name_len: u8,
    pub conference_name: &'a [u8],
    /// lockedConference, listedConference, conductibleConference, terminationMethod bits.
    pub options: u8,
    /// userData SET OF count (1).
    pub user_data_count: u8,
    /// The UserData value's CHOICE octet (0xC0: value present, h221NonStandard).
    pub key_choice: u8,
    /// The h221NonStandard key ("Duca").
    pub h221_key: &'a [u8],
    /// The client data blocks.
    pub blocks: Vec<ClientBlock<'a>>,
    pub forms: PerForms,
}

/// [T.124 8.7] ConferenceCreateResponse inside ConnectData, as [2.2.1.4] sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConferenceCreateResponse<'a> {
    /// The ConnectGCCPDU CHOICE octet (0x14).
    pub choice: u8,
    /// nodeID (UserID, lower bound 1001).
    pub node_id: u16,
    /// tag (INTEGER) and its octets.
    pub tag: u32,
    pub tag_octets: u8,
    /// result (ENUMERATED, 0 = success).
    pub result: u8,
    /// userData SET OF count.
    pub user_data_count: u8,
    /// CHOICE octet of the UserData value.
    pub key_choice: u8,
    /// The h221NonStandard key ("McDn").
    pub h221_key: &'a [u8],
    /// The server data blocks.
    pub blocks: Vec<ServerBlock<'a>>,
    pub forms: PerForms,
}

/// Reads ConnectData up to the connectPDU, which runs to the end of the input.
fn parse_connect_data<'a>(i: &'a [u8]) -> PResult<'a, (&'a [u8], PerForms)> {
    let (i, oid) = array::<7>(i, "t124Identifier")?;
    if *oid != T124_OBJECT_ID {
        return invalid(
            i,
            "t124Identifier",
            "not the T.124 object identifier 0.0.20.124.0.1",
        );
    }
    let (pdu, len) = per::parse_length(i, "connectPDU length")?;
    let declared = (usize::from(len.value) != pdu.len()).then_some(len.value);
    let forms = PerForms {
        connect_pdu_long: len.long,
        connect_pdu_declared: declared,
        user_data_long: false,
    };
    Ok((&[], (pdu, forms)))
}

fn write_connect_pdu_len(
    dst: &mut Vec<u8>,
    forms: &PerForms,
    real: usize,
) -> Result<(), EncodeError> {
    let len = forms.connect_pdu_declared.map_or(real, usize::from);
    per::write_length(dst, len, forms.connect_pdu_long)
}

fn connect_pdu_len_len(forms: &PerForms, real: usize) -> usize {
    per::length_len(
        forms.connect_pdu_declared.map_or(real, usize::from),
        forms.connect_pdu_long,
    )
}

/// Reads the h221NonStandard key (length - 4, then the key) and the user data length.
fn parse_key_and_data<'a>(i: &'a [u8]) -> PResult<'a, (&'a [u8], &'a [u8], bool)> {
    let (i, key_len) = u8("h221NonStandard length")(i)?;
    let (i, key) = take(i, usize::from(key_len) + 4, "h221NonStandard")?;
    let (i, len) = per::parse_length(i, "userData length")?;
    let (i, data) = take(i, len.value.into(), "userData")?;
    Ok((i, (key, data, len.long)))
}

impl<'a> Pdu<'a> for ConferenceCreateRequest<'a> {
    const NAME: &'static str = "GCC Conference Create Request";
    const LAYER: Layer = Layer::Gcc;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (pdu, mut forms)) = parse_connect_data(i)?;
        let start = pdu;
        let (p, choice) = u8("ConnectGCCPDU")(pdu)?;
        if choice >> 2 != 0 {
            return unexpected(start, "ConnectGCCPDU", choice.into());
        }
        let (p, optional) = u8("optional fields")(p)?;
        let (p, name_len) = u8("conferenceName length")(p)?;
        let (p, conference_name) = take(
            p,
            usize::from(name_len).div_ceil(2).max(1),
            "conferenceName",
        )?;
        let (p, options) = u8("conference options")(p)?;
        let (p, user_data_count) = u8("userData count")(p)?;
        let (p, key_choice) = u8("UserData value")(p)?;
        let (p, (h221_key, data, user_data_long)) = parse_key_and_data(p)?;
        if !p.is_empty() {
            return invalid(p, "connectPDU", "trailing bytes");
        }
        let (_, blocks) = parse_blocks(data, ClientBlock::parse_data)?;
        forms.user_data_long = user_data_long;
        Ok((
            rest,
            Self {
                preamble: [choice, optional],
                conference_name_len: name_len,
                conference_name,
                options,
                user_data_count,
                key_choice,
                h221_key,
                blocks,
                forms,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let data = self.blocks_len();
        let pdu = self.pdu_len(data);
        7 + connect_pdu_len_len(&self.forms, pdu) + pdu
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let data = self.blocks_len();
        dst.extend_from_slice(&T124_OBJECT_ID);
        write_connect_pdu_len(dst, &self.forms, self.pdu_len(data))?;
        dst.extend_from_slice(&self.preamble);
        dst.push(self.conference_name_len);
        dst.extend_from_slice(self.conference_name);
        dst.extend_from_slice(&[self.options, self.user_data_count, self.key_choice]);
        write_key(dst, self.h221_key)?;
        per::write_length(dst, data, self.forms.user_data_long)?;
        for b in &self.blocks {
            write_block(dst, b.block_type(), b.data_len())?;
            b.encode_data(dst);
        }
        Ok(())
    }
}

fn write_key(dst: &mut Vec<u8>, key: &[u8]) -> Result<(), EncodeError> {
    let Some(n) = key.len().checked_sub(4) else {
        return Err(EncodeError::Invalid {
            pdu: "GCC",
            field: "h221NonStandard",
            reason: "shorter than 4 bytes",
        });
    };
    fit("GCC", "h221NonStandard", n, 255)?;
    dst.push(len_u8(n));
    dst.extend_from_slice(key);
    Ok(())
}

impl ConferenceCreateRequest<'_> {
    fn blocks_len(&self) -> usize {
        self.blocks.iter().map(|b| 4 + b.data_len()).sum()
    }

    fn pdu_len(&self, data: usize) -> usize {
        2 + 1
            + self.conference_name.len()
            + 3
            + 1
            + self.h221_key.len()
            + per::length_len(data, self.forms.user_data_long)
            + data
    }

    /// The Client Core Data block.
    pub fn core(&self) -> Option<&ClientCoreData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Core(c) => Some(c),
            _ => None,
        })
    }

    /// The Client Security Data block.
    pub fn security(&self) -> Option<&ClientSecurityData> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Security(s) => Some(s),
            _ => None,
        })
    }

    /// The Client Network Data block.
    pub fn network(&self) -> Option<&ClientNetworkData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Network(n) => Some(n),
            _ => None,
        })
    }
}

impl<'a> Pdu<'a> for ConferenceCreateResponse<'a> {
    const NAME: &'static str = "GCC Conference Create Response";
    const LAYER: Layer = Layer::Gcc;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (pdu, mut forms)) = parse_connect_data(i)?;
        let start = pdu;
        let (p, choice) = u8("ConnectGCCPDU")(pdu)?;
        if choice >> 2 != 5 {
            return unexpected(start, "ConnectGCCPDU", choice.into());
        }
        let (p, node_id) = per::parse_u16_min(p, 1001, "nodeID")?;
        let (p, (tag, tag_octets)) = per::parse_integer(p, "tag")?;
        let (p, result) = u8("result")(p)?;
        let (p, user_data_count) = u8("userData count")(p)?;
        let (p, key_choice) = u8("UserData value")(p)?;
        let (p, (h221_key, data, user_data_long)) = parse_key_and_data(p)?;
        if !p.is_empty() {
            return invalid(p, "connectPDU", "trailing bytes");
        }
        let (_, blocks) = parse_blocks(data, ServerBlock::parse_data)?;
        forms.user_data_long = user_data_long;
        Ok((
            rest,
            Self {
                choice,
                node_id,
                tag,
                tag_octets,
                result,
                user_data_count,
                key_choice,
                h221_key,
                blocks,
                forms,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let data = self.blocks_len();
        let pdu = self.pdu_len(data);
        7 + connect_pdu_len_len(&self.forms, pdu) + pdu
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let data = self.blocks_len();
        dst.extend_from_slice(&T124_OBJECT_ID);
        write_connect_pdu_len(dst, &self.forms, self.pdu_len(data))?;
        dst.push(self.choice);
        per::write_u16_min(dst, self.node_id, 1001);
        per::write_integer(dst, self.tag, self.tag_octets);
        dst.extend_from_slice(&[self.result, self.user_data_count, self.key_choice]);
        write_key(dst, self.h221_key)?;
        per::write_length(dst, data, self.forms.user_data_long)?;
        for b in &self.blocks {
            write_block(dst, b.block_type(), b.data_len())?;
            b.encode_data(dst);
        }
        Ok(())
    }
}

impl ConferenceCreateResponse<'_> {
    fn blocks_len(&self) -> usize {
        self.blocks.iter().map(|b| 4 + b.data_len()).sum()
    }

    fn pdu_len(&self, data: usize) -> usize {
        1 + 2
            + 1
            + per::integer_octets(self.tag, self.tag_octets)
            + 3
            + 1
            + self.h221_key.len()
            + per::length_len(data, self.forms.user_data_long)
            + data
    }

    /// The Server Core Data block.
    pub fn core(&self) -> Option<&ServerCoreData> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Core(c) => Some(c),
            _ => None,
        })
    }

    /// The Server Security Data block.
    pub fn security(&self) -> Option<&ServerSecurityData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Security(s) => Some(s),
            _ => None,
        })
    }

    /// The Server Network Data block.
    pub fn network(&self) -> Option<&ServerNetworkData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Network(n) => Some(n),
            _ => None,
        })
    }
}
