//! TLS: the main session (rustls) and our own ClientHello per version.

use core::time::Duration;

use rdp_proto::tls::{self as ptls, ContentType, HandshakeType, ProtocolVersion};

use crate::diagnose::{finding, rules, FindingId, Stage, StageStatus};
use crate::facts::cert::CertFacts;
use crate::facts::probe::{ServerCertificate, TlsFacts, TlsFailure, TlsSession, VersionAnswer};
use crate::facts::tls::{HandshakeReader, ServerHelloFacts, TlsVersion};
use crate::time::rfc3339;

use super::*;

/// Reads the server's answer to our ClientHello offering only `version`, record by record.
#[derive(Debug)]
pub struct HelloAnswer {
    version: ProtocolVersion,
    handshake: HandshakeReader,
    suite: Option<String>,
    chain: Vec<Vec<u8>>,
}

/// Our ClientHello's answer: accepted (the plaintext certificate chain, if any) or why not.
pub type HelloResult = Result<Vec<Vec<u8>>, String>;

/// What to do after a record.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloStep {
    /// Read another record.
    More,
    /// Accepted (Ok: the plaintext chain, if any) or refused (Err: why).
    Done(HelloResult),
}

impl HelloAnswer {
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            handshake: HandshakeReader::default(),
            suite: None,
            chain: Vec::new(),
        }
    }

    fn accepted(&mut self) -> HelloStep {
        match self.suite {
            Some(_) => HelloStep::Done(Ok(std::mem::take(&mut self.chain))),
            None => HelloStep::Done(Err("no ServerHello".into())),
        }
    }

    /// One TLS record from the server.
    pub fn on_record(&mut self, frame: &[u8]) -> HelloStep {
        let Ok(rec) = rdp_proto::decode::<ptls::Record>(frame) else {
            return HelloStep::Done(Err("not a TLS record".into()));
        };
        match rec.content_type {
            ContentType::ALERT => {
                if self.suite.is_some() {
                    return self.accepted();
                }
                let why = rdp_proto::decode::<ptls::Alert>(rec.fragment)
                    .map_or("alert".to_owned(), |a| format!("alert {}", a.description));
                HelloStep::Done(Err(why))
            }
            ContentType::HANDSHAKE => {
                let mut refused = None;
                let mut done = false;
                let (version, suite, chain) = (self.version, &mut self.suite, &mut self.chain);
                let fits = self.handshake.push(rec.fragment, |hs| match hs.msg_type {
                    HandshakeType::SERVER_HELLO => {
                        match rdp_proto::decode::<ptls::ServerHello>(hs.body) {
                            Ok(sh) => {
                                let sh = ServerHelloFacts::from_pdu(&sh);
                                if sh.version != version {
                                    refused.get_or_insert(format!(
                                        "answered with {}",
                                        sh.version.label()
                                    ));
                                }
                                *suite = Some(sh.cipher.to_string());
                                done |= version == ProtocolVersion::TLS_1_3;
                            }
                            Err(e) => {
                                refused.get_or_insert(e.to_string());
                            }
                        }
                    }
                    HandshakeType::CERTIFICATE => {
                        if let Ok(c) = rdp_proto::decode::<ptls::Certificate>(hs.body) {
                            *chain = c.certificates.iter().map(|d| d.to_vec()).collect();
                        }
                    }
                    HandshakeType::SERVER_HELLO_DONE => done = true,
                    _ => {}
                });
                if let Some(why) = refused {
                    return HelloStep::Done(Err(why));
                }
                // A 16 MB certificate claim or a flood of fragments: what came so far stands
                // (a version counts only with its ServerHello, which came first if at all).
                if done || !fits {
                    return self.accepted();
                }
                HelloStep::More
            }
            _ if self.suite.is_some() => self.accepted(),
            _ => HelloStep::Done(Err("unexpected record".into())),
        }
    }

    /// No further record: after the ServerHello, the version is known (the rest is a bonus).
    pub fn on_read_failure(&mut self, e: &ReadFailure) -> HelloResult {
        match self.suite {
            Some(_) => Ok(std::mem::take(&mut self.chain)),
            None => Err(e.describe()),
        }
    }
}

/// The tls stage of a main session that succeeded (recorded when it happened, before
/// CredSSP's stage).
pub fn tls_established(rec: &mut Record, s: &TlsSession) {
    rec.stage(
        Stage::Tls,
        StageStatus::Ok,
        s.at,
        format!("{} {}", s.version, s.cipher),
    );
}

/// Everything the TLS stage observed.
#[derive(Debug)]
pub struct TlsObserved {
    pub main: Result<TlsSession, TlsFailure>,
    /// Our own ClientHellos: accepted (Ok: plaintext chain) or why not.
    pub hellos: Vec<(TlsVersion, HelloResult)>,
    /// Versions not tried for lack of time.
    pub skipped: Vec<TlsVersion>,
    pub enumerated: bool,
}

/// The tls stage and its findings: versions, the legacy-only case (rustls cannot speak TLS
/// 1.0/1.1, our own ClientHello's answer stands), the certificate judged at `now` for `host`.
pub fn conclude_tls(
    rec: &mut Record,
    o: TlsObserved,
    host: &str,
    now: i64,
    at: Duration,
) -> TlsFacts {
    let mut versions = std::collections::BTreeMap::new();
    let mut plain_chain = Vec::new();
    for (v, answer) in o.hellos {
        match answer {
            Ok(chain) => {
                versions.insert(v, VersionAnswer::Accepted);
                if v != TlsVersion::V1_3 && !chain.is_empty() {
                    plain_chain = chain;
                }
            }
            Err(why) => {
                versions.insert(v, VersionAnswer::Refused(why));
            }
        }
    }
    for v in o.skipped {
        versions.insert(v, VersionAnswer::Skipped);
    }
    let mut facts = TlsFacts {
        main: o.main,
        versions,
        enumerated: o.enumerated,
        certificate: None,
        now,
    };
    let accepted: Vec<TlsVersion> = facts.accepted().collect();
    let keys = accepted.iter().map(|v| v.key()).collect::<Vec<_>>();
    let has_modern = facts.main.is_ok() || accepted.iter().any(|v| !v.is_legacy());
    let has_legacy = accepted.iter().any(|v| v.is_legacy());
    let legacy_only = has_legacy && !has_modern;
    match &facts.main {
        Err(_) if legacy_only => {
            rec.stage(Stage::Tls, StageStatus::Ok, at, keys.join(","));
        }
        Err(e) => {
            let status = if e.timed_out {
                StageStatus::Timeout
            } else {
                StageStatus::Failed
            };
            rec.stage(Stage::Tls, status, at, e.why.clone());
            rec.stop(Stage::Tls);
            rec.findings
                .push(rules::tls_failed(format!("TLS session: {}", e.why)));
        }
        Ok(_) => {}
    }
    if legacy_only {
        rec.findings.push(finding(
            FindingId::TlsLegacyOnly,
            format!("accepted: {}", keys.join(", ")),
        ));
    } else if has_legacy {
        rec.findings.push(finding(
            FindingId::TlsLegacyEnabled,
            format!("accepted: {}", keys.join(", ")),
        ));
    }
    let session_chain = facts.main.as_ref().map_or(&[][..], |s| &s.chain[..]);
    let chain = if session_chain.is_empty() {
        &plain_chain[..]
    } else {
        session_chain
    };
    if let Some(c) = chain.first().and_then(|der| CertFacts::parse(der)) {
        rec.findings.extend(rules::certificate(
            &c,
            now,
            &format!("now {}", rfc3339(now)),
        ));
        let mismatch = rules::certificate_name(&c, host);
        facts.certificate = Some(ServerCertificate {
            name_matches: mismatch.is_none(),
            chain_length: chain.len(),
            facts: c,
        });
        rec.findings.extend(mismatch);
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::{FindingId, StageStatus};

    use crate::facts::tls::HandshakeReader;

    use core::time::Duration;
    use rdp_proto::tls::{self as ptls, HandshakeType, ProtocolVersion};

    /// Zeek's rdp-to-ssl server flight (TLS 1.0) answers a TLS 1.0 ClientHello: accepted with
    /// its certificate; the same flight answers a TLS 1.2 offer with the wrong version.
    #[test]
    fn hello_answers_from_a_real_flight() {
        let flight = crate::testdata::zeek_tls10_flight();
        let mut records = Vec::new();
        let mut rest: &[u8] = &flight;
        while let Ok((r, _)) = rdp_proto::decode_prefix::<ptls::Record>(rest) {
            records.push(rest[..rest.len() - r.len()].to_vec());
            rest = r;
        }
        let version = {
            let rec: ptls::Record = rdp_proto::decode(&records[0]).unwrap();
            let mut v = None;
            HandshakeReader::default().push(rec.fragment, |hs| {
                if hs.msg_type == HandshakeType::SERVER_HELLO {
                    v = rdp_proto::decode::<ptls::ServerHello>(hs.body)
                        .ok()
                        .map(|sh| sh.selected_version());
                }
            });
            v.unwrap()
        };
        let mut answer = HelloAnswer::new(version);
        let mut step = HelloStep::More;
        for r in &records {
            step = answer.on_record(r);
            if step != HelloStep::More {
                break;
            }
        }
        let HelloStep::Done(Ok(chain)) = step else {
            panic!("{step:?}")
        };
        assert!(!chain.is_empty());
        let mut other = HelloAnswer::new(ProtocolVersion::TLS_1_3);
        assert!(matches!(
            other.on_record(&records[0]),
            HelloStep::Done(Err(why)) if why.starts_with("answered with")
        ));
    }

    /// A TLS stage where rustls failed but TLS 1.0 answered: legacy only, the stage stands.
    #[test]
    fn a_legacy_only_tls_server() {
        let mut rec = Record::default();
        let facts = conclude_tls(
            &mut rec,
            TlsObserved {
                main: Err(TlsFailure::from("peer is incompatible".to_owned())),
                hellos: vec![
                    (TlsVersion::V1_0, Ok(Vec::new())),
                    (TlsVersion::V1_1, Err("alert protocol_version".into())),
                    (TlsVersion::V1_2, Err("alert protocol_version".into())),
                    (TlsVersion::V1_3, Err("alert protocol_version".into())),
                ],
                skipped: Vec::new(),
                enumerated: true,
            },
            "127.0.0.1",
            0,
            Duration::ZERO,
        );
        assert_eq!(
            facts.versions.get(&TlsVersion::V1_0),
            Some(&VersionAnswer::Accepted)
        );
        assert_eq!(rec.stages[0].status, StageStatus::Ok);
        assert_eq!(rec.stopped_at, None);
        assert_eq!(rec.findings[0].id, FindingId::TlsLegacyOnly);
    }
}
