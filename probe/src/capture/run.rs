//! Reading a capture file through the whole pipeline.

use std::path::Path;

use crate::capture::analyzer::Config;
use crate::capture::pipeline::Pipeline;
use crate::capture::source::{PacketReader, SourceError};
use crate::report::capture::{CaptureReport, Connection};

/// Analyzes one file. With `cfg.keep_connections` the report holds every connection; without,
/// `on_connection` is given each as soon as it is finished (streaming output). A corrupt or truncated file is not an error:
/// the analysis ends with what it has and says so in `notices`. Only a file that cannot be
/// opened or is not a capture at all is an error.
pub fn analyze_file(
    path: &Path,
    cfg: Config,
    progress: impl FnMut(u64),
    on_connection: impl FnMut(Connection),
) -> Result<CaptureReport, SourceError> {
    let reader = PacketReader::open(path)?;
    let mut report = analyze_reader(reader, cfg, progress, on_connection)?;
    report.file = path.display().to_string();
    Ok(report)
}

/// [`analyze_file`] over any reader (the fuzz target feeds arbitrary bytes through here).
pub fn analyze_reader<R: std::io::Read>(
    mut reader: PacketReader<R>,
    cfg: Config,
    mut progress: impl FnMut(u64),
    on_connection: impl FnMut(Connection),
) -> Result<CaptureReport, SourceError> {
    let cancel = cfg.cancel.clone();
    let mut pipeline = Pipeline::new(cfg, on_connection);
    loop {
        if let Some(text) = reader.take_secrets() {
            pipeline.add_secrets(&text);
        }
        let pkt = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                pipeline
                    .notices
                    .push(format!("{e}; the analysis uses the packets before it"));
                break;
            }
        };
        if (pipeline.packets + 1) % 4096 == 0
            && cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            pipeline.packets += 1;
            pipeline.bytes += u64::from(pkt.orig_len);
            let n = pipeline.packets;
            pipeline.notices.push(format!(
                "the analysis was stopped at packet {n} (the output was closed)"
            ));
            break;
        }
        pipeline.packet(pkt.number, pkt.ts_ns, pkt.link, pkt.data, pkt.orig_len);
        if pipeline.packets % 65_536 == 0 {
            progress(reader.bytes_read());
        }
    }
    for n in reader.notices() {
        pipeline.notices.push(n.message.clone());
    }
    Ok(pipeline.finish(String::new()))
}
