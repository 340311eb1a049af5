//! Helpers shared by the probe's integration tests: network namespaces the tests create.
#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output};

/// A network namespace made by the test (loopback up), deleted when dropped. None (after
/// saying SKIPPED, or failing under RDPROBE_REQUIRE_PEERS=1) without root and `ip`.
pub struct Netns(pub String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .output();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.0));
    }
}

pub fn skip(what: &str, why: &str) {
    assert!(
        std::env::var_os("RDPROBE_REQUIRE_PEERS").is_none(),
        "{what} required but {why}"
    );
    eprintln!("\n*** SKIPPED {what}: {why} ***\n");
}

pub fn sh(args: &[&str]) -> std::io::Result<Output> {
    Command::new(args[0]).args(&args[1..]).output()
}

pub fn netns(what: &str, tag: &str) -> Option<Netns> {
    let ns = format!("rdprobe-{tag}-{}", std::process::id());
    match sh(&["ip", "netns", "add", &ns]) {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            skip(
                what,
                &format!(
                    "ip netns add: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return None;
        }
        Err(e) => {
            skip(what, &format!("ip: {e}"));
            return None;
        }
    }
    let ns = Netns(ns);
    let up = sh(&[
        "ip", "netns", "exec", &ns.0, "ip", "link", "set", "lo", "up",
    ])
    .unwrap();
    assert!(up.status.success(), "{up:?}");
    Some(ns)
}

/// Drops SYNs to `port` inside the namespace (a filtered port).
pub fn drop_port(what: &str, ns: &Netns, port: &str) -> bool {
    let rule = sh(&[
        "ip", "netns", "exec", &ns.0, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", port,
        "-j", "DROP",
    ]);
    match rule {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(
                what,
                &format!("iptables: {}", String::from_utf8_lossy(&o.stderr).trim()),
            );
            false
        }
        Err(e) => {
            skip(what, &format!("iptables: {e}"));
            false
        }
    }
}
