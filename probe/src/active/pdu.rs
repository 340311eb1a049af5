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
}
