//! Facts of the real-peer captures and PDUs (`fixtures/captures/peers/README.md`,
//! `fixtures/pdu/peers/credssp/DECODED.txt`): xrdp in its configurations, FreeRDP's NLA shadow
//! server, xfreerdp, nmap and sslscan, decoded from their bytes.

use rdp_proto::credssp::TsRequest;
use rdp_proto::gcc::{ConferenceCreateResponse, EncryptionLevel, EncryptionMethods};
use rdp_proto::licensing::{
    LicenseErrorCode, LicenseMsgType, LicensingBody, LicensingPdu, StateTransition,
};
use rdp_proto::mcs::{ConnectResponse, DomainPdu};
use rdp_proto::nego::{FailureCode, SecurityProtocol};
use rdp_proto::ntlm::{self, AvId, Message};
use rdp_proto::slowpath::{PduType, SecurityFlags, SecurityHeader, ShareControlPdu};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{NegotiationResult, Token, Tpdu};
use rdp_proto::{decode, decode_prefix, encode_vec};
use rdp_tests::{pdus, read};

fn tpdu(bytes: &[u8]) -> Tpdu<'_> {
    let tpkt: Tpkt = decode(bytes).unwrap();
    decode(tpkt.payload).unwrap()
}

fn requested(capture: &str) -> Vec<Option<u32>> {
    pdus(capture, "x224-cr")
        .iter()
        .map(|p| {
            let b = p.bytes();
            let Tpdu::ConnectionRequest(cr) = tpdu(&b) else {
                panic!()
            };
            cr.negotiation.map(|n| n.requested_protocols.bits())
        })
        .collect()
}

fn answers(capture: &str) -> Vec<Result<u32, FailureCode>> {
    pdus(capture, "x224-cc")
        .iter()
        .map(|p| {
            let b = p.bytes();
            let Tpdu::ConnectionConfirm(cc) = tpdu(&b) else {
                panic!()
            };
            match cc.negotiation {
                Some(NegotiationResult::Response(r)) => Ok(r.selected_protocol.bits()),
                Some(NegotiationResult::Failure(f)) => Err(f.code),
                None => Ok(u32::MAX),
            }
        })
        .collect()
}

fn server_security(capture: &str) -> (EncryptionMethods, EncryptionLevel, bool) {
    let f = &pdus(capture, "mcs-connect-response")[0];
    let b = f.bytes();
    let Tpdu::Data(d) = tpdu(&b) else { panic!() };
    let cr: ConnectResponse = decode(d.payload).unwrap();
    let gcc: ConferenceCreateResponse = decode(cr.user_data).unwrap();
    let s = gcc.security().unwrap();
    (
        s.encryption_method,
        s.encryption_level,
        s.server_certificate.is_some(),
    )
}

#[test]
fn xrdp_selects_rdp_although_the_client_asked_for_ssl_or_hybrid() {
    // The case nmap reports as "SUCCESS" for every layer: selectedProtocol is not requested.
    assert_eq!(requested("xfreerdp_xrdp-rdp"), vec![Some(0x3)]);
    assert_eq!(answers("xfreerdp_xrdp-rdp"), vec![Ok(0)]);
    assert_eq!(
        requested("nmap_xrdp-rdp"),
        [0xb, 0x8, 0x0, 0x4, 0x3, 0x1]
            .map(Some)
            .into_iter()
            .chain([None; 4])
            .collect::<Vec<_>>()
    );
    assert!(answers("nmap_xrdp-rdp").iter().take(6).all(|a| *a == Ok(0)));
}

#[test]
fn xrdp_encryption_levels() {
    use EncryptionLevel as L;
    use EncryptionMethods as M;
    let cases = [
        (
            "xfreerdp_xrdp-rdp",
            M::ENCRYPTION_METHOD_128BIT,
            L::ENCRYPTION_LEVEL_HIGH,
            true,
        ),
        (
            "xfreerdp_xrdp-rdp-low",
            M::ENCRYPTION_METHOD_40BIT,
            L::ENCRYPTION_LEVEL_LOW,
            true,
        ),
        (
            "xfreerdp_xrdp-rdp-medium",
            M::ENCRYPTION_METHOD_40BIT,
            L::ENCRYPTION_LEVEL_CLIENT_COMPATIBLE,
            true,
        ),
        (
            "xfreerdp_xrdp-rdp-fips",
            M::ENCRYPTION_METHOD_FIPS,
            L::ENCRYPTION_LEVEL_FIPS,
            true,
        ),
        (
            "xfreerdp_xrdp-rdp-none",
            M::empty(),
            L::ENCRYPTION_LEVEL_NONE,
            false,
        ),
    ];
    for (capture, method, level, cert) in cases {
        assert_eq!(server_security(capture), (method, level, cert), "{capture}");
    }
}

#[test]
fn shadow_nla_requires_hybrid() {
    let c = "nmap_shadow-nla";
    let hybrid = SecurityProtocol::HYBRID.bits();
    let a = answers(c);
    assert_eq!(
        &a[..3],
        &[
            Ok(hybrid),
            Err(FailureCode::HYBRID_REQUIRED_BY_SERVER),
            Ok(hybrid)
        ]
    );
    assert!(
        a[3..]
            .iter()
            .all(|x| *x == Err(FailureCode::HYBRID_REQUIRED_BY_SERVER)),
        "{a:?}"
    );
    assert_eq!(answers("xfreerdp_shadow-nla"), vec![Ok(hybrid)]);
}

#[test]
fn routing_token_instead_of_a_cookie() {
    let b = pdus("xfreerdp_xrdp-negotiate_routingtoken", "x224-cr")[0].bytes();
    let Tpdu::ConnectionRequest(cr) = tpdu(&b) else {
        panic!()
    };
    assert_eq!(
        cr.token,
        Some(Token::RoutingToken(
            b"tsv://MS Terminal Services Plugin.1.Sessions"
        ))
    );
    assert_eq!(cr.cookie(), None);
    assert_eq!(cr.negotiation.unwrap().requested_protocols.bits(), 0x3);
}

#[test]
fn licensing_valid_client_and_demand_active_in_clear() {
    // crypt_level=none: no encryption, so the licensing and share control PDUs are readable.
    let mut licensing = None;
    let mut demand_active = false;
    let files: Vec<Vec<u8>> = pdus("xfreerdp_xrdp-rdp-none", "mcs-domain-sendDataIndication")
        .iter()
        .map(|p| p.bytes())
        .collect();
    for b in &files {
        let Tpdu::Data(d) = tpdu(b) else { panic!() };
        let DomainPdu::SendDataIndication(sd) = decode(d.payload).unwrap() else {
            panic!()
        };
        // Without encryption, only licensing PDUs carry a security header; a share control
        // PDU's totalLength spans the whole data.
        if let Ok(sc) = decode::<ShareControlPdu>(sd.data) {
            demand_active |= sc.pdu_type() == PduType::PDUTYPE_DEMANDACTIVEPDU;
            continue;
        }
        let (rest, sec) = decode_prefix::<SecurityHeader>(sd.data).unwrap();
        assert!(sec.flags.contains(SecurityFlags::SEC_LICENSE_PKT));
        let lic: LicensingPdu = decode(rest).unwrap();
        assert_eq!(encode_vec(&lic).unwrap(), rest, "re-encodes");
        if lic.msg_type == LicenseMsgType::ERROR_ALERT {
            licensing = Some(lic);
        }
    }
    let lic = licensing.expect("licensing error alert (frame 38)");
    assert!(lic.is_valid_client());
    let LicensingBody::ErrorAlert(m) = lic.body else {
        panic!()
    };
    assert_eq!(
        (m.error_code, m.state_transition),
        (
            LicenseErrorCode::STATUS_VALID_CLIENT,
            StateTransition::ST_NO_TRANSITION
        )
    );
    assert_eq!((m.blob_type, m.blob.len()), (0x1428, 0));
    assert!(demand_active, "Demand Active (frame 40)");
}

fn nego_token(file: &str) -> Vec<u8> {
    let b = read(&format!("pdu/peers/credssp/{file}"));
    let req: TsRequest = decode(&b).unwrap();
    assert_eq!(
        encode_vec(&req).unwrap(),
        b,
        "{file}: TSRequest re-encodes to its bytes"
    );
    assert_eq!(req.nego_tokens.len(), 1);
    req.nego_tokens[0].to_vec()
}

#[test]
fn freerdp_challenge_names_os_and_clock() {
    let b = read("pdu/peers/credssp/shadow-nla_tsrequest_challenge.bin");
    let req: TsRequest = decode(&b).unwrap();
    assert_eq!(req.version, 6);
    assert!(req.patched_cve_2018_0886());
    assert_eq!(
        req.client_nonce.map(<[u8]>::len),
        Some(32),
        "FreeRDP echoes a clientNonce"
    );
    let token = nego_token("shadow-nla_tsrequest_challenge.bin");
    let Message::Challenge(ch) = decode(&token).unwrap() else {
        panic!("not a CHALLENGE")
    };
    assert_eq!(encode_vec(&ch).unwrap(), token);
    assert_eq!(ch.flags.bits(), 0xE288_8297);
    assert_eq!(hex::encode(ch.server_challenge), "e2f9e274c6ae6cfd");
    assert_eq!(rdp_proto::utf16le(ch.target_name.data), "VM");
    let text = |id| ch.av(id).map(|p| p.text());
    assert_eq!(text(AvId::MSV_AV_NB_DOMAIN_NAME).as_deref(), Some("VM"));
    assert_eq!(text(AvId::MSV_AV_NB_COMPUTER_NAME).as_deref(), Some("VM"));
    assert_eq!(text(AvId::MSV_AV_DNS_DOMAIN_NAME).as_deref(), Some("vm"));
    assert_eq!(text(AvId::MSV_AV_DNS_COMPUTER_NAME).as_deref(), Some("vm"));
    let ft = ch
        .av(AvId::MSV_AV_TIMESTAMP)
        .and_then(|p| p.filetime())
        .unwrap();
    assert_eq!(ft, 0x01dd_7bb5_c710_1580);
    assert_eq!(
        ntlm::filetime_to_unix(ft),
        Some(1_795_484_855),
        "2026-11-24T01:47:35Z"
    );
    let v = ch.version.unwrap();
    assert_eq!(
        (v.product_version(), v.revision),
        ("6.1.7601".to_owned(), 15)
    );
}

#[test]
fn xfreerdp_negotiate_and_authenticate() {
    let token = nego_token("xfreerdp_tsrequest_negotiate.bin");
    let Message::Negotiate(n) = decode(&token).unwrap() else {
        panic!("not a NEGOTIATE")
    };
    assert_eq!(n.flags.bits(), 0xE208_82B7);
    assert_eq!(n.version.unwrap().product_version(), "6.1.7601");
    assert_eq!(encode_vec(&n).unwrap(), token);

    let token = nego_token("xfreerdp_tsrequest_authenticate.bin");
    let Message::Authenticate(a) = decode(&token).unwrap() else {
        panic!("not an AUTHENTICATE")
    };
    assert_eq!(encode_vec(&a).unwrap(), token);
    assert_eq!(a.flags.bits(), 0xE288_A235);
    assert_eq!(
        (
            a.user_name().as_str(),
            a.domain_name().as_str(),
            a.workstation_name().as_str()
        ),
        ("probeuser", "", "vm")
    );
    assert_eq!(
        a.mic.map(hex::encode).as_deref(),
        Some("0cacb8bdafe0f1d8ea264341f8e070bf")
    );
    let target = a
        .ntlmv2_av_pairs()
        .find(|p| p.id == AvId::MSV_AV_TARGET_NAME)
        .map(|p| p.text());
    assert_eq!(target.as_deref(), Some("TERMSRV/127.0.0.1"));
    let b = read("pdu/peers/credssp/xfreerdp_tsrequest_authenticate.bin");
    let req: TsRequest = decode(&b).unwrap();
    assert_eq!(req.pub_key_auth.map(<[u8]>::len), Some(48));
}

#[test]
fn probe_negotiate_offers_what_xfreerdp_offers() {
    // A real client's flags are known to be accepted by Windows and FreeRDP servers.
    let token = nego_token("xfreerdp_tsrequest_negotiate.bin");
    let n = ntlm::Negotiate::probe(ntlm::Version {
        major: 10,
        minor: 0,
        build: 19041,
        reserved: [0; 3],
        revision: 15,
    });
    let Message::Negotiate(parsed) = decode(&token).unwrap() else {
        panic!()
    };
    assert_eq!(parsed.flags, n.flags);
    assert!(n.version.is_some() && parsed.version.is_some());
    // Same layout as xfreerdp's: empty domain and workstation, version, nothing else.
    assert_eq!(encode_vec(&n).unwrap().len(), token.len());
}
