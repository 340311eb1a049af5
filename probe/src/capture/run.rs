//! Reading a capture file through the whole pipeline.

use std::path::Path;

use crate::capture::analyzer::{Analyzer, Config};
use crate::capture::link;
use crate::capture::source::{PacketReader, SourceError};
use crate::report::capture::{CaptureReport, Connection};

/// Most per-packet decode notices kept in a report (the rest are counted).
const MAX_NOTICES: usize = 20;

/// Analyzes one file. `on_connection` sees each connection as soon as it is finished (for
/// streaming output); the report holds them all. A corrupt or truncated file is not an error:
/// the analysis ends with what it has and says so in `notices`. Only a file that cannot be
/// opened or is not a capture at all is an error.
pub fn analyze_file(
    path: &Path,
    cfg: Config,
    progress: impl FnMut(u64),
    on_connection: impl FnMut(&Connection),
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
    mut on_connection: impl FnMut(&Connection),
) -> Result<CaptureReport, SourceError> {
    let keep = cfg.keep_connections;
    let cancel = cfg.cancel.clone();
    let mut analyzer = Analyzer::new(cfg);
    let mut connections = Vec::new();
    let mut notices = Vec::new();
    let (mut packets, mut bytes) = (0u64, 0u64);
    let (mut undecodable, mut non_ip) = (0u64, 0u64);
    loop {
        let pkt = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                notices.push(format!("{e}; the analysis uses the packets before it"));
                break;
            }
        };
        packets += 1;
        bytes += u64::from(pkt.orig_len);
        if packets % 4096 == 0
            && cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            notices.push(format!(
                "the analysis was stopped at packet {packets} (the output was closed)"
            ));
            break;
        }
        match link::decode(pkt.link, pkt.data) {
            Ok(d) => analyzer.packet(pkt.number, pkt.ts_ns, &d),
            // ARP, LLDP and the like are normal on a wire: counted, not reported.
            Err(link::LinkError::NotIp { .. } | link::LinkError::UnsupportedFamily { .. }) => {
                non_ip += 1
            }
            Err(e) => {
                undecodable += 1;
                if notices.len() < MAX_NOTICES {
                    notices.push(format!("packet {}: {e}", pkt.number));
                }
            }
        }
        if packets % 65_536 == 0 {
            progress(reader.bytes_read());
        }
        // Finished connections leave at once in batches (a SYN scan evicts one per packet).
        if analyzer.finished_len() >= 256 || packets % 65_536 == 0 {
            for c in analyzer.take_finished() {
                on_connection(&c);
                if keep {
                    connections.push(c);
                }
            }
        }
    }
    for n in reader.notices() {
        notices.push(n.message.clone());
    }
    let udp = analyzer.finish_each(|c| {
        on_connection(&c);
        if keep {
            connections.push(c);
        }
    });
    connections.sort_by_key(|c| c.first_packet);
    let mut summary = analyzer.summary.clone();
    if summary.reassembly_skipped_gaps > 0 {
        notices.push(format!(
            "to stay within the reassembly memory limits, {} byte(s) in {} gap(s) were skipped instead of held (heavy reordering or loss); the TCP counts are complete",
            summary.reassembly_skipped_bytes, summary.reassembly_skipped_gaps
        ));
    }
    summary.undecodable_packets = undecodable;
    summary.non_ip_packets = non_ip;
    Ok(CaptureReport {
        file: String::new(),
        packets,
        bytes,
        connections,
        udp,
        notices,
        summary,
    })
}
