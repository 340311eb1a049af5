//! Snapshots (insta) of what users and scripts read, so that an output change is reviewed, not
//! accidental: `--help` of every command, `decode`'s errors on a table of bad inputs, the full
//! JSON of three real captures and of two loopback probes. A change shows as a failing test
//! and a `.snap.new` file beside the snapshot; review it (`cargo insta review`, or compare and
//! rename by hand) and commit the accepted snapshot.
//!
//! Times, ports and the probe's clock-dependent values are replaced by placeholders.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn rdprobe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(args)
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .expect("run rdprobe")
}

fn text(o: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

#[test]
fn help_of_every_command() {
    for cmd in [&[][..], &["probe"], &["pcap"], &["decode"], &["explain"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let o = rdprobe(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let name = if cmd.is_empty() { "rdprobe" } else { cmd[0] };
        insta::assert_snapshot!(format!("help_{name}"), text(&o));
    }
}

#[test]
fn decode_errors_name_the_layer_and_offset() {
    let cases = [
        ("empty", ""),
        ("odd_hex", "030"),
        ("not_hex", "zz"),
        ("tpkt_cut_short", "0300001302"),
        ("tpkt_length_too_small", "03000002"),
        ("x224_unknown_code", "0300000b06600000000000"),
        ("x224_data_then_a_stray_byte", "0300000b06f0000000000000"),
        ("neg_rsp_cut", "030000130ed00000123400020108"),
        ("tls_record_cut", "160303004001"),
        ("ber_garbage", "3082ffff"),
        ("random_bytes", "deadbeefdeadbeef"),
    ];
    let mut out = String::new();
    for (name, hex) in cases {
        let o = rdprobe(&["decode", hex]);
        out += &format!("== {name}: {hex:?}\n{}\n", text(&o));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn full_json_of_three_real_captures() {
    for name in [
        "zeek__rdp-proprietary-encryption.pcap",
        "ndpi__rdp_over_tls.pcap",
        "chrissanders__tcp_refuseconnection.pcapng",
    ] {
        let path = fixtures().join("captures/public").join(name);
        let o = rdprobe(&["pcap", path.to_str().unwrap(), "--format", "json"]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
        let json = String::from_utf8(o.stdout).unwrap();
        let json = json.replace(fixtures().to_str().unwrap(), "[fixtures]");
        insta::assert_snapshot!(format!("pcap_{name}"), json);
    }
}

/// JSON Lines: one envelope `{"type", "file"?, "data"}` per connection, then the summary.
#[test]
fn json_lines_of_a_real_capture() {
    let path = fixtures().join("captures/public/ndpi__rdp_over_tls.pcap");
    let o = rdprobe(&["pcap", path.to_str().unwrap(), "--format", "jsonl"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let lines = String::from_utf8(o.stdout).unwrap();
    insta::assert_snapshot!(lines.replace(fixtures().to_str().unwrap(), "[fixtures]"));
}

/// A server on 127.0.0.1 that runs `handle` for each connection.
fn server(handle: fn(std::net::TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || handle(s));
        }
    });
    port
}

fn read_tpkt(s: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).ok()?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut rest = vec![0u8; len.saturating_sub(4)];
    s.read_exact(&mut rest).ok()?;
    Some(rest)
}

/// `rdprobe probe` of a loopback port, with times and the port replaced.
fn probe_json(port: u16) -> String {
    let target = format!("127.0.0.1:{port}");
    let o = rdprobe(&[
        "probe",
        &target,
        "--format",
        "json",
        "--timeout",
        "8",
        "--stage-timeout",
        "1",
        "--pace-ms",
        "0",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let json = String::from_utf8(o.stdout).unwrap();
    let json = json.replace(&format!(":{port}"), ":[port]");
    let json = json.replace(&format!("\"port\": {port}"), "\"port\": [port]");
    regex_lite_replace(&json, "\"elapsed_ms\": ")
}

/// Replaces the number after each `key` with `[ms]` (no regex crate needed).
fn regex_lite_replace(s: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        out += &rest[..i + key.len()];
        rest = &rest[i + key.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        out += "[ms]";
        rest = &rest[end..];
    }
    out + rest
}

/// Nothing listens: refused.
#[test]
fn full_json_of_a_probe_of_a_refused_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    insta::assert_snapshot!(probe_json(port));
}

/// Zeek's `rdp-invalid-length` server (its real Connection Confirm, RDP_NEG_RSP length 0) to
/// every request, then a close: x224-malformed, and every later attempt closed.
#[test]
fn full_json_of_a_probe_of_a_malformed_confirm() {
    fn handle(mut s: std::net::TcpStream) {
        let cc = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/pdu/zeek__rdp-invalid-length/001-s2c-x224-cc.bin"),
        )
        .unwrap();
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        if read_tpkt(&mut s).is_some() {
            let _ = s.write_all(&cc);
        }
        // Take the client's next TLS record whole (so that closing sends FIN, not RST), then
        // close: every attempt after the Confirm reads "closed".
        let mut head = [0u8; 5];
        if s.read_exact(&mut head).is_ok() {
            let mut body = vec![0u8; usize::from(u16::from_be_bytes([head[3], head[4]]))];
            let _ = s.read_exact(&mut body);
        }
    }
    let port = server(handle);
    insta::assert_snapshot!(probe_json(port));
}

/// The README's findings table is the catalogue, entry for entry.
#[test]
fn the_readme_lists_the_findings_catalogue() {
    use rdprobe::diagnose::FindingId;
    let mut table =
        String::from("| id | severity | what it means | what to do |\n|---|---|---|---|\n");
    for id in FindingId::ALL {
        let (severity, summary, remediation) = id.entry();
        table += &format!(
            "| `{}` | {} | {} | {} |\n",
            id.as_str(),
            severity.as_str(),
            summary.replace('|', "\\|"),
            remediation.replace('|', "\\|")
        );
    }
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    assert!(
        readme.contains(&table),
        "the README's findings table is out of date; it is:\n\n{table}"
    );
}
