//! What each command does, one module per command (the grammar is in `crate::cli`), and what
//! they share: where results go, colours, progress bars, the exit code.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use rdprobe::diagnose::Verdict;

use crate::cli;

pub(crate) mod decode;
pub(crate) mod explain;
#[cfg(feature = "live")]
pub(crate) mod live;
pub(crate) mod pcap;
pub(crate) mod probe;
pub(crate) mod sink;
pub(crate) mod summarize;

/// The exit code of a run (README, "Exit codes"): 2 when an input could not be read, 1 when
/// a result is not ok (the worst verdict is a warning or an error), 0 otherwise.
pub(crate) fn exit_code(worst: Verdict, input_error: bool) -> ExitCode {
    if input_error {
        ExitCode::from(2)
    } else if worst == Verdict::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress bar on standard error, only when it is a terminal (never in pipes, files or
/// JSON on stdout's side).
pub(crate) fn progress_bar(len: u64, template: &str) -> Option<indicatif::ProgressBar> {
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
pub(crate) fn write_html(path: &std::path::Path, page: &str) -> anyhow::Result<()> {
    std::fs::write(path, page).with_context(|| {
        format!(
            "writing {}",
            rdprobe::escape::terminal(&path.display().to_string())
        )
    })
}

/// Where a command's results go: `-o FILE`, else standard output.
pub(crate) fn open_output(output: &Option<std::path::PathBuf>) -> anyhow::Result<Box<dyn Write>> {
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
pub(crate) fn use_color(choice: cli::Color, output: &Option<std::path::PathBuf>) -> bool {
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
