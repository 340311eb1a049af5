//! NSS key log files, the format `SSLKEYLOGFILE` writes and Wireshark reads (and pcapng
//! Decryption Secrets Blocks carry): `LABEL <client random, hex> <secret, hex>` per line.
//! `CLIENT_RANDOM` gives a TLS 1.0-1.2 session's master secret; `CLIENT_HANDSHAKE_TRAFFIC_SECRET`,
//! `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0` and `SERVER_TRAFFIC_SECRET_0`
//! a TLS 1.3 session's. Other labels (exporter, early data, `RSA`) are skipped. Bounded: at most
//! [`KeyLog::MAX_SESSIONS`] sessions, lines of at most 1 KiB.

use std::collections::HashMap;

use zeroize::Zeroizing;

/// The secrets of one TLS session (by its ClientHello random).
#[derive(Clone, Default)]
pub struct Secrets {
    /// TLS 1.0-1.2: the 48-byte master secret.
    pub master: Option<Zeroizing<Vec<u8>>>,
    /// TLS 1.3: the handshake and first application traffic secrets, each direction.
    pub client_handshake: Option<Zeroizing<Vec<u8>>>,
    pub server_handshake: Option<Zeroizing<Vec<u8>>>,
    pub client_traffic: Option<Zeroizing<Vec<u8>>>,
    pub server_traffic: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Which secrets, never their bytes.
        f.debug_struct("Secrets")
            .field("master", &self.master.is_some())
            .field("tls13", &self.client_traffic.is_some())
            .finish()
    }
}

/// The sessions of one or more key logs.
#[derive(Debug, Default)]
pub struct KeyLog {
    sessions: HashMap<[u8; 32], Secrets>,
    /// Lines that were not key log lines (line number, why), the first few.
    pub rejected: Vec<(usize, &'static str)>,
    /// How many lines were rejected in all.
    pub rejected_lines: usize,
}

/// What one text added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Added {
    /// Secrets read.
    pub secrets: usize,
    /// Lines that were neither a secret, a comment, an empty line nor a label skipped on purpose.
    pub rejected: usize,
}

impl KeyLog {
    /// At most this many sessions are kept (a larger key log keeps its first ones).
    pub const MAX_SESSIONS: usize = 100_000;
    const MAX_LINE: usize = 1024;
    const KEEP_REJECTED: usize = 8;

    /// Adds the lines of a key log.
    pub fn add_text(&mut self, text: &str) -> Added {
        let mut added = Added::default();
        for (i, line) in text.lines().enumerate() {
            match self.add_line(line) {
                Ok(true) => added.secrets += 1,
                Ok(false) => {}
                Err(why) => {
                    added.rejected += 1;
                    self.rejected_lines += 1;
                    if self.rejected.len() < Self::KEEP_REJECTED {
                        self.rejected.push((i + 1, why));
                    }
                }
            }
        }
        added
    }

    /// One line: Ok(true) a secret kept, Ok(false) nothing to keep, Err why it is not a line.
    fn add_line(&mut self, line: &str) -> Result<bool, &'static str> {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(false);
        }
        if line.len() > Self::MAX_LINE {
            return Err("a line over 1 KiB");
        }
        let mut words = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err("not LABEL RANDOM SECRET");
        };
        let slot: fn(&mut Secrets) -> &mut Option<Zeroizing<Vec<u8>>> = match label {
            "CLIENT_RANDOM" => |s| &mut s.master,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_handshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_handshake,
            "CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_traffic,
            "SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_traffic,
            "EXPORTER_SECRET" | "CLIENT_EARLY_TRAFFIC_SECRET" | "EARLY_EXPORTER_SECRET" | "RSA" => {
                return Ok(false)
            }
            _ => return Err("an unknown label"),
        };
        let mut random_bytes = [0u8; 32];
        hex::decode_to_slice(random, &mut random_bytes).map_err(|_| "not a 32-byte hex random")?;
        let secret = Zeroizing::new(hex::decode(secret).map_err(|_| "a secret that is not hex")?);
        let wanted = if label == "CLIENT_RANDOM" { 48 } else { 32 };
        if secret.len() != 48 && secret.len() != wanted {
            return Err("a secret of an unusable length");
        }
        if !self.sessions.contains_key(&random_bytes) && self.sessions.len() >= Self::MAX_SESSIONS {
            return Ok(false);
        }
        *slot(self.sessions.entry(random_bytes).or_default()) = Some(secret);
        Ok(true)
    }

    /// The secrets of the session whose ClientHello carried `client_random`.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.sessions.get(client_random)
    }

    /// Sessions known.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_log_lines() {
        let random = "01".repeat(32);
        let text = format!(
            "# a comment\n\nCLIENT_RANDOM {random} {}\r\nCLIENT_TRAFFIC_SECRET_0 {random} {}\nEXPORTER_SECRET {random} {}\nNOT_A_LABEL {random} 00\nCLIENT_RANDOM zz 00\nCLIENT_RANDOM {random}\n",
            "aa".repeat(48),
            "bb".repeat(32),
            "cc".repeat(32),
        );
        let mut log = KeyLog::default();
        let added = log.add_text(&text);
        assert_eq!(
            added,
            Added {
                secrets: 2,
                rejected: 3
            }
        );
        let s = log.get(&[1; 32]).unwrap();
        assert_eq!(s.master.as_deref().map(Vec::len), Some(48));
        assert_eq!(s.client_traffic.as_deref().map(Vec::len), Some(32));
        assert!(s.server_traffic.is_none());
        assert_eq!(
            log.rejected,
            [
                (6, "an unknown label"),
                (7, "not a 32-byte hex random"),
                (8, "not LABEL RANDOM SECRET")
            ]
        );
        // Never the bytes in Debug.
        assert!(!format!("{s:?}").contains("aa"));
    }
}
