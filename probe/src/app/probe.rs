//! `rdprobe probe`: the targets, the credentials, the run over a tokio runtime, `--watch`.

use std::process::ExitCode;

use std::io::Write as _;

use anyhow::Context;

use super::sink::ResultSink;
use super::{exit_code, open_output, progress_bar, write_html};
use crate::cli::OutFormat;

/// The credentials of `--user`: the password from RDPROBE_PASSWORD (then removed from the
/// environment), else asked for without echo on the terminal; never from the command line.
pub(crate) fn read_credentials(
    user: &str,
) -> anyhow::Result<rdprobe::active::credentials::Credentials> {
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

/// `--gateway GW[:PORT]`: the gateway and its credentials (`--user` with
/// RDPROBE_GATEWAY_PASSWORD when set, then removed from the environment; else the target's).
pub(crate) fn gateway_options(
    spec: &str,
    user: Option<&str>,
    credentials: Option<std::sync::Arc<rdprobe::active::credentials::Credentials>>,
) -> anyhow::Result<rdprobe::active::GatewayOptions> {
    let t = rdprobe::active::targets::parse_target(spec, 443)
        .map_err(|e| anyhow::anyhow!("--gateway: {}", rdprobe::escape::terminal(&e)))?;
    let credentials = match (user, std::env::var("RDPROBE_GATEWAY_PASSWORD")) {
        (Some(u), Ok(p)) => {
            std::env::remove_var("RDPROBE_GATEWAY_PASSWORD");
            Some(std::sync::Arc::new(
                rdprobe::active::credentials::Credentials::new(u, zeroize::Zeroizing::new(p))
                    .map_err(anyhow::Error::msg)?,
            ))
        }
        _ => credentials,
    };
    Ok(rdprobe::active::GatewayOptions {
        host: t.host,
        port: t.port,
        credentials,
    })
}

/// Where the targets of `rdprobe probe` come from.
pub(crate) struct ProbeList {
    pub(crate) targets: Vec<String>,
    pub(crate) input: Option<std::path::PathBuf>,
    pub(crate) port: u16,
    pub(crate) allow_large_blocks: bool,
    /// `--shard K/N`.
    pub(crate) shard: Option<rdprobe::active::targets::Shard>,
    /// `--resume FILE`: a previous run's JSON Lines.
    pub(crate) resume: Option<std::path::PathBuf>,
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

/// `--watch SECS` and `--count N`.
pub(crate) struct Watch {
    pub(crate) interval: std::time::Duration,
    pub(crate) count: Option<u64>,
}

/// How `probe` shows its results: the format, `-o`, `--clients`, `--color`.
pub(crate) struct Shown {
    pub(crate) format: OutFormat,
    pub(crate) output: Option<std::path::PathBuf>,
    pub(crate) clients: bool,
    pub(crate) paint: bool,
    pub(crate) html: Option<std::path::PathBuf>,
    /// `--format nagios`: the certificate's thresholds.
    pub(crate) thresholds: rdprobe::report::nagios::Thresholds,
}

pub(crate) fn probe(
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
        thresholds,
    } = shown;
    use rdprobe::active::fleet::{probe_all, Ended};
    use rdprobe::active::run::{probe, Target};
    let specs = list.specs()?;
    if watch.is_some() && (list.shard.is_some() || list.resume.is_some()) {
        anyhow::bail!("--shard and --resume are for a run over targets, not for --watch");
    }
    let done = match &list.resume {
        Some(f) => super::summarize::targets_done(f)?,
        None => Default::default(),
    };
    let shard = list.shard;
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
        html: (html.is_some() || format == OutFormat::Nagios).then(Vec::new),
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
        let targets = specs
            .iter()
            .flat_map(|s| s.targets())
            .zip(0u128..)
            .filter(move |(_, i)| shard.is_none_or(|sh| sh.keeps(*i)))
            .map(|(t, _)| t)
            .filter(|t| !done.contains(&(t.host.clone(), t.port)));
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
        let total: u128 =
            specs.iter().map(|s| s.len()).sum::<u128>() / shard.map_or(1, |s| u128::from(s.n));
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
    if format == OutFormat::Nagios {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let all = sink.html.as_deref().unwrap_or_default();
        let (text, status) = rdprobe::report::nagios::render(all, thresholds, now);
        sink.out.write_all(text.as_bytes())?;
        sink.out.flush()?;
        return Ok(ExitCode::from(status as u8));
    }
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
    Ok(exit_code(worst, false))
}

/// `probe TARGET --watch`: the enumeration once (unless --no-enum), then the main connection
/// every interval, a line per attempt, and the summary at Ctrl-C or after --count attempts.
/// Exit 0 when every attempt got through, 1 otherwise.
pub(crate) fn watch_target(
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
    // Every attempt got through, or not.
    let worst = if stats.failures == 0 && stats.attempts > 0 {
        rdprobe::diagnose::Verdict::Ok
    } else {
        rdprobe::diagnose::Verdict::Error
    };
    Ok(exit_code(worst, false))
}
