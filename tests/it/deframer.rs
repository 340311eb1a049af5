//! The deframer over whole real byte streams (reassembled from the public captures by
//! `fixtures/tools/dump_streams.py`), fed in TCP-segment-sized pieces.

use rdp_proto::fastpath::FastPathPdu;
use rdp_proto::frame::{Deframer, FrameKind};
use rdp_proto::tls::Record;
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::Tpdu;
use rdp_proto::{decode, DecodeErrorKind};
use rdp_tests::read;

/// Frames of one stream by kind: (TPKT, fast-path, TLS records).
fn frame_stream(stream: &[u8], chunk: usize) -> (usize, usize, usize) {
    let mut d = Deframer::new();
    let (mut tpkt, mut fp, mut tls) = (0, 0, 0);
    let mut next = 0u64;
    for piece in stream.chunks(chunk) {
        d.push(piece).unwrap();
        while let Some(f) = d.next_frame().unwrap() {
            assert_eq!(f.offset, next, "frames tile the stream");
            next += f.bytes.len() as u64;
            match f.kind {
                FrameKind::Tpkt => {
                    let t: Tpkt = decode(f.bytes).unwrap();
                    decode::<Tpdu>(t.payload).unwrap();
                    tpkt += 1;
                }
                FrameKind::FastPath => {
                    decode::<FastPathPdu>(f.bytes).unwrap();
                    fp += 1;
                }
                FrameKind::TlsRecord => {
                    decode::<Record>(f.bytes).unwrap();
                    tls += 1;
                }
                FrameKind::Der => unreachable!(),
            }
        }
    }
    assert_eq!(next, stream.len() as u64, "the whole stream is framed");
    assert!(d.buffered().is_empty());
    (tpkt, fp, tls)
}

#[test]
fn standard_rdp_security_streams_frame_exactly() {
    // Counts from fixtures/pdu/SUMMARY.tsv (written by the Python extractor, independently).
    for chunk in [1, 7, 1460, 65536] {
        let c2s = read("streams/zeek__rdp-proprietary-encryption-s1-c2s.bin");
        assert_eq!(frame_stream(&c2s, chunk), (43, 68, 0));
        let s2c = read("streams/zeek__rdp-proprietary-encryption-s1-s2c.bin");
        assert_eq!(frame_stream(&s2c, chunk), (31, 175, 0));
        let xp = read("streams/suricata-verify__rdp-protocol__RDP-003-s0-s2c.bin");
        assert_eq!(frame_stream(&xp, chunk), (23, 85, 0));
    }
}

#[test]
fn tls_stream_switches_from_tpkt_to_records() {
    let s = read("streams/zeek__rdp-to-ssl-s1-s2c.bin");
    let (tpkt, fp, tls) = frame_stream(&s, 1460);
    assert_eq!((tpkt, fp), (1, 0), "the Connection Confirm, then only TLS");
    assert!(tls > 100, "{tls} records");
}

#[test]
fn buffering_is_bounded_and_errors_name_the_stream_offset() {
    let mut d = Deframer::with_limit(100);
    // A TPKT claiming 65535 bytes cannot be held by a 100-byte deframer.
    d.push(&[0x03, 0x00, 0xFF, 0xFF]).unwrap();
    let e = d.next_frame().unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::TooLarge {
            limit: 100,
            got: 65535
        }
    );
    assert!(
        d.push(&[0u8; 97]).is_err(),
        "push beyond the limit is refused"
    );

    // Garbage after two good frames: the error is at the garbage's stream offset.
    let mut d = Deframer::new();
    let cc = read("pdu/suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin");
    d.push(&cc).unwrap();
    d.push(&cc).unwrap();
    d.push(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap();
    assert!(d.next_frame().unwrap().is_some());
    assert!(d.next_frame().unwrap().is_some());
    let e = d.next_frame().unwrap_err();
    assert_eq!(e.offset, 2 * cc.len());
    // The caller can skip past it.
    d.skip(d.buffered().len());
    assert!(d.next_frame().unwrap().is_none());
}
