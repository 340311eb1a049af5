//! `rdprobe pcap`: one capture file with a progress bar, or several on every core, written in
//! argument order; text, JSON, JSON Lines and the HTML page.

use std::io::Write;
use std::process::ExitCode;

use super::{exit_code, progress_bar, write_html};
use crate::cli::OutFormat;

/// What `rdprobe pcap` is asked besides its files and output.
pub(crate) struct PcapArgs {
    pub(crate) ports: Vec<u16>,
    pub(crate) format: OutFormat,
    pub(crate) paint: bool,
    pub(crate) html: Option<std::path::PathBuf>,
    pub(crate) keylog: Option<std::path::PathBuf>,
    /// `-j N`: files analysed at once (None: the cores).
    pub(crate) jobs: Option<u16>,
}

pub(crate) fn pcap(
    files: &[std::path::PathBuf],
    out: Box<dyn Write>,
    args: PcapArgs,
) -> anyhow::Result<ExitCode> {
    let PcapArgs {
        ports,
        format,
        paint,
        html,
        keylog,
        jobs,
    } = args;
    let base = rdprobe::capture::analyzer::Config {
        ports,
        series: html.is_some(),
        keylog: keylog.as_deref().map(read_keylog).transpose()?,
        ..Default::default()
    };
    // The reports the HTML page shows (text mode: the connections the text lists).
    let mut for_html: Vec<rdprobe::report::capture::CaptureReport> = Vec::new();
    use rdprobe::capture::batch::{
        analyze_all, analyze_jsonl, analyze_one, Event, FileResult, Mode,
    };
    let mode = match format {
        // main refuses nagios for pcap before this.
        OutFormat::Text | OutFormat::Nagios => Mode::Text,
        OutFormat::Json => Mode::Json,
        OutFormat::Jsonl => Mode::Jsonl,
    };
    // Block-buffered (open_output): a line-buffered stdout costs a write(2) per connection.
    let mut out = out;
    let mut reports = Vec::new();
    let mut input_error = false;
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut write_error: Option<std::io::Error> = None;
    // The summary of several files (written after them).
    let mut archive = rdprobe::report::archive::ArchiveSummary::default();
    // One file's end: its verdicts, then its report (text), summary line (jsonl) or kept
    // report (json).
    let mut done = |result: Result<FileResult, String>,
                    out: &mut dyn Write,
                    reports: &mut Vec<rdprobe::report::capture::CaptureReport>|
     -> std::io::Result<()> {
        let FileResult {
            report: r,
            scans,
            archive: part,
        } = match result {
            Ok(r) => r,
            Err(e) => {
                input_error = true;
                eprintln!("rdprobe: {}", rdprobe::escape::terminal(&e));
                return Ok(());
            }
        };
        archive.merge(&part);
        let s = &r.summary;
        if s.error > 0 {
            worst = rdprobe::diagnose::Verdict::Error;
        } else if s.warning > 0 {
            worst = rdprobe::diagnose::worse(worst, rdprobe::diagnose::Verdict::Warning);
        }
        for c in &r.connections {
            worst = rdprobe::diagnose::worse(worst, c.verdict);
        }
        if html.is_some() && format == OutFormat::Text {
            let mut page = r.clone();
            page.connections.extend(scans.individual.iter().cloned());
            page.connections.sort_by_key(|c| c.first_packet);
            let grouped = scans.total.saturating_sub(scans.individual.len() as u64);
            if grouped > 0 {
                page.notices.push(format!(
                    "{grouped} scan-like attempt(s) (no payload either way) are summarised in the text report, not listed here"
                ));
            }
            for_html.push(page);
        }
        match format {
            OutFormat::Text | OutFormat::Nagios => {
                let mut s = String::new();
                rdprobe::report::text::capture_with_scans(&r, &scans, &mut s);
                if paint {
                    s = rdprobe::report::text::paint(&s);
                }
                out.write_all(s.as_bytes())
            }
            OutFormat::Jsonl => {
                writeln!(out, "{}", rdprobe::report::json::summary_line(&r))
            }
            OutFormat::Json => {
                reports.push(r);
                Ok(())
            }
        }
    };
    if let [file] = files {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        // Bytes read, rate and ETA, on a terminal and for a file that takes a moment.
        let bar = (size > 16 * 1024 * 1024)
            .then(|| {
                progress_bar(
                    size,
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
            })
            .flatten();
        if let Some(b) = &bar {
            b.set_message(rdprobe::escape::terminal(&file.display().to_string()));
        }
        let progress = |n: u64| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        };
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let result = if mode == Mode::Jsonl {
            let (result, error) = analyze_jsonl(file, &base, &cancel, progress, &mut out);
            write_error = error;
            result
        } else {
            analyze_one(file, &base, mode, &cancel, progress, |_| {})
        };
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        if write_error.is_none() {
            if let Err(e) = done(result, &mut out, &mut reports) {
                write_error = Some(e);
            }
        }
    } else {
        // Several files: analysed in parallel (-j, default all cores), written in argument
        // order.
        let threads = jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            usize::from,
        );
        let bar = progress_bar(files.len() as u64, "[{bar:30}] {pos}/{len} files {elapsed}");
        analyze_all(files, &base, mode, threads, |_, event| {
            let res = match event {
                Event::Line(l) => writeln!(out, "{l}"),
                Event::Done(result) => {
                    if let Some(b) = &bar {
                        b.inc(1);
                    }
                    done(*result, &mut out, &mut reports)
                }
            };
            match res {
                Ok(()) => true,
                Err(e) => {
                    write_error = Some(e);
                    false
                }
            }
        });
    }
    if let Some(e) = write_error {
        return Err(e.into());
    }
    // Several files: their summary together (what `rdprobe summarize` prints of their lines).
    if files.len() > 1 && archive.files > 0 {
        match format {
            OutFormat::Text | OutFormat::Nagios => {
                let mut s = String::new();
                rdprobe::report::text::archive(&archive, &mut s);
                if paint {
                    s = rdprobe::report::text::paint(&s);
                }
                out.write_all(s.as_bytes())?;
            }
            OutFormat::Jsonl => {
                rdprobe::report::json::write_envelope(
                    &mut out,
                    rdprobe::report::json::LineKind::Summary,
                    None,
                    &archive,
                )?;
                writeln!(out)?;
            }
            // The JSON document is the files' reports.
            OutFormat::Json => {}
        }
    }
    if let Some(path) = &html {
        let summary = (files.len() > 1 && archive.files > 0).then_some(&archive);
        let page = if format == OutFormat::Json {
            rdprobe::report::html::capture(&reports, summary)
        } else {
            rdprobe::report::html::capture(&for_html, summary)
        };
        write_html(path, &page)?;
    }
    if format == OutFormat::Json {
        if reports.len() == 1 && files.len() == 1 {
            rdprobe::report::json::write_pretty(&mut out, &reports[0])?;
        } else {
            rdprobe::report::json::write_pretty(&mut out, &reports)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(exit_code(worst, input_error))
}

/// Most bytes of a key log file read (100,000 TLS 1.3 sessions take about 60 MB).
const MAX_KEYLOG: u64 = 64 * 1024 * 1024;

/// Reads `--keylog FILE`: an NSS key log. Lines that are not key log lines are named on
/// standard error (their number and why, never their content: they may be secrets).
pub(crate) fn read_keylog(
    path: &std::path::Path,
) -> anyhow::Result<std::sync::Arc<rdprobe::capture::decrypt::keylog::KeyLog>> {
    use std::io::Read;
    let shown = rdprobe::escape::terminal(&path.display().to_string());
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("--keylog {shown}: {e}"))?;
    let mut text = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_KEYLOG + 1)
        .read_to_end(&mut text)
        .map_err(|e| anyhow::anyhow!("--keylog {shown}: {e}"))?;
    if text.len() as u64 > MAX_KEYLOG {
        anyhow::bail!("--keylog {shown}: larger than {MAX_KEYLOG} bytes; not a key log?");
    }
    let mut log = rdprobe::capture::decrypt::keylog::KeyLog::default();
    let added = log.add_text(&String::from_utf8_lossy(&text));
    for (line, why) in &log.rejected {
        eprintln!("rdprobe: --keylog {shown} line {line}: {why}; skipped");
    }
    if log.rejected_lines > log.rejected.len() {
        eprintln!(
            "rdprobe: --keylog {shown}: {} more line(s) skipped",
            log.rejected_lines - log.rejected.len()
        );
    }
    if added.secrets == 0 {
        eprintln!("rdprobe: --keylog {shown}: no TLS secrets in it");
    }
    Ok(std::sync::Arc::new(log))
}
