//! X.509 certificates (the TLS server certificate, Standard RDP Security's X.509 chain): the
//! facts of one certificate, the name match, the OID names. The one certificate reader of the
//! crate (`decode`'s tree, the probe and the analyzer all use it).

use core::net::IpAddr;

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// What one certificate says. Validity is kept as times; judge it with [`CertFacts::expired_at`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// Every subjectAltName, as x509-parser prints it (`DNSName(host)`).
    pub sans: Vec<String>,
    /// dNSName SANs, as sent.
    pub dns_names: Vec<String>,
    /// iPAddress SANs.
    pub ip_addresses: Vec<IpAddr>,
    /// The subject's commonName values.
    pub common_names: Vec<String>,
    /// Hex, no separators.
    pub serial: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
    /// `rsaEncryption`, `id-ecPublicKey`, ... ([`oid_name`]).
    pub key_type: String,
    pub key_bits: u32,
    pub signature: String,
}

impl CertFacts {
    /// The one interpreter of a DER certificate; None if it does not parse.
    pub fn parse(der: &[u8]) -> Option<Self> {
        Self::try_parse(der).ok()
    }

    /// [`Self::parse`], with x509-parser's reason when it does not parse.
    pub fn try_parse(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let v = cert.validity();
        let key = cert.public_key();
        let mut sans = Vec::new();
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for g in &san.value.general_names {
                sans.push(g.to_string());
                match g {
                    GeneralName::DNSName(n) => dns_names.push((*n).to_owned()),
                    GeneralName::IPAddress(b) => {
                        let ip = match b.len() {
                            4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                            _ => None,
                        };
                        ip_addresses.extend(ip);
                    }
                    _ => {}
                }
            }
        }
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            dns_names,
            ip_addresses,
            common_names,
            serial: cert.raw_serial_as_string().replace(':', ""),
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
            self_signed: cert.subject() == cert.issuer(),
            key_type: oid_name(&key.algorithm.algorithm.to_id_string()),
            key_bits: key.parsed().map(|k| k.key_size() as u32).unwrap_or(0),
            signature: oid_name(&cert.signature_algorithm.algorithm.to_id_string()),
        })
    }

    pub fn expired_at(&self, now: i64) -> bool {
        self.not_after < now
    }

    pub fn not_yet_valid_at(&self, now: i64) -> bool {
        self.not_before > now
    }

    /// An RSA key under 2048 bits.
    pub fn weak_key(&self) -> bool {
        self.key_type == "rsaEncryption" && self.key_bits > 0 && self.key_bits < 2048
    }

    /// Signed with SHA-1 or MD5.
    pub fn weak_signature(&self) -> bool {
        self.signature.starts_with("sha1") || self.signature.starts_with("md5")
    }

    /// Whether `host` is named by the certificate: DNS SANs (with `*.` wildcards) or IP SANs;
    /// without any SAN, the commonName (RFC 6125 section 6.4.4).
    pub fn matches_name(&self, host: &str) -> bool {
        let host_ip: Option<IpAddr> = host.parse().ok();
        let host_l = host.to_ascii_lowercase();
        let dns_match = |pat: &str| {
            let pat = pat.to_ascii_lowercase();
            match pat.strip_prefix("*.") {
                Some(suffix) => host_l
                    .split_once('.')
                    .is_some_and(|(_, rest)| rest == suffix),
                None => pat == host_l,
            }
        };
        if !self.sans.is_empty() {
            return match host_ip {
                Some(ip) => self.ip_addresses.contains(&ip),
                None => self.dns_names.iter().any(|n| dns_match(n)),
            };
        }
        self.common_names.iter().any(|cn| {
            host_ip.map_or_else(|| dns_match(cn), |ip| cn.parse::<IpAddr>().ok() == Some(ip))
        })
    }
}

/// Certificates already parsed, by their bytes: a capture's many connections to one server show
/// the same certificate again and again. Bounded: cleared when full.
#[derive(Debug, Default)]
pub struct Cache {
    parsed: std::collections::HashMap<Vec<u8>, Option<CertFacts>>,
}

impl Cache {
    const MAX: usize = 256;

    /// [`CertFacts::parse`], once per distinct certificate.
    pub fn parse(&mut self, der: &[u8]) -> Option<CertFacts> {
        if let Some(p) = self.parsed.get(der) {
            return p.clone();
        }
        if self.parsed.len() >= Self::MAX {
            self.parsed.clear();
        }
        let p = CertFacts::parse(der);
        self.parsed.insert(der.to_vec(), p.clone());
        p
    }
}

/// The name of an algorithm OID (the ones RDP servers use), else the dotted OID.
pub fn oid_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.1" => "rsaEncryption".into(),
        "1.2.840.10045.2.1" => "id-ecPublicKey".into(),
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption".into(),
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption".into(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.113549.1.1.10" => "rsassa-pss".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.3.14.3.2.29" => "sha1WithRSA (OIW)".into(),
        other => other.into(),
    }
}

/// The SubjectPublicKey of a DER certificate (what CredSSP's pubKeyAuth binds, MS-CSSP 3.1.5).
pub fn subject_public_key(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeek_cert() -> Vec<u8> {
        let flight = crate::testdata::zeek_tls10_flight();
        // The certificate inside the flight: find its DER SEQUENCE (30 82 ..) by parsing.
        let start = (0..flight.len())
            .find(|&i| {
                flight[i..].starts_with(&[0x30, 0x82]) && CertFacts::parse(&flight[i..]).is_some()
            })
            .unwrap();
        let len = 4 + usize::from(u16::from_be_bytes([flight[start + 2], flight[start + 3]]));
        flight[start..start + len].to_vec()
    }

    /// The cache gives what parsing gives; validity is judged at each call's own time.
    #[test]
    fn the_cache_gives_what_parsing_gives() {
        let cert = zeek_cert();
        let mut cache = Cache::default();
        let facts = CertFacts::parse(&cert);
        assert!(facts.is_some());
        assert_eq!(cache.parse(&cert), facts);
        assert_eq!(cache.parse(&cert), facts);
        let f = facts.unwrap();
        assert!(f.expired_at(1_700_000_000));
        assert!(!f.expired_at(1_297_600_000));
        assert_eq!(cache.parse(b"not a certificate"), None);
        assert_eq!(cache.parsed.len(), 2);
    }

    #[test]
    fn names_match_by_san_or_else_common_name() {
        let base = CertFacts {
            subject: String::new(),
            issuer: String::new(),
            sans: Vec::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            common_names: vec!["rdp.example".into()],
            serial: String::new(),
            not_before: 0,
            not_after: 0,
            self_signed: false,
            key_type: String::new(),
            key_bits: 0,
            signature: String::new(),
        };
        assert!(base.matches_name("RDP.example"));
        assert!(!base.matches_name("other.example"));
        let san = CertFacts {
            sans: vec![
                "DNSName(*.corp.example)".into(),
                "IPAddress(127.0.0.1)".into(),
            ],
            dns_names: vec!["*.corp.example".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            ..base
        };
        assert!(san.matches_name("host.corp.example"));
        assert!(!san.matches_name("corp.example"));
        assert!(
            !san.matches_name("rdp.example"),
            "the CN is ignored when SANs exist"
        );
        assert!(san.matches_name("127.0.0.1"));
        assert!(!san.matches_name("127.0.0.2"));
    }
}
