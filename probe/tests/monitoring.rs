//! The monitoring fronts as a user runs them: `rdprobe exporter` (safe to expose: allowed
//! targets, the scrape timeout, a bounded queue under 200 scrapes of a silent server, no
//! password anywhere) and `probe --format nagios` (status line and exit codes 0..3), against
//! loopback servers: a silent one in this process and `fixtures/tools/ntstatus_server.py` (a
//! Windows-like NLA server that refuses every logon with one NTSTATUS).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::free_port;

const PASSWORD: &str = "Monitor-Secret-9";

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_rdprobe")
}

fn tools() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tools")
}

/// A server that accepts and never answers (kept open until the test ends).
fn silent() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let l2 = l.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l2.incoming().flatten() {
            held.push(s);
        }
    });
    (l, port)
}

struct Exporter {
    child: Child,
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rdprobe-exporter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{}.toml", free_port()));
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let mut child = Command::new(exe())
            .args([
                "exporter",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&file)
            .env("MONITOR_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        assert!(first.contains("listening on"), "{first}");
        let log = std::sync::Arc::new(std::sync::Mutex::new(first));
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                l2.lock().unwrap().push_str(&line);
                l2.lock().unwrap().push('\n');
            }
        });
        Exporter { child, port, log }
    }

    /// GET `path` with optional headers: status, body.
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        let code = buf
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    /// The exporter's resident memory high-water mark (VmHWM), in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

#[test]
fn the_exporter_refuses_targets_outside_allowed_targets_and_bad_requests() {
    let e = Exporter::start("allowed_targets = [\"127.0.0.2\", \"*.corp.test\"]\n");
    let (code, body) = e.get("/probe?target=127.0.0.3:3389", &[]);
    assert_eq!(code, 403, "{body}");
    let (code, _) = e.get("/probe?target=rdp.example.invalid", &[]);
    assert_eq!(code, 403);
    let (code, body) = e.get("/probe", &[]);
    assert_eq!(code, 400, "{body}");
    let (code, body) = e.get("/probe?target=127.0.0.2&module=nope", &[]);
    assert_eq!((code, body.trim()), (400, "unknown module nope"));
    let (code, _) = e.get("/nowhere", &[]);
    assert_eq!(code, 404);
    let (_, own) = e.get("/metrics", &[]);
    assert!(
        own.contains("rdprobe_exporter_rejected_total{reason=\"not_allowed\"} 2"),
        "{own}"
    );
    // Off loopback without allowed_targets, the exporter does not start at all.
    let out = Command::new(exe())
        .args(["exporter", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allowed_targets"));
}

#[test]
fn a_scrape_ends_within_its_timeout_and_200_at_once_stay_bounded() {
    let (_silent, port) = silent();
    let e = Exporter::start(
        "max_concurrent = 8\nqueue = 64\n[modules.default]\ntimeout = 30\nstage_timeout = 30\n",
    );
    let target = format!("/probe?target=127.0.0.1:{port}");
    let timeout = [("X-Prometheus-Scrape-Timeout-Seconds", "2")];
    let t = Instant::now();
    let (code, body) = e.get(&target, &timeout);
    let took = t.elapsed();
    assert_eq!(code, 200, "{body}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        body.contains("rdp_probe_success{module=\"default\"} 0"),
        "{body}"
    );
    assert!(body.contains("stopped_at=\"x224\""), "{body}");
    let before = e.peak_kib();

    // 200 scrapes at once: 8 probe, 64 wait, the rest are told 503 at once; all end in time.
    let t = Instant::now();
    let path = std::sync::Arc::new(target);
    let port = e.port;
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                write!(
                    s,
                    "GET {path} HTTP/1.0\r\nX-Prometheus-Scrape-Timeout-Seconds: 2\r\n\r\n"
                )
                .unwrap();
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                buf.split(' ')
                    .nth(1)
                    .and_then(|c| c.parse::<u16>().ok())
                    .unwrap_or(0)
            })
        })
        .collect();
    // Meanwhile the exporter answers its own metrics at once.
    std::thread::sleep(Duration::from_millis(300));
    let m = Instant::now();
    let (code, own) = e.get("/metrics", &[]);
    assert_eq!(code, 200);
    assert!(
        m.elapsed() < Duration::from_secs(1),
        "/metrics took {:?}",
        m.elapsed()
    );
    assert!(own.contains("rdprobe_exporter_probes_in_flight 8"), "{own}");
    let codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let all = t.elapsed();
    assert!(all < Duration::from_secs(4), "200 scrapes took {all:?}");
    let ok = codes.iter().filter(|c| **c == 200).count();
    let busy = codes.iter().filter(|c| **c == 503).count();
    assert_eq!(ok + busy, 200, "{codes:?}");
    assert!(ok >= 8 && busy >= 100, "{ok} probed, {busy} busy");
    let after = e.peak_kib();
    eprintln!("200 scrapes in {all:?}: {ok} probed, {busy} busy; peak memory {before} KiB -> {after} KiB; one scrape {took:?}");
    assert!(
        after < before + 64 * 1024,
        "peak memory {before} KiB -> {after} KiB"
    );
}

/// `fixtures/tools/ntstatus_server.py` on a free port, refusing every logon with
/// STATUS_LOGON_FAILURE, for `connections` connections; returned once it listens (the
/// connection that checks it is one of them).
fn ntstatus_server(connections: u32) -> (Child, u16) {
    let port = free_port();
    let server = Command::new("python3")
        .arg(tools().join("ntstatus_server.py"))
        .args(["--port", &port.to_string(), "--status", "c000006d"])
        .args(["--connections", &connections.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "ntstatus_server.py did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

#[test]
fn no_password_in_any_answer_log_or_label() {
    let (mut server, port) = ntstatus_server(10);
    let e = Exporter::start(
        "[modules.logon]\nuser = \"CORP\\\\monitor\"\npassword_env = \"MONITOR_PASSWORD\"\nstop_after = \"credssp\"\n",
    );
    let (code, body) = e.get(&format!("/probe?target=127.0.0.1:{port}&module=logon"), &[]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("stopped_at=\"credssp\""), "{body}");
    assert!(
        body.contains("rdp_finding{id=\"logon-failure\",severity=\"error\"} 1"),
        "{body}"
    );
    let (_, own) = e.get("/metrics", &[]);
    let log = e.log.lock().unwrap().clone();
    for text in [&body, &own, &log] {
        assert!(!text.contains(PASSWORD), "the password in {text}");
    }
    // A password in the file itself is refused, and not echoed.
    let dir = std::env::temp_dir();
    let f = dir.join(format!("rdprobe-pw-{}.toml", std::process::id()));
    std::fs::write(
        &f,
        format!("[modules.x]\nuser = \"a\"\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    let out = Command::new(exe())
        .args(["exporter", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&f);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

/// `probe --format nagios`: one line, performance data, exit 0/1/2/3.
#[test]
fn nagios_statuses_and_exit_codes() {
    let (mut server, port) = ntstatus_server(20);
    let target = format!("127.0.0.1:{port}");
    let run = |args: &[&str]| {
        let out = Command::new(exe())
            .args(["probe", "--format", "nagios", "--no-enum"])
            .args(args)
            .env("RDPROBE_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), text)
    };
    // OK: the negotiation only, nothing stands.
    let (code, out) = run(&[&target, "--stop-after", "x224"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("RDP OK - {target} ")), "{out}");
    assert!(out.contains("| tcp=") && out.contains("x224="), "{out}");
    // WARNING: TLS and CredSSP, a certificate with another name that expires in 2 days
    // (critical only below 1).
    let (code, out) = run(&[&target, "--stop-after", "tls", "--cert-crit", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("RDP WARNING - "), "{out}");
    assert!(
        out.contains("cert_days=") && out.contains(";30;1;"),
        "{out}"
    );
    // CRITICAL: the same certificate under the default thresholds, and a refused logon.
    let (code, out) = run(&[&target, "--stop-after", "tls"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("the certificate expires in"), "{out}");
    let (code, out) = run(&[&target, "--user", "CORP\\monitor", "--cert-crit", "1"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.starts_with(&format!("RDP CRITICAL - {target} fails at credssp")),
        "{out}"
    );
    assert!(!out.contains(PASSWORD));
    let _ = server.kill();
    let _ = server.wait();
    // CRITICAL: refused.
    let (code, out) = run(&[&format!("127.0.0.1:{}", free_port())]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("fails at tcp"), "{out}");
    // UNKNOWN: bad arguments, no target.
    let (code, out) = run(&["--bogus"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.starts_with("RDP UNKNOWN - "), "{out}");
    let (code, out) = run(&[]);
    assert_eq!(code, Some(3), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

/// Slow clients (a request head sent a byte at a time, or never finished) are dropped after
/// the 5 s header timeout, and scrapes meanwhile are answered at once.
#[test]
fn slow_clients_hold_no_worker() {
    let e = Exporter::start("");
    let mut slow: Vec<std::net::TcpStream> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", e.port)).unwrap();
            s.write_all(b"GET /metr").unwrap();
            s
        })
        .collect();
    let t = Instant::now();
    let (code, _) = e.get("/probe?target=127.0.0.1:1", &[]);
    assert_eq!(code, 200);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a scrape took {:?}",
        t.elapsed()
    );
    // After the header timeout the exporter has closed them.
    let s = &mut slow[0];
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    let closed_after = t.elapsed();
    assert!(
        closed_after < Duration::from_secs(8),
        "held for {closed_after:?}"
    );
    // Closed, or told 408 and closed.
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        "{n}"
    );
}
