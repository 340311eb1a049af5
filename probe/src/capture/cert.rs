//! X.509 certificate facts for reports and findings.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::diagnose::{finding, Finding, FindingId};
use crate::dissect::oid_name;
use crate::report::capture::Certificate;
use crate::time::rfc3339;

/// Facts of a DER certificate, judged against `now` (Unix seconds). None if it does not parse.
pub fn facts(der: &[u8], now: i64) -> Option<Certificate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let v = cert.validity();
    let key = cert.public_key();
    let sans = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .map(|g| g.to_string())
            .collect(),
        _ => Vec::new(),
    };
    Some(Certificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        serial: cert.raw_serial_as_string().replace(':', ""),
        not_before: rfc3339(v.not_before.timestamp()),
        not_after: rfc3339(v.not_after.timestamp()),
        expired: v.not_after.timestamp() < now,
        not_yet_valid: v.not_before.timestamp() > now,
        self_signed: cert.subject() == cert.issuer(),
        key_type: oid_name(&key.algorithm.algorithm.to_id_string()),
        key_bits: key.parsed().map(|k| k.key_size() as u32).unwrap_or(0),
        signature: oid_name(&cert.signature_algorithm.algorithm.to_id_string()),
    })
}

/// The certificate findings: expired, not yet valid, self-signed, weak.
pub fn findings(c: &Certificate, when: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = format!("{} (serial {})", c.subject, c.serial);
    if c.expired {
        out.push(finding(
            FindingId::CertExpired,
            format!("{who} expired {} ({when})", c.not_after),
        ));
    }
    if c.not_yet_valid {
        out.push(finding(
            FindingId::CertNotYetValid,
            format!("{who} valid from {} ({when})", c.not_before),
        ));
    }
    if c.self_signed {
        out.push(finding(
            FindingId::CertSelfSigned,
            format!("{who} is its own issuer"),
        ));
    }
    let weak_key = c.key_type == "rsaEncryption" && c.key_bits > 0 && c.key_bits < 2048;
    let weak_sig = c.signature.starts_with("sha1") || c.signature.starts_with("md5");
    if weak_key || weak_sig {
        out.push(finding(
            FindingId::CertWeak,
            format!(
                "{who}: {} {} bits, signed {}",
                c.key_type, c.key_bits, c.signature
            ),
        ));
    }
    out
}
