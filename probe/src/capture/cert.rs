//! X.509 certificate facts for reports and findings.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::diagnose::{finding, Finding, FindingId};
use crate::dissect::oid_name;
use crate::report::capture::Certificate;
use crate::time::rfc3339;

/// A parsed certificate: its facts, and its validity to judge against any time.
#[derive(Clone, Debug)]
struct Parsed {
    facts: Certificate,
    not_before: i64,
    not_after: i64,
}

impl Parsed {
    fn at(&self, now: i64) -> Certificate {
        Certificate {
            expired: self.not_after < now,
            not_yet_valid: self.not_before > now,
            ..self.facts.clone()
        }
    }
}

fn parse(der: &[u8]) -> Option<Parsed> {
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
    let (not_before, not_after) = (v.not_before.timestamp(), v.not_after.timestamp());
    Some(Parsed {
        facts: Certificate {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            serial: cert.raw_serial_as_string().replace(':', ""),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            expired: false,
            not_yet_valid: false,
            self_signed: cert.subject() == cert.issuer(),
            key_type: oid_name(&key.algorithm.algorithm.to_id_string()),
            key_bits: key.parsed().map(|k| k.key_size() as u32).unwrap_or(0),
            signature: oid_name(&cert.signature_algorithm.algorithm.to_id_string()),
        },
        not_before,
        not_after,
    })
}

/// Facts of a DER certificate, judged against `now` (Unix seconds). None if it does not parse.
pub fn facts(der: &[u8], now: i64) -> Option<Certificate> {
    parse(der).map(|p| p.at(now))
}

/// Certificates already parsed, by their bytes: a capture's many connections to one server show
/// the same certificate again and again. Bounded: cleared when full.
#[derive(Debug, Default)]
pub struct Cache {
    parsed: std::collections::HashMap<Vec<u8>, Option<Parsed>>,
}

impl Cache {
    const MAX: usize = 256;

    /// [`facts`], parsing each distinct certificate once.
    pub fn facts(&mut self, der: &[u8], now: i64) -> Option<Certificate> {
        if let Some(p) = self.parsed.get(der) {
            return p.as_ref().map(|p| p.at(now));
        }
        if self.parsed.len() >= Self::MAX {
            self.parsed.clear();
        }
        let p = parse(der);
        let out = p.as_ref().map(|p| p.at(now));
        self.parsed.insert(der.to_vec(), p);
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache gives what parsing gives, judged at each call's own time.
    #[test]
    fn the_cache_gives_the_same_facts_at_each_time() {
        let der = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/zeek__rdp-to-ssl/004-s2c-tls-handshake-server-hello.bin"),
        )
        .unwrap();
        // The certificate inside the flight: find its DER SEQUENCE (30 82 ..) by parsing.
        let start = (0..der.len())
            .find(|&i| der[i..].starts_with(&[0x30, 0x82]) && parse(&der[i..]).is_some())
            .unwrap();
        let len = 4 + usize::from(u16::from_be_bytes([der[start + 2], der[start + 3]]));
        let cert = &der[start..start + len];
        let mut cache = Cache::default();
        for now in [0, 1_700_000_000, 1_297_500_000] {
            assert_eq!(cache.facts(cert, now), facts(cert, now));
            assert_eq!(cache.facts(cert, now), facts(cert, now));
        }
        assert!(cache.facts(cert, 1_700_000_000).unwrap().expired);
        assert!(!cache.facts(cert, 1_297_600_000).unwrap().expired);
        assert_eq!(cache.facts(b"not a certificate", 0), None);
        assert_eq!(cache.parsed.len(), 2);
    }
}
