//! The `rdprobe` binary, run as a user would: `rdprobe decode` on real PDUs and bad input.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod common;
use common::{drop_port, netns};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn fixture_hex(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel);
    hex::encode(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn rdprobe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rdprobe")
}

/// Starts `rdprobe ARGS` with stdin closed and stdout/stderr piped.
fn spawn_rdprobe(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rdprobe")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn decode_names_negotiation_fields_of_a_real_request_and_failure() {
    let o = rdprobe(&[
        "decode",
        &fixture_hex("pdu/peers/credssp/xfreerdp_x224_cr.bin"),
    ]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    assert!(text.contains("X.224 Connection Request (CR)"), "{text}");
    assert!(text.contains("cookie: probeuser"), "{text}");
    assert!(
        text.contains("requestedProtocols: 0x00000003 (SSL|HYBRID)"),
        "{text}"
    );

    let fail = fixture_hex("pdu/peers/nmap_shadow-nla/014-s2c-x224-cc.bin");
    let o = rdprobe(&["decode", &fail]);
    assert!(
        stdout(&o).contains("failureCode: 5 (HYBRID_REQUIRED_BY_SERVER)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn decode_json_is_one_document_with_spec_names() {
    let o = rdprobe(&[
        "decode",
        "--format",
        "json",
        &fixture_hex("pdu/zeek__rdp-proprietary-encryption/006-s2c-mcs-connect-response.bin"),
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let sec = &v["frames"][0]["children"][0]["children"][0]["children"][1]["children"];
    let sec = sec
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "TS_UD_SC_SEC1")
        .expect("server security data");
    assert_eq!(sec["fields"]["encryptionLevel"], "ENCRYPTION_LEVEL_HIGH");
    assert_eq!(sec["fields"]["serverCertLen"], 184);
    assert_eq!(
        sec["children"][0]["fields"]["certificate type"],
        "CERT_CHAIN_VERSION_1"
    );
    assert!(v["error"].is_null());
}

#[test]
fn decode_reads_stdin_and_a_stream_of_frames() {
    let cr = fixture_hex("pdu/ndpi__rdp_over_tls/001-c2s-x224-cr.bin");
    let cc = fixture_hex("pdu/ndpi__rdp_over_tls/002-s2c-x224-cc.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // Spaced and wrapped as copied from a hex dump.
    let spaced: Vec<String> = format!("{cr}{cc}")
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        spaced
            .chunks(16)
            .map(|l| l.join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("cookie: WDeployAd"));
    assert!(text.contains("selectedProtocol: 0x00000002 (HYBRID)"));
    assert_eq!(text.matches("TPKT [").count(), 2);
}

#[test]
fn bad_input_exits_2_with_the_offset() {
    let o = rdprobe(&["decode", "0300000b06d000001234"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("at offset 0") && err.contains("need 11"),
        "{err}"
    );

    let o = rdprobe(&["decode", "xyz"]);
    assert_eq!(o.status.code(), Some(2));

    // A TPKT whose X.224 LI runs past the end: the frame is shown, the error names the offset.
    let o = rdprobe(&["decode", "0300000a20e00000000000"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");

    // Not a frame at all (an HTTP response).
    let o = rdprobe(&["decode", &hex::encode("GET / HTTP/1.1\r\n")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("offset 0"));
}

#[test]
fn wire_strings_are_escaped_on_the_terminal() {
    // A cookie carrying an ANSI escape that would clear the screen.
    let cookie = b"Cookie: mstshash=a\x1b[2Jb\r\n";
    let mut tpdu = vec![0u8, 0xE0, 0, 0, 0, 0, 0];
    tpdu.extend_from_slice(cookie);
    tpdu[0] = (tpdu.len() - 1) as u8;
    let mut frame = vec![3, 0, 0, (tpdu.len() + 4) as u8];
    frame.extend_from_slice(&tpdu);
    let o = rdprobe(&["decode", &hex::encode(&frame)]);
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains('\x1b'), "raw escape reached stdout");
    assert!(text.contains("cookie: a\\x1b[2Jb"), "{text}");
}

/// A loopback server that answers every Connection Request with FreeRDP's real refusal
/// (RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER) and closes.
fn refusing_server(bind: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind(bind).ok()?;
    let port = l.local_addr().ok()?.port();
    let cc = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/pdu/peers/nmap_shadow-nla/014-s2c-x224-cc.bin"),
    )
    .ok()?;
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 512];
            if s.read(&mut buf).unwrap_or(0) > 0 {
                let _ = s.write_all(&cc);
            }
        }
    });
    Some(port)
}

#[test]
fn probe_jsonl_targets_from_a_file_and_ipv6_literals() {
    let port = refusing_server("127.0.0.1:0").unwrap();
    let mut targets = format!("# servers\n127.0.0.1:{port}\n");
    let v6 = refusing_server("[::1]:0");
    if let Some(p6) = v6 {
        targets.push_str(&format!("[::1]:{p6}\n"));
    }
    let list = std::env::temp_dir().join(format!("rdprobe-targets-{}.txt", std::process::id()));
    std::fs::write(&list, targets).unwrap();
    let o = rdprobe(&[
        "probe",
        "-i",
        list.to_str().unwrap(),
        "--format",
        "jsonl",
        "--timeout",
        "5",
        "--pace-ms",
        "0",
    ]);
    let _ = std::fs::remove_file(&list);
    assert_eq!(o.status.code(), Some(1), "an error verdict exits 1: {o:?}");
    let mut lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    if v6.is_some() {
        // Several targets end with the fleet summary.
        let summary = lines.pop().unwrap();
        assert_eq!(summary["type"], "summary", "{summary}");
        assert_eq!(summary["data"]["targets"], 2, "{summary}");
        assert_eq!(summary["data"]["stopped_at"]["x224"], 2, "{summary}");
    }
    assert_eq!(lines.len(), 1 + usize::from(v6.is_some()));
    for v in &lines {
        assert_eq!(v["type"], "target");
        let d = &v["data"];
        assert_eq!(d["stopped_at"], "x224", "{d}");
        assert_eq!(
            d["security"]["protocols"]["rdp"]["failure"],
            "HYBRID_REQUIRED_BY_SERVER"
        );
        assert!(
            d["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "neg-hybrid-required"),
            "{d}"
        );
    }
}

#[test]
fn probe_usage_errors_exit_2() {
    assert_eq!(rdprobe(&["probe"]).status.code(), Some(2));
    assert_eq!(rdprobe(&["probe", "[::1"]).status.code(), Some(2));
    assert_eq!(
        rdprobe(&["probe", "-i", "/nonexistent/targets"])
            .status
            .code(),
        Some(2)
    );
}

/// A filtered port (SYNs dropped by a firewall) inside a network namespace the test creates:
/// the probe must say `tcp-timeout` at the tcp stage, within its stage timeout. Needs root,
/// `ip` and `iptables`; without them the test says SKIPPED (a failure under
/// RDPROBE_REQUIRE_PEERS=1, as in CI).
#[test]
fn probe_filtered_port_in_a_network_namespace() {
    let what = "filtered-port test";
    let Some(ns) = netns(what, "test") else {
        return;
    };
    if !drop_port(what, &ns, "3389") {
        return;
    }
    let t = std::time::Instant::now();
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_rdprobe"),
            "probe",
            "127.0.0.1",
            "--format",
            "jsonl",
        ])
        .args(["--timeout", "5", "--stage-timeout", "1.5"])
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let d = &v["data"];
    assert_eq!(d["stopped_at"], "tcp", "{d}");
    assert_eq!(d["stages"][0]["status"], "timeout", "{d}");
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "tcp-timeout"),
        "{d}"
    );
    assert_eq!(d["diagnosis"]["primary_finding"], "tcp-timeout", "{d}");
    assert_eq!(d["diagnosis"]["stage"], "tcp", "{d}");
    assert!(
        d["diagnosis"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("Not reachable: no answer to the TCP SYN (mstsc shows 0x204)"),
        "{d}"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(4),
        "took {elapsed:?}"
    );
}

/// A name with 1,000 addresses, every one filtered (the test's own namespace, its own
/// /etc/hosts: `ip netns exec` bind-mounts /etc/netns/NAME/hosts): the probe keeps --timeout,
/// reports the addresses it could not try as skipped, and names the dns findings.
#[test]
fn probe_a_name_with_a_thousand_addresses_keeps_its_deadline() {
    let what = "thousand-address test";
    let Some(ns) = netns(what, "dns") else { return };
    if !drop_port(what, &ns, "3389") {
        return;
    }
    let dir = format!("/etc/netns/{}", ns.0);
    std::fs::create_dir_all(&dir).unwrap();
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for i in 0..1000u32 {
        hosts.push_str(&format!(
            "127.1.{}.{} many.rdprobe.test\n",
            i / 250,
            1 + i % 250
        ));
    }
    std::fs::write(format!("{dir}/hosts"), hosts).unwrap();
    let t = std::time::Instant::now();
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_rdprobe"),
            "probe",
        ])
        .args(["many.rdprobe.test", "--format", "jsonl", "--timeout", "2"])
        .args(["--stage-timeout", "0.5", "--pace-ms", "100"])
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(3),
        "took {elapsed:?}"
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let d = &v["data"];
    let addrs = d["addresses"].as_array().unwrap();
    assert_eq!(addrs.len(), 1000, "every address is listed");
    let skipped = addrs.iter().filter(|a| a["outcome"] == "skipped").count();
    assert!(skipped > 900, "{skipped} skipped");
    assert!(addrs.iter().any(|a| a["outcome"] == "timeout"), "{d}");
    assert_eq!(d["stages"][0]["name"], "dns");
    assert_eq!(d["stopped_at"], "tcp", "{d}");
}

fn rdprobe_stdin(args: &[&str], input: impl std::io::Read + Send + 'static) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rdprobe");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut input = input;
        let _ = std::io::copy(&mut input, &mut stdin);
    });
    let o = child.wait_with_output().unwrap();
    let _ = feeder.join();
    o
}

#[test]
fn bad_option_values_are_usage_errors_never_panics() {
    let cases: &[&[&str]] = &[
        &["--timeout", "inf"],
        &["--timeout", "1e300"],
        &["--timeout", "NaN"],
        &["--timeout", "1e19"],
        &["--timeout", "0"],
        &["--timeout=-1"],
        &["--stage-timeout", "NaN"],
        &["--stage-timeout=-2"],
        &["--concurrency", "0"],
        &["-p", "0"],
        &["--rate", "0"],
        &["--rate", "inf"],
        &["--pace-ms", "99999999999"],
    ];
    for extra in cases {
        let mut args = vec!["probe", "127.0.0.1"];
        args.extend_from_slice(extra);
        let o = rdprobe(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {o:?}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        let option = extra[0].split('=').next().unwrap();
        assert!(
            err.contains(option),
            "{extra:?}: the message names the option: {err}"
        );
        assert!(o.stdout.is_empty(), "{extra:?}");
    }
    for bad in ["127.0.0.1:0", "[::1]:0", "10.0.0.0/8", "10.0.0.0/33"] {
        let o = rdprobe(&["probe", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {o:?}");
    }
}

#[test]
fn endless_standard_input_is_an_error_not_a_gigabyte() {
    let o = rdprobe_stdin(&["decode", "-"], std::io::repeat(b'0'));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("more than"),
        "{o:?}"
    );
    let o = rdprobe_stdin(&["probe", "-i", "-"], std::io::repeat(b'#'));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("more than"),
        "{o:?}"
    );
}

#[test]
fn targets_from_standard_input_and_a_block_each_reported_once_to_a_file() {
    let port = refusing_server("127.0.0.1:0").unwrap();
    let out = std::env::temp_dir().join(format!("rdprobe-out-{}.jsonl", std::process::id()));
    // A /29 of loopback (8 addresses; only 127.0.0.1 answers, the rest refuse) and one more
    // target from standard input.
    let list = format!("# from stdin\n127.0.0.1:{port}\n");
    let block = format!("127.0.0.0/29:{port}");
    let o = rdprobe_stdin(
        &[
            "probe",
            &block,
            "-i",
            "-",
            "--format",
            "jsonl",
            "--pace-ms",
            "0",
            "-o",
            out.to_str().unwrap(),
        ],
        std::io::Cursor::new(list.into_bytes()),
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(o.stdout.is_empty(), "results go to -o");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["data"]["targets"], 9, "{summary}");
    let mut seen: Vec<String> = lines
        .iter()
        .map(|v| {
            assert_eq!(v["type"], "target");
            v["data"]["target"].as_str().unwrap().to_owned()
        })
        .collect();
    seen.sort();
    let mut want: Vec<String> = (0..8).map(|i| format!("127.0.0.{i}")).collect();
    want.push("127.0.0.1".into());
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn an_ambiguous_ipv6_target_says_how_it_was_read() {
    let o = rdprobe(&[
        "probe",
        "::1:3389",
        "--timeout",
        "1",
        "--no-enum",
        "-p",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("write [::1]:3389"), "{err}");
}

/// Ctrl-C: what finished is printed, the JSON Lines stay valid, the exit code is 130.
#[test]
fn ctrl_c_prints_what_finished_and_exits_130() {
    use std::io::{BufRead, BufReader};
    let refusing = refusing_server("127.0.0.1:0").unwrap();
    // A silent server: its probe waits until --timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let mut child = spawn_rdprobe(&[
        "probe",
        &format!("127.0.0.1:{refusing}"),
        &format!("127.0.0.1:{silent_port}"),
        "--format",
        "jsonl",
        "--timeout",
        "60",
        "--stage-timeout",
        "60",
    ]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["data"]["port"], refusing);
    let t = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    for l in rest {
        serde_json::from_str::<serde_json::Value>(&l).expect("valid JSON Lines");
    }
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let port = refusing_server("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{port}");
    let mut child = spawn_rdprobe(&[
        "probe",
        &target,
        &target,
        &target,
        "--pace-ms",
        "0",
        "--concurrency",
        "1",
    ]);
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Several capture files are analysed in parallel and written in argument order: the output
/// is exactly what the files give one by one, then (text, JSON Lines) their summary together,
/// which is what `rdprobe summarize` makes of the files' JSON Lines written one by one.
#[test]
fn several_capture_files_come_out_in_argument_order() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures/public");
    let names = [
        "zeek__rdp-x509.pcap",
        "ndpi__rdp.pcap",
        "zeek__rdp-to-ssl.pcap",
        "arkime__socks5-rdp.pcap",
        "zeek__rdp-proprietary-encryption.pcap",
    ];
    let paths: Vec<String> = names
        .iter()
        .map(|n| dir.join(n).to_str().unwrap().to_owned())
        .collect();
    let runs = std::env::temp_dir().join(format!("rdprobe-several-{}", std::process::id()));
    std::fs::create_dir_all(&runs).unwrap();
    for format in ["jsonl", "text", "json"] {
        let mut args = vec!["pcap", "--format", format];
        args.extend(paths.iter().map(String::as_str));
        let all = rdprobe(&args);
        assert!(
            all.status.code() == Some(1) || all.status.success(),
            "{all:?}"
        );
        let mut one_by_one = Vec::new();
        let mut jsonl_files = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            let o = rdprobe(&["pcap", "--format", format, p]);
            one_by_one.push(stdout(&o));
            // The JSON Lines of each file, for summarize.
            let f = runs.join(format!("{i}.jsonl"));
            let o = rdprobe(&["pcap", "--format", "jsonl", p]);
            std::fs::write(&f, &o.stdout).unwrap();
            jsonl_files.push(f.to_str().unwrap().to_owned());
        }
        if format == "json" {
            let v: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
            let each: Vec<serde_json::Value> = one_by_one
                .iter()
                .map(|s| serde_json::from_str(s).unwrap())
                .collect();
            assert_eq!(v, serde_json::Value::Array(each));
            continue;
        }
        let all = stdout(&all);
        let files = one_by_one.concat();
        let together = all
            .strip_prefix(&files)
            .unwrap_or_else(|| panic!("{format}: the files' own output first:\n{all}"));
        let mut args = vec!["summarize", "--format", format];
        args.extend(jsonl_files.iter().map(String::as_str));
        let summarized = rdprobe(&args);
        assert_eq!(together, stdout(&summarized), "{format}");
        if format == "jsonl" {
            let v: serde_json::Value = serde_json::from_str(together).unwrap();
            assert_eq!(v["type"], "summary");
            assert!(v.get("file").is_none(), "{v}");
            assert_eq!(v["data"]["files"], 5);
            let connections: u64 = one_by_one
                .iter()
                .flat_map(|s| s.lines())
                .filter(|l| l.starts_with(r#"{"type":"connection""#))
                .count() as u64;
            assert_eq!(v["data"]["summary"]["connections"], connections);
        } else {
            assert!(together.starts_with("== 5 capture files: "), "{together}");
        }
    }
    let _ = std::fs::remove_dir_all(&runs);
}

/// `--rate` spaces new connections across all targets: 11 refused targets at 20 a second take
/// at least half a second (without it, a few milliseconds).
#[test]
fn rate_limits_new_connections_across_targets() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let target = format!("127.0.0.1:{port}");
    let targets: Vec<&str> = std::iter::repeat_n(target.as_str(), 11).collect();
    let mut args = vec!["probe", "--rate", "20", "--format", "jsonl", "--no-enum"];
    args.extend(targets);
    let t = std::time::Instant::now();
    let o = rdprobe(&args);
    let took = t.elapsed();
    assert_eq!(
        stdout(&o).lines().count(),
        11 + 1,
        "11 targets and the summary: {o:?}"
    );
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is a pipe: {o:?}"
    );
    assert!(
        took >= std::time::Duration::from_millis(450),
        "took {took:?}"
    );
}

/// A file name that carries terminal controls is escaped in the error message.
#[test]
fn error_messages_escape_the_file_names_they_echo() {
    let dir = std::env::temp_dir().join(format!("rdprobe-esc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.join("evil\u{1b}[2J\u{202e}.pcap");
    std::fs::write(&name, b"not a capture at all").unwrap();
    let o = rdprobe(&["pcap", name.to_str().unwrap()]);
    let missing = dir.join("gone\u{1b}[31m.txt");
    let o2 = rdprobe(&["probe", "-i", missing.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    for o in [o, o2] {
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{202e}'),
            "{err:?}"
        );
        assert!(err.contains("\\x1b"), "{err:?}");
    }
}

/// `--watch` against a loopback server that fails one attempt in three (it closes the third
/// connection at once): a line per attempt, then the summary with the success rate, the
/// failures by stage and finding, the stage times and the longest run of failures; exit 1.
#[test]
fn watch_counts_a_server_that_fails_one_attempt_in_three() {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            if i % 3 == 2 {
                drop(s);
                continue;
            }
            std::thread::spawn(move || {
                let mut req = [0u8; 512];
                let _ = s.read(&mut req);
                // FreeRDP's Connection Confirm selecting PROTOCOL_SSL.
                let _ = s.write_all(&[
                    3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
                ]);
                let _ = s.read(&mut req);
            });
        }
    });
    let target = format!("127.0.0.1:{port}");
    for format in ["text", "jsonl"] {
        let o = rdprobe(&[
            "probe",
            &target,
            "--watch",
            "0.05",
            "--count",
            "6",
            "--no-enum",
            "--stop-after",
            "x224",
            "--format",
            format,
        ]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let out = stdout(&o);
        if format == "text" {
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(
                lines.iter().filter(|l| l.contains("  #")).count(),
                6,
                "{out}"
            );
            assert!(
                out.contains(&format!(
                    "== watch of {target}: 6 attempts, 4 ok (66.7 %), 2 failed"
                )),
                "{out}"
            );
            assert!(out.contains("failed at: x224 2"), "{out}");
            assert!(out.contains("x224-closed 2"), "{out}");
            assert!(
                out.contains("longest run of failures: 1 attempt(s)"),
                "{out}"
            );
            continue;
        }
        let v: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v.len(), 7, "{out}");
        let failed: Vec<u64> = v[..6]
            .iter()
            .inspect(|a| assert_eq!(a["type"], "attempt"))
            .filter(|a| a["data"]["stopped_at"] == "x224")
            .map(|a| a["data"]["n"].as_u64().unwrap())
            .collect();
        assert_eq!(failed, [3, 6], "{out}");
        let s = &v[6];
        assert_eq!(s["type"], "watch_summary");
        let d = &s["data"];
        assert_eq!(
            (d["attempts"].as_u64(), d["failures"].as_u64()),
            (Some(6), Some(2))
        );
        assert_eq!(d["failures_by_stage"]["x224"], 2, "{d}");
        assert_eq!(d["failures_by_finding"]["x224-closed"], 2, "{d}");
        assert_eq!(d["stages"]["tcp"]["count"], 6, "{d}");
        assert!(
            d["stages"]["x224"]["p95_ms"].as_f64().unwrap() >= 0.0,
            "{d}"
        );
    }
    // Without --count, Ctrl-C ends the watch with its summary.
    use std::io::BufRead;
    let mut child = spawn_rdprobe(&[
        "probe",
        &target,
        "--watch",
        "0.05",
        "--no-enum",
        "--stop-after",
        "x224",
        "--format",
        "jsonl",
    ]);
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "attempt");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    let last = rest.last().expect("the summary");
    assert_eq!(last["type"], "watch_summary", "{last}");
    assert!(last["data"]["attempts"].as_u64().unwrap() >= 1);
}

/// `rdprobe explain` on the issue's five inputs: each gives its meaning, its stage, causes and
/// the commands that check them; an unknown message exits 1.
#[test]
fn explain_codes_and_messages() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["0x904", "0x7"],
            &[
                "disconnectReasonAtClientWinsockFDCLOSE",
                "ERRINFO_SERVER_DENIED_CONNECTION",
                "server-denied-connection",
                "check: rdprobe probe HOST",
            ],
        ),
        (
            &["2308", "7"],
            &["0x904 (2308)", "ERRINFO_SERVER_DENIED_CONNECTION"],
        ),
        (
            &["[0x0002000D]"],
            &[
                "ERRCONNECT_CONNECT_TRANSPORT_FAILED",
                "The connection transport layer failed.",
                "tcp-refused",
            ],
        ),
        (
            &["0xC0000234"],
            &[
                "STATUS_ACCOUNT_LOCKED_OUT",
                "stage:   credssp",
                "--user DOMAIN\\USER",
            ],
        ),
        (
            &["function requested is not supported"],
            &[
                "An authentication error has occurred",
                "credssp-unpatched",
                "CVE-2018-0886",
            ],
        ),
    ];
    for (args, want) in cases {
        let mut a = vec!["explain"];
        a.extend_from_slice(args);
        let o = rdprobe(&a);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {o:?}");
        let out = stdout(&o);
        for w in [
            "meaning:",
            "stage:",
            "usual causes",
            "check: rdprobe",
            "source:",
        ] {
            assert!(out.contains(w), "{args:?}: no {w:?} in\n{out}");
        }
        for w in *want {
            assert!(out.contains(w), "{args:?}: no {w:?} in\n{out}");
        }
    }
    let json = rdprobe(&["explain", "0x904", "0x7", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["kind"], "mstsc_disconnect_reason");
    assert_eq!(v[1]["name"], "ERRINFO_SERVER_DENIED_CONNECTION");
    assert_eq!(v[1]["causes"][0]["finding"], "server-denied-connection");
    let unknown = rdprobe(&["explain", "0x7777"]);
    assert_eq!(unknown.status.code(), Some(0));
    assert!(stdout(&unknown).contains("not known"));
    let nothing = rdprobe(&["explain", "the printer is on fire"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert_eq!(rdprobe(&["explain"]).status.code(), Some(2));
}

/// Completions for every shell, the man page, `--color` (always / never / auto with NO_COLOR
/// and a pipe) and `-o FILE` for every command that writes results.
#[test]
fn completions_man_page_color_and_output_files() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = rdprobe(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {o:?}");
        let out = stdout(&o);
        for word in ["probe", "pcap", "explain", "stop-after"] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_eq!(rdprobe(&["completions", "tcsh"]).status.code(), Some(2));
    let man = rdprobe(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let roff = stdout(&man);
    assert!(roff.contains(".TH rdprobe"), "{roff}");
    assert!(roff.contains("explain"), "subcommands listed");

    let esc = |o: &Output| o.stdout.contains(&0x1b);
    let always = rdprobe(&["explain", "0xC0000234", "--color", "always"]);
    assert!(esc(&always), "--color always colours");
    assert!(!esc(&rdprobe(&[
        "explain",
        "0xC0000234",
        "--color",
        "never"
    ])));
    assert!(
        !esc(&rdprobe(&["explain", "0xC0000234"])),
        "auto: a pipe is not a terminal"
    );
    let forced = Command::new(env!("CARGO_BIN_EXE_rdprobe"))
        .args(["--color", "always", "explain", "0xC0000234"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(esc(&forced), "--color always wins over NO_COLOR");
    let pcap = fixtures().join("demo/rdp-troubles.pcap");
    let painted = rdprobe(&[
        "pcap",
        pcap.to_str().unwrap(),
        "--port",
        "13380",
        "--color=always",
    ]);
    assert!(
        stdout(&painted).contains("\x1b[31m[error]\x1b[0m"),
        "severities coloured"
    );

    let dir = std::env::temp_dir().join(format!("rdprobe-o-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "pcap".into(),
                pcap.to_str().unwrap().into(),
                "--port".into(),
                "13380".into(),
            ],
            "RDP connection(s)",
        ),
        (
            vec![
                "decode".into(),
                "030000130ed000001234000300080005000000".into(),
            ],
            "HYBRID_REQUIRED_BY_SERVER",
        ),
        (
            vec!["explain".into(), "0x904".into()],
            "disconnectReasonAtClientWinsockFDCLOSE",
        ),
    ];
    for (i, (args, want)) in cases.iter().enumerate() {
        let file = dir.join(format!("out{i}.txt"));
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        let f = file.to_str().unwrap().to_owned();
        a.extend(["-o", &f]);
        let o = rdprobe(&a);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{a:?}: {o:?}");
        assert!(o.stdout.is_empty(), "{a:?}: results go to the file");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(want), "{a:?}: {text}");
        assert!(!text.contains('\x1b'), "auto colour is off for a file");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--udp` through `--gateway` is said to be not probed (the gateway's UDP side channel is
/// DTLS), not silently dropped; the TCP path is probed as usual.
#[test]
fn udp_through_a_gateway_is_said_to_be_not_probed() {
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = format!("127.0.0.1:{refused}");
    let o = rdprobe(&[
        "probe",
        "--udp",
        "--gateway",
        &gw,
        "--format",
        "jsonl",
        "127.0.0.1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--udp is not probed through --gateway"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(v["data"]["stopped_at"], "gateway_tcp", "{v}");
}
