use super::*;
use zeroize::Zeroizing;

fn creds(spec: &str) -> Credentials {
    Credentials::new(spec, Zeroizing::new("Right-Pass1".into())).unwrap()
}

#[test]
fn the_realm_comes_from_the_upn_or_the_target() {
    assert_eq!(
        realm_for(&creds("alice@corp.test"), "10.0.0.5").as_deref(),
        Some("CORP.TEST")
    );
    assert_eq!(
        realm_for(&creds("CORP\\alice"), "srv01.corp.test").as_deref(),
        Some("CORP.TEST")
    );
    assert_eq!(realm_for(&creds("CORP\\alice"), "10.0.0.5"), None);
    assert_eq!(realm_for(&creds("alice"), "srv01"), None);
}

#[test]
fn the_first_as_req_names_the_user_and_asks_for_aes() {
    let c = creds("alice@corp.test");
    let now = Clock {
        unix: 1_796_642_045,
        usec: 5,
    };
    let (client, req) = KdcClient::start(&c, "corp.test", "srv01.corp.test", now, [1; 32]);
    assert_eq!(client.facts.service, "TERMSRV/srv01.corp.test@CORP.TEST");
    // kerberos-parser, an independent reader, agrees.
    match KrbMessage::parse(&req) {
        Some(KrbMessage::AsReq { client }) => assert_eq!(client.to_string(), "alice@CORP.TEST"),
        other => panic!("{other:?}"),
    }
    assert!(!req.windows(11).any(|w| w == b"Right-Pass1"));
}

#[test]
fn mstsc_picks_kerberos_by_name_and_ntlm_by_address() {
    let c = creds("alice@corp.test");
    assert_eq!(
        choose(AuthPolicy::Auto, &c, "srv01.corp.test"),
        Choice::Kerberos {
            realm: "CORP.TEST".into()
        }
    );
    assert!(matches!(
        choose(AuthPolicy::Auto, &c, "10.0.0.5"),
        Choice::Ntlm { reason: Some(r) } if r.contains("IP address")
    ));
    assert_eq!(
        choose(AuthPolicy::Kerberos, &c, "10.0.0.5"),
        Choice::Kerberos {
            realm: "CORP.TEST".into()
        }
    );
    assert_eq!(
        choose(AuthPolicy::Ntlm, &c, "srv01.corp.test"),
        Choice::Ntlm { reason: None }
    );
    assert!(matches!(
        choose(AuthPolicy::Auto, &creds("CORP\\alice"), "10.0.0.5"),
        Choice::Ntlm { reason: Some(_) }
    ));
}
