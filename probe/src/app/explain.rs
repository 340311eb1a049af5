//! `rdprobe explain`: what an mstsc or FreeRDP code or message means, and how to check it.

use std::io::Write;
use std::process::ExitCode;

use super::open_output;
use crate::cli::Format;

/// `rdprobe explain`: every reading of the arguments; exit 1 when nothing matched.
pub(crate) fn explain(
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
