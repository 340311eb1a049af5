//! [MS-CSSP 2.2.1] TSRequest: the DER message CredSSP exchanges inside TLS.
//!
//! ```text
//! TSRequest ::= SEQUENCE {
//!     version    [0] INTEGER,
//!     negoTokens [1] NegoData OPTIONAL,      -- SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING }
//!     authInfo   [2] OCTET STRING OPTIONAL,
//!     pubKeyAuth [3] OCTET STRING OPTIONAL,
//!     errorCode  [4] INTEGER OPTIONAL,        -- an NTSTATUS, version 3 and later
//!     clientNonce [5] OCTET STRING OPTIONAL   -- version 5 and later
//! }
//! ```
//! Encoding is DER (minimal lengths), which is what Windows and FreeRDP write.
//!
//! [MS-CSSP 2.2.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-cssp/6aac4dea-08ef-47a6-8747-22ea7f6d8685

use crate::ber::{self, context, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE};
use crate::codec::{invalid, open_enum, too_large};
use crate::{EncodeError, Layer, PResult, Pdu};

/// The first TSRequest version with the CVE-2018-0886 fix (clientNonce, new pubKeyAuth hash).
pub const FIRST_PATCHED_VERSION: u32 = 5;
/// Most negoTokens accepted in one TSRequest.
pub const MAX_NEGO_TOKENS: usize = 8;

open_enum! {
    /// NTSTATUS values a server reports in `errorCode` (selected).
    pub struct NtStatus(u32) {
        STATUS_SUCCESS = 0x0000_0000,
        STATUS_LOGON_FAILURE = 0xC000_006D,
        STATUS_ACCOUNT_RESTRICTION = 0xC000_006E,
        STATUS_INVALID_LOGON_HOURS = 0xC000_006F,
        STATUS_INVALID_WORKSTATION = 0xC000_0070,
        STATUS_PASSWORD_EXPIRED = 0xC000_0071,
        STATUS_ACCOUNT_DISABLED = 0xC000_0072,
        STATUS_WRONG_PASSWORD = 0xC000_006A,
        STATUS_NO_SUCH_USER = 0xC000_0064,
        STATUS_ACCOUNT_LOCKED_OUT = 0xC000_0234,
        STATUS_PASSWORD_MUST_CHANGE = 0xC000_0224,
        STATUS_ACCOUNT_EXPIRED = 0xC000_0193,
        STATUS_LOGON_TYPE_NOT_GRANTED = 0xC000_015B,
        STATUS_TIME_DIFFERENCE_AT_DC = 0xC000_0133,
        STATUS_NO_LOGON_SERVERS = 0xC000_005E,
        STATUS_ACCESS_DENIED = 0xC000_0022,
        STATUS_TRUSTED_DOMAIN_FAILURE = 0xC000_018C,
        STATUS_TRUSTED_RELATIONSHIP_FAILURE = 0xC000_018D,
        STATUS_NETLOGON_NOT_STARTED = 0xC000_0192,
        STATUS_DOMAIN_CONTROLLER_NOT_FOUND = 0xC000_0233,
        STATUS_USER_SESSION_DELETED = 0xC000_0203,
        SEC_E_LOGON_DENIED = 0x8009_030C,
        SEC_E_INVALID_TOKEN = 0x8009_0308,
        SEC_E_UNSUPPORTED_FUNCTION = 0x8009_0302,
        STATUS_NTLM_BLOCKED = 0xC000_0418,
        SEC_E_TARGET_UNKNOWN = 0x8009_0303,
        SEC_E_NO_AUTHENTICATING_AUTHORITY = 0x8009_0311,
        SEC_E_WRONG_PRINCIPAL = 0x8009_0322,
        SEC_E_TIME_SKEW = 0x8009_0324,
    }
}

/// [MS-CSSP 2.2.1] TSRequest.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TsRequest<'a> {
    /// version
    pub version: u32,
    /// negoTokens: each negoToken (SPNEGO or raw NTLM).
    pub nego_tokens: Vec<&'a [u8]>,
    /// authInfo (encrypted TSCredentials)
    pub auth_info: Option<&'a [u8]>,
    /// pubKeyAuth (encrypted public key echo or hash)
    pub pub_key_auth: Option<&'a [u8]>,
    /// errorCode (an NTSTATUS)
    pub error_code: Option<NtStatus>,
    /// clientNonce
    pub client_nonce: Option<&'a [u8]>,
}

impl TsRequest<'_> {
    /// The sender has the CVE-2018-0886 fix (version 5 or later).
    pub fn patched_cve_2018_0886(&self) -> bool {
        self.version >= FIRST_PATCHED_VERSION
    }

    fn nego_data_len(&self) -> usize {
        self.nego_tokens
            .iter()
            .map(|t| {
                let octet = ber::tlv_len(t.len(), 0);
                let ctx0 = ber::tlv_len(octet, 0);
                ber::tlv_len(ctx0, 0)
            })
            .sum()
    }

    fn content_len(&self) -> usize {
        let mut n = ber::tlv_len(ber::uint_len(self.version, 0), 0);
        if !self.nego_tokens.is_empty() {
            n += ber::tlv_len(ber::tlv_len(self.nego_data_len(), 0), 0);
        }
        for o in [self.auth_info, self.pub_key_auth].into_iter().flatten() {
            n += ber::tlv_len(ber::tlv_len(o.len(), 0), 0);
        }
        if let Some(e) = self.error_code {
            n += ber::tlv_len(int_len(e.0), 0);
        }
        if let Some(o) = self.client_nonce {
            n += ber::tlv_len(ber::tlv_len(o.len(), 0), 0);
        }
        n
    }
}

/// errorCode is an NTSTATUS written as a signed 32-bit INTEGER (0xC000006D: `02 04 c0 00 00 6d`).
fn int_len(v: u32) -> usize {
    let s = i32::from_be_bytes(v.to_be_bytes());
    let n = match s {
        -0x80..=0x7F => 1,
        -0x8000..=0x7FFF => 2,
        -0x80_0000..=0x7F_FFFF => 3,
        _ => 4,
    };
    2 + n
}

fn write_int(dst: &mut Vec<u8>, v: u32) {
    let n = int_len(v) - 2;
    dst.extend_from_slice(&[TAG_INTEGER, crate::codec::len_u8(n)]);
    dst.extend_from_slice(v.to_be_bytes().get(4 - n..).unwrap_or_default());
}

/// A signed INTEGER as its 32-bit pattern (sign-extended).
fn parse_int<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, u32> {
    let (rest, (c, _)) = ber::parse_tlv(i, TAG_INTEGER, ctx)?;
    if c.is_empty() || c.len() > 5 || (c.len() == 5 && c.first() != Some(&0)) {
        return invalid(i, ctx, "INTEGER does not fit 32 bits");
    }
    let negative = c.len() < 5 && c.first().is_some_and(|b| b & 0x80 != 0);
    let init = if negative { u32::MAX } else { 0 };
    Ok((
        rest,
        c.iter().fold(init, |acc, b| (acc << 8) | u32::from(*b)),
    ))
}

fn explicit<'a>(i: &'a [u8], n: u8, ctx: &'static str) -> PResult<'a, &'a [u8]> {
    ber::parse_tlv(i, context(n), ctx).map(|(r, (c, _))| (r, c))
}

fn octets<'a>(i: &'a [u8], n: u8, ctx: &'static str) -> PResult<'a, &'a [u8]> {
    let (r, c) = explicit(i, n, ctx)?;
    let (rest, (o, _)) = ber::parse_tlv(c, TAG_OCTET_STRING, ctx)?;
    if !rest.is_empty() {
        return invalid(rest, ctx, "trailing bytes");
    }
    Ok((r, o))
}

fn write_explicit(dst: &mut Vec<u8>, n: u8, inner_len: usize) -> Result<(), EncodeError> {
    dst.push(context(n));
    ber::write_length(dst, inner_len, 0)
}

fn write_octets(dst: &mut Vec<u8>, n: u8, o: &[u8]) -> Result<(), EncodeError> {
    write_explicit(dst, n, ber::tlv_len(o.len(), 0))?;
    ber::write_tlv(dst, TAG_OCTET_STRING, o, 0)
}

impl<'a> Pdu<'a> for TsRequest<'a> {
    const NAME: &'static str = "TSRequest";
    const LAYER: Layer = Layer::CredSsp;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (mut c, _)) = ber::parse_tlv(i, TAG_SEQUENCE, "TSRequest")?;
        let (r, v) = explicit(c, 0, "version")?;
        let (_, (version, _)) = ber::parse_u32(v, "version")?;
        c = r;
        let mut req = TsRequest {
            version,
            ..Default::default()
        };
        if c.first() == Some(&context(1)) {
            let (r, nego) = explicit(c, 1, "negoTokens")?;
            let (_, (mut list, _)) = ber::parse_tlv(nego, TAG_SEQUENCE, "NegoData")?;
            while !list.is_empty() {
                if req.nego_tokens.len() == MAX_NEGO_TOKENS {
                    return too_large(list, "NegoData", MAX_NEGO_TOKENS, MAX_NEGO_TOKENS + 1);
                }
                let (l, (item, _)) = ber::parse_tlv(list, TAG_SEQUENCE, "NegoData item")?;
                let (_, token) = octets(item, 0, "negoToken")?;
                req.nego_tokens.push(token);
                list = l;
            }
            c = r;
        }
        if c.first() == Some(&context(2)) {
            let (r, o) = octets(c, 2, "authInfo")?;
            req.auth_info = Some(o);
            c = r;
        }
        if c.first() == Some(&context(3)) {
            let (r, o) = octets(c, 3, "pubKeyAuth")?;
            req.pub_key_auth = Some(o);
            c = r;
        }
        if c.first() == Some(&context(4)) {
            let (r, e) = explicit(c, 4, "errorCode")?;
            let (_, code) = parse_int(e, "errorCode")?;
            req.error_code = Some(NtStatus(code));
            c = r;
        }
        if c.first() == Some(&context(5)) {
            let (r, o) = octets(c, 5, "clientNonce")?;
            req.client_nonce = Some(o);
            c = r;
        }
        if !c.is_empty() {
            return invalid(c, "TSRequest", "unknown or out-of-order field");
        }
        Ok((rest, req))
    }

    fn encoded_len(&self) -> usize {
        ber::tlv_len(self.content_len(), 0)
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.push(TAG_SEQUENCE);
        ber::write_length(dst, self.content_len(), 0)?;
        write_explicit(dst, 0, ber::uint_len(self.version, 0))?;
        ber::write_uint(dst, TAG_INTEGER, self.version, 0)?;
        if !self.nego_tokens.is_empty() {
            let data = self.nego_data_len();
            write_explicit(dst, 1, ber::tlv_len(data, 0))?;
            dst.push(TAG_SEQUENCE);
            ber::write_length(dst, data, 0)?;
            for t in &self.nego_tokens {
                let octet = ber::tlv_len(t.len(), 0);
                dst.push(TAG_SEQUENCE);
                ber::write_length(dst, ber::tlv_len(octet, 0), 0)?;
                write_octets(dst, 0, t)?;
            }
        }
        if let Some(o) = self.auth_info {
            write_octets(dst, 2, o)?;
        }
        if let Some(o) = self.pub_key_auth {
            write_octets(dst, 3, o)?;
        }
        if let Some(e) = self.error_code {
            write_explicit(dst, 4, int_len(e.0))?;
            write_int(dst, e.0);
        }
        if let Some(o) = self.client_nonce {
            write_octets(dst, 5, o)?;
        }
        Ok(())
    }
}

/// [MS-CSSP 2.2.1.2.1] TSPasswordCreds: the user's domain, name and password (UTF-16LE).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TsPasswordCreds<'a> {
    /// domainName
    pub domain: &'a [u8],
    /// userName
    pub user: &'a [u8],
    /// password
    pub password: &'a [u8],
}

impl core::fmt::Debug for TsPasswordCreds<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the password.
        f.debug_struct("TsPasswordCreds")
            .field("domain", &self.domain.len())
            .field("user", &self.user.len())
            .finish_non_exhaustive()
    }
}

impl TsPasswordCreds<'_> {
    fn content_len(&self) -> usize {
        [self.domain, self.user, self.password]
            .iter()
            .map(|o| ber::tlv_len(ber::tlv_len(o.len(), 0), 0))
            .sum()
    }
}

impl<'a> Pdu<'a> for TsPasswordCreds<'a> {
    const NAME: &'static str = "TSPasswordCreds";
    const LAYER: Layer = Layer::CredSsp;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (c, _)) = ber::parse_tlv(i, TAG_SEQUENCE, "TSPasswordCreds")?;
        let (c, domain) = octets(c, 0, "domainName")?;
        let (c, user) = octets(c, 1, "userName")?;
        let (c, password) = octets(c, 2, "password")?;
        if !c.is_empty() {
            return invalid(c, "TSPasswordCreds", "trailing bytes");
        }
        Ok((
            rest,
            Self {
                domain,
                user,
                password,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        ber::tlv_len(self.content_len(), 0)
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.push(TAG_SEQUENCE);
        ber::write_length(dst, self.content_len(), 0)?;
        write_octets(dst, 0, self.domain)?;
        write_octets(dst, 1, self.user)?;
        write_octets(dst, 2, self.password)
    }
}

/// [MS-CSSP 2.2.1.2] TSCredentials: credType (1: a TSPasswordCreds) and the credentials, DER.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TsCredentials<'a> {
    /// credType
    pub cred_type: u32,
    /// credentials
    pub credentials: &'a [u8],
}

impl core::fmt::Debug for TsCredentials<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TsCredentials")
            .field("cred_type", &self.cred_type)
            .finish_non_exhaustive()
    }
}

impl TsCredentials<'_> {
    fn content_len(&self) -> usize {
        ber::tlv_len(ber::uint_len(self.cred_type, 0), 0)
            + ber::tlv_len(ber::tlv_len(self.credentials.len(), 0), 0)
    }
}

impl<'a> Pdu<'a> for TsCredentials<'a> {
    const NAME: &'static str = "TSCredentials";
    const LAYER: Layer = Layer::CredSsp;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (c, _)) = ber::parse_tlv(i, TAG_SEQUENCE, "TSCredentials")?;
        let (c, t) = explicit(c, 0, "credType")?;
        let (_, (cred_type, _)) = ber::parse_u32(t, "credType")?;
        let (c, credentials) = octets(c, 1, "credentials")?;
        if !c.is_empty() {
            return invalid(c, "TSCredentials", "trailing bytes");
        }
        Ok((
            rest,
            Self {
                cred_type,
                credentials,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        ber::tlv_len(self.content_len(), 0)
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.push(TAG_SEQUENCE);
        ber::write_length(dst, self.content_len(), 0)?;
        write_explicit(dst, 0, ber::uint_len(self.cred_type, 0))?;
        ber::write_uint(dst, TAG_INTEGER, self.cred_type, 0)?;
        write_octets(dst, 1, self.credentials)
    }
}
