//! Both fronts read one server the same way: the probe's walk (sans-IO, fed the server's
//! frames) and the capture's RDP reader (fed both directions) see xrdp's real PDUs at
//! encryption level NONE, then a Set Error Info, and agree on the stage it ends, whether it
//! stops the connection, and the finding.

use std::path::PathBuf;
use std::time::Duration;

use rdp_proto::encode_vec;
use rdp_proto::mcs::{DomainPdu, SendData};
use rdp_proto::slowpath::{ErrorInfo, PduType2, SetErrorInfo, ShareControlPdu, ShareDataPdu};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{Data, Tpdu};
use rdprobe::active::client::walk::Walk;
use rdprobe::active::plan::Record;
use rdprobe::capture::rdp::Session;
use rdprobe::diagnose::{rules, FindingId, Stage};
use rdprobe::facts::rdp::Dir;

/// xfreerdp against xrdp at level NONE: frame `n` and whether the server sent it.
fn frame(n: u32) -> (Vec<u8>, Dir) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pdu/peers/xfreerdp_xrdp-rdp-none");
    let e = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{n:03}-"))
        })
        .unwrap();
    let d = if e.file_name().to_string_lossy().contains("-c2s-") {
        Dir::ClientToServer
    } else {
        Dir::ServerToClient
    };
    (std::fs::read(e.path()).unwrap(), d)
}

/// A server Set Error Info at encryption level NONE.
fn set_error_info(code: u32) -> Vec<u8> {
    let info = encode_vec(&SetErrorInfo {
        error_info: ErrorInfo(code),
    })
    .unwrap();
    let data = encode_vec(&ShareDataPdu {
        share_id: 0x0001_03ea,
        pad1: 0,
        stream_id: 1,
        uncompressed_length: 8,
        pdu_type2: PduType2::PDUTYPE2_SET_ERROR_INFO_PDU,
        compressed_type: 0,
        compressed_length: 0,
        body: &info,
    })
    .unwrap();
    let control = encode_vec(&ShareControlPdu {
        total_length: 0,
        pdu_type_raw: 0x17,
        pdu_source: 1002,
        body: &data,
    })
    .unwrap();
    let mcs = encode_vec(&DomainPdu::SendDataIndication(SendData {
        initiator: 1002,
        channel_id: 1003,
        priority_segmentation: 0x70,
        data: &control,
        long_length: true,
    }))
    .unwrap();
    let x224 = encode_vec(&Tpdu::Data(Data {
        eot: 0x80,
        variable: &[],
        payload: &mcs,
    }))
    .unwrap();
    encode_vec(&Tpkt {
        reserved: 0,
        payload: &x224,
    })
    .unwrap()
}

/// What a front concluded of the Set Error Info: the stage it stopped at (None: it did not
/// stop the connection) and the finding.
type Verdict = (Option<Stage>, FindingId);

/// The probe's walk, fed xrdp's server frames up to `last`, then the Set Error Info.
fn walk(last: u32, code: u32) -> Verdict {
    let mut rec = Record::default();
    let (mut walk, _) = Walk::start(1003, Stage::Active, [7; 80], None);
    let at = Duration::from_millis(1);
    // The walk joins the user and I/O channels only (xfreerdp joins more: 13..19 are theirs).
    for n in [7, 9, 11, 21, 23, 24].into_iter().filter(|n| *n <= last) {
        walk.on_frame(&frame(n).0, &mut rec, at);
    }
    walk.on_frame(&set_error_info(code), &mut rec, at);
    let f = rec
        .findings
        .iter()
        .find(|f| f.evidence.contains("Set Error Info"))
        .expect("a Set Error Info finding");
    (rec.stopped_at, f.id)
}

/// The capture's RDP reader, fed both directions up to `last`, then the Set Error Info.
fn capture(last: u32, code: u32) -> Verdict {
    let mut s = Session::new();
    for n in 1..=last {
        let (bytes, dir) = frame(n);
        s.feed(dir, &bytes, i64::from(n), &Default::default());
    }
    s.feed(
        Dir::ServerToClient,
        &set_error_info(code),
        100,
        &Default::default(),
    );
    let e = s.rdp.session.error_info.expect("the Set Error Info read");
    let stage = s.error_stage.expect("its stage");
    let f = rules::set_error_info(e, stage);
    (rules::error_info_stops(&f).then_some(stage), f.id)
}

#[test]
fn a_denied_connection_after_licensing_is_one_verdict() {
    // After STATUS_VALID_CLIENT: the capabilities stage ends (what Windows does for a user
    // without the right to log on remotely).
    let probe = walk(23, 0x7);
    assert_eq!(
        probe,
        (Some(Stage::Capabilities), FindingId::ServerDeniedConnection)
    );
    assert_eq!(capture(23, 0x7), probe);
}

#[test]
fn a_licensing_error_during_licensing_is_one_verdict() {
    // After the License Request, before the result: the licensing stage ends.
    let probe = walk(21, 0x100);
    assert_eq!(probe, (Some(Stage::Licensing), FindingId::LicensingError));
    assert_eq!(capture(21, 0x100), probe);
}

#[test]
fn a_users_own_logoff_stops_neither_front() {
    // ERRINFO_LOGOFF_BY_USER after the Demand Active: information, no stop.
    let probe = walk(24, 0xC);
    assert_eq!(probe, (None, FindingId::ServerErrorInfo));
    assert_eq!(capture(24, 0xC), probe);
}
