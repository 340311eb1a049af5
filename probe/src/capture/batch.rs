//! Several capture files at once: each analysed on its own thread (up to the cores there are),
//! their output handed back in argument order. JSON Lines are streamed through a bounded
//! channel per file, so a later file waits (it does not pile up output) until the earlier ones
//! are written. One file in JSON Lines is analysed on one thread and written on another
//! ([`analyze_jsonl`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use crate::capture::analyzer::Config;
use crate::capture::run::analyze_file;
use crate::report::archive::{ArchiveSummary, FileEntry};
use crate::report::capture::{CaptureReport, Connection};
use crate::report::json;
use crate::report::scan::Scans;

/// What the output needs of each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The text report: connections that are not scan-like kept, scan-like ones summarised.
    Text,
    /// One JSON document: every connection kept.
    Json,
    /// JSON Lines: each connection written as it finishes, none kept.
    Jsonl,
}

/// One file's analysis, for the report after its lines.
#[derive(Debug)]
pub struct FileResult {
    pub report: CaptureReport,
    /// Scan-like attempts (text mode).
    pub scans: Scans,
    /// The file's part of the summary of several files (all its connections and its end).
    pub archive: ArchiveSummary,
}

/// What a file sends to the writer.
#[derive(Debug)]
pub enum Event {
    /// One JSON Lines line (no newline).
    Line(String),
    /// The end of the file: its report, or why it could not be read.
    Done(Box<Result<FileResult, String>>),
}

/// Lines a file may have waiting before its thread waits for the writer.
const QUEUE: usize = 1024;

/// Analyzes one file with the settings of `base` (ports, series, key log), handing each
/// connection to `each` as it finishes in JSON Lines mode.
pub fn analyze_one(
    file: &Path,
    base: &Config,
    mode: Mode,
    cancel: &Arc<AtomicBool>,
    progress: impl FnMut(u64),
    mut each: impl FnMut(Connection),
) -> Result<FileResult, String> {
    let cfg = Config {
        keep_connections: mode == Mode::Json,
        cancel: Some(cancel.clone()),
        ..base.clone()
    };
    let mut scans = Scans::default();
    let mut kept = Vec::new();
    let mut archive = ArchiveSummary::default();
    let result = analyze_file(file, cfg, progress, |c| {
        archive.add_connection(&c);
        match mode {
            Mode::Text => {
                if let Some(c) = scans.offer(c) {
                    kept.push(c);
                }
            }
            Mode::Jsonl if !cancel.load(Ordering::Relaxed) => each(c),
            // JSON keeps the connections in the report.
            Mode::Jsonl | Mode::Json => {}
        }
    });
    let mut report = result.map_err(|e| format!("{}: {e}", file.display()))?;
    match mode {
        Mode::Text => report.connections = kept,
        Mode::Json => report
            .connections
            .iter()
            .for_each(|c| archive.add_connection(c)),
        Mode::Jsonl => {}
    }
    archive.add_file(&FileEntry::from(&report));
    Ok(FileResult {
        report,
        scans,
        archive,
    })
}

/// Connections a batch carries from the analysis to the writer in [`analyze_jsonl`].
const BATCH: usize = 256;

/// What crosses from the analysis to the writer in [`analyze_jsonl`].
enum Batch {
    /// Connections for the writer to make lines of.
    Connections(Vec<Connection>),
    /// Lines the analysis made itself while the writer was behind.
    Lines(Vec<u8>),
}

/// Appends the JSON Lines of `connections` to `out`.
fn lines_of(out: &mut Vec<u8>, file: &str, connections: &[Connection]) {
    for c in connections {
        // Writing to a Vec cannot fail.
        let _ = json::write_connection(out, Some(file), c);
        out.push(b'\n');
    }
}

/// One file in JSON Lines, analysed on a thread of its own while the caller's thread makes and
/// writes the lines to `out` (a SYN scan's million connections take longer to write than to
/// find). Connections cross in batches through a bounded channel; when it is full the writer
/// is behind, and the analysis makes that batch's lines itself instead of waiting, so both
/// cores work whichever side is slower. The order of the lines is the order of the
/// connections. A write error stops the analysis and is returned beside the file's result.
pub fn analyze_jsonl(
    file: &Path,
    base: &Config,
    cancel: &Arc<AtomicBool>,
    progress: impl FnMut(u64) + Send,
    out: &mut dyn std::io::Write,
) -> (Result<FileResult, String>, Option<std::io::Error>) {
    use std::sync::mpsc::TrySendError;
    let name = file.display().to_string();
    let (tx, rx) = sync_channel::<Batch>(QUEUE / BATCH);
    std::thread::scope(|scope| {
        let name = name.as_str();
        let worker = scope.spawn(move || {
            let send = |batch: Vec<Connection>| {
                // Otherwise sent, or the writer has stopped.
                if let Err(TrySendError::Full(Batch::Connections(batch))) =
                    tx.try_send(Batch::Connections(batch))
                {
                    let mut lines = Vec::with_capacity(batch.len() * 2048);
                    lines_of(&mut lines, name, &batch);
                    drop(batch);
                    let _ = tx.send(Batch::Lines(lines));
                }
            };
            let mut batch = Vec::with_capacity(BATCH);
            let result = analyze_one(file, base, Mode::Jsonl, cancel, progress, |c| {
                batch.push(c);
                if batch.len() == BATCH {
                    send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            if !batch.is_empty() {
                send(batch);
            }
            result
        });
        let mut write_error = None;
        let mut lines = Vec::with_capacity(BATCH * 2048);
        for batch in rx.iter() {
            let written = match batch {
                Batch::Connections(connections) => {
                    lines.clear();
                    lines_of(&mut lines, name, &connections);
                    out.write_all(&lines)
                }
                Batch::Lines(l) => out.write_all(&l),
            };
            if let Err(e) = written {
                // The reader went away: stop instead of analysing for nobody.
                cancel.store(true, Ordering::Relaxed);
                write_error = Some(e);
                break;
            }
        }
        // The analysis' sends fail from here on instead of waiting.
        drop(rx);
        let result = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (result, write_error)
    })
}

/// Analyzes `files` on up to `threads` threads; `each(index, event)` sees every file's
/// events in argument order (all of file 0's, then file 1's, ...) and returns false to stop
/// (the files still running then finish without being waited for by anyone).
pub fn analyze_all(
    files: &[PathBuf],
    base: &Config,
    mode: Mode,
    threads: usize,
    mut each: impl FnMut(usize, Event) -> bool,
) {
    let threads = threads.clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let cancel = Arc::new(AtomicBool::new(false));
    let (senders, receivers): (Vec<SyncSender<Event>>, Vec<Receiver<Event>>) =
        (0..files.len()).map(|_| sync_channel(QUEUE)).unzip();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (next, senders, cancel) = (&next, &senders, &cancel);
            scope.spawn(move || loop {
                // Files are taken in order, so the one the writer waits for is always running.
                let i = next.fetch_add(1, Ordering::SeqCst);
                let (Some(file), Some(tx)) = (files.get(i), senders.get(i)) else {
                    return;
                };
                let name = file.display().to_string();
                let result = analyze_one(
                    file,
                    base,
                    mode,
                    cancel,
                    |_| {},
                    |c| {
                        let mut line = Vec::with_capacity(4096);
                        // Writing to a Vec cannot fail.
                        let _ = json::write_connection(&mut line, Some(&name), &c);
                        let line = String::from_utf8(line).unwrap_or_default();
                        let _ = tx.send(Event::Line(line));
                    },
                );
                let _ = tx.send(Event::Done(Box::new(result)));
            });
        }
        let mut receivers = receivers.into_iter().enumerate();
        'files: for (i, rx) in receivers.by_ref() {
            for event in rx.iter() {
                let done = matches!(event, Event::Done(_));
                if !each(i, event) {
                    cancel.store(true, Ordering::Relaxed);
                    break 'files;
                }
                if done {
                    break;
                }
            }
        }
        // Dropping the receivers not read lets their threads' sends fail instead of wait.
        drop(receivers);
    });
}
