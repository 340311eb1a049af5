//! The values other projects record for the public captures (`fixtures/captures/public/
//! EXPECTED.md`: Zeek, Suricata, nDPI, Arkime, tshark) and the facts of our real-peer captures
//! (`fixtures/captures/peers/README.md`), decoded from the real PDUs.

use rdp_proto::gcc::{
    ClientBlock, ConferenceCreateRequest, ConferenceCreateResponse, EncryptionLevel,
    EncryptionMethods, ServerCertificate,
};
use rdp_proto::mcs::{ConnectInitial, ConnectResponse, McsResult};
use rdp_proto::nego::{FailureCode, SecurityProtocol};
use rdp_proto::tls::{
    Certificate, CipherSuite, ClientHello, Handshake, HandshakeType, ProtocolVersion, Record,
    ServerHello,
};
use rdp_proto::tpkt::Tpkt;
use rdp_proto::x224::{ConnectionConfirm, ConnectionRequest, NegotiationResult, Tpdu};
use rdp_proto::{decode, decode_prefix, DecodeErrorKind};
use rdp_tests::{pdus, PduFile};
use x509_parser::prelude::{FromDer, X509Certificate};

fn tpdu(bytes: &[u8]) -> Tpdu<'_> {
    let tpkt: Tpkt = decode(bytes).unwrap();
    decode(tpkt.payload).unwrap()
}

/// Every CR of a capture, as owned (cookie, routing token, requested protocols).
fn requests(capture: &str) -> Vec<(Option<String>, Option<String>, Option<u32>)> {
    pdus(capture, "x224-cr")
        .iter()
        .map(|p| {
            let b = p.bytes();
            let Tpdu::ConnectionRequest(cr) = tpdu(&b) else {
                panic!("{} is not a CR", p.origin())
            };
            let cr: ConnectionRequest = cr;
            (
                cr.cookie().map(|c| String::from_utf8_lossy(c).into_owned()),
                cr.routing_token()
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
                cr.negotiation.map(|n| n.requested_protocols.bits()),
            )
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Legacy,
    Selected { flags: u8, protocol: u32 },
    Failure(FailureCode),
}

fn confirms(capture: &str) -> Vec<Answer> {
    pdus(capture, "x224-cc")
        .iter()
        .map(|p| {
            let b = p.bytes();
            let Tpdu::ConnectionConfirm(cc) = tpdu(&b) else {
                panic!("{} is not a CC", p.origin())
            };
            let cc: ConnectionConfirm = cc;
            match cc.negotiation {
                None => Answer::Legacy,
                Some(NegotiationResult::Response(r)) => Answer::Selected {
                    flags: r.flags.bits(),
                    protocol: r.selected_protocol.bits(),
                },
                Some(NegotiationResult::Failure(f)) => Answer::Failure(f.code),
            }
        })
        .collect()
}

fn mcs_payload(p: &PduFile) -> Vec<u8> {
    let b = p.bytes();
    let Tpdu::Data(d) = tpdu(&b) else {
        panic!("{} is not DT", p.origin())
    };
    d.payload.to_vec()
}

struct Client {
    version: u32,
    width: u16,
    height: u16,
    layout: u32,
    build: u32,
    name: String,
    high_color_depth: Option<u16>,
    early_flags: Option<u16>,
    dig_product_id: Option<String>,
    connection_type: Option<u8>,
    methods: u32,
    channels: Vec<String>,
}

fn client(capture: &str) -> Client {
    let files = pdus(capture, "mcs-connect-initial");
    assert_eq!(files.len(), 1, "{capture}: one Connect-Initial");
    let payload = mcs_payload(&files[0]);
    let ci: ConnectInitial = decode(&payload).unwrap();
    let gcc: ConferenceCreateRequest = decode(ci.user_data).unwrap();
    let core = gcc.core().expect("client core data");
    Client {
        version: core.version.0,
        width: core.desktop_width,
        height: core.desktop_height,
        layout: core.keyboard_layout,
        build: core.client_build,
        name: core.client_name(),
        high_color_depth: core.optional.high_color_depth,
        early_flags: core.optional.early_capability_flags,
        dig_product_id: core.dig_product_id(),
        connection_type: core.optional.connection_type,
        methods: gcc
            .security()
            .expect("client security data")
            .encryption_methods
            .bits(),
        channels: gcc
            .network()
            .expect("client network data")
            .channels
            .iter()
            .map(|c| c.name())
            .collect(),
    }
}

struct Server {
    result: McsResult,
    version: u32,
    requested: Option<u32>,
    method: EncryptionMethods,
    level: EncryptionLevel,
    random_len: usize,
    cert_len: usize,
    cert_type: Option<u32>,
    cert_count: usize,
    permanent: bool,
    first_cert_der: Option<Vec<u8>>,
    io_channel: u16,
    channels: Vec<u16>,
}

fn server(capture: &str) -> Server {
    let files = pdus(capture, "mcs-connect-response");
    let payload = mcs_payload(&files[0]);
    let cr: ConnectResponse = decode(&payload).unwrap();
    let gcc: ConferenceCreateResponse = decode(cr.user_data).unwrap();
    let sec = gcc.security().expect("server security data");
    let net = gcc.network().expect("server network data");
    let cert = sec.certificate().map(|c| c.unwrap());
    let (cert_count, first) = match cert.as_ref().map(|c| &c.certificate) {
        Some(ServerCertificate::Proprietary(_)) => (1, None),
        Some(ServerCertificate::X509 { certificates, .. }) => {
            (certificates.len(), certificates.first().map(|c| c.to_vec()))
        }
        _ => (0, None),
    };
    Server {
        result: cr.result,
        version: gcc.core().unwrap().version.0,
        requested: gcc.core().unwrap().client_requested_protocols,
        method: sec.encryption_method,
        level: sec.encryption_level,
        random_len: sec.server_random.map_or(0, <[u8]>::len),
        cert_len: sec.server_certificate.map_or(0, <[u8]>::len),
        cert_type: cert.as_ref().map(|c| c.cert_type().0),
        cert_count,
        permanent: cert.as_ref().is_some_and(|c| c.permanent()),
        first_cert_der: first,
        io_channel: net.mcs_channel_id,
        channels: net.channel_ids().collect(),
    }
}

struct Tls {
    client_version: ProtocolVersion,
    server_version: ProtocolVersion,
    cipher: CipherSuite,
    chain: Vec<Vec<u8>>,
}

/// The first ClientHello / ServerHello / Certificate of a capture.
fn tls(capture: &str) -> Tls {
    let mut out = Tls {
        client_version: ProtocolVersion(0),
        server_version: ProtocolVersion(0),
        cipher: CipherSuite(0),
        chain: Vec::new(),
    };
    let mut files = pdus(capture, "tls-handshake-client-hello");
    files.truncate(1);
    let mut server = pdus(capture, "tls-handshake-server-hello");
    server.truncate(1);
    files.extend(server);
    files.extend(
        pdus(capture, "tls-handshake-certificate")
            .into_iter()
            .take(1),
    );
    for f in files {
        let b = f.bytes();
        let rec: Record = decode(&b).unwrap();
        let mut frag = rec.fragment;
        while !frag.is_empty() {
            let (rest, hs) = decode_prefix::<Handshake>(frag).unwrap();
            match hs.msg_type {
                HandshakeType::CLIENT_HELLO => {
                    let ch: ClientHello = decode(hs.body).unwrap();
                    out.client_version = ch.version;
                }
                HandshakeType::SERVER_HELLO => {
                    let sh: ServerHello = decode(hs.body).unwrap();
                    out.server_version = sh.selected_version();
                    out.cipher = sh.cipher_suite;
                }
                HandshakeType::CERTIFICATE if out.chain.is_empty() => {
                    let c: Certificate = decode(hs.body).unwrap();
                    out.chain = c.certificates.iter().map(|d| d.to_vec()).collect();
                }
                _ => {}
            }
            frag = rest;
        }
    }
    out
}

fn cert_facts(der: &[u8]) -> (String, String, String) {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    (
        cert.subject().to_string(),
        cert.issuer().to_string(),
        cert.raw_serial_as_string().replace(':', ""),
    )
}

const HYBRID_EX: u32 = SecurityProtocol::HYBRID_EX.bits();

#[test]
fn zeek_rdp_proprietary_encryption() {
    let c = "zeek__rdp-proprietary-encryption";
    assert_eq!(
        requests(c),
        vec![
            (Some("FTBCO\\A70".into()), None, Some(0x1)),
            (Some("FTBCO\\A70".into()), None, Some(0x0))
        ]
    );
    assert_eq!(
        confirms(c),
        vec![
            Answer::Failure(FailureCode::SSL_NOT_ALLOWED_BY_SERVER),
            Answer::Selected {
                flags: 0,
                protocol: 0
            }
        ]
    );
    let cl = client(c);
    assert_eq!(
        (cl.version, cl.width, cl.height, cl.layout, cl.build),
        (0x0008_0004, 1152, 864, 0x409, 6000)
    );
    assert_eq!(cl.name, "FROG-POND");
    assert_eq!(
        (cl.high_color_depth, cl.early_flags, cl.connection_type),
        (Some(0x18), Some(0x0b), Some(0))
    );
    assert_eq!(cl.methods, 0x1b, "Zeek: 40, 56, 128-bit and FIPS flags");
    assert_eq!(cl.channels, ["rdpdr", "rdpsnd", "drdynvc", "cliprdr"]);
    // Zeek's rdp-client-cluster-data: flags 0x0d.
    let payload = mcs_payload(&pdus(c, "mcs-connect-initial")[0]);
    let ci: ConnectInitial = decode(&payload).unwrap();
    let gcc: ConferenceCreateRequest = decode(ci.user_data).unwrap();
    let cluster = gcc.blocks.iter().find_map(|b| match b {
        ClientBlock::Cluster(c) => Some(*c),
        _ => None,
    });
    assert_eq!(
        cluster.map(|c| (c.flags, c.redirected_session_id)),
        Some((0x0d, 0))
    );
    let s = server(c);
    assert_eq!(s.result, McsResult::RT_SUCCESSFUL);
    assert_eq!((s.version, s.requested), (0x0008_0004, Some(0)));
    assert_eq!(s.method, EncryptionMethods::ENCRYPTION_METHOD_128BIT);
    assert_eq!(s.level, EncryptionLevel::ENCRYPTION_LEVEL_HIGH);
    assert_eq!(
        (
            s.random_len,
            s.cert_len,
            s.cert_type,
            s.cert_count,
            s.permanent
        ),
        (32, 184, Some(1), 1, true)
    );
    assert_eq!(
        (s.io_channel, s.channels),
        (1003, vec![1004, 1005, 1006, 1007])
    );
}

#[test]
fn zeek_rdp_to_ssl() {
    let c = "zeek__rdp-to-ssl";
    let cookie = (Some("AWAKECODI".to_owned()), None, Some(0x3));
    assert_eq!(requests(c), vec![cookie.clone(), cookie]);
    let hybrid = Answer::Selected {
        flags: 0x01,
        protocol: SecurityProtocol::HYBRID.bits(),
    };
    assert_eq!(
        confirms(c),
        vec![hybrid]
            .into_iter()
            .chain([Answer::Selected {
                flags: 0x01,
                protocol: 2
            }])
            .collect::<Vec<_>>()
    );
    let t = tls(c);
    assert_eq!(
        (t.client_version, t.server_version),
        (ProtocolVersion::TLS_1_0, ProtocolVersion::TLS_1_0)
    );
    assert_eq!(t.cipher, CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA);
    let (subject, issuer, serial) = cert_facts(&t.chain[0]);
    assert_eq!(subject, "CN=WIN2K8R2.awakecoding.ath.cx");
    assert_eq!(issuer, subject, "Zeek: self-signed");
    assert_eq!(
        serial, "16ed2aa0495f259d4f5d99edada570d1",
        "Suricata x509_serials"
    );
}

#[test]
fn zeek_rdp_x509() {
    let c = "zeek__rdp-x509";
    // The SYN and the CR/CC were retransmitted: one of each reaches the reassembled stream.
    assert_eq!(requests(c), vec![(Some("JOHN-PC  ".into()), None, Some(0))]);
    assert_eq!(
        confirms(c),
        vec![Answer::Selected {
            flags: 0,
            protocol: 0
        }]
    );
    let cl = client(c);
    assert_eq!(
        (cl.version, cl.width, cl.height, cl.layout, cl.build),
        (0x0008_0004, 1920, 1080, 0x409, 9600)
    );
    assert_eq!(cl.name, "JOHN-PC-LAPTOP");
    assert_eq!(
        cl.dig_product_id.as_deref(),
        Some("3c571ed0-3415-474b-ae94-74e151b")
    );
    assert_eq!(
        (cl.high_color_depth, cl.early_flags, cl.connection_type),
        (Some(0x10), Some(0x07ad), Some(7))
    );
    assert_eq!(cl.methods, 0x1b);
    assert_eq!(cl.channels, ["rdpdr", "rdpsnd", "cliprdr", "drdynvc"]);
    let s = server(c);
    assert_eq!(s.method, EncryptionMethods::ENCRYPTION_METHOD_128BIT);
    assert_eq!(s.level, EncryptionLevel::ENCRYPTION_LEVEL_CLIENT_COMPATIBLE);
    // Zeek: cert_type X.509, cert_count 2, cert_permanent F.
    assert_eq!(
        (s.cert_len, s.cert_type, s.cert_count, s.permanent),
        (1252, Some(2), 2, false)
    );
    let (_, cert) = X509Certificate::from_der(s.first_cert_der.as_deref().unwrap()).unwrap();
    // Zeek x509.log: first 59EB28CB02B1A0D4 (L=TURNBKL+CN=SERVR), then 0100000001.
    assert_eq!(
        cert.raw_serial_as_string()
            .replace(':', "")
            .to_ascii_uppercase(),
        "59EB28CB02B1A0D4"
    );
    assert_eq!(
        cert.public_key().parsed().map(|k| k.key_size()).ok(),
        Some(512),
        "Zeek: rsa 512"
    );
}

#[test]
fn zeek_rdp_unknown_keyboard() {
    let cl = client("zeek__rdp-unknown-keyboard");
    assert_eq!(cl.layout, 0x0004_041E, "Zeek: Thai (best guess for 263198)");
    assert_eq!(cl.name, "JOHN-PC-LAPTOP");
    assert!(pdus("zeek__rdp-unknown-keyboard", "mcs-connect-response").is_empty());
}

#[test]
fn zeek_rdp_no_cookie_mstshash() {
    let c = "zeek__rdp-no-cookie-mstshash";
    assert_eq!(requests(c), vec![(None, None, Some(0x0b))]);
    assert_eq!(
        confirms(c),
        vec![Answer::Selected {
            flags: 0x1f,
            protocol: HYBRID_EX
        }]
    );
    let t = tls(c);
    assert_eq!(t.server_version, ProtocolVersion::TLS_1_2);
    assert_eq!(
        t.cipher,
        CipherSuite::TLS_RSA_WITH_AES_256_GCM_SHA384,
        "Zeek ssl.log cipher"
    );
    let (subject, _, serial) = cert_facts(&t.chain[0]);
    assert_eq!(subject, "CN=CLK-456040-D.one.phoenix.gov");
    assert_eq!(serial, "785897aeaaabc0bd4ac73f6eb275d540");
}

#[test]
fn zeek_rdp_invalid_length_is_reported_not_rejected() {
    let c = "zeek__rdp-invalid-length";
    let cc = pdus(c, "x224-cc");
    let b = cc[0].bytes();
    let Tpdu::ConnectionConfirm(cc) = tpdu(&b) else {
        panic!("not a CC")
    };
    let Some(NegotiationResult::Response(rsp)) = cc.negotiation else {
        panic!("no RDP_NEG_RSP")
    };
    assert_eq!(
        (rsp.flags.bits(), rsp.length),
        (0x03, 0),
        "Zeek: RDP_Negotiation_Response:length violation"
    );
    // The bytes after it: a TPKT with version 5.
    let raw = pdus(c, "raw")
        .into_iter()
        .find(|p| p.direction == "s2c")
        .unwrap()
        .bytes();
    let tail = &raw[raw
        .windows(4)
        .position(|w| w == [0x05, 0x00, 0x00, 0x13])
        .unwrap()..];
    let err = decode::<Tpkt>(tail).unwrap_err();
    assert_eq!(
        (err.context, err.offset, err.kind),
        ("vrsn", 0, DecodeErrorKind::UnexpectedType { got: 5 })
    );
}

#[test]
fn suricata_rdp_003_legacy_xp_client() {
    let c = "suricata-verify__rdp-protocol__RDP-003";
    assert_eq!(requests(c), vec![(Some("A70067".into()), None, None)]);
    assert_eq!(confirms(c), vec![Answer::Legacy]);
    assert_eq!(
        hex::encode(pdus(c, "x224-cc")[0].bytes()),
        "0300000b06d00000123400"
    );
    let cl = client(c);
    assert_eq!(
        (cl.width, cl.height, cl.layout, cl.build),
        (1152, 864, 0x409, 2600)
    );
    assert_eq!(cl.name, "ISD2-KM84178");
    assert_eq!(
        cl.dig_product_id.as_deref(),
        Some("55274-OEM-0011903-00107"),
        "Suricata rdp.client.id"
    );
    assert_eq!(
        (cl.high_color_depth, cl.early_flags),
        (Some(15), Some(0x0001))
    );
    assert_eq!(cl.methods, 0x0b);
    assert_eq!(cl.channels, ["rdpdr", "cliprdr", "rdpsnd"]);
    let s = server(c);
    assert_eq!(s.requested, None, "server core data of 8 bytes");
    assert_eq!(s.method, EncryptionMethods::ENCRYPTION_METHOD_56BIT);
    assert_eq!(s.level, EncryptionLevel::ENCRYPTION_LEVEL_CLIENT_COMPATIBLE);
    assert_eq!((s.cert_len, s.cert_type), (184, Some(1)));
}

#[test]
fn suricata_pr857_etm() {
    let c = "suricata-verify-pr857__encrypted-traffic-metadata-rdp";
    let r = (Some("bill".to_owned()), None, Some(0x0b));
    assert_eq!(requests(c), vec![r.clone(), r]);
    let a = || Answer::Selected {
        flags: 0x0f,
        protocol: HYBRID_EX,
    };
    assert_eq!(confirms(c), vec![a(), a()]);
    let t = tls(c);
    assert_eq!(t.server_version, ProtocolVersion::TLS_1_2);
    let (subject, _, serial) = cert_facts(&t.chain[0]);
    assert_eq!(
        (subject.as_str(), serial.as_str()),
        ("CN=WinCap", "5b6a34efce8f41b14b973190294f7743")
    );
}

#[test]
fn ndpi_rdp_dlt_null() {
    let c = "ndpi__rdp";
    assert_eq!(requests(c), vec![(None, None, Some(0x0b))]);
    assert_eq!(
        confirms(c),
        vec![Answer::Selected {
            flags: 0x1f,
            protocol: HYBRID_EX
        }]
    );
    let t = tls(c);
    assert_eq!(t.cipher, CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
    let (subject, _, serial) = cert_facts(&t.chain[0]);
    assert_eq!(
        (subject.as_str(), serial.as_str()),
        ("CN=OFFICE-WIN10-VM", "3dde271223f54fa148cca5d217d88b33")
    );
}

#[test]
fn ndpi_rdp3_xp_truncated_cookie() {
    let c = "ndpi__rdp3";
    assert_eq!(requests(c), vec![(Some("Administr".into()), None, None)]);
    assert_eq!(confirms(c), vec![Answer::Legacy]);
    let cl = client(c);
    assert_eq!(
        (cl.width, cl.height, cl.layout, cl.build, cl.name.as_str()),
        (1280, 1024, 0x409, 2600, "SEPTU")
    );
    assert_eq!(
        cl.dig_product_id.as_deref(),
        Some("76487-OEM-0011903-00102")
    );
    assert_eq!((cl.high_color_depth, cl.methods), (Some(0x10), 0x0b));
    assert_eq!(cl.channels, ["rdpdr", "cliprdr", "rdpsnd"]);
    let s = server(c);
    assert_eq!(
        (s.method, s.level),
        (
            EncryptionMethods::ENCRYPTION_METHOD_128BIT,
            EncryptionLevel::ENCRYPTION_LEVEL_CLIENT_COMPATIBLE
        )
    );
    assert_eq!((s.cert_len, s.cert_type), (184, Some(1)));
}

#[test]
fn ndpi_rdp_over_tls_self_signed() {
    let c = "ndpi__rdp_over_tls";
    assert_eq!(
        requests(c),
        vec![(Some("WDeployAd".into()), None, Some(0x03))]
    );
    assert_eq!(
        confirms(c),
        vec![Answer::Selected {
            flags: 0x1f,
            protocol: SecurityProtocol::HYBRID.bits()
        }]
    );
    let t = tls(c);
    assert_eq!(
        t.cipher,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "nDPI Cipher"
    );
    let (_, cert) = X509Certificate::from_der(&t.chain[0]).unwrap();
    assert_eq!(cert.subject().to_string(), "CN=topsalon");
    assert_eq!(cert.issuer().to_string(), "CN=topsalon");
    assert_eq!(
        cert.validity().not_before.timestamp(),
        1_721_973_820,
        "2024-07-26 06:03:40"
    );
    assert_eq!(
        cert.validity().not_after.timestamp(),
        1_737_785_020,
        "2025-01-25 06:03:40"
    );
}

#[test]
fn arkime_socks5_rdp() {
    let c = "arkime__socks5-rdp";
    assert_eq!(
        requests(c),
        vec![(Some("XXX".into()), None, Some(0))],
        "Arkime user xxx (lower-cased)"
    );
    assert_eq!(
        confirms(c),
        vec![Answer::Selected {
            flags: 0,
            protocol: 0
        }]
    );
}

#[test]
fn zeek_modbus_p502_rdp_probe_gets_a_truncated_tpkt() {
    let c = "zeek__modbus-and-non-modbus-p502";
    assert!(requests(c).contains(&(Some("admin".into()), None, Some(0x1))));
    let answer = pdus(c, "tpkt-other-truncated")
        .into_iter()
        .map(|p| p.bytes())
        .find(|b| b.starts_with(&[0x03, 0x00, 0x00, 0x2b]))
        .unwrap();
    assert_eq!(hex::encode(&answer), "0300002b0003008001");
    let err = decode::<Tpkt>(&answer).unwrap_err();
    assert_eq!(err.context, "TPDU");
    assert_eq!(
        err.kind,
        DecodeErrorKind::NotEnoughBytes {
            needed: 39,
            available: 5
        }
    );
    assert_eq!(err.offset, 4);
}
