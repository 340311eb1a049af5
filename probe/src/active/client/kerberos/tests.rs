use super::*;
use crate::facts::kerberos::KdcRequest;
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

fn mit(name: &str) -> Vec<u8> {
    crate::testdata::pdu(&format!("peers/kerberos/{name}.bin"))
}

/// MIT krb5kdc's AS-REP for alice (password Right-Pass1) opens with the key rdprobe derives
/// from the password and the salt of the KDC's own ETYPE-INFO2: string-to-key, the AES-CTS
/// decryption and the EncASRepPart reader on a real KDC's bytes.
#[test]
fn a_real_as_rep_opens_with_the_password() {
    use crate::active::crypto::kerberos::{usage, Key};
    let e = mit("mit_preauth_required");
    let info = KrbError::decode(&e).unwrap().etype_info2();
    let entry = &info[0];
    let key = Key::from_password(
        entry.etype,
        "Right-Pass1",
        entry.salt.as_deref().unwrap(),
        entry.s2kparams.as_deref(),
    )
    .unwrap();
    let rep_bytes = mit("mit_as_rep");
    let rep = KdcRep::decode(&rep_bytes).unwrap();
    let plain = key
        .decrypt(usage::AS_REP_ENC_PART, rep.enc_part.cipher)
        .unwrap();
    let part = EncKdcRepPart::decode(&plain).unwrap();
    assert_eq!(part.sname, "krbtgt/CORP.TEST");
    assert_eq!(part.srealm, "CORP.TEST");
    assert!(part.endtime > part.authtime);
    let wrong = Key::from_password(entry.etype, "Wrong-Pass1", "CORP.TESTalice", None).unwrap();
    assert!(wrong
        .decrypt(usage::AS_REP_ENC_PART, rep.enc_part.cipher)
        .is_err());
}

/// The client answers MIT's PREAUTH_REQUIRED with the encrypted timestamp, and names a real
/// PREAUTH_FAILED; kinit's own AS-REQ with pre-authentication decrypts with the same key.
#[test]
fn a_real_kdc_exchange_is_followed_and_named() {
    use crate::active::crypto::kerberos::{usage, Key};
    let c = creds("alice@corp.test");
    let now = Clock {
        unix: 1_796_642_045,
        usec: 0,
    };
    let (mut client, _) = KdcClient::start(&c, "CORP.TEST", "srv01.corp.test", now, [2; 32]);
    let KdcStep::Send(req) = client.on_reply(&mit("mit_preauth_required"), now) else {
        panic!("no pre-authenticated AS-REQ");
    };
    assert!(matches!(
        KrbMessage::parse(&req),
        Some(KrbMessage::AsReq { .. })
    ));
    assert_eq!(
        client.facts.etype,
        Some(rdp_proto::kerberos::EType::AES256_CTS_HMAC_SHA1_96)
    );
    match client.on_reply(&mit("mit_preauth_failed"), now) {
        KdcStep::Failed(KerberosFailure::Kdc { code, request, .. }) => {
            assert_eq!(code, KrbErrorCode::PREAUTH_FAILED);
            assert_eq!(request, KdcRequest::As);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.facts.exchanges.len(), 2);
    assert!(client.facts.exchanges[1].preauth);
    // kinit's timestamp (frame 3) opens with the key of the password: our key is MIT's.
    let kinit = mit("mit_as_req_preauth");
    let key = Key::from_password(
        rdp_proto::kerberos::EType::AES256_CTS_HMAC_SHA1_96,
        "Right-Pass1",
        "CORP.TESTalice",
        None,
    )
    .unwrap();
    let enc = find_enc_timestamp(&kinit).expect("PA-ENC-TIMESTAMP in kinit's AS-REQ");
    let ts = key.decrypt(usage::AS_REQ_PA_ENC_TIMESTAMP, &enc).unwrap();
    assert_eq!(ts.first(), Some(&0x30));
}

/// The cipher of the PA-ENC-TIMESTAMP in an AS-REQ: the OCTET STRING after `a2 ..` inside the
/// EncryptedData whose etype is 18, found by its DER shape.
fn find_enc_timestamp(req: &[u8]) -> Option<Vec<u8>> {
    // EncryptedData { [0] INTEGER 18, [2] OCTET STRING cipher }: a0 03 02 01 12 a2 ...
    let at = req
        .windows(5)
        .position(|w| w == [0xa0, 0x03, 0x02, 0x01, 0x12])?
        + 5;
    let rest = req.get(at..)?;
    let (rest, (inner, _)) = rdp_proto::ber::parse_tlv(rest, 0xa2, "t").ok()?;
    let _ = rest;
    let (_, (cipher, _)) = rdp_proto::ber::parse_tlv(inner, 0x04, "t").ok()?;
    Some(cipher.to_vec())
}

/// A KRB-ERROR in the server's SPNEGO answer (a refused ticket) is named with its code.
#[test]
fn a_krb_error_from_the_server_is_named() {
    let key = crate::active::crypto::kerberos::Key::new(
        rdp_proto::kerberos::EType::AES256_CTS_HMAC_SHA1_96,
        &[9; 32],
    )
    .unwrap();
    let t = ServiceTicket {
        ticket: vec![0x61, 0],
        key,
        crealm: "CORP.TEST".into(),
        cname: "alice".into(),
    };
    let now = Clock {
        unix: 1_796_642_045,
        usec: 0,
    };
    let (mut gss, token) = GssKerberos::start(t, now, [3; 32]);
    assert_eq!(token.first(), Some(&0x60));
    let answer = rdp_proto::kerberos::gss_token(rdp_proto::kerberos::TOK_ERROR, &mit("mit_skew"));
    assert_eq!(
        gss.on_answer(&answer),
        Err(GssFailure::ApError(
            KrbErrorCode::SKEW,
            Some("PREAUTH_FAILED".into())
        ))
    );
    assert!(matches!(
        gss.on_answer(b"\xa1\x03\x30\x01\x00"),
        Err(GssFailure::Malformed(_))
    ));
}
