//! Kerberos V5 (RFC 4120) as a client speaks it to reach an RDP server: the KDC exchanges
//! (AS-REQ/AS-REP with encrypted-timestamp pre-authentication, TGS-REQ/TGS-REP for
//! `TERMSRV/host`), KRB-ERROR with its METHOD-DATA and ETYPE-INFO2, and the AP-REQ/AP-REP of
//! the GSS-API mechanism (RFC 4121) inside SPNEGO (RFC 4178), as MS-CSSP carries them.
//!
//! Encoders write DER from the few fields a client sets; readers take a SEQUENCE's
//! context-tagged fields into slots by number (no recursion; every length checked by
//! [`crate::ber`]) and read what rdprobe needs. Nothing here encrypts: the encrypted parts go
//! in and out as [`EncryptedData`], opened by the caller's crypto.

use crate::ber::{self, context};
use crate::codec::invalid;
use crate::{DecodeError, Layer, PResult};

/// Encryption types (RFC 3961 8, RFC 3962, RFC 4757, RFC 8009): an open set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EType(pub i32);

impl EType {
    pub const DES_CBC_MD5: Self = Self(3);
    pub const AES128_CTS_HMAC_SHA1_96: Self = Self(17);
    pub const AES256_CTS_HMAC_SHA1_96: Self = Self(18);
    pub const AES128_CTS_HMAC_SHA256_128: Self = Self(19);
    pub const AES256_CTS_HMAC_SHA384_192: Self = Self(20);
    pub const RC4_HMAC: Self = Self(23);

    pub fn name(self) -> &'static str {
        match self {
            Self::DES_CBC_MD5 => "des-cbc-md5",
            Self::AES128_CTS_HMAC_SHA1_96 => "aes128-cts-hmac-sha1-96",
            Self::AES256_CTS_HMAC_SHA1_96 => "aes256-cts-hmac-sha1-96",
            Self::AES128_CTS_HMAC_SHA256_128 => "aes128-cts-hmac-sha256-128",
            Self::AES256_CTS_HMAC_SHA384_192 => "aes256-cts-hmac-sha384-192",
            Self::RC4_HMAC => "rc4-hmac",
            _ => "unknown",
        }
    }
}

/// PA-DATA types (RFC 4120 7.5.2, MS-KILE 2.2): an open set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PaType(pub i32);

impl PaType {
    pub const TGS_REQ: Self = Self(1);
    pub const ENC_TIMESTAMP: Self = Self(2);
    pub const ETYPE_INFO2: Self = Self(19);
    pub const PAC_REQUEST: Self = Self(128);
}

/// Principal name types (RFC 4120 6.2).
pub const NT_PRINCIPAL: i32 = 1;
pub const NT_SRV_INST: i32 = 2;

/// KDCOptions forwardable, renewable, canonicalize, renewable-ok (RFC 4120 5.4.1, bits from
/// the most significant).
pub const KDC_OPTIONS: u32 = 0x4081_0010;
/// APOptions mutual-required (RFC 4120 5.5.1).
pub const AP_MUTUAL_REQUIRED: u32 = 0x2000_0000;

/// OID 1.2.840.113554.1.2.2, the Kerberos V5 GSS-API mechanism (RFC 1964), DER content.
pub const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// OID 1.2.840.48018.1.2.2, Microsoft's Kerberos OID (MS-KILE 3.1.5.11).
pub const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// OID 1.3.6.1.5.5.2, SPNEGO (RFC 4178).
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// OID 1.3.6.1.4.1.311.2.2.10, NTLMSSP.
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// GSS-API Kerberos token identifiers (RFC 4121 4.1).
pub const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
pub const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
pub const TOK_ERROR: [u8; 2] = [0x03, 0x00];

const TAG_GENERAL_STRING: u8 = 0x1B;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;

/// APPLICATION tags of the messages (RFC 4120 5.10).
pub mod app {
    pub const TICKET: u8 = 0x61;
    pub const AUTHENTICATOR: u8 = 0x62;
    pub const AS_REQ: u8 = 0x6A;
    pub const AS_REP: u8 = 0x6B;
    pub const TGS_REQ: u8 = 0x6C;
    pub const TGS_REP: u8 = 0x6D;
    pub const AP_REQ: u8 = 0x6E;
    pub const AP_REP: u8 = 0x6F;
    pub const ENC_AS_REP_PART: u8 = 0x79;
    pub const ENC_TGS_REP_PART: u8 = 0x7A;
    pub const ENC_AP_REP_PART: u8 = 0x7B;
    pub const KRB_ERROR: u8 = 0x7E;
}

// ---------------------------------------------------------------------------------------------
// DER writing

/// One TLV with a minimal length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 6);
    v.push(tag);
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let be = (n as u32).to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        v.push(0x80 | (4 - skip) as u8);
        v.extend(be.iter().skip(skip));
    }
    v.extend_from_slice(content);
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// `[n] EXPLICIT` around one encoded value.
fn ctx(n: u8, inner: Vec<u8>) -> Vec<u8> {
    tlv(context(n), &inner)
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(ber::TAG_SEQUENCE, &cat(parts))
}

/// An INTEGER (DER, two's complement, minimal).
pub fn int(v: i64) -> Vec<u8> {
    let be = v.to_be_bytes();
    // Leading octets that only repeat the sign of the next one go.
    let start = be
        .windows(2)
        .take_while(|w| {
            matches!(w, [0, n] if n & 0x80 == 0) || matches!(w, [0xFF, n] if n & 0x80 != 0)
        })
        .count();
    let content: Vec<u8> = be.iter().skip(start).copied().collect();
    tlv(ber::TAG_INTEGER, &content)
}

fn octets(v: &[u8]) -> Vec<u8> {
    tlv(ber::TAG_OCTET_STRING, v)
}

fn general_string(s: &str) -> Vec<u8> {
    tlv(TAG_GENERAL_STRING, s.as_bytes())
}

fn bit_string32(bits: u32) -> Vec<u8> {
    let mut c = vec![0u8];
    c.extend_from_slice(&bits.to_be_bytes());
    tlv(TAG_BIT_STRING, &c)
}

/// A KerberosTime (GeneralizedTime `YYYYMMDDHHMMSSZ`) for Unix seconds.
pub fn kerberos_time(unix: u64) -> Vec<u8> {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    let s = format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    tlv(TAG_GENERALIZED_TIME, s.as_bytes())
}

/// A PrincipalName (RFC 4120 5.2.2): `name/instance` split at '/'.
pub fn principal_name(name_type: i32, name: &str) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = name.split('/').map(general_string).collect();
    seq(&[ctx(0, int(name_type.into())), ctx(1, seq(&parts))])
}

/// An EncryptedData (RFC 4120 5.2.9).
pub fn encrypted_data(etype: EType, kvno: Option<u32>, cipher: &[u8]) -> Vec<u8> {
    let mut parts = vec![ctx(0, int(etype.0.into()))];
    if let Some(k) = kvno {
        parts.push(ctx(1, int(k.into())));
    }
    parts.push(ctx(2, octets(cipher)));
    seq(&parts)
}

/// An EncryptionKey (RFC 4120 5.2.9).
pub fn encryption_key(etype: EType, key: &[u8]) -> Vec<u8> {
    seq(&[ctx(0, int(etype.0.into())), ctx(1, octets(key))])
}

/// One PA-DATA.
pub fn pa_data(t: PaType, value: &[u8]) -> Vec<u8> {
    seq(&[ctx(1, int(t.0.into())), ctx(2, octets(value))])
}

/// PA-ENC-TS-ENC (RFC 4120 5.2.7.2): the timestamp encrypted for pre-authentication.
pub fn pa_enc_ts_enc(unix: u64, usec: u32) -> Vec<u8> {
    seq(&[ctx(0, kerberos_time(unix)), ctx(1, int(usec.into()))])
}

/// PA-PAC-REQUEST (MS-KILE 2.2.3): include-pac TRUE, as Windows clients ask.
pub fn pa_pac_request() -> Vec<u8> {
    seq(&[ctx(0, tlv(ber::TAG_BOOLEAN, &[0xFF]))])
}

/// What a KDC-REQ-BODY (RFC 4120 5.4.1) carries from a client like mstsc.
#[derive(Clone, Debug)]
pub struct ReqBody<'a> {
    /// The client's name (AS-REQ only).
    pub cname: Option<&'a str>,
    pub realm: &'a str,
    /// `krbtgt/REALM` or `TERMSRV/host`.
    pub sname: &'a str,
    /// Unix seconds.
    pub till: u64,
    pub nonce: u32,
    pub etypes: &'a [EType],
}

/// A KDC-REQ-BODY.
pub fn req_body(b: &ReqBody<'_>) -> Vec<u8> {
    let mut parts = vec![ctx(0, bit_string32(KDC_OPTIONS))];
    if let Some(c) = b.cname {
        parts.push(ctx(1, principal_name(NT_PRINCIPAL, c)));
    }
    parts.push(ctx(2, general_string(b.realm)));
    parts.push(ctx(3, principal_name(NT_SRV_INST, b.sname)));
    parts.push(ctx(5, kerberos_time(b.till)));
    parts.push(ctx(7, int(b.nonce.into())));
    let etypes: Vec<Vec<u8>> = b.etypes.iter().map(|e| int(e.0.into())).collect();
    parts.push(ctx(8, seq(&etypes)));
    seq(&parts)
}

/// A KDC-REQ (AS-REQ when `tag` is [`app::AS_REQ`], TGS-REQ for [`app::TGS_REQ`]) with its
/// PA-DATA and an encoded [`req_body`].
pub fn kdc_req(tag: u8, padata: &[Vec<u8>], body: &[u8]) -> Vec<u8> {
    let msg_type = if tag == app::TGS_REQ { 12 } else { 10 };
    let mut parts = vec![ctx(1, int(5)), ctx(2, int(msg_type))];
    if !padata.is_empty() {
        parts.push(ctx(3, seq(padata)));
    }
    parts.push(tlv(context(4), body));
    tlv(tag, &seq(&parts))
}

/// What an Authenticator (RFC 4120 5.5.1) carries.
#[derive(Clone, Debug)]
pub struct AuthenticatorFields<'a> {
    pub crealm: &'a str,
    pub cname: &'a str,
    /// (cksumtype, checksum).
    pub cksum: Option<(i32, &'a [u8])>,
    pub cusec: u32,
    pub ctime: u64,
    pub subkey: Option<(EType, &'a [u8])>,
    pub seq_number: Option<u32>,
}

/// An Authenticator, before encryption.
pub fn authenticator(a: &AuthenticatorFields<'_>) -> Vec<u8> {
    let mut parts = vec![
        ctx(0, int(5)),
        ctx(1, general_string(a.crealm)),
        ctx(2, principal_name(NT_PRINCIPAL, a.cname)),
    ];
    if let Some((t, c)) = a.cksum {
        parts.push(ctx(3, seq(&[ctx(0, int(t.into())), ctx(1, octets(c))])));
    }
    parts.push(ctx(4, int(a.cusec.into())));
    parts.push(ctx(5, kerberos_time(a.ctime)));
    if let Some((e, k)) = a.subkey {
        parts.push(ctx(6, encryption_key(e, k)));
    }
    if let Some(s) = a.seq_number {
        parts.push(ctx(7, int(s.into())));
    }
    tlv(app::AUTHENTICATOR, &seq(&parts))
}

/// An AP-REQ (RFC 4120 5.5.1): the ticket's DER as the KDC sent it and the encrypted
/// Authenticator (an [`encrypted_data`]).
pub fn ap_req(ap_options: u32, ticket: &[u8], authenticator: &[u8]) -> Vec<u8> {
    tlv(
        app::AP_REQ,
        &seq(&[
            ctx(0, int(5)),
            ctx(1, int(14)),
            ctx(2, bit_string32(ap_options)),
            tlv(context(3), ticket),
            tlv(context(4), authenticator),
        ]),
    )
}

/// The GSS-API checksum of an AP-REQ (RFC 4121 4.1.1): no channel bindings, `flags`.
pub fn gss_checksum(flags: u32) -> [u8; 24] {
    let mut c = [0u8; 24];
    c[..4].copy_from_slice(&16u32.to_le_bytes());
    c[20..].copy_from_slice(&flags.to_le_bytes());
    c
}
/// The GSS checksum type (RFC 4121 4.1.1).
pub const CKSUM_GSS: i32 = 0x8003;
/// GSS_C_MUTUAL_FLAG | REPLAY | SEQUENCE | CONF | INTEG (RFC 2744).
pub const GSS_FLAGS: u32 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;

/// An InitialContextToken (RFC 2743 3.1) for the Kerberos mechanism: OID, token id, message.
pub fn gss_token(tok_id: [u8; 2], message: &[u8]) -> Vec<u8> {
    let mut c = tlv(TAG_OID, OID_KRB5);
    c.extend_from_slice(&tok_id);
    c.extend_from_slice(message);
    tlv(0x60, &c)
}

/// SPNEGO's NegTokenInit (RFC 4178 4.2.1) in its InitialContextToken: the mechanisms offered
/// (OID contents) and the optimistic token of the first.
pub fn spnego_init(mechs: &[&[u8]], mech_token: &[u8]) -> Vec<u8> {
    let list: Vec<Vec<u8>> = mechs.iter().map(|m| tlv(TAG_OID, m)).collect();
    let init = tlv(
        context(0),
        &seq(&[ctx(0, seq(&list)), ctx(2, octets(mech_token))]),
    );
    let mut c = tlv(TAG_OID, OID_SPNEGO);
    c.extend_from_slice(&init);
    tlv(0x60, &c)
}

/// The DER of the mechanism list (what a mechListMIC signs).
pub fn mech_type_list(mechs: &[&[u8]]) -> Vec<u8> {
    let list: Vec<Vec<u8>> = mechs.iter().map(|m| tlv(TAG_OID, m)).collect();
    seq(&list)
}

/// A NegTokenResp (RFC 4178 4.2.2) carrying only a mechListMIC.
pub fn spnego_resp_mic(mic: &[u8]) -> Vec<u8> {
    tlv(context(1), &seq(&[ctx(3, octets(mic))]))
}

// ---------------------------------------------------------------------------------------------
// DER reading

/// The context-tagged fields of a SEQUENCE by number ([0]..[15]); each slot holds the
/// explicit tag's content (the inner TLV).
type Slots<'a> = [Option<&'a [u8]>; 16];

fn slots<'a>(seq_content: &'a [u8], ctx_: &'static str) -> PResult<'a, Slots<'a>> {
    let mut out: Slots<'a> = [None; 16];
    let mut i = seq_content;
    while let Some(&tag) = i.first() {
        let n = tag.wrapping_sub(0xA0);
        if tag & 0xE0 != 0xA0 || n > 15 {
            return invalid(i, ctx_, "a field is not context-tagged [0]..[15]");
        }
        let (rest, (content, _)) = ber::parse_tlv(i, tag, ctx_)?;
        if let Some(slot) = out.get_mut(usize::from(n)) {
            *slot = Some(content);
        }
        i = rest;
    }
    Ok((i, out))
}

/// `tag` { SEQUENCE { fields } } (an APPLICATION-tagged message) or a bare SEQUENCE when `tag`
/// is [`ber::TAG_SEQUENCE`].
fn message<'a>(i: &'a [u8], tag: u8, c: &'static str) -> PResult<'a, Slots<'a>> {
    let (rest, (content, _)) = ber::parse_tlv(i, tag, c)?;
    let content = if tag == ber::TAG_SEQUENCE {
        content
    } else {
        let (_, (inner, _)) = ber::parse_tlv(content, ber::TAG_SEQUENCE, c)?;
        inner
    };
    let (_, s) = slots(content, c)?;
    Ok((rest, s))
}

fn need<'a>(s: &Slots<'a>, n: usize, i: &'a [u8], c: &'static str) -> PResult<'a, &'a [u8]> {
    match s.get(n).copied().flatten() {
        Some(v) => Ok((i, v)),
        None => invalid(i, c, "a required field is missing"),
    }
}

/// An INTEGER (up to 64 bits, signed).
fn read_int<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, i64> {
    let (rest, (content, _)) = ber::parse_tlv(v, ber::TAG_INTEGER, c)?;
    let neg = match content.first() {
        Some(b) if content.len() <= 8 => b & 0x80 != 0,
        _ => return invalid(v, c, "INTEGER length"),
    };
    let mut x: i64 = if neg { -1 } else { 0 };
    for b in content {
        x = (x << 8) | i64::from(*b);
    }
    Ok((rest, x))
}

fn read_i32<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, i32> {
    let (rest, x) = read_int(v, c)?;
    match i32::try_from(x).or_else(|_| u32::try_from(x).map(|u| u as i32)) {
        Ok(x) => Ok((rest, x)),
        Err(_) => invalid(v, c, "INTEGER out of 32 bits"),
    }
}

fn read_octets<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, &'a [u8]> {
    let (rest, (content, _)) = ber::parse_tlv(v, ber::TAG_OCTET_STRING, c)?;
    Ok((rest, content))
}

fn read_string<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, String> {
    let (rest, (content, _)) = ber::parse_tlv(v, TAG_GENERAL_STRING, c)?;
    Ok((rest, String::from_utf8_lossy(content).into_owned()))
}

/// A KerberosTime as Unix seconds.
fn read_time<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, u64> {
    let (rest, (content, _)) = ber::parse_tlv(v, TAG_GENERALIZED_TIME, c)?;
    match parse_generalized_time(content) {
        Some(t) => Ok((rest, t)),
        None => invalid(v, c, "not a KerberosTime YYYYMMDDHHMMSSZ"),
    }
}

fn parse_generalized_time(s: &[u8]) -> Option<u64> {
    let (digits, [b'Z']) = s.split_at_checked(14)? else {
        return None;
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize, b: usize| {
        digits
            .get(a..b)
            .unwrap_or_default()
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
    };
    let (y, mo, d) = (n(0, 4), n(4, 6), n(6, 8));
    let (h, mi, se) = (n(8, 10), n(10, 12), n(12, 14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A PrincipalName as `a/b`.
fn read_principal<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, String> {
    let (rest, s) = message(v, ber::TAG_SEQUENCE, c)?;
    let (_, names) = need(&s, 1, v, c)?;
    let (_, (mut list, _)) = ber::parse_tlv(names, ber::TAG_SEQUENCE, c)?;
    let mut out = String::new();
    let mut count = 0;
    while !list.is_empty() {
        let (r, part) = read_string(list, c)?;
        count += 1;
        if count > 8 {
            return invalid(v, c, "more than 8 name components");
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&part);
        list = r;
    }
    Ok((rest, out))
}

/// An EncryptedData.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedData<'a> {
    pub etype: EType,
    pub kvno: Option<u32>,
    pub cipher: &'a [u8],
}

fn read_encrypted<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, EncryptedData<'a>> {
    let (rest, s) = message(v, ber::TAG_SEQUENCE, c)?;
    let (_, e) = need(&s, 0, v, c)?;
    let (_, etype) = read_i32(e, c)?;
    let kvno = match s[1] {
        Some(k) => Some(read_i32(k, c)?.1 as u32),
        None => None,
    };
    let (_, cipher) = need(&s, 2, v, c)?;
    let (_, cipher) = read_octets(cipher, c)?;
    Ok((
        rest,
        EncryptedData {
            etype: EType(etype),
            kvno,
            cipher,
        },
    ))
}

/// An EncryptionKey.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey<'a> {
    pub etype: EType,
    pub value: &'a [u8],
}

impl core::fmt::Debug for EncryptionKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("etype", &self.etype)
            .finish_non_exhaustive()
    }
}

fn read_key<'a>(v: &'a [u8], c: &'static str) -> PResult<'a, EncryptionKey<'a>> {
    let (rest, s) = message(v, ber::TAG_SEQUENCE, c)?;
    let (_, e) = need(&s, 0, v, c)?;
    let (_, etype) = read_i32(e, c)?;
    let (_, k) = need(&s, 1, v, c)?;
    let (_, value) = read_octets(k, c)?;
    Ok((
        rest,
        EncryptionKey {
            etype: EType(etype),
            value,
        },
    ))
}

fn finish<T>(bytes: &[u8], r: PResult<'_, T>) -> Result<T, DecodeError> {
    match r {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            Err(e.into_decode_error(Layer::Kerberos, bytes))
        }
        Err(nom::Err::Incomplete(_)) => Err(DecodeError {
            layer: Layer::Kerberos,
            context: "Kerberos",
            offset: bytes.len(),
            kind: crate::DecodeErrorKind::NotEnoughBytes {
                needed: bytes.len() + 1,
                available: bytes.len(),
            },
        }),
    }
}

/// A KDC-REP (AS-REP or TGS-REP, RFC 4120 5.4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdcRep<'a> {
    /// True for a TGS-REP.
    pub tgs: bool,
    pub crealm: String,
    pub cname: String,
    /// The Ticket's whole DER, to put in an AP-REQ as it came.
    pub ticket: &'a [u8],
    /// The ticket's own encryption type (the service's key), and its kvno.
    pub ticket_etype: EType,
    pub enc_part: EncryptedData<'a>,
}

impl<'a> KdcRep<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        finish(bytes, Self::parse(bytes))
    }

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        const C: &str = "KDC-REP";
        let tgs = i.first() == Some(&app::TGS_REP);
        let tag = if tgs { app::TGS_REP } else { app::AS_REP };
        let (rest, s) = message(i, tag, C)?;
        let (_, v) = need(&s, 3, i, C)?;
        let (_, crealm) = read_string(v, C)?;
        let (_, v) = need(&s, 4, i, C)?;
        let (_, cname) = read_principal(v, C)?;
        let (_, ticket) = need(&s, 5, i, C)?;
        let (_, t) = message(ticket, app::TICKET, "Ticket")?;
        let (_, te) = need(&t, 3, ticket, "Ticket")?;
        let (_, te) = read_encrypted(te, "Ticket")?;
        let (_, v) = need(&s, 6, i, C)?;
        let (_, enc_part) = read_encrypted(v, C)?;
        Ok((
            rest,
            Self {
                tgs,
                crealm,
                cname,
                ticket,
                ticket_etype: te.etype,
                enc_part,
            },
        ))
    }
}

/// The decrypted EncKDCRepPart (RFC 4120 5.4.2) fields a client uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncKdcRepPart<'a> {
    pub key: EncryptionKey<'a>,
    pub nonce: u32,
    /// Unix seconds.
    pub authtime: u64,
    pub endtime: u64,
    pub srealm: String,
    pub sname: String,
}

impl<'a> EncKdcRepPart<'a> {
    /// Reads an EncASRepPart or EncTGSRepPart (KDCs use either tag for either reply).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        finish(bytes, Self::parse(bytes))
    }

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        const C: &str = "EncKDCRepPart";
        let tag = match i.first() {
            Some(&app::ENC_TGS_REP_PART) => app::ENC_TGS_REP_PART,
            _ => app::ENC_AS_REP_PART,
        };
        let (rest, s) = message(i, tag, C)?;
        let (_, v) = need(&s, 0, i, C)?;
        let (_, key) = read_key(v, C)?;
        let (_, v) = need(&s, 2, i, C)?;
        let (_, nonce) = read_i32(v, C)?;
        let (_, v) = need(&s, 5, i, C)?;
        let (_, authtime) = read_time(v, C)?;
        let (_, v) = need(&s, 7, i, C)?;
        let (_, endtime) = read_time(v, C)?;
        let (_, v) = need(&s, 9, i, C)?;
        let (_, srealm) = read_string(v, C)?;
        let (_, v) = need(&s, 10, i, C)?;
        let (_, sname) = read_principal(v, C)?;
        Ok((
            rest,
            Self {
                key,
                nonce: nonce as u32,
                authtime,
                endtime,
                srealm,
                sname,
            },
        ))
    }
}

/// A KRB-ERROR (RFC 4120 5.9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KrbError<'a> {
    pub error_code: i32,
    /// The KDC's clock (Unix seconds) and microseconds.
    pub stime: u64,
    pub susec: u32,
    pub crealm: Option<String>,
    pub cname: Option<String>,
    pub realm: String,
    pub sname: String,
    pub e_text: Option<String>,
    pub e_data: Option<&'a [u8]>,
}

impl<'a> KrbError<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        finish(bytes, Self::parse(bytes))
    }

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        const C: &str = "KRB-ERROR";
        let (rest, s) = message(i, app::KRB_ERROR, C)?;
        let (_, v) = need(&s, 4, i, C)?;
        let (_, stime) = read_time(v, C)?;
        let (_, v) = need(&s, 5, i, C)?;
        let (_, susec) = read_i32(v, C)?;
        let (_, v) = need(&s, 6, i, C)?;
        let (_, error_code) = read_i32(v, C)?;
        let crealm = match s[7] {
            Some(v) => Some(read_string(v, C)?.1),
            None => None,
        };
        let cname = match s[8] {
            Some(v) => Some(read_principal(v, C)?.1),
            None => None,
        };
        let (_, v) = need(&s, 9, i, C)?;
        let (_, realm) = read_string(v, C)?;
        let (_, v) = need(&s, 10, i, C)?;
        let (_, sname) = read_principal(v, C)?;
        let e_text = match s[11] {
            Some(v) => Some(read_string(v, C)?.1),
            None => None,
        };
        let e_data = match s[12] {
            Some(v) => Some(read_octets(v, C)?.1),
            None => None,
        };
        Ok((
            rest,
            Self {
                error_code,
                stime,
                susec: susec as u32,
                crealm,
                cname,
                realm,
                sname,
                e_text,
                e_data,
            },
        ))
    }

    /// The ETYPE-INFO2 entries of the METHOD-DATA in e-data (what PREAUTH_REQUIRED sends: the
    /// etypes and salts the KDC has for the user); empty when there are none.
    pub fn etype_info2(&self) -> Vec<EtypeInfo2Entry> {
        let Some(e) = self.e_data else {
            return Vec::new();
        };
        finish(e, method_data_etype_info2(e)).unwrap_or_default()
    }
}

/// One ETYPE-INFO2-ENTRY (RFC 4120 5.2.7.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtypeInfo2Entry {
    pub etype: EType,
    pub salt: Option<String>,
    pub s2kparams: Option<Vec<u8>>,
}

fn method_data_etype_info2(i: &[u8]) -> PResult<'_, Vec<EtypeInfo2Entry>> {
    const C: &str = "METHOD-DATA";
    let (rest, (mut list, _)) = ber::parse_tlv(i, ber::TAG_SEQUENCE, C)?;
    let mut out = Vec::new();
    let mut n = 0;
    while !list.is_empty() {
        n += 1;
        if n > 32 {
            return invalid(i, C, "more than 32 PA-DATA");
        }
        let (r, s) = message(list, ber::TAG_SEQUENCE, C)?;
        list = r;
        let (_, t) = need(&s, 1, i, C)?;
        let (_, t) = read_i32(t, C)?;
        if PaType(t) != PaType::ETYPE_INFO2 {
            continue;
        }
        let (_, v) = need(&s, 2, i, C)?;
        let (_, v) = read_octets(v, C)?;
        let (_, (mut entries, _)) = ber::parse_tlv(v, ber::TAG_SEQUENCE, C)?;
        while !entries.is_empty() && out.len() < 16 {
            let (r, e) = message(entries, ber::TAG_SEQUENCE, "ETYPE-INFO2-ENTRY")?;
            entries = r;
            let (_, et) = need(&e, 0, v, C)?;
            let (_, et) = read_i32(et, C)?;
            let salt = match e[1] {
                Some(s) => Some(read_string(s, C)?.1),
                None => None,
            };
            let s2kparams = match e[2] {
                Some(p) => Some(read_octets(p, C)?.1.to_vec()),
                None => None,
            };
            out.push(EtypeInfo2Entry {
                etype: EType(et),
                salt,
                s2kparams,
            });
        }
    }
    Ok((rest, out))
}

/// An AP-REP (RFC 4120 5.5.2): its encrypted part.
pub fn decode_ap_rep(bytes: &[u8]) -> Result<EncryptedData<'_>, DecodeError> {
    let r = (|| {
        const C: &str = "AP-REP";
        let (rest, s) = message(bytes, app::AP_REP, C)?;
        let (_, v) = need(&s, 2, bytes, C)?;
        let (_, e) = read_encrypted(v, C)?;
        Ok((rest, e))
    })();
    finish(bytes, r)
}

/// The decrypted EncAPRepPart (RFC 4120 5.5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncApRepPart<'a> {
    pub ctime: u64,
    pub cusec: u32,
    pub subkey: Option<EncryptionKey<'a>>,
    pub seq_number: Option<u32>,
}

impl<'a> EncApRepPart<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        finish(bytes, Self::parse(bytes))
    }

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        const C: &str = "EncAPRepPart";
        let (rest, s) = message(i, app::ENC_AP_REP_PART, C)?;
        let (_, v) = need(&s, 0, i, C)?;
        let (_, ctime) = read_time(v, C)?;
        let (_, v) = need(&s, 1, i, C)?;
        let (_, cusec) = read_i32(v, C)?;
        let subkey = match s[2] {
            Some(v) => Some(read_key(v, C)?.1),
            None => None,
        };
        let seq_number = match s[3] {
            Some(v) => Some(read_i32(v, C)?.1 as u32),
            None => None,
        };
        Ok((
            rest,
            Self {
                ctime,
                cusec: cusec as u32,
                subkey,
                seq_number,
            },
        ))
    }
}

/// The inside of a GSS-API InitialContextToken (RFC 2743 3.1): the mechanism OID and the rest.
pub fn decode_gss_token(bytes: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let r = (|| {
        const C: &str = "InitialContextToken";
        let (rest, (content, _)) = ber::parse_tlv(bytes, 0x60, C)?;
        let (inner, (oid, _)) = ber::parse_tlv(content, TAG_OID, C)?;
        Ok((rest, (oid, inner)))
    })();
    finish(bytes, r)
}

/// SPNEGO's negState (RFC 4178 4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegState(pub u32);

impl NegState {
    pub const ACCEPT_COMPLETED: Self = Self(0);
    pub const ACCEPT_INCOMPLETE: Self = Self(1);
    pub const REJECT: Self = Self(2);
    pub const REQUEST_MIC: Self = Self(3);
}

/// A NegTokenResp (RFC 4178 4.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenResp<'a> {
    pub neg_state: Option<NegState>,
    /// The OID content of the mechanism the acceptor chose.
    pub supported_mech: Option<&'a [u8]>,
    pub response_token: Option<&'a [u8]>,
    pub mech_list_mic: Option<&'a [u8]>,
}

impl<'a> NegTokenResp<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        finish(bytes, Self::parse(bytes))
    }

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        const C: &str = "NegTokenResp";
        let (rest, (content, _)) = ber::parse_tlv(i, context(1), C)?;
        let (_, s) = message(content, ber::TAG_SEQUENCE, C)?;
        let neg_state = match s[0] {
            Some(v) => Some(NegState(ber::parse_enumerated(v, C)?.1 .0)),
            None => None,
        };
        let supported_mech = match s[1] {
            Some(v) => Some(ber::parse_tlv(v, TAG_OID, C)?.1 .0),
            None => None,
        };
        let response_token = match s[2] {
            Some(v) => Some(read_octets(v, C)?.1),
            None => None,
        };
        let mech_list_mic = match s[3] {
            Some(v) => Some(read_octets(v, C)?.1),
            None => None,
        };
        Ok((
            rest,
            Self {
                neg_state,
                supported_mech,
                response_token,
                mech_list_mic,
            },
        ))
    }
}

/// A KDC message over TCP (RFC 4120 7.2.2): the 4-byte big-endian length, then the message.
pub fn tcp_frame(message: &[u8]) -> Vec<u8> {
    let mut v = (message.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(message);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_twos_complement() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(127), [2, 1, 0x7f]);
        assert_eq!(int(128), [2, 2, 0, 0x80]);
        assert_eq!(int(-128), [2, 1, 0x80]);
        assert_eq!(int(0x8003), [2, 3, 0, 0x80, 0x03]);
        for v in [
            0i64,
            1,
            -1,
            255,
            256,
            -129,
            i32::MAX.into(),
            i32::MIN.into(),
        ] {
            let e = int(v);
            assert_eq!(read_int(&e, "t").unwrap().1, v);
        }
    }

    #[test]
    fn times_round_trip() {
        // 2026-12-07 11:14:05 UTC.
        let t = 1_796_642_045;
        let e = kerberos_time(t);
        assert_eq!(&e[2..], b"20261207111405Z");
        assert_eq!(read_time(&e, "t").unwrap().1, t);
        assert_eq!(parse_generalized_time(b"19700101000000Z"), Some(0));
        assert_eq!(parse_generalized_time(b"20001301000000Z"), None);
    }

    #[test]
    fn lengths_use_long_form_past_127() {
        let big = tlv(0x04, &[0u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(read_octets(&big, "t").unwrap().1.len(), 300);
    }

    fn mit(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../fixtures/pdu/peers/kerberos/{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// MIT krb5kdc's own answers (fixtures/pdu/peers/kerberos).
    #[test]
    fn reads_a_real_kdc() {
        let e = mit("mit_preauth_required");
        let e = KrbError::decode(&e).unwrap();
        assert_eq!(e.error_code, 25);
        assert_eq!(e.cname.as_deref(), Some("alice"));
        assert_eq!(e.sname, "krbtgt/CORP.TEST");
        let info = e.etype_info2();
        assert_eq!(info[0].etype, EType::AES256_CTS_HMAC_SHA1_96, "{info:?}");
        assert_eq!(info[0].salt.as_deref(), Some("CORP.TESTalice"));
        for (name, code) in [
            ("mit_preauth_failed", 24),
            ("mit_s_principal_unknown", 7),
            ("mit_skew", 37),
        ] {
            assert_eq!(
                KrbError::decode(&mit(name)).unwrap().error_code,
                code,
                "{name}"
            );
        }
        let bytes = mit("mit_as_rep");
        let rep = KdcRep::decode(&bytes).unwrap();
        assert!(!rep.tgs);
        assert_eq!(
            (rep.crealm.as_str(), rep.cname.as_str()),
            ("CORP.TEST", "alice")
        );
        assert_eq!(rep.ticket.first(), Some(&app::TICKET));
        let bytes = mit("mit_tgs_rep");
        let rep = KdcRep::decode(&bytes).unwrap();
        assert!(rep.tgs);
        assert_eq!(rep.ticket_etype, EType::AES256_CTS_HMAC_SHA1_96);
        // The AS-REQ is no KDC-REP.
        assert!(KdcRep::decode(&mit("mit_as_req_preauth")).is_err());
    }

    #[test]
    fn hostile_input_is_an_error() {
        for bad in [
            &b""[..],
            b"\x7e",
            b"\x7e\x84\xff\xff\xff\xff",
            b"\x6b\x03\x30\x01\xa0",
        ] {
            assert!(KrbError::decode(bad).is_err());
            assert!(KdcRep::decode(bad).is_err());
            assert!(EncKdcRepPart::decode(bad).is_err());
            assert!(NegTokenResp::decode(bad).is_err());
            assert!(decode_ap_rep(bad).is_err());
        }
    }
}
