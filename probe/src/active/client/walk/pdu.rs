//! The PDUs the walk sends after the Client Info: the Confirm Active with its capability sets,
//! the client's half of the finalization, Share Control and Share Data headers
//! (MS-RDPBCGR 2.2.7, 2.2.8).

use super::*;

/// One capability set: type, then data (the length is written by the encoder).
pub(super) fn capability(set_type: CapabilitySetType, data: &[u8]) -> CapabilitySet<'_> {
    CapabilitySet { set_type, data }
}

/// The capability sets of the probe's Confirm Active (MS-RDPBCGR 2.2.7): the sets a client must
/// send, with the least it can claim (no drawing orders, no caches, 16 bpp at 1024x768).
#[rustfmt::skip]
pub(super) const GENERAL: [u8; 20] = [
    1, 0, 3, 0, // osMajorType WINDOWS, osMinorType WINDOWS_NT
    0, 2, 0, 0, 0, 0, // protocolVersion 0x0200, pad, generalCompressionTypes
    0x05, 0x04, // extraFlags: FASTPATH_OUTPUT, LONG_CREDENTIALS, NO_BITMAP_COMPRESSION_HDR
    0, 0, 0, 0, 0, 0, 0, 0, // updateCapabilityFlag, remoteUnshareFlag, compressionLevel, refreshRect, suppressOutput
];
#[rustfmt::skip]
pub(super) const BITMAP: [u8; 24] = [
    16, 0, 1, 0, 1, 0, 1, 0, // preferredBitsPerPixel 16, receive1/4/8BitPerPixel
    0x00, 0x04, 0x00, 0x03, // desktop 1024 x 768
    0, 0, 1, 0, 1, 0, // pad, desktopResizeFlag, bitmapCompressionFlag
    0, 0, 1, 0, 0, 0, // highColorFlags, drawingFlags, multipleRectangleSupport, pad
];
#[rustfmt::skip]
pub(super) const ORDER: [u8; 84] = {
    let mut b = [0u8; 84];
    b[20] = 1; // desktopSaveXGranularity
    b[22] = 20; // desktopSaveYGranularity
    b[26] = 1; // maximumOrderLevel
    b[30] = 0x22; // orderFlags: NEGOTIATEORDERSUPPORT | COLORINDEXSUPPORT; orderSupport: none
    b
};
#[rustfmt::skip]
pub(super) const POINTER: [u8; 6] = [1, 0, 20, 0, 21, 0];
#[rustfmt::skip]
pub(super) const INPUT: [u8; 84] = {
    let mut b = [0u8; 84];
    b[0] = 1; // inputFlags: INPUT_FLAG_SCANCODES
    b[4] = 0x09; b[5] = 0x04; // keyboardLayout 0x409
    b[8] = 4; // keyboardType
    b[16] = 12; // keyboardFunctionKey
    b
};
#[rustfmt::skip]
pub(super) const CONTROL: [u8; 8] = [0, 0, 0, 0, 2, 0, 2, 0];
pub(super) const ZERO4: [u8; 4] = [0; 4];
pub(super) const ZERO8: [u8; 8] = [0; 8];
pub(super) const BITMAP_CACHE: [u8; 36] = [0; 36];
pub(super) const GLYPH_CACHE: [u8; 48] = [0; 48];
pub(super) const FONT: [u8; 4] = [1, 0, 0, 0];
pub(super) const COLOR_CACHE: [u8; 4] = [6, 0, 0, 0];

/// A Share Control PDU from the client (`pdu_type_raw`: type and protocol version).
pub(super) fn share_control(pdu_type_raw: u16, user: u16, body: &[u8]) -> Vec<u8> {
    encode_vec(&ShareControlPdu {
        total_length: 0,
        pdu_type_raw,
        pdu_source: user,
        body,
    })
    .unwrap_or_default()
}

/// A Share Data PDU from the client.
pub(super) fn share_data(share_id: u32, user: u16, pdu_type2: PduType2, body: &[u8]) -> Vec<u8> {
    let sd = encode_vec(&ShareDataPdu {
        share_id,
        pad1: 0,
        stream_id: 1,
        uncompressed_length: u16::try_from(body.len() + 4).unwrap_or(0),
        pdu_type2,
        compressed_type: 0,
        compressed_length: 0,
        body,
    })
    .unwrap_or_default();
    share_control(0x17, user, &sd)
}

/// The client's half of the capabilities exchange and finalization: Confirm Active,
/// Synchronize, Control Cooperate, Control Request, Font List (each a slow-path PDU without a
/// security header: TLS, or encryption level NONE).
pub(super) fn finalization(share_id: u32, user: u16) -> Vec<Vec<u8>> {
    let sets = vec![
        capability(CapabilitySetType::CAPSTYPE_GENERAL, &GENERAL),
        capability(CapabilitySetType::CAPSTYPE_BITMAP, &BITMAP),
        capability(CapabilitySetType::CAPSTYPE_ORDER, &ORDER),
        capability(CapabilitySetType::CAPSTYPE_BITMAPCACHE, &BITMAP_CACHE),
        capability(CapabilitySetType::CAPSTYPE_POINTER, &POINTER),
        capability(CapabilitySetType::CAPSTYPE_INPUT, &INPUT),
        capability(CapabilitySetType::CAPSTYPE_BRUSH, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_GLYPHCACHE, &GLYPH_CACHE),
        capability(CapabilitySetType::CAPSTYPE_OFFSCREENCACHE, &ZERO8),
        capability(CapabilitySetType::CAPSTYPE_VIRTUALCHANNEL, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_SOUND, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_SHARE, &ZERO4),
        capability(CapabilitySetType::CAPSTYPE_CONTROL, &CONTROL),
        capability(CapabilitySetType::CAPSTYPE_ACTIVATION, &ZERO8),
        capability(CapabilitySetType::CAPSTYPE_FONT, &FONT),
        capability(CapabilitySetType::CAPSTYPE_COLORCACHE, &COLOR_CACHE),
    ];
    let confirm = encode_vec(&ConfirmActive {
        share_id,
        originator_id: SERVER_CHANNEL_ID,
        source_descriptor: b"RDPROBE\0",
        number_capabilities: u16::try_from(sets.len()).unwrap_or(0),
        pad: 0,
        capability_sets: sets,
    })
    .unwrap_or_default();
    let control = |pdu_type_raw: u16, body: &[u8]| share_control(pdu_type_raw, user, body);
    let data = |pdu_type2: PduType2, body: &[u8]| share_data(share_id, user, pdu_type2, body);
    let channel = SERVER_CHANNEL_ID.to_le_bytes();
    vec![
        control(0x13, &confirm),
        // TS_SYNCHRONIZE_PDU: SYNCMSGTYPE_SYNC, targetUser (the server channel).
        data(
            PduType2::PDUTYPE2_SYNCHRONIZE,
            &[1, 0, channel[0], channel[1]],
        ),
        // TS_CONTROL_PDU: CTRLACTION_COOPERATE, then CTRLACTION_REQUEST_CONTROL.
        data(PduType2::PDUTYPE2_CONTROL, &[4, 0, 0, 0, 0, 0, 0, 0]),
        data(PduType2::PDUTYPE2_CONTROL, &[1, 0, 0, 0, 0, 0, 0, 0]),
        // TS_FONT_LIST_PDU: no fonts, FONTLIST_FIRST | FONTLIST_LAST, entry size 50.
        data(PduType2::PDUTYPE2_FONTLIST, &[0, 0, 0, 0, 3, 0, 0x32, 0]),
    ]
}
