//! Scan-like connection attempts in a capture (unanswered, refused, half-open, no request
//! sent) summarised per server and outcome, so that the text report of a SYN scan of a million
//! flows stays readable. JSON keeps every connection; only the text report folds them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::facts::rdp::Side;
use crate::facts::tcp::ConnState;
use crate::report::capture::Connection;

/// Up to this many scan-like attempts are printed one by one; beyond, all are summarised.
pub const PRINT_INDIVIDUALLY: usize = 20;

/// Distinct sources counted per group (beyond: counted as "other sources").
const MAX_SOURCES: usize = 4096;

/// How many sources are named per group.
pub const TOP_SOURCES: usize = 5;

/// What a scan-like attempt came to.
pub fn outcome(c: &Connection) -> Option<&'static str> {
    if c.rdp.is_some() || c.tcp.client_bytes > 0 || c.tcp.server_bytes > 0 {
        return None;
    }
    Some(match c.tcp.state {
        ConnState::S0 | ConnState::SH => "unanswered",
        ConnState::REJ => "refused",
        ConnState::RSTOS0 => "client reset before any answer",
        _ if c.tcp.reset_by == Some(Side::Client) => "half-open (client reset)",
        _ => "no request sent",
    })
}

/// One server and outcome.
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Group {
    pub count: u64,
    pub first: String,
    pub last: String,
    /// Attempts per source address (at most [`MAX_SOURCES`] addresses).
    #[serde(skip)]
    sources: HashMap<String, u64>,
    pub other_sources: u64,
}

impl Group {
    /// The sources with the most attempts, most first.
    pub fn top_sources(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.sources.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    pub fn distinct_sources(&self) -> usize {
        self.sources.len()
    }
}

/// The scan-like attempts of a capture: the first few kept whole, then everything summarised.
#[derive(Clone, Debug, Default)]
pub struct Scans {
    /// Kept whole while there are at most [`PRINT_INDIVIDUALLY`].
    pub individual: Vec<Connection>,
    /// (server, outcome) -> group, once summarising.
    pub groups: BTreeMap<(String, &'static str), Group>,
    pub total: u64,
}

impl Scans {
    /// Takes `c` if it is scan-like; gives it back otherwise.
    pub fn offer(&mut self, c: Connection) -> Option<Connection> {
        let Some(what) = outcome(&c) else {
            return Some(c);
        };
        self.total += 1;
        if self.groups.is_empty() && self.individual.len() < PRINT_INDIVIDUALLY {
            self.individual.push(c);
            return None;
        }
        for k in std::mem::take(&mut self.individual) {
            if let Some(w) = outcome(&k) {
                self.fold(&k, w);
            }
        }
        self.fold(&c, what);
        None
    }

    fn fold(&mut self, c: &Connection, what: &'static str) {
        let g = self.groups.entry((c.server.clone(), what)).or_default();
        g.count += 1;
        if g.first.is_empty() || c.start < g.first {
            g.first = c.start.clone();
        }
        if c.start > g.last {
            g.last = c.start.clone();
        }
        let source = c
            .client
            .rsplit_once(':')
            .map_or(c.client.as_str(), |(ip, _)| ip);
        if let Some(n) = g.sources.get_mut(source) {
            *n += 1;
        } else if g.sources.len() < MAX_SOURCES {
            g.sources.insert(source.to_owned(), 1);
        } else {
            g.other_sources += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::capture::TcpReport;

    fn attempt(client: &str, state: ConnState) -> Connection {
        Connection {
            client: client.into(),
            server: "203.0.113.10:3389".into(),
            start: "2026-01-01T00:00:00Z".into(),
            duration_ms: 0.0,
            verdict: crate::diagnose::Verdict::Error,
            stopped_at: Some(crate::diagnose::Stage::Tcp),
            stages: Vec::new(),
            tcp: TcpReport {
                state,
                ..TcpReport::default()
            },
            rdp: None,
            https: None,
            gateway: None,
            inner: None,
            mstsc: None,
            diagnosis: Default::default(),
            findings: Vec::new(),
            series: None,
            first_packet: 1,
        }
    }

    #[test]
    fn a_few_attempts_stay_whole_many_are_summarised_per_server_and_outcome() {
        let mut s = Scans::default();
        for i in 0..PRINT_INDIVIDUALLY {
            assert!(s
                .offer(attempt(&format!("198.51.100.1:{i}"), ConnState::S0))
                .is_none());
        }
        assert_eq!(s.individual.len(), PRINT_INDIVIDUALLY);
        assert!(s.groups.is_empty());
        for i in 0..1000u32 {
            let src = format!("198.51.100.{}:{}", 1 + i % 3, 2000 + i);
            let state = if i % 10 == 0 {
                ConnState::REJ
            } else {
                ConnState::S0
            };
            assert!(s.offer(attempt(&src, state)).is_none());
        }
        assert!(s.individual.is_empty());
        assert_eq!(s.total, 1000 + PRINT_INDIVIDUALLY as u64);
        let un = &s.groups[&("203.0.113.10:3389".to_owned(), "unanswered")];
        let rej = &s.groups[&("203.0.113.10:3389".to_owned(), "refused")];
        assert_eq!(un.count + rej.count, s.total);
        assert_eq!(rej.count, 100);
        assert_eq!(un.top_sources(1)[0].0, "198.51.100.1");
        let mut rdp = attempt("198.51.100.9:1", ConnState::SF);
        rdp.tcp.client_bytes = 19;
        assert!(
            s.offer(rdp).is_some(),
            "a connection that carried bytes is not a scan"
        );
    }
}
