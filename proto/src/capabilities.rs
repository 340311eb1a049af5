//! [MS-RDPBCGR 2.2.1.13] The capability exchange: the server's Demand Active PDU, the client's
//! Confirm Active PDU, and the capability sets they carry ([2.2.7]). Bodies after the Share
//! Control Header ([`crate::slowpath::ShareControlPdu`]).
//!
//! ```text
//! Demand Active:  shareId u32 | lengthSourceDescriptor u16 | lengthCombinedCapabilities u16 |
//!                 sourceDescriptor | numberCapabilities u16 | pad2Octets | sets | sessionId u32
//! Confirm Active: shareId u32 | originatorId u16 | lengthSourceDescriptor u16 |
//!                 lengthCombinedCapabilities u16 | sourceDescriptor | numberCapabilities u16 |
//!                 pad2Octets | sets
//! set:            capabilitySetType u16 | lengthCapability u16 (header included) | data
//! ```
//!
//! [MS-RDPBCGR 2.2.1.13]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/a07abad1-38bb-4a1a-96c9-253e3d5440df

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, open_enum, take};
use crate::{EncodeError, Layer, PResult, Pdu};

/// Most capability sets read from one PDU (Windows sends about 20; each set is at least 4 bytes,
/// so the count is bounded by the bytes anyway).
pub const MAX_CAPABILITY_SETS: usize = 256;

open_enum! {
    /// [2.2.1.13.1.1.1] `capabilitySetType`.
    pub struct CapabilitySetType(u16) {
        CAPSTYPE_GENERAL = 1,
        CAPSTYPE_BITMAP = 2,
        CAPSTYPE_ORDER = 3,
        CAPSTYPE_BITMAPCACHE = 4,
        CAPSTYPE_CONTROL = 5,
        CAPSTYPE_ACTIVATION = 7,
        CAPSTYPE_POINTER = 8,
        CAPSTYPE_SHARE = 9,
        CAPSTYPE_COLORCACHE = 10,
        CAPSTYPE_SOUND = 12,
        CAPSTYPE_INPUT = 13,
        CAPSTYPE_FONT = 14,
        CAPSTYPE_BRUSH = 15,
        CAPSTYPE_GLYPHCACHE = 16,
        CAPSTYPE_OFFSCREENCACHE = 17,
        CAPSTYPE_BITMAPCACHE_HOSTSUPPORT = 18,
        CAPSTYPE_BITMAPCACHE_REV2 = 19,
        CAPSTYPE_VIRTUALCHANNEL = 20,
        CAPSTYPE_DRAWNINEGRIDCACHE = 21,
        CAPSTYPE_DRAWGDIPLUS = 22,
        CAPSTYPE_RAIL = 23,
        CAPSTYPE_WINDOW = 24,
        CAPSETTYPE_COMPDESK = 25,
        CAPSETTYPE_MULTIFRAGMENTUPDATE = 26,
        CAPSETTYPE_LARGE_POINTER = 27,
        CAPSETTYPE_SURFACE_COMMANDS = 28,
        CAPSETTYPE_BITMAP_CODECS = 29,
        CAPSSETTYPE_FRAME_ACKNOWLEDGE = 30,
    }
}

open_enum! {
    /// [2.2.7.1.1] General Capability Set `osMajorType`.
    pub struct OsMajorType(u16) {
        OSMAJORTYPE_UNSPECIFIED = 0,
        OSMAJORTYPE_WINDOWS = 1,
        OSMAJORTYPE_OS2 = 2,
        OSMAJORTYPE_MACINTOSH = 3,
        OSMAJORTYPE_UNIX = 4,
        OSMAJORTYPE_IOS = 5,
        OSMAJORTYPE_OSX = 6,
        OSMAJORTYPE_ANDROID = 7,
        OSMAJORTYPE_CHROME_OS = 8,
    }
}

open_enum! {
    /// [2.2.7.1.1] General Capability Set `osMinorType`.
    pub struct OsMinorType(u16) {
        OSMINORTYPE_UNSPECIFIED = 0,
        OSMINORTYPE_WINDOWS_31X = 1,
        OSMINORTYPE_WINDOWS_95 = 2,
        OSMINORTYPE_WINDOWS_NT = 3,
        OSMINORTYPE_OS2_V21 = 4,
        OSMINORTYPE_POWER_PC = 5,
        OSMINORTYPE_MACINTOSH = 6,
        OSMINORTYPE_NATIVE_XSERVER = 7,
        OSMINORTYPE_PSEUDO_XSERVER = 8,
        OSMINORTYPE_WINDOWS_RT = 9,
    }
}

/// One capability set: its type and the bytes after its 4-byte header, raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapabilitySet<'a> {
    pub set_type: CapabilitySetType,
    pub data: &'a [u8],
}

/// [2.2.7.1.1] General Capability Set (TS_GENERAL_CAPABILITYSET): the fields a diagnosis reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneralCapability {
    pub os_major: OsMajorType,
    pub os_minor: OsMinorType,
    pub protocol_version: u16,
    pub extra_flags: u16,
}

/// [2.2.7.1.2] Bitmap Capability Set (TS_BITMAP_CAPABILITYSET): the fields a diagnosis reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitmapCapability {
    pub preferred_bits_per_pixel: u16,
    pub desktop_width: u16,
    pub desktop_height: u16,
    pub desktop_resize: u16,
}

impl CapabilitySet<'_> {
    /// The General Capability Set's fields, if this is one and long enough.
    pub fn general(&self) -> Option<GeneralCapability> {
        if self.set_type != CapabilitySetType::CAPSTYPE_GENERAL {
            return None;
        }
        let (i, os_major) = le_u16("osMajorType")(self.data).ok()?;
        let (i, os_minor) = le_u16("osMinorType")(i).ok()?;
        let (i, protocol_version) = le_u16("protocolVersion")(i).ok()?;
        let (i, _pad) = le_u16("pad2octetsA")(i).ok()?;
        let (i, _compression) = le_u16("generalCompressionTypes")(i).ok()?;
        let (_, extra_flags) = le_u16("extraFlags")(i).ok()?;
        Some(GeneralCapability {
            os_major: OsMajorType(os_major),
            os_minor: OsMinorType(os_minor),
            protocol_version,
            extra_flags,
        })
    }

    /// The Bitmap Capability Set's fields, if this is one and long enough.
    pub fn bitmap(&self) -> Option<BitmapCapability> {
        if self.set_type != CapabilitySetType::CAPSTYPE_BITMAP {
            return None;
        }
        let (i, preferred_bits_per_pixel) = le_u16("preferredBitsPerPixel")(self.data).ok()?;
        let (i, _) = take(i, 6, "receive1/4/8BitPerPixel").ok()?;
        let (i, desktop_width) = le_u16("desktopWidth")(i).ok()?;
        let (i, desktop_height) = le_u16("desktopHeight")(i).ok()?;
        let (i, _pad) = le_u16("pad2octets")(i).ok()?;
        let (_, desktop_resize) = le_u16("desktopResizeFlag")(i).ok()?;
        Some(BitmapCapability {
            preferred_bits_per_pixel,
            desktop_width,
            desktop_height,
            desktop_resize,
        })
    }
}

/// Reads `numberCapabilities`, the pad and the sets, all inside `combined`
/// (`lengthCombinedCapabilities` bytes).
fn parse_sets<'a>(combined: &'a [u8]) -> PResult<'a, (u16, u16, Vec<CapabilitySet<'a>>)> {
    let (mut i, number) = le_u16("numberCapabilities")(combined)?;
    let (rest, pad) = le_u16("pad2Octets")(i)?;
    i = rest;
    let mut sets = Vec::new();
    for _ in 0..number {
        if sets.len() == MAX_CAPABILITY_SETS {
            return invalid(
                i,
                "numberCapabilities",
                "more capability sets than the limit",
            );
        }
        let start = i;
        let (r, set_type) = le_u16("capabilitySetType")(i)?;
        let (r, length) = le_u16("lengthCapability")(r)?;
        let Some(data_len) = usize::from(length).checked_sub(4) else {
            return invalid(start, "lengthCapability", "shorter than the set header");
        };
        let (r, data) = take(r, data_len, "capabilityData")?;
        sets.push(CapabilitySet {
            set_type: CapabilitySetType(set_type),
            data,
        });
        i = r;
    }
    Ok((i, (number, pad, sets)))
}

fn sets_len(sets: &[CapabilitySet<'_>]) -> usize {
    sets.iter().map(|s| 4 + s.data.len()).sum()
}

fn encode_sets(
    pdu: &'static str,
    number: u16,
    pad: u16,
    sets: &[CapabilitySet<'_>],
    dst: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    dst.extend_from_slice(&number.to_le_bytes());
    dst.extend_from_slice(&pad.to_le_bytes());
    for s in sets {
        fit(pdu, "lengthCapability", 4 + s.data.len(), 0xFFFF)?;
        dst.extend_from_slice(&s.set_type.0.to_le_bytes());
        dst.extend_from_slice(&len_u16(4 + s.data.len()).to_le_bytes());
        dst.extend_from_slice(s.data);
    }
    Ok(())
}

/// [2.2.1.13.1.1] Demand Active PDU data (TS_DEMAND_ACTIVE_PDU), after the Share Control Header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemandActive<'a> {
    pub share_id: u32,
    /// sourceDescriptor ("RDP", NUL-terminated, from Windows).
    pub source_descriptor: &'a [u8],
    /// numberCapabilities as sent (the sets read are those it announced).
    pub number_capabilities: u16,
    pub pad: u16,
    pub capability_sets: Vec<CapabilitySet<'a>>,
    /// sessionId (absent in some old servers' PDUs).
    pub session_id: Option<u32>,
}

impl DemandActive<'_> {
    /// The General Capability Set, if present.
    pub fn general(&self) -> Option<GeneralCapability> {
        self.capability_sets.iter().find_map(CapabilitySet::general)
    }

    /// The Bitmap Capability Set, if present.
    pub fn bitmap(&self) -> Option<BitmapCapability> {
        self.capability_sets.iter().find_map(CapabilitySet::bitmap)
    }
}

impl<'a> Pdu<'a> for DemandActive<'a> {
    const NAME: &'static str = "TS_DEMAND_ACTIVE_PDU";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, share_id) = le_u32("shareId")(i)?;
        let (i, source_len) = le_u16("lengthSourceDescriptor")(i)?;
        let (i, combined_len) = le_u16("lengthCombinedCapabilities")(i)?;
        let (i, source_descriptor) = take(i, usize::from(source_len), "sourceDescriptor")?;
        let (i, combined) = take(i, usize::from(combined_len), "capabilitySets")?;
        let (rest, (number_capabilities, pad, capability_sets)) = parse_sets(combined)?;
        if !rest.is_empty() {
            return invalid(
                rest,
                "lengthCombinedCapabilities",
                "bytes after the last set",
            );
        }
        let (i, session_id) = match le_u32("sessionId")(i) {
            Ok((r, v)) => (r, Some(v)),
            Err(_) if i.is_empty() => (i, None),
            Err(e) => return Err(e),
        };
        Ok((
            i,
            Self {
                share_id,
                source_descriptor,
                number_capabilities,
                pad,
                capability_sets,
                session_id,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        8 + self.source_descriptor.len()
            + 4
            + sets_len(&self.capability_sets)
            + if self.session_id.is_some() { 4 } else { 0 }
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let combined = 4 + sets_len(&self.capability_sets);
        fit(
            Self::NAME,
            "lengthSourceDescriptor",
            self.source_descriptor.len(),
            0xFFFF,
        )?;
        fit(Self::NAME, "lengthCombinedCapabilities", combined, 0xFFFF)?;
        dst.extend_from_slice(&self.share_id.to_le_bytes());
        dst.extend_from_slice(&len_u16(self.source_descriptor.len()).to_le_bytes());
        dst.extend_from_slice(&len_u16(combined).to_le_bytes());
        dst.extend_from_slice(self.source_descriptor);
        encode_sets(
            Self::NAME,
            self.number_capabilities,
            self.pad,
            &self.capability_sets,
            dst,
        )?;
        if let Some(id) = self.session_id {
            dst.extend_from_slice(&id.to_le_bytes());
        }
        Ok(())
    }
}

/// The `originatorId` of a Confirm Active: the server channel id (0x03EA).
pub const SERVER_CHANNEL_ID: u16 = 0x03EA;

/// [2.2.1.13.2.1] Confirm Active PDU data (TS_CONFIRM_ACTIVE_PDU), after the Share Control
/// Header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmActive<'a> {
    pub share_id: u32,
    pub originator_id: u16,
    pub source_descriptor: &'a [u8],
    pub number_capabilities: u16,
    pub pad: u16,
    pub capability_sets: Vec<CapabilitySet<'a>>,
}

impl<'a> Pdu<'a> for ConfirmActive<'a> {
    const NAME: &'static str = "TS_CONFIRM_ACTIVE_PDU";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, share_id) = le_u32("shareId")(i)?;
        let (i, originator_id) = le_u16("originatorId")(i)?;
        let (i, source_len) = le_u16("lengthSourceDescriptor")(i)?;
        let (i, combined_len) = le_u16("lengthCombinedCapabilities")(i)?;
        let (i, source_descriptor) = take(i, usize::from(source_len), "sourceDescriptor")?;
        let (i, combined) = take(i, usize::from(combined_len), "capabilitySets")?;
        let (rest, (number_capabilities, pad, capability_sets)) = parse_sets(combined)?;
        if !rest.is_empty() {
            return invalid(
                rest,
                "lengthCombinedCapabilities",
                "bytes after the last set",
            );
        }
        Ok((
            i,
            Self {
                share_id,
                originator_id,
                source_descriptor,
                number_capabilities,
                pad,
                capability_sets,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        10 + self.source_descriptor.len() + 4 + sets_len(&self.capability_sets)
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let combined = 4 + sets_len(&self.capability_sets);
        fit(
            Self::NAME,
            "lengthSourceDescriptor",
            self.source_descriptor.len(),
            0xFFFF,
        )?;
        fit(Self::NAME, "lengthCombinedCapabilities", combined, 0xFFFF)?;
        dst.extend_from_slice(&self.share_id.to_le_bytes());
        dst.extend_from_slice(&self.originator_id.to_le_bytes());
        dst.extend_from_slice(&len_u16(self.source_descriptor.len()).to_le_bytes());
        dst.extend_from_slice(&len_u16(combined).to_le_bytes());
        dst.extend_from_slice(self.source_descriptor);
        encode_sets(
            Self::NAME,
            self.number_capabilities,
            self.pad,
            &self.capability_sets,
            dst,
        )
    }
}
