//! [T.124 8.7] The Conference Create Request / Response envelope inside ConnectData, PER
//! encoded, with the forms seen on the wire kept for byte-exact re-encoding.

use crate::codec::{array, fit, invalid, len_u8, take, u8, unexpected};
use crate::per;
use crate::{EncodeError, Layer, PResult, Pdu};

use super::*;

/// PER forms seen on the wire, for byte-exact re-encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PerForms {
    /// connectPDU length used two octets.
    pub connect_pdu_long: bool,
    /// The connectPDU length as declared, when it is not the real length. Windows servers
    /// write 0x2A whatever the response's size; readers (FreeRDP, mstsc) ignore it, and so do
    /// we: the connectPDU runs to the end of the MCS userData.
    pub connect_pdu_declared: Option<u16>,
    /// The user data length used two octets.
    pub user_data_long: bool,
}

/// [T.124 8.7] ConferenceCreateRequest inside ConnectData, as [2.2.1.3] sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConferenceCreateRequest<'a> {
    /// The ConnectGCCPDU CHOICE octet (0x00) and the optional-field bitmap (0x08: userData).
    pub preamble: [u8; 2],
    /// conferenceName: NumericString, digits packed four bits each (RDP sends "1").
    pub conference_name_len: u8,
    pub conference_name: &'a [u8],
    /// lockedConference, listedConference, conductibleConference, terminationMethod bits.
    pub options: u8,
    /// userData SET OF count (1).
    pub user_data_count: u8,
    /// The UserData value's CHOICE octet (0xC0: value present, h221NonStandard).
    pub key_choice: u8,
    /// The h221NonStandard key ("Duca").
    pub h221_key: &'a [u8],
    /// The client data blocks.
    pub blocks: Vec<ClientBlock<'a>>,
    pub forms: PerForms,
}

/// [T.124 8.7] ConferenceCreateResponse inside ConnectData, as [2.2.1.4] sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConferenceCreateResponse<'a> {
    /// The ConnectGCCPDU CHOICE octet (0x14).
    pub choice: u8,
    /// nodeID (UserID, lower bound 1001).
    pub node_id: u16,
    /// tag (INTEGER) and its octets.
    pub tag: u32,
    pub tag_octets: u8,
    /// result (ENUMERATED, 0 = success).
    pub result: u8,
    /// userData SET OF count.
    pub user_data_count: u8,
    /// CHOICE octet of the UserData value.
    pub key_choice: u8,
    /// The h221NonStandard key ("McDn").
    pub h221_key: &'a [u8],
    /// The server data blocks.
    pub blocks: Vec<ServerBlock<'a>>,
    pub forms: PerForms,
}

/// Reads ConnectData up to the connectPDU, which runs to the end of the input.
pub(super) fn parse_connect_data<'a>(i: &'a [u8]) -> PResult<'a, (&'a [u8], PerForms)> {
    let (i, oid) = array::<7>(i, "t124Identifier")?;
    if *oid != T124_OBJECT_ID {
        return invalid(
            i,
            "t124Identifier",
            "not the T.124 object identifier 0.0.20.124.0.1",
        );
    }
    let (pdu, len) = per::parse_length(i, "connectPDU length")?;
    let declared = (usize::from(len.value) != pdu.len()).then_some(len.value);
    let forms = PerForms {
        connect_pdu_long: len.long,
        connect_pdu_declared: declared,
        user_data_long: false,
    };
    Ok((&[], (pdu, forms)))
}

pub(super) fn write_connect_pdu_len(
    dst: &mut Vec<u8>,
    forms: &PerForms,
    real: usize,
) -> Result<(), EncodeError> {
    let len = forms.connect_pdu_declared.map_or(real, usize::from);
    per::write_length(dst, len, forms.connect_pdu_long)
}

pub(super) fn connect_pdu_len_len(forms: &PerForms, real: usize) -> usize {
    per::length_len(
        forms.connect_pdu_declared.map_or(real, usize::from),
        forms.connect_pdu_long,
    )
}

/// Reads the h221NonStandard key (length - 4, then the key) and the user data length.
pub(super) fn parse_key_and_data<'a>(i: &'a [u8]) -> PResult<'a, (&'a [u8], &'a [u8], bool)> {
    let (i, key_len) = u8("h221NonStandard length")(i)?;
    let (i, key) = take(i, usize::from(key_len) + 4, "h221NonStandard")?;
    let (i, len) = per::parse_length(i, "userData length")?;
    let (i, data) = take(i, len.value.into(), "userData")?;
    Ok((i, (key, data, len.long)))
}

impl<'a> Pdu<'a> for ConferenceCreateRequest<'a> {
    const NAME: &'static str = "GCC Conference Create Request";
    const LAYER: Layer = Layer::Gcc;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (pdu, mut forms)) = parse_connect_data(i)?;
        let start = pdu;
        let (p, choice) = u8("ConnectGCCPDU")(pdu)?;
        if choice >> 2 != 0 {
            return unexpected(start, "ConnectGCCPDU", choice.into());
        }
        let (p, optional) = u8("optional fields")(p)?;
        let (p, name_len) = u8("conferenceName length")(p)?;
        let (p, conference_name) = take(
            p,
            usize::from(name_len).div_ceil(2).max(1),
            "conferenceName",
        )?;
        let (p, options) = u8("conference options")(p)?;
        let (p, user_data_count) = u8("userData count")(p)?;
        let (p, key_choice) = u8("UserData value")(p)?;
        let (p, (h221_key, data, user_data_long)) = parse_key_and_data(p)?;
        if !p.is_empty() {
            return invalid(p, "connectPDU", "trailing bytes");
        }
        let (_, blocks) = parse_blocks(data, ClientBlock::parse_data)?;
        forms.user_data_long = user_data_long;
        Ok((
            rest,
            Self {
                preamble: [choice, optional],
                conference_name_len: name_len,
                conference_name,
                options,
                user_data_count,
                key_choice,
                h221_key,
                blocks,
                forms,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let data = self.blocks_len();
        let pdu = self.pdu_len(data);
        7 + connect_pdu_len_len(&self.forms, pdu) + pdu
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let data = self.blocks_len();
        dst.extend_from_slice(&T124_OBJECT_ID);
        write_connect_pdu_len(dst, &self.forms, self.pdu_len(data))?;
        dst.extend_from_slice(&self.preamble);
        dst.push(self.conference_name_len);
        dst.extend_from_slice(self.conference_name);
        dst.extend_from_slice(&[self.options, self.user_data_count, self.key_choice]);
        write_key(dst, self.h221_key)?;
        per::write_length(dst, data, self.forms.user_data_long)?;
        for b in &self.blocks {
            write_block(dst, b.block_type(), b.data_len())?;
            b.encode_data(dst);
        }
        Ok(())
    }
}

pub(super) fn write_key(dst: &mut Vec<u8>, key: &[u8]) -> Result<(), EncodeError> {
    let Some(n) = key.len().checked_sub(4) else {
        return Err(EncodeError::Invalid {
            pdu: "GCC",
            field: "h221NonStandard",
            reason: "shorter than 4 bytes",
        });
    };
    fit("GCC", "h221NonStandard", n, 255)?;
    dst.push(len_u8(n));
    dst.extend_from_slice(key);
    Ok(())
}

impl ConferenceCreateRequest<'_> {
    fn blocks_len(&self) -> usize {
        self.blocks.iter().map(|b| 4 + b.data_len()).sum()
    }

    fn pdu_len(&self, data: usize) -> usize {
        2 + 1
            + self.conference_name.len()
            + 3
            + 1
            + self.h221_key.len()
            + per::length_len(data, self.forms.user_data_long)
            + data
    }

    /// The Client Core Data block.
    pub fn core(&self) -> Option<&ClientCoreData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Core(c) => Some(c),
            _ => None,
        })
    }

    /// The Client Security Data block.
    pub fn security(&self) -> Option<&ClientSecurityData> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Security(s) => Some(s),
            _ => None,
        })
    }

    /// The Client Network Data block.
    pub fn network(&self) -> Option<&ClientNetworkData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ClientBlock::Network(n) => Some(n),
            _ => None,
        })
    }
}

impl<'a> Pdu<'a> for ConferenceCreateResponse<'a> {
    const NAME: &'static str = "GCC Conference Create Response";
    const LAYER: Layer = Layer::Gcc;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (rest, (pdu, mut forms)) = parse_connect_data(i)?;
        let start = pdu;
        let (p, choice) = u8("ConnectGCCPDU")(pdu)?;
        if choice >> 2 != 5 {
            return unexpected(start, "ConnectGCCPDU", choice.into());
        }
        let (p, node_id) = per::parse_u16_min(p, 1001, "nodeID")?;
        let (p, (tag, tag_octets)) = per::parse_integer(p, "tag")?;
        let (p, result) = u8("result")(p)?;
        let (p, user_data_count) = u8("userData count")(p)?;
        let (p, key_choice) = u8("UserData value")(p)?;
        let (p, (h221_key, data, user_data_long)) = parse_key_and_data(p)?;
        if !p.is_empty() {
            return invalid(p, "connectPDU", "trailing bytes");
        }
        let (_, blocks) = parse_blocks(data, ServerBlock::parse_data)?;
        forms.user_data_long = user_data_long;
        Ok((
            rest,
            Self {
                choice,
                node_id,
                tag,
                tag_octets,
                result,
                user_data_count,
                key_choice,
                h221_key,
                blocks,
                forms,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        let data = self.blocks_len();
        let pdu = self.pdu_len(data);
        7 + connect_pdu_len_len(&self.forms, pdu) + pdu
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let data = self.blocks_len();
        dst.extend_from_slice(&T124_OBJECT_ID);
        write_connect_pdu_len(dst, &self.forms, self.pdu_len(data))?;
        dst.push(self.choice);
        per::write_u16_min(dst, self.node_id, 1001);
        per::write_integer(dst, self.tag, self.tag_octets);
        dst.extend_from_slice(&[self.result, self.user_data_count, self.key_choice]);
        write_key(dst, self.h221_key)?;
        per::write_length(dst, data, self.forms.user_data_long)?;
        for b in &self.blocks {
            write_block(dst, b.block_type(), b.data_len())?;
            b.encode_data(dst);
        }
        Ok(())
    }
}

impl ConferenceCreateResponse<'_> {
    fn blocks_len(&self) -> usize {
        self.blocks.iter().map(|b| 4 + b.data_len()).sum()
    }

    fn pdu_len(&self, data: usize) -> usize {
        1 + 2
            + 1
            + per::integer_octets(self.tag, self.tag_octets)
            + 3
            + 1
            + self.h221_key.len()
            + per::length_len(data, self.forms.user_data_long)
            + data
    }

    /// The Server Core Data block.
    pub fn core(&self) -> Option<&ServerCoreData> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Core(c) => Some(c),
            _ => None,
        })
    }

    /// The Server Security Data block.
    pub fn security(&self) -> Option<&ServerSecurityData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Security(s) => Some(s),
            _ => None,
        })
    }

    /// The Server Network Data block.
    pub fn network(&self) -> Option<&ServerNetworkData<'_>> {
        self.blocks.iter().find_map(|b| match b {
            ServerBlock::Network(n) => Some(n),
            _ => None,
        })
    }
}
