//! The connector fed real peers' bytes, phase by phase (no socket).

use super::*;

use crate::diagnose::FindingId;

fn peer(name: &str) -> Vec<u8> {
    crate::testdata::pdu(&format!("peers/{name}"))
}

fn now(ms: u64) -> Now {
    Now {
        at: Duration::from_millis(ms),
        unix: 1_700_000_000,
    }
}

fn config(request: Option<SecurityProtocol>, mode: Mode) -> Config<'static> {
    Config {
        request,
        mode,
        stop_after: Stage::Active,
        credentials: None,
        host: "127.0.0.1".into(),
        auth: Default::default(),
        randoms: Randoms {
            credssp: [1; 56],
            walk: [2; 80],
            client: [3; 32],
            kerberos: [4; 32],
        },
    }
}

/// The password goes into the Client Info only where it is protected and not already sent.
#[test]
fn the_password_goes_only_where_it_is_protected() {
    assert!(client_info_password(Over::Credssp).is_some());
    assert!(client_info_password(Over::Tls).is_none());
    assert!(client_info_password(Over::RdpSecurity { encrypted: true }).is_none());
    assert_eq!(
        client_info_password(Over::RdpSecurity { encrypted: false }),
        Some("no password: encryption level NONE would send it in clear")
    );
}

/// X.224 and the upgrade, then CredSSP's first round, against FreeRDP's NLA server: our
/// Connection Request is the one that server answered (`fixtures/pdu/peers/credssp`), our
/// NEGOTIATE a TSRequest of the same version with the same NTLM VERSION (the flags have
/// grown since: key exchange, LM key), its real Confirm asks for TLS, its real CHALLENGE
/// ends the anonymous CredSSP with the server's names.
#[test]
fn x224_tls_and_credssp_against_freerdp_nla() {
    let mut rec = Record::default();
    let mut f = ProbeFacts::default();
    let request = SecurityProtocol::SSL | SecurityProtocol::HYBRID;
    let mut c = Connector::new(config(Some(request), Mode::Tls { credssp: true }));
    let Action::Send(cr) = c.action(&mut rec) else {
        panic!("the Connection Request first")
    };
    let ours = &cr[0];
    let theirs = peer("credssp/rdprobe_x224_cr.bin");
    assert_eq!(
        ours, &theirs,
        "the Connection Request FreeRDP's server answered"
    );
    c.on_sent(&mut rec, &mut f, now(1));
    assert_eq!(c.action(&mut rec), Action::Read(Read::Tpkt));
    c.on_frame(
        &peer("credssp/shadow-nla_x224_cc.bin"),
        &mut rec,
        &mut f,
        now(2),
    );
    assert_eq!(c.action(&mut rec), Action::UpgradeTls);
    let session = TlsSession {
        version: "TLSv1.3".into(),
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
        chain: Vec::new(),
        at: Duration::from_millis(3),
    };
    c.on_upgraded(session, Vec::new(), &mut rec, &mut f, now(3));
    let Action::Send(negotiate) = c.action(&mut rec) else {
        panic!("the NTLM NEGOTIATE")
    };
    let negotiate_of = |bytes: &[u8]| {
        let ts: rdp_proto::credssp::TsRequest = rdp_proto::decode(bytes).unwrap();
        let token = ts.nego_tokens[0].to_vec();
        let n: rdp_proto::ntlm::Negotiate = rdp_proto::decode(&token).unwrap();
        (ts.version, n.version, n.flags)
    };
    let (version, ntlm, flags) = negotiate_of(&negotiate[0]);
    let (then, ntlm_then, flags_then) =
        negotiate_of(&peer("credssp/rdprobe_tsrequest_negotiate.bin"));
    assert_eq!((version, ntlm), (then, ntlm_then));
    assert!(
        flags.contains(flags_then),
        "{flags:?} lost some of {flags_then:?}"
    );
    c.on_sent(&mut rec, &mut f, now(4));
    assert_eq!(c.action(&mut rec), Action::Read(Read::Der));
    let challenge = peer("credssp/shadow-nla_tsrequest_challenge.bin");
    c.on_frame(&challenge, &mut rec, &mut f, now(5));
    assert_eq!(c.action(&mut rec), Action::Done);
    let stages: Vec<_> = rec.stages.iter().map(|s| (s.name, s.status)).collect();
    assert_eq!(
        stages,
        [
            (Stage::Tls, StageStatus::Ok),
            (Stage::Credssp, StageStatus::Ok)
        ]
    );
    let ts = &f.credssp.as_ref().expect("the CHALLENGE's facts").ts;
    assert!(ts
        .challenge
        .as_ref()
        .is_some_and(|n| n.netbios_computer.is_some()));
    assert!(matches!(c.take_tls(), Some(Ok(_))));
}

/// A legacy Confirm (Suricata's RDP-003) gives the TLS stage no session; a Confirm that
/// never comes neither.
#[test]
fn no_tls_capable_confirm() {
    let mut rec = Record::default();
    let mut f = ProbeFacts::default();
    let legacy = peer("../suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin");
    let mut c = Connector::new(config(
        Some(SecurityProtocol::SSL),
        Mode::Tls { credssp: true },
    ));
    let _ = c.action(&mut rec);
    c.on_sent(&mut rec, &mut f, now(1));
    c.on_frame(&legacy, &mut rec, &mut f, now(2));
    assert_eq!(c.action(&mut rec), Action::Done);
    assert!(matches!(c.take_tls(), Some(Err(e)) if e.why == "no TLS-capable Connection Confirm"));
    let mut c = Connector::new(config(
        Some(SecurityProtocol::SSL),
        Mode::Tls { credssp: true },
    ));
    let _ = c.action(&mut rec);
    c.on_read_failure(ReadFailure::Timeout { got: 0 }, &mut rec, &mut f, now(3));
    assert!(matches!(c.take_tls(), Some(Err(_))));
    assert!(rec.stages.is_empty(), "the caller concludes the tls stage");
}

/// MCS under Standard RDP Security against xrdp at level NONE: its real Confirm, our
/// Connect-Initial offering what mstsc offers, its real Connect-Response, then the walk's
/// first frames, which are xfreerdp's own bytes.
#[test]
fn mcs_and_the_walk_against_xrdp() {
    let xrdp = |n: u32| crate::testdata::peer_frame("xfreerdp_xrdp-rdp-none", n).0;
    let mut rec = Record::default();
    let mut f = ProbeFacts::default();
    let mut c = Connector::new(config(None, Mode::RdpSecurity));
    let _ = c.action(&mut rec);
    c.on_sent(&mut rec, &mut f, now(1));
    c.on_frame(&xrdp(2), &mut rec, &mut f, now(2));
    let Action::Send(ci) = c.action(&mut rec) else {
        panic!("the Connect-Initial")
    };
    let (_, (_, rdp_proto::x224::Tpdu::Data(d))) =
        rdp_proto::x224::Tpdu::parse_tpkt(&ci[0]).unwrap()
    else {
        panic!()
    };
    let initial: rdp_proto::mcs::ConnectInitial = rdp_proto::decode(d.payload).unwrap();
    let gcc: rdp_proto::gcc::ConferenceCreateRequest =
        rdp_proto::decode(initial.user_data).unwrap();
    let offered = gcc.blocks.iter().find_map(|b| match b {
        rdp_proto::gcc::ClientBlock::Security(s) => Some(s.encryption_methods),
        _ => None,
    });
    assert_eq!(offered, Some(MethodOffer::MSTSC.0));
    c.on_sent(&mut rec, &mut f, now(3));
    assert_eq!(c.action(&mut rec), Action::Read(Read::Tpkt));
    c.on_frame(&xrdp(4), &mut rec, &mut f, now(4));
    // Under Standard RDP Security the mcs stage belongs to the method enumeration.
    assert!(rec.stages.is_empty());
    assert_eq!(c.action(&mut rec), Action::Send(vec![xrdp(5), xrdp(6)]));
    // The server closes: the channels stage fails, closed by the server.
    c.on_sent(&mut rec, &mut f, now(5));
    let _ = c.action(&mut rec);
    c.on_read_failure(ReadFailure::Closed { got: 0 }, &mut rec, &mut f, now(6));
    assert_eq!(rec.stopped_at, Some(Stage::Channels));
    assert!(rec
        .findings
        .iter()
        .any(|f| f.id == FindingId::ClosedByServer));
    assert!(f.session.is_some());
}
