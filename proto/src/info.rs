//! [MS-RDPBCGR 2.2.1.11.1.1] The Client Info PDU's data (TS_INFO_PACKET): code page, flags, the
//! domain, user name, password, alternate shell and working directory, and the extended info
//! (TS_EXTENDED_INFO_PACKET, kept raw). Sent after the security header with SEC_INFO_PKT.
//!
//! ```text
//! CodePage u32 | flags u32 | cbDomain u16 | cbUserName u16 | cbPassword u16 |
//! cbAlternateShell u16 | cbWorkingDir u16 | Domain | UserName | Password | AlternateShell |
//! WorkingDir | extraInfo
//! ```
//! Each string field holds its `cb*` bytes and a null terminator (2 bytes with INFO_UNICODE, else
//! 1), which the counts exclude.
//!
//! [MS-RDPBCGR 2.2.1.11.1.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/732394f5-e2b5-4ac5-8a0a-35345386b0d1

use crate::codec::{fit, invalid, le_u16, le_u32, len_u16, take};
use crate::{EncodeError, Layer, PResult, Pdu};

bitflags::bitflags! {
    /// [2.2.1.11.1.1] TS_INFO_PACKET `flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct InfoFlags: u32 {
        const INFO_MOUSE = 0x0000_0001;
        const INFO_DISABLECTRLALTDEL = 0x0000_0002;
        const INFO_AUTOLOGON = 0x0000_0008;
        const INFO_UNICODE = 0x0000_0010;
        const INFO_MAXIMIZESHELL = 0x0000_0020;
        const INFO_LOGONNOTIFY = 0x0000_0040;
        const INFO_COMPRESSION = 0x0000_0080;
        const INFO_ENABLEWINDOWSKEY = 0x0000_0100;
        const INFO_REMOTECONSOLEAUDIO = 0x0000_2000;
        const INFO_FORCE_ENCRYPTED_CS_PDU = 0x0000_4000;
        const INFO_RAIL = 0x0000_8000;
        const INFO_LOGONERRORS = 0x0001_0000;
        const INFO_MOUSE_HAS_WHEEL = 0x0002_0000;
        const INFO_PASSWORD_IS_SC_PIN = 0x0004_0000;
        const INFO_NOAUDIOPLAYBACK = 0x0008_0000;
        const INFO_USING_SAVED_CREDS = 0x0010_0000;
        const INFO_AUDIOCAPTURE = 0x0020_0000;
        const INFO_VIDEO_DISABLE = 0x0040_0000;
        const INFO_HIDEF_RAIL_SUPPORTED = 0x0200_0000;
        const _ = !0;
    }
}

/// [2.2.1.11.1.1] TS_INFO_PACKET. String fields are raw, their null terminator included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo<'a> {
    pub code_page: u32,
    pub flags: InfoFlags,
    pub domain: &'a [u8],
    pub user_name: &'a [u8],
    pub password: &'a [u8],
    pub alternate_shell: &'a [u8],
    pub working_dir: &'a [u8],
    /// TS_EXTENDED_INFO_PACKET and anything after, raw.
    pub extra_info: &'a [u8],
}

/// An empty UTF-16 string: its null terminator.
const EMPTY_UTF16: &[u8] = &[0, 0];

/// TS_EXTENDED_INFO_PACKET of the probe: AF_INET, empty client address and directory, a zero
/// time zone (172 bytes), session 0, no performance flags, no auto-reconnect cookie.
const ANONYMOUS_EXTRA: [u8; 190] = {
    let mut b = [0u8; 190];
    b[0] = 0x02; // clientAddressFamily AF_INET
    b[2] = 2; // cbClientAddress: the terminator
    b[6] = 2; // cbClientDir: the terminator
    b
};

impl ClientInfo<'static> {
    /// The Client Info of an anonymous client (no credentials, no auto-logon) that asks the
    /// server to report logon errors (INFO_LOGONERRORS).
    pub fn anonymous() -> Self {
        Self {
            code_page: 0,
            flags: InfoFlags::INFO_MOUSE
                | InfoFlags::INFO_DISABLECTRLALTDEL
                | InfoFlags::INFO_UNICODE
                | InfoFlags::INFO_MAXIMIZESHELL
                | InfoFlags::INFO_ENABLEWINDOWSKEY
                | InfoFlags::INFO_LOGONNOTIFY
                | InfoFlags::INFO_LOGONERRORS,
            domain: EMPTY_UTF16,
            user_name: EMPTY_UTF16,
            password: EMPTY_UTF16,
            alternate_shell: EMPTY_UTF16,
            working_dir: EMPTY_UTF16,
            extra_info: &ANONYMOUS_EXTRA,
        }
    }
}

impl ClientInfo<'_> {
    fn terminator(&self) -> usize {
        if self.flags.contains(InfoFlags::INFO_UNICODE) {
            2
        } else {
            1
        }
    }

    /// The user name as text (UTF-16LE with INFO_UNICODE, else ANSI), terminator dropped.
    pub fn user_name_text(&self) -> String {
        self.text(self.user_name)
    }

    /// The domain as text.
    pub fn domain_text(&self) -> String {
        self.text(self.domain)
    }

    fn text(&self, field: &[u8]) -> String {
        if self.flags.contains(InfoFlags::INFO_UNICODE) {
            crate::codec::utf16le_until_nul(field)
        } else {
            crate::codec::ascii_until_nul(field)
        }
    }
}

impl<'a> Pdu<'a> for ClientInfo<'a> {
    const NAME: &'static str = "TS_INFO_PACKET";
    const LAYER: Layer = Layer::SlowPath;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, code_page) = le_u32("CodePage")(i)?;
        let (i, flags) = le_u32("flags")(i)?;
        let flags = InfoFlags::from_bits_retain(flags);
        let term = if flags.contains(InfoFlags::INFO_UNICODE) {
            2
        } else {
            1
        };
        let (i, cb_domain) = le_u16("cbDomain")(i)?;
        let (i, cb_user) = le_u16("cbUserName")(i)?;
        let (i, cb_password) = le_u16("cbPassword")(i)?;
        let (i, cb_shell) = le_u16("cbAlternateShell")(i)?;
        let (i, cb_dir) = le_u16("cbWorkingDir")(i)?;
        let field = |i: &'a [u8], cb: u16, ctx: &'static str| -> PResult<'a, &'a [u8]> {
            let (rest, f) = take(i, usize::from(cb) + term, ctx)?;
            if f.get(f.len().saturating_sub(term)..)
                .is_none_or(|t| t.iter().any(|b| *b != 0))
            {
                return invalid(i, ctx, "not null-terminated");
            }
            Ok((rest, f))
        };
        let (i, domain) = field(i, cb_domain, "Domain")?;
        let (i, user_name) = field(i, cb_user, "UserName")?;
        let (i, password) = field(i, cb_password, "Password")?;
        let (i, alternate_shell) = field(i, cb_shell, "AlternateShell")?;
        let (i, working_dir) = field(i, cb_dir, "WorkingDir")?;
        let rest: &'a [u8] = &[];
        Ok((
            rest,
            Self {
                code_page,
                flags,
                domain,
                user_name,
                password,
                alternate_shell,
                working_dir,
                extra_info: i,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        18 + self.domain.len()
            + self.user_name.len()
            + self.password.len()
            + self.alternate_shell.len()
            + self.working_dir.len()
            + self.extra_info.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let term = self.terminator();
        let fields = [
            ("cbDomain", self.domain),
            ("cbUserName", self.user_name),
            ("cbPassword", self.password),
            ("cbAlternateShell", self.alternate_shell),
            ("cbWorkingDir", self.working_dir),
        ];
        dst.extend_from_slice(&self.code_page.to_le_bytes());
        dst.extend_from_slice(&self.flags.bits().to_le_bytes());
        for (name, f) in fields {
            let Some(cb) = f.len().checked_sub(term) else {
                return Err(EncodeError::Invalid {
                    pdu: Self::NAME,
                    field: name,
                    reason: "shorter than its null terminator",
                });
            };
            fit(Self::NAME, name, cb, 0xFFFF)?;
            dst.extend_from_slice(&len_u16(cb).to_le_bytes());
        }
        for (_, f) in fields {
            dst.extend_from_slice(f);
        }
        dst.extend_from_slice(self.extra_info);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode_vec};

    #[test]
    fn the_anonymous_client_info_round_trips() {
        let info = ClientInfo::anonymous();
        let bytes = encode_vec(&info).unwrap();
        assert_eq!(bytes.len(), info.encoded_len());
        let back: ClientInfo = decode(&bytes).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.user_name_text(), "");
        assert!(back.flags.contains(InfoFlags::INFO_LOGONERRORS));
    }

    #[test]
    fn a_field_without_its_terminator_is_refused() {
        let mut bytes = encode_vec(&ClientInfo::anonymous()).unwrap();
        bytes[18] = 1; // the domain's terminator
        assert!(decode::<ClientInfo>(&bytes).is_err());
    }
}
