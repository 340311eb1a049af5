//! Decrypting a capture's TLS sessions with their key logs, sans-IO (ARCHITECTURE.md, "The
//! capture pipeline"): NSS key logs ([`keylog`]), the record protection of TLS 1.2 and 1.3
//! ([`record`]) and one session's keys direction by direction ([`session`]).

pub mod keylog;
pub mod record;
pub mod session;

use std::sync::Arc;

use crate::facts::decrypt::KeySource;
use keylog::{KeyLog, Secrets};

/// Every key the analyzer may use: the `--keylog` files (shared by the files of a run) and the
/// Decryption Secrets Blocks of the capture being read.
#[derive(Debug, Default)]
pub struct Keys {
    pub file: Option<Arc<KeyLog>>,
    pub embedded: KeyLog,
}

impl Keys {
    /// No key at all: sessions are not looked up.
    pub fn is_empty(&self) -> bool {
        self.embedded.is_empty() && self.file.as_ref().is_none_or(|k| k.is_empty())
    }

    /// The secrets of the session with this ClientHello random, and where they came from (the
    /// capture's own first).
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<(&Secrets, KeySource)> {
        if let Some(s) = self.embedded.get(client_random) {
            return Some((s, KeySource::CaptureFile));
        }
        self.file
            .as_ref()?
            .get(client_random)
            .map(|s| (s, KeySource::KeyLogFile))
    }
}
