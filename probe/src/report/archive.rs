//! The end of many captures (a capture archive): `rdprobe pcap` over several files, and
//! `rdprobe summarize` over the JSON Lines of pcap runs. The files' summaries added up, the
//! connections per stage they stopped at and per finding id (with a few of their servers), and
//! the capture-level findings per file. Bounded like [`crate::report::fleet`]: counts over
//! closed sets and a few examples; and, like it, independent of the order files and
//! connections come in, so the summary of runs read one after another equals one run's.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnose::{FindingId, Severity, Stage};
use crate::report::capture::{CaptureReport, Connection, Summary};
use crate::report::fleet::{findings_of, keep_example, rows_by_count, FindingLine, RecordLine};

/// The summary of several captures (`{"type":"summary","data":...}` without `file` in JSON
/// Lines, after the files' own lines).
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ArchiveSummary {
    /// Capture files read.
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
    /// The files' summaries added up (the failed ports: the lowest few of them all).
    pub summary: Summary,
    /// Connections per stage they stopped at.
    pub stopped_at: BTreeMap<Stage, u64>,
    /// Per finding id of the connections: its severity, how many connections have it, and the
    /// first few of their servers (in sort order).
    pub findings: BTreeMap<FindingId, ConnectionCount>,
    /// Per capture-level finding id (`password-spray`, `brute-force`, a KDC's refusals): how
    /// many files have it, and the first few of them.
    pub capture_findings: BTreeMap<FindingId, FileCount>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ConnectionCount {
    pub severity: Severity,
    pub connections: u64,
    pub servers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FileCount {
    pub severity: Severity,
    pub files: u64,
    pub examples: Vec<String>,
}

/// What the summary reads of a `{"type":"connection"}` line of an earlier run
/// ([`ConnectionEntry::from_json`]); this run's connections are added as they are.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionEntry {
    pub server: String,
    pub stopped_at: Option<Stage>,
    pub findings: Vec<(FindingId, Severity)>,
}

impl ConnectionEntry {
    /// The entry of a connection as `rdprobe pcap --format jsonl` writes it (the `data` of a
    /// `{"type":"connection"}` line, as JSON text); None when it is not one.
    pub fn from_json(data: &str) -> Option<Self> {
        let r: RecordLine = serde_json::from_str(data).ok()?;
        Some(Self {
            server: r.server?.into_owned(),
            stopped_at: r.stopped_at.stage()?,
            findings: findings_of(&r.findings)?,
        })
    }
}

/// What the summary reads of one file's end: its counts, summary and capture-level findings.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    pub file: String,
    pub packets: u64,
    pub bytes: u64,
    pub summary: Summary,
    pub findings: Vec<(FindingId, Severity)>,
}

impl From<&CaptureReport> for FileEntry {
    fn from(r: &CaptureReport) -> Self {
        Self {
            file: r.file.clone(),
            packets: r.packets,
            bytes: r.bytes,
            summary: r.summary.clone(),
            findings: r.findings.iter().map(|f| (f.id, f.severity)).collect(),
        }
    }
}

/// What the summary reads of a capture's summary line.
#[derive(serde::Deserialize)]
struct FileLine<'a> {
    packets: u64,
    bytes: u64,
    summary: Summary,
    #[serde(borrow, default)]
    findings: Vec<FindingLine<'a>>,
}

impl FileEntry {
    /// The entry of a `{"type":"summary","file":...}` line (`file` is the envelope's, `data`
    /// its `data` as JSON text); None when it is not one.
    pub fn from_json(file: &str, data: &str) -> Option<Self> {
        let f: FileLine = serde_json::from_str(data).ok()?;
        Some(Self {
            file: file.to_owned(),
            packets: f.packets,
            bytes: f.bytes,
            summary: f.summary,
            findings: findings_of(&f.findings)?,
        })
    }
}

impl ArchiveSummary {
    /// Adds one connection of this run.
    pub fn add_connection(&mut self, c: &Connection) {
        self.add_parts(
            &c.server,
            c.stopped_at,
            c.findings.iter().map(|f| (f.id, f.severity)),
        );
    }

    /// Adds one connection read from JSON Lines.
    pub fn add_entry(&mut self, c: &ConnectionEntry) {
        self.add_parts(&c.server, c.stopped_at, c.findings.iter().copied());
    }

    fn add_parts(
        &mut self,
        server: &str,
        stopped_at: Option<Stage>,
        findings: impl Iterator<Item = (FindingId, Severity)>,
    ) {
        if let Some(s) = stopped_at {
            *self.stopped_at.entry(s).or_default() += 1;
        }
        let mut seen: Vec<FindingId> = Vec::new();
        for (id, severity) in findings {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let n = self.findings.entry(id).or_insert_with(|| ConnectionCount {
                severity,
                connections: 0,
                servers: Vec::new(),
            });
            n.connections += 1;
            n.severity = n.severity.max(severity);
            keep_example(&mut n.servers, server);
        }
    }

    /// Adds one file's end.
    pub fn add_file(&mut self, f: &FileEntry) {
        // Saturating: the counts come from files `summarize` reads.
        self.files += 1;
        self.packets = self.packets.saturating_add(f.packets);
        self.bytes = self.bytes.saturating_add(f.bytes);
        self.summary.add(&f.summary);
        let mut seen: Vec<FindingId> = Vec::new();
        for (id, severity) in &f.findings {
            if seen.contains(id) {
                continue;
            }
            seen.push(*id);
            let n = self
                .capture_findings
                .entry(*id)
                .or_insert_with(|| FileCount {
                    severity: *severity,
                    files: 0,
                    examples: Vec::new(),
                });
            n.files += 1;
            n.severity = n.severity.max(*severity);
            keep_example(&mut n.examples, &f.file);
        }
    }

    /// Adds another archive's summary (one file's, or a thread's).
    pub fn merge(&mut self, o: &ArchiveSummary) {
        self.files = self.files.saturating_add(o.files);
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.summary.add(&o.summary);
        for (s, n) in &o.stopped_at {
            let at = self.stopped_at.entry(*s).or_default();
            *at = at.saturating_add(*n);
        }
        for (id, c) in &o.findings {
            let n = self.findings.entry(*id).or_insert_with(|| ConnectionCount {
                severity: c.severity,
                connections: 0,
                servers: Vec::new(),
            });
            n.connections = n.connections.saturating_add(c.connections);
            n.severity = n.severity.max(c.severity);
            for s in &c.servers {
                keep_example(&mut n.servers, s);
            }
        }
        for (id, c) in &o.capture_findings {
            let n = self
                .capture_findings
                .entry(*id)
                .or_insert_with(|| FileCount {
                    severity: c.severity,
                    files: 0,
                    examples: Vec::new(),
                });
            n.files = n.files.saturating_add(c.files);
            n.severity = n.severity.max(c.severity);
            for f in &c.examples {
                keep_example(&mut n.examples, f);
            }
        }
    }

    /// The finding rows, most connections first (then worst severity, then catalogue order).
    pub fn finding_rows(&self) -> Vec<(FindingId, &ConnectionCount)> {
        rows_by_count(&self.findings, |c| (c.connections, c.severity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(server: &str, ids: &[FindingId], stop: Option<Stage>) -> ConnectionEntry {
        ConnectionEntry {
            server: server.into(),
            stopped_at: stop,
            findings: ids.iter().map(|i| (*i, i.entry().0)).collect(),
        }
    }

    #[test]
    fn merged_parts_equal_one_pass_in_any_order() {
        let conns: Vec<_> = (0..40)
            .map(|i| match i % 4 {
                0 => conn(
                    &format!("10.0.0.{}:3389", i % 7),
                    &[FindingId::SynUnanswered],
                    Some(Stage::Tcp),
                ),
                1 => conn(
                    &format!("10.0.1.{i}:3389"),
                    &[FindingId::NlaNotRequired, FindingId::NlaNotRequired],
                    None,
                ),
                _ => conn(&format!("10.0.2.{i}:3389"), &[], None),
            })
            .collect();
        let file = |name: &str, ports: &[u16]| FileEntry {
            file: name.into(),
            packets: 10,
            bytes: 100,
            summary: Summary {
                connections: 20,
                other_tcp_failed_ports: ports.to_vec(),
                ..Default::default()
            },
            findings: vec![(FindingId::PasswordSpray, Severity::Warning)],
        };
        let files = [
            file("b.pcap", &[9, 8, 7]),
            file("a.pcap", &[1, 2, 3, 4, 5, 6]),
        ];
        let mut one = ArchiveSummary::default();
        for c in &conns {
            one.add_entry(c);
        }
        for f in &files {
            one.add_file(f);
        }
        let (mut a, mut b) = (ArchiveSummary::default(), ArchiveSummary::default());
        for c in conns.iter().rev().take(25) {
            a.add_entry(c);
        }
        for c in conns.iter().rev().skip(25) {
            b.add_entry(c);
        }
        a.add_file(&files[1]);
        b.add_file(&files[0]);
        b.merge(&a);
        assert_eq!(one, b);
        assert_eq!(one.files, 2);
        assert_eq!(one.summary.connections, 40);
        assert_eq!(one.stopped_at[&Stage::Tcp], 10);
        let syn = &one.findings[&FindingId::SynUnanswered];
        assert_eq!(syn.connections, 10);
        assert_eq!(
            syn.servers,
            ["10.0.0.0:3389", "10.0.0.1:3389", "10.0.0.2:3389"]
        );
        assert_eq!(one.findings[&FindingId::NlaNotRequired].connections, 10);
        assert_eq!(one.capture_findings[&FindingId::PasswordSpray].files, 2);
        assert_eq!(
            one.summary.other_tcp_failed_ports,
            [1, 2, 3, 4, 5, 6, 7, 8],
            "the lowest ports of all the files"
        );
    }
}
