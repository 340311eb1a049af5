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

/// A free port on 127.0.0.1 (bound, then released: nothing listens on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Listeners on `n` ports of 127.0.0.1 that read the Connection Request and close
/// (`x224-closed`: reading first, since a close with unread data would be a reset, and vary by
/// timing).
pub fn closers(n: usize) -> Vec<u16> {
    listeners(n, |mut s| {
        use std::io::Read;
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
    })
}

/// Listeners on `n` ports of 127.0.0.1 that accept and never answer (until the test ends).
pub fn silent(n: usize) -> Vec<u16> {
    // Each connection is kept open (leaked) until the test process ends.
    listeners(n, std::mem::forget)
}

fn listeners(n: usize, each: fn(std::net::TcpStream)) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    each(s);
                }
            });
            port
        })
        .collect()
}
