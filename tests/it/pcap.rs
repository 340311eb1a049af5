//! `rdprobe pcap` on every public capture: the values Zeek, Suricata, nDPI, Arkime and tshark
//! record (fixtures/captures/public/EXPECTED.md), kept per capture in
//! `fixtures/captures/public/<capture>.expected.json`. `RDPROBE_BLESS=1` rewrites those files
//! from the current output (review the diff against EXPECTED.md before committing).

use rdprobe::capture::analyzer::Config;
use rdprobe::capture::run::analyze_file;
use serde_json::{json, Value};

/// The facts we check per connection (a stable subset of the JSON report).
fn facts(report: &rdprobe::report::capture::CaptureReport) -> Value {
    let conns: Vec<Value> = report
        .connections
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap();
            let t = &v["tcp"];
            let r = &v["rdp"];
            json!({
                "client": v["client"], "server": v["server"],
                "verdict": v["verdict"], "stopped_at": v["stopped_at"],
                "stages": v["stages"].as_array().into_iter().flatten()
                    .map(|s| format!("{}:{}", s["name"].as_str().unwrap_or(""), s["status"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>(),
                "diagnosis": v["diagnosis"],
                "findings": c.findings.iter().map(|f| format!("{}:{}", f.id, f.severity.as_str())).collect::<Vec<_>>(),
                "tcp": {
                    "state": t["state"], "history": t["history"], "packets": t["packets"], "bytes": t["bytes"],
                    "retransmissions": t["retransmissions"], "fast_retransmissions": t["fast_retransmissions"],
                    "spurious_retransmissions": t["spurious_retransmissions"], "lost_segments": t["lost_segments"],
                    "out_of_order": t["out_of_order"], "dup_acks": t["dup_acks"], "zero_windows": t["zero_windows"],
                    "keep_alives": t["keep_alives"], "reset_by": t["reset_by"], "reset_stage": t["reset_stage"],
                },
                "rdp": if r.is_null() { Value::Null } else { json!({
                    "cookie": r["cookie"], "routing_token": r["routing_token"],
                    "requested_protocols": r["requested_protocols"], "selected_protocol": r["selected_protocol"],
                    "failure": r["failure"], "neg_flags": r["neg_flags"], "legacy_no_negotiation": r["legacy_no_negotiation"],
                    "client": r["client"], "server": r["server"],
                    "tls": if r["tls"].is_null() { Value::Null } else { json!({
                        "client_versions": r["tls"]["client_versions"], "sni": r["tls"]["sni"],
                        "version": r["tls"]["version"], "cipher": r["tls"]["cipher"], "alert": r["tls"]["alert"],
                        "subject": r["tls"]["certificate"]["subject"], "serial": r["tls"]["certificate"]["serial"],
                        "not_after": r["tls"]["certificate"]["not_after"], "expired": r["tls"]["certificate"]["expired"],
                        "self_signed": r["tls"]["certificate"]["self_signed"],
                    })},
                    "prefix_bytes": r["prefix_bytes"],
                    "session": r["session"],
                })},
            })
        })
        .collect();
    json!({
        "packets": report.packets,
        "connections": conns,
        "udp": serde_json::to_value(&report.udp).unwrap(),
        "summary": serde_json::to_value(&report.summary).unwrap(),
    })
}

/// Ports of the non-RDP TCP-analysis captures, so their single flow is reported.
fn config_for(name: &str) -> Config {
    let mut cfg = Config::default();
    if name.starts_with("chrissanders") {
        cfg.ports.extend([80, 1043, 1720]);
    }
    // The real-peer lab listens on 13389..13398; the refused capture used the closed 13380
    // (fixtures/captures/peers/README.md).
    cfg.ports.extend(13389..=13398);
    cfg.ports.push(13380);
    // The failure scenarios' proxies and toy servers (peer_scenarios.sh).
    cfg.ports.extend(13401..=13405);
    cfg
}

/// Runs every capture of `dir` and compares with its `.expected.json`.
fn check_dir(dir: &str, expected_files: usize) {
    let dir = rdp_tests::fixtures().join(dir);
    let bless = std::env::var_os("RDPROBE_BLESS").is_some();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            (n.ends_with(".pcap") || n.ends_with(".pcapng")).then_some(n)
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), expected_files);
    let mut failures = Vec::new();
    for name in names {
        let report = analyze_file(&dir.join(&name), config_for(&name), |_| {}, |_| {}).unwrap();
        let got = facts(&report);
        let stem = name.rsplit_once('.').unwrap().0;
        let path = dir.join(format!("{stem}.expected.json"));
        if bless {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Value = serde_json::from_slice(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
        if got != want {
            failures.push(format!(
                "{name}: output differs from {}:\n{}",
                path.display(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn public_captures_match_their_expected_json() {
    check_dir("captures/public", 25);
}

/// Our captures of real peers (fixtures/captures/peers/README.md says how each was made).
#[test]
fn peer_captures_match_their_expected_json() {
    check_dir("captures/peers", 28);
}

/// The verdict facts of each real-peer scenario, spelled out (the expected JSON holds the rest).
#[test]
fn peer_scenarios_get_the_right_stage_verdict_and_findings() {
    let dir = rdp_tests::fixtures().join("captures/peers");
    // (capture, connection index, stopped_at, verdict, finding ids that must be present)
    type Case<'a> = (&'a str, usize, Option<&'a str>, &'a str, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "xfreerdp_refused.pcap",
            0,
            Some("tcp"),
            "error",
            &["tcp-refused"],
        ),
        ("xfreerdp_shadow-nla.pcap", 0, None, "warning", &[]),
        (
            "xfreerdp_shadow-nla_wrongpass.pcap",
            0,
            Some("credssp"),
            "error",
            &["auth-failed"],
        ),
        (
            "xfreerdp_xrdp-tls.pcap",
            0,
            None,
            "warning",
            &["nla-not-required"],
        ),
        (
            "xfreerdp_xrdp-tls-expired.pcap",
            0,
            None,
            "error",
            &["cert-expired", "cert-self-signed"],
        ),
        (
            "xfreerdp_xrdp-tls-cnmismatch.pcap",
            0,
            None,
            "warning",
            &["cert-self-signed"],
        ),
        (
            "xfreerdp_xrdp-rdp.pcap",
            0,
            Some("licensing"),
            "error",
            &[
                "neg-protocol-not-requested",
                "closed-by-server",
                "rdp-security-allowed",
            ],
        ),
        (
            "xfreerdp_xrdp-rdp-low.pcap",
            0,
            Some("licensing"),
            "error",
            &["weak-rdp-encryption", "closed-by-server"],
        ),
        (
            "xfreerdp_xrdp-rdp-none.pcap",
            0,
            None,
            "error",
            &["weak-rdp-encryption", "neg-protocol-not-requested"],
        ),
        (
            "xfreerdp_xrdp-rdp-fips.pcap",
            0,
            None,
            "error",
            &["neg-protocol-not-requested"],
        ),
        (
            "nmap_shadow-nla.pcap",
            2,
            Some("x224"),
            "error",
            &["neg-hybrid-required"],
        ),
        (
            "nmap_xrdp-rdp.pcap",
            2,
            Some("mcs"),
            "error",
            &["neg-protocol-not-requested"],
        ),
    ];
    for (name, idx, stop, verdict, ids) in cases {
        let r = analyze_file(&dir.join(name), config_for(name), |_| {}, |_| {}).unwrap();
        let c = &r.connections[*idx];
        assert_eq!(
            (c.stopped_at.map(|s| s.as_str()), c.verdict.as_str()),
            (*stop, *verdict),
            "{name} #{idx}: {:?}",
            c.findings
        );
        for id in *ids {
            assert!(
                c.findings.iter().any(|f| f.id == *id),
                "{name} #{idx}: no {id} in {:?}",
                c.findings
            );
        }
    }
}

/// Wireshark's tcp.analysis counts per file (EXPECTED.md, "Per-file tshark tcp.analysis
/// counts"), summed over the reported connections.
#[test]
fn tcp_analysis_counts_match_tshark() {
    // file: (retrans, fast, spurious, lost, ooo, dup_ack, zero_window, keep_alive)
    let table: &[(&str, [u64; 8])] = &[
        ("arkime__socks5-rdp.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        ("ndpi__rdp.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        ("ndpi__rdp3.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        ("ndpi__rdp_over_tls.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        (
            "suricata-verify-pr857__encrypted-traffic-metadata-rdp.pcap",
            [0, 0, 0, 0, 0, 0, 0, 0],
        ),
        // tshark's 2 retransmissions are the SYNs of a refused flow on port 2998 (not RDP).
        (
            "suricata-verify__rdp-protocol__RDP-003.pcap",
            [0, 0, 0, 0, 0, 2, 0, 0],
        ),
        ("zeek__rdp-invalid-length.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        (
            "zeek__rdp-no-cookie-mstshash.pcap",
            [8, 0, 0, 0, 0, 1, 0, 0],
        ),
        (
            "zeek__rdp-proprietary-encryption.pcap",
            [0, 0, 0, 9, 9, 7, 0, 0],
        ),
        ("zeek__rdp-to-ssl.pcap", [0, 0, 0, 0, 0, 0, 0, 0]),
        ("zeek__rdp-unknown-keyboard.pcap", [4, 0, 1, 0, 0, 1, 0, 0]),
        ("zeek__rdp-x509.pcap", [4, 0, 1, 0, 0, 3, 0, 0]),
        ("chrissanders__tcp_dupack.pcapng", [1, 1, 0, 0, 0, 3, 0, 0]),
        (
            "chrissanders__tcp_retransmissions.pcapng",
            [5, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "chrissanders__tcp_zerowindowdead.pcapng",
            [0, 0, 0, 0, 0, 0, 4, 3],
        ),
        (
            "chrissanders__tcp_zerowindowrecovery.pcapng",
            [0, 0, 0, 0, 0, 0, 1, 0],
        ),
        (
            "chrissanders__tcp_refuseconnection.pcapng",
            [0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ];
    let dir = rdp_tests::fixtures().join("captures/public");
    for (name, want) in table {
        let r = analyze_file(&dir.join(name), config_for(name), |_| {}, |_| {}).unwrap();
        let mut got = [0u64; 8];
        for c in &r.connections {
            let t = &c.tcp;
            let v = [
                t.retransmissions,
                t.fast_retransmissions,
                t.spurious_retransmissions,
                t.lost_segments,
                t.out_of_order,
                t.dup_acks,
                t.zero_windows,
                t.keep_alives,
            ];
            for (g, x) in got.iter_mut().zip(v) {
                *g += x;
            }
        }
        assert_eq!(&got, want, "{name}");
    }
}

/// Handshakes whose SYN and SYN-ACK were sent again (fixtures/captures/crafted/README.md):
/// retransmissions, lost segments and out-of-order segments as tshark 4.0 counts them.
#[test]
fn repeated_handshake_segments_count_as_in_tshark() {
    // file: (retransmission, lost_segment, out_of_order)
    let table: &[(&str, [u64; 3])] = &[
        ("synack-after-ack.pcap", [2, 0, 0]),
        ("synack-after-request.pcap", [2, 0, 0]),
        ("synack-after-server-data.pcap", [1, 0, 1]),
        ("synack-before-ack.pcap", [2, 0, 0]),
        ("synack-new-isn.pcap", [1, 1, 0]),
        ("synack-twice-one-syn.pcap", [1, 0, 0]),
    ];
    let dir = rdp_tests::fixtures().join("captures/crafted");
    for (name, want) in table {
        let r = analyze_file(&dir.join(name), Config::default(), |_| {}, |_| {}).unwrap();
        let mut got = [0u64; 3];
        for c in &r.connections {
            got[0] += c.tcp.retransmissions;
            got[1] += c.tcp.lost_segments;
            got[2] += c.tcp.out_of_order;
        }
        assert_eq!(&got, want, "{name}");
    }
}

/// A capture that joins a connection at its TLS ClientHello (no SYN, no X.224): the TLS facts
/// and the TLS 1.0 server's certificate in clear are read, its findings raised, the connection
/// marked as joined mid-way, and nothing invented. One that starts in encrypted records says
/// only that.
#[test]
fn captures_that_join_mid_connection_report_what_is_visible() {
    let dir = rdp_tests::fixtures().join("captures/crafted");
    let r = analyze_file(
        &dir.join("midstream-tls-start.pcap"),
        Config::default(),
        |_| {},
        |_| {},
    )
    .unwrap();
    assert_eq!(r.connections.len(), 1);
    let c = &r.connections[0];
    let rdp = c.rdp.as_ref().expect("the TLS facts");
    assert!(rdp.joined_midstream);
    assert_eq!(rdp.requested_protocols, None);
    assert!(!rdp.legacy_no_negotiation);
    let tls = rdp.tls.as_ref().unwrap();
    assert_eq!(tls.version.as_deref(), Some("TLSv1.0"));
    assert_eq!(tls.cipher.as_deref(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
    let cert = tls.certificate.as_ref().unwrap();
    assert_eq!(cert.subject, "CN=WIN2K8R2.awakecoding.ath.cx");
    let ids: Vec<&str> = c.findings.iter().map(|f| f.id.as_str()).collect();
    assert!(
        ids.contains(&"cert-weak") && ids.contains(&"cert-self-signed"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"legacy-no-negotiation"), "{ids:?}");
    let stages: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
    assert!(
        !stages.contains(&"x224") && !stages.contains(&"mcs"),
        "{stages:?}"
    );
    assert!(stages.contains(&"tls"), "{stages:?}");

    let r = analyze_file(
        &dir.join("midstream-bulk.pcap"),
        Config::default(),
        |_| {},
        |_| {},
    )
    .unwrap();
    let c = &r.connections[0];
    let rdp = c.rdp.as_ref().unwrap();
    assert!(rdp.joined_midstream);
    let tls = rdp.tls.as_ref().unwrap();
    assert!(tls.version.is_none() && tls.certificate.is_none());
    assert_eq!(
        c.tcp.reset_stage, None,
        "the stage of the reset is not visible"
    );
    assert_eq!(c.stopped_at, None);
    let stages: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["tcp"], "{:?}", c.stages);
}

/// A cancelled analysis (the output was closed) stops within 4,096 packets and says so.
#[test]
fn a_cancelled_analysis_stops_early_and_says_so() {
    let path = std::env::temp_dir().join(format!("rdprobe-cancel-{}.pcap", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    rdp_benches::synscan(file, 20_000).unwrap();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r = analyze_file(
        &path,
        Config {
            cancel: Some(cancel),
            keep_connections: false,
            ..Config::default()
        },
        |_| {},
        |_| {},
    )
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(r.packets, 4096);
    assert!(
        r.notices.iter().any(|n| n.contains("stopped")),
        "{:?}",
        r.notices
    );
}

/// xfreerdp against xrdp at encryption level NONE (real traffic, `fixtures/captures/peers`):
/// every PDU after the MCS connect is in clear, so `rdp.session` holds the channels joined, the
/// licensing outcome and the server's Demand Active; at FIPS only the licensing (sent in clear)
/// and the channels are visible; inside TLS nothing is.
#[test]
fn the_walk_past_mcs_in_clear_fills_rdp_session() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures/peers");
    let session = |name: &str| {
        let r = analyze_file(&dir.join(name), config_for(name), |_| {}, |_| {}).unwrap();
        r.connections[0].rdp.as_ref().unwrap().session.clone()
    };
    let none = session("xfreerdp_xrdp-rdp-none.pcap").expect("session facts at level NONE");
    assert_eq!(none.channels.io_channel, Some(1003));
    assert_eq!(none.channels.user_channel, Some(1008));
    assert_eq!(none.channels.joined, [1008, 1003, 1004, 1005, 1006, 1007]);
    assert!(none.channels.refused.is_empty());
    assert_eq!(none.licensing.outcome, "valid_client");
    assert_eq!(
        none.licensing.error_name.as_deref(),
        Some("STATUS_VALID_CLIENT")
    );
    let caps = none.capabilities.expect("Demand Active facts");
    assert_eq!(
        (caps.desktop_width, caps.desktop_height, caps.color_depth),
        (Some(1024), Some(768), Some(32))
    );
    assert_eq!(caps.os_major.as_deref(), Some("OSMAJORTYPE_WINDOWS"));
    assert!(caps.sets.iter().any(|s| s == "CAPSTYPE_GENERAL"));
    let fips = session("xfreerdp_xrdp-rdp-fips.pcap").expect("session facts at FIPS");
    assert_eq!(fips.licensing.outcome, "valid_client");
    assert!(
        fips.capabilities.is_none(),
        "the Demand Active is encrypted"
    );
    assert_eq!(session("xfreerdp_xrdp-tls.pcap"), None);
}

/// rdprobe's walk of xrdp, captured at encryption levels NONE and LOW: the analyzer reads the
/// walk's licensing outcome, the Demand Active and the finalization from the capture (tshark reads
/// them at NONE only: at LOW it does not expect the server's basic security header).
#[test]
fn captures_of_the_walk_show_licensing_and_the_demand_active() {
    for (name, exchange) in [
        ("rdprobe_xrdp-rdp-none.pcap", false),
        ("rdprobe_xrdp-rdp-low.pcap", true),
    ] {
        let path = rdp_tests::fixtures().join("captures/peers").join(name);
        let report = analyze_file(&path, config_for(name), |_| {}, |_| {}).unwrap();
        assert_eq!(report.connections.len(), 3, "{name}");
        let walk = &report.connections[2];
        let v = serde_json::to_value(walk).unwrap();
        let stages: Vec<String> = v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}:{}",
                    s["name"].as_str().unwrap(),
                    s["status"].as_str().unwrap()
                )
            })
            .collect();
        let mut want = vec!["tcp:ok", "x224:ok", "mcs:ok", "channels:ok"];
        if exchange {
            want.push("security_exchange:ok");
        }
        want.extend([
            "client_info:ok",
            "licensing:ok",
            "capabilities:ok",
            "finalization:ok",
            "active:ok",
        ]);
        assert_eq!(stages, want, "{name}");
        let session = &v["rdp"]["session"];
        assert_eq!(session["licensing"]["outcome"], "valid_client", "{name}");
        assert_eq!(
            session["licensing"]["error_name"], "STATUS_VALID_CLIENT",
            "{name}"
        );
        assert_eq!(
            session["channels"]["joined"],
            serde_json::json!([1004, 1003]),
            "{name}"
        );
        assert_eq!(session["capabilities"]["desktop_width"], 1024, "{name}");
        assert_eq!(session["capabilities"]["color_depth"], 16, "{name}");
        assert_eq!(session["disconnect_reason"], "RN_USER_REQUESTED", "{name}");
        // The probe left cleanly: its ultimatum, then FINs, no reset.
        assert_eq!(v["tcp"]["reset_by"], serde_json::Value::Null, "{name}");
        assert_eq!(v["stopped_at"], serde_json::Value::Null, "{name}");
    }
}
