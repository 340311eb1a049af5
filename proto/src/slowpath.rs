//! Slow-path PDUs after the MCS connect phase ([MS-RDPBCGR 2.2.8.1.1]): the security headers,
//! the Share Control and Share Data headers, and the Set Error Info PDU ([2.2.5.1.1]).
//!
//! Which security header precedes a PDU depends on the negotiated security (none under
//! TLS/CredSSP except on licensing and Client Info PDUs; non-FIPS or FIPS under Standard RDP
//! Security), so each has its own type.
//!
//! [MS-RDPBCGR 2.2.8.1.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/2d122191-af10-4e36-a781-381e91c182b7

use crate::codec::{array, fit, invalid, le_u16, le_u32, len_u16, open_enum, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

bitflags::bitflags! {
    /// [2.2.8.1.1.2.1] Basic Security Header `flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SecurityFlags: u16 {
        const SEC_EXCHANGE_PKT = 0x0001;
        const SEC_TRANSPORT_REQ = 0x0002;
        const RDP_SEC_TRANSPORT_RSP = 0x0004;
        const SEC_ENCRYPT = 0x0008;
        const SEC_RESET_SEQNO = 0x0010;
        const SEC_IGNORE_SEQNO = 0x0020;
        const SEC_INFO_PKT = 0x0040;
        const SEC_LICENSE_PKT = 0x0080;
        const SEC_LICENSE_ENCRYPT_CS = 0x0200;
        const SEC_REDIRECTION_PKT = 0x0400;
        const SEC_SECURE_CHECKSUM = 0x0800;
        const SEC_AUTODETECT_REQ = 0x1000;
        const SEC_AUTODETECT_RSP = 0x2000;
        const SEC_HEARTBEAT = 0x4000;
        const SEC_FLAGSHI_VALID = 0x8000;
        const _ = !0;
    }
}

/// [2.2.8.1.1.2.1] Basic (TS_SECURITY_HEADER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SecurityHeader {
    /// flags
    pub flags: SecurityFlags,
    /// flagsHi
    pub flags_hi: u16,
}

impl<'a> Pdu<'a> for SecurityHeader {
    const NAME: &'static str = "TS_SECURITY_HEADER";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, flags) = le_u16("flags")(i)?;
        let (i, flags_hi) = le_u16("flagsHi")(i)?;
        Ok((
            i,
            Self {
                flags: SecurityFlags::from_bits_retain(flags),
                flags_hi,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&self.flags.bits().to_le_bytes());
        dst.extend_from_slice(&self.flags_hi.to_le_bytes());
        Ok(())
    }
}

/// [2.2.8.1.1.2.2] Non-FIPS (TS_SECURITY_HEADER1): basic header plus a MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NonFipsSecurityHeader {
    pub basic: SecurityHeader,
    /// dataSignature
    pub data_signature: [u8; 8],
}

impl<'a> Pdu<'a> for NonFipsSecurityHeader {
    const NAME: &'static str = "TS_SECURITY_HEADER1";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, basic) = SecurityHeader::parse(i)?;
        let (i, sig) = array::<8>(i, "dataSignature")?;
        Ok((
            i,
            Self {
                basic,
                data_signature: *sig,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        12
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.basic.encode(dst)?;
        dst.extend_from_slice(&self.data_signature);
        Ok(())
    }
}

/// [2.2.8.1.1.2.3] FIPS (TS_SECURITY_HEADER2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FipsSecurityHeader {
    pub basic: SecurityHeader,
    /// length (of this header after the basic part: 0x10)
    pub length: u16,
    /// version (TSFIPS_VERSION1 = 1)
    pub version: u8,
    /// padlen
    pub padlen: u8,
    /// dataSignature
    pub data_signature: [u8; 8],
}

impl<'a> Pdu<'a> for FipsSecurityHeader {
    const NAME: &'static str = "TS_SECURITY_HEADER2";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, basic) = SecurityHeader::parse(i)?;
        let (i, length) = le_u16("length")(i)?;
        let (i, version) = u8("version")(i)?;
        let (i, padlen) = u8("padlen")(i)?;
        let (i, sig) = array::<8>(i, "dataSignature")?;
        Ok((
            i,
            Self {
                basic,
                length,
                version,
                padlen,
                data_signature: *sig,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        16
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.basic.encode(dst)?;
        dst.extend_from_slice(&self.length.to_le_bytes());
        dst.extend_from_slice(&[self.version, self.padlen]);
        dst.extend_from_slice(&self.data_signature);
        Ok(())
    }
}

open_enum! {
    /// [2.2.8.1.1.1.1] Share Control Header `pduType` (low 4 bits).
    pub struct PduType(u16) {
        PDUTYPE_DEMANDACTIVEPDU = 0x1,
        PDUTYPE_CONFIRMACTIVEPDU = 0x3,
        PDUTYPE_DEACTIVATEALLPDU = 0x6,
        PDUTYPE_DATAPDU = 0x7,
        PDUTYPE_SERVER_REDIR_PKT = 0xA,
    }
}

/// The `totalLength` value that marks a flow control PDU ([MS-RDPBCGR 2.2.8.1.1.1.1]).
pub const FLOW_CONTROL_MARKER: u16 = 0x8000;

/// [2.2.8.1.1.1.1] Share Control Header (TS_SHARECONTROLHEADER) and the PDU body it covers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ShareControlPdu<'a> {
    /// totalLength
    pub total_length: u16,
    /// pduType: type in bits 0..3, protocol version (1) in bits 4..15.
    pub pdu_type_raw: u16,
    /// pduSource (a channel id)
    pub pdu_source: u16,
    /// The bytes the header covers after itself.
    pub body: &'a [u8],
}

impl ShareControlPdu<'_> {
    pub fn pdu_type(&self) -> PduType {
        PduType(self.pdu_type_raw & 0x0F)
    }
}

impl<'a> Pdu<'a> for ShareControlPdu<'a> {
    const NAME: &'static str = "TS_SHARECONTROLHEADER";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (i, total_length) = le_u16("totalLength")(i)?;
        if total_length == FLOW_CONTROL_MARKER {
            return invalid(
                start,
                "totalLength",
                "flow control PDU (0x8000), not a share control PDU",
            );
        }
        let (i, pdu_type_raw) = le_u16("pduType")(i)?;
        let (i, pdu_source) = le_u16("pduSource")(i)?;
        let Some(body_len) = usize::from(total_length).checked_sub(6) else {
            return invalid(start, "totalLength", "shorter than the header");
        };
        let (i, body) = take(i, body_len, "share control body")?;
        Ok((
            i,
            Self {
                total_length,
                pdu_type_raw,
                pdu_source,
                body,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        6 + self.body.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "totalLength", self.encoded_len(), 0x7FFF)?;
        dst.extend_from_slice(&len_u16(self.encoded_len()).to_le_bytes());
        dst.extend_from_slice(&self.pdu_type_raw.to_le_bytes());
        dst.extend_from_slice(&self.pdu_source.to_le_bytes());
        dst.extend_from_slice(self.body);
        Ok(())
    }
}

open_enum! {
    /// [2.2.8.1.1.1.2] Share Data Header `pduType2` (selected values).
    pub struct PduType2(u8) {
        PDUTYPE2_UPDATE = 0x02,
        PDUTYPE2_CONTROL = 0x14,
        PDUTYPE2_POINTER = 0x1B,
        PDUTYPE2_INPUT = 0x1C,
        PDUTYPE2_SYNCHRONIZE = 0x1F,
        PDUTYPE2_REFRESH_RECT = 0x21,
        PDUTYPE2_PLAY_SOUND = 0x22,
        PDUTYPE2_SUPPRESS_OUTPUT = 0x23,
        PDUTYPE2_SHUTDOWN_REQUEST = 0x24,
        PDUTYPE2_SHUTDOWN_DENIED = 0x25,
        PDUTYPE2_SAVE_SESSION_INFO = 0x26,
        PDUTYPE2_FONTLIST = 0x27,
        PDUTYPE2_FONTMAP = 0x28,
        PDUTYPE2_SET_KEYBOARD_INDICATORS = 0x29,
        PDUTYPE2_BITMAPCACHE_PERSISTENT_LIST = 0x2B,
        PDUTYPE2_BITMAPCACHE_ERROR_PDU = 0x2C,
        PDUTYPE2_SET_KEYBOARD_IME_STATUS = 0x2D,
        PDUTYPE2_OFFSCRCACHE_ERROR_PDU = 0x2E,
        PDUTYPE2_SET_ERROR_INFO_PDU = 0x2F,
        PDUTYPE2_DRAWNINEGRID_ERROR_PDU = 0x30,
        PDUTYPE2_DRAWGDIPLUS_ERROR_PDU = 0x31,
        PDUTYPE2_ARC_STATUS_PDU = 0x32,
        PDUTYPE2_STATUS_INFO_PDU = 0x36,
        PDUTYPE2_MONITOR_LAYOUT_PDU = 0x37,
    }
}

/// [2.2.8.1.1.1.2] Share Data Header (TS_SHAREDATAHEADER), after the Share Control Header.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ShareDataPdu<'a> {
    /// shareId
    pub share_id: u32,
    /// pad1
    pub pad1: u8,
    /// streamId
    pub stream_id: u8,
    /// uncompressedLength
    pub uncompressed_length: u16,
    /// pduType2
    pub pdu_type2: PduType2,
    /// compressedType
    pub compressed_type: u8,
    /// compressedLength
    pub compressed_length: u16,
    /// The data PDU's body.
    pub body: &'a [u8],
}

impl<'a> Pdu<'a> for ShareDataPdu<'a> {
    const NAME: &'static str = "TS_SHAREDATAHEADER";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, share_id) = le_u32("shareId")(i)?;
        let (i, pad1) = u8("pad1")(i)?;
        let (i, stream_id) = u8("streamId")(i)?;
        let (i, uncompressed_length) = le_u16("uncompressedLength")(i)?;
        let (i, pdu_type2) = u8("pduType2")(i)?;
        let (i, compressed_type) = u8("compressedType")(i)?;
        let (body, compressed_length) = le_u16("compressedLength")(i)?;
        let pdu = Self {
            share_id,
            pad1,
            stream_id,
            uncompressed_length,
            pdu_type2: PduType2(pdu_type2),
            compressed_type,
            compressed_length,
            body,
        };
        Ok((&[], pdu))
    }

    fn encoded_len(&self) -> usize {
        12 + self.body.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&self.share_id.to_le_bytes());
        dst.extend_from_slice(&[self.pad1, self.stream_id]);
        dst.extend_from_slice(&self.uncompressed_length.to_le_bytes());
        dst.extend_from_slice(&[self.pdu_type2.0, self.compressed_type]);
        dst.extend_from_slice(&self.compressed_length.to_le_bytes());
        dst.extend_from_slice(self.body);
        Ok(())
    }
}

open_enum! {
    /// [2.2.5.1.1] Set Error Info PDU `errorInfo`: every code the section lists, by its spec name.
    pub struct ErrorInfo(u32) {
        ERRINFO_NONE = 0x0000_0000,
        ERRINFO_RPC_INITIATED_DISCONNECT = 0x0000_0001,
        ERRINFO_RPC_INITIATED_LOGOFF = 0x0000_0002,
        ERRINFO_IDLE_TIMEOUT = 0x0000_0003,
        ERRINFO_LOGON_TIMEOUT = 0x0000_0004,
        ERRINFO_DISCONNECTED_BY_OTHERCONNECTION = 0x0000_0005,
        ERRINFO_OUT_OF_MEMORY = 0x0000_0006,
        ERRINFO_SERVER_DENIED_CONNECTION = 0x0000_0007,
        ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES = 0x0000_0009,
        ERRINFO_SERVER_FRESH_CREDENTIALS_REQUIRED = 0x0000_000A,
        ERRINFO_RPC_INITIATED_DISCONNECT_BYUSER = 0x0000_000B,
        ERRINFO_LOGOFF_BY_USER = 0x0000_000C,
        ERRINFO_CLOSE_STACK_ON_DRIVER_NOT_READY = 0x0000_000F,
        ERRINFO_SERVER_DWM_CRASH = 0x0000_0010,
        ERRINFO_CLOSE_STACK_ON_DRIVER_FAILURE = 0x0000_0011,
        ERRINFO_CLOSE_STACK_ON_DRIVER_IFACE_FAILURE = 0x0000_0012,
        ERRINFO_SERVER_WINLOGON_CRASH = 0x0000_0017,
        ERRINFO_SERVER_CSRSS_CRASH = 0x0000_0018,
        ERRINFO_SERVER_SHUTDOWN = 0x0000_0019,
        ERRINFO_SERVER_REBOOT = 0x0000_001A,
        ERRINFO_LICENSE_INTERNAL = 0x0000_0100,
        ERRINFO_LICENSE_NO_LICENSE_SERVER = 0x0000_0101,
        ERRINFO_LICENSE_NO_LICENSE = 0x0000_0102,
        ERRINFO_LICENSE_BAD_CLIENT_MSG = 0x0000_0103,
        ERRINFO_LICENSE_HWID_DOESNT_MATCH_LICENSE = 0x0000_0104,
        ERRINFO_LICENSE_BAD_CLIENT_LICENSE = 0x0000_0105,
        ERRINFO_LICENSE_CANT_FINISH_PROTOCOL = 0x0000_0106,
        ERRINFO_LICENSE_CLIENT_ENDED_PROTOCOL = 0x0000_0107,
        ERRINFO_LICENSE_BAD_CLIENT_ENCRYPTION = 0x0000_0108,
        ERRINFO_LICENSE_CANT_UPGRADE_LICENSE = 0x0000_0109,
        ERRINFO_LICENSE_NO_REMOTE_CONNECTIONS = 0x0000_010A,
        ERRINFO_CB_DESTINATION_NOT_FOUND = 0x0000_0400,
        ERRINFO_CB_LOADING_DESTINATION = 0x0000_0402,
        ERRINFO_CB_REDIRECTING_TO_DESTINATION = 0x0000_0404,
        ERRINFO_CB_SESSION_ONLINE_VM_WAKE = 0x0000_0405,
        ERRINFO_CB_SESSION_ONLINE_VM_BOOT = 0x0000_0406,
        ERRINFO_CB_SESSION_ONLINE_VM_NO_DNS = 0x0000_0407,
        ERRINFO_CB_DESTINATION_POOL_NOT_FREE = 0x0000_0408,
        ERRINFO_CB_CONNECTION_CANCELLED = 0x0000_0409,
        ERRINFO_CB_CONNECTION_ERROR_INVALID_SETTINGS = 0x0000_0410,
        ERRINFO_CB_SESSION_ONLINE_VM_BOOT_TIMEOUT = 0x0000_0411,
        ERRINFO_CB_SESSION_ONLINE_VM_SESSMON_FAILED = 0x0000_0412,
        ERRINFO_UNKNOWNPDUTYPE2 = 0x0000_10C9,
        ERRINFO_UNKNOWNPDUTYPE = 0x0000_10CA,
        ERRINFO_DATAPDUSEQUENCE = 0x0000_10CB,
        ERRINFO_CONTROLPDUSEQUENCE = 0x0000_10CD,
        ERRINFO_INVALIDCONTROLPDUACTION = 0x0000_10CE,
        ERRINFO_INVALIDINPUTPDUTYPE = 0x0000_10CF,
        ERRINFO_INVALIDINPUTPDUMOUSE = 0x0000_10D0,
        ERRINFO_INVALIDREFRESHRECTPDU = 0x0000_10D1,
        ERRINFO_CREATEUSERDATAFAILED = 0x0000_10D2,
        ERRINFO_CONNECTFAILED = 0x0000_10D3,
        ERRINFO_CONFIRMACTIVEWRONGSHAREID = 0x0000_10D4,
        ERRINFO_CONFIRMACTIVEWRONGORIGINATOR = 0x0000_10D5,
        ERRINFO_PERSISTENTKEYPDUBADLENGTH = 0x0000_10DA,
        ERRINFO_PERSISTENTKEYPDUILLEGALFIRST = 0x0000_10DB,
        ERRINFO_PERSISTENTKEYPDUTOOMANYTOTALKEYS = 0x0000_10DC,
        ERRINFO_PERSISTENTKEYPDUTOOMANYCACHEKEYS = 0x0000_10DD,
        ERRINFO_INPUTPDUBADLENGTH = 0x0000_10DE,
        ERRINFO_BITMAPCACHEERRORPDUBADLENGTH = 0x0000_10DF,
        ERRINFO_SECURITYDATATOOSHORT = 0x0000_10E0,
        ERRINFO_VCHANNELDATATOOSHORT = 0x0000_10E1,
        ERRINFO_SHAREDATATOOSHORT = 0x0000_10E2,
        ERRINFO_BADSUPRESSOUTPUTPDU = 0x0000_10E3,
        ERRINFO_CONFIRMACTIVEPDUTOOSHORT = 0x0000_10E5,
        ERRINFO_CAPABILITYSETTOOSMALL = 0x0000_10E7,
        ERRINFO_CAPABILITYSETTOOLARGE = 0x0000_10E8,
        ERRINFO_NOCURSORCACHE = 0x0000_10E9,
        ERRINFO_BADCAPABILITIES = 0x0000_10EA,
        ERRINFO_VIRTUALCHANNELDECOMPRESSIONERR = 0x0000_10EC,
        ERRINFO_INVALIDVCCOMPRESSIONTYPE = 0x0000_10ED,
        ERRINFO_INVALIDCHANNELID = 0x0000_10EF,
        ERRINFO_VCHANNELSTOOMANY = 0x0000_10F0,
        ERRINFO_REMOTEAPPSNOTENABLED = 0x0000_10F3,
        ERRINFO_CACHECAPNOTSET = 0x0000_10F4,
        ERRINFO_BITMAPCACHEERRORPDUBADLENGTH2 = 0x0000_10F5,
        ERRINFO_OFFSCRCACHEERRORPDUBADLENGTH = 0x0000_10F6,
        ERRINFO_DNGCACHEERRORPDUBADLENGTH = 0x0000_10F7,
        ERRINFO_GDIPLUSPDUBADLENGTH = 0x0000_10F8,
        ERRINFO_SECURITYDATATOOSHORT2 = 0x0000_1111,
        ERRINFO_SECURITYDATATOOSHORT3 = 0x0000_1112,
        ERRINFO_SECURITYDATATOOSHORT4 = 0x0000_1113,
        ERRINFO_SECURITYDATATOOSHORT5 = 0x0000_1114,
        ERRINFO_SECURITYDATATOOSHORT6 = 0x0000_1115,
        ERRINFO_SECURITYDATATOOSHORT7 = 0x0000_1116,
        ERRINFO_SECURITYDATATOOSHORT8 = 0x0000_1117,
        ERRINFO_SECURITYDATATOOSHORT9 = 0x0000_1118,
        ERRINFO_SECURITYDATATOOSHORT10 = 0x0000_1119,
        ERRINFO_SECURITYDATATOOSHORT11 = 0x0000_111A,
        ERRINFO_SECURITYDATATOOSHORT12 = 0x0000_111B,
        ERRINFO_SECURITYDATATOOSHORT13 = 0x0000_111C,
        ERRINFO_SECURITYDATATOOSHORT14 = 0x0000_111D,
        ERRINFO_SECURITYDATATOOSHORT15 = 0x0000_111E,
        ERRINFO_SECURITYDATATOOSHORT16 = 0x0000_111F,
        ERRINFO_SECURITYDATATOOSHORT17 = 0x0000_1120,
        ERRINFO_SECURITYDATATOOSHORT18 = 0x0000_1121,
        ERRINFO_SECURITYDATATOOSHORT19 = 0x0000_1122,
        ERRINFO_SECURITYDATATOOSHORT20 = 0x0000_1123,
        ERRINFO_SECURITYDATATOOSHORT21 = 0x0000_1124,
        ERRINFO_SECURITYDATATOOSHORT22 = 0x0000_1125,
        ERRINFO_SECURITYDATATOOSHORT23 = 0x0000_1126,
        ERRINFO_BADMONITORDATA = 0x0000_1129,
        ERRINFO_VCDECOMPRESSEDREASSEMBLEFAILED = 0x0000_112A,
        ERRINFO_VCDATATOOLONG = 0x0000_112B,
        ERRINFO_BAD_FRAME_ACK_DATA = 0x0000_112C,
        ERRINFO_GRAPHICSMODENOTSUPPORTED = 0x0000_112D,
        ERRINFO_GRAPHICSSUBSYSTEMRESETFAILED = 0x0000_112E,
        ERRINFO_GRAPHICSSUBSYSTEMFAILED = 0x0000_112F,
        ERRINFO_TIMEZONEKEYNAMELENGTHTOOSHORT = 0x0000_1130,
        ERRINFO_TIMEZONEKEYNAMELENGTHTOOLONG = 0x0000_1131,
        ERRINFO_DYNAMICDSTDISABLEDFIELDMISSING = 0x0000_1132,
        ERRINFO_VCDECODINGERROR = 0x0000_1133,
        ERRINFO_VIRTUALDESKTOPTOOLARGE = 0x0000_1134,
        ERRINFO_MONITORGEOMETRYVALIDATIONFAILED = 0x0000_1135,
        ERRINFO_INVALIDMONITORCOUNT = 0x0000_1136,
        ERRINFO_UPDATESESSIONKEYFAILED = 0x0000_1191,
        ERRINFO_DECRYPTFAILED = 0x0000_1192,
        ERRINFO_ENCRYPTFAILED = 0x0000_1193,
        ERRINFO_ENCPKGMISMATCH = 0x0000_1194,
        ERRINFO_DECRYPTFAILED2 = 0x0000_1195,
        ERRINFO_PEER_DISCONNECTED = 0x0000_1196,
    }
}

/// [2.2.5.1.1] Set Error Info PDU body (TS_SET_ERROR_INFO_PDU), after the Share Data Header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SetErrorInfo {
    /// errorInfo
    pub error_info: ErrorInfo,
}

impl<'a> Pdu<'a> for SetErrorInfo {
    const NAME: &'static str = "TS_SET_ERROR_INFO_PDU";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, code) = le_u32("errorInfo")(i)?;
        Ok((
            i,
            Self {
                error_info: ErrorInfo(code),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        4
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&self.error_info.0.to_le_bytes());
        Ok(())
    }
}
