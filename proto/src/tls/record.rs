//! [RFC 8446 5.1] TLSPlaintext records and [RFC 8446 6] alerts.

use crate::codec::{be_u16, fit, len_u16, take, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

use super::*;

/// [RFC 8446 5.1] TLSPlaintext: one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// type
    pub content_type: ContentType,
    /// legacy_record_version
    pub version: ProtocolVersion,
    /// fragment
    pub fragment: &'a [u8],
}

impl<'a> Pdu<'a> for Record<'a> {
    const NAME: &'static str = "TLSPlaintext";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, ty) = u8("type")(i)?;
        let (i, version) = be_u16("legacy_record_version")(i)?;
        let (i, len) = be_u16("length")(i)?;
        let (i, fragment) = take(i, len.into(), "fragment")?;
        Ok((
            i,
            Self {
                content_type: ContentType(ty),
                version: ProtocolVersion(version),
                fragment,
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        5 + self.fragment.len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        fit(Self::NAME, "length", self.fragment.len(), MAX_FRAGMENT)?;
        dst.push(self.content_type.0);
        dst.extend_from_slice(&self.version.0.to_be_bytes());
        dst.extend_from_slice(&len_u16(self.fragment.len()).to_be_bytes());
        dst.extend_from_slice(self.fragment);
        Ok(())
    }
}

/// [RFC 8446 6] Alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub level: AlertLevel,
    pub description: AlertDescription,
}

impl<'a> Pdu<'a> for Alert {
    const NAME: &'static str = "Alert";
    const LAYER: Layer = Layer::Tls;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, level) = u8("level")(i)?;
        let (i, description) = u8("description")(i)?;
        Ok((
            i,
            Self {
                level: AlertLevel(level),
                description: AlertDescription(description),
            },
        ))
    }

    fn encoded_len(&self) -> usize {
        2
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        dst.extend_from_slice(&[self.level.0, self.description.0]);
        Ok(())
    }
}
