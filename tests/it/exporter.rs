//! `rdprobe exporter` scraped by a real Prometheus (Debian's `prometheus`, on loopback): a
//! healthy xrdp, a refused port and a server that refuses the session with Set Error Info 7
//! (`fixtures/tools/sei_proxy.py` in front of a real xrdp). Prometheus' query API must say
//! `rdp_probe_success` 1 for the first, 0 for the others with the stage where each stopped.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use rdp_tests::peers::{self, Security, XrdpConfig};
use serde_json::Value;

/// GET `path` on 127.0.0.1:`port`: the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
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

/// Prometheus' answer to `query` (instant), as (instance, labels, value) rows.
fn query(port: u16, q: &str) -> Vec<(String, Value, f64)> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // Right after it starts, Prometheus may answer 503 for a moment.
    let t0 = Instant::now();
    let (code, body) = loop {
        let (code, body) = get(port, &format!("/api/v1/query?query={enc}"));
        if code == 200 || t0.elapsed() > Duration::from_secs(20) {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                r["metric"].clone(),
                r["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn prometheus_scrapes_the_exporter_probing_real_peers() {
    let start = Instant::now();
    let Some(xrdp) = peers::or_skip(peers::xrdp(&XrdpConfig {
        security: Security::Tls,
        ..XrdpConfig::default()
    })) else {
        return;
    };
    let Some(sei) = peers::or_skip(peers::sei_proxy(xrdp.port, 7)) else {
        return;
    };
    // A closed port: bound, then released.
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // The exporter, in this process, on a port of its own, allowed only loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let exporter = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let config = rdprobe::exporter::Config::parse(Some(
        "allowed_targets = [\"127.0.0.0/8\"]\n[modules.default]\ntimeout = 10\n# The walk to the logon screen, without the 2 s wait for a logon notification.\nstop_after = \"finalization\"\n",
    ))
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            rdprobe::exporter::serve(l, config, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });

    let targets = [
        format!("127.0.0.1:{}", xrdp.port),
        format!("127.0.0.1:{refused}"),
        format!("127.0.0.1:{}", sei.port),
    ];
    let config = format!(
        "global:\n  scrape_interval: 3s\n  scrape_timeout: 3s\nscrape_configs:\n  - job_name: rdp\n    metrics_path: /probe\n    params:\n      module: [default]\n    static_configs:\n      - targets: [{}]\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: 127.0.0.1:{exporter}\n  - job_name: rdprobe_exporter\n    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n",
        targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
    );
    let Some(prom) = peers::or_skip(peers::prometheus(&config)) else {
        let _ = stop_tx.send(());
        let _ = server.join();
        return;
    };

    // Wait for a scrape of every target (Prometheus scrapes every 3 s).
    let t0 = Instant::now();
    eprintln!("peers and prometheus up after {:?}", start.elapsed());
    let rows = loop {
        let rows = query(prom.port, "rdp_probe_success");
        if rows.len() == 3 || t0.elapsed() > Duration::from_secs(60) {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("3 targets scraped after {:?}", start.elapsed());
    let success = |t: &str| rows.iter().find(|r| r.0 == t).map(|r| r.2);
    assert_eq!(
        success(&targets[0]),
        Some(1.0),
        "xrdp: {rows:?}\n{}",
        prom.logs()
    );
    assert_eq!(success(&targets[1]), Some(0.0), "refused: {rows:?}");
    assert_eq!(success(&targets[2]), Some(0.0), "sei: {rows:?}");
    let info = query(prom.port, "rdp_probe_info");
    let stopped = |t: &str| {
        info.iter().find(|r| r.0 == t).map(|r| {
            (
                r.1["stopped_at"].as_str().unwrap_or("").to_owned(),
                r.1["primary_finding"].as_str().unwrap_or("").to_owned(),
            )
        })
    };
    assert_eq!(
        stopped(&targets[1]),
        Some(("tcp".into(), "tcp-refused".into()))
    );
    assert_eq!(
        stopped(&targets[2]),
        Some(("capabilities".into(), "server-denied-connection".into())),
        "{info:?}"
    );
    assert_eq!(stopped(&targets[0]).map(|s| s.0), Some(String::new()));
    // Per-stage durations and the exporter's own metrics reach Prometheus too.
    let stages = query(
        prom.port,
        &format!("rdp_stage_duration_seconds{{instance=\"{}\"}}", targets[0]),
    );
    assert!(
        stages.iter().any(|r| r.1["stage"] == "finalization"),
        "{stages:?}"
    );
    // The exporter's own job is scraped on its own schedule: wait for a scrape after the probes.
    let t0 = Instant::now();
    let own = loop {
        let own = query(prom.port, "rdprobe_exporter_probes_total");
        if own.iter().map(|r| r.2).sum::<f64>() >= 3.0 || t0.elapsed() > Duration::from_secs(30) {
            break own;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(own.iter().map(|r| r.2).sum::<f64>() >= 3.0, "{own:?}");
    assert!(
        own.iter().any(|r| r.1["result"] == "failure" && r.2 >= 2.0),
        "{own:?}"
    );
    eprintln!("own metrics after {:?}", start.elapsed());
    let _ = stop_tx.send(());
    server.join().unwrap();
    eprintln!("exporter stopped after {:?}", start.elapsed());
}

/// The example rules and scrape configuration of docs/prometheus pass Prometheus' own checks:
/// `promtool check rules`, `promtool test rules` (each alert fires with its annotations on
/// made-up series) and `promtool check config`.
#[test]
fn the_example_alert_rules_pass_promtool() {
    let docs = rdp_tests::fixtures().join("../docs/prometheus");
    let Ok(promtool) = which("promtool") else {
        assert!(
            std::env::var_os("RDPROBE_REQUIRE_PEERS").is_none(),
            "promtool (Debian's prometheus) required but not installed"
        );
        eprintln!("\n*** SKIPPED promtool: not installed ***\n");
        return;
    };
    for args in [
        &["check", "rules", "rdprobe-alerts.yml"][..],
        &["test", "rules", "rdprobe-alerts.test.yml"],
        &["check", "config", "prometheus.yml"],
    ] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(&docs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
