//! `rdprobe capture`: live capture through libpcap, each connection written as it ends.

use std::io::Write;
use std::process::ExitCode;

use super::exit_code;
use crate::cli::OutFormat;

pub(crate) fn live(
    interface: String,
    filter: Option<String>,
    ports: Vec<u16>,
    format: OutFormat,
    duration: Option<f64>,
    count: Option<u64>,
    keylog: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use rdprobe::capture::analyzer::Config;
    use rdprobe::capture::live::{run, LiveOptions};
    // The capture's name on every line, as a file's name is in `pcap`'s (summarize pairs a
    // capture's connections with its summary line by it).
    let capture = format!("live:{interface}");
    let opts = LiveOptions {
        interface,
        filter,
        config: Config {
            ports,
            keylog: keylog
                .as_deref()
                .map(super::pcap::read_keylog)
                .transpose()?,
            ..Config::default()
        },
        duration: duration.map(std::time::Duration::from_secs_f64),
        count,
    };
    use rdprobe::report::json;
    let mut worst = rdprobe::diagnose::Verdict::Ok;
    let mut write_error: Option<std::io::Error> = None;
    let report = run(&opts, |c| {
        worst = rdprobe::diagnose::worse(worst, c.verdict);
        if write_error.is_some() {
            return;
        }
        // Streamed as each connection ends, in the one JSON Lines envelope.
        let mut out = std::io::stdout().lock();
        let written = match format {
            OutFormat::Text => {
                let mut s = String::new();
                rdprobe::report::text::connection(&c, &mut s);
                writeln!(out, "{s}")
            }
            _ => json::write_connection(&mut out, Some(&capture), &c).and_then(|()| writeln!(out)),
        }
        .and_then(|()| out.flush());
        if let Err(e) = written {
            eprintln!("rdprobe: standard output: {e}; the capture goes on to its end, unreported");
            write_error = Some(e);
        }
    })?;
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(e.into());
    }
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
    Ok(exit_code(worst, false))
}
