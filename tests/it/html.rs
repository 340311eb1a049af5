//! `--html` reports rendered in a real browser (headless Chromium, Debian package `chromium`):
//! a probe of a real peer, a public capture and the failure demo capture each render without a
//! script error, with their ladder, timeline and (capture) connection table in the DOM, and plot
//! axes labelled with plain numbers; a report full of hostile wire strings renders them as text,
//! runs none of them and shows control characters escaped as the text output does. Screenshots are
//! saved under `CARGO_TARGET_TMPDIR/html-report/` to look at. Without Chromium the test says
//! SKIPPED (a failure under RDPROBE_REQUIRE_PEERS=1, as in CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_tests::peers;
use rdprobe::capture::analyzer::Config;
use rdprobe::capture::run::analyze_file;
use rdprobe::report::html;

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The attributes of the rendered `<body>` (a payload that ran would have set one).
fn body_tag(dom: &str) -> &str {
    let start = dom.find("<body").expect("a body");
    let end = dom[start..].find('>').map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// Chromium's DOM of `page` after its script ran, and a screenshot next to it.
fn render(chromium: &Path, page: &Path, fragment: &str, height: u32) -> String {
    let url = format!("file://{}{fragment}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    let shot = page.with_extension("png");
    let o = Command::new(chromium)
        .args(common)
        .arg(format!("--window-size=1200,{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "{o:?}");
    assert!(shot.exists(), "no screenshot of {url}");
    let o = Command::new(chromium)
        .args(common)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "{o:?}");
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        dom.contains("data-rendered=\"yes\""),
        "the script did not finish: {url}"
    );
    assert!(!dom.contains("data-error="), "a script error: {url}");
    dom
}

/// What the script drew: the `<main>` element (without the JSON data element, whose `\uXXXX`
/// and `\\` escapes would otherwise match).
fn drawn(dom: &str) -> &str {
    let start = dom.find("<main").expect("a main element");
    let end = dom[start..]
        .find("</main>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// The axis labels of every plot (`<text class="t">` inside `<svg class="chart">`).
fn chart_labels(dom: &str) -> Vec<&str> {
    let mut labels = Vec::new();
    for chart in dom.split("<svg class=\"chart\"").skip(1) {
        let chart = &chart[..chart.find("</svg>").unwrap_or(chart.len())];
        for t in chart.split("class=\"t\">").skip(1) {
            labels.push(&t[..t.find('<').unwrap_or(t.len())]);
        }
    }
    labels
}

/// Axis labels are plain numbers or times: no exponent such as `1e-9`.
fn assert_plain_axes(dom: &str, what: &str) {
    let labels = chart_labels(dom);
    assert!(!labels.is_empty(), "{what}: no plot labels");
    for l in labels {
        assert!(
            !l.contains('e') && !l.contains('E'),
            "{what}: axis label {l:?}"
        );
    }
}

fn chromium() -> Option<PathBuf> {
    match peers::client_exe("chromium") {
        Ok(p) => Some(p),
        Err(why) => {
            peers::or_skip(Err(why));
            None
        }
    }
}

fn capture(name: &str, ports: &[u16]) -> rdprobe::report::capture::CaptureReport {
    let cfg = Config {
        ports: ports.to_vec(),
        keep_connections: true,
        series: true,
        ..Config::default()
    };
    let mut report = analyze_file(&rdp_tests::fixtures().join(name), cfg, |_| {}, |_| {}).unwrap();
    // The name as `rdprobe pcap fixtures/...` from the repository root shows it (the CLI keeps
    // the argument as given), not this test's absolute path: the screenshots go in the README.
    report.file = format!("fixtures/{name}");
    report
}

#[test]
fn reports_render_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = out_dir();

    // The failure demo: six connections; the third (CredSSP ended by the server) opened.
    let demo = capture(
        "demo/rdp-troubles.pcap",
        &[13380, 13389, 13392, 13393, 13401],
    );
    let page = dir.join("demo.html");
    std::fs::write(&page, html::capture(std::slice::from_ref(&demo), None)).unwrap();
    // The same page again, for a screenshot of another connection.
    std::fs::copy(&page, page.with_file_name("demo-lossy.html")).unwrap();
    let dom = render(&chromium, &page, "#f0c3", 2000);
    assert_eq!(
        dom.matches("class=\"row").count(),
        6,
        "a row per connection"
    );
    for want in [
        "class=\"ladder\"",
        "class=\"timeline\"",
        "auth-failed",
        "RST (server ended it",
    ] {
        assert!(dom.contains(want), "demo: no {want}");
    }
    assert!(
        dom.contains(">fixtures/demo/rdp-troubles.pcap<"),
        "the file name as given"
    );
    // Its retransmissions and zero windows are all zero: the axis is 0..1, not 0..1e-9.
    assert_eq!(
        dom.matches("class=\"chart\"").count(),
        3,
        "bytes, RTT, retransmissions"
    );
    assert_plain_axes(&dom, "demo #f0c3");

    // The lossy connection (netem on a veth pair): its plots over time.
    let dom = render(
        &chromium,
        &page.with_file_name("demo-lossy.html"),
        "#f0c6",
        2200,
    );
    assert_eq!(
        dom.matches("class=\"chart\"").count(),
        3,
        "bytes, RTT, retransmissions"
    );
    assert!(dom.contains("the longest silence"), "the gap is named");
    assert_plain_axes(&dom, "demo #f0c6");

    // A public capture (Zeek's rdp-to-ssl), its first connection opened by its link.
    let public = capture("captures/public/zeek__rdp-to-ssl.pcap", &[]);
    let page = dir.join("public.html");
    std::fs::write(&page, html::capture(std::slice::from_ref(&public), None)).unwrap();
    let dom = render(&chromium, &page, "#f0c1", 1600);
    assert!(
        dom.contains("class=\"ladder\"") && dom.contains("Connection 1:"),
        "public"
    );

    // A probe of a real peer (FreeRDP's NLA server).
    let Some(peer) = peers::or_skip(peers::shadow_nla()) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(rdprobe::active::run::probe(
        &rdprobe::active::run::Target {
            host: "127.0.0.1".into(),
            port: peer.addr().port(),
        },
        &rdprobe::active::run::ProbeOptions {
            timeout: std::time::Duration::from_secs(20),
            ..Default::default()
        },
    ));
    let page = dir.join("probe.html");
    std::fs::write(&page, html::probe(std::slice::from_ref(&r))).unwrap();
    let dom = render(&chromium, &page, "", 2600);
    for want in [
        "class=\"ladder\"",
        "class=\"timeline\"",
        "Security layers",
        "TLS versions",
        "Which clients would connect",
        "CredSSP / NTLM",
        "Reachable, NLA required",
    ] {
        assert!(dom.contains(want), "probe: no {want}");
    }
}

/// Hostile strings where the wire puts them (a cookie, an SNI, a certificate subject, an NTLM
/// name, a finding's evidence) are shown as text: the payloads would mark the page if they ran.
#[test]
fn hostile_wire_strings_render_as_text() {
    let Some(chromium) = chromium() else { return };
    let dir = out_dir();
    let payloads = [
        "<script>document.body.setAttribute('data-pwned','script')</script>",
        "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
        "\"onload=\"document.body.setAttribute('data-pwned','attr')",
        "</script><script>document.body.setAttribute('data-pwned','close')</script>",
    ];
    // Control characters: shown as the text output spells them (`escape::terminal`), not raw.
    let controls = "\x1b[31mred\x07 evil\u{202e}txt.exe \u{9b}2J zero\u{200b}width\u{2028}tab\tdel\x7f back\\slash";
    let shown = rdprobe::escape::terminal(controls);
    assert_eq!(
        shown,
        "\\x1b[31mred\\x07 evil\\u{202e}txt.exe \\u{009b}2J zero\\u{200b}width\\u{2028}tab\\x09del\\x7f back\\\\slash"
    );
    let raw = [
        '\x1b', '\x07', '\u{202e}', '\u{9b}', '\u{200b}', '\u{2028}', '\t', '\x7f',
    ];
    let evil = format!("{} {controls}", payloads.join(" "));
    let mut demo = capture(
        "demo/rdp-troubles.pcap",
        &[13380, 13389, 13392, 13393, 13401],
    );
    demo.file = evil.clone();
    demo.notices.push(evil.clone());
    for c in &mut demo.connections {
        c.client = evil.clone();
        if let Some(r) = c.rdp.as_mut() {
            r.cookie = Some(evil.clone());
            if let Some(t) = r.tls.as_mut() {
                t.sni = Some(evil.clone());
            }
        }
        for f in &mut c.findings {
            f.evidence = evil.clone();
        }
        c.diagnosis.headline = evil.clone();
    }
    let page = dir.join("hostile-capture.html");
    std::fs::write(&page, html::capture(std::slice::from_ref(&demo), None)).unwrap();
    let dom = render(&chromium, &page, "#f0c3", 2000);
    assert!(
        !body_tag(&dom).contains("data-pwned"),
        "a payload ran: {}",
        body_tag(&dom)
    );
    assert!(
        dom.contains("&lt;script&gt;document.body"),
        "the payload is shown as text"
    );
    assert!(!dom.contains("<img src=\"x\""), "no element from the wire");
    assert_escaped(drawn(&dom), &shown, &raw);

    let mut r = rdprobe::report::probe::ProbeResult {
        target: evil.clone(),
        ..Default::default()
    };
    r.diagnosis.headline = evil.clone();
    r.findings.push(rdprobe::diagnose::finding(
        rdprobe::diagnose::FindingId::CertNameMismatch,
        evil.clone(),
    ));
    let page = dir.join("hostile-probe.html");
    std::fs::write(&page, html::probe(std::slice::from_ref(&r))).unwrap();
    let dom = render(&chromium, &page, "", 1200);
    assert!(
        !body_tag(&dom).contains("data-pwned"),
        "a payload ran: {}",
        body_tag(&dom)
    );
    assert!(dom.contains("&lt;img src=x onerror="), "shown as text");
    assert_escaped(drawn(&dom), &shown, &raw);
}

/// `drawn` shows the control characters as `shown` spells them and holds none of `raw`.
fn assert_escaped(drawn: &str, shown: &str, raw: &[char]) {
    assert!(
        drawn.contains(shown),
        "not escaped as the text output: {drawn}"
    );
    for c in raw {
        assert!(!drawn.contains(*c), "a raw {c:?} in the page");
    }
    assert!(!drawn.contains("back\\slash"), "a lone backslash");
}

/// `summarize --html`: the fleet summary and the summary of many captures render, with their
/// finding rows, and a hostile target name among the examples is drawn as text.
#[test]
fn summaries_render_in_chromium() {
    use rdprobe::diagnose::{FindingId, Severity, Stage, Verdict};
    use rdprobe::report::fleet::{Entry, FleetSummary};
    let Some(chromium) = chromium() else { return };
    let dir = out_dir();
    let evil = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">";
    let mut fleet = FleetSummary::default();
    for (i, target) in ["10.0.0.1", "10.0.0.2", evil].into_iter().enumerate() {
        fleet.add_entry(&Entry {
            target: target.into(),
            port: 3389,
            verdict: if i == 0 {
                Verdict::Warning
            } else {
                Verdict::Error
            },
            stopped_at: (i > 0).then_some(Stage::Tcp),
            findings: if i == 0 {
                vec![(FindingId::NlaNotRequired, Severity::Warning)]
            } else {
                vec![(FindingId::TcpRefused, Severity::Error)]
            },
            elapsed_ms: 10.0 * i as f64,
        });
    }
    let page = dir.join("summary-fleet.html");
    std::fs::write(&page, html::fleet(&fleet)).unwrap();
    let dom = render(&chromium, &page, "", 900);
    assert!(!body_tag(&dom).contains("data-pwned"), "{}", body_tag(&dom));
    for want in [
        "3 targets",
        "tcp-refused",
        "nla-not-required",
        "Slowest",
        "&lt;img src=x",
    ] {
        assert!(drawn(&dom).contains(want), "fleet: no {want}");
    }
    // The demo capture and a public one, as `pcap` over both sums them.
    let mut total = rdprobe::report::archive::ArchiveSummary::default();
    let mut reports = Vec::new();
    for (name, ports) in [
        (
            "demo/rdp-troubles.pcap",
            &[13380u16, 13389, 13392, 13393, 13401][..],
        ),
        ("captures/public/zeek__rdp-to-ssl.pcap", &[][..]),
    ] {
        let mut base = Config::default();
        if !ports.is_empty() {
            base.ports = ports.to_vec();
        }
        let r = rdprobe::capture::batch::analyze_one(
            &rdp_tests::fixtures().join(name),
            &base,
            rdprobe::capture::batch::Mode::Json,
            &std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            |_| {},
            |_| {},
        )
        .unwrap();
        total.merge(&r.archive);
        reports.push(r.report);
    }
    assert_eq!(total.files, 2);
    let page = dir.join("summary-captures.html");
    std::fs::write(&page, html::archive(&total)).unwrap();
    let dom = render(&chromium, &page, "", 900);
    for want in [
        "2 capture files",
        "auth-failed",
        "Stopped at",
        "e.g. servers",
    ] {
        assert!(drawn(&dom).contains(want), "captures: no {want}");
    }
    // `pcap --html` over several files: their summary first, then each file's table.
    let page = dir.join("pcap-two-files.html");
    std::fs::write(&page, html::capture(&reports, Some(&total))).unwrap();
    let dom = render(&chromium, &page, "", 1600);
    let drawn = drawn(&dom);
    let summary_at = drawn.find("2 capture files").expect("the summary");
    let file_at = drawn.find("rdp-troubles.pcap").expect("the first file");
    assert!(summary_at < file_at, "the summary before the files");
    assert_eq!(
        dom.matches("class=\"row").count(),
        8,
        "a row per connection"
    );
}
