//! Property tests: for every PDU type, encoding a value and parsing it back gives the same
//! value, the encoding has `encoded_len` bytes, and re-encoding is byte-identical.

use proptest::collection::vec;
use proptest::prelude::*;
use rdp_proto::ber::Layout;
use rdp_proto::credssp::{NtStatus, TsRequest};
use rdp_proto::fastpath::FastPathPdu;
use rdp_proto::gcc::{self, ClientBlock, ServerBlock};
use rdp_proto::licensing::{self, LicensingBody, LicensingPdu};
use rdp_proto::mcs::{
    self, ConnectInitial, ConnectResponse, DomainParameters, DomainPdu, McsResult,
};
use rdp_proto::nego::{self, *};
use rdp_proto::ntlm::{self, Field};
use rdp_proto::slowpath::{self, *};
use rdp_proto::tls::{self, *};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{self, *};
use rdp_proto::{decode, encode_vec, Pdu};

/// Encodes, checks the length, decodes back to an equal value, re-encodes identically.
macro_rules! round_trip {
    ($ty:ty, $pdu:expr) => {{
        let pdu: $ty = $pdu;
        let bytes = encode_vec(&pdu).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        prop_assert_eq!(bytes.len(), pdu.encoded_len());
        let back: $ty = decode(&bytes).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert_eq!(&back, &pdu);
        prop_assert_eq!(encode_vec(&back).unwrap(), bytes);
    }};
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// Token lines without CR LF, not starting like a negotiation structure.
fn token_line() -> impl Strategy<Value = Vec<u8>> {
    "[A-Za-z0-9=:/ ._-]{1,40}".prop_map(String::into_bytes)
}

fn domain_parameters() -> impl Strategy<Value = DomainParameters> {
    (vec(any::<u32>(), 8), vec(0u8..=5, 8)).prop_map(|(v, w)| {
        let mut layout = Layout::default();
        for (k, (value, width)) in v.iter().zip(&w).enumerate() {
            // A width applies only if the value fits it; a minimal width is recorded as 0.
            let minimal = rdp_proto::ber::uint_octets(*value, 0);
            let fits = *width == 0 || usize::from(*width) >= minimal;
            layout.set(
                k + 1,
                if fits {
                    rdp_proto::ber::uint_slot(*value, *width)
                } else {
                    0
                },
            );
        }
        let [a, b, c, d, e, f, g, h] = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
        DomainParameters {
            max_channel_ids: a,
            max_user_ids: b,
            max_token_ids: c,
            num_priorities: d,
            min_throughput: e,
            max_height: f,
            max_mcspdu_size: g,
            protocol_version: h,
            layout,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tpkt(payload in bytes(300), reserved in any::<u8>()) {
        round_trip!(Tpkt, Tpkt { reserved, payload: &payload });
    }

    #[test]
    fn negotiation_structures(flags in any::<u8>(), length in any::<u16>(), v in any::<u32>(), id in any::<[u8; 16]>()) {
        round_trip!(NegotiationRequest, NegotiationRequest {
            flags: NegRequestFlags::from_bits_retain(flags), length, requested_protocols: SecurityProtocol::from_bits_retain(v) });
        round_trip!(NegotiationResponse, NegotiationResponse {
            flags: NegResponseFlags::from_bits_retain(flags), length, selected_protocol: SecurityProtocol::from_bits_retain(v) });
        round_trip!(NegotiationFailure, NegotiationFailure { flags, length, code: FailureCode(v) });
        round_trip!(CorrelationInfo, CorrelationInfo { flags, length, correlation_id: id, reserved: id });
    }

    #[test]
    fn connection_request(
        cookie in proptest::option::of((any::<bool>(), token_line())),
        neg in proptest::option::of((any::<u8>(), any::<u32>())),
        corr in proptest::option::of(any::<[u8; 16]>()),
        refs in any::<(u16, u16, u8)>(),
        credit in 0u8..16,
    ) {
        let token = cookie.as_ref().map(|(is_cookie, t)| if *is_cookie { Token::Cookie(t) } else { Token::RoutingToken(t) });
        // A correlation info is only recognised after an RDP_NEG_REQ.
        let corr = if neg.is_some() { corr } else { None };
        let cr = ConnectionRequest {
            credit,
            dst_ref: refs.0,
            src_ref: refs.1,
            class_option: refs.2,
            token,
            negotiation: neg.map(|(f, p)| NegotiationRequest {
                flags: NegRequestFlags::from_bits_retain(f), length: nego::NEG_LEN, requested_protocols: SecurityProtocol::from_bits_retain(p) }),
            correlation: corr.map(|id| CorrelationInfo { flags: 0, length: nego::CORRELATION_INFO_LEN, correlation_id: id, reserved: [0; 16] }),
            trailing: &[],
            user_data: &[],
        };
        round_trip!(Tpdu, Tpdu::ConnectionRequest(cr));
    }

    #[test]
    fn connection_confirm(kind in 0u8..3, flags in any::<u8>(), v in any::<u32>(), refs in any::<(u16, u16, u8)>()) {
        let negotiation = match kind {
            0 => None,
            1 => Some(NegotiationResult::Response(NegotiationResponse::new(NegResponseFlags::from_bits_retain(flags), SecurityProtocol::from_bits_retain(v)))),
            _ => Some(NegotiationResult::Failure(NegotiationFailure::new(FailureCode(v)))),
        };
        let cc = ConnectionConfirm { credit: 0, dst_ref: refs.0, src_ref: refs.1, class_option: refs.2, negotiation, trailing: &[], user_data: &[] };
        round_trip!(Tpdu, Tpdu::ConnectionConfirm(cc));
    }

    #[test]
    fn other_tpdus(var in bytes(40), data in bytes(200), refs in any::<(u16, u16, u8)>()) {
        round_trip!(Tpdu, Tpdu::DisconnectRequest(DisconnectRequest { dst_ref: refs.0, src_ref: refs.1, reason: refs.2, variable: &var, user_data: &data }));
        round_trip!(Tpdu, Tpdu::Data(x224::Data { eot: refs.2, variable: &var, payload: &data }));
        round_trip!(Tpdu, Tpdu::Error(ErrorTpdu { dst_ref: refs.0, cause: refs.2, variable: &var, user_data: &data }));
    }

    #[test]
    fn mcs_connect(
        sel in bytes(10), ud in bytes(600), up in any::<bool>(),
        dp in domain_parameters(), dp2 in domain_parameters(), widths in vec(0u8..=3, 4),
        result in 0u32..16, id in any::<u32>(),
    ) {
        let mut layout = Layout::default();
        let w = widths[3];
        let w = if w != 0 && usize::from(w) < rdp_proto::ber::length_octets(ud.len(), 0) { 0 } else { w };
        layout.set(3, rdp_proto::ber::len_slot(ud.len(), w));
        round_trip!(ConnectInitial, ConnectInitial {
            calling_domain_selector: &sel, called_domain_selector: &sel, upward_flag: up,
            target_parameters: dp, minimum_parameters: dp2, maximum_parameters: dp,
            user_data: &ud, layout });
        round_trip!(ConnectResponse, ConnectResponse {
            result: McsResult(result), called_connect_id: id, domain_parameters: dp2, user_data: &ud, layout: Layout::default() });
    }

    #[test]
    fn mcs_domain_pdus(a in any::<u16>(), b in any::<u16>(), r in 0u32..16, reason in 0u8..8, data in bytes(400), long in any::<bool>(), h in any::<u32>()) {
        round_trip!(DomainPdu, DomainPdu::ErectDomainRequest { sub_height: h, sub_interval: h / 3, widths: [0, 0] });
        round_trip!(DomainPdu, DomainPdu::DisconnectProviderUltimatum { reason: mcs::DisconnectReason(reason) });
        round_trip!(DomainPdu, DomainPdu::AttachUserRequest);
        round_trip!(DomainPdu, DomainPdu::AttachUserConfirm { result: McsResult(r), initiator: Some(a) });
        round_trip!(DomainPdu, DomainPdu::AttachUserConfirm { result: McsResult(r), initiator: None });
        round_trip!(DomainPdu, DomainPdu::ChannelJoinRequest { initiator: a, channel_id: b });
        round_trip!(DomainPdu, DomainPdu::ChannelJoinConfirm { result: McsResult(r), initiator: a, requested: b, channel_id: Some(b) });
        let sd = mcs::SendData { initiator: a, channel_id: b, priority_segmentation: 0x70, data: &data, long_length: long && data.len() < 0x80 };
        round_trip!(DomainPdu, DomainPdu::SendDataRequest(sd.clone()));
        round_trip!(DomainPdu, DomainPdu::SendDataIndication(sd));
    }

    #[test]
    fn gcc_conference_create(
        name in any::<[u8; 32]>(), ime in any::<[u8; 64]>(), dig in any::<[u8; 64]>(), n_opt in 0usize..16,
        methods in any::<u32>(), chans in vec(any::<([u8; 8], u32)>(), 0..6), unknown in bytes(30),
        random in bytes(40), cert in bytes(300), ids in vec(any::<u16>(), 0..6), long in any::<bool>(),
    ) {
        let mut optional = gcc::ClientCoreOptional::default();
        {
            let o = &mut optional;
            let steps = n_opt;
            if steps > 0 { o.post_beta2_color_depth = Some(gcc::ColorDepth::RNS_UD_COLOR_8BPP); }
            if steps > 1 { o.client_product_id = Some(1); }
            if steps > 2 { o.serial_number = Some(methods); }
            if steps > 3 { o.high_color_depth = Some(24); }
            if steps > 4 { o.supported_color_depths = Some(0x0f); }
            if steps > 5 { o.early_capability_flags = Some(0x07ad); }
            if steps > 6 { o.client_dig_product_id = Some(&dig); }
            if steps > 7 { o.connection_type = Some(7); }
            if steps > 8 { o.pad1octet = Some(0); }
            if steps > 9 { o.server_selected_protocol = Some(3); }
            if steps > 10 { o.desktop_physical_width = Some(300); }
            if steps > 11 { o.desktop_physical_height = Some(200); }
            if steps > 12 { o.desktop_orientation = Some(0); }
            if steps > 13 { o.desktop_scale_factor = Some(100); }
            if steps > 14 { o.device_scale_factor = Some(100); }
        }
        let core = gcc::ClientCoreData {
            version: gcc::RdpVersion::RDP_VERSION_10_12, desktop_width: 1920, desktop_height: 1080,
            color_depth: gcc::ColorDepth::RNS_UD_COLOR_8BPP, sas_sequence: 0xAA03, keyboard_layout: 0x409,
            client_build: 22621, client_name: &name, keyboard_type: 4, keyboard_sub_type: 0,
            keyboard_function_key: 12, ime_file_name: &ime, optional, trailing: &[],
        };
        let channels: Vec<gcc::ChannelDef> = chans.iter().map(|(n, o)| gcc::ChannelDef { name: n, options: *o }).collect();
        let req = gcc::ConferenceCreateRequest {
            preamble: [0x00, 0x08], conference_name_len: 0, conference_name: &[0x10], options: 0,
            user_data_count: 1, key_choice: 0xC0, h221_key: b"Duca",
            blocks: vec![
                ClientBlock::Core(core),
                ClientBlock::Security(gcc::ClientSecurityData { encryption_methods: gcc::EncryptionMethods::from_bits_retain(methods), ext_encryption_methods: 0 }),
                ClientBlock::Network(gcc::ClientNetworkData { channels, trailing: &[] }),
                ClientBlock::Cluster(gcc::ClientClusterData { flags: 0x0d, redirected_session_id: 0 }),
                ClientBlock::MessageChannel { flags: 0 },
                ClientBlock::Multitransport { flags: 0x305 },
                ClientBlock::Unknown(gcc::UnknownBlock { block_type: gcc::BlockType(0xC0FF), data: &unknown }),
            ],
            // Blocks push both lengths past 0x7F, where the two-octet form is the only one.
            forms: gcc::PerForms { connect_pdu_long: false, connect_pdu_declared: None, user_data_long: false },
        };
        round_trip!(gcc::ConferenceCreateRequest, req);
        let id_bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
        let resp = gcc::ConferenceCreateResponse {
            choice: 0x14, node_id: 31219, tag: 1, tag_octets: 0, result: 0, user_data_count: 1,
            key_choice: 0xC0, h221_key: b"McDn",
            blocks: vec![
                ServerBlock::Core(gcc::ServerCoreData { version: gcc::RdpVersion::RDP_VERSION_5_PLUS, client_requested_protocols: Some(3), early_capability_flags: Some(1) }),
                ServerBlock::Security(gcc::ServerSecurityData {
                    encryption_method: gcc::EncryptionMethods::ENCRYPTION_METHOD_128BIT, encryption_level: gcc::EncryptionLevel::ENCRYPTION_LEVEL_HIGH,
                    server_random: Some(&random), server_certificate: Some(&cert), trailing: &[] }),
                ServerBlock::Network(gcc::ServerNetworkData { mcs_channel_id: 1003, channel_ids: &id_bytes, trailing: &[] }),
                ServerBlock::MessageChannel { mcs_channel_id: 1010 },
                ServerBlock::Multitransport { flags: 0x301 },
            ],
            forms: gcc::PerForms { connect_pdu_long: long, connect_pdu_declared: Some(0x2a), user_data_long: false },
        };
        round_trip!(gcc::ConferenceCreateResponse, resp);
    }

    #[test]
    fn slow_path(flags in any::<u16>(), hi in any::<u16>(), sig in any::<[u8; 8]>(), body in bytes(200), t in any::<u16>(), code in any::<u32>()) {
        let basic = SecurityHeader { flags: SecurityFlags::from_bits_retain(flags), flags_hi: hi };
        round_trip!(SecurityHeader, basic);
        round_trip!(NonFipsSecurityHeader, NonFipsSecurityHeader { basic, data_signature: sig });
        round_trip!(FipsSecurityHeader, FipsSecurityHeader { basic, length: 16, version: 1, padlen: 3, data_signature: sig });
        round_trip!(ShareControlPdu, ShareControlPdu { total_length: (body.len() + 6) as u16, pdu_type_raw: t, pdu_source: 1002, body: &body });
        round_trip!(ShareDataPdu, ShareDataPdu { share_id: code, pad1: 0, stream_id: 1, uncompressed_length: 4, pdu_type2: slowpath::PduType2::PDUTYPE2_SET_ERROR_INFO_PDU, compressed_type: 0, compressed_length: 0, body: &body });
        round_trip!(SetErrorInfo, SetErrorInfo { error_info: ErrorInfo(code) });
    }

    #[test]
    fn licensing_and_fast_path(code in any::<u32>(), st in any::<u32>(), blob in bytes(100), other in bytes(300), header in any::<u8>(), long in any::<bool>()) {
        round_trip!(LicensingPdu, LicensingPdu { msg_type: licensing::LicenseMsgType::ERROR_ALERT, flags: 0x83, body: LicensingBody::ErrorAlert(licensing::LicensingErrorMessage {
            error_code: licensing::LicenseErrorCode(code), state_transition: licensing::StateTransition(st), blob_type: 4, blob: &blob }) });
        round_trip!(LicensingPdu, LicensingPdu { msg_type: licensing::LicenseMsgType::LICENSE_REQUEST, flags: 3, body: LicensingBody::Other(&other) });
        round_trip!(FastPathPdu, FastPathPdu { header: header & !0x03, long_length: long && other.len() + 2 <= 0x7F, body: &other });
    }

    #[test]
    fn tls_messages(v in any::<u16>(), random in any::<[u8; 32]>(), sid in bytes(33), suites in vec(any::<u16>(), 1..40), ext in proptest::option::of(bytes(200)), certs in vec(bytes(300), 0..4), level in any::<u8>(), desc in any::<u8>()) {
        let sid = &sid[..sid.len().min(32)];
        let suite_bytes: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
        let ch = ClientHello { version: ProtocolVersion(v), random: &random, session_id: sid, cipher_suites: &suite_bytes, compression_methods: &[0], extensions: ext.as_deref() };
        prop_assert_eq!(ch.cipher_suites().map(|s| s.0).collect::<Vec<_>>(), suites.clone());
        round_trip!(ClientHello, ch);
        round_trip!(ServerHello, ServerHello { version: ProtocolVersion(v), random: &random, session_id: sid, cipher_suite: CipherSuite(suites[0]), compression_method: 0, extensions: ext.as_deref() });
        round_trip!(Certificate, Certificate { certificates: certs.iter().map(Vec::as_slice).collect() });
        round_trip!(Alert, Alert { level: AlertLevel(level), description: AlertDescription(desc) });
        round_trip!(Handshake, Handshake { msg_type: HandshakeType(level), body: &suite_bytes });
        round_trip!(Record, Record { content_type: ContentType(level), version: ProtocolVersion(v), fragment: &suite_bytes });
    }

    #[test]
    fn probe_client_hello_parses(version in 0x0301u16..=0x0304, random in any::<[u8; 32]>(), sni in proptest::option::of("[a-z]{1,20}\\.[a-z]{2,5}")) {
        let version = ProtocolVersion(version);
        let hello = tls::ProbeHello { version, suites: tls::ProbeHello::default_suites(version), sni: sni.as_deref(), random };
        let record = hello.to_record().unwrap();
        let rec: Record = decode(&record).unwrap();
        let hs: Handshake = decode(rec.fragment).unwrap();
        let ch: ClientHello = decode(hs.body).unwrap();
        prop_assert_eq!(ch.versions(), vec![version]);
        prop_assert_eq!(ch.sni().map(|s| s.to_vec()), sni.clone().map(String::into_bytes));
        prop_assert_eq!(ch.cipher_suites().collect::<Vec<_>>(), hello.suites);
    }

    #[test]
    fn credssp_ts_request(v in 0u32..10, tokens in vec(bytes(300), 0..3), auth in proptest::option::of(bytes(200)), pk in proptest::option::of(bytes(300)), err in proptest::option::of(any::<u32>()), nonce in proptest::option::of(bytes(32))) {
        round_trip!(TsRequest, TsRequest {
            version: v, nego_tokens: tokens.iter().map(Vec::as_slice).collect(), auth_info: auth.as_deref(),
            pub_key_auth: pk.as_deref(), error_code: err.map(NtStatus), client_nonce: nonce.as_deref() });
    }

    #[test]
    fn ntlm_messages(flags in any::<u32>(), a in bytes(30), b in bytes(120), c in bytes(20), ch in any::<[u8; 8]>(), mic in any::<[u8; 16]>()) {
        let version = Some(ntlm::Version { major: 10, minor: 0, build: 19041, reserved: [0; 3], revision: 15 });
        let flags = ntlm::NegotiateFlags::from_bits_retain(flags | ntlm::NegotiateFlags::NTLMSSP_NEGOTIATE_VERSION.bits());
        let [d, w] = Field::packed(40, [&a[..], &c[..]]);
        round_trip!(ntlm::Negotiate, ntlm::Negotiate { flags, domain: d, workstation: w, version });
        let [t, i] = Field::packed(56, [&a[..], &b[..]]);
        round_trip!(ntlm::Challenge, ntlm::Challenge { target_name: t, flags, server_challenge: ch, reserved: [0; 8], target_info: i, version });
        let [lm, nt, dom, user, ws, key] = Field::packed(88, [&c[..], &b[..], &a[..], &c[..], &a[..], &ch[..]]);
        round_trip!(ntlm::Authenticate, ntlm::Authenticate { lm_response: lm, nt_response: nt, domain: dom, user, workstation: ws, session_key: key, flags, version, mic: Some(mic) });
    }
}
