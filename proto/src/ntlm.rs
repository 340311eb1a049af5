//! [MS-NLMP 2.2.1] NTLM messages as CredSSP carries them: NEGOTIATE_MESSAGE (the probe sends
//! it), CHALLENGE_MESSAGE (the server's identity: names, OS version, clock) and
//! AUTHENTICATE_MESSAGE (seen from clients).
//!
//! Variable fields are (length, maximum length, offset) triples into the message. [`Field`]
//! keeps all three, so a parsed message re-encodes to its own bytes whatever layout its writer
//! chose; [`Field::packed`] builds new ones.
//!
//! [MS-NLMP 2.2.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/907f519d-6217-45b1-b421-dca10fc8af0d

use crate::codec::{array, invalid, le_u16, le_u32, open_enum, take, unexpected};
use crate::{EncodeError, Layer, PResult, Pdu};

/// `Signature`: "NTLMSSP\0".
pub const SIGNATURE: [u8; 8] = *b"NTLMSSP\0";
/// MessageType of NEGOTIATE_MESSAGE.
pub const NTLM_NEGOTIATE: u32 = 1;
/// MessageType of CHALLENGE_MESSAGE.
pub const NTLM_CHALLENGE: u32 = 2;
/// MessageType of AUTHENTICATE_MESSAGE.
pub const NTLM_AUTHENTICATE: u32 = 3;

bitflags::bitflags! {
    /// [2.2.2.5] NEGOTIATE flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct NegotiateFlags: u32 {
        const NTLMSSP_NEGOTIATE_UNICODE = 0x0000_0001;
        const NTLM_NEGOTIATE_OEM = 0x0000_0002;
        const NTLMSSP_REQUEST_TARGET = 0x0000_0004;
        const NTLMSSP_NEGOTIATE_SIGN = 0x0000_0010;
        const NTLMSSP_NEGOTIATE_SEAL = 0x0000_0020;
        const NTLMSSP_NEGOTIATE_DATAGRAM = 0x0000_0040;
        const NTLMSSP_NEGOTIATE_LM_KEY = 0x0000_0080;
        const NTLMSSP_NEGOTIATE_NTLM = 0x0000_0200;
        const NTLMSSP_ANONYMOUS = 0x0000_0800;
        const NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x0000_1000;
        const NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x0000_2000;
        const NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x0000_8000;
        const NTLMSSP_TARGET_TYPE_DOMAIN = 0x0001_0000;
        const NTLMSSP_TARGET_TYPE_SERVER = 0x0002_0000;
        const NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x0008_0000;
        const NTLMSSP_NEGOTIATE_IDENTIFY = 0x0010_0000;
        const NTLMSSP_REQUEST_NON_NT_SESSION_KEY = 0x0040_0000;
        const NTLMSSP_NEGOTIATE_TARGET_INFO = 0x0080_0000;
        const NTLMSSP_NEGOTIATE_VERSION = 0x0200_0000;
        const NTLMSSP_NEGOTIATE_128 = 0x2000_0000;
        const NTLMSSP_NEGOTIATE_KEY_EXCH = 0x4000_0000;
        const NTLMSSP_NEGOTIATE_56 = 0x8000_0000;
        const _ = !0;
    }
}

/// [2.2.2.10] VERSION: the sender's Windows version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Version {
    /// ProductMajorVersion
    pub major: u8,
    /// ProductMinorVersion
    pub minor: u8,
    /// ProductBuild
    pub build: u16,
    /// Reserved
    pub reserved: [u8; 3],
    /// NTLMRevisionCurrent (15 = NTLMSSP_REVISION_W2K3)
    pub revision: u8,
}

impl Version {
    fn from_bytes(b: &[u8; 8]) -> Self {
        let [major, minor, b0, b1, r0, r1, r2, revision] = *b;
        Self {
            major,
            minor,
            build: u16::from_le_bytes([b0, b1]),
            reserved: [r0, r1, r2],
            revision,
        }
    }

    fn to_bytes(self) -> [u8; 8] {
        let [b0, b1] = self.build.to_le_bytes();
        let [r0, r1, r2] = self.reserved;
        [self.major, self.minor, b0, b1, r0, r1, r2, self.revision]
    }

    /// "10.0.19041" style.
    pub fn product_version(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// A variable field: its bytes, and the (MaxLen, BufferOffset) its writer used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Field<'a> {
    pub data: &'a [u8],
    /// MaxLen (normally equal to Len).
    pub max_len: u16,
    /// BufferOffset from the start of the message.
    pub offset: u32,
}

impl<'a> Field<'a> {
    /// Lays out `fields` one after another from `start`, as a fresh message would.
    pub fn packed<const N: usize>(start: u32, fields: [&'a [u8]; N]) -> [Field<'a>; N] {
        let mut at = start;
        fields.map(|data| {
            let len = crate::codec::len_u16(data.len());
            let f = Field {
                data,
                max_len: len,
                offset: at,
            };
            at = at.saturating_add(u32::from(len));
            f
        })
    }

    fn end(&self) -> usize {
        self.offset as usize + self.data.len()
    }
}

/// Reads a (Len, MaxLen, BufferOffset) triple and resolves it against the whole message.
fn field<'a>(msg: &'a [u8], i: &'a [u8], ctx: &'static str) -> PResult<'a, Field<'a>> {
    let start = i;
    let (i, len) = le_u16(ctx)(i)?;
    let (i, max_len) = le_u16(ctx)(i)?;
    let (i, offset) = le_u32(ctx)(i)?;
    let data = if len == 0 {
        &[][..]
    } else {
        let Some(data) = msg
            .get(offset as usize..)
            .and_then(|m| m.get(..usize::from(len)))
        else {
            return invalid(start, ctx, "field points outside the message");
        };
        data
    };
    Ok((
        i,
        Field {
            data,
            max_len,
            offset,
        },
    ))
}

fn write_field(dst: &mut Vec<u8>, f: &Field<'_>) {
    dst.extend_from_slice(&crate::codec::len_u16(f.data.len()).to_le_bytes());
    dst.extend_from_slice(&f.max_len.to_le_bytes());
    dst.extend_from_slice(&f.offset.to_le_bytes());
}

/// Writes the payload: each field at its offset; gaps are zero.
fn write_payload(
    dst: &mut Vec<u8>,
    msg_start: usize,
    header_len: usize,
    fields: &[&Field<'_>],
) -> Result<(), EncodeError> {
    dst.resize(msg_start + payload_end(header_len, fields), 0);
    for f in fields {
        if f.data.is_empty() {
            continue;
        }
        if (f.offset as usize) < header_len {
            return Err(EncodeError::Invalid {
                pdu: "NTLM",
                field: "BufferOffset",
                reason: "points into the header",
            });
        }
        let at = msg_start + f.offset as usize;
        if let Some(slot) = dst.get_mut(at..at + f.data.len()) {
            slot.copy_from_slice(f.data);
        }
    }
    Ok(())
}

/// Where the message ends: after the header and the last non-empty field. (An empty field's
/// offset is written as given but takes no room: a parsed message may carry any offset there.)
fn payload_end(header_len: usize, fields: &[&Field<'_>]) -> usize {
    fields
        .iter()
        .filter(|f| !f.data.is_empty())
        .map(|f| f.end())
        .max()
        .unwrap_or(0)
        .max(header_len)
}

fn lowest_offset(fields: &[&Field<'_>]) -> Option<u32> {
    fields
        .iter()
        .filter(|f| !f.data.is_empty())
        .map(|f| f.offset)
        .min()
}

fn header<'a>(i: &'a [u8], want: u32) -> PResult<'a, ()> {
    let (r, sig) = array::<8>(i, "Signature")?;
    if *sig != SIGNATURE {
        return invalid(i, "Signature", "not NTLMSSP");
    }
    let (r, ty) = le_u32("MessageType")(r)?;
    if ty != want {
        return unexpected(r, "MessageType", ty);
    }
    Ok((r, ()))
}

/// The optional VERSION: present when the flag says so or the payload starts after it.
fn version_present(flags: NegotiateFlags, fields: &[&Field<'_>], fixed: usize) -> bool {
    flags.contains(NegotiateFlags::NTLMSSP_NEGOTIATE_VERSION)
        || lowest_offset(fields).is_some_and(|o| o as usize >= fixed + 8)
}

/// [2.2.1.1] NEGOTIATE_MESSAGE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Negotiate<'a> {
    /// NegotiateFlags
    pub flags: NegotiateFlags,
    /// DomainNameFields (OEM)
    pub domain: Field<'a>,
    /// WorkstationFields (OEM)
    pub workstation: Field<'a>,
    /// Version
    pub version: Option<Version>,
}

impl<'a> Pdu<'a> for Negotiate<'a> {
    const NAME: &'static str = "NEGOTIATE_MESSAGE";
    const LAYER: Layer = Layer::Ntlm;

    fn parse(msg: &'a [u8]) -> PResult<'a, Self> {
        let (i, ()) = header(msg, NTLM_NEGOTIATE)?;
        let (i, flags) = le_u32("NegotiateFlags")(i)?;
        let flags = NegotiateFlags::from_bits_retain(flags);
        let (i, domain) = field(msg, i, "DomainNameFields")?;
        let (i, workstation) = field(msg, i, "WorkstationFields")?;
        let version = if version_present(flags, &[&domain, &workstation], 32) && i.len() >= 8 {
            Some(Version::from_bytes(array::<8>(i, "Version")?.1))
        } else {
            None
        };
        Ok((
            &[],
            Self {
                flags,
                domain,
                workstation,
                version,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        payload_end(self.header_len(), &[&self.domain, &self.workstation])
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.extend_from_slice(&SIGNATURE);
        dst.extend_from_slice(&NTLM_NEGOTIATE.to_le_bytes());
        dst.extend_from_slice(&self.flags.bits().to_le_bytes());
        write_field(dst, &self.domain);
        write_field(dst, &self.workstation);
        if let Some(v) = self.version {
            dst.extend_from_slice(&v.to_bytes());
        }
        write_payload(
            dst,
            start,
            self.header_len(),
            &[&self.domain, &self.workstation],
        )
    }
}

impl Negotiate<'_> {
    fn header_len(&self) -> usize {
        32 + self.version.map_or(0, |_| 8)
    }

    /// The NEGOTIATE a probe sends: the flags xfreerdp 2.11 sends (0xE20882B7: NTLMv2 with
    /// extended session security, key exchange, 128/56-bit, sign/seal, Unicode and OEM,
    /// request target) and a version.
    pub fn probe(version: Version) -> Self {
        let flags = NegotiateFlags::NTLMSSP_NEGOTIATE_56
            | NegotiateFlags::NTLMSSP_NEGOTIATE_KEY_EXCH
            | NegotiateFlags::NTLMSSP_NEGOTIATE_128
            | NegotiateFlags::NTLMSSP_NEGOTIATE_VERSION
            | NegotiateFlags::NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
            | NegotiateFlags::NTLMSSP_NEGOTIATE_ALWAYS_SIGN
            | NegotiateFlags::NTLMSSP_NEGOTIATE_NTLM
            | NegotiateFlags::NTLMSSP_NEGOTIATE_LM_KEY
            | NegotiateFlags::NTLMSSP_NEGOTIATE_SEAL
            | NegotiateFlags::NTLMSSP_NEGOTIATE_SIGN
            | NegotiateFlags::NTLMSSP_REQUEST_TARGET
            | NegotiateFlags::NTLM_NEGOTIATE_OEM
            | NegotiateFlags::NTLMSSP_NEGOTIATE_UNICODE;
        let empty = Field {
            data: &[],
            max_len: 0,
            offset: 0,
        };
        Self {
            flags,
            domain: empty,
            workstation: empty,
            version: Some(version),
        }
    }
}

open_enum! {
    /// [2.2.2.1] AV_PAIR `AvId`.
    pub struct AvId(u16) {
        MSV_AV_EOL = 0x0000,
        MSV_AV_NB_COMPUTER_NAME = 0x0001,
        MSV_AV_NB_DOMAIN_NAME = 0x0002,
        MSV_AV_DNS_COMPUTER_NAME = 0x0003,
        MSV_AV_DNS_DOMAIN_NAME = 0x0004,
        MSV_AV_DNS_TREE_NAME = 0x0005,
        MSV_AV_FLAGS = 0x0006,
        MSV_AV_TIMESTAMP = 0x0007,
        MSV_AV_SINGLE_HOST = 0x0008,
        MSV_AV_TARGET_NAME = 0x0009,
        MSV_AV_CHANNEL_BINDINGS = 0x000A,
    }
}

/// [2.2.2.1] AV_PAIR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvPair<'a> {
    pub id: AvId,
    pub value: &'a [u8],
}

impl AvPair<'_> {
    /// The value as text (the name pairs are UTF-16LE).
    pub fn text(&self) -> String {
        crate::utf16le(self.value)
    }

    /// MsvAvTimestamp as a FILETIME (100 ns units since 1601-01-01).
    pub fn filetime(&self) -> Option<u64> {
        let b: &[u8; 8] = self.value.try_into().ok()?;
        Some(u64::from_le_bytes(*b))
    }
}

/// Seconds between 1601-01-01 and 1970-01-01.
pub const FILETIME_UNIX_EPOCH_S: u64 = 11_644_473_600;

/// FILETIME to Unix seconds (None before 1970).
pub fn filetime_to_unix(ft: u64) -> Option<u64> {
    (ft / 10_000_000).checked_sub(FILETIME_UNIX_EPOCH_S)
}

/// Iterates AV pairs up to MsvAvEOL or the first malformed one.
pub fn av_pairs(mut info: &[u8]) -> impl Iterator<Item = AvPair<'_>> {
    core::iter::from_fn(move || {
        let (r, id) = le_u16("AvId")(info).ok()?;
        let (r, len) = le_u16("AvLen")(r).ok()?;
        let (r, value) = take(r, len.into(), "Value").ok()?;
        if id == 0 {
            return None;
        }
        info = r;
        Some(AvPair {
            id: AvId(id),
            value,
        })
    })
}

/// [2.2.1.2] CHALLENGE_MESSAGE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Challenge<'a> {
    /// TargetNameFields
    pub target_name: Field<'a>,
    /// NegotiateFlags
    pub flags: NegotiateFlags,
    /// ServerChallenge
    pub server_challenge: [u8; 8],
    /// Reserved
    pub reserved: [u8; 8],
    /// TargetInfoFields (AV pairs; see [`Challenge::av_pairs`])
    pub target_info: Field<'a>,
    /// Version
    pub version: Option<Version>,
}

impl<'a> Challenge<'a> {
    pub fn av_pairs(&self) -> impl Iterator<Item = AvPair<'a>> + 'a {
        av_pairs(self.target_info.data)
    }

    /// The value of one AV pair.
    pub fn av(&self, id: AvId) -> Option<AvPair<'a>> {
        self.av_pairs().find(|p| p.id == id)
    }

    fn header_len(&self) -> usize {
        48 + self.version.map_or(0, |_| 8)
    }
}

impl<'a> Pdu<'a> for Challenge<'a> {
    const NAME: &'static str = "CHALLENGE_MESSAGE";
    const LAYER: Layer = Layer::Ntlm;

    fn parse(msg: &'a [u8]) -> PResult<'a, Self> {
        let (i, ()) = header(msg, NTLM_CHALLENGE)?;
        let (i, target_name) = field(msg, i, "TargetNameFields")?;
        let (i, flags) = le_u32("NegotiateFlags")(i)?;
        let flags = NegotiateFlags::from_bits_retain(flags);
        let (i, challenge) = array::<8>(i, "ServerChallenge")?;
        let (i, reserved) = array::<8>(i, "Reserved")?;
        let (i, target_info) = field(msg, i, "TargetInfoFields")?;
        let version = if version_present(flags, &[&target_name, &target_info], 48) && i.len() >= 8 {
            Some(Version::from_bytes(array::<8>(i, "Version")?.1))
        } else {
            None
        };
        Ok((
            &[],
            Self {
                target_name,
                flags,
                server_challenge: *challenge,
                reserved: *reserved,
                target_info,
                version,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        payload_end(self.header_len(), &[&self.target_name, &self.target_info])
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.extend_from_slice(&SIGNATURE);
        dst.extend_from_slice(&NTLM_CHALLENGE.to_le_bytes());
        write_field(dst, &self.target_name);
        dst.extend_from_slice(&self.flags.bits().to_le_bytes());
        dst.extend_from_slice(&self.server_challenge);
        dst.extend_from_slice(&self.reserved);
        write_field(dst, &self.target_info);
        if let Some(v) = self.version {
            dst.extend_from_slice(&v.to_bytes());
        }
        write_payload(
            dst,
            start,
            self.header_len(),
            &[&self.target_name, &self.target_info],
        )
    }
}

/// [2.2.1.3] AUTHENTICATE_MESSAGE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Authenticate<'a> {
    /// LmChallengeResponseFields
    pub lm_response: Field<'a>,
    /// NtChallengeResponseFields
    pub nt_response: Field<'a>,
    /// DomainNameFields
    pub domain: Field<'a>,
    /// UserNameFields
    pub user: Field<'a>,
    /// WorkstationFields
    pub workstation: Field<'a>,
    /// EncryptedRandomSessionKeyFields
    pub session_key: Field<'a>,
    /// NegotiateFlags
    pub flags: NegotiateFlags,
    /// Version
    pub version: Option<Version>,
    /// MIC
    pub mic: Option<[u8; 16]>,
}

impl<'a> Authenticate<'a> {
    fn fields(&self) -> [&Field<'a>; 6] {
        [
            &self.lm_response,
            &self.nt_response,
            &self.domain,
            &self.user,
            &self.workstation,
            &self.session_key,
        ]
    }

    fn header_len(&self) -> usize {
        64 + self.version.map_or(0, |_| 8) + self.mic.map_or(0, |_| 16)
    }

    /// UserName as text (Unicode when negotiated).
    pub fn user_name(&self) -> String {
        self.text(self.user.data)
    }

    /// DomainName as text.
    pub fn domain_name(&self) -> String {
        self.text(self.domain.data)
    }

    /// Workstation as text.
    pub fn workstation_name(&self) -> String {
        self.text(self.workstation.data)
    }

    fn text(&self, b: &[u8]) -> String {
        if self
            .flags
            .contains(NegotiateFlags::NTLMSSP_NEGOTIATE_UNICODE)
        {
            crate::utf16le(b)
        } else {
            b.iter().map(|c| char::from(*c)).collect()
        }
    }

    /// AV pairs of an NTLMv2 response (after its 28-byte fixed part), if it is one.
    pub fn ntlmv2_av_pairs(&self) -> impl Iterator<Item = AvPair<'a>> + 'a {
        av_pairs(self.nt_response.data.get(44..).unwrap_or_default())
    }
}

impl<'a> Pdu<'a> for Authenticate<'a> {
    const NAME: &'static str = "AUTHENTICATE_MESSAGE";
    const LAYER: Layer = Layer::Ntlm;

    fn parse(msg: &'a [u8]) -> PResult<'a, Self> {
        let (i, ()) = header(msg, NTLM_AUTHENTICATE)?;
        let (i, lm_response) = field(msg, i, "LmChallengeResponseFields")?;
        let (i, nt_response) = field(msg, i, "NtChallengeResponseFields")?;
        let (i, domain) = field(msg, i, "DomainNameFields")?;
        let (i, user) = field(msg, i, "UserNameFields")?;
        let (i, workstation) = field(msg, i, "WorkstationFields")?;
        let (i, session_key) = field(msg, i, "EncryptedRandomSessionKeyFields")?;
        let (i, flags) = le_u32("NegotiateFlags")(i)?;
        let flags = NegotiateFlags::from_bits_retain(flags);
        let mut pdu = Self {
            lm_response,
            nt_response,
            domain,
            user,
            workstation,
            session_key,
            flags,
            version: None,
            mic: None,
        };
        let first = lowest_offset(&pdu.fields()).map_or(i.len() + 64, |o| o as usize);
        let mut i = i;
        // Version (and then the MIC) are there when the payload starts after them.
        if first >= 72 {
            let (r, v) = array::<8>(i, "Version")?;
            pdu.version = Some(Version::from_bytes(v));
            i = r;
        }
        if pdu.version.is_some() && first >= 88 {
            let (_, mic) = array::<16>(i, "MIC")?;
            pdu.mic = Some(*mic);
        }
        Ok((&[], pdu))
    }

    fn encoded_len(&self) -> usize {
        payload_end(self.header_len(), &self.fields())
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.extend_from_slice(&SIGNATURE);
        dst.extend_from_slice(&NTLM_AUTHENTICATE.to_le_bytes());
        for f in self.fields() {
            write_field(dst, f);
        }
        dst.extend_from_slice(&self.flags.bits().to_le_bytes());
        if let Some(v) = self.version {
            dst.extend_from_slice(&v.to_bytes());
        }
        if let Some(m) = self.mic {
            dst.extend_from_slice(&m);
        }
        write_payload(dst, start, self.header_len(), &self.fields())
    }
}

/// Any NTLM message, by its MessageType.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Negotiate(Negotiate<'a>),
    Challenge(Challenge<'a>),
    Authenticate(Authenticate<'a>),
}

impl<'a> Pdu<'a> for Message<'a> {
    const NAME: &'static str = "NTLM message";
    const LAYER: Layer = Layer::Ntlm;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (r, sig) = array::<8>(i, "Signature")?;
        if *sig != SIGNATURE {
            return invalid(i, "Signature", "not NTLMSSP");
        }
        let (_, ty) = le_u32("MessageType")(r)?;
        match ty {
            NTLM_NEGOTIATE => Negotiate::parse(i).map(|(r, m)| (r, Self::Negotiate(m))),
            NTLM_CHALLENGE => Challenge::parse(i).map(|(r, m)| (r, Self::Challenge(m))),
            NTLM_AUTHENTICATE => Authenticate::parse(i).map(|(r, m)| (r, Self::Authenticate(m))),
            _ => unexpected(r, "MessageType", ty),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Negotiate(m) => m.encoded_len(),
            Self::Challenge(m) => m.encoded_len(),
            Self::Authenticate(m) => m.encoded_len(),
        }
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Negotiate(m) => m.encode(dst),
            Self::Challenge(m) => m.encode(dst),
            Self::Authenticate(m) => m.encode(dst),
        }
    }
}
