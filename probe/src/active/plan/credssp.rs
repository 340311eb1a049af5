//! CredSSP: the NTLM NEGOTIATE and the server's CHALLENGE (anonymous probing stops there).

use core::time::Duration;

use crate::diagnose::FindingId;
use crate::diagnose::{rules, Stage, StageStatus};
use crate::facts::credssp::{AuthFailure, AuthOutcome, Mechanism, TsRequestFacts};
use crate::facts::kerberos::KdcFacts;
use crate::facts::probe::{AuthFacts, CredsspFacts};

use super::*;

/// The credssp stage from the server's TSRequest (or why none came), judged at `now`.
pub fn conclude_credssp(
    rec: &mut Record,
    answer: Result<TsRequestFacts, String>,
    now: i64,
    at: Duration,
) -> Option<CredsspFacts> {
    let ts = match answer {
        Ok(ts) => ts,
        Err(why) => {
            rec.stage(Stage::Credssp, StageStatus::Failed, at, why.clone());
            rec.stop(Stage::Credssp);
            rec.findings.push(rules::credssp_failed(why, false));
            return None;
        }
    };
    rec.stage(
        Stage::Credssp,
        StageStatus::Ok,
        at,
        format!("TSRequest version {}", ts.version),
    );
    Some(CredsspFacts { ts, now })
}

/// CredSSP with credentials, concluded: the credssp stage says how it ended (failed, and the
/// probe stopped there, when the credentials did not pass), the finding the NTSTATUS names, and
/// the `auth` facts (the user as given, never the password).
pub fn conclude_auth(
    rec: &mut Record,
    user: &str,
    outcome: AuthOutcome,
    mechanism: Mechanism,
    fallback_reason: Option<String>,
    at: Duration,
) -> AuthFacts {
    let passed = outcome.passed();
    let first_round_failed = rec
        .stages
        .iter()
        .any(|s| s.name == Stage::Credssp && s.status != StageStatus::Ok);
    let status = if passed {
        StageStatus::Ok
    } else {
        StageStatus::Failed
    };
    rec.amend(Stage::Credssp, status, at, &outcome.describe());
    if !passed {
        rec.stop(Stage::Credssp);
        if !first_round_failed {
            let finding = match &outcome {
                AuthOutcome::Failed(AuthFailure::Kerberos(code, text)) => {
                    let text = text
                        .as_ref()
                        .map(|t| format!(": \"{t}\""))
                        .unwrap_or_default();
                    Some(rules::finding(
                        FindingId::KerberosTicketRejected,
                        format!(
                            "user {user}: the server answered the AP-REQ with {code} ({}){text}",
                            code.0
                        ),
                    ))
                }
                _ => rules::auth(&outcome, user),
            };
            // With NTLM, say why not Kerberos: the path that would have worked, or why not.
            rec.findings.extend(finding.map(|mut f| {
                if let (Mechanism::Ntlm, Some(why)) = (mechanism, &fallback_reason) {
                    f.evidence
                        .push_str(&format!("; NTLM was used because {why}"));
                }
                f
            }));
        }
    }
    AuthFacts {
        user: user.to_owned(),
        mechanism,
        fallback_reason,
        outcome,
    }
}

/// The kerberos stage from the KDC exchange: ok with the service ticket's etype, or failed with
/// the KDC's code (the findings come with the auth conclusion).
pub fn conclude_kerberos(rec: &mut Record, k: &KdcFacts, at: Duration) {
    let kdc = k.kdc.as_deref().unwrap_or("no KDC");
    match &k.failure {
        None => rec.stage(
            Stage::Kerberos,
            StageStatus::Ok,
            at,
            format!(
                "service ticket for {} from {kdc} ({})",
                k.service,
                k.ticket_etype.map_or("?", |e| e.name())
            ),
        ),
        Some(f) => {
            rec.stage(Stage::Kerberos, StageStatus::Failed, at, f.describe());
            rec.findings.extend(rules::kerberos_logon(k));
        }
    }
}

/// The CredSSP findings ([`rules::credssp`]), the server's clock judged against ours.
pub fn credssp_findings(rec: &mut Record, c: &CredsspFacts) {
    rec.findings.extend(rules::credssp(c, "ours"));
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::FindingId;
    use crate::facts::credssp::TsRequestFacts;

    use core::time::Duration;

    fn peer(name: &str) -> Vec<u8> {
        crate::testdata::pdu(&format!("peers/{name}"))
    }

    /// The real CHALLENGE of FreeRDP's NLA server: names, version, clock.
    #[test]
    fn credssp_from_a_real_challenge() {
        let ts = TsRequestFacts::parse(&peer("credssp/shadow-nla_tsrequest_challenge.bin"));
        let mut rec = Record::default();
        let c =
            conclude_credssp(&mut rec, ts.map_err(|e| e.to_string()), 0, Duration::ZERO).unwrap();
        assert!(c
            .ts
            .challenge
            .as_ref()
            .is_some_and(|n| n.netbios_computer.is_some()));
        credssp_findings(&mut rec, &c);
        // The fixture's clock is years from 1970: a skew finding.
        assert!(rec.findings.iter().any(|f| f.id == FindingId::ClockSkew));
    }
}
