//! `rdprobe decode`: one PDU or a run of frames given as hex, every layer and field named.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use rdprobe::dissect::{dissect, DissectError};

use super::open_output;
use crate::cli::Format;

/// Parses hex with whitespace, `:` separators and `0x` prefixes allowed.
pub(crate) fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String = text
        .split_whitespace()
        .map(|w| w.trim_start_matches("0x").trim_start_matches("0X"))
        .collect::<Vec<_>>()
        .concat()
        .replace(':', "");
    if let Some((i, c)) = cleaned.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        anyhow::bail!("decode: not hex: {:?} at character {i}", c);
    }
    if cleaned.len() % 2 != 0 {
        anyhow::bail!("decode: an odd number of hex digits ({})", cleaned.len());
    }
    hex::decode(&cleaned).context("not hex")
}

pub(crate) fn decode(
    arg: &str,
    format: Format,
    output: &Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let text = if arg == "-" {
        use rdprobe::active::targets::{read_limited, MAX_INPUT};
        read_limited(std::io::stdin().lock(), "standard input", MAX_INPUT)
            .map_err(|e| anyhow::anyhow!(e))?
    } else {
        arg.to_owned()
    };
    let bytes = parse_hex(&text)?;
    let (nodes, error) = dissect(&bytes);
    let inner_error = nodes
        .iter()
        .find_map(|n| n.first_error().map(str::to_owned));
    let mut out = open_output(output)?;
    match format {
        Format::Text => {
            let mut s = String::new();
            for n in &nodes {
                n.render_text(&mut s, 0);
            }
            out.write_all(s.as_bytes())?;
        }
        Format::Json => {
            let doc = serde_json::json!({
                "length": bytes.len(),
                "frames": nodes,
                "error": error.as_ref().map(ToString::to_string),
            });
            rdprobe::report::json::write_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    if let Some(e) = error {
        let what = match &e {
            DissectError::Empty => "nothing to decode".to_owned(),
            e => e.to_string(),
        };
        eprintln!("rdprobe: decode: {what}");
        return Ok(ExitCode::from(2));
    }
    if let Some(e) = inner_error {
        eprintln!("rdprobe: decode: {}", rdprobe::escape::terminal(&e));
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
