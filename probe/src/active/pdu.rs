//! The PDUs the probe sends, built with `rdp_proto`'s encoders, and the interpretation of what
//! comes back. No I/O here: the stage runners in [`super::run`] move the bytes.

use rdp_proto::ber::Layout;
use rdp_proto::gcc::{
    self, BlockType, ChannelDef, ClientBlock, ClientCoreData, ClientCoreOptional, ColorDepth,
    ConferenceCreateRequest, EncryptionMethods, PerForms, RdpVersion,
};
use rdp_proto::mcs::{ConnectInitial, DomainParameters};
use rdp_proto::nego::{NegotiationRequest, SecurityProtocol};
use rdp_proto::x224::{ConnectionRequest, Data, Token, Tpdu};
use rdp_proto::{EncodeError, Pdu};

/// The cookie the probe sends (mstsc sends the first 9 characters of the user name).
pub const COOKIE: &[u8] = b"rdprobe";

/// An X.224 Connection Request in a TPKT; `protocols` None sends no RDP_NEG_REQ (a pre-Vista
/// client, which servers answer with Standard RDP Security).
pub fn connection_request(protocols: Option<SecurityProtocol>) -> Result<Vec<u8>, EncodeError> {
    let cr = ConnectionRequest {
        token: Some(Token::Cookie(COOKIE)),
        negotiation: protocols.map(NegotiationRequest::new),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(48);
    Tpdu::ConnectionRequest(cr).encode_tpkt(&mut out)?;
    Ok(out)
}

fn domain_parameters(v: [u32; 8]) -> DomainParameters {
    DomainParameters {
        max_channel_ids: v[0],
        max_user_ids: v[1],
        max_token_ids: v[2],
        num_priorities: v[3],
        min_throughput: v[4],
        max_height: v[5],
        max_mcspdu_size: v[6],
        protocol_version: v[7],
        layout: Layout::default(),
    }
}

/// An MCS Connect-Initial (in X.224 Data, in a TPKT) offering exactly `methods`, as mstsc
/// builds it: client core data (RDP 5+, 1024x768, errinfo PDU support), security data, no
/// static channels. `selected` is the protocol the server selected (serverSelectedProtocol).
pub fn connect_initial(
    methods: EncryptionMethods,
    selected: Option<SecurityProtocol>,
) -> Result<Vec<u8>, EncodeError> {
    let mut name = [0u8; 32];
    for (i, c) in "RDPROBE".encode_utf16().enumerate() {
        name[2 * i..2 * i + 2].copy_from_slice(&c.to_le_bytes());
    }
    let ime = [0u8; 64];
    let dig = [0u8; 64];
    let core = ClientCoreData {
        version: RdpVersion::RDP_VERSION_5_PLUS,
        desktop_width: 1024,
        desktop_height: 768,
        color_depth: ColorDepth::RNS_UD_COLOR_8BPP,
        sas_sequence: 0xAA03,
        keyboard_layout: 0x409,
        client_build: 2600,
        client_name: &name,
        keyboard_type: 4,
        keyboard_sub_type: 0,
        keyboard_function_key: 12,
        ime_file_name: &ime,
        optional: ClientCoreOptional {
            post_beta2_color_depth: Some(ColorDepth::RNS_UD_COLOR_8BPP),
            client_product_id: Some(1),
            serial_number: Some(0),
            high_color_depth: Some(16),
            supported_color_depths: Some(0x000F),
            early_capability_flags: Some(0x0001),
            client_dig_product_id: Some(&dig),
            connection_type: Some(0),
            pad1octet: Some(0),
            server_selected_protocol: Some(selected.map_or(0, |p| p.bits())),
            ..Default::default()
        },
        trailing: &[],
    };
    let no_channels: Vec<ChannelDef<'_>> = Vec::new();
    let gcc = ConferenceCreateRequest {
        preamble: [0x00, 0x08],
        conference_name_len: 0,
        conference_name: &[0x10],
        options: 0,
        user_data_count: 1,
        key_choice: 0xC0,
        h221_key: &gcc::H221_CLIENT_KEY,
        blocks: vec![
            ClientBlock::Core(core),
            ClientBlock::Security(gcc::ClientSecurityData {
                encryption_methods: methods,
                ext_encryption_methods: 0,
            }),
            ClientBlock::Network(gcc::ClientNetworkData {
                channels: no_channels,
                trailing: &[],
            }),
            ClientBlock::Unknown(gcc::UnknownBlock {
                block_type: BlockType::CS_CLUSTER,
                data: &[0x0D, 0, 0, 0, 0, 0, 0, 0],
            }),
        ],
        forms: PerForms {
            connect_pdu_long: true,
            connect_pdu_declared: None,
            user_data_long: true,
        },
    };
    let mut user_data = Vec::with_capacity(gcc.encoded_len());
    gcc.encode(&mut user_data)?;
    let mut layout = Layout::default();
    layout.set(0, 3); // mstsc writes the outer length as 82 xx xx
    layout.set(3, 3);
    let ci = ConnectInitial {
        calling_domain_selector: &[1],
        called_domain_selector: &[1],
        upward_flag: true,
        target_parameters: domain_parameters([34, 2, 0, 1, 0, 1, 0xFFFF, 2]),
        minimum_parameters: domain_parameters([1, 1, 1, 1, 0, 1, 0x420, 2]),
        maximum_parameters: domain_parameters([0xFFFF, 0xFC17, 0xFFFF, 1, 0, 1, 0xFFFF, 2]),
        user_data: &user_data,
        layout,
    };
    let mut mcs = Vec::with_capacity(ci.encoded_len());
    ci.encode(&mut mcs)?;
    let mut out = Vec::with_capacity(mcs.len() + 7);
    Tpdu::Data(Data {
        eot: 0x80,
        variable: &[],
        payload: &mcs,
    })
    .encode_tpkt(&mut out)?;
    Ok(out)
}

/// What a Connection Confirm said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// RDP_NEG_RSP: selected protocol and flags.
    Selected {
        protocol: SecurityProtocol,
        flags: u8,
    },
    /// RDP_NEG_FAILURE code.
    Failure(u32),
    /// No negotiation data (legacy server: Standard RDP Security).
    Legacy,
}

/// Reads a Connection Confirm from one TPKT frame; None if it is not one.
pub fn parse_confirm(frame: &[u8]) -> Option<Confirm> {
    let (_, (_, tpdu)) = Tpdu::parse_tpkt(frame).ok()?;
    let Tpdu::ConnectionConfirm(cc) = tpdu else {
        return None;
    };
    Some(match cc.negotiation {
        Some(rdp_proto::x224::NegotiationResult::Response(r)) => Confirm::Selected {
            protocol: r.selected_protocol,
            flags: r.flags.bits(),
        },
        Some(rdp_proto::x224::NegotiationResult::Failure(f)) => Confirm::Failure(f.code.0),
        None => Confirm::Legacy,
    })
}

/// The server's answer to a Connect-Initial: selected method, level, version, certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerSecurity {
    pub result: String,
    pub version: Option<String>,
    pub method: u32,
    pub level: u32,
    pub level_name: String,
    pub certificate_type: Option<String>,
    pub rsa_bits: Option<u32>,
    pub x509_chain: Vec<Vec<u8>>,
}

/// Reads an MCS Connect-Response (in X.224 Data in a TPKT).
pub fn parse_connect_response(frame: &[u8]) -> Option<ServerSecurity> {
    let (_, (_, tpdu)) = Tpdu::parse_tpkt(frame).ok()?;
    let Tpdu::Data(d) = tpdu else { return None };
    let cr: rdp_proto::mcs::ConnectResponse = rdp_proto::decode(d.payload).ok()?;
    let mut s = ServerSecurity {
        result: cr.result.to_string(),
        ..Default::default()
    };
    if let Ok(resp) = rdp_proto::decode::<gcc::ConferenceCreateResponse>(cr.user_data) {
        s.version = resp.core().map(|c| c.version.label());
        if let Some(sec) = resp.security() {
            s.method = sec.encryption_method.bits();
            s.level = sec.encryption_level.0;
            s.level_name = sec.encryption_level.to_string();
            if let Some(Ok(cert)) = sec.certificate() {
                match cert.certificate {
                    gcc::ServerCertificate::Proprietary(p) => {
                        s.certificate_type = Some("proprietary".into());
                        s.rsa_bits = Some(p.public_key.bitlen);
                    }
                    gcc::ServerCertificate::X509 { certificates, .. } => {
                        s.certificate_type = Some("x509".into());
                        s.x509_chain = certificates.iter().map(|c| c.to_vec()).collect();
                    }
                    gcc::ServerCertificate::Unknown { .. } => {
                        s.certificate_type = Some("unknown".into())
                    }
                }
            }
        }
    }
    Some(s)
}

/// The name of one encryption method bit.
pub fn method_name(bits: u32) -> &'static str {
    match bits {
        0 => "none",
        0x01 => "40bit",
        0x02 => "128bit",
        0x08 => "56bit",
        0x10 => "fips",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_to_what_was_asked() {
        let cr =
            connection_request(Some(SecurityProtocol::SSL | SecurityProtocol::HYBRID)).unwrap();
        let (_, (_, tpdu)) = Tpdu::parse_tpkt(&cr).unwrap();
        let Tpdu::ConnectionRequest(cr) = tpdu else {
            panic!()
        };
        assert_eq!(cr.cookie(), Some(COOKIE));
        assert_eq!(cr.negotiation.unwrap().requested_protocols.bits(), 3);
        let legacy = connection_request(None).unwrap();
        let (_, (_, tpdu)) = Tpdu::parse_tpkt(&legacy).unwrap();
        assert!(matches!(tpdu, Tpdu::ConnectionRequest(c) if c.negotiation.is_none()));
    }

    #[test]
    fn connect_initial_offers_one_method_and_parses_back() {
        let ci = connect_initial(
            EncryptionMethods::ENCRYPTION_METHOD_40BIT,
            Some(SecurityProtocol::RDP),
        )
        .unwrap();
        let (_, (_, tpdu)) = Tpdu::parse_tpkt(&ci).unwrap();
        let Tpdu::Data(d) = tpdu else { panic!() };
        let mcs: ConnectInitial = rdp_proto::decode(d.payload).unwrap();
        let gcc: ConferenceCreateRequest = rdp_proto::decode(mcs.user_data).unwrap();
        assert_eq!(
            gcc.security().unwrap().encryption_methods,
            EncryptionMethods::ENCRYPTION_METHOD_40BIT
        );
        assert_eq!(gcc.core().unwrap().client_name(), "RDPROBE");
        assert!(gcc.network().unwrap().channels.is_empty());
    }

    #[test]
    fn confirms_from_real_servers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdu/peers");
        let nla = std::fs::read(dir.join("credssp/shadow-nla_x224_cc.bin")).unwrap();
        assert_eq!(
            parse_confirm(&nla),
            Some(Confirm::Selected {
                protocol: SecurityProtocol::HYBRID,
                flags: 3
            })
        );
        let fail = std::fs::read(dir.join("nmap_shadow-nla/014-s2c-x224-cc.bin")).unwrap();
        assert_eq!(parse_confirm(&fail), Some(Confirm::Failure(5)));
        let xp = std::fs::read(
            dir.join("../suricata-verify__rdp-protocol__RDP-003/002-s2c-x224-cc.bin"),
        )
        .unwrap();
        assert_eq!(parse_confirm(&xp), Some(Confirm::Legacy));
    }
}
