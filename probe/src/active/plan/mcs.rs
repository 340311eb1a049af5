//! Standard RDP Security: MCS Connect-Initial / Connect-Response per encryption method.

use core::time::Duration;

use crate::diagnose::transport::{self, NoAnswer};
use crate::diagnose::{rules, Stage, StageStatus};
use crate::facts::cert::CertFacts;
use crate::facts::gcc::method_name;
use crate::facts::probe::RdpSecurityFacts;
use crate::time::rfc3339;

use super::*;

/// The mcs stage and its findings from what the Connect-Initial attempts found; `now` (Unix
/// seconds) judges the X.509 certificate.
pub fn conclude_rdp_security(rec: &mut Record, found: &RdpSecurityFacts, now: i64, at: Duration) {
    // The X.509 chain of Standard RDP Security: the server's own certificate is the last.
    if let Some(c) = found.x509.last().and_then(|der| CertFacts::parse(der)) {
        rec.findings.extend(rules::certificate(
            &c,
            now,
            &format!("now {}", rfc3339(now)),
        ));
    }
    if found.any {
        let methods: Vec<String> = found.accepted.iter().map(|m| method_name(*m)).collect();
        let detail = format!(
            "{} {}",
            found.level.map(|l| l.to_string()).unwrap_or_default(),
            methods.join(",")
        );
        rec.stage(Stage::Mcs, StageStatus::Ok, at, detail);
        rec.findings
            .extend(rules::weak_rdp_encryption(&found.accepted, found.level));
        rec.findings
            .extend(rules::weak_proprietary_key(found.rsa_bits));
    } else {
        // The first answer in the JSON's order (by offer name).
        let first = found
            .answers_by_name()
            .into_values()
            .next()
            .unwrap_or_default();
        rec.stage(Stage::Mcs, StageStatus::Failed, at, first.clone());
        rec.stop(Stage::Mcs);
        rec.findings.push(transport::no_answer(
            NoAnswer::Closed,
            format!("Standard RDP Security accepted, but no Connect-Response: {first}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::StageStatus;

    use crate::facts::gcc::ConnectResponseFacts;
    use crate::facts::probe::MethodOffer;
    use rdp_proto::gcc::EncryptionMethods;

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
        let mut found = RdpSecurityFacts::default();
        for offer in MethodOffer::EACH {
            let answer = if offer.0.bits() == 0x02 {
                ConnectResponseFacts::parse(&frame).ok_or_else(|| "not a Connect-Response".into())
            } else {
                Err("the server closed the connection without answering".into())
            };
            found.answer(offer, answer);
        }
        assert!(found.any);
        assert_eq!(
            found.accepted,
            [EncryptionMethods::ENCRYPTION_METHOD_128BIT]
        );
        let mut rec = Record::default();
        conclude_rdp_security(&mut rec, &found, 0, Duration::ZERO);
        assert_eq!(rec.stages[0].status, StageStatus::Ok);
        assert!(found.answers_by_name().contains_key("40bit"));
    }
}
