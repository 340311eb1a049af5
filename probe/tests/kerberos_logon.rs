//! `--user` with Kerberos against real peers: MIT's KDC (Debian krb5-kdc) with a realm made by
//! fixtures/tools/krb_realm.sh, and an NLA server that accepts CredSSP through MIT's GSSAPI
//! (fixtures/tools/krb_credssp_server.py, python3-gssapi), both in a network namespace this test
//! makes (only loopback exists in it; its hosts file names rdp.corp.test, nospn.corp.test and
//! kdc.corp.test). The server refuses NTLM with STATUS_NTLM_BLOCKED, as a domain that blocks
//! NTLM does. Each scenario of issue 20 is one probe: the finding at its stage, with the KDC's
//! code; and no output, log or JSON holds the password.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const PASSWORD: &str = "Right-Pass1";
const WRONG: &str = "Wrong-Pass7";

/// A directory of the test's own, removed when dropped.
struct Dir(std::path::PathBuf);

impl Dir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Realm {
    ns: common::Netns,
    dir: Dir,
    acceptor: Child,
    /// dnsmasq, answering `_kerberos._tcp.corp.test` (SRV) on 127.0.0.53.
    dns: Child,
}

impl Drop for Realm {
    fn drop(&mut self) {
        for child in [&mut self.acceptor, &mut self.dns] {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("realm/kdc.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).output();
        }
        // The namespace goes when `ns` drops, after this.
        let _ = &self.ns;
    }
}

fn tools() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tools")
}

fn have(cmd: &[&str]) -> bool {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn realm(what: &str) -> Option<Realm> {
    for (cmd, pkg) in [
        (&["krb5kdc", "--version"][..], "krb5-kdc"),
        (
            &["sh", "-c", "command -v kadmin.local"][..],
            "krb5-admin-server",
        ),
        (
            &["/usr/bin/python3", "-c", "import gssapi"][..],
            "python3-gssapi",
        ),
        (&["faketime", "--version"][..], "faketime"),
        (&["sh", "-c", "command -v dnsmasq"][..], "dnsmasq-base"),
    ] {
        // krb5kdc has no --version; its presence is enough.
        let ok = if cmd[0] == "krb5kdc" {
            have(&["sh", "-c", "command -v krb5kdc"])
        } else {
            have(cmd)
        };
        if !ok {
            common::skip(what, &format!("{pkg} is not installed"));
            return None;
        }
    }
    let ns = common::netns(what, "krb")?;
    let etc = format!("/etc/netns/{}", ns.0);
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        format!("{etc}/hosts"),
        "127.0.0.1 localhost\n127.0.0.2 rdp.corp.test\n127.0.0.2 nospn.corp.test\n127.0.0.3 kdc.corp.test\n",
    )
    .unwrap();
    std::fs::write(format!("{etc}/resolv.conf"), "nameserver 127.0.0.53\n").unwrap();
    let dir = Dir(std::env::temp_dir().join(format!("rdprobe-krb-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(dir.path());
    std::fs::create_dir_all(dir.path()).unwrap();
    let made = Command::new("ip")
        .args(["netns", "exec", &ns.0, "bash"])
        .arg(tools().join("krb_realm.sh"))
        .arg(dir.path().join("realm"))
        .output()
        .unwrap();
    assert!(made.status.success(), "krb_realm.sh: {made:?}");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let mut acceptor = Command::new("ip")
        .args(["netns", "exec", &ns.0, "env"])
        .arg(format!(
            "KRB5_CONFIG={}",
            dir.path().join("realm/krb5.conf").display()
        ))
        .arg(format!(
            "KRB5_KTNAME={}",
            dir.path().join("realm/rdp.keytab").display()
        ))
        .arg("/usr/bin/python3")
        .arg(tools().join("krb_credssp_server.py"))
        .args(["--addr", "127.0.0.2", "--port", "3389", "--user", "alice"])
        .arg("--password-file")
        .arg(&pw)
        .args(["--connections", "200", "--idle", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(acceptor.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening", "the acceptor did not start");
    // The rest of its log goes to a file the test reads at the end.
    let log = dir.path().join("acceptor.log");
    let log_path = log.clone();
    std::thread::spawn(move || {
        let mut f = std::fs::File::create(log_path).unwrap();
        let _ = std::io::copy(&mut out, &mut f);
    });
    let dns = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "dnsmasq",
            "-k",
            "--no-resolv",
            "--no-hosts",
        ])
        .args([
            "--listen-address=127.0.0.53",
            "--bind-interfaces",
            "--port=53",
            "--pid-file=",
        ])
        .arg("--srv-host=_kerberos._tcp.corp.test,kdc.corp.test,88")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::fs::write(dir.path().join("empty.conf"), "").unwrap();
    Some(Realm {
        ns,
        dir,
        acceptor,
        dns,
    })
}

/// One probe inside the namespace: its JSON result and everything it printed. `--no-conf` in
/// `args` (taken out) gives the probe an empty krb5.conf, so that DNS finds the KDC.
fn probe(r: &Realm, password: &str, args: &[&str], faketime: Option<&str>) -> (Value, String) {
    let conf = if args.contains(&"--no-conf") {
        "empty.conf"
    } else {
        "realm/krb5.conf"
    };
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--no-conf").collect();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &r.ns.0, "env"])
        .arg(format!("RDPROBE_PASSWORD={password}"))
        .arg(format!("KRB5_CONFIG={}", r.dir.path().join(conf).display()));
    if let Some(offset) = faketime {
        cmd.args(["faketime", "-f", offset]);
    }
    let out = cmd
        .arg(env!("CARGO_BIN_EXE_rdprobe"))
        .args([
            "probe",
            "--no-enum",
            "--stop-after",
            "credssp",
            "--format",
            "json",
        ])
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {all}"));
    let v = match v {
        Value::Array(mut a) => a.remove(0),
        Value::Object(ref o) if o.contains_key("results") => v["results"][0].clone(),
        other => other,
    };
    (v, all)
}

/// The findings, but for those of the acceptor's throwaway certificate (self-signed, named
/// for no host).
fn ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .filter(|id| {
            !matches!(
                id.as_str(),
                "cert-name-mismatch" | "cert-self-signed" | "wrong-host"
            )
        })
        .collect()
}

fn stage<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

#[test]
fn kerberos_logons_against_a_real_kdc_and_gssapi() {
    let what =
        "the Kerberos logon test (MIT krb5-kdc, python3-gssapi, faketime, root for a namespace)";
    let Some(r) = realm(what) else {
        return;
    };
    let mut printed = String::new();
    let kdc = ["--kdc", "kdc.corp.test"];
    let mut run = |password: &str, target: &str, user: &str, extra: &[&str], fake: Option<&str>| {
        let mut args = vec![target, "--user", user];
        args.extend_from_slice(extra);
        let (v, all) = probe(&r, password, &args, fake);
        printed.push_str(&all);
        v
    };

    // The right password by name: Kerberos to the end of CredSSP, accepted by MIT's GSSAPI.
    let v = run(PASSWORD, "rdp.corp.test", "alice@corp.test", &kdc, None);
    assert_eq!(stage(&v, "kerberos").unwrap()["status"], "ok", "{v:#}");
    assert_eq!(stage(&v, "credssp").unwrap()["status"], "ok", "{v:#}");
    assert_eq!(v["auth"]["result"], "ok");
    assert_eq!(v["auth"]["mechanism"], "kerberos");
    assert!(v["auth"]["fallback_reason"].is_null());
    let k = &v["kerberos"];
    assert_eq!(k["kdc"], "127.0.0.3:88");
    assert_eq!(k["kdc_source"], "--kdc");
    assert_eq!(k["service"], "TERMSRV/rdp.corp.test@CORP.TEST");
    assert_eq!(k["etype"], "aes256-cts-hmac-sha1-96");
    let answers: Vec<&str> = k["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["answer"].as_str().unwrap())
        .collect();
    assert_eq!(answers, ["KDC_ERR_PREAUTH_REQUIRED", "AS-REP", "TGS-REP"]);

    // The KDC from krb5.conf (KRB5_CONFIG), without --kdc.
    let v = run(PASSWORD, "rdp.corp.test", "alice@corp.test", &[], None);
    assert_eq!(v["kerberos"]["kdc_source"], "krb5.conf", "{v:#}");
    assert_eq!(v["auth"]["result"], "ok");

    // The KDC from DNS: _kerberos._tcp.corp.test (SRV, dnsmasq) when krb5.conf has no realm.
    let v = run(
        PASSWORD,
        "rdp.corp.test",
        "alice@corp.test",
        &["--no-conf"],
        None,
    );
    assert_eq!(v["kerberos"]["kdc_source"], "dns-srv", "{v:#}");
    assert_eq!(v["kerberos"]["kdc"], "127.0.0.3:88");
    assert_eq!(v["auth"]["result"], "ok");

    // By IP address: no TERMSRV/<IP>, NTLM as mstsc would, refused by the server.
    let v = run(PASSWORD, "127.0.0.2", "alice@corp.test", &kdc, None);
    assert!(v["kerberos"].is_null(), "{v:#}");
    assert_eq!(v["auth"]["mechanism"], "ntlm");
    assert!(v["auth"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("IP address"));
    assert_eq!(v["auth"]["ntstatus_name"], "STATUS_NTLM_BLOCKED");
    assert!(ids(&v).contains(&"ntlm-refused".to_owned()), "{v:#}");
    assert!(v["diagnosis"]["headline"]
        .as_str()
        .unwrap()
        .contains("NTLM was used because the target 127.0.0.2 is an IP address"));

    // A wrong password: pre-authentication fails at the KDC, the probe stops at kerberos.
    let v = run(WRONG, "rdp.corp.test", "alice@corp.test", &kdc, None);
    assert_eq!(v["stopped_at"], "kerberos", "{v:#}");
    assert_eq!(v["kerberos"]["error_code"], "KDC_ERR_PREAUTH_FAILED");
    assert_eq!(v["auth"]["kerberos_error"], "KDC_ERR_PREAUTH_FAILED");
    assert_eq!(ids(&v), ["kerberos-preauth-failed"]);
    assert_eq!(v["diagnosis"]["stage"], "kerberos");

    // An unknown user.
    let v = run(PASSWORD, "rdp.corp.test", "nobody@corp.test", &kdc, None);
    assert_eq!(v["kerberos"]["error_number"], 6, "{v:#}");
    assert_eq!(ids(&v), ["kerberos-client-unknown"]);

    // No SPN for the name: the KDC says so at the TGS-REQ, NTLM is tried and refused.
    let v = run(PASSWORD, "nospn.corp.test", "alice@corp.test", &kdc, None);
    assert_eq!(
        v["kerberos"]["error_code"], "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        "{v:#}"
    );
    assert_eq!(v["auth"]["mechanism"], "ntlm");
    assert!(v["auth"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("KDC_ERR_S_PRINCIPAL_UNKNOWN"));
    let found = ids(&v);
    assert!(
        found.contains(&"kerberos-spn-unknown".to_owned()),
        "{found:?}"
    );
    assert!(found.contains(&"ntlm-refused".to_owned()), "{found:?}");
    assert_eq!(v["diagnosis"]["primary_finding"], "ntlm-refused");

    // A disabled account and an expired password.
    let v = run(PASSWORD, "rdp.corp.test", "carol@corp.test", &kdc, None);
    assert_eq!(ids(&v), ["kerberos-client-revoked"], "{v:#}");
    let v = run(PASSWORD, "rdp.corp.test", "dave@corp.test", &kdc, None);
    assert_eq!(ids(&v), ["kerberos-password-expired"], "{v:#}");

    // Lockout: three wrong passwords, then the right one is refused (CLIENT_REVOKED).
    for _ in 0..3 {
        let v = run(WRONG, "rdp.corp.test", "bob@corp.test", &kdc, None);
        assert_eq!(ids(&v), ["kerberos-preauth-failed"], "{v:#}");
    }
    let v = run(PASSWORD, "rdp.corp.test", "bob@corp.test", &kdc, None);
    assert_eq!(ids(&v), ["kerberos-client-revoked"], "{v:#}");

    // The probe's clock 10 minutes behind the KDC's (libfaketime): KRB_AP_ERR_SKEW.
    // (The acceptor's fresh certificate is then not yet valid either: a finding of its own.)
    let v = run(
        PASSWORD,
        "rdp.corp.test",
        "alice@corp.test",
        &kdc,
        Some("-10m"),
    );
    assert_eq!(
        v["diagnosis"]["primary_finding"], "kerberos-clock-skew",
        "{v:#}"
    );
    assert_eq!(v["stopped_at"], "kerberos");
    let skew = v["kerberos"]["clock_skew_secs"].as_i64().unwrap();
    assert!((590..=610).contains(&skew), "skew {skew}");

    // No KDC: auto falls back to NTLM (refused here); --auth kerberos stops at kerberos.
    let down = ["--kdc", "127.0.0.3:89"];
    let v = run(PASSWORD, "rdp.corp.test", "alice@corp.test", &down, None);
    let found = ids(&v);
    assert!(found.contains(&"kdc-unreachable".to_owned()), "{found:?}");
    assert!(found.contains(&"ntlm-refused".to_owned()), "{found:?}");
    assert_eq!(v["auth"]["mechanism"], "ntlm");
    let mut args = down.to_vec();
    args.extend(["--auth", "kerberos"]);
    let v = run(PASSWORD, "rdp.corp.test", "alice@corp.test", &args, None);
    assert_eq!(ids(&v), ["kdc-unreachable"], "{v:#}");
    assert_eq!(v["stopped_at"], "kerberos");

    // What the server saw: Kerberos logons from alice with the right password, NTLM refused.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read_to_string(r.dir.path().join("acceptor.log")).unwrap_or_default();
    assert!(
        log.lines()
            .filter(|l| *l == "kerberos ok alice@CORP.TEST")
            .count()
            >= 2,
        "{log}"
    );
    assert!(log.contains("ntlm refused"), "{log}");
    // Secrets: neither password anywhere.
    for secret in [PASSWORD, WRONG] {
        assert!(!printed.contains(secret), "a password in the output");
        assert!(!log.contains(secret), "a password in the acceptor's log");
    }
}
