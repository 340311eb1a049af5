//! [MS-RDPBCGR 2.2.1.3.2] Client Core Data (TS_UD_CS_CORE) and the RDP version numbers.

use crate::codec::{array, le_u16, le_u32, open_enum, u8};
use crate::PResult;

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
    pub(super) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
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

    pub(super) fn encoded_len(&self) -> usize {
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

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
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
