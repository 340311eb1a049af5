//! The command line's grammar (clap): commands, options, their validation, help texts.

use clap::{Parser, Subcommand, ValueEnum};

/// Finds out why a Remote Desktop connection fails.
#[derive(Parser, Debug)]
#[command(name = "rdprobe", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in text output: auto (when standard output is a terminal and NO_COLOR is not
    /// set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

const EXIT_CODES: &str = "Exit codes:\n  0  success\n  1  a verdict is `warning` or `error`\n  2  usage or input error (bad argument, unreadable file, undecodable bytes)";

const PROBE_HELP: &str = "Examples:
  rdprobe probe 127.0.0.1                      one server, default port 3389
  rdprobe probe localhost:3390 --no-enum       a custom port; only the mstsc connection
  rdprobe probe -i hosts.txt --format jsonl    a list, one JSON line per target
  rdprobe probe 127.0.0.0/28 --timeout 5       a block, each target within 5 s

Exit codes:
  0    every verdict is `ok`
  1    a verdict is `warning` or `error`
  2    usage or input error (bad argument, unreadable target list)
  130  interrupted (Ctrl-C): what finished was printed";

const PCAP_HELP: &str = "Examples:
  rdprobe pcap capture.pcapng                  every connection, text
  rdprobe pcap a.pcap b.pcap --format json     several files (analysed in parallel)
  rdprobe pcap scan.pcap --format jsonl | head one JSON line per connection, as they finish
  rdprobe pcap lab.pcap --port 3390            RDP on another port too

Exit codes:
  0  every verdict is `ok`
  1  a verdict is `warning` or `error`
  2  usage or input error (bad argument, a file that cannot be read or is not a capture)";

#[cfg(feature = "live")]
const CAPTURE_HELP: &str = "Examples:
  rdprobe capture -i lo --filter 'tcp port 3389'          until Ctrl-C
  rdprobe capture -i eth0 --duration 60 --format jsonl    one minute, JSON lines

Exit codes:
  0  every verdict is `ok`
  1  a verdict is `warning` or `error`
  2  usage error, or the interface cannot be opened (root or CAP_NET_RAW needed)";

const EXPLAIN_HELP: &str = "Examples:
  rdprobe explain 0x904 0x7           mstsc's \"socket closed\" with extended reason 7
  rdprobe explain 2308 7              the same, as mstsc's event log shows it (decimal)
  rdprobe explain 0x0002000D          a FreeRDP error ([0x0002000D] ERRCONNECT_...)
  rdprobe explain 0xC0000234          an NTSTATUS from CredSSP (STATUS_ACCOUNT_LOCKED_OUT)
  rdprobe explain \"function requested is not supported\"   an mstsc message, loosely

Exit codes: 0 explained (a code may be \"not known\", with its nearest family), 1 no message
matched, 2 usage error.";

const DECODE_HELP: &str = "Examples:
  rdprobe decode 030000130ed000001234000201080001000000
  xxd -p pdu.bin | rdprobe decode - --format json

Exit codes:
  0  decoded
  2  usage error, or bytes that do not decode (the error names the layer and offset)";

#[derive(Subcommand, Debug)]
// Parsed once per run: the size of the `probe` variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Probe RDP servers: speak the handshake stage by stage, enumerate what each accepts
    /// (security layers, TLS versions, encryption methods), read its certificate and CredSSP/NTLM
    /// identity, and say why a connection fails.
    ///
    /// TARGET is host, host:port, IPv4, IPv4:port, [IPv6]:port, IPv6 (default port), or a CIDR
    /// block (127.0.0.0/28, 127.0.0.0/28:3390, [::1/127]:3390; larger than a /16 needs
    /// --allow-large-blocks). Targets run in parallel (--concurrency); connections to one target
    /// are paced (--pace-ms), all new connections together can be limited (--rate). --timeout is
    /// a hard deadline per target. Ctrl-C prints what finished and exits 130.
    #[command(after_help = PROBE_HELP)]
    Probe {
        /// Targets (see above); more with -i.
        targets: Vec<String>,
        /// Default port for targets without one.
        #[arg(short = 'p', long, default_value_t = 3389, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Read more targets from FILE (`-` for standard input), one per line (# comments allowed).
        #[arg(short = 'i', long = "input", value_name = "FILE|-")]
        input: Option<std::path::PathBuf>,
        /// Hard deadline per target, in seconds (0 < SECS <= 86400).
        #[arg(long, default_value_t = 20.0, value_parser = seconds)]
        timeout: f64,
        /// Deadline of one connect or one answer, in seconds (0 < SECS <= 86400).
        #[arg(long, default_value_t = 4.0, value_parser = seconds)]
        stage_timeout: f64,
        /// Targets probed at once (1..=65536).
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65536))]
        concurrency: u32,
        /// Pause between two connections to the same target, in milliseconds (at most 3600000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
        pace_ms: u64,
        /// New connections per second across all targets (default: no limit).
        #[arg(long, value_name = "PER_SEC", value_parser = rate)]
        rate: Option<f64>,
        /// Allow CIDR blocks larger than a /16.
        #[arg(long)]
        allow_large_blocks: bool,
        /// TLS server_name to send (default: the target, when it is a host name).
        #[arg(long)]
        sni: Option<String>,
        /// Only the connection an mstsc client makes (with TLS and CredSSP), no enumeration.
        #[arg(long)]
        no_enum: bool,
        /// Also send one MS-RDPEUDP SYN to the target's port over UDP and report whether a
        /// SYN+ACK comes back (the UDP transport, its version and MTU), ICMP port unreachable,
        /// or nothing within the stage timeout (filtered or disabled: the two look alike).
        #[arg(long)]
        udp: bool,
        /// Reach the targets through this RD Gateway (mstsc's /g:, default port 443): its
        /// name, TCP and TLS (certificate), its answer to RDG_OUT_DATA (schemes, HTTP
        /// transport, proxies in front), an anonymous NTLM round (its names, Windows version,
        /// clock); with --user, NTLM HTTP authentication, the WebSocket or legacy transport,
        /// the MS-TSGU tunnel, its authorization (RD CAP) and the channel to the target (RD
        /// RAP), each E_PROXY code named; then the target's stages inside the tunnel. The
        /// gateway gets --user's password, or RDPROBE_GATEWAY_PASSWORD when it is set.
        #[arg(long, value_name = "GW[:PORT]")]
        gateway: Option<String>,
        /// The last stage to walk on the connection an mstsc client makes: gateway_tls ..
        /// gateway_channel (with --gateway: the gateway only), x224 (the negotiation only), tls (TLS and CredSSP, nothing on MCS), mcs (no walk past the MCS
        /// connect), channels, client_info, licensing, capabilities, active (the default: as
        /// far as the probe can go, to the logon screen or with --user to the logon).
        #[arg(long, value_name = "STAGE", default_value = "active", value_parser = stage)]
        stop_after: rdprobe::diagnose::Stage,
        /// Log on as USER ([DOMAIN\]USER or USER@DOMAIN) on the connection an mstsc client
        /// makes: CredSSP (NLA) with Kerberos or NTLMv2 (--auth), the KDC's and the server's
        /// codes named, then the walk with the user in the Client Info. The password comes from
        /// RDPROBE_PASSWORD, else it is asked for without echo when standard input is a
        /// terminal; it is never read from the command line, never printed or stored, and sent
        /// only to the targets given (the realm's KDC gets Kerberos's encrypted timestamp, never
        /// the password). One user for every target given; the enumeration's connections stay
        /// anonymous.
        #[arg(long, value_name = "[DOMAIN\\]USER")]
        user: Option<String>,
        /// How --user logs on in CredSSP: auto (what mstsc does: Kerberos when the target is
        /// a name in the user's realm, from USER@REALM or the target's DNS domain; NTLM for an
        /// IP address, and NTLM again when no KDC answers or it knows no TERMSRV/<name>),
        /// kerberos (no fallback) or ntlm.
        #[arg(long, value_enum, default_value_t = AuthArg::Auto)]
        auth: AuthArg,
        /// The KDC to ask for Kerberos tickets (port 88 by default). Without it: krb5.conf's
        /// kdc for the realm (KRB5_CONFIG, /etc/krb5.conf), then DNS SRV _kerberos._tcp.REALM,
        /// then the realm's own name (an Active Directory domain name resolves to its DCs).
        #[arg(long, value_name = "HOST[:PORT]")]
        kdc: Option<String>,
        /// Append the main TLS sessions' secrets to FILE in the NSS key log format (the one
        /// SSLKEYLOGFILE names, which is honoured without this option), so that a capture of
        /// the probe decrypts in Wireshark. The file holds secrets: it is created readable by
        /// its owner only.
        #[arg(long, value_name = "FILE")]
        keylog: Option<std::path::PathBuf>,
        /// Also write a self-contained HTML report to FILE: the headline, findings, a ladder
        /// diagram and the stage timeline of each target, the layers / TLS / methods matrix,
        /// the certificate, CredSSP and the client matrix. Opens offline; fetches nothing.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// Probe only the K-th of N parts of the target list (CIDR blocks and -i lists
        /// expanded): target number i goes to part i % N + 1, so N runs with K = 1..N cover
        /// every target exactly once, on any machine, in any order.
        #[arg(long, value_name = "K/N", value_parser = shard)]
        shard: Option<rdprobe::active::targets::Shard>,
        /// Skip the targets a previous run's JSON Lines output (--format jsonl) already holds: a
        /// run killed at any moment goes on where it stopped (lines are flushed one by one; a
        /// line cut short is ignored and its target probed again).
        #[arg(long, value_name = "FILE")]
        resume: Option<std::path::PathBuf>,
        /// --format nagios: WARNING when the certificate expires within DAYS days.
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        cert_warn: u32,
        /// --format nagios: CRITICAL when the certificate expires within DAYS days.
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        cert_crit: u32,
        /// Show which common clients would connect (mstsc under each CredSSP policy, mstsc on
        /// Windows 7 without TLS 1.2, FreeRDP 2 on OpenSSL 3, Remmina, rdesktop), each with
        /// the stage and message where it fails and the fix. JSON always carries it.
        #[arg(long)]
        clients: bool,
        /// Repeat the main connection (the walk included) every SECS seconds (default 10) to
        /// catch an intermittent failure: one line per attempt as it ends, then on Ctrl-C or
        /// after --count attempts a summary (success rate, failures by stage and finding,
        /// p50/p95/max per stage, the longest run of failures). The enumeration runs once,
        /// first, unless --no-enum. One target; text or jsonl.
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10", value_parser = seconds)]
        watch: Option<f64>,
        /// With --watch: stop after N attempts (default: until Ctrl-C).
        #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Output format. `jsonl`: one {"type":"target","data":...} line per target as it
        /// finishes, then a {"type":"summary","data":...} line when there were several
        /// (with --watch: {"type":"attempt"} lines and a {"type":"watch_summary"} line).
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        /// Write the results to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Analyze capture files: every RDP connection, how far its handshake got, who ended it,
    /// how lossy the path was, and the findings that name the cause.
    ///
    /// Reads pcap and pcapng (Ethernet, VLAN, Linux SLL/SLL2, raw IP, BSD loopback). RDP is
    /// found by content on any port; connections to port 3389 (and to each --port) are reported
    /// even when they never carried RDP (refused, unanswered, non-RDP answers).
    #[command(after_help = PCAP_HELP)]
    Pcap {
        /// Capture files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// More ports to treat as RDP (3389 always is).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        /// Output format. `jsonl`: one {"type":"connection"} line per connection as it
        /// finishes, then one {"type":"summary"} line per file.
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        /// Write the results to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Also write a self-contained HTML report to FILE: a sortable, filterable table of
        /// the connections; each opens its headline, findings, ladder diagram, timeline and
        /// TCP facts. With `--format text` scan-like attempts are counted, not listed (as in
        /// the text report); with `--format json` every connection is listed.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// Decrypt TLS with the secrets in FILE, an NSS key log (`SSLKEYLOGFILE`, `rdprobe
        /// probe --keylog`): CredSSP, the logon's NTSTATUS, licensing and Set Error Info are
        /// then read as the probe reads them. pcapng Decryption Secrets Blocks are used
        /// without it.
        #[arg(long, value_name = "FILE")]
        keylog: Option<std::path::PathBuf>,
        /// Capture files analysed at once, each on its own thread (default: the cores there
        /// are); the output is in argument order whatever the number.
        #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        jobs: Option<u16>,
    },
    /// Capture live from an interface (libpcap; needs root or CAP_NET_RAW) and report each RDP
    /// connection as it ends, and the rest on Ctrl-C, --duration or --count.
    #[cfg(feature = "live")]
    #[command(after_help = CAPTURE_HELP)]
    Capture {
        /// Interface to capture on (`lo`, `eth0`).
        #[arg(short = 'i', long = "interface")]
        interface: String,
        /// A BPF capture filter, e.g. `tcp port 3389`.
        #[arg(long)]
        filter: Option<String>,
        /// More ports to treat as RDP (3389 always is).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        /// Output format. `jsonl`: one {"type":"connection"} line per connection as it
        /// finishes, then one {"type":"summary"} line.
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Stop after this many packets.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Decrypt TLS with the secrets in FILE, an NSS key log (read once, at the start).
        #[arg(long, value_name = "FILE")]
        keylog: Option<std::path::PathBuf>,
    },
    /// Capture live (not in this build: it needs the cargo feature `live` and libpcap).
    #[cfg(not(feature = "live"))]
    #[command(hide = true, disable_help_flag = true)]
    Capture {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// A Prometheus exporter in the blackbox exporter's shape: /probe?target=HOST[:PORT]&module=NAME
    /// runs one probe and answers its metrics (success, durations per stage, where it stopped
    /// and why, findings, the certificate's notAfter, TLS versions, NLA, CredSSP); /metrics is
    /// the exporter's own. Listens on loopback unless told otherwise; elsewhere it needs
    /// allowed_targets in the configuration. Stops gracefully on SIGTERM or Ctrl-C.
    Exporter {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:9389")]
        listen: std::net::SocketAddr,
        /// The configuration (TOML): modules (timeout, stage_timeout, stop_after, enumerate,
        /// port, user with password_env or password_file, auth, kdc, gateway, sni),
        /// allowed_targets, max_concurrent, queue, timeout_margin. Without it: one module,
        /// "default" (the main connection and the walk, no enumeration).
        #[arg(long, value_name = "FILE")]
        config: Option<std::path::PathBuf>,
    },
    /// One fleet summary over the JSON Lines of many `probe` runs or shards (--format jsonl
    /// output, `-` for standard input), equal to the summary one run over the same targets
    /// prints: verdicts, where targets stopped, targets per finding, the slowest. Over the
    /// JSON Lines of `pcap` runs, the summary of their captures.
    Summarize {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Also write the summary as a self-contained HTML page to FILE (fetches nothing).
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
    },
    /// Explain an error a user saw: an mstsc disconnect reason (hex or decimal) and its
    /// extended reason, a FreeRDP error code, an NTSTATUS from CredSSP, or an mstsc message.
    ///
    /// Says what it means, at which stage of the connection it arises, its usual causes in
    /// order, and the rdprobe command that confirms or rules out each. Every table names its
    /// public source.
    #[command(after_help = EXPLAIN_HELP)]
    Explain {
        /// CODE [EXTENDED] (0x904 0x7, 2308 7, [0x0002000D], 0xC0000234) or a message in quotes.
        #[arg(required = true, num_args = 1.., value_name = "CODE [EXTENDED] | MESSAGE")]
        words: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the explanation to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    ///
    /// bash: `rdprobe completions bash > /etc/bash_completion.d/rdprobe`;
    /// zsh: `rdprobe completions zsh > "${fpath[1]}/_rdprobe"`.
    Completions { shell: clap_complete::Shell },
    /// Print rdprobe's man page (roff): `rdprobe man > rdprobe.1; man ./rdprobe.1`.
    Man,
    /// Decode one PDU or a run of frames given as hex, and print every layer and field.
    ///
    /// Accepts TPKT frames (X.224 / MCS / GCC / slow-path / licensing), TLS records, fast-path
    /// PDUs, a CredSSP TSRequest (DER), an NTLM message, or a bare MCS Connect-Initial /
    /// Connect-Response or GCC ConnectData. Whitespace, colons and a `0x` prefix are ignored.
    #[command(after_help = DECODE_HELP)]
    Decode {
        /// The bytes as hex, or `-` to read hex from standard input.
        hex: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the decoded tree to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// Human-readable report.
    Text,
    /// One JSON document.
    Json,
    /// JSON Lines: one {"type", "data"} object per line, each written as soon as it is known.
    Jsonl,
    /// `probe` only: a Nagios/Icinga plugin's status line with performance data, and its exit
    /// code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    Nagios,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Human-readable tree.
    Text,
    /// One JSON document.
    Json,
}

/// Parses a duration in seconds: finite, above zero, at most a day.
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 || v > 86_400.0 {
        return Err(format!("{s} is not in 0 < SECS <= 86400"));
    }
    Ok(v)
}

/// `--auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    Auto,
    Kerberos,
    Ntlm,
}

impl From<AuthArg> for rdprobe::active::client::kerberos::AuthPolicy {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Auto => Self::Auto,
            AuthArg::Kerberos => Self::Kerberos,
            AuthArg::Ntlm => Self::Ntlm,
        }
    }
}

/// Parses `--shard K/N`.
fn shard(s: &str) -> Result<rdprobe::active::targets::Shard, String> {
    rdprobe::active::targets::Shard::parse(s)
}

/// Parses a stage name (`licensing`).
fn stage(s: &str) -> Result<rdprobe::diagnose::Stage, String> {
    use rdprobe::diagnose::Stage;
    Stage::ALL
    .into_iter()
    .find(|st| st.as_str() == s.trim())
    .ok_or_else(|| format!("{s:?} is not a stage (mcs, channels, client_info, licensing, capabilities, active, ...)"))
}

/// Parses a rate in connections per second: finite, above zero.
fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if !v.is_finite() || !(0.001..=1e6).contains(&v) {
        return Err(format!("{s} is not in 0.001 <= PER_SEC <= 1000000"));
    }
    Ok(v)
}
