//! `rdprobe summarize FILE...`: the fleet summary over the JSON Lines of many probe runs or
//! shards, or the summary of many captures over the JSON Lines of pcap runs; and `probe
//! --resume`'s reading of a previous run. Lines are read one at a time with
//! a bound on their length; a line that is cut short (a run killed while writing) or not JSON is
//! named by file and line on stderr and skipped.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use rdprobe::escape::terminal;
use rdprobe::report::archive::{ArchiveSummary, ConnectionEntry, FileEntry};
use rdprobe::report::fleet::{Entry, FleetSummary};

use super::{exit_code, open_output, write_html};
use crate::cli::OutFormat;

/// The longest line read (a probe result is a few KiB; this leaves room for many findings).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// One JSON Lines line: its `type`, `file` and `data` (as JSON text, read by the entry that
/// fits its type: a line is scanned once, and only the fields summaries need become values).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    file: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// One line for the callers: its type, file, data and line number.
struct Line<'a> {
    kind: &'a str,
    file: Option<&'a str>,
    data: &'a str,
    number: usize,
}

/// Calls `each` with every line of `path` (`-`: standard input); returns how many lines were
/// skipped.
fn json_lines(path: &std::path::Path, mut each: impl FnMut(Line)) -> anyhow::Result<usize> {
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
        match serde_json::from_str::<Envelope>(text) {
            Ok(v) => each(Line {
                kind: &v.kind,
                file: v.file.as_deref(),
                data: v.data.get(),
                number: n,
            }),
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
    json_lines(path, |line| {
        if line.kind != "target" {
            return;
        }
        // A line that is not a whole result is probed again.
        if let Some(e) = Entry::from_json(line.data) {
            done.insert((e.target, e.port));
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
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    if format == OutFormat::Nagios {
        anyhow::bail!("--format nagios is for probe");
    }
    let mut fleet = FleetSummary::default();
    let mut seen: HashSet<(String, u16)> = HashSet::new();
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut captures = Captures::default();
    let mut input_error = false;
    for f in files {
        let name = terminal(&f.display().to_string());
        let mut twice = 0usize;
        let read = json_lines(f, |line| match (line.kind, line.file) {
            ("target", _) => match Entry::from_json(line.data) {
                Some(e) => {
                    if seen.insert((e.target.clone(), e.port)) {
                        worst = rdprobe::diagnose::worse(worst, e.verdict);
                        fleet.add_entry(&e);
                    } else {
                        twice += 1;
                    }
                }
                None => eprintln!(
                    "rdprobe: {name}, line {}: not a probe result: skipped",
                    line.number
                ),
            },
            ("connection", capture) => match ConnectionEntry::from_json(line.data) {
                Some(c) => captures.connection(capture.unwrap_or_default(), &c),
                None => eprintln!(
                    "rdprobe: {name}, line {}: not a capture's connection: skipped",
                    line.number
                ),
            },
            // A capture's end; a summary without a file is a run's own (of probe targets, or
            // of several captures) and is made again here.
            ("summary", Some(capture)) => match FileEntry::from_json(capture, line.data) {
                Some(e) => {
                    if !captures.end(&e) {
                        eprintln!("rdprobe: {name}: capture {} already read from an earlier file: counted once", terminal(capture));
                    }
                }
                None => eprintln!(
                    "rdprobe: {name}, line {}: not a capture's summary: skipped",
                    line.number
                ),
            },
            _ => {}
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
    let (archive, cut_short) = captures.finish();
    let captures_read = archive.files > 0 || cut_short > 0;
    if fleet.targets > 0 && captures_read {
        anyhow::bail!(
            "the files hold both probe results and capture connections: summarize one kind at a time"
        );
    }
    let mut out = open_output(output)?;
    if captures_read {
        let t = &archive.summary;
        worst = if t.error > 0 {
            rdprobe::diagnose::Verdict::Error
        } else if t.warning > 0 {
            rdprobe::diagnose::Verdict::Warning
        } else {
            rdprobe::diagnose::Verdict::Ok
        };
        write_summary(&mut out, format, &archive, rdprobe::report::text::archive)?;
        if let Some(path) = html {
            write_html(path, &rdprobe::report::html::archive(&archive))?;
        }
    } else {
        write_summary(&mut out, format, &fleet, rdprobe::report::text::fleet)?;
        if let Some(path) = html {
            write_html(path, &rdprobe::report::html::fleet(&fleet))?;
        }
    }
    out.flush()?;
    Ok(exit_code(worst, input_error))
}

/// A summary in `format`: indented JSON, one JSON Lines summary line, or text.
fn write_summary<W: Write, T: serde::Serialize>(
    out: &mut W,
    format: OutFormat,
    summary: &T,
    text: impl FnOnce(&T, &mut String),
) -> anyhow::Result<()> {
    match format {
        OutFormat::Json => rdprobe::report::json::write_pretty(out, summary)?,
        OutFormat::Jsonl => rdprobe::report::json::write_envelope(
            out,
            rdprobe::report::json::LineKind::Summary,
            None,
            summary,
        )?,
        _ => {
            let mut s = String::new();
            text(summary, &mut s);
            out.write_all(s.trim_end().as_bytes())?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The captures read so far: each capture's connections wait for its summary line, and a
/// capture read twice (the same file in two runs) is counted once.
#[derive(Default)]
struct Captures {
    /// Connections of captures whose summary line has not come yet.
    open: HashMap<String, ArchiveSummary>,
    /// Captures counted.
    ended: HashSet<String>,
    total: ArchiveSummary,
}

impl Captures {
    fn connection(&mut self, capture: &str, c: &ConnectionEntry) {
        if !self.open.contains_key(capture) {
            self.open
                .insert(capture.to_owned(), ArchiveSummary::default());
        }
        if let Some(part) = self.open.get_mut(capture) {
            part.add_entry(c);
        }
    }

    /// A capture's summary line; false when that capture was counted already.
    fn end(&mut self, e: &FileEntry) -> bool {
        let part = self.open.remove(&e.file).unwrap_or_default();
        if !self.ended.insert(e.file.clone()) {
            return false;
        }
        self.total.merge(&part);
        self.total.add_file(e);
        true
    }

    /// The summary, and how many captures had no summary line (a run cut short): their
    /// connections are counted, their totals cannot be.
    fn finish(mut self) -> (ArchiveSummary, usize) {
        let mut cut: Vec<_> = self.open.into_iter().collect();
        cut.retain(|(capture, _)| !self.ended.contains(capture));
        cut.sort_by(|a, b| a.0.cmp(&b.0));
        let n = cut.len();
        for (capture, part) in cut {
            eprintln!(
                "rdprobe: capture {}: connection lines without its summary line (the run was cut short?): its connections are counted, its totals are not",
                terminal(if capture.is_empty() { "(live)" } else { &capture })
            );
            self.total.merge(&part);
        }
        (self.total, n)
    }
}
