//! The `rdprobe` command line.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use rdprobe::dissect::{dissect, DissectError};

/// Finds out why a Remote Desktop connection fails.
#[derive(Parser, Debug)]
#[command(name = "rdprobe", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes:\n  0  success\n  1  a verdict is `warning` or `error`\n  2  usage or input error (bad argument, unreadable file, undecodable bytes)";

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode one PDU or a run of frames given as hex, and print every layer and field.
    ///
    /// Accepts TPKT frames (X.224 / MCS / GCC / slow-path / licensing), TLS records, fast-path
    /// PDUs, a CredSSP TSRequest (DER), an NTLM message, or a bare MCS Connect-Initial /
    /// Connect-Response or GCC ConnectData. Whitespace, colons and a `0x` prefix are ignored.
    #[command(after_help = EXIT_CODES)]
    Decode {
        /// The bytes as hex, or `-` to read hex from standard input.
        hex: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Human-readable tree.
    Text,
    /// One JSON document.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rdprobe: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode { hex, format } => decode(&hex, format),
    }
}

/// Parses hex with whitespace, `:` separators and `0x` prefixes allowed.
fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String = text
        .split_whitespace()
        .map(|w| w.trim_start_matches("0x").trim_start_matches("0X"))
        .collect::<Vec<_>>()
        .concat()
        .replace(':', "");
    if let Some((i, c)) = cleaned.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        anyhow::bail!("not hex: {:?} at character {i}", c);
    }
    if cleaned.len() % 2 != 0 {
        anyhow::bail!("odd number of hex digits ({})", cleaned.len());
    }
    hex::decode(&cleaned).context("not hex")
}

fn decode(arg: &str, format: Format) -> anyhow::Result<ExitCode> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        arg.to_owned()
    };
    let bytes = parse_hex(&text)?;
    let (nodes, error) = dissect(&bytes);
    let inner_error = nodes
        .iter()
        .find_map(|n| n.first_error().map(str::to_owned));
    let mut out = std::io::stdout().lock();
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
            serde_json::to_writer_pretty(&mut out, &doc)?;
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
