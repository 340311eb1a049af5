//! Standard RDP Security on the walk's connection (MS-RDPBCGR 5.3): the session keys and the
//! Security Exchange after a Connect-Response, security headers, fast-path output decrypted to
//! keep the key stream in step.

use super::*;

impl Walk {
    /// Decrypts an encrypted fast-path output PDU (2.2.9.1.2) to keep the key stream in step.
    pub(super) fn fast_path(&mut self, frame: &[u8]) -> Result<(), rdp_security::OpenError> {
        let Some(session) = &mut self.security else {
            return Ok(());
        };
        let Some((&header, rest)) = frame.split_first() else {
            return Ok(());
        };
        if header & 0x3 != rdp_proto::fastpath::ACTION_FASTPATH {
            return Ok(());
        }
        let flags = rdp_proto::fastpath::FastPathFlags::from_bits_retain(header >> 6);
        if !flags.contains(rdp_proto::fastpath::FastPathFlags::ENCRYPTED) {
            return Ok(());
        }
        let Ok((body, _)) = rdp_proto::fastpath::parse_length(rest) else {
            return Ok(());
        };
        // fipsInformation (4 bytes) then dataSignature: the layout `open` reads.
        session
            .open(
                body,
                flags.contains(rdp_proto::fastpath::FastPathFlags::SECURE_CHECKSUM),
            )
            .map(drop)
    }
}

/// `body` behind a basic security header with `flags`.
pub(super) fn with_header(flags: SecurityFlags, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend(flags.bits().to_le_bytes());
    out.extend([0, 0]);
    out.extend_from_slice(body);
    out
}

/// Standard RDP Security on the walk's connection: the client's session keys, and the Security
/// Exchange PDU that gives the server the client random.
#[derive(Debug)]
pub struct Secured {
    pub session: Session,
    pub exchange: Vec<u8>,
    /// The server's key (from the Server Security Data).
    pub server_key: Option<RsaKey>,
}

/// What Standard RDP Security asks of the walk after this Connect-Response (MS-RDPBCGR 5.3.2):
/// nothing on TLS or at encryption level NONE; else the keys made from `client_random` and the
/// server random, and the client random encrypted with the server's key; or why the walk
/// cannot go on.
pub fn standard_security(
    cr: &ConnectResponseFacts,
    client_random: &[u8; 32],
) -> Result<Option<Secured>, String> {
    let Some(sec) = &cr.security else {
        return Ok(None);
    };
    if sec.method.is_empty() || sec.level.0 == 0 {
        return Ok(None);
    }
    let server_random = sec
        .server_random
        .ok_or("the Server Security Data has no 32-byte server random")?;
    let key = sec
        .public_key
        .as_ref()
        .ok_or("the server certificate has no usable RSA key")?;
    let session = Session::new(Role::Client, sec.method, client_random, &server_random)
        .ok_or_else(|| {
            format!(
                "encryption method {:#x} is not one of 40, 56, 128-bit or FIPS",
                sec.method.bits()
            )
        })?;
    let encrypted = rdp_security::rsa_encrypt(key, client_random)
        .ok_or("the server's RSA key is unusable (under 256 or over 8,192 bits)")?;
    Ok(Some(Secured {
        session,
        exchange: rdp_security::security_exchange(&encrypted),
        server_key: Some(key.clone()),
    }))
}
