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
    /// Probe RDP servers: speak the handshake stage by stage, enumerate what each accepts
    /// (security layers, TLS versions, encryption methods), read its certificate and CredSSP/NTLM
    /// identity, and say why a connection fails.
    ///
    /// TARGET is host, host:port, IPv4, [IPv6]:port. Targets run in parallel; connections to
    /// one target are paced (--pace-ms).
    #[command(after_help = EXIT_CODES)]
    Probe {
        targets: Vec<String>,
        /// Default port for targets without one.
        #[arg(short = 'p', long, default_value_t = 3389)]
        port: u16,
        /// Read more targets from FILE, one per line (# comments allowed).
        #[arg(short = 'i', long = "input", value_name = "FILE")]
        input: Option<std::path::PathBuf>,
        /// Overall deadline per target, in seconds.
        #[arg(long, default_value_t = 20.0)]
        timeout: f64,
        /// Deadline of one connect or one answer, in seconds.
        #[arg(long, default_value_t = 4.0)]
        stage_timeout: f64,
        /// Targets probed at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Pause between two connections to the same target, in milliseconds.
        #[arg(long, default_value_t = 20)]
        pace_ms: u64,
        /// TLS server_name to send (default: the target, when it is a host name).
        #[arg(long)]
        sni: Option<String>,
        /// Only the connection an mstsc client makes (with TLS and CredSSP), no enumeration.
        #[arg(long)]
        no_enum: bool,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
    },
    /// Analyze capture files: every RDP connection, how far its handshake got, who ended it,
    /// how lossy the path was, and the findings that name the cause.
    ///
    /// Reads pcap and pcapng (Ethernet, VLAN, Linux SLL/SLL2, raw IP, BSD loopback). RDP is
    /// found by content on any port; connections to port 3389 (and to each --port) are reported
    /// even when they never carried RDP (refused, unanswered, non-RDP answers).
    #[command(after_help = EXIT_CODES)]
    Pcap {
        /// Capture files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// More ports to treat as RDP (3389 always is).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
    },
    /// Capture live from an interface (libpcap; needs root or CAP_NET_RAW) and report each RDP
    /// connection as it ends, and the rest on Ctrl-C, --duration or --count.
    #[cfg(feature = "live")]
    #[command(after_help = EXIT_CODES)]
    Capture {
        /// Interface to capture on (`lo`, `eth0`).
        #[arg(short = 'i', long = "interface")]
        interface: String,
        /// A BPF capture filter, e.g. `tcp port 3389`.
        #[arg(long)]
        filter: Option<String>,
        /// More ports to treat as RDP (3389 always is).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Stop after this many packets.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutFormat {
    /// Human-readable report.
    Text,
    /// One JSON document.
    Json,
    /// JSON Lines: one {"type", "data"} object per connection, then one summary per file.
    Jsonl,
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
        Command::Pcap {
            files,
            ports,
            format,
        } => pcap(&files, ports, format),
        Command::Probe {
            targets,
            port,
            input,
            timeout,
            stage_timeout,
            concurrency,
            pace_ms,
            sni,
            no_enum,
            format,
        } => {
            let opts = rdprobe::active::run::ProbeOptions {
                timeout: std::time::Duration::from_secs_f64(timeout.max(0.1)),
                stage_timeout: std::time::Duration::from_secs_f64(
                    stage_timeout.clamp(0.05, timeout.max(0.1)),
                ),
                pace: std::time::Duration::from_millis(pace_ms),
                enumerate: !no_enum,
                sni,
            };
            probe(targets, input, port, opts, concurrency.max(1), format)
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
) -> anyhow::Result<ExitCode> {
    use rdprobe::capture::analyzer::Config;
    use std::io::IsTerminal;
    let mut out = std::io::stdout().lock();
    let mut reports = Vec::new();
    let mut input_error = false;
    let mut worst = "ok";
    let show_progress = std::io::stderr().is_terminal();
    for file in files {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let cfg = Config {
            ports: ports.clone(),
            ..Config::default()
        };
        let progress = |done: u64| {
            if show_progress && size > 64 * 1024 * 1024 {
                eprint!("\r{}: {:>3}%", file.display(), done * 100 / size.max(1));
            }
        };
        let mut jsonl_err = None;
        let result = rdprobe::capture::run::analyze_file(file, cfg, progress, |c| {
            if format == OutFormat::Jsonl {
                let line = serde_json::json!({"type": "connection", "file": file.display().to_string(), "data": c});
                if let Err(e) = writeln!(out, "{line}") {
                    jsonl_err = Some(e);
                }
            }
        });
        if show_progress && size > 64 * 1024 * 1024 {
            eprintln!();
        }
        if let Some(e) = jsonl_err {
            return Err(e.into());
        }
        match result {
            Ok(r) => {
                let s = &r.summary;
                if s.error > 0 {
                    worst = "error";
                } else if s.warning > 0 && worst == "ok" {
                    worst = "warning";
                }
                for c in &r.connections {
                    worst = rdprobe::diagnose::worse(worst, c.verdict);
                }
                match format {
                    OutFormat::Text => {
                        let mut s = String::new();
                        rdprobe::report::text::capture(&r, &mut s);
                        out.write_all(s.as_bytes())?;
                    }
                    OutFormat::Jsonl => {
                        let line = serde_json::json!({"type": "summary", "data": {
                            "file": r.file, "packets": r.packets, "bytes": r.bytes,
                            "udp": r.udp, "notices": r.notices, "summary": r.summary}});
                        writeln!(out, "{line}")?;
                    }
                    OutFormat::Json => reports.push(r),
                }
            }
            Err(e) => {
                input_error = true;
                eprintln!("rdprobe: {}: {e}", file.display());
            }
        }
    }
    if format == OutFormat::Json {
        if reports.len() == 1 && files.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &reports[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &reports)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if input_error {
        ExitCode::from(2)
    } else if worst == "ok" {
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
    let mut worst = "ok";
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
                serde_json::json!({"type": "connection", "data": c})
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
        _ => writeln!(
            out,
            "{}",
            serde_json::json!({"type": "summary", "data": {"packets": report.packets, "bytes": report.bytes, "udp": report.udp, "summary": report.summary}})
        )?,
    }
    Ok(if worst == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn probe(
    targets: Vec<String>,
    input: Option<std::path::PathBuf>,
    port: u16,
    opts: rdprobe::active::run::ProbeOptions,
    concurrency: usize,
    format: OutFormat,
) -> anyhow::Result<ExitCode> {
    use rdprobe::active::run::{parse_target, probe, Target};
    let mut list: Vec<String> = targets;
    if let Some(f) = &input {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        list.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                .filter(|l| !l.is_empty()),
        );
    }
    if list.is_empty() {
        anyhow::bail!("no targets (give TARGET... or -i FILE)");
    }
    let parsed: Vec<Target> = list
        .iter()
        .map(|t| parse_target(t, port))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!(e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let opts = std::sync::Arc::new(opts);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut worst = "ok";
    let mut all = Vec::new();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        let mut iter = parsed.into_iter();
        loop {
            while set.len() < concurrency {
                let Some(t) = iter.next() else { break };
                let opts = opts.clone();
                set.spawn(async move { probe(&t, &opts).await });
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            let Ok(r) = done else { continue };
            worst = rdprobe::diagnose::worse(worst, r.verdict);
            match format {
                OutFormat::Text => {
                    let mut s = String::new();
                    rdprobe::report::text::probe(&r, &mut s);
                    let _ = writeln!(out, "{s}");
                }
                OutFormat::Jsonl => {
                    let _ = writeln!(out, "{}", serde_json::json!({"type": "target", "data": r}));
                    let _ = out.flush();
                }
                OutFormat::Json => all.push(r),
            }
        }
    });
    if format == OutFormat::Json {
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if worst == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
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
