//! The exporter's configuration file (TOML): the modules a scrape names, the targets it may
//! probe, the limits. Passwords never go in the file: a module names the environment variable
//! or the file that holds its password.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::active::client::kerberos::AuthPolicy;
use crate::active::credentials::Credentials;
use crate::active::run::ProbeOptions;
use crate::diagnose::Stage;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// CIDR blocks, addresses, host names and `*.domain` patterns the exporter may probe.
    /// Required unless the exporter listens on loopback only.
    pub allowed_targets: Option<Vec<String>>,
    /// Probes at once (default 8).
    pub max_concurrent: Option<usize>,
    /// Probes waiting for a slot before scrapes get 503 (default 64).
    pub queue: Option<usize>,
    /// Seconds kept from Prometheus' scrape timeout for the answer to travel (default 0.5).
    pub timeout_margin: Option<f64>,
    #[serde(default)]
    pub modules: BTreeMap<String, Module>,
}

/// One module: how a probe runs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// The probe's deadline in seconds (default 10; the scrape timeout cuts it shorter).
    pub timeout: Option<f64>,
    /// One connect or answer (default 4).
    pub stage_timeout: Option<f64>,
    /// The last stage walked (default `active`).
    pub stop_after: Option<String>,
    /// Enumerate layers, TLS versions and methods (default false: only mstsc's connection).
    pub enumerate: Option<bool>,
    /// The port when the target names none (default 3389).
    pub port: Option<u16>,
    /// Log on as this user (`DOMAIN\user`, `user@domain`).
    pub user: Option<String>,
    /// The environment variable that holds the user's password.
    pub password_env: Option<String>,
    /// The file that holds the user's password (its first line).
    pub password_file: Option<PathBuf>,
    /// `auto`, `kerberos` or `ntlm` (default auto).
    pub auth: Option<String>,
    pub kdc: Option<String>,
    /// Reach the targets through this RD Gateway (`GW[:PORT]`).
    pub gateway: Option<String>,
    pub sni: Option<String>,
}

/// A module ready to probe with.
pub struct Ready {
    pub opts: ProbeOptions,
    pub port: u16,
}

/// The configuration, checked.
pub struct Config {
    pub allowed: Option<super::allow::AllowList>,
    pub max_concurrent: usize,
    pub queue: usize,
    pub margin: Duration,
    pub modules: BTreeMap<String, Arc<Ready>>,
}

fn secs(v: Option<f64>, default: f64, what: &str) -> Result<Duration, String> {
    let v = v.unwrap_or(default);
    if !v.is_finite() || v <= 0.0 || v > 3600.0 {
        return Err(format!("{what} = {v}: not in 0 < SECS <= 3600"));
    }
    Ok(Duration::from_secs_f64(v))
}

impl Config {
    /// Reads and checks `text` (the file's content; `None`: no file, one default module).
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        let file: File = match text {
            Some(t) => toml::from_str(t).map_err(|e| {
                let msg = e.message().to_owned();
                if msg.contains("unknown field `password`") {
                    "passwords do not go in the configuration: name password_env or password_file"
                        .to_owned()
                } else {
                    // The message only: TOML errors quote the line, which may hold a secret.
                    msg
                }
            })?,
            None => File::default(),
        };
        let mut modules = BTreeMap::new();
        let mut given = file.modules;
        given.entry("default".to_owned()).or_default();
        for (name, m) in given {
            let ready = module(&m).map_err(|e| format!("module {name:?}: {e}"))?;
            modules.insert(name, Arc::new(ready));
        }
        let allowed = match file.allowed_targets {
            Some(list) => Some(super::allow::AllowList::parse(&list)?),
            None => None,
        };
        Ok(Self {
            allowed,
            max_concurrent: file.max_concurrent.unwrap_or(8).clamp(1, 1024),
            queue: file.queue.unwrap_or(64).min(100_000),
            margin: secs(file.timeout_margin, 0.5, "timeout_margin")?,
            modules,
        })
    }
}

fn module(m: &Module) -> Result<Ready, String> {
    let stop_after = match &m.stop_after {
        Some(s) => Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("stop_after = {s:?} is not a stage"))?,
        None => Stage::Active,
    };
    let password = match (&m.password_env, &m.password_file) {
        (Some(_), Some(_)) => return Err("password_env and password_file: give one".into()),
        (Some(var), None) => {
            Some(std::env::var(var).map_err(|_| format!("password_env: ${var} is not set"))?)
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("password_file {}: {e}", path.display()))?;
            Some(text.lines().next().unwrap_or_default().to_owned())
        }
        (None, None) => None,
    };
    let credentials = match (&m.user, password) {
        (Some(u), Some(p)) => Some(Arc::new(Credentials::new(u, zeroize::Zeroizing::new(p))?)),
        (Some(_), None) => return Err("user without password_env or password_file".into()),
        (None, Some(_)) => return Err("a password without a user".into()),
        (None, None) => None,
    };
    let auth = match m.auth.as_deref() {
        None | Some("auto") => AuthPolicy::Auto,
        Some("kerberos") => AuthPolicy::Kerberos,
        Some("ntlm") => AuthPolicy::Ntlm,
        Some(o) => return Err(format!("auth = {o:?}: auto, kerberos or ntlm")),
    };
    let gateway = match &m.gateway {
        Some(g) => {
            let t = crate::active::targets::parse_target(g, 443)
                .map_err(|e| format!("gateway: {e}"))?;
            Some(crate::active::GatewayOptions {
                host: t.host,
                port: t.port,
                credentials: credentials.clone(),
            })
        }
        None => None,
    };
    let timeout = secs(m.timeout, 10.0, "timeout")?;
    let opts = ProbeOptions {
        timeout,
        stage_timeout: secs(m.stage_timeout, 4.0, "stage_timeout")?.min(timeout),
        enumerate: m.enumerate.unwrap_or(false),
        stop_after,
        credentials,
        auth,
        kdc: m.kdc.clone(),
        gateway,
        sni: m.sni.clone(),
        ..ProbeOptions::default()
    };
    Ok(Ready {
        opts,
        port: m.port.unwrap_or(3389),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_is_one_default_module() {
        let c = Config::parse(None).unwrap();
        assert_eq!(c.modules.keys().collect::<Vec<_>>(), ["default"]);
        assert!(!c.modules["default"].opts.enumerate);
        assert!(c.allowed.is_none());
    }

    /// docs/prometheus/exporter.toml reads (every key known); its modules need their
    /// passwords, so only the file's shape is checked here.
    #[test]
    fn the_documented_example_reads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/prometheus/exporter.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let f: File = toml::from_str(&text).unwrap();
        assert_eq!(f.modules.len(), 4);
        assert!(f.allowed_targets.is_some());
        let c = Config::parse(Some(&text.replace("password_env = \"RDP_MONITOR_PASSWORD\"\n", "").replace("user = \"CORP\\\\rdp-monitor\"\npassword_file = \"/etc/rdprobe/monitor.password\"\n", "")));
        assert!(
            c.is_err(),
            "the logon module has a user and no password now"
        );
    }

    #[test]
    fn modules_and_refusals() {
        let c = Config::parse(Some(
            "allowed_targets = [\"127.0.0.0/8\"]\n[modules.tls]\nstop_after = \"tls\"\ntimeout = 3\n",
        ))
        .unwrap();
        assert_eq!(c.modules["tls"].opts.stop_after, Stage::Tls);
        assert_eq!(c.modules["tls"].opts.stage_timeout, Duration::from_secs(3));
        let e = Config::parse(Some("[modules.x]\nuser = \"a\"\npassword = \"hunter2\"\n"))
            .err()
            .unwrap();
        assert!(e.contains("password_env"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(Config::parse(Some("[modules.x]\nstop_after = \"nowhere\"\n")).is_err());
        assert!(Config::parse(Some("[modules.x]\nuser = \"a\"\n")).is_err());
    }
}
