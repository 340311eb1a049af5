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
