//! Real RDP peers for integration tests: xrdp 0.9 in its configurations and FreeRDP 2's shadow
//! server with NLA, each started on an ephemeral 127.0.0.1 port with its configuration,
//! certificates and logs in a temporary directory, and stopped when its [`Peer`] is dropped.
//!
//! Install the programs with `sudo .ci/install-peers.sh` (Debian 12). Tests call
//! [`or_skip`]: a missing or broken peer skips the test loudly, or fails it when
//! `RDPROBE_REQUIRE_PEERS=1` (CI).
//!
//! What this module relies on (seen with xrdp 0.9.21.1 and FreeRDP 2.11.7 on Debian 12):
//!
//! * `xrdp --nodaemon --config FILE` runs one instance in the foreground, as root, without
//!   xrdp-sesman: the whole handshake works; only a finished login would need sesman. With
//!   `fork=false` an instance is one process (threads). `port=tcp://127.0.0.1:P` listens on
//!   loopback only (a bare number would listen on every interface). `LogFile=` takes an
//!   absolute path. `--nodaemon` writes no PID file, so instances do not collide, **but** it
//!   exits 0 at once ("It looks like xrdp is already running") when `/run/xrdp/xrdp.pid`
//!   exists, i.e. when a daemon-mode xrdp runs (Debian's postinst starts one unless a
//!   policy-rc.d forbids it; `.ci/install-peers.sh` does). xrdp exits 1 when it cannot bind.
//! * The RSA key of Standard RDP Security has a compiled-in path, `/etc/xrdp/rsakeys.ini`
//!   (mode 0600; made by the postinst or `xrdp-keygen xrdp auto`): root is needed.
//! * X.224 negotiation: `security_layer=rdp` selects RDP (0) for every request, even SSL-only;
//!   `tls` and `negotiate` select SSL (1) for a request with SSL|HYBRID (xrdp has no CredSSP);
//!   RDP_NEG_RSP flags are always 0x01.
//! * `freerdp-shadow-cli /bind-address:127.0.0.1 /port:P /sec:nla /sam-file:F` needs an X
//!   server (`Xvfb -displayfd` picks a free display number and reports it; it takes no lock
//!   file then, the sockets are the lock). Xvfb needs `-noreset`: the shadow server opens the
//!   display twice, and a server reset between the two makes it exit 255 ("failed to open
//!   display") about one start in ten. The shadow server writes a self-signed certificate
//!   (CN = host name) under `$XDG_CONFIG_HOME/freerdp/shadow/`, so HOME and XDG_CONFIG_HOME
//!   point into the temporary directory. Without `+auth` there is no PAM check: NLA is NTLM
//!   against the SAM file (`user:domain::NThash:::`, as `winpr-hash -f sam` prints). It
//!   selects HYBRID (2) for SSL|HYBRID and answers a request without HYBRID with
//!   RDP_NEG_FAILURE 5 (HYBRID_REQUIRED_BY_SERVER). It exits when it cannot bind.
//! * Both servers exit within about 0.5 s of SIGTERM.
//!
//! Processes: each peer's processes are our direct children, in a process group of their own
//! led by a small guard shell. Dropping the [`Peer`] sends SIGTERM to the group, waits for the
//! servers, then SIGKILLs the group and reaps everything. If the test process dies without
//! dropping it (abort, SIGKILL, a `static`), the guard's stdin pipe closes and the guard stops
//! the group itself (SIGTERM, 2 s, removes the directory, SIGKILL). Nothing is ever signalled
//! by name.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The NLA user of [`shadow_nla`] (accepted with [`NLA_DOMAIN`] and without a domain).
pub const NLA_USER: &str = "probeuser";
/// The NLA domain of [`shadow_nla`].
pub const NLA_DOMAIN: &str = "PROBEDOM";
/// The NLA password of [`shadow_nla`].
pub const NLA_PASSWORD: &str = "Probe-Pass1";
/// NT hash (MD4 of the UTF-16LE password) of [`NLA_PASSWORD`], as
/// `winpr-hash -u probeuser -p Probe-Pass1 -f sam` prints it (a test checks this).
pub const NLA_NT_HASH: &str = "a765baebd5d91a5fbbf802e43943e05c";

/// How long a server (and Xvfb) may take to listen; `RDPROBE_PEER_TIMEOUT_SECS` overrides it.
/// Normally: xrdp 10 to 90 ms after exec, Xvfb 100 to 230 ms, freerdp-shadow-cli 90 to 420 ms.
pub const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the servers get between SIGTERM and SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Start attempts on fresh ports when the chosen port was taken in between (a race).
const PORT_ATTEMPTS: usize = 3;

/// xrdp's `security_layer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Standard RDP Security only (`rdp`).
    Rdp,
    /// TLS only (`tls`).
    Tls,
    /// TLS when the client asks for it, else Standard RDP Security (`negotiate`).
    Negotiate,
}

impl Security {
    fn ini(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Tls => "tls",
            Self::Negotiate => "negotiate",
        }
    }
}

/// xrdp's `crypt_level` (Standard RDP Security's encryption level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptLevel {
    /// Method 0, level 0: no server random, no certificate; Client Info travels in clear.
    None,
    /// 40-bit RC4, level 1.
    Low,
    /// 40-bit RC4 (not 128-bit), level 2.
    Medium,
    /// 128-bit RC4, level 3.
    High,
    /// FIPS (0x10), level 4.
    Fips,
}

impl CryptLevel {
    fn ini(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Fips => "fips",
        }
    }
}

/// The TLS certificate a peer serves: self-signed, RSA 2048, SHA-256, O=rdp-probe-peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cert {
    /// CN=localhost, SAN DNS:localhost, IP:127.0.0.1, valid from now for 3650 days.
    Default,
    /// CN=localhost, SAN DNS:localhost, IP:127.0.0.1, valid 2020-01-01 00:00:00 UTC to
    /// 2021-01-01 00:00:00 UTC.
    Expired,
    /// CN=mismatch.invalid, SAN DNS:mismatch.invalid, valid from now for 3650 days.
    Mismatch,
}

/// One xrdp configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrdpConfig {
    pub security: Security,
    pub crypt_level: CryptLevel,
    /// Also written for [`Security::Rdp`] (xrdp loads it anyway; never /etc/xrdp/cert.pem).
    pub cert: Cert,
    /// xrdp's `ssl_protocols`, e.g. `"TLSv1.2"` or `"TLSv1.2, TLSv1.3"`; `None`: Debian's
    /// default, `TLSv1.2, TLSv1.3`.
    pub tls_protocols: Option<&'static str>,
}

impl Default for XrdpConfig {
    /// Debian's defaults: negotiate, high, TLS 1.2 and 1.3 (with [`Cert::Default`]).
    fn default() -> Self {
        Self {
            security: Security::Negotiate,
            crypt_level: CryptLevel::High,
            cert: Cert::Default,
            tls_protocols: None,
        }
    }
}

/// Why a peer cannot run here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// A program or file the peer needs is missing.
    NotInstalled(String),
    /// It is installed but did not start (the reason includes the peer's logs).
    Failed(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled(why) => {
                write!(
                    f,
                    "not installed: {why} (install: sudo .ci/install-peers.sh)"
                )
            }
            Self::Failed(why) => write!(f, "failed to start: {why}"),
        }
    }
}

impl std::error::Error for Unavailable {}

fn failed(what: impl fmt::Display) -> Unavailable {
    Unavailable::Failed(what.to_string())
}

/// A running peer. Dropping it stops its processes and removes its directory.
pub struct Peer {
    /// The TCP port it listens on, on 127.0.0.1 only.
    pub port: u16,
    what: String,
    started_in: Duration,
    cert: Option<PathBuf>,
    display: Option<u32>,
    // Drop order: the processes first (Peer::drop), then the port lease, then the directory.
    group: Group,
    _lease: PortLease,
    dir: tempfile::TempDir,
}

impl Peer {
    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// What runs, e.g. "xrdp security_layer=tls crypt_level=high cert=Expired ...".
    pub fn describe(&self) -> &str {
        &self.what
    }

    /// From the call until the port listened (certificates and Xvfb included).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The certificate (PEM) the peer serves over TLS. For the shadow server it is the one it
    /// generated itself at start (CN = host name).
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert.as_deref()
    }

    /// The Xvfb display number of the shadow server.
    pub fn display(&self) -> Option<u32> {
        self.display
    }

    /// The temporary directory: configuration, certificates, logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process group of the peer's processes (the guard's PID).
    pub fn pgid(&self) -> u32 {
        self.group.pgid
    }

    /// PIDs of the peer's processes (guard, Xvfb, server).
    pub fn pids(&self) -> Vec<u32> {
        self.group.pids()
    }

    /// The last lines of each log, for assertion messages.
    pub fn logs(&self) -> String {
        self.group.logs()
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("port", &self.port)
            .field("what", &self.what)
            .field("pgid", &self.group.pgid)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.group.stop();
    }
}

/// For a test: the peer, or, when it is unavailable, a loud `SKIPPED: <why>` line on stderr and
/// `None`. With `RDPROBE_REQUIRE_PEERS=1` (CI) an unavailable peer is a panic instead.
pub fn or_skip(r: Result<Peer, Unavailable>) -> Option<Peer> {
    let require = std::env::var("RDPROBE_REQUIRE_PEERS").is_ok_and(|v| !v.is_empty() && v != "0");
    or_skip_with(r, require)
}

/// [`or_skip`] for a test client.
pub fn or_skip_client(r: Result<Client, Unavailable>) -> Option<Client> {
    match r {
        Ok(c) => Some(c),
        Err(why) => {
            // The same rules as for a peer: loud when skipped, a failure in CI.
            or_skip(Err(why));
            None
        }
    }
}

/// [`or_skip`] with the requirement given instead of read from the environment.
pub fn or_skip_with(r: Result<Peer, Unavailable>, require: bool) -> Option<Peer> {
    match r {
        Ok(peer) => Some(peer),
        Err(why) => {
            let test = std::thread::current()
                .name()
                .unwrap_or("a peer test")
                .to_owned();
            assert!(
                !require,
                "RDPROBE_REQUIRE_PEERS is set, but {test} cannot run its peer: {why}"
            );
            eprintln!(
                "\n{bar}\nSKIPPED: {test}: peer {why}\n(set RDPROBE_REQUIRE_PEERS=1 to make \
                 this a failure)\n{bar}\n",
                bar = "!".repeat(78)
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// xrdp

/// Starts xrdp with that configuration on a free loopback port.
pub fn xrdp(cfg: &XrdpConfig) -> Result<Peer, Unavailable> {
    let t0 = Instant::now();
    let xrdp = find_exe("xrdp")?;
    let openssl = find_exe("openssl")?;
    check_xrdp_host()?;
    let what = format!(
        "xrdp security_layer={} crypt_level={} cert={:?} ssl_protocols={}",
        cfg.security.ini(),
        cfg.crypt_level.ini(),
        cfg.cert,
        cfg.tls_protocols.unwrap_or("(default)")
    );
    let dir = temp_dir("xrdp")?;
    let files = write_cert_with(&openssl, cfg.cert, dir.path())?;
    let mut group = Group::new(dir.path())?;
    let log = dir.path().join("xrdp.log");
    let mut reasons = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        let lease = lease_port()?;
        let ini = dir.path().join("xrdp.ini");
        fs::write(&ini, xrdp_ini(cfg, lease.0, &files, &log))
            .map_err(|e| failed(format!("writing {}: {e}", ini.display())))?;
        let _ = fs::remove_file(&log);
        let mut cmd = Command::new(&xrdp);
        cmd.arg("--nodaemon").arg("--config").arg(&ini);
        let server = group.spawn("xrdp", cmd, dir.path(), &[&log])?;
        match group.wait_listening(server, lease.0, deadline()) {
            Ok(()) => {
                return Ok(Peer {
                    port: lease.0,
                    what,
                    started_in: t0.elapsed(),
                    cert: Some(files.cert),
                    display: None,
                    group,
                    _lease: lease,
                    dir,
                })
            }
            Err(Wait::PortTaken(why)) => reasons.push(why),
            Err(Wait::Failed(why)) => return Err(failed(format!("{what}: {why}"))),
        }
    }
    Err(failed(format!(
        "{what}: no port after {PORT_ATTEMPTS} attempts: {}",
        reasons.join("; ")
    )))
}

/// What would make `xrdp --nodaemon` fail whatever its configuration.
fn check_xrdp_host() -> Result<(), Unavailable> {
    let keys = Path::new("/etc/xrdp/rsakeys.ini");
    match File::open(keys) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Unavailable::NotInstalled(format!(
                "{} is missing (xrdp's Standard RDP Security key; `xrdp-keygen xrdp auto` makes \
                 it)",
                keys.display()
            )))
        }
        Err(e) => {
            return Err(failed(format!(
                "{} is not readable ({e}): xrdp needs root here",
                keys.display()
            )))
        }
    }
    for pidfile in ["/run/xrdp/xrdp.pid", "/var/run/xrdp/xrdp.pid"] {
        if Path::new(pidfile).exists() {
            return Err(failed(format!(
                "{pidfile} exists, so `xrdp --nodaemon` would exit at once (\"It looks like xrdp \
                 is already running\"): a daemon-mode xrdp runs (stop it) or it left a stale \
                 file; .ci/install-peers.sh clears both"
            )));
        }
    }
    Ok(())
}

/// A complete xrdp.ini: Debian 12's [Globals] with the peer's settings.
fn xrdp_ini(cfg: &XrdpConfig, port: u16, cert: &CertFiles, log: &Path) -> String {
    format!(
        "; written by rdp-tests (tests/src/peers.rs)
[Globals]
ini_version=1
fork=false
port=tcp://127.0.0.1:{port}
use_vsock=false
tcp_nodelay=true
tcp_keepalive=true
security_layer={security}
crypt_level={crypt}
certificate={cert}
key_file={key}
ssl_protocols={protocols}
autorun=
allow_channels=true
allow_multimon=true
bitmap_cache=true
bitmap_compression=true
bulk_compression=true
max_bpp=32
new_cursors=true
use_fastpath=both
blue=009cb5
grey=dedede
ls_top_window_bg_color=009cb5
ls_width=350
ls_height=430
ls_bg_color=dedede
ls_logo_filename=
ls_logo_x_pos=55
ls_logo_y_pos=50
ls_label_x_pos=30
ls_label_width=65
ls_input_x_pos=110
ls_input_width=210
ls_input_y_pos=220
ls_btn_ok_x_pos=142
ls_btn_ok_y_pos=370
ls_btn_ok_width=85
ls_btn_ok_height=30
ls_btn_cancel_x_pos=237
ls_btn_cancel_y_pos=370
ls_btn_cancel_width=85
ls_btn_cancel_height=30

[Logging]
LogFile={log}
LogLevel=INFO
EnableSyslog=false

[LoggingPerLogger]

[Channels]
rdpdr=true
rdpsnd=true
drdynvc=true
cliprdr=true
rail=true
xrdpvr=true
tcutils=true

[Xorg]
name=Xorg
lib=libxup.so
username=ask
password=ask
ip=127.0.0.1
port=-1
code=20
",
        security = cfg.security.ini(),
        crypt = cfg.crypt_level.ini(),
        cert = cert.cert.display(),
        key = cert.key.display(),
        protocols = cfg.tls_protocols.unwrap_or("TLSv1.2, TLSv1.3"),
        log = log.display(),
    )
}

// ---------------------------------------------------------------------------------------------
// FreeRDP shadow server with NLA

/// Starts Xvfb on a free display and `freerdp-shadow-cli /sec:nla` on a free loopback port,
/// accepting [`NLA_DOMAIN`]`\`[`NLA_USER`] and [`NLA_USER`] with [`NLA_PASSWORD`].
pub fn shadow_nla() -> Result<Peer, Unavailable> {
    let t0 = Instant::now();
    let xvfb = find_exe("Xvfb")?;
    let shadow = find_exe("freerdp-shadow-cli")?;
    let dir = temp_dir("shadow")?;
    let home = dir.path().join("home");
    let config = home.join(".config");
    fs::create_dir_all(&config).map_err(|e| failed(format!("creating {}: {e}", home.display())))?;
    let sam = dir.path().join("sam");
    fs::write(
        &sam,
        format!("{NLA_USER}:{NLA_DOMAIN}::{NLA_NT_HASH}:::\n{NLA_USER}:::{NLA_NT_HASH}:::\n"),
    )
    .map_err(|e| failed(format!("writing {}: {e}", sam.display())))?;

    let mut group = Group::new(dir.path())?;
    let display = group.start_xvfb(&xvfb, dir.path())?;
    let what = format!("freerdp-shadow-cli /sec:nla on Xvfb :{display}");
    let log = dir.path().join("shadow.log");
    let mut reasons = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        let lease = lease_port()?;
        let mut cmd = Command::new(&shadow);
        cmd.arg("/bind-address:127.0.0.1")
            .arg(format!("/port:{}", lease.0))
            .arg("/sec:nla")
            .arg(format!("/sam-file:{}", sam.display()))
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &config)
            .env("DISPLAY", format!(":{display}"))
            .env_remove("XAUTHORITY");
        let server = group.spawn_logged("freerdp-shadow-cli", cmd, dir.path(), &log)?;
        match group.wait_listening(server, lease.0, deadline()) {
            Ok(()) => {
                return Ok(Peer {
                    port: lease.0,
                    what,
                    started_in: t0.elapsed(),
                    cert: Some(config.join("freerdp/shadow/shadow.crt")),
                    display: Some(display),
                    group,
                    _lease: lease,
                    dir,
                })
            }
            Err(Wait::PortTaken(why)) => reasons.push(why),
            Err(Wait::Failed(why)) => return Err(failed(format!("{what}: {why}"))),
        }
    }
    Err(failed(format!(
        "{what}: no port after {PORT_ATTEMPTS} attempts: {}",
        reasons.join("; ")
    )))
}

/// xfreerdp as a test client, on its own Xvfb, connecting to 127.0.0.1:`port` the way the peer
/// captures were made (`/u:probeuser /p:Probe-Pass1 /cert:ignore +auth-only`: test-only
/// credentials for servers the tests start). Killed when dropped.
pub struct Client {
    group: Group,
    idx: usize,
    _dir: tempfile::TempDir,
}

impl Client {
    /// Its exit status, once it exited.
    pub fn exited(&mut self) -> Option<String> {
        self.group.exited(self.idx).map(|s| s.to_string())
    }

    pub fn logs(&self) -> String {
        self.group.logs()
    }

    /// Its whole log (stdout and stderr) so far.
    pub fn log_text(&self) -> String {
        fs::read(self._dir.path().join("xfreerdp.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// Starts [`Client`] against 127.0.0.1:`port`.
pub fn xfreerdp_client(port: u16) -> Result<Client, Unavailable> {
    xfreerdp_with(&[
        format!("/v:127.0.0.1:{port}"),
        format!("/u:{NLA_USER}"),
        format!("/p:{NLA_PASSWORD}"),
        "/cert:ignore".into(),
        "+auth-only".into(),
    ])
}

/// Starts xfreerdp with these arguments (loopback addresses only, test-only credentials) on
/// its own Xvfb. Killed when dropped.
pub fn xfreerdp_with(args: &[String]) -> Result<Client, Unavailable> {
    let xvfb = find_exe("Xvfb")?;
    let xfreerdp = find_exe("xfreerdp")?;
    let dir = temp_dir("xfreerdp")?;
    let home = dir.path().join("home");
    fs::create_dir_all(&home).map_err(|e| failed(format!("creating {}: {e}", home.display())))?;
    let mut group = Group::new(dir.path())?;
    let display = group.start_xvfb(&xvfb, dir.path())?;
    let mut cmd = Command::new(&xfreerdp);
    cmd.args(args)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("DISPLAY", format!(":{display}"))
        .env_remove("XAUTHORITY");
    let log = dir.path().join("xfreerdp.log");
    let idx = group.spawn_logged("xfreerdp", cmd, dir.path(), &log)?;
    Ok(Client {
        group,
        idx,
        _dir: dir,
    })
}

// ---------------------------------------------------------------------------------------------
// The loopback RD Gateway

/// Starts the loopback RD Gateway (`fixtures/tools/rdg_server.py`, written from MS-TSGU) in
/// `scenario` (ok, anonymous, restricted, cap-denied, rap-denied, unreachable, http-disabled,
/// methods-blocked, unavailable, silent), with the default test certificate; `legacy_only`:
/// it answers a WebSocket upgrade with 200, as a gateway without WebSocket does. It accepts
/// [`NLA_DOMAIN`]`\`[`NLA_USER`] with [`NLA_PASSWORD`] and relays only to loopback targets.
pub fn rdg(scenario: &str, legacy_only: bool) -> Result<Peer, Unavailable> {
    let t0 = Instant::now();
    let python = find_exe("python3")?;
    let dir = temp_dir("rdg")?;
    let cert = write_cert(Cert::Default, dir.path())?;
    let script = crate::fixtures().join("tools/rdg_server.py");
    let what = format!(
        "rdg_server.py --scenario {scenario}{}",
        if legacy_only { " --legacy-only" } else { "" }
    );
    let peer_cert = cert.cert.clone();
    single_process_peer(what, "rdg_server.py", dir, Some(peer_cert), t0, |port| {
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .arg("--cert")
            .arg(&cert.cert)
            .arg("--key")
            .arg(&cert.key)
            .arg("--port")
            .arg(port.to_string())
            .args(["--scenario", scenario])
            .args(["--nt-hash", NLA_NT_HASH]);
        if legacy_only {
            cmd.arg("--legacy-only");
        }
        cmd
    })
}

/// Starts `fixtures/tools/sei_proxy.py` in front of the xrdp on `upstream` (security_layer
/// tls): it relays until xrdp's licensing answer, then sends Set Error Info `code` and closes,
/// as a Windows server refusing the session does.
pub fn sei_proxy(upstream: u16, code: u32) -> Result<Peer, Unavailable> {
    let t0 = Instant::now();
    let python = find_exe("python3")?;
    let dir = temp_dir("sei")?;
    let script = crate::fixtures().join("tools/sei_proxy.py");
    let what = format!("sei_proxy.py --code {code}");
    single_process_peer(what, "sei_proxy.py", dir, None, t0, |port| {
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["--port", &port.to_string()])
            .args(["--upstream", &format!("127.0.0.1:{upstream}")])
            .args(["--code", &code.to_string()])
            .args(["--connections", "1000"]);
        cmd
    })
}

/// Starts a real Prometheus (Debian's `prometheus`) on loopback with `config` (its YAML) and
/// a storage directory of its own; its query API is on the peer's port.
pub fn prometheus(config: &str) -> Result<Peer, Unavailable> {
    let t0 = Instant::now();
    let exe = find_exe("prometheus")?;
    let dir = temp_dir("prometheus")?;
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, config).map_err(|e| failed(format!("prometheus.yml: {e}")))?;
    let data = dir.path().join("data");
    single_process_peer("prometheus".into(), "prometheus", dir, None, t0, |port| {
        let mut cmd = Command::new(&exe);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        cmd
    })
}

/// Starts one program (`command(port)`: its command line for a leased loopback port) in
/// `dir`, its output logged there, and waits until it listens; a port taken meanwhile is
/// retried with another, up to [`PORT_ATTEMPTS`] times.
fn single_process_peer(
    what: String,
    name: &'static str,
    dir: tempfile::TempDir,
    cert: Option<PathBuf>,
    t0: Instant,
    mut command: impl FnMut(u16) -> Command,
) -> Result<Peer, Unavailable> {
    let mut group = Group::new(dir.path())?;
    let log = dir.path().join(format!("{name}.log"));
    let mut reasons = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        let lease = lease_port()?;
        let server = group.spawn_logged(name, command(lease.0), dir.path(), &log)?;
        match group.wait_listening(server, lease.0, deadline()) {
            Ok(()) => {
                return Ok(Peer {
                    port: lease.0,
                    what,
                    started_in: t0.elapsed(),
                    cert,
                    display: None,
                    group,
                    _lease: lease,
                    dir,
                })
            }
            Err(Wait::PortTaken(why)) => reasons.push(why),
            Err(Wait::Failed(why)) => return Err(failed(format!("{what}: {why}"))),
        }
    }
    Err(failed(format!(
        "{what}: no port after {PORT_ATTEMPTS} attempts: {}",
        reasons.join("; ")
    )))
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// A certificate and its key, PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes that certificate and its key into `dir` (as `<kind>.crt`, `<kind>.key`) with the
/// `openssl` command.
pub fn write_cert(kind: Cert, dir: &Path) -> Result<CertFiles, Unavailable> {
    write_cert_with(&find_exe("openssl")?, kind, dir)
}

fn write_cert_with(openssl: &Path, kind: Cert, dir: &Path) -> Result<CertFiles, Unavailable> {
    let name = match kind {
        Cert::Default => "default",
        Cert::Expired => "expired",
        Cert::Mismatch => "mismatch",
    };
    let (cn, san) = match kind {
        Cert::Default | Cert::Expired => ("localhost", "DNS:localhost,IP:127.0.0.1"),
        Cert::Mismatch => ("mismatch.invalid", "DNS:mismatch.invalid"),
    };
    let files = CertFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    let subj = format!("/O=rdp-probe-peers/CN={cn}");
    let san = format!("subjectAltName={san}");
    match kind {
        Cert::Default | Cert::Mismatch => {
            let mut c = Command::new(openssl);
            c.args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"])
                .args(["-days", "3650", "-subj", &subj, "-addext", &san])
                .arg("-keyout")
                .arg(&files.key)
                .arg("-out")
                .arg(&files.cert);
            run(c)?;
        }
        Cert::Expired => {
            // OpenSSL 3.0's req and x509 cannot back-date a certificate; `ca -selfsign` can.
            let ca = dir.join(format!("{name}-ca"));
            fs::create_dir_all(&ca).map_err(|e| failed(format!("{}: {e}", ca.display())))?;
            let write = |file: &str, text: String| {
                let p = ca.join(file);
                fs::write(&p, text).map_err(|e| failed(format!("writing {}: {e}", p.display())))
            };
            write("index.txt", String::new())?;
            write("serial", "1000\n".into())?;
            write(
                "ca.cnf",
                format!(
                    "[ ca ]
default_ca = CA_default
[ CA_default ]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = policy_any
copy_extensions = copy
unique_subject = no
[ policy_any ]
organizationName = optional
commonName = supplied
",
                    dir = ca.display()
                ),
            )?;
            let csr = ca.join("req.csr");
            let mut c = Command::new(openssl);
            c.args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256"])
                .args(["-subj", &subj, "-addext", &san])
                .arg("-keyout")
                .arg(&files.key)
                .arg("-out")
                .arg(&csr);
            run(c)?;
            let mut c = Command::new(openssl);
            c.args(["ca", "-batch", "-notext", "-selfsign", "-config"])
                .arg(ca.join("ca.cnf"))
                .arg("-keyfile")
                .arg(&files.key)
                .arg("-in")
                .arg(&csr)
                .arg("-out")
                .arg(&files.cert)
                .args([
                    "-startdate",
                    "20200101000000Z",
                    "-enddate",
                    "20210101000000Z",
                ]);
            run(c)?;
            let _ = fs::remove_dir_all(&ca);
        }
    }
    Ok(files)
}

fn run(mut cmd: Command) -> Result<(), Unavailable> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("running {shown}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "{shown}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// The guard: leads the group, ignores SIGTERM (so it outlives the servers' stop), and when its
/// stdin closes without it having been killed (the test process died) stops the group itself
/// and removes the peer's directory ($1).
const GUARD: &str =
    "trap '' TERM INT HUP; read -r _ || :; kill -TERM 0; sleep 2; rm -rf -- \"$1\"; kill -KILL 0";

struct Proc {
    name: &'static str,
    child: Child,
    logs: Vec<PathBuf>,
    exited: Option<ExitStatus>,
}

/// Our children, all in the process group `pgid`, led by the guard.
struct Group {
    pgid: u32,
    guard: Child,
    guard_stdin: Option<ChildStdin>,
    procs: Vec<Proc>,
    stopped: bool,
}

enum Wait {
    /// Someone else got the port first: try another.
    PortTaken(String),
    Failed(String),
}

impl Group {
    /// `dir`: the peer's temporary directory, for the guard to remove if we die.
    fn new(dir: &Path) -> Result<Self, Unavailable> {
        let mut guard = Command::new("/bin/sh")
            .args(["-c", GUARD, "rdprobe-peer-guard"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| failed(format!("starting the guard shell /bin/sh: {e}")))?;
        let guard_stdin = guard.stdin.take();
        Ok(Self {
            pgid: guard.id(),
            guard,
            guard_stdin,
            procs: Vec::new(),
            stopped: false,
        })
    }

    /// Spawns into the group with stdout and stderr to `dir/<name>.out`; `logs` are more files
    /// to show on failure. Returns the index of the process.
    fn spawn(
        &mut self,
        name: &'static str,
        cmd: Command,
        dir: &Path,
        logs: &[&Path],
    ) -> Result<usize, Unavailable> {
        let out = dir.join(format!("{name}.out"));
        let idx = self.spawn_logged(name, cmd, dir, &out)?;
        self.procs[idx]
            .logs
            .extend(logs.iter().map(|p| p.to_path_buf()));
        Ok(idx)
    }

    fn spawn_logged(
        &mut self,
        name: &'static str,
        mut cmd: Command,
        dir: &Path,
        out: &Path,
    ) -> Result<usize, Unavailable> {
        let file = File::create(out).map_err(|e| failed(format!("{}: {e}", out.display())))?;
        let err = file
            .try_clone()
            .map_err(|e| failed(format!("{}: {e}", out.display())))?;
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(self.pgid as i32);
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Unavailable::NotInstalled(format!("{name}: {e}"))
            } else {
                failed(format!("starting {name}: {e}"))
            }
        })?;
        self.procs.push(Proc {
            name,
            child,
            logs: vec![out.to_path_buf()],
            exited: None,
        });
        Ok(self.procs.len() - 1)
    }

    /// Xvfb on a display it picks itself (`-displayfd 1`, stdout to a file). Returns the number.
    fn start_xvfb(&mut self, xvfb: &Path, dir: &Path) -> Result<u32, Unavailable> {
        let display_file = dir.join("xvfb.display");
        let out = File::create(&display_file)
            .map_err(|e| failed(format!("{}: {e}", display_file.display())))?;
        let log = dir.join("xvfb.log");
        let err = File::create(&log).map_err(|e| failed(format!("{}: {e}", log.display())))?;
        let mut cmd = Command::new(xvfb);
        // -noreset: freerdp-shadow-cli connects twice (it enumerates the monitors, closes that
        // connection, then opens its own). Without -noreset the server resets when its last
        // client leaves, and the second XOpenDisplay fails in the reset about 1 time in 10
        // ("failed to open display", exit 255).
        cmd.args(["-displayfd", "1", "-noreset", "-nolisten", "tcp"])
            .args(["-screen", "0", "1024x768x24"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(self.pgid as i32);
        let child = cmd
            .spawn()
            .map_err(|e| failed(format!("starting Xvfb: {e}")))?;
        self.procs.push(Proc {
            name: "Xvfb",
            child,
            logs: vec![log],
            exited: None,
        });
        let idx = self.procs.len() - 1;
        let end = deadline();
        loop {
            let text = fs::read_to_string(&display_file).unwrap_or_default();
            if text.ends_with('\n') {
                if let Ok(n) = text.trim().parse() {
                    return Ok(n);
                }
            }
            if let Some(status) = self.exited(idx) {
                return Err(failed(format!(
                    "Xvfb exited ({status}) before reporting its display\n{}",
                    self.logs()
                )));
            }
            if Instant::now() > end {
                return Err(failed(format!(
                    "Xvfb reported no display within {:?}\n{}",
                    start_timeout(),
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn exited(&mut self, idx: usize) -> Option<ExitStatus> {
        let p = &mut self.procs[idx];
        if p.exited.is_none() {
            p.exited = p.child.try_wait().ok().flatten();
        }
        p.exited
    }

    /// Waits until process `idx` itself listens on 127.0.0.1:port (its socket, from /proc).
    fn wait_listening(&mut self, idx: usize, port: u16, end: Instant) -> Result<(), Wait> {
        let pid = self.procs[idx].child.id();
        loop {
            if let Some(status) = self.exited(idx) {
                let logs = self.logs();
                let why = format!(
                    "{} exited ({status}) before listening on 127.0.0.1:{port}\n{logs}",
                    self.procs[idx].name
                );
                return Err(if port_taken(port) {
                    Wait::PortTaken(why)
                } else {
                    Wait::Failed(why)
                });
            }
            if let Some(inode) = listener_inode(port) {
                if has_socket(pid, inode) {
                    return Ok(());
                }
                if listener_inode(port) == Some(inode) {
                    // Another process listens there (it was not ours on a re-check either):
                    // ours cannot bind and will exit.
                    self.kill_one(idx);
                    return Err(Wait::PortTaken(format!(
                        "127.0.0.1:{port} is another process's"
                    )));
                }
            }
            if Instant::now() > end {
                let logs = self.logs();
                self.kill_one(idx);
                return Err(Wait::Failed(format!(
                    "{} did not listen on 127.0.0.1:{port} within {:?}\n{logs}",
                    self.procs[idx].name,
                    start_timeout()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL one process (by its PID) and reap it.
    fn kill_one(&mut self, idx: usize) {
        let p = &mut self.procs[idx];
        if p.exited.is_none() {
            let _ = p.child.kill();
            p.exited = p.child.wait().ok();
        }
    }

    /// The guard and the processes not known to have exited (a start attempt that lost its port
    /// to another process has).
    fn pids(&self) -> Vec<u32> {
        std::iter::once(self.guard.id())
            .chain(
                self.procs
                    .iter()
                    .filter(|p| p.exited.is_none())
                    .map(|p| p.child.id()),
            )
            .collect()
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        let mut seen = BTreeSet::new();
        for p in &self.procs {
            for log in p.logs.iter().filter(|l| seen.insert(l.as_path())) {
                let text = fs::read_to_string(log).unwrap_or_else(|e| format!("({e})"));
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(30)..];
                s.push_str(&format!(
                    "---- {} {} ({} lines, last {}) ----\n{}\n",
                    p.name,
                    log.display(),
                    lines.len(),
                    tail.len(),
                    tail.join("\n")
                ));
            }
        }
        s
    }

    /// SIGTERM to the group, up to [`STOP_TIMEOUT`] for the servers to exit, SIGKILL to the
    /// group, reap everything. The group cannot be another's meanwhile: its leader (the guard)
    /// is alive or an unreaped zombie until the end.
    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = Pid::from_raw(self.pgid as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let end = Instant::now() + STOP_TIMEOUT;
        while (0..self.procs.len()).any(|i| self.exited(i).is_none()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(group, Signal::SIGKILL);
        for p in &mut self.procs {
            if p.exited.is_none() {
                p.exited = p.child.wait().ok();
            }
        }
        // Only now: the guard, if it read EOF, would signal a group that is already gone.
        drop(self.guard_stdin.take());
        let _ = self.guard.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The inode of the socket listening on 127.0.0.1:port, from /proc/net/tcp.
fn listener_inode(port: u16) -> Option<u64> {
    let text = fs::read_to_string("/proc/net/tcp").ok()?;
    let loopback = u32::from_ne_bytes([127, 0, 0, 1]);
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (addr, p) = f.get(1)?.split_once(':')?;
        let listening = f.get(3) == Some(&"0A");
        (listening
            && u32::from_str_radix(addr, 16).ok()? == loopback
            && u16::from_str_radix(p, 16).ok()? == port)
            .then(|| f.get(9)?.parse().ok())
            .flatten()
    })
}

/// Process `pid` holds socket `inode`.
fn has_socket(pid: u32, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
    })
}

/// Something else listens on the port or holds it.
fn port_taken(port: u16) -> bool {
    listener_inode(port).is_some() || TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err()
}

// ---------------------------------------------------------------------------------------------
// Ports, directories, programs

/// Ports handed out to peers of this process that are still alive (the kernel may give a port
/// back to the next bind(0) once it is released).
static LEASED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

struct PortLease(u16);

impl Drop for PortLease {
    fn drop(&mut self) {
        LEASED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// A free port: bind 127.0.0.1:0, note the port, release it.
fn lease_port() -> Result<PortLease, Unavailable> {
    let mut leased = LEASED.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(format!("binding 127.0.0.1:0: {e}")))?
            .port();
        if leased.insert(port) {
            return Ok(PortLease(port));
        }
    }
    Err(failed("no free port on 127.0.0.1"))
}

fn temp_dir(kind: &str) -> Result<tempfile::TempDir, Unavailable> {
    tempfile::Builder::new()
        .prefix(&format!("rdprobe-peer-{kind}-"))
        .tempdir()
        .map_err(|e| failed(format!("creating a temporary directory: {e}")))
}

fn start_timeout() -> Duration {
    std::env::var("RDPROBE_PEER_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(START_TIMEOUT, Duration::from_secs_f64)
}

fn deadline() -> Instant {
    Instant::now() + start_timeout()
}

/// The program in PATH, or in the sbin/bin directories (xrdp is in /usr/sbin, often not in a
/// user's PATH).
/// A client program the tests run against the peers (rdesktop), found like the peers' own.
pub fn client_exe(name: &str) -> Result<PathBuf, Unavailable> {
    find_exe(name)
}

fn find_exe(name: &str) -> Result<PathBuf, Unavailable> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let fallback = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    std::env::split_paths(&path)
        .chain(fallback.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or_else(|| {
            Unavailable::NotInstalled(format!("{name} is not in PATH, /usr/sbin or /usr/bin"))
        })
}
