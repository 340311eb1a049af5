//! [MS-RDPBCGR 2.2.1.3.3] Client Security Data (TS_UD_CS_SEC) and the encryption methods.

use crate::codec::le_u32;
use crate::PResult;

bitflags::bitflags! {
    /// [2.2.1.3.3] `encryptionMethods` / [2.2.1.4.3] `encryptionMethod`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct EncryptionMethods: u32 {
        const ENCRYPTION_METHOD_40BIT = 0x0000_0001;
        const ENCRYPTION_METHOD_128BIT = 0x0000_0002;
        const ENCRYPTION_METHOD_56BIT = 0x0000_0008;
        const ENCRYPTION_METHOD_FIPS = 0x0000_0010;
        const _ = !0;
    }
}

/// [2.2.1.3.3] Client Security Data (TS_UD_CS_SEC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientSecurityData {
    /// encryptionMethods
    pub encryption_methods: EncryptionMethods,
    /// extEncryptionMethods (French locale only)
    pub ext_encryption_methods: u32,
}

impl ClientSecurityData {
    pub(super) fn parse(data: &[u8]) -> PResult<'_, Self> {
        let (d, m) = le_u32("encryptionMethods")(data)?;
        let (d, ext) = le_u32("extEncryptionMethods")(d)?;
        Ok((
            d,
            Self {
                encryption_methods: EncryptionMethods::from_bits_retain(m),
                ext_encryption_methods: ext,
            },
        ))
    }

    pub(super) fn encoded_len(&self) -> usize {
        8
    }

    pub(super) fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.encryption_methods.bits().to_le_bytes());
        dst.extend_from_slice(&self.ext_encryption_methods.to_le_bytes());
    }
}
