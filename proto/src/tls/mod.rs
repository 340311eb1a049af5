//! The plaintext parts of TLS ([RFC 5246], [RFC 8446]) that RDP diagnosis needs: the record
//! header, handshake headers, ClientHello, ServerHello, Certificate (TLS <= 1.2, where it is
//! still in clear) and Alert; and an encoder for a probe ClientHello offering chosen versions
//! and suites (rustls cannot speak TLS 1.0/1.1, so the probe tests those with this).
//!
//! [RFC 5246]: https://www.rfc-editor.org/rfc/rfc5246
//! [RFC 8446]: https://www.rfc-editor.org/rfc/rfc8446
//!
//! [`registry`]: the IANA code points; [`record`]: records and alerts; [`handshake`]: handshake
//! messages (hellos, certificate); [`probe_hello`]: the probe's ClientHello.

mod handshake;
mod probe_hello;
mod record;
mod registry;

pub use handshake::*;
pub use probe_hello::*;
pub use record::*;
pub use registry::*;

/// Largest record fragment accepted (2^14 plaintext + 2048 expansion; headers allow 2^16-1).
pub const MAX_FRAGMENT: usize = 0xFFFF;
/// Largest handshake message accepted (a certificate chain fits well within this).
pub const MAX_HANDSHAKE: usize = 0x0001_0000 * 4;
/// Most certificates accepted in one Certificate message.
pub const MAX_CERTIFICATES: usize = 64;
