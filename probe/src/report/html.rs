//! `--html FILE`: one self-contained page (no network fetch: the CSS, the script and the data
//! are inline) that draws a probe's or a capture's report: the headline and findings, a ladder
//! diagram of the handshake, the stage timeline, and for probes the layers / TLS / methods
//! matrix, the certificate, CredSSP and the client matrix; for captures a sortable, filterable,
//! paginated table of connections whose rows open their details.
//!
//! The page is built from the same report structs as the JSON output, embedded as JSON; the
//! script (`html/report.js`) renders it with DOM calls that set text, never HTML, so a string
//! from the wire (a cookie, a certificate subject, an NTLM name holding `<script>`) is shown as
//! text, its control, bidi and zero-width characters spelled as the text output spells them
//! (`\x1b`, `\u{202e}`: [`crate::escape::terminal`], redone by the script's `wire`). Inside
//! the `<script type="application/json">` element `<`, `>` and `&` are written as `\u003c`,
//! `\u003e`, `\u0026`, so no string can close the element.

use serde::Serialize;

use crate::report::archive::ArchiveSummary;
use crate::report::capture::CaptureReport;
use crate::report::fleet::FleetSummary;
use crate::report::probe::ProbeResult;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

#[derive(Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Data<'a> {
    Probe {
        results: &'a [ProbeResult],
    },
    Capture {
        files: &'a [CaptureReport],
        /// Several files: their summary together, drawn first.
        #[serde(skip_serializing_if = "Option::is_none")]
        summary: Option<&'a ArchiveSummary>,
    },
    Fleet {
        summary: &'a FleetSummary,
    },
    Archive {
        summary: &'a ArchiveSummary,
    },
}

/// The page for probe results.
pub fn probe(results: &[ProbeResult]) -> String {
    page("rdprobe probe", &Data::Probe { results })
}

/// The page for capture reports, after their summary together (several files).
pub fn capture(files: &[CaptureReport], summary: Option<&ArchiveSummary>) -> String {
    page("rdprobe pcap", &Data::Capture { files, summary })
}

/// The page of a fleet summary (`summarize --html` over probe runs).
pub fn fleet(summary: &FleetSummary) -> String {
    page("rdprobe summarize", &Data::Fleet { summary })
}

/// The page of the summary of many captures (`summarize --html` over pcap runs).
pub fn archive(summary: &ArchiveSummary) -> String {
    page("rdprobe summarize", &Data::Archive { summary })
}

/// JSON that is safe inside a `<script>` element: `<`, `>`, `&` and the JavaScript line
/// separators escaped (they only occur inside JSON strings, where the escapes mean the same).
fn script_json(data: &impl Serialize) -> String {
    let mut buf = Vec::new();
    // The terminal-safe writer also escapes C1, bidi and zero-width characters.
    if crate::report::json::write_line(&mut buf, data).is_err() {
        return "null".into();
    }
    let json = String::from_utf8_lossy(&buf);
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, data: &Data) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header><h1>{title}</h1><p class=\"sub\">rdprobe {version}: why a Remote Desktop connection fails</p></header>\n\
         <main id=\"report\"><noscript>This report is drawn by its inline script; the same data is in <code>--format json</code>.</noscript></main>\n\
         <script type=\"application/json\" id=\"data\">{json}</script>\n\
         <script>\n{JS}</script>\n</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        json = script_json(data),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_cannot_leave_the_data_element() {
        let hostile = "</script><script>alert(1)</script>\"onload=x <!-- & \u{2028}";
        let j = script_json(&serde_json::json!({ "cookie": hostile }));
        assert!(
            !j.contains('<') && !j.contains('>') && !j.contains('&'),
            "{j}"
        );
        assert!(!j.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["cookie"], hostile, "the escapes mean the same string");
        let page = probe(&[]);
        assert_eq!(page.matches("<script").count(), 2, "only our two elements");
        for fetch in [" src=", "url(", "@import", "href=\"http", "fetch("] {
            assert!(!page.contains(fetch), "the page fetches nothing: {fetch}");
        }
    }
}
