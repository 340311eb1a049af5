//! The `rdprobe` command line: the grammar in `cli`, one module per command in `app`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

mod app;
mod cli;

/// mimalloc rather than glibc's malloc: a SYN scan's million connections are a million small
/// reports built, written and dropped, and glibc's allocator took a fifth of that run's time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use cli::{Cli, Command, OutFormat};

fn main() -> ExitCode {
    // A monitoring plugin answers UNKNOWN (3) to bad arguments (monitoring-plugins guidelines).
    let nagios = nagios_requested(std::env::args());
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if nagios && e.use_stderr() => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("bad arguments");
            println!(
                "RDP UNKNOWN - {}",
                rdprobe::escape::terminal(first.trim_start_matches("error: "))
            );
            return ExitCode::from(3);
        }
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`| head`) is the reader's choice, not an error.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            if nagios {
                println!(
                    "RDP UNKNOWN - {}",
                    rdprobe::escape::terminal(&format!("{e:#}"))
                );
                return ExitCode::from(3);
            }
            eprintln!("rdprobe: {}", rdprobe::escape::terminal(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Whether the arguments ask for `--format nagios` (before they are parsed: a parse error
/// must be answered as a plugin answers it).
fn nagios_requested(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.windows(2)
        .any(|w| (w[0] == "--format" || w[0] == "-f") && w[1] == "nagios")
        || args.iter().any(|a| a == "--format=nagios")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = cli.color;
    match cli.command {
        Command::Decode {
            hex,
            format,
            output,
        } => app::decode::decode(&hex, format, &output),
        Command::Explain {
            words,
            format,
            output,
        } => app::explain::explain(&words, format, &output, app::use_color(color, &output)),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "rdprobe", &mut out);
            std::io::Write::flush(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            std::io::Write::flush(&mut out)?;
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
            keylog,
            jobs,
        } => {
            if format == OutFormat::Nagios {
                anyhow::bail!("--format nagios is for probe");
            }
            if html.is_some() && format == OutFormat::Jsonl {
                anyhow::bail!("--html keeps the connections: use --format text or json with it");
            }
            let paint = app::use_color(color, &output);
            app::pcap::pcap(
                &files,
                app::open_output(&output)?,
                app::pcap::PcapArgs {
                    ports,
                    format,
                    paint,
                    html,
                    keylog,
                    jobs,
                },
            )
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
            udp,
            gateway,
            stop_after,
            user,
            auth,
            kdc,
            keylog,
            html,
            cert_warn,
            cert_crit,
            shard,
            resume,
            clients,
            watch,
            count,
            format,
            output,
        } => {
            let credentials = user
                .as_deref()
                .map(|u| app::probe::read_credentials(u).map(std::sync::Arc::new))
                .transpose()?;
            let gateway = gateway
                .map(|g| {
                    app::probe::gateway_options(&g, user.as_deref(), credentials.clone())
                })
                .transpose()?;
            if udp && gateway.is_some() {
                // Said, not silently dropped: the gateway's UDP side channel is DTLS.
                eprintln!("rdprobe: --udp is not probed through --gateway (the RD Gateway's UDP side channel, port 3391, is DTLS, which rdprobe does not speak yet): only the TCP path is probed");
            }
            let opts = rdprobe::active::run::ProbeOptions {
                timeout: std::time::Duration::from_secs_f64(timeout),
                stage_timeout: std::time::Duration::from_secs_f64(stage_timeout.min(timeout)),
                pace: std::time::Duration::from_millis(pace_ms),
                enumerate: !no_enum,
                udp,
                gateway,
                sni,
                rate: rate.map(|r| std::sync::Arc::new(rdprobe::active::run::Rate::new(r))),
                stop_after,
                credentials,
                auth: auth.into(),
                kdc,
                keylog: rdprobe::active::keylog::for_run(keylog.as_deref()).with_context(|| {
                    format!(
                        "opening the key log {}",
                        keylog.as_deref().map_or_else(String::new, |p| {
                            rdprobe::escape::terminal(&p.display().to_string())
                        })
                    )
                })?,
            };
            let list = app::probe::ProbeList {
                targets,
                input,
                port,
                allow_large_blocks,
                shard,
                resume,
            };
            let watch = watch.map(|secs| app::probe::Watch {
                interval: std::time::Duration::from_secs_f64(secs),
                count,
            });
            let paint = app::use_color(color, &output);
            if html.is_some() && watch.is_some() {
                anyhow::bail!("--html is for a run's results, not for --watch");
            }
            if format == OutFormat::Nagios && (watch.is_some() || html.is_some()) {
                anyhow::bail!("--format nagios gives one status: not with --watch or --html");
            }
            let shown = app::probe::Shown {
                format,
                output,
                clients,
                paint,
                html,
                thresholds: rdprobe::report::nagios::Thresholds {
                    cert_warn_days: cert_warn,
                    cert_crit_days: cert_crit,
                },
            };
            app::probe::probe(list, opts, concurrency as usize, shown, watch)
        }
        Command::Summarize {
            files,
            format,
            output,
            html,
        } => app::summarize::summarize(&files, format, &output, html.as_deref()),
        Command::Exporter { listen, config } => rdprobe::exporter::run(listen, config),
        #[cfg(feature = "live")]
        Command::Capture {
            interface,
            filter,
            ports,
            format,
            duration,
            count,
            keylog,
        } => {
            if format == OutFormat::Nagios {
                anyhow::bail!("--format nagios is for probe");
            }
            app::live::live(interface, filter, ports, format, duration, count, keylog)
        }
    }
}
