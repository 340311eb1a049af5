//! `probe --gateway` against the loopback RD Gateway (`fixtures/tools/rdg_server.py`, written
//! from MS-TSGU) in front of a real xrdp: the anonymous facts, each refusal named at its stage,
//! and the walk to `active` through the tunnel over WebSocket and the legacy transport. xfreerdp
//! goes through the same gateway in the same scenarios and must agree: a session where the
//! probe walks, FreeRDP's name for each refusal where the probe names it.

use std::time::{Duration, Instant};

use rdp_tests::peers::{self, Peer, Security, XrdpConfig, NLA_DOMAIN, NLA_PASSWORD, NLA_USER};
use rdprobe::active::credentials::Credentials;
use rdprobe::active::run::{probe, ProbeOptions, Target};
use rdprobe::active::GatewayOptions;
use rdprobe::diagnose::Stage;
use serde_json::Value;

fn xrdp() -> Option<Peer> {
    peers::or_skip(peers::xrdp(&XrdpConfig {
        security: Security::Tls,
        ..XrdpConfig::default()
    }))
}

fn credentials(password: &str) -> std::sync::Arc<Credentials> {
    std::sync::Arc::new(
        Credentials::new(
            &format!("{NLA_DOMAIN}\\{NLA_USER}"),
            zeroize::Zeroizing::new(password.to_owned()),
        )
        .unwrap(),
    )
}

/// The probe of `target` through `gw` (with the test user and `password` when given), as JSON.
fn probe_via(gw: &Peer, target: &Peer, password: Option<&str>, stop_after: Stage) -> Value {
    let creds = password.map(credentials);
    let opts = ProbeOptions {
        timeout: Duration::from_secs(20),
        stage_timeout: Duration::from_secs(4),
        stop_after,
        credentials: creds.clone(),
        gateway: Some(GatewayOptions {
            host: "127.0.0.1".into(),
            port: gw.port,
            credentials: creds,
        }),
        ..ProbeOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(probe(
        &Target {
            host: "127.0.0.1".into(),
            port: target.port,
        },
        &opts,
    ));
    serde_json::to_value(&r).unwrap()
}

fn stage<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} stage: {:#}", r["stages"]))
}

fn ids(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Without credentials: who answers (schemes, Server), the gateway's names, Windows version
/// and clock from the anonymous NTLM round, its certificate judged as mstsc judges it; the
/// probe stops before authenticating, which is not an error.
#[test]
fn the_anonymous_probe_reads_the_gateway() {
    let (Some(target), Some(gw)) = (xrdp(), peers::or_skip(peers::rdg("ok", false))) else {
        return;
    };
    let r = probe_via(&gw, &target, None, Stage::Active);
    let g = &r["gateway"];
    assert_eq!(g["http"]["status"], 401, "{g:#}\n{}", gw.logs());
    assert_eq!(
        g["http"]["schemes"],
        serde_json::json!(["Negotiate", "NTLM", "Basic"])
    );
    assert_eq!(g["http"]["server"], "Microsoft-HTTPAPI/2.0");
    assert_eq!(g["ntlm"]["netbios_computer"], "GW01");
    assert_eq!(g["ntlm"]["dns_computer"], "gw01.rdg.test");
    assert_eq!(g["ntlm"]["product_version"], "10.0.20348");
    assert!(g["ntlm"]["timestamp"].is_string());
    assert_eq!(g["auth"]["result"], "not_attempted");
    assert_eq!(g["certificate"]["self_signed"], true);
    assert_eq!(stage(&r, "gateway_auth")["status"], "skipped");
    assert_eq!(r["stopped_at"], Value::Null);
    assert_eq!(ids(&r), ["gateway-cert-invalid"], "{:#}", r["findings"]);
    assert!(
        r["diagnosis"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("Through the RD Gateway"),
        "{}",
        r["diagnosis"]["headline"]
    );
}

/// Each refusal a Windows gateway gives, at the stage it arises, with its finding.
#[test]
fn each_refusal_is_named_at_its_stage() {
    let Some(target) = xrdp() else {
        return;
    };
    for (scenario, password, at, id) in [
        (
            "ok",
            "wrong-password",
            "gateway_auth",
            "gateway-auth-failed",
        ),
        (
            "restricted",
            NLA_PASSWORD,
            "gateway_auth",
            "gateway-account-restricted",
        ),
        (
            "cap-denied",
            NLA_PASSWORD,
            "gateway_tunnel",
            "gateway-policy-denied",
        ),
        (
            "rap-denied",
            NLA_PASSWORD,
            "gateway_channel",
            "gateway-resource-denied",
        ),
        (
            "unreachable",
            NLA_PASSWORD,
            "gateway_channel",
            "gateway-target-unreachable",
        ),
        (
            "http-disabled",
            NLA_PASSWORD,
            "gateway_http",
            "gateway-http-transport-disabled",
        ),
        (
            "methods-blocked",
            NLA_PASSWORD,
            "gateway_http",
            "gateway-methods-blocked",
        ),
        (
            "unavailable",
            NLA_PASSWORD,
            "gateway_http",
            "gateway-unavailable",
        ),
        (
            "silent",
            NLA_PASSWORD,
            "gateway_http",
            "gateway-unavailable",
        ),
    ] {
        let Some(gw) = peers::or_skip(peers::rdg(scenario, false)) else {
            return;
        };
        let r = probe_via(&gw, &target, Some(password), Stage::Active);
        assert_eq!(
            r["stopped_at"],
            at,
            "{scenario}: {:#}\n{}",
            r["stages"],
            gw.logs()
        );
        assert_eq!(stage(&r, at)["status"], "failed", "{scenario}");
        assert!(
            ids(&r).contains(&id.to_owned()),
            "{scenario}: {:?}",
            ids(&r)
        );
        assert_eq!(r["diagnosis"]["primary_finding"], id, "{scenario}");
        // Nothing of the target was tried.
        assert!(
            !r["stages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "x224"),
            "{scenario}"
        );
    }
}

/// Through the tunnel, the same connector walks xrdp to `active`, over WebSocket and over the
/// legacy two-channel transport.
#[test]
fn xrdp_walks_to_active_through_both_transports() {
    let Some(target) = xrdp() else {
        return;
    };
    for (legacy, transport) in [(false, "websocket"), (true, "legacy")] {
        let Some(gw) = peers::or_skip(peers::rdg("ok", legacy)) else {
            return;
        };
        let r = probe_via(&gw, &target, Some(NLA_PASSWORD), Stage::Active);
        assert_eq!(r["gateway"]["transport"], transport);
        assert_eq!(r["gateway"]["auth"]["result"], "ok");
        assert_eq!(r["gateway"]["channel"]["port"], target.port);
        assert_eq!(
            r["stopped_at"],
            Value::Null,
            "{transport}: {:#}\n{}",
            r["stages"],
            gw.logs()
        );
        for s in [
            "gateway_tunnel",
            "gateway_channel",
            "x224",
            "tls",
            "mcs",
            "licensing",
            "capabilities",
            "active",
        ] {
            assert_eq!(
                stage(&r, s)["status"],
                "ok",
                "{transport} {s}: {:#}",
                r["stages"]
            );
        }
        // Timeline: the gateway's stages before the target's.
        let names: Vec<&str> = r["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let channel = names.iter().position(|n| *n == "gateway_channel").unwrap();
        let x224 = names.iter().position(|n| *n == "x224").unwrap();
        assert!(channel < x224, "{names:?}");
        assert_eq!(r["security"]["selected"], "ssl", "{:#}", r["security"]);
    }
}

/// Waits until xfreerdp's log has `needle` or it exits (at most 25 s); its log.
fn xfreerdp_until(c: &mut peers::Client, needle: &str) -> String {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(25) {
        let log = c.log_text();
        if log.contains(needle) || c.exited().is_some() {
            return c.log_text();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    c.log_text()
}

/// xfreerdp (`/g:` with `/gt:http`) through the same gateway: a session up to
/// CONNECTION_STATE_ACTIVE over both transports where the probe walks to active, and FreeRDP's
/// own name for each refusal the probe names.
#[test]
fn xfreerdp_agrees_with_the_probe() {
    let Some(target) = xrdp() else {
        return;
    };
    for (scenario, legacy, password, needle) in [
        ("ok", false, NLA_PASSWORD, "CONNECTION_STATE_ACTIVE"),
        ("ok", true, NLA_PASSWORD, "CONNECTION_STATE_ACTIVE"),
        ("ok", false, "wrong-password", "ERRCONNECT_ACCESS_DENIED"),
        (
            "restricted",
            false,
            NLA_PASSWORD,
            "ERRCONNECT_ACCESS_DENIED",
        ),
        (
            "cap-denied",
            false,
            NLA_PASSWORD,
            "E_PROXY_NAP_ACCESSDENIED",
        ),
        (
            "rap-denied",
            false,
            NLA_PASSWORD,
            "E_PROXY_RAP_ACCESSDENIED",
        ),
        (
            "unreachable",
            false,
            NLA_PASSWORD,
            "E_PROXY_TS_CONNECTFAILED",
        ),
    ] {
        let Some(gw) = peers::or_skip(peers::rdg(scenario, legacy)) else {
            return;
        };
        let Some(mut c) = peers::or_skip_client(peers::xfreerdp_with(&[
            format!("/v:127.0.0.1:{}", target.port),
            format!("/g:127.0.0.1:{}", gw.port),
            format!("/gu:{NLA_USER}"),
            format!("/gd:{NLA_DOMAIN}"),
            format!("/gp:{password}"),
            "/gt:http".into(),
            "/cert:ignore".into(),
            "/log-level:DEBUG".into(),
        ])) else {
            return;
        };
        let log = xfreerdp_until(&mut c, needle);
        assert!(
            log.contains(needle),
            "{scenario} (legacy {legacy}): xfreerdp did not say {needle}\n{}\n{}",
            log.lines().rev().take(30).collect::<Vec<_>>().join("\n"),
            gw.logs()
        );
        // The probe, in the same scenario, names the same outcome.
        let r = probe_via(&gw, &target, Some(password), Stage::Capabilities);
        let expected = match needle {
            "CONNECTION_STATE_ACTIVE" => None,
            "E_PROXY_NAP_ACCESSDENIED" => Some("gateway-policy-denied"),
            "E_PROXY_RAP_ACCESSDENIED" => Some("gateway-resource-denied"),
            "E_PROXY_TS_CONNECTFAILED" => Some("gateway-target-unreachable"),
            _ if scenario == "restricted" => Some("gateway-account-restricted"),
            _ => Some("gateway-auth-failed"),
        };
        match expected {
            None => assert_eq!(
                r["stopped_at"],
                Value::Null,
                "{scenario}: {:#}",
                r["stages"]
            ),
            Some(id) => assert_eq!(r["diagnosis"]["primary_finding"], id, "{scenario}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Captures of the probe's own gateway runs (fixtures/captures/gateway, made by
// fixtures/tools/gateway_capture.sh), read back with the probe's key log.

mod capture {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use rdprobe::capture::analyzer::Config;
    use rdprobe::capture::decrypt::keylog::KeyLog;
    use rdprobe::capture::run::analyze_file;
    use serde_json::Value;

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures/gateway")
    }

    fn probe_json(name: &str) -> Value {
        let v: Value = serde_json::from_slice(
            &std::fs::read(dir().join(format!("{name}.probe.json"))).unwrap(),
        )
        .unwrap();
        v[0].clone()
    }

    /// Every connection of the capture as JSON (`keys`: with the probe's key log; `port`: the
    /// gateway's port named as one to read).
    fn analyze(name: &str, keys: bool, port: Option<u16>) -> Vec<Value> {
        let keylog = keys.then(|| {
            let mut log = KeyLog::default();
            log.add_text(&std::fs::read_to_string(dir().join(format!("{name}.keylog"))).unwrap());
            Arc::new(log)
        });
        let mut cfg = Config {
            keylog,
            ..Config::default()
        };
        cfg.ports.extend(port);
        let r = analyze_file(&dir().join(format!("{name}.pcap")), cfg, |_| {}, |_| {}).unwrap();
        r.connections
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect()
    }

    fn gateway_conn(all: &[Value]) -> Value {
        let mut it = all.iter().filter(|c| c["gateway"].is_object());
        let c = it.next().expect("an RD Gateway connection").clone();
        assert!(it.next().is_none(), "one RD Gateway connection");
        c
    }

    fn stage_names(v: &Value) -> Vec<String> {
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Decrypted with its key log, the probe's WebSocket run shows the gateway's stages and
    /// facts, and the nested RDP connection with the same facts as the probe's result.
    #[test]
    fn the_probes_websocket_run_reads_back_as_the_probe_saw_it() {
        for name in ["probe-websocket", "probe-tls12"] {
            reads_back_as_the_probe_saw_it(name, &gateway_conn(&analyze(name, true, None)));
        }
    }

    /// `c`, the gateway connection of the capture `name`, against the probe's own result.
    fn reads_back_as_the_probe_saw_it(name: &str, c: &Value) {
        let probe = probe_json(name);
        let (g, pg) = (&c["gateway"], &probe["gateway"]);
        for key in ["transport", "http", "ntlm", "tunnel", "channel"] {
            let (mut a, mut b) = (g[key].clone(), pg[key].clone());
            // The CHALLENGE's clock is its own: both saw the same one.
            for v in [&mut a, &mut b] {
                if let Some(o) = v.as_object_mut() {
                    o.remove("clock_skew_s");
                }
            }
            assert_eq!(a, b, "{name}: gateway.{key}");
        }
        assert_eq!(g["auth"]["result"], "ok");
        assert_eq!(g["auth"]["user"], pg["auth"]["user"]);
        assert_eq!(c["https"]["rd_gateway"], true);
        // The timeline: the gateway's stages, then the target's, as the probe's (up to
        // capabilities: the capture ends before the client's Confirm Active).
        let want: Vec<String> = stage_names(&probe)
            .into_iter()
            .filter(|s| s != "tcp")
            .collect();
        let got = stage_names(c);
        assert_eq!(got, want, "{name}");
        // The nested connection: its own verdict and facts, equal to the probe's.
        let inner = &c["inner"];
        assert_eq!(inner["rdp"]["selected_protocol"], "ssl", "{name}");
        assert_eq!(
            inner["rdp"]["tls"]["certificate"]["subject"], probe["tls"]["certificate"]["subject"],
            "{name}"
        );
        assert_eq!(inner["verdict"], "warning", "{name}: nla-not-required");
        assert_eq!(
            inner["rdp"]["session"]["capabilities"]["desktop_width"],
            probe["session"]["capabilities"]["desktop_width"],
            "{name}"
        );
    }

    /// The tunnel authorization refused: the same finding, stage and E_PROXY code as the probe.
    #[test]
    fn a_refused_tunnel_is_the_probes_finding() {
        let probe = probe_json("probe-cap-denied");
        let c = gateway_conn(&analyze("probe-cap-denied", true, None));
        assert_eq!(c["stopped_at"], "gateway_tunnel");
        assert_eq!(c["stopped_at"], probe["stopped_at"]);
        assert_eq!(
            c["diagnosis"]["primary_finding"],
            probe["diagnosis"]["primary_finding"]
        );
        assert_eq!(
            c["gateway"]["tunnel"]["authorization"],
            probe["gateway"]["tunnel"]["authorization"]
        );
        assert!(c["inner"].is_null());
    }

    /// Without --user: the 401 and the anonymous CHALLENGE's names, nothing refused.
    #[test]
    fn the_anonymous_run_gives_the_gateways_names() {
        let probe = probe_json("probe-anonymous");
        let c = gateway_conn(&analyze("probe-anonymous", true, None));
        assert_eq!(c["gateway"]["ntlm"]["netbios_computer"], "GW01");
        assert_eq!(
            c["gateway"]["ntlm"]["product_version"],
            probe["gateway"]["ntlm"]["product_version"]
        );
        assert_eq!(c["gateway"]["http"]["status"], 401);
        assert_eq!(c["stopped_at"], Value::Null);
    }

    /// The legacy transport's two channels (OUT and IN, one `RDG-Connection-Id`) are each
    /// recognised, and the inner connection, split over the two (its server's bytes on the
    /// OUT channel, its client's on the IN one), is rebuilt from both on the OUT channel: the
    /// same facts as the probe's, as over WebSocket.
    #[test]
    fn the_legacy_channels_are_paired_into_the_inner_connection() {
        let all = analyze("probe-legacy", true, None);
        let gws: Vec<&Value> = all.iter().filter(|c| c["gateway"].is_object()).collect();
        assert_eq!(gws.len(), 2, "the OUT and the IN channel");
        for c in &gws {
            assert_eq!(c["gateway"]["transport"], "legacy");
        }
        let with_inner: Vec<&&Value> = gws.iter().filter(|c| c["inner"].is_object()).collect();
        assert_eq!(with_inner.len(), 1, "the inner connection on one channel");
        let out = with_inner[0];
        // The OUT channel carries the gateway's answers.
        assert_eq!(out["gateway"]["channel"]["result"], "ok");
        reads_back_as_the_probe_saw_it("probe-legacy", out);
    }

    /// A legacy channel whose other channel is not in the capture (the IN channel cut out):
    /// it waits for it to the end of the capture, then is reported alone, with its own facts
    /// and no inner connection.
    #[test]
    fn a_legacy_channel_without_its_other_is_reported_alone() {
        let all = analyze("probe-legacy", true, None);
        let inn = all
            .iter()
            .find(|c| c["gateway"].is_object() && c["inner"].is_null())
            .unwrap();
        let in_port: u16 = inn["client"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let cut =
            std::env::temp_dir().join(format!("rdprobe-legacy-out-{}.pcap", std::process::id()));
        {
            let file = std::io::BufWriter::new(std::fs::File::create(&cut).unwrap());
            let mut w = rdp_benches::PcapWriter::new(file, rdp_benches::Resolution::Micro).unwrap();
            let mut r =
                rdprobe::capture::source::PacketReader::open(&dir().join("probe-legacy.pcap"))
                    .unwrap();
            while let Ok(Some(p)) = r.next_packet() {
                // Ethernet, IPv4 (its header length), TCP ports.
                let d = p.data;
                let at = 14 + usize::from(d[14] & 0x0f) * 4;
                let ports = [
                    u16::from_be_bytes([d[at], d[at + 1]]),
                    u16::from_be_bytes([d[at + 2], d[at + 3]]),
                ];
                if !ports.contains(&in_port) {
                    w.packet(u64::try_from(p.ts_ns / 1000).unwrap(), d).unwrap();
                }
            }
        }
        let mut log = KeyLog::default();
        log.add_text(&std::fs::read_to_string(dir().join("probe-legacy.keylog")).unwrap());
        let cfg = Config {
            keylog: Some(Arc::new(log)),
            ..Config::default()
        };
        let r = analyze_file(&cut, cfg, |_| {}, |_| {}).unwrap();
        let _ = std::fs::remove_file(&cut);
        let gws: Vec<Value> = r
            .connections
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .filter(|c| c["gateway"].is_object())
            .collect();
        assert_eq!(gws.len(), 1, "the OUT channel alone");
        assert_eq!(gws[0]["gateway"]["transport"], "legacy");
        assert_eq!(gws[0]["gateway"]["channel"]["result"], "ok");
        assert!(gws[0]["inner"].is_null());
        assert_eq!(r.summary.connections, all.len() - 1);
    }

    /// Without the key, on the gateway's port: an HTTPS connection with its certificate (TLS
    /// 1.2 sends it in clear), never "not RDP" or a missing X.224 answer.
    #[test]
    fn without_keys_a_gateway_is_https_not_broken_rdp() {
        let probe = probe_json("probe-tls12");
        let port = probe["gateway"]["port"].as_u64().unwrap() as u16;
        let all = analyze("probe-tls12", false, Some(port));
        let c = all
            .iter()
            .find(|c| c["https"].is_object())
            .expect("the gateway connection, as HTTPS");
        assert_eq!(c["https"]["certificate"]["subject"], "CN=gw01.rdg.test");
        assert_eq!(c["https"]["decrypted"], false);
        assert_eq!(c["verdict"], "ok", "{:#}", c["findings"]);
        let ids: Vec<&str> = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert!(
            !ids.contains(&"not-rdp") && !ids.contains(&"x224-no-response"),
            "{ids:?}"
        );
        assert!(c["diagnosis"]["headline"]
            .as_str()
            .unwrap()
            .contains("not decrypted"));
        // Without naming the port, HTTPS is not listed at all (no noise in a mixed capture).
        assert!(analyze("probe-tls12", false, None)
            .iter()
            .all(|c| c["https"].is_null()));
    }
}
