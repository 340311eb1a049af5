//! The JSON Schemas of `docs/schema/` are the ones the report types generate
//! (`report::schema`; `RDPROBE_WRITE_SCHEMA=1` rewrites them), and real outputs validate
//! against them: `pcap --format jsonl` and `--format json` over every fixture capture,
//! `probe --format jsonl` over loopback targets, `summarize`, `explain --format json`; and so
//! do the JSON insta snapshots and the probe JSON kept with the fixture captures.

use std::process::Command;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_rdprobe")
}

fn schema(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join(format!("docs/schema/{name}.json")))
        .unwrap_or_else(|e| {
            panic!("docs/schema/{name}.json: {e} (RDPROBE_WRITE_SCHEMA=1 writes it)")
        });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn docs_schema_is_what_the_types_generate() {
    let write = std::env::var_os("RDPROBE_WRITE_SCHEMA").is_some();
    for (name, s) in rdprobe::report::schema::all() {
        let text = serde_json::to_string_pretty(&s).unwrap() + "\n";
        let path = root().join(format!("docs/schema/{name}.json"));
        if write {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "docs/schema/{name}.json differs from the types: a change to the JSON needs its schema (RDPROBE_WRITE_SCHEMA=1 cargo test -p rdprobe --test schema) and, if it can break a reader, a new SCHEMA_VERSION and a CHANGELOG line"
        );
    }
}

fn validate(validator: &jsonschema::Validator, v: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(v)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

/// `rdprobe summarize --format jsonl` over `lines` (written to a file): its summary line.
fn summarize_jsonl(lines: &str) -> serde_json::Value {
    let file = std::env::temp_dir().join(format!("rdprobe-schema-{}.jsonl", std::process::id()));
    std::fs::write(&file, lines).unwrap();
    let o = Command::new(exe())
        .args(["summarize", "--format", "jsonl"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The files under fixtures/captures that `keep` picks, sorted.
fn fixture_files(keep: impl Fn(&std::path::Path) -> bool) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("fixtures/captures")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn captures() -> Vec<std::path::PathBuf> {
    fixture_files(|p| {
        p.extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            && std::fs::metadata(p).is_ok_and(|m| m.len() < 50_000_000)
    })
}

#[test]
fn real_outputs_validate() {
    let line = jsonschema::validator_for(&schema("line")).unwrap();
    let report = jsonschema::validator_for(&schema("capture-report")).unwrap();
    let probe_result = jsonschema::validator_for(&schema("probe-result")).unwrap();
    let explanations = jsonschema::validator_for(&schema("explanations")).unwrap();
    let files = captures();
    assert!(files.len() > 10, "{files:?}");
    let mut lines = 0;
    for f in &files {
        let o = Command::new(exe())
            .args(["pcap", "--format", "jsonl"])
            .arg(f)
            .output()
            .unwrap();
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            validate(&line, &v, &format!("{}: {l:.200}", f.display()));
            lines += 1;
        }
        let o = Command::new(exe())
            .args(["pcap", "--format", "json"])
            .arg(f)
            .output()
            .unwrap();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout) {
            validate(&report, &v, &f.display().to_string());
        }
    }
    assert!(lines > 100, "{lines} lines");
    // A probe over loopback: refused and closed ports, a summary line.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::thread::spawn(move || {
        for s in closed.incoming().flatten() {
            drop(s);
        }
    });
    let o = Command::new(exe())
        .args(["probe", "--no-enum", "--format", "jsonl", "--timeout", "2"])
        .args([format!("127.0.0.1:{port}"), format!("127.0.0.1:{refused}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(text.lines().count(), 3, "{text}");
    for l in text.lines() {
        validate(&line, &serde_json::from_str(l).unwrap(), l);
    }
    // The schema is not vacuous: a target without its verdict, or of another version, fails.
    let mut bad: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    bad["data"].as_object_mut().unwrap().remove("verdict");
    assert!(
        !line.is_valid(&bad),
        "a target line without a verdict validates"
    );
    let mut bad: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    bad["schema_version"] = 2.into();
    assert!(!line.is_valid(&bad));
    let mut bad: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    bad["data"]["findings"][0]["id"] = "no-such-finding".into();
    assert!(!line.is_valid(&bad), "an unknown finding id validates");
    let o = Command::new(exe())
        .args([
            "probe",
            "--no-enum",
            "--format",
            "json",
            &format!("127.0.0.1:{refused}"),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for r in v.as_array().unwrap() {
        validate(&probe_result, r, "probe --format json");
    }
    let v = summarize_jsonl(&text);
    validate(&line, &v, "summarize --format jsonl");
    // Several captures in one run: their lines and their summary together (a summary line
    // without a file), and summarize over that run.
    let o = Command::new(exe())
        .args(["pcap", "--format", "jsonl"])
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        last.get("file").is_none() && last["data"]["files"] == files.len(),
        "{last}"
    );
    for l in text.lines() {
        validate(
            &line,
            &serde_json::from_str(l).unwrap(),
            &format!("{l:.200}"),
        );
    }
    let mut bad = last.clone();
    bad["data"]
        .as_object_mut()
        .unwrap()
        .remove("capture_findings");
    assert!(
        !line.is_valid(&bad),
        "a summary of captures without capture_findings validates"
    );
    let v = summarize_jsonl(&text);
    validate(&line, &v, "summarize --format jsonl over pcap runs");
    assert_eq!(v, last, "summarize of a run's lines is that run's summary");
    for code in [
        "0x904",
        "50331675",
        "KDC_ERR_PREAUTH_FAILED",
        "The logon attempt failed.",
    ] {
        let o = Command::new(exe())
            .args(["explain", "--format", "json", code])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        validate(&explanations, &v, code);
    }
}

/// The insta snapshots of JSON (their placeholders given values of their type) and the probe
/// JSON kept with the fixture captures are records of the schema.
#[test]
fn snapshots_and_fixture_json_validate() {
    let line = jsonschema::validator_for(&schema("line")).unwrap();
    let report = jsonschema::validator_for(&schema("capture-report")).unwrap();
    let probe_result = jsonschema::validator_for(&schema("probe-result")).unwrap();
    // `probe --format json`: an array of results (several targets) or one.
    let probe_array = |v: &serde_json::Value, what: &str| {
        let results = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        assert!(!results.is_empty(), "{what}");
        for r in &results {
            validate(&probe_result, r, what);
        }
    };
    let mut checked = 0;
    let snaps = root().join("probe/tests/snapshots");
    for e in std::fs::read_dir(&snaps).unwrap().flatten() {
        let name = e.file_name().into_string().unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        // insta's header, then the snapshot.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
        let body = body
            .replace("[port]", "3389")
            .replace("[ms]", "1.5")
            .replace("\"[fixtures]", "\"/fixtures");
        if name.contains("json_lines") {
            for l in body.lines().filter(|l| !l.trim().is_empty()) {
                validate(
                    &line,
                    &serde_json::from_str(l).unwrap(),
                    &format!("{name}: {l:.200}"),
                );
            }
        } else if name.contains("full_json_of_a_probe") {
            probe_array(&serde_json::from_str(&body).unwrap(), &name);
        } else if name.starts_with("snapshots__pcap_") {
            validate(&report, &serde_json::from_str(&body).unwrap(), &name);
        } else {
            // Help texts and decode errors: not JSON.
            assert!(
                serde_json::from_str::<serde_json::Value>(&body).is_err(),
                "{name} is JSON: validate it"
            );
            continue;
        }
        checked += 1;
    }
    assert!(checked >= 6, "{checked} JSON snapshots");
    let fixtures = fixture_files(|p| p.to_string_lossy().ends_with(".probe.json"));
    for p in &fixtures {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        probe_array(&v, &p.display().to_string());
    }
    let fixtures = fixtures.len();
    assert!(fixtures >= 10, "{fixtures} probe JSON files");
}
