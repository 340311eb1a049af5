//! TLS registries (IANA): versions, content types, handshake types, cipher suites, alerts,
//! extension types; open sets, unknown values kept.

use crate::codec::open_enum;

open_enum! {
    /// [RFC 8446 5.1] ContentType.
    pub struct ContentType(u8) {
        CHANGE_CIPHER_SPEC = 20,
        ALERT = 21,
        HANDSHAKE = 22,
        APPLICATION_DATA = 23,
        HEARTBEAT = 24,
    }
}

open_enum! {
    /// ProtocolVersion.
    pub struct ProtocolVersion(u16) {
        SSL_3_0 = 0x0300,
        TLS_1_0 = 0x0301,
        TLS_1_1 = 0x0302,
        TLS_1_2 = 0x0303,
        TLS_1_3 = 0x0304,
    }
}

impl ProtocolVersion {
    /// "TLSv1.2" style label.
    pub fn label(self) -> String {
        match self {
            Self::SSL_3_0 => "SSLv3".into(),
            Self::TLS_1_0 => "TLSv1.0".into(),
            Self::TLS_1_1 => "TLSv1.1".into(),
            Self::TLS_1_2 => "TLSv1.2".into(),
            Self::TLS_1_3 => "TLSv1.3".into(),
            v => format!("0x{:04x}", v.0),
        }
    }
}

open_enum! {
    /// [RFC 8446 4] HandshakeType.
    pub struct HandshakeType(u8) {
        HELLO_REQUEST = 0,
        CLIENT_HELLO = 1,
        SERVER_HELLO = 2,
        NEW_SESSION_TICKET = 4,
        END_OF_EARLY_DATA = 5,
        ENCRYPTED_EXTENSIONS = 8,
        CERTIFICATE = 11,
        SERVER_KEY_EXCHANGE = 12,
        CERTIFICATE_REQUEST = 13,
        SERVER_HELLO_DONE = 14,
        CERTIFICATE_VERIFY = 15,
        CLIENT_KEY_EXCHANGE = 16,
        FINISHED = 20,
    }
}

open_enum! {
    /// Cipher suites ([IANA TLS parameters]); the ones RDP servers pick, and those a probe offers.
    pub struct CipherSuite(u16) {
        TLS_RSA_WITH_RC4_128_MD5 = 0x0004,
        TLS_RSA_WITH_RC4_128_SHA = 0x0005,
        TLS_RSA_WITH_3DES_EDE_CBC_SHA = 0x000A,
        TLS_RSA_WITH_AES_128_CBC_SHA = 0x002F,
        TLS_DHE_RSA_WITH_AES_128_CBC_SHA = 0x0033,
        TLS_RSA_WITH_AES_256_CBC_SHA = 0x0035,
        TLS_DHE_RSA_WITH_AES_256_CBC_SHA = 0x0039,
        TLS_RSA_WITH_AES_128_CBC_SHA256 = 0x003C,
        TLS_RSA_WITH_AES_256_CBC_SHA256 = 0x003D,
        TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 = 0x0067,
        TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 = 0x006B,
        TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C,
        TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D,
        TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 = 0x009E,
        TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 = 0x009F,
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF,
        TLS_AES_128_GCM_SHA256 = 0x1301,
        TLS_AES_256_GCM_SHA384 = 0x1302,
        TLS_CHACHA20_POLY1305_SHA256 = 0x1303,
        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA = 0xC009,
        TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA = 0xC00A,
        TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA = 0xC012,
        TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA = 0xC013,
        TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA = 0xC014,
        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = 0xC023,
        TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 = 0xC024,
        TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = 0xC027,
        TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 = 0xC028,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9,
    }
}

open_enum! {
    /// [RFC 8446 6] AlertLevel.
    pub struct AlertLevel(u8) {
        WARNING = 1,
        FATAL = 2,
    }
}

open_enum! {
    /// [RFC 8446 6] AlertDescription.
    pub struct AlertDescription(u8) {
        CLOSE_NOTIFY = 0,
        UNEXPECTED_MESSAGE = 10,
        BAD_RECORD_MAC = 20,
        DECRYPTION_FAILED = 21,
        RECORD_OVERFLOW = 22,
        DECOMPRESSION_FAILURE = 30,
        HANDSHAKE_FAILURE = 40,
        NO_CERTIFICATE = 41,
        BAD_CERTIFICATE = 42,
        UNSUPPORTED_CERTIFICATE = 43,
        CERTIFICATE_REVOKED = 44,
        CERTIFICATE_EXPIRED = 45,
        CERTIFICATE_UNKNOWN = 46,
        ILLEGAL_PARAMETER = 47,
        UNKNOWN_CA = 48,
        ACCESS_DENIED = 49,
        DECODE_ERROR = 50,
        DECRYPT_ERROR = 51,
        EXPORT_RESTRICTION = 60,
        PROTOCOL_VERSION = 70,
        INSUFFICIENT_SECURITY = 71,
        INTERNAL_ERROR = 80,
        INAPPROPRIATE_FALLBACK = 86,
        USER_CANCELED = 90,
        NO_RENEGOTIATION = 100,
        MISSING_EXTENSION = 109,
        UNSUPPORTED_EXTENSION = 110,
        UNRECOGNIZED_NAME = 112,
        BAD_CERTIFICATE_STATUS_RESPONSE = 113,
        UNKNOWN_PSK_IDENTITY = 115,
        CERTIFICATE_REQUIRED = 116,
        NO_APPLICATION_PROTOCOL = 120,
    }
}

open_enum! {
    /// ExtensionType (selected).
    pub struct ExtensionType(u16) {
        SERVER_NAME = 0,
        STATUS_REQUEST = 5,
        SUPPORTED_GROUPS = 10,
        EC_POINT_FORMATS = 11,
        SIGNATURE_ALGORITHMS = 13,
        ALPN = 16,
        ENCRYPT_THEN_MAC = 22,
        EXTENDED_MASTER_SECRET = 23,
        SESSION_TICKET = 35,
        SUPPORTED_VERSIONS = 43,
        PSK_KEY_EXCHANGE_MODES = 45,
        KEY_SHARE = 51,
        RENEGOTIATION_INFO = 0xFF01,
    }
}
