//! `probe --keylog FILE` (and `SSLKEYLOGFILE`, as curl and browsers honour it): the TLS secrets
//! of the probe's own main sessions in the NSS key log format (`CLIENT_RANDOM` for TLS 1.2,
//! the `*_TRAFFIC_SECRET_*` lines for TLS 1.3), so that a capture of a probe decrypts in
//! Wireshark. The file holds secrets: it is created readable by its owner only, and appended
//! to (one line per secret, written whole).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A key log that appends NSS lines to a file.
pub struct KeyLogTo {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl std::fmt::Debug for KeyLogTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLogTo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KeyLogTo {
    /// Opens `path` for appending (created mode 0600 on Unix).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(options.open(path)?),
        })
    }
}

/// One NSS key log line: `LABEL <client random, hex> <secret, hex>`.
pub fn line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    format!(
        "{label} {} {}\n",
        hex::encode(client_random),
        hex::encode(secret)
    )
}

impl rustls::KeyLog for KeyLogTo {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut text = zeroize::Zeroizing::new(line(label, client_random, secret));
        let mut file = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A key log that cannot be written loses a line, not the probe.
        let _ = file.write_all(text.as_bytes());
        zeroize::Zeroize::zeroize(&mut *text);
    }
}

/// The key log of a run: `--keylog FILE`, else the file `SSLKEYLOGFILE` names (rustls'
/// `KeyLogFile`), else none.
pub fn for_run(path: Option<&Path>) -> std::io::Result<Option<Arc<dyn rustls::KeyLog>>> {
    if let Some(p) = path {
        return Ok(Some(Arc::new(KeyLogTo::open(p)?)));
    }
    if std::env::var_os("SSLKEYLOGFILE").is_some_and(|v| !v.is_empty()) {
        return Ok(Some(Arc::new(rustls::KeyLogFile::new())));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_nss_key_log_lines_and_the_file_is_private() {
        assert_eq!(
            line("CLIENT_RANDOM", &[0xab; 2], &[0x01, 0x02]),
            "CLIENT_RANDOM abab 0102\n"
        );
        let dir = std::env::temp_dir().join(format!("rdprobe-keylog-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let log = KeyLogTo::open(&dir).unwrap();
        rustls::KeyLog::log(&log, "CLIENT_TRAFFIC_SECRET_0", &[1; 32], &[2; 48]);
        rustls::KeyLog::log(&log, "SERVER_TRAFFIC_SECRET_0", &[1; 32], &[3; 48]);
        let text = std::fs::read_to_string(&dir).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with(&format!("CLIENT_TRAFFIC_SECRET_0 {} ", "01".repeat(32))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_file(&dir);
    }
}
