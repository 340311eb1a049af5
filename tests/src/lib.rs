//! Helpers for the integration tests: fixture paths and the PDU manifests.

use std::path::PathBuf;

pub mod peers;

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Reads a fixture file.
pub fn read(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// One row of a `MANIFEST.tsv` written by `fixtures/tools/extract_pdus.py`.
#[derive(Clone, Debug)]
pub struct PduFile {
    /// Path relative to `fixtures/`.
    pub path: String,
    pub capture: String,
    pub direction: String,
    pub frames: String,
    pub kind: String,
    pub client: String,
    pub server: String,
}

impl PduFile {
    pub fn bytes(&self) -> Vec<u8> {
        read(&self.path)
    }

    /// "capture frames N (c2s)" for assertion messages.
    pub fn origin(&self) -> String {
        format!(
            "{} ({} frames {} {})",
            self.path, self.capture, self.frames, self.direction
        )
    }
}

/// Rows of `fixtures/<dir>/MANIFEST.tsv`.
pub fn manifest(dir: &str) -> Vec<PduFile> {
    let text = String::from_utf8(read(&format!("{dir}/MANIFEST.tsv"))).expect("manifest is UTF-8");
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (file, capture, direction, frames, kind, client, server) = (
        col("file"),
        col("capture"),
        col("direction"),
        col("frames"),
        col("kind"),
        col("client"),
        col("server"),
    );
    rows.filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            PduFile {
                path: format!("{dir}/{}", f[file]),
                capture: f[capture].to_owned(),
                direction: f[direction].to_owned(),
                frames: f[frames].to_owned(),
                kind: f[kind].to_owned(),
                client: f[client].to_owned(),
                server: f[server].to_owned(),
            }
        })
        .collect()
}

/// Every PDU file: the public captures' and the real peers'.
pub fn all_pdus() -> Vec<PduFile> {
    let mut v = manifest("pdu");
    v.extend(manifest("pdu/peers"));
    v
}

/// Files of one capture and kind, in stream order.
pub fn pdus(capture: &str, kind: &str) -> Vec<PduFile> {
    all_pdus()
        .into_iter()
        .filter(|p| p.capture == capture && p.kind == kind)
        .collect()
}
