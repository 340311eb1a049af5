//! `rdprobe summarize FILE...`: the fleet summary over the JSON Lines of many probe runs or
//! shards, and `probe --resume`'s reading of a previous run. Lines are read one at a time with
//! a bound on their length; a line that is cut short (a run killed while writing) or not JSON is
//! named by file and line on stderr and skipped.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use rdprobe::escape::terminal;
use rdprobe::report::fleet::{Entry, FleetSummary};

use super::{exit_code, open_output};
use crate::cli::OutFormat;

/// The longest line read (a probe result is a few KiB; this leaves room for many findings).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Calls `each` with every `{"type":"target"}` line's data of `path` (`-`: standard input),
/// with its line number; returns how many lines were skipped.
fn target_lines(
    path: &std::path::Path,
    mut each: impl FnMut(&serde_json::Value, usize),
) -> anyhow::Result<usize> {
    let name = terminal(&path.display().to_string());
    let input: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("reading {name}"))?)
    };
    let mut r = BufReader::new(input);
    let mut line = Vec::new();
    let mut n = 0usize;
    let mut skipped = 0usize;
    loop {
        line.clear();
        let got = r
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {name}"))?;
        if got == 0 {
            break;
        }
        n += 1;
        if line.len() as u64 > MAX_LINE {
            eprintln!("rdprobe: {name}, line {n}: longer than {MAX_LINE} bytes: skipped (and the rest of the file)");
            skipped += 1;
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v["type"] == "target" => each(&v["data"], n),
            Ok(_) => {}
            Err(e) => {
                let cut = if line.last() == Some(&b'\n') {
                    ""
                } else {
                    " (cut short: the run ended while writing it)"
                };
                eprintln!("rdprobe: {name}, line {n}: not a JSON line{cut}: {e}: skipped");
                skipped += 1;
            }
        }
    }
    Ok(skipped)
}

/// The targets (`host`, `port`) a previous run's JSON Lines hold (`probe --resume`).
pub(crate) fn targets_done(path: &std::path::Path) -> anyhow::Result<HashSet<(String, u16)>> {
    let mut done = HashSet::new();
    target_lines(path, |data, _| {
        if let (Some(t), Some(p)) = (data["target"].as_str(), data["port"].as_u64()) {
            if let Ok(p) = u16::try_from(p) {
                done.insert((t.to_owned(), p));
            }
        }
    })?;
    eprintln!(
        "rdprobe: resuming: {} target(s) already in {}",
        done.len(),
        terminal(&path.display().to_string())
    );
    Ok(done)
}

pub(crate) fn summarize(
    files: &[std::path::PathBuf],
    format: OutFormat,
    output: &Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if format == OutFormat::Nagios {
        anyhow::bail!("--format nagios is for probe");
    }
    let mut summary = FleetSummary::default();
    let mut seen: HashSet<(String, u16)> = HashSet::new();
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut input_error = false;
    for f in files {
        let name = terminal(&f.display().to_string());
        let mut twice = 0usize;
        let read = target_lines(f, |data, n| match Entry::from_json(data) {
            Some(e) => {
                if seen.insert((e.target.clone(), e.port)) {
                    worst = rdprobe::diagnose::worse(worst, e.verdict);
                    summary.add_entry(&e);
                } else {
                    twice += 1;
                }
            }
            None => eprintln!("rdprobe: {name}, line {n}: not a probe result: skipped"),
        });
        match read {
            Ok(_) => {}
            Err(e) => {
                eprintln!("rdprobe: {}", terminal(&format!("{e:#}")));
                input_error = true;
            }
        }
        if twice > 0 {
            eprintln!("rdprobe: {name}: {twice} target(s) already read from an earlier file: counted once");
        }
    }
    let mut out = open_output(output)?;
    match format {
        OutFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
        OutFormat::Jsonl => {
            rdprobe::report::json::write_line(
                &mut out,
                &rdprobe::report::json::Envelope {
                    kind: rdprobe::report::json::LineKind::Summary,
                    schema_version: rdprobe::report::json::SCHEMA_VERSION,
                    file: None,
                    data: &summary,
                },
            )?;
            writeln!(out)?;
        }
        _ => {
            let mut s = String::new();
            rdprobe::report::text::fleet(&summary, &mut s);
            out.write_all(s.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(exit_code(worst, input_error))
}
