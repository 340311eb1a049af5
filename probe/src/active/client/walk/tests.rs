//! The walk over xrdp's real server frames.

use super::*;

use rdp_proto::licensing::NewLicenseRequest;
use rdp_proto::slowpath::PduType;

/// xrdp's real server frames at encryption level NONE (`fixtures/pdu/peers`), fed in turn:
/// Attach User Confirm, the Channel Join Confirms, then its License Request.
#[test]
fn a_walk_over_xrdp_real_frames() {
    let frame = |n: u32| -> Vec<u8> { crate::testdata::peer_frame("xfreerdp_xrdp-rdp-none", n).0 };
    let mut rec = Record::default();
    let (mut walk, step) = Walk::start(1003, Stage::Active, [7; 80], None);
    let Step::Send(first) = step else { panic!() };
    assert_eq!(first.len(), 2, "Erect Domain and Attach User");
    // Our Erect Domain and Attach User are xfreerdp's bytes.
    assert_eq!(first[0], frame(5));
    assert_eq!(first[1], frame(6));
    let ms = Duration::from_millis(1);
    let Step::Send(join) = walk.on_frame(&frame(7), &mut rec, ms) else {
        panic!()
    };
    assert_eq!(walk.facts.channels.user_channel, Some(1008));
    assert_eq!(join[0], frame(8), "the user channel's join is xfreerdp's");
    // xrdp confirms the user channel, then (we ask for) the I/O channel.
    assert!(matches!(
        walk.on_frame(&frame(9), &mut rec, ms),
        Step::Send(_)
    ));
    let Step::Send(info) = walk.on_frame(&frame(11), &mut rec, ms) else {
        panic!()
    };
    assert_eq!(walk.facts.channels.joined, [1008, 1003]);
    assert_eq!(info.len(), 1, "the Client Info");
    assert_eq!(walk.stage(), Stage::Licensing);
    // xrdp's License Request is answered with a New License Request shaped like
    // xfreerdp's (its premaster secret encrypted with xrdp's 512-bit key).
    let Step::Send(nlr) = walk.on_frame(&frame(21), &mut rec, ms) else {
        panic!()
    };
    let nlr_of = |frame: &[u8]| -> (u32, u32, usize) {
        let tpkt: Tpkt = rdp_proto::decode(frame).unwrap();
        let Tpdu::Data(d) = rdp_proto::decode::<Tpdu>(tpkt.payload).unwrap() else {
            panic!()
        };
        let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(d.payload).unwrap()
        else {
            panic!()
        };
        let (rest, _) = rdp_proto::decode_prefix::<SecurityHeader>(sd.data).unwrap();
        let l: LicensingPdu = rdp_proto::decode(rest).unwrap();
        assert_eq!(l.msg_type, LicenseMsgType::NEW_LICENSE_REQUEST);
        let LicensingBody::Other(body) = l.body else {
            panic!()
        };
        let n: NewLicenseRequest = rdp_proto::decode(body).unwrap();
        (
            n.key_exchange_alg,
            n.platform_id,
            n.encrypted_premaster.data.len(),
        )
    };
    assert_eq!(nlr_of(&nlr[0]), nlr_of(&frame(22)));
    assert_eq!(walk.facts.licensing.outcome, LicensingOutcome::Started);
    // STATUS_VALID_CLIENT, then the Demand Active.
    assert_eq!(walk.on_frame(&frame(23), &mut rec, ms), Step::Wait);
    // The Demand Active: our Confirm Active and the client's finalization PDUs follow.
    let Step::Send(fin) = walk.on_frame(&frame(24), &mut rec, ms) else {
        panic!()
    };
    assert_eq!(
        fin.len(),
        5,
        "Confirm Active, Synchronize, 2 Controls, Font List"
    );
    let tpkt: Tpkt = rdp_proto::decode(&fin[0]).unwrap();
    let Tpdu::Data(d) = rdp_proto::decode::<Tpdu>(tpkt.payload).unwrap() else {
        panic!()
    };
    let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(d.payload).unwrap() else {
        panic!()
    };
    let sc: ShareControlPdu = rdp_proto::decode(sd.data).unwrap();
    assert_eq!(sc.pdu_type(), PduType::PDUTYPE_CONFIRMACTIVEPDU);
    let ca: ConfirmActive = rdp_proto::decode(sc.body).unwrap();
    assert_eq!(ca.capability_sets.len(), 16);
    assert_eq!(walk.stage(), Stage::Finalization);
    let caps = walk.facts.capabilities.as_ref().unwrap();
    assert_eq!(
        (caps.desktop_width, caps.desktop_height),
        (Some(1024), Some(768))
    );
    let stages: Vec<_> = rec.stages.iter().map(|s| (s.name, s.status)).collect();
    assert_eq!(
        stages,
        [
            (Stage::Channels, StageStatus::Ok),
            (Stage::ClientInfo, StageStatus::Ok),
            (Stage::Licensing, StageStatus::Ok),
            (Stage::Capabilities, StageStatus::Ok)
        ]
    );
    assert_eq!(rec.stopped_at, None);
}
