//! Kerberos in the clear from a real KDC: fixtures/captures/kerberos/mit-kdc.pcap is MIT's
//! krb5kdc (Debian krb5-kdc) in a network namespace answering kinit and kvno over UDP and TCP
//! (`fixtures/tools/kerberos_capture.sh`); each refusal is named with its principal, the
//! normal PREAUTH_REQUIRED is not. Tied to an RDP connection by client and time, an unknown
//! TERMSRV principal before a refused NTLM logon is the headline.

use rdprobe::capture::analyzer::Config;
use rdprobe::capture::run::analyze_file;

fn analyze(name: &str) -> rdprobe::report::capture::CaptureReport {
    let path = rdp_tests::fixtures().join("captures/kerberos").join(name);
    analyze_file(&path, Config::default(), |_| {}, |_| {}).unwrap()
}

#[test]
fn a_real_kdc_refusals_are_named() {
    let r = analyze("mit-kdc.pcap");
    assert!(r.connections.is_empty());
    let got: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.severity.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("kerberos-client-unknown", "error"),
            ("kerberos-spn-unknown", "warning"),
            ("kerberos-client-revoked", "error"),
            ("kerberos-password-expired", "error"),
            ("kerberos-preauth-failed", "error"),
            ("kerberos-clock-skew", "error"),
        ]
    );
    let evidence = |id: &str| {
        r.findings
            .iter()
            .find(|f| f.id.as_str() == id)
            .unwrap()
            .evidence
            .clone()
    };
    // Each over UDP and again over TCP (length-prefixed, reassembled).
    assert_eq!(
        evidence("kerberos-preauth-failed"),
        "the KDC 127.0.0.1:88 answered KDC_ERR_PREAUTH_FAILED (24) to bob@CORP.TEST for krbtgt/CORP.TEST@CORP.TEST (2 times): \"PREAUTH_FAILED\""
    );
    assert!(evidence("kerberos-spn-unknown").contains("TERMSRV/10.0.0.5@CORP.TEST"));
    assert!(evidence("kerberos-client-revoked").contains("carol@CORP.TEST"));
    assert!(evidence("kerberos-client-unknown").contains("nobody@CORP.TEST"));
    assert!(evidence("kerberos-password-expired").contains("dave@CORP.TEST"));
    assert!(evidence("kerberos-clock-skew").contains("erin@CORP.TEST"));
}

#[test]
fn an_unknown_spn_then_a_refused_ntlm_logon_is_one_story() {
    let r = analyze("spn-unknown-then-ntlm-refused.pcap");
    // The KDC's refusal went with the RDP connections of its client: none left over.
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let c = r
        .connections
        .iter()
        .find(|c| c.stopped_at.map(|s| s.as_str()) == Some("credssp"))
        .unwrap();
    let d = &c.diagnosis;
    assert_eq!(
        d.primary_finding.map(|f| f.as_str()),
        Some("kerberos-spn-unknown")
    );
    let f = c
        .findings
        .iter()
        .find(|f| f.id.as_str() == "kerberos-spn-unknown")
        .unwrap();
    assert_eq!(f.severity.as_str(), "error");
    assert!(
        f.evidence
            .ends_with("the client fell back to NTLM, and the server refused it"),
        "{}",
        f.evidence
    );
    assert!(c.findings.iter().any(|f| f.id.as_str() == "auth-failed"));
    // The other connection (the probe's X.224 check) got past nothing of CredSSP: a warning.
    let other = r
        .connections
        .iter()
        .find(|x| x.stopped_at != c.stopped_at)
        .unwrap();
    let k = other
        .findings
        .iter()
        .find(|f| f.id.as_str() == "kerberos-spn-unknown")
        .unwrap();
    assert_eq!(k.severity.as_str(), "warning");
}
