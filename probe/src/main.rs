//! The `rdprobe` command line.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rdprobe::dissect::{dissect, DissectError};

mod cli;
use cli::{Cli, Command, Format, OutFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`| head`) is the reader's choice, not an error.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("rdprobe: {}", rdprobe::escape::terminal(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// The credentials of `--user`: the password from RDPROBE_PASSWORD (then removed from the
/// environment), else asked for without echo on the terminal; never from the command line.
fn read_credentials(user: &str) -> anyhow::Result<rdprobe::active::credentials::Credentials> {
    use std::io::IsTerminal;
    let password = match std::env::var("RDPROBE_PASSWORD") {
        Ok(p) => {
            std::env::remove_var("RDPROBE_PASSWORD");
            zeroize::Zeroizing::new(p)
        }
        Err(_) if std::io::stdin().is_terminal() => zeroize::Zeroizing::new(
            rpassword::prompt_password(format!(
                "password for {} (not echoed): ",
                rdprobe::escape::terminal(user)
            ))
            .context("reading the password")?,
        ),
        Err(_) => anyhow::bail!(
            "--user needs the password in RDPROBE_PASSWORD, or a terminal to ask for it on (it is never taken from the command line)"
        ),
    };
    rdprobe::active::credentials::Credentials::new(user, password).map_err(anyhow::Error::msg)
}

/// A progress bar on standard error, only when it is a terminal (never in pipes, files or
/// JSON on stdout's side).
fn progress_bar(len: u64, template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = indicatif::ProgressStyle::with_template(template)
        .ok()?
        .progress_chars("=> ");
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    bar.set_style(style);
    Some(bar)
}

/// Writes an HTML report.
fn write_html(path: &std::path::Path, page: &str) -> anyhow::Result<()> {
    std::fs::write(path, page).with_context(|| {
        format!(
            "writing {}",
            rdprobe::escape::terminal(&path.display().to_string())
        )
    })
}

/// Where a command's results go: `-o FILE`, else standard output.
fn open_output(output: &Option<std::path::PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(f) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(f).with_context(|| {
                format!(
                    "creating {}",
                    rdprobe::escape::terminal(&f.display().to_string())
                )
            })?,
        )),
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        )),
    })
}

/// Whether text output is coloured: `--color always|never`, else (auto) when it goes to a
/// terminal and NO_COLOR is unset or empty (no-color.org).
fn use_color(choice: cli::Color, output: &Option<std::path::PathBuf>) -> bool {
    use std::io::IsTerminal;
    match choice {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = cli.color;
    match cli.command {
        Command::Decode {
            hex,
            format,
            output,
        } => decode(&hex, format, &output),
        Command::Explain {
            words,
            format,
            output,
        } => explain(&words, format, &output, use_color(color, &output)),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "rdprobe", &mut out);
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "live"))]
        Command::Capture { .. } => anyhow::bail!(
            "this rdprobe was built without live capture: install libpcap (Debian: apt-get install libpcap-dev) and build with the `live` feature (cargo install --path probe --features live, or cargo build --release -p rdprobe --features live); `rdprobe pcap FILE` reads a capture made with tcpdump or Wireshark"
        ),
        Command::Pcap {
            files,
            ports,
            format,
            output,
            html,
        } => {
            if html.is_some() && format == OutFormat::Jsonl {
                anyhow::bail!("--html keeps the connections: use --format text or json with it");
            }
            let paint = use_color(color, &output);
            pcap(&files, ports, format, open_output(&output)?, paint, html)
        }
        Command::Probe {
            targets,
            port,
            input,
            timeout,
            stage_timeout,
            concurrency,
            pace_ms,
            rate,
            allow_large_blocks,
            sni,
            no_enum,
            stop_after,
            user,
            html,
            clients,
            watch,
            count,
            format,
            output,
        } => {
            let credentials = user
                .map(|u| read_credentials(&u).map(std::sync::Arc::new))
                .transpose()?;
            let opts = rdprobe::active::run::ProbeOptions {
                timeout: std::time::Duration::from_secs_f64(timeout),
                stage_timeout: std::time::Duration::from_secs_f64(stage_timeout.min(timeout)),
                pace: std::time::Duration::from_millis(pace_ms),
                enumerate: !no_enum,
                sni,
                rate: rate.map(|r| std::sync::Arc::new(rdprobe::active::run::Rate::new(r))),
                stop_after,
                credentials,
            };
            let list = ProbeList {
                targets,
                input,
                port,
                allow_large_blocks,
            };
            let watch = watch.map(|secs| Watch {
                interval: std::time::Duration::from_secs_f64(secs),
                count,
            });
            let paint = use_color(color, &output);
            if html.is_some() && watch.is_some() {
                anyhow::bail!("--html is for a run's results, not for --watch");
            }
            let shown = Shown {
                format,
                output,
                clients,
                paint,
                html,
            };
            probe(list, opts, concurrency as usize, shown, watch)
        }
        #[cfg(feature = "live")]
        Command::Capture {
            interface,
            filter,
            ports,
            format,
            duration,
            count,
        } => live(interface, filter, ports, format, duration, count),
    }
}

fn pcap(
    files: &[std::path::PathBuf],
    ports: Vec<u16>,
    format: OutFormat,
    out: Box<dyn Write>,
    paint: bool,
    html: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    // The reports the HTML page shows (text mode: the connections the text lists).
    let mut for_html: Vec<rdprobe::report::capture::CaptureReport> = Vec::new();
    use rdprobe::capture::batch::{analyze_all, analyze_one, Event, FileResult, Mode};
    let mode = match format {
        OutFormat::Text => Mode::Text,
        OutFormat::Json => Mode::Json,
        OutFormat::Jsonl => Mode::Jsonl,
    };
    // Block-buffered (open_output): a line-buffered stdout costs a write(2) per connection.
    let mut out = out;
    let mut reports = Vec::new();
    let mut input_error = false;
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut write_error: Option<std::io::Error> = None;
    // One file's end: its verdicts, then its report (text), summary line (jsonl) or kept
    // report (json).
    let mut done = |result: Result<FileResult, String>,
                    out: &mut dyn Write,
                    reports: &mut Vec<rdprobe::report::capture::CaptureReport>|
     -> std::io::Result<()> {
        let FileResult { report: r, scans } = match result {
            Ok(r) => r,
            Err(e) => {
                input_error = true;
                eprintln!("rdprobe: {}", rdprobe::escape::terminal(&e));
                return Ok(());
            }
        };
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
            OutFormat::Text => {
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
        let result = analyze_one(file, &ports, mode, html.is_some(), &cancel, progress, |l| {
            if write_error.is_none() {
                if let Err(e) = writeln!(out, "{l}") {
                    // The reader went away: stop instead of analysing for nobody.
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    write_error = Some(e);
                }
            }
        });
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        if write_error.is_none() {
            if let Err(e) = done(result, &mut out, &mut reports) {
                write_error = Some(e);
            }
        }
    } else {
        // Several files: analysed in parallel on all cores, written in argument order.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let bar = progress_bar(files.len() as u64, "[{bar:30}] {pos}/{len} files {elapsed}");
        analyze_all(files, &ports, mode, html.is_some(), threads, |_, event| {
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
    if let Some(path) = &html {
        let page = if format == OutFormat::Json {
            rdprobe::report::html::capture(&reports)
        } else {
            rdprobe::report::html::capture(&for_html)
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
    Ok(if input_error {
        ExitCode::from(2)
    } else if worst == rdprobe::diagnose::Verdict::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(feature = "live")]
fn live(
    interface: String,
    filter: Option<String>,
    ports: Vec<u16>,
    format: OutFormat,
    duration: Option<f64>,
    count: Option<u64>,
) -> anyhow::Result<ExitCode> {
    use rdprobe::capture::analyzer::Config;
    use rdprobe::capture::live::{run, LiveOptions};
    let opts = LiveOptions {
        interface,
        filter,
        config: Config {
            ports,
            ..Config::default()
        },
        duration: duration.map(std::time::Duration::from_secs_f64),
        count,
    };
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let report = run(&opts, |c| {
        worst = rdprobe::diagnose::worse(worst, c.verdict);
        // Streamed as each connection ends; a closed pipe is noticed at the end.
        let mut out = std::io::stdout().lock();
        let _ = match format {
            OutFormat::Text => {
                let mut s = String::new();
                rdprobe::report::text::connection(c, &mut s);
                writeln!(out, "{s}")
            }
            _ => writeln!(
                out,
                "{}",
                rdprobe::report::json::line(&serde_json::json!({"type": "connection", "data": c}))
            ),
        };
        let _ = out.flush();
    })?;
    let mut out = std::io::stdout().lock();
    match format {
        OutFormat::Text => {
            let s = &report.summary;
            writeln!(
                out,
                "total: {} packets, {} connection(s): {} ok, {} warning, {} error",
                report.packets, s.connections, s.ok, s.warning, s.error
            )?;
        }
        _ => writeln!(out, "{}", rdprobe::report::json::summary_line(&report))?,
    }
    Ok(if worst == rdprobe::diagnose::Verdict::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where the targets of `rdprobe probe` come from.
struct ProbeList {
    targets: Vec<String>,
    input: Option<std::path::PathBuf>,
    port: u16,
    allow_large_blocks: bool,
}

impl ProbeList {
    /// Every entry, parsed; notes on ambiguous entries go to stderr.
    fn specs(&self) -> anyhow::Result<Vec<rdprobe::active::targets::Spec>> {
        use rdprobe::active::targets::{
            ambiguity, list_lines, parse_spec, read_limited, MAX_INPUT,
        };
        use rdprobe::escape::terminal;
        let text = match &self.input {
            None => String::new(),
            Some(f) if f.as_os_str() == "-" => {
                read_limited(std::io::stdin().lock(), "standard input", MAX_INPUT)
                    .map_err(|e| anyhow::anyhow!(e))?
            }
            Some(f) => {
                let name = terminal(&f.display().to_string());
                let file = std::fs::File::open(f).with_context(|| format!("reading {name}"))?;
                read_limited(file, &name, MAX_INPUT).map_err(|e| anyhow::anyhow!(e))?
            }
        };
        let mut specs = Vec::new();
        for entry in self
            .targets
            .iter()
            .map(String::as_str)
            .chain(list_lines(&text))
        {
            if let Some(note) = ambiguity(entry, self.port) {
                eprintln!("rdprobe: note: {}", terminal(&note));
            }
            specs.push(
                parse_spec(entry, self.port, self.allow_large_blocks)
                    .map_err(|e| anyhow::anyhow!(terminal(&e)))?,
            );
        }
        if specs.is_empty() {
            anyhow::bail!("no targets (give TARGET... or -i FILE|-)");
        }
        Ok(specs)
    }
}

/// Results on stdout or `-o FILE`, JSON streamed so that memory stays flat in the number of
/// targets; a closed stdout (`| head`) ends the run quietly.
struct ResultSink {
    out: Box<dyn Write>,
    format: OutFormat,
    count: usize,
    closed: bool,
    /// The summary of every target written (text and jsonl print it for several targets).
    fleet: rdprobe::report::fleet::FleetSummary,
    /// `--clients`: the client matrix in text.
    show_clients: bool,
    /// `--color`: ANSI colours in text.
    paint: bool,
    /// `--html`: every result, for the page written at the end.
    html: Option<Vec<rdprobe::report::probe::ProbeResult>>,
}

impl ResultSink {
    fn write(&mut self, r: &rdprobe::report::probe::ProbeResult) -> std::io::Result<()> {
        use rdprobe::report::json;
        if self.closed {
            return Ok(());
        }
        self.fleet.add(r);
        if let Some(all) = &mut self.html {
            all.push(r.clone());
        }
        let res = match self.format {
            OutFormat::Text => {
                let mut s = String::new();
                rdprobe::report::text::probe(r, &mut s);
                if self.show_clients {
                    rdprobe::report::text::clients(r, &mut s);
                }
                if self.paint {
                    s = rdprobe::report::text::paint(&s);
                }
                writeln!(self.out, "{s}")
            }
            OutFormat::Jsonl => json::write_line(
                &mut self.out,
                &json::Envelope {
                    kind: json::LineKind::Target,
                    file: None,
                    data: r,
                },
            )
            .and_then(|()| writeln!(self.out))
            .and_then(|()| self.out.flush()),
            OutFormat::Json => {
                let sep = if self.count == 0 { "[\n" } else { ",\n" };
                self.out
                    .write_all(sep.as_bytes())
                    .and_then(|()| json::write_pretty(&mut self.out, r))
            }
        };
        self.count += 1;
        self.check(res)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let several = self.count > 1;
        let res = match self.format {
            OutFormat::Json if self.count == 0 => self.out.write_all(b"[]\n"),
            OutFormat::Json => self.out.write_all(b"\n]\n"),
            OutFormat::Text if several => {
                let mut s = String::new();
                rdprobe::report::text::fleet(&self.fleet, &mut s);
                self.out.write_all(s.as_bytes())
            }
            OutFormat::Jsonl if several => self.line(
                rdprobe::report::json::LineKind::Summary,
                &self.fleet.clone(),
            ),
            _ => Ok(()),
        }
        .and_then(|()| self.out.flush());
        self.check(res)
    }

    /// One JSON Lines envelope without a file.
    fn line<T: serde::Serialize>(
        &mut self,
        kind: rdprobe::report::json::LineKind,
        data: &T,
    ) -> std::io::Result<()> {
        use rdprobe::report::json;
        json::write_line(
            &mut self.out,
            &json::Envelope {
                kind,
                file: None,
                data,
            },
        )
        .and_then(|()| writeln!(self.out))
        .and_then(|()| self.out.flush())
    }

    /// Text as it is, or one JSON Lines envelope.
    fn emit<T: serde::Serialize>(
        &mut self,
        kind: rdprobe::report::json::LineKind,
        data: &T,
        text: impl FnOnce(&T, &mut String),
    ) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let res = if self.format == OutFormat::Text {
            let mut s = String::new();
            text(data, &mut s);
            if self.paint {
                s = rdprobe::report::text::paint(&s);
            }
            self.out
                .write_all(s.as_bytes())
                .and_then(|()| self.out.flush())
        } else {
            self.line(kind, data)
        };
        self.check(res)
    }

    fn check(&mut self, res: std::io::Result<()>) -> std::io::Result<()> {
        match res {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// `--watch SECS` and `--count N`.
struct Watch {
    interval: std::time::Duration,
    count: Option<u64>,
}

/// How `probe` shows its results: the format, `-o`, `--clients`, `--color`.
struct Shown {
    format: OutFormat,
    output: Option<std::path::PathBuf>,
    clients: bool,
    paint: bool,
    html: Option<std::path::PathBuf>,
}

fn probe(
    list: ProbeList,
    opts: rdprobe::active::run::ProbeOptions,
    concurrency: usize,
    shown: Shown,
    watch: Option<Watch>,
) -> anyhow::Result<ExitCode> {
    let Shown {
        format,
        output,
        clients: show_clients,
        paint,
        html,
    } = shown;
    use rdprobe::active::fleet::{probe_all, Ended};
    use rdprobe::active::run::{probe, Target};
    let specs = list.specs()?;
    let watched = match &watch {
        None => None,
        Some(_) if format == OutFormat::Json => {
            anyhow::bail!("--watch streams its attempts: use --format text or jsonl")
        }
        Some(_) => {
            let mut all = specs.iter().flat_map(|s| s.targets());
            match (all.next(), all.next()) {
                (Some(t), None) => Some(t),
                _ => anyhow::bail!("--watch takes one target"),
            }
        }
    };
    let out = open_output(&output)?;
    let mut sink = ResultSink {
        out,
        format,
        count: 0,
        closed: false,
        fleet: Default::default(),
        show_clients,
        paint,
        html: html.as_ref().map(|_| Vec::new()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let (Some(w), Some(target)) = (watch, watched) {
        return watch_target(&rt, target, opts, w, &mut sink);
    }
    let opts = std::sync::Arc::new(opts);
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut write_error = None;
    let ended = rt.block_on(async {
        let targets = specs.iter().flat_map(|s| s.targets());
        let probe_one = |t: Target| {
            let opts = opts.clone();
            async move { probe(&t, &opts).await }
        };
        // Ctrl-C ends the run (a handler that cannot be installed never fires).
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let total: u128 = specs.iter().map(|s| s.len()).sum();
        let bar = progress_bar(
            u64::try_from(total).unwrap_or(u64::MAX),
            "[{bar:30}] {pos}/{len} targets {elapsed} ETA {eta}",
        );
        probe_all(targets, concurrency, probe_one, ctrl_c, |r| {
            worst = rdprobe::diagnose::worse(worst, r.verdict);
            let written = match &bar {
                Some(b) => {
                    b.inc(1);
                    b.suspend(|| sink.write(&r))
                }
                None => sink.write(&r),
            };
            match written {
                Ok(()) => !sink.closed,
                Err(e) => {
                    write_error = Some(e);
                    false
                }
            }
        })
        .await
    });
    let interrupted = ended == Ended::Stopped;
    // Tasks still connecting are dropped with the runtime, without waiting for them.
    rt.shutdown_background();
    if let Some(e) = write_error {
        return Err(e.into());
    }
    sink.finish()?;
    if let (Some(path), Some(all)) = (&html, &sink.html) {
        write_html(path, &rdprobe::report::html::probe(all))?;
    }
    if sink.closed {
        // The reader went away (`| head`): a quiet end.
        return Ok(ExitCode::SUCCESS);
    }
    if interrupted {
        eprintln!(
            "rdprobe: interrupted: {} target(s) finished and reported",
            sink.count
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if worst == rdprobe::diagnose::Verdict::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `probe TARGET --watch`: the enumeration once (unless --no-enum), then the main connection
/// every interval, a line per attempt, and the summary at Ctrl-C or after --count attempts.
/// Exit 0 when every attempt got through, 1 otherwise.
fn watch_target(
    rt: &tokio::runtime::Runtime,
    target: rdprobe::active::run::Target,
    opts: rdprobe::active::run::ProbeOptions,
    w: Watch,
    sink: &mut ResultSink,
) -> anyhow::Result<ExitCode> {
    use rdprobe::active::run::{probe, ProbeOptions};
    use rdprobe::report::json::LineKind;
    use rdprobe::report::{text, watch};
    let name = format!("{}:{}", target.host, target.port);
    let mut stats = watch::WatchStats::default();
    rt.block_on(async {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(ctrl_c);
        if opts.enumerate {
            let full = tokio::select! {
                r = probe(&target, &opts) => r,
                () = &mut ctrl_c => return Ok(()),
            };
            sink.write(&full)?;
        }
        let main_only = ProbeOptions {
            enumerate: false,
            ..opts
        };
        let mut n = 0;
        while w.count.is_none_or(|c| n < c) && !sink.closed {
            n += 1;
            let started = tokio::time::Instant::now();
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let r = tokio::select! {
                r = probe(&target, &main_only) => r,
                () = &mut ctrl_c => break,
            };
            let a = watch::Attempt::from_result(n, rdprobe::time::rfc3339(unix), &r);
            stats.add(&a);
            sink.emit(LineKind::Attempt, &a, text::attempt)?;
            if w.count.is_some_and(|c| n >= c) {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(started + w.interval) => {}
                () = &mut ctrl_c => break,
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    let summary = stats.summary();
    sink.emit(LineKind::WatchSummary, &summary, |s, out| {
        text::watch_summary(&name, s, out)
    })?;
    if sink.closed {
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if stats.failures == 0 && stats.attempts > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `rdprobe explain`: every reading of the arguments; exit 1 when nothing matched.
fn explain(
    words: &[String],
    format: Format,
    output: &Option<std::path::PathBuf>,
    paint: bool,
) -> anyhow::Result<ExitCode> {
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    let all = rdprobe::explain::explain(&args);
    let mut out = String::new();
    match format {
        Format::Json => {
            let mut buf = Vec::new();
            rdprobe::report::json::write_pretty(&mut buf, &all)?;
            out.push_str(&String::from_utf8_lossy(&buf));
            out.push('\n');
        }
        Format::Text if all.is_empty() => {
            out.push_str(&format!(
                "no known code or mstsc message matches \"{}\": give the code mstsc or FreeRDP shows (0x904, 2308, [0x0002000D], 0xC000006D) or more of the message's words\n",
                rdprobe::escape::terminal(&words.join(" "))
            ));
        }
        Format::Text => {
            for (i, e) in all.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                rdprobe::report::text::explanation(e, &mut out);
            }
        }
    }
    if paint {
        out = rdprobe::report::text::paint(&out);
    }
    let mut sink = open_output(output)?;
    match sink.write_all(out.as_bytes()).and_then(|()| sink.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r?,
    }
    Ok(if all.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
        anyhow::bail!("decode: not hex: {:?} at character {i}", c);
    }
    if cleaned.len() % 2 != 0 {
        anyhow::bail!("decode: an odd number of hex digits ({})", cleaned.len());
    }
    hex::decode(&cleaned).context("not hex")
}

fn decode(
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
