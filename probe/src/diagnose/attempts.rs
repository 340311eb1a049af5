//! Refused logons across a capture: a password spray or a brute force is many NLA attempts
//! refused in CredSSP from one client (or from many clients against one server) within a
//! window. Each connection is judged on its own first ([`refused_logon`]); this tally sees them
//! together and raises the capture-level findings (`password-spray` when several user names
//! are seen, `brute-force` otherwise).
//!
//! Thresholds: [`THRESHOLD`] refusals within [`WINDOW_S`], Windows' default account lockout
//! policy (10 failed logons in 10 minutes locks an account): a user who mistypes does not
//! reach it, an attack does before it locks. Against one server, [`SERVER_THRESHOLD`]
//! refusals from at least [`MIN_SOURCES`] clients (a distributed spray) in the same window.
//! Memory is bounded: at most [`MAX_KEYS`] clients and servers are tallied, each keeps at most
//! [`MAX_NAMES`] user names and sources.

use core::net::IpAddr;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::{finding, Finding, FindingId, Severity};

/// Refusals within [`WINDOW_S`] from one client that make an attack.
pub const THRESHOLD: usize = 10;
/// Refusals within [`WINDOW_S`] against one server, from [`MIN_SOURCES`] clients or more.
pub const SERVER_THRESHOLD: usize = 20;
pub const MIN_SOURCES: usize = 5;
/// The window, seconds.
pub const WINDOW_S: i64 = 600;
/// User names seen in a spray: this many and more.
pub const SPRAY_USERS: usize = 3;
const MAX_KEYS: usize = 100_000;
const MAX_NAMES: usize = 32;
const MAX_SERVERS: usize = 8;

/// Whether a connection's findings say its logon was refused in CredSSP: an NTSTATUS family,
/// `auth-failed`, `user-not-authorized`, or `credssp-failed` as an error.
pub fn refused_logon(findings: &[Finding]) -> bool {
    use FindingId as I;
    findings.iter().any(|f| match f.id {
        I::LogonFailure
        | I::AccountLocked
        | I::AccountDisabled
        | I::PasswordExpired
        | I::LogonRestricted
        | I::UserNotAuthorized
        | I::AuthFailed => true,
        I::CredsspFailed => f.severity == Severity::Error,
        _ => false,
    })
}

/// One refused logon.
#[derive(Clone, Copy, Debug)]
pub struct Refusal<'a> {
    pub client: IpAddr,
    pub server: &'a str,
    pub ts_ns: i64,
    /// The account (decrypted), or the X.224 cookie's `mstshash` user name.
    pub user: Option<&'a str>,
    /// `user` is the cookie's (a client's word, truncated by old mstsc; a tool's own name).
    pub from_cookie: bool,
}

#[derive(Debug, Default)]
struct Tally {
    count: u64,
    first_ns: i64,
    last_ns: i64,
    /// The last refusals' times, at most the threshold.
    recent: VecDeque<i64>,
    /// The first time the threshold was met within the window, and the most in one window.
    burst: Option<i64>,
    users: BTreeSet<String>,
    more_users: bool,
    users_from_cookie: bool,
    sources: BTreeMap<IpAddr, u64>,
    more_sources: bool,
    servers: BTreeSet<String>,
    more_servers: bool,
}

impl Tally {
    fn add(&mut self, r: &Refusal<'_>, threshold: usize) {
        if self.count == 0 {
            self.first_ns = r.ts_ns;
        }
        self.count += 1;
        self.first_ns = self.first_ns.min(r.ts_ns);
        self.last_ns = self.last_ns.max(r.ts_ns);
        self.recent.push_back(r.ts_ns);
        if self.recent.len() > threshold {
            self.recent.pop_front();
        }
        if let (Some(a), Some(b)) = (self.recent.front(), self.recent.back()) {
            if self.recent.len() == threshold
                && b.abs_diff(*a) <= (WINDOW_S as u64) * 1_000_000_000
                && self.burst.is_none()
            {
                self.burst = Some(*b);
            }
        }
        if let Some(u) = r.user.filter(|u| !u.is_empty()) {
            self.users_from_cookie |= r.from_cookie;
            if self.users.len() < MAX_NAMES {
                self.users.insert(u.to_owned());
            } else if !self.users.contains(u) {
                self.more_users = true;
            }
        }
        let room = self.sources.len() < MAX_NAMES;
        match self.sources.get_mut(&r.client) {
            Some(n) => *n += 1,
            None if room => {
                self.sources.insert(r.client, 1);
            }
            None => self.more_sources = true,
        }
        if !self.servers.contains(r.server) {
            if self.servers.len() < MAX_SERVERS {
                self.servers.insert(r.server.to_owned());
            } else {
                self.more_servers = true;
            }
        }
    }

    fn evidence(&self, lead: Option<&str>) -> String {
        let secs = (self.last_ns - self.first_ns).max(0) as f64 / 1e9;
        let rate = if secs > 0.0 {
            format!("{:.1} per minute", self.count as f64 * 60.0 / secs)
        } else {
            "all at once".to_owned()
        };
        let list = |items: Vec<String>, more: bool| {
            let mut s = items.join(", ");
            if more {
                s.push_str(" and more");
            }
            s
        };
        let users = if self.users.is_empty() {
            "user names not visible (no key log; the X.224 cookie named none)".to_owned()
        } else {
            format!(
                "user names{} {}",
                if self.users_from_cookie {
                    " (some from the X.224 cookie)"
                } else {
                    ""
                },
                list(self.users.iter().cloned().collect(), self.more_users)
            )
        };
        let sources = list(
            self.sources
                .iter()
                .map(|(ip, n)| format!("{ip} ({n})"))
                .collect(),
            self.more_sources,
        );
        let servers = list(self.servers.iter().cloned().collect(), self.more_servers);
        let lead = lead.map(|l| format!("{l}: ")).unwrap_or_default();
        format!(
            "{lead}{} refused NLA logons from {sources} to {servers}, {} .. {} ({rate}; {THRESHOLD}+ within {} min); {users}",
            self.count,
            crate::time::rfc3339(self.first_ns.div_euclid(1_000_000_000)),
            crate::time::rfc3339(self.last_ns.div_euclid(1_000_000_000)),
            WINDOW_S / 60,
        )
    }

    fn finding(&self, lead: Option<&str>) -> Finding {
        let id = if self.users.len() >= SPRAY_USERS {
            FindingId::PasswordSpray
        } else {
            FindingId::BruteForce
        };
        finding(id, self.evidence(lead))
    }
}

/// The refused logons of a capture, by client and by server.
#[derive(Debug, Default)]
pub struct Attempts {
    by_client: HashMap<IpAddr, Tally>,
    by_server: HashMap<String, Tally>,
}

impl Attempts {
    pub fn add(&mut self, r: &Refusal<'_>) {
        let room = self.by_client.len() < MAX_KEYS;
        if let Some(t) = self.by_client.get_mut(&r.client) {
            t.add(r, THRESHOLD);
        } else if room {
            self.by_client
                .entry(r.client)
                .or_default()
                .add(r, THRESHOLD);
        }
        let room = self.by_server.len() < MAX_KEYS;
        if let Some(t) = self.by_server.get_mut(r.server) {
            t.add(r, SERVER_THRESHOLD);
        } else if room {
            self.by_server
                .entry(r.server.to_owned())
                .or_default()
                .add(r, SERVER_THRESHOLD);
        }
    }

    /// The capture-level findings: one per attacking client, then one per server attacked from
    /// many clients; the largest first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut clients: Vec<(&IpAddr, &Tally)> = self
            .by_client
            .iter()
            .filter(|(_, t)| t.burst.is_some())
            .collect();
        clients.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        let mut servers: Vec<(&String, &Tally)> = self
            .by_server
            .iter()
            .filter(|(_, t)| t.burst.is_some() && t.sources.len() >= MIN_SOURCES)
            .collect();
        servers.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        clients
            .into_iter()
            .map(|(_, t)| t.finding(None))
            .chain(
                servers
                    .into_iter()
                    .map(|(s, t)| t.finding(Some(&format!("against {s} from many clients")))),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal<'a>(client: &str, user: Option<&'a str>, s: i64) -> Refusal<'a> {
        Refusal {
            client: client.parse().unwrap(),
            server: "10.0.0.1:3389",
            ts_ns: s * 1_000_000_000,
            user,
            from_cookie: false,
        }
    }

    #[test]
    fn ten_refusals_in_ten_minutes_from_one_client() {
        let mut a = Attempts::default();
        // Nine in a window, then one too late: a user mistyping over an hour is no attack.
        for i in 0..9 {
            a.add(&refusal("10.0.0.9", Some("bob"), i * 60));
        }
        a.add(&refusal("10.0.0.9", Some("bob"), 9 * 60 + 3600));
        assert!(a.findings().is_empty());
        // Ten within the window, one user: brute force.
        let mut a = Attempts::default();
        for i in 0..10 {
            a.add(&refusal("10.0.0.9", Some("bob"), i * 30));
        }
        let f = a.findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, FindingId::BruteForce);
        assert!(
            f[0].evidence
                .contains("10 refused NLA logons from 10.0.0.9 (10)"),
            "{}",
            f[0].evidence
        );
        assert!(
            f[0].evidence.contains("user names bob"),
            "{}",
            f[0].evidence
        );
        // Several users: a spray.
        let mut a = Attempts::default();
        for i in 0..12 {
            let user = format!("user{}", i % 4);
            a.add(&refusal("10.0.0.9", Some(&user), i));
        }
        assert_eq!(a.findings()[0].id, FindingId::PasswordSpray);
    }

    #[test]
    fn many_clients_against_one_server() {
        let mut a = Attempts::default();
        for i in 0..25 {
            a.add(&refusal(&format!("10.0.1.{}", i % 6), None, i));
        }
        let f = a.findings();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0]
            .evidence
            .starts_with("against 10.0.0.1:3389 from many clients"));
        assert_eq!(f[0].id, FindingId::BruteForce);
    }
}
