use super::*;
use rdp_proto::http::parse_response;

/// RFC 6455 1.3's example key and answer.
#[test]
fn the_websocket_accept_is_rfc_6455s() {
    assert_eq!(
        websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

/// The packets of a successful session with a Windows Server 2022 gateway, as decoded in
/// research/gateway-udp-kerberos.md 2.1, drive the setup to an open channel.
#[test]
fn windows_answers_open_the_channel() {
    let mut f = GatewayFacts::default();
    let (mut t, hello) = Tsgu::start("RDSH01", 3389);
    assert_eq!(
        hello,
        [0x01, 0, 0, 0, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "mstsc's 14-byte handshake request"
    );
    let handshake = [
        0x02, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x07, 0,
    ];
    let step = t.on_packet(&rdp_proto::decode(&handshake).unwrap(), &mut f);
    assert!(matches!(step, TsguStep::Send(ref p) if p[0] == 0x04));
    assert_eq!(f.handshake.unwrap().extended_auth, 7);
    let tunnel = [
        0x05, 0, 0, 0, 0x1a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 8, 0, 0, 0, 0x3f, 0, 0, 0,
    ];
    let step = t.on_packet(&rdp_proto::decode(&tunnel).unwrap(), &mut f);
    assert!(matches!(step, TsguStep::Send(ref p) if p[0] == 0x06));
    assert_eq!(f.tunnel.unwrap().tunnel_id, Some(8));
    let auth = Packet::TunnelAuthResponse {
        error_code: 0,
        fields_present: 3,
        redir_flags: Some(0x8000_0000),
        idle_timeout: Some(0),
        rest: &[],
    };
    let step = t.on_packet(&auth, &mut f);
    let TsguStep::Send(channel) = step else {
        panic!("{step:?}")
    };
    let Ok(Packet::ChannelCreate {
        port, resources, ..
    }) = rdp_proto::decode::<Packet>(&channel)
    else {
        panic!()
    };
    assert_eq!(port, 3389);
    assert_eq!(resources[0], utf16z("RDSH01"));
    let open = Packet::ChannelResponse {
        error_code: 0,
        fields_present: 1,
        channel_id: Some(1),
        udp_port: None,
        authn_cookie: None,
    };
    assert_eq!(t.on_packet(&open, &mut f), TsguStep::Open);
    assert!(t.is_open());
}

/// Each refusal stops the setup with its code in the facts.
#[test]
fn refusals_keep_their_codes() {
    let mut f = GatewayFacts::default();
    let (mut t, _) = Tsgu::start("h", 3389);
    let refused = Packet::HandshakeResponse {
        error_code: ProxyError::E_PROXY_CAPABILITYMISMATCH.0,
        ver_major: 1,
        ver_minor: 0,
        server_version: 0,
        extended_auth: 0,
    };
    assert_eq!(t.on_packet(&refused, &mut f), TsguStep::Refused);
    assert_eq!(
        f.handshake.unwrap().error.name(),
        Some("E_PROXY_CAPABILITYMISMATCH")
    );
}

/// The HTTP exchange: the anonymous 401 lists the schemes, the NTLM round reads the
/// gateway's names from the CHALLENGE, and without credentials it stops there.
#[test]
fn the_anonymous_round_reads_the_gateways_names() {
    let (mut a, first) = HttpAuth::start(HttpConfig {
        channel: Channel::Out,
        websocket: true,
        host: "gw01.rdg.test".into(),
        connection_id: "{00000000-0000-0000-0000-000000000000}".into(),
        credentials: None,
        key: [7; 16],
        ntlm_random: [1; 24],
        now_filetime: 0,
        channel_bindings: [0; 16],
        skip_anonymous: false,
    });
    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with("RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n"));
    assert!(text.contains("Upgrade: websocket\r\n") && !text.contains("Authorization"));
    let mut f = GatewayFacts::default();
    let head = b"HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-HTTPAPI/2.0\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
    let step = a.on_head(&parse_response(head).unwrap().unwrap(), &mut f);
    let HttpStep::Send(negotiate) = step else {
        panic!("{step:?}")
    };
    assert!(String::from_utf8(negotiate)
        .unwrap()
        .contains("Authorization: NTLM TlRMTVNTUAAB"));
    // The CHALLENGE of FreeRDP's shadow server (a real peer), in a WWW-Authenticate field.
    let ts = crate::testdata::pdu("peers/credssp/shadow-nla_tsrequest_challenge.bin");
    let req: rdp_proto::credssp::TsRequest = rdp_proto::decode(&ts).unwrap();
    let token = req.nego_tokens[0];
    let answer = format!(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM {}\r\n\r\n",
        b64(token)
    );
    let step = a.on_head(&parse_response(answer.as_bytes()).unwrap().unwrap(), &mut f);
    assert_eq!(step, HttpStep::Stop);
    assert_eq!(f.auth, Some(GatewayAuth::NotAttempted));
    assert!(f.ntlm.as_ref().unwrap().netbios_computer.is_some());
}
