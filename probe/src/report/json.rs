//! JSON output that cannot drive a terminal: besides what JSON itself requires (U+0000..U+001F,
//! `"` and `\`), DEL, the C1 controls, bidirectional overrides, zero-width and other invisible
//! format characters, and the line/paragraph separators are written as `\uXXXX`, so that
//! `cat out.json` shows a hostile server name as text, never as terminal commands.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::capture::{CaptureReport, Summary, UdpFlow};
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Characters escaped on top of JSON's own set: DEL and the terminal-unsafe set of
/// [`crate::escape`] (C1, bidi, zero-width and other format characters).
fn needs_escape(c: char) -> bool {
    c == '\u{7f}' || crate::escape::is_unsafe_format(c)
}

/// A serde_json formatter that escapes the characters of [`needs_escape`] inside strings.
struct Safe<F>(F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Nearly every string is plain ASCII without DEL: two word-at-a-time scans decide.
        if fragment.is_ascii() && !fragment.as_bytes().contains(&0x7F) {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    // Everything else is the inner formatter's (indentation for the pretty one).
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as one line of JSON (no newline).
pub fn write_line<W: Write, T: Serialize + ?Sized>(w: &mut W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Safe(CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// Writes `value` as indented JSON (no newline).
pub fn write_pretty<W: Write, T: Serialize + ?Sized>(w: &mut W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Safe(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// The version of the JSON records' schema (`docs/schema/`, README "JSON schema"): raised on
/// every change that can break a reader (a field removed, renamed or retyped, a value's
/// meaning changed); adding a field or a finding id does not raise it.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Lines envelope shared by `probe`, `pcap` and `capture`:
/// What one JSON Lines line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// One probed target (`rdprobe probe`).
    Target,
    /// One finished connection (`rdprobe pcap`, `rdprobe capture`).
    Connection,
    /// The end of one capture ([`CaptureSummary`]), or of a probe of several targets
    /// ([`crate::report::fleet::FleetSummary`]).
    Summary,
    /// One attempt of `probe --watch` ([`crate::report::watch::Attempt`]).
    Attempt,
    /// The end of `probe --watch` ([`crate::report::watch::WatchSummary`]).
    WatchSummary,
}

/// The one JSON Lines envelope of every command:
/// `{"type": "target" | "connection" | "summary", "file"?: ..., "data": ...}`; `file` names
/// the capture a connection or summary comes from.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Envelope<'a, T: Serialize + ?Sized> {
    #[serde(rename = "type")]
    pub kind: LineKind,
    /// [`SCHEMA_VERSION`]: the version of the records' schema (docs/schema/).
    pub schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    pub data: &'a T,
}

/// The `data` of a capture's summary line: what is not in its connection lines.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CaptureSummary<'a> {
    pub packets: u64,
    pub bytes: u64,
    pub udp: &'a [UdpFlow],
    /// Capture-level findings (a password spray, a brute force): absent when none.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub findings: &'a [crate::diagnose::Finding],
    pub notices: &'a [String],
    pub summary: &'a Summary,
}

impl<'a> From<&'a CaptureReport> for CaptureSummary<'a> {
    fn from(r: &'a CaptureReport) -> Self {
        Self {
            packets: r.packets,
            bytes: r.bytes,
            udp: &r.udp,
            findings: &r.findings,
            notices: &r.notices,
            summary: &r.summary,
        }
    }
}

/// Writes one JSON Lines line (no newline): `data` in the envelope of `kind`; `file` names
/// the capture it comes from.
pub fn write_envelope<W: Write, T: Serialize + ?Sized>(
    w: &mut W,
    kind: LineKind,
    file: Option<&str>,
    data: &T,
) -> io::Result<()> {
    write_line(
        w,
        &Envelope {
            kind,
            schema_version: SCHEMA_VERSION,
            file,
            data,
        },
    )
}

/// Writes one connection's line (no newline); `file` names its capture.
pub fn write_connection<W: Write>(
    w: &mut W,
    file: Option<&str>,
    c: &crate::report::capture::Connection,
) -> io::Result<()> {
    write_envelope(w, LineKind::Connection, file, c)
}

/// The summary line of a capture.
pub fn summary_line(r: &CaptureReport) -> String {
    let mut out = Vec::with_capacity(4096);
    // Writing to a Vec cannot fail.
    let _ = write_envelope(
        &mut out,
        LineKind::Summary,
        Some(&r.file),
        &CaptureSummary::from(r),
    );
    String::from_utf8(out).unwrap_or_default()
}

/// `value` as one line of JSON.
pub fn line<T: Serialize + ?Sized>(value: &T) -> String {
    // Sized for a typical connection line: no regrowth while it is written.
    let mut out = Vec::with_capacity(4096);
    // Writing to a Vec cannot fail; a value that cannot serialise gives an empty line.
    let _ = write_line(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_the_json_stays_the_same_value() {
        let hostile = "a\u{1b}[2Jb\u{7f}c\u{9b}d\u{202e}e\u{200b}f\u{2028}g\"\\h é";
        let out = line(&serde_json::json!({ "name": hostile }));
        assert_eq!(
            out,
            r#"{"name":"a\u001b[2Jb\u007fc\u009bd\u202ee\u200bf\u2028g\"\\h é"}"#
        );
        assert!(out.chars().all(|c| !c.is_control() && !needs_escape(c)));
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["name"], hostile);
        let mut pretty = Vec::new();
        write_pretty(&mut pretty, &serde_json::json!({ "k": ["\u{85}"] })).unwrap();
        assert_eq!(
            String::from_utf8(pretty).unwrap(),
            "{\n  \"k\": [\n    \"\\u0085\"\n  ]\n}"
        );
    }
}
