//! Standard RDP Security: MCS Connect-Initial / Connect-Response per encryption method.

use core::time::Duration;

use rdp_proto::gcc::{EncryptionLevel, EncryptionMethods};

use crate::diagnose::transport::{self, NoAnswer};
use crate::diagnose::{rules, Stage, StageStatus};
use crate::facts::cert::CertFacts;
use crate::facts::gcc::{method_name, ConnectResponseFacts};
use crate::report::probe::RdpSecurityReport;
use crate::time::rfc3339;

use super::*;

/// Each method alone, when enumerating.
pub const METHODS_EACH: [(u32, &str); 5] = [
    (0, "none"),
    (0x01, "40bit"),
    (0x08, "56bit"),
    (0x02, "128bit"),
    (0x10, "fips"),
];

/// What mstsc offers: 40, 56, 128-bit and FIPS.
pub const METHODS_MSTSC: [(u32, &str); 1] = [(0x1B, "all")];

/// What the Connect-Initial attempts of Standard RDP Security found.
#[derive(Debug, Default)]
pub struct RdpSecurityFound {
    pub report: RdpSecurityReport,
    /// Methods the server accepted.
    pub accepted: Vec<EncryptionMethods>,
    pub level: Option<EncryptionLevel>,
    /// The X.509 chain of the first answer with one.
    pub x509: Vec<Vec<u8>>,
    /// At least one Connect-Response came back.
    pub any: bool,
}

impl RdpSecurityFound {
    /// The answer to offering `bits` (named `name`): a Connect-Response, or why not.
    pub fn answer(
        &mut self,
        bits: u32,
        name: &'static str,
        cr: Result<ConnectResponseFacts, String>,
    ) {
        let report = &mut self.report;
        let cr = match cr {
            Ok(cr) => cr,
            Err(why) => {
                report.answers.insert(name, why);
                return;
            }
        };
        self.any = true;
        report.server_version = report
            .server_version
            .take()
            .or(cr.version.map(|v| v.label()));
        let Some(sec) = cr.security else {
            report
                .answers
                .insert(name, "no Server Security Data".into());
            return;
        };
        report.answers.insert(name, method_name(sec.method));
        let offered = EncryptionMethods::from_bits_retain(bits);
        let accepted = if bits.count_ones() > 1 {
            // Several offered: the one the server chose is accepted.
            sec.method.intersects(offered)
        } else {
            // "none" with a level above NONE is a server that encrypts anyway.
            sec.method == offered && !(bits == 0 && sec.level.0 != 0)
        };
        if accepted {
            self.accepted.push(sec.method);
            report.encryption_methods.push(method_name(sec.method));
        }
        self.level = self.level.or(Some(sec.level));
        report.encryption_level = report
            .encryption_level
            .take()
            .or(Some(sec.level.to_string()));
        report.certificate_type = report
            .certificate_type
            .take()
            .or(sec.certificate.map(|k| k.label().to_owned()));
        report.rsa_key_bits = report.rsa_key_bits.or(sec.rsa_bits);
        if self.x509.is_empty() {
            self.x509 = sec.x509_chain;
        }
    }

    /// Nothing was tried: every attempt was skipped for lack of time.
    pub fn all_skipped(&self) -> bool {
        !self.any
            && self
                .report
                .answers
                .values()
                .all(|a| a.starts_with("skipped"))
    }
}

/// The mcs stage and its findings from what the Connect-Initial attempts found; `now` (Unix
/// seconds) judges the X.509 certificate.
pub fn conclude_rdp_security(
    rec: &mut Record,
    found: RdpSecurityFound,
    now: i64,
    at: Duration,
) -> RdpSecurityReport {
    let report = found.report;
    // The X.509 chain of Standard RDP Security: the server's own certificate is the last.
    if let Some(c) = found.x509.last().and_then(|der| CertFacts::parse(der)) {
        rec.findings.extend(rules::certificate(
            &c,
            now,
            &format!("now {}", rfc3339(now)),
        ));
    }
    if found.any {
        let detail = format!(
            "{} {}",
            report.encryption_level.clone().unwrap_or_default(),
            report.encryption_methods.join(",")
        );
        rec.stage(Stage::Mcs, StageStatus::Ok, at, detail);
        rec.findings
            .extend(rules::weak_rdp_encryption(&found.accepted, found.level));
        rec.findings
            .extend(rules::weak_proprietary_key(report.rsa_key_bits));
    } else {
        let first = report.answers.values().next().cloned().unwrap_or_default();
        rec.stage(Stage::Mcs, StageStatus::Failed, at, first.clone());
        rec.stop(Stage::Mcs);
        rec.findings.push(transport::no_answer(
            NoAnswer::Closed,
            format!("Standard RDP Security accepted, but no Connect-Response: {first}"),
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::StageStatus;

    use crate::facts::gcc::ConnectResponseFacts;

    use core::time::Duration;

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    /// xrdp's real Connect-Response (128-bit RC4, proprietary certificate) to each method.
    #[test]
    fn standard_rdp_security_from_a_real_connect_response() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdu");
        let frame = walk(&dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("mcs-connect-response"))
            .filter_map(|p| std::fs::read(p).ok())
            .find(|b| {
                ConnectResponseFacts::parse(b)
                    .and_then(|f| f.security)
                    .is_some_and(|s| s.method.bits() == 0x02)
            })
            .expect("a real Connect-Response selecting 128-bit RC4");
        let mut found = RdpSecurityFound::default();
        for (bits, name) in METHODS_EACH {
            let answer = if bits == 0x02 {
                ConnectResponseFacts::parse(&frame).ok_or_else(|| "not a Connect-Response".into())
            } else {
                Err("the server closed the connection without answering".into())
            };
            found.answer(bits, name, answer);
        }
        assert!(found.any);
        assert_eq!(found.report.encryption_methods, ["128bit"]);
        let mut rec = Record::default();
        let report = conclude_rdp_security(&mut rec, found, 0, Duration::ZERO);
        assert_eq!(rec.stages[0].status, StageStatus::Ok);
        assert!(report.answers.contains_key("40bit"));
    }
}
