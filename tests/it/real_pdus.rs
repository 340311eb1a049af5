//! Every PDU pulled out of a real capture parses, and re-encodes to its own bytes, layer by
//! layer.

use rdp_proto::gcc::{ConferenceCreateRequest, ConferenceCreateResponse};
use rdp_proto::mcs::{ConnectInitial, ConnectResponse, DomainPdu};
use rdp_proto::tls::{Handshake, HandshakeType, Record};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::Tpdu;
use rdp_proto::{decode, encode_vec, Pdu};
use rdp_tests::{all_pdus, PduFile};

fn exact<'a, T: Pdu<'a> + std::fmt::Debug>(bytes: &'a [u8], what: &str) -> T {
    let pdu: T =
        decode(bytes).unwrap_or_else(|e| panic!("{what}: {} does not decode: {e}", T::NAME));
    let again =
        encode_vec(&pdu).unwrap_or_else(|e| panic!("{what}: {} does not encode: {e}", T::NAME));
    assert_eq!(
        hex::encode(&again),
        hex::encode(bytes),
        "{what}: {} re-encoding differs",
        T::NAME
    );
    assert_eq!(
        pdu.encoded_len(),
        bytes.len(),
        "{what}: {} encoded_len",
        T::NAME
    );
    pdu
}

fn tpdu_data<'a>(bytes: &'a [u8], what: &str) -> &'a [u8] {
    let tpkt: Tpkt = exact(bytes, what);
    match exact::<Tpdu>(tpkt.payload, what) {
        Tpdu::Data(d) => d.payload,
        other => panic!("{what}: expected X.224 Data, got {}", other.kind()),
    }
}

fn check(p: &PduFile) -> bool {
    let bytes = p.bytes();
    let what = p.origin();
    match p.kind.as_str() {
        "x224-cr" | "x224-cc" => {
            let tpkt: Tpkt = exact(&bytes, &what);
            let tpdu: Tpdu = exact(tpkt.payload, &what);
            let want = if p.kind == "x224-cr" {
                "Connection Request (CR)"
            } else {
                "Connection Confirm (CC)"
            };
            assert_eq!(tpdu.kind(), want, "{what}");
        }
        "mcs-connect-initial" => {
            let ci: ConnectInitial = exact(tpdu_data(&bytes, &what), &what);
            let _: ConferenceCreateRequest = exact(ci.user_data, &what);
        }
        "mcs-connect-response" => {
            let cr: ConnectResponse = exact(tpdu_data(&bytes, &what), &what);
            let resp: ConferenceCreateResponse = exact(cr.user_data, &what);
            if let Some(sec) = resp.security() {
                if let Some(cert) = sec.certificate() {
                    cert.unwrap_or_else(|e| panic!("{what}: server certificate: {e}"));
                }
            }
        }
        k if k.starts_with("mcs-domain-") => {
            let pdu: DomainPdu = exact(tpdu_data(&bytes, &what), &what);
            if let DomainPdu::SendDataRequest(sd) | DomainPdu::SendDataIndication(sd) = &pdu {
                capability_exchange(sd.data, &what);
                client_info(sd.data, &what);
            }
            let name = k.trim_start_matches("mcs-domain-");
            let got = pdu
                .pdu_type()
                .name()
                .unwrap_or("?")
                .to_ascii_lowercase()
                .replace('_', "");
            assert_eq!(got, name.to_ascii_lowercase(), "{what}");
        }
        k if k.starts_with("tls-") => {
            let rec: Record = exact(&bytes, &what);
            if k.starts_with("tls-handshake") && k != "tls-handshake-other" {
                // Several messages may share one record; each must round-trip.
                let mut frag = rec.fragment;
                while !frag.is_empty() {
                    let (rest, hs) = rdp_proto::decode_prefix::<Handshake>(frag)
                        .unwrap_or_else(|e| panic!("{what}: handshake: {e}"));
                    let len = frag.len() - rest.len();
                    let _: Handshake = exact(&frag[..len], &what);
                    match hs.msg_type {
                        HandshakeType::CLIENT_HELLO => {
                            let _: rdp_proto::tls::ClientHello = exact(hs.body, &what);
                        }
                        HandshakeType::SERVER_HELLO => {
                            let _: rdp_proto::tls::ServerHello = exact(hs.body, &what);
                        }
                        HandshakeType::CERTIFICATE => {
                            let _: rdp_proto::tls::Certificate = exact(hs.body, &what);
                        }
                        _ => {}
                    }
                    frag = rest;
                }
            }
            if k == "tls-alert" && rec.fragment.len() == 2 {
                let _: rdp_proto::tls::Alert = exact(rec.fragment, &what);
            }
        }
        "fastpath" => {
            let _: rdp_proto::fastpath::FastPathPdu = exact(&bytes, &what);
        }
        _ => return false,
    }
    true
}

/// A Demand Active or Confirm Active in clear (encryption level NONE, or server to client at
/// LOW behind a security header without SEC_ENCRYPT) round-trips too.
fn capability_exchange(data: &[u8], what: &str) -> bool {
    use rdp_proto::capabilities::{ConfirmActive, DemandActive};
    use rdp_proto::slowpath::{PduType, SecurityFlags, SecurityHeader, ShareControlPdu};
    let share = decode::<ShareControlPdu>(data).ok().or_else(|| {
        let (rest, h) = rdp_proto::decode_prefix::<SecurityHeader>(data).ok()?;
        if h.flags.contains(SecurityFlags::SEC_ENCRYPT) {
            return None;
        }
        decode::<ShareControlPdu>(rest).ok()
    });
    let Some(sc) = share else { return false };
    match sc.pdu_type() {
        PduType::PDUTYPE_DEMANDACTIVEPDU => {
            let _: DemandActive = exact(sc.body, what);
            true
        }
        PduType::PDUTYPE_CONFIRMACTIVEPDU => {
            let _: ConfirmActive = exact(sc.body, what);
            true
        }
        _ => false,
    }
}

/// A Client Info PDU in clear (encryption level NONE or TLS-less RDP without encryption)
/// round-trips.
fn client_info(data: &[u8], what: &str) -> bool {
    use rdp_proto::info::ClientInfo;
    use rdp_proto::slowpath::{SecurityFlags, SecurityHeader};
    let Ok((rest, h)) = rdp_proto::decode_prefix::<SecurityHeader>(data) else {
        return false;
    };
    if !h.flags.contains(SecurityFlags::SEC_INFO_PKT)
        || h.flags.contains(SecurityFlags::SEC_ENCRYPT)
    {
        return false;
    }
    let _: ClientInfo = exact(rest, what);
    true
}

/// xrdp's real License Request and xfreerdp's New License Request (level NONE: licensing is
/// never encrypted there) parse and re-encode to their bytes.
#[test]
fn real_license_requests_round_trip() {
    use rdp_proto::licensing::{
        LicenseMsgType, LicenseRequest, LicensingBody, LicensingPdu, NewLicenseRequest,
    };
    use rdp_proto::slowpath::{SecurityFlags, SecurityHeader};
    let mut seen = (0, 0);
    for p in all_pdus()
        .iter()
        .filter(|p| p.kind.starts_with("mcs-domain-send"))
    {
        let bytes = p.bytes();
        let what = p.origin();
        let (DomainPdu::SendDataRequest(sd) | DomainPdu::SendDataIndication(sd)) =
            exact::<DomainPdu>(tpdu_data(&bytes, &what), &what)
        else {
            continue;
        };
        let Ok((rest, h)) = rdp_proto::decode_prefix::<SecurityHeader>(sd.data) else {
            continue;
        };
        if !h.flags.contains(SecurityFlags::SEC_LICENSE_PKT)
            || h.flags.contains(SecurityFlags::SEC_ENCRYPT)
        {
            continue;
        }
        let Ok(l) = decode::<LicensingPdu>(rest) else {
            continue;
        };
        let LicensingBody::Other(body) = l.body else {
            continue;
        };
        if l.msg_type == LicenseMsgType::LICENSE_REQUEST {
            let r: LicenseRequest = exact(body, &what);
            assert!(!r.certificate.data.is_empty(), "{what}");
            seen.0 += 1;
        } else if l.msg_type == LicenseMsgType::NEW_LICENSE_REQUEST {
            let _: NewLicenseRequest = exact(body, &what);
            seen.1 += 1;
        }
    }
    assert!(seen.0 >= 1 && seen.1 >= 1, "{seen:?}");
}

/// xfreerdp's real Client Info at level NONE parses and re-encodes to its bytes.
#[test]
fn real_client_info_round_trips() {
    let n = all_pdus()
        .iter()
        .filter(|p| p.kind == "mcs-domain-sendDataRequest")
        .filter(|p| {
            let bytes = p.bytes();
            let what = p.origin();
            match exact::<DomainPdu>(tpdu_data(&bytes, &what), &what) {
                DomainPdu::SendDataRequest(sd) => client_info(sd.data, &what),
                _ => false,
            }
        })
        .count();
    assert!(n >= 1, "{n} Client Info PDUs in clear");
}

/// The capability exchanges in clear among the real PDUs: xrdp's Demand Active and xfreerdp's
/// Confirm Active at level NONE, the server side at LOW.
#[test]
fn real_capability_exchanges_round_trip() {
    let n = all_pdus()
        .iter()
        .filter(|p| p.kind.starts_with("mcs-domain-send"))
        .filter(|p| {
            let bytes = p.bytes();
            let what = p.origin();
            match exact::<DomainPdu>(tpdu_data(&bytes, &what), &what) {
                DomainPdu::SendDataRequest(sd) | DomainPdu::SendDataIndication(sd) => {
                    capability_exchange(sd.data, &what)
                }
                _ => false,
            }
        })
        .count();
    assert!(n >= 2, "{n} capability exchange PDUs in clear");
}

#[test]
fn every_real_pdu_parses_and_reencodes_to_its_bytes() {
    let files = all_pdus();
    assert!(files.len() > 800, "manifests list {} PDUs", files.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for p in &files {
        match std::panic::catch_unwind(|| check(p)) {
            Ok(true) => checked += 1,
            Ok(false) => {}
            Err(e) => failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| p.origin()),
            ),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // raw chunks (SOCKS, garbage) and truncated TPKTs are the only ones not checked.
    let skipped: Vec<_> = files
        .iter()
        .filter(|p| p.kind == "raw" || p.kind.ends_with("truncated"))
        .collect();
    assert_eq!(checked + skipped.len(), files.len());
}
