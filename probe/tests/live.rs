//! `rdprobe capture -i lo` against a loopback server started by the test: the server answers a
//! real X.224 Connection Request with the real Connection Confirm of FreeRDP's NLA server
//! refusing standard security (HYBRID_REQUIRED_BY_SERVER). Needs the `live` feature and the
//! right to capture (root or CAP_NET_RAW): without it the test says `skipped` loudly, and
//! with RDPROBE_REQUIRE_PEERS=1 (set by CI) a skip is a failure.
#![cfg(feature = "live")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(rel),
    )
    .unwrap()
}

fn skip(why: &str) {
    assert!(
        std::env::var_os("RDPROBE_REQUIRE_PEERS").is_none(),
        "live capture required but {why}"
    );
    eprintln!("\n*** SKIPPED live capture test: {why} ***\n");
}

#[test]
fn live_capture_on_loopback_reports_the_refusal() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cc = fixture("pdu/peers/nmap_shadow-nla/014-s2c-x224-cc.bin");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        s.write_all(&cc).unwrap();
        // Like the real server: close after the failure.
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args([
            "capture",
            "-i",
            "lo",
            "--filter",
            &format!("tcp port {port}"),
            "--port",
            &port.to_string(),
        ])
        .args(["--format", "jsonl", "--duration", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give libpcap time to open the interface.
    std::thread::sleep(Duration::from_millis(1200));
    if let Ok(Some(status)) = child.try_wait() {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        drop(TcpStream::connect(("127.0.0.1", port)));
        server.join().unwrap();
        return skip(&format!(
            "rdprobe capture exited early ({status}): {}",
            err.trim()
        ));
    }
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(&fixture("pdu/peers/credssp/xfreerdp_x224_cr.bin"))
        .unwrap();
    let mut answer = [0u8; 19];
    c.read_exact(&mut answer).unwrap();
    drop(c);
    server.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let conn = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "connection")
        .unwrap_or_else(|| {
            panic!(
                "no connection reported; stdout: {stdout}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let d = &conn["data"];
    assert_eq!(d["rdp"]["failure"], "HYBRID_REQUIRED_BY_SERVER", "{d}");
    assert_eq!(d["rdp"]["cookie"], "probeuser");
    assert_eq!(d["stopped_at"], "x224");
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "neg-hybrid-required"),
        "{d}"
    );
    assert_eq!(out.status.code(), Some(1), "an error verdict exits 1");
}
