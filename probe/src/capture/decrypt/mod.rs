//! Decrypting a capture's TLS sessions with their key logs, sans-IO (ARCHITECTURE.md, "The
//! capture pipeline"): NSS key logs ([`keylog`]) and the record protection of TLS 1.2 and 1.3
//! ([`record`]).

pub mod keylog;
pub mod record;
pub mod session;
