//! Whether a captured TLS session could be read: where its key came from, its suite, or why it
//! stays encrypted ("no key for this session", "the key does not decrypt: server record 5
//! fails its tag"). The decryption itself is in `capture/decrypt`.

use rdp_proto::tls::CipherSuite;

use super::rdp::Dir;

/// Where a session's secrets came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `rdprobe pcap --keylog FILE` (an NSS key log).
    KeyLogFile,
    /// A pcapng Decryption Secrets Block in the capture itself.
    CaptureFile,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyLogFile => "keylog_file",
            Self::CaptureFile => "capture_file",
        }
    }
}

/// Why a session cannot be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoKey {
    /// The key log has no secret for this ClientHello random.
    NotInKeyLog,
    /// The cipher suite is not one rdprobe decrypts (RC4, 3DES, CCM, Camellia ...).
    Suite(u16),
    /// The key log has this session, but not the secrets its version needs.
    Incomplete,
    /// The capture lacks the ClientHello or ServerHello (joined mid-connection).
    NoHello,
}

impl std::fmt::Display for NoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInKeyLog => f.write_str("no key for this session"),
            Self::Suite(id) => write!(f, "cipher suite 0x{id:04x} is not one rdprobe decrypts"),
            Self::Incomplete => f.write_str("the key log lacks this session's traffic secrets"),
            Self::NoHello => f.write_str(
                "the capture lacks the TLS hellos (it joined mid-connection): no key can be matched",
            ),
        }
    }
}

/// Why a record did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than its nonce and tag.
    Short,
    /// The tag does not verify: a wrong key, or records out of step.
    Tag,
    /// TLS 1.3: an inner plaintext of padding only.
    NoType,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Short => "too short for its nonce and tag",
            Self::Tag => "fails its tag",
            Self::NoType => "has no content type",
        })
    }
}

/// A record that did not decrypt: which one of its direction (from 1) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed {
    pub dir: Dir,
    pub record: u64,
    pub why: OpenError,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = match self.dir {
            Dir::ClientToServer => "client",
            Dir::ServerToClient => "server",
        };
        write!(
            f,
            "the key does not decrypt: {who} record {} {}",
            self.record, self.why
        )
    }
}

/// How the decryption of one connection's TLS session went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decryption {
    /// Decrypted with a key from `source`; `records` opened (client, server).
    Decrypted {
        source: KeySource,
        suite: CipherSuite,
        records: (u64, u64),
    },
    /// Not decrypted.
    NoKey(NoKey),
    /// The key was found but a record failed; the records before it were read.
    Failed {
        source: KeySource,
        suite: CipherSuite,
        failed: Failed,
    },
}

impl Decryption {
    /// Read with its key (all of it, or up to a record that failed).
    pub fn decrypted(&self) -> bool {
        !matches!(self, Self::NoKey(_))
    }

    /// The notice a report shows, None when everything decrypted.
    pub fn notice(&self) -> Option<String> {
        match self {
            Self::Decrypted { .. } => None,
            Self::NoKey(n) => Some(n.to_string()),
            Self::Failed { failed, .. } => Some(failed.to_string()),
        }
    }
}
