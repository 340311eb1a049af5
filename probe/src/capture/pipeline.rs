//! One pipeline for files and live capture: each packet's link layer decoded, fed to the
//! analyzer, finished connections handed out at once in batches, undecodable packets counted
//! by reason, and the report assembled at the end.

use crate::capture::analyzer::{Analyzer, Config};
use crate::capture::link;
use crate::capture::source::LinkType;
use crate::report::capture::{CaptureReport, Connection};

/// Most per-packet decode notices kept in a report (the rest are counted).
const MAX_NOTICES: usize = 20;

/// Packets in, connections out.
pub struct Pipeline<F: FnMut(Connection)> {
    analyzer: Analyzer,
    keep: bool,
    on_connection: F,
    connections: Vec<Connection>,
    pub notices: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    undecodable: u64,
    non_ip: u64,
}

impl<F: FnMut(Connection)> Pipeline<F> {
    /// With `cfg.keep_connections` the report keeps every connection; without, each is handed
    /// to `on_connection` as soon as it is finished (streaming output) and not kept.
    pub fn new(cfg: Config, on_connection: F) -> Self {
        Self {
            keep: cfg.keep_connections,
            analyzer: Analyzer::new(cfg),
            on_connection,
            connections: Vec::new(),
            notices: Vec::new(),
            packets: 0,
            bytes: 0,
            undecodable: 0,
            non_ip: 0,
        }
    }

    /// One captured packet: its number, time, link type, captured bytes and original length.
    pub fn packet(&mut self, number: u64, ts_ns: i64, link: LinkType, data: &[u8], orig_len: u32) {
        self.packets += 1;
        self.bytes += u64::from(orig_len);
        match link::decode(link, data) {
            Ok(d) => self.analyzer.packet(number, ts_ns, &d),
            // ARP, LLDP and the like are normal on a wire: counted, not reported.
            Err(link::LinkError::NotIp { .. } | link::LinkError::UnsupportedFamily { .. }) => {
                self.non_ip += 1
            }
            Err(e) => {
                self.undecodable += 1;
                if self.notices.len() < MAX_NOTICES {
                    self.notices.push(format!("packet {number}: {e}"));
                }
            }
        }
        // Finished connections leave at once in batches (a SYN scan evicts one per packet).
        if self.analyzer.finished_len() >= 256 || self.packets % 65_536 == 0 {
            self.flush();
        }
    }

    /// A TLS key log carried by the capture (pcapng Decryption Secrets Blocks).
    pub fn add_secrets(&mut self, text: &[u8]) {
        let added = self
            .analyzer
            .keys
            .embedded
            .add_text(&String::from_utf8_lossy(text));
        if added.rejected > 0 && self.notices.len() < MAX_NOTICES {
            self.notices.push(format!(
                "{} line(s) of the capture's TLS key log are not key log lines",
                added.rejected
            ));
        }
    }

    /// Time passes without packets (live capture): idle connections finish.
    pub fn tick(&mut self, now_ns: i64) {
        self.analyzer.tick(now_ns);
        self.flush();
    }

    /// Hands out the connections finished so far.
    pub fn flush(&mut self) {
        for c in self.analyzer.take_finished() {
            if self.keep {
                self.connections.push(c);
            } else {
                (self.on_connection)(c);
            }
        }
    }

    /// The end of the input: every connection still open is finished; the report.
    pub fn finish(mut self, file: String) -> CaptureReport {
        let (keep, on_connection, connections) =
            (self.keep, &mut self.on_connection, &mut self.connections);
        let udp = self.analyzer.finish_each(|c| {
            if keep {
                connections.push(c);
            } else {
                on_connection(c);
            }
        });
        self.connections.sort_by_key(|c| c.first_packet);
        let mut summary = self.analyzer.summary.clone();
        if summary.reassembly_skipped_gaps > 0 {
            self.notices.push(format!(
                "to stay within the reassembly memory limits, {} byte(s) in {} gap(s) were skipped instead of held (heavy reordering or loss); the TCP counts are complete",
                summary.reassembly_skipped_bytes, summary.reassembly_skipped_gaps
            ));
        }
        if summary.connections == 0 && summary.other_tcp_failed > 0 {
            let ports = summary
                .other_tcp_failed_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            self.notices.push(format!(
                "no RDP found, but {} TCP connection(s) failed (refused or unanswered) to port(s) {ports}: if RDP listens on a custom port, give it with --port",
                summary.other_tcp_failed
            ));
        }
        summary.undecodable_packets = self.undecodable;
        summary.non_ip_packets = self.non_ip;
        CaptureReport {
            file,
            packets: self.packets,
            bytes: self.bytes,
            findings: {
                // Sprays first; then the KDC's refusals no RDP connection of the capture took.
                let mut f = self.analyzer.attempts.findings();
                f.extend(crate::diagnose::rules::kerberos(
                    &self.analyzer.kerberos.untaken(),
                    false,
                    false,
                ));
                f
            },
            connections: self.connections,
            udp,
            notices: self.notices,
            summary,
        }
    }
}
