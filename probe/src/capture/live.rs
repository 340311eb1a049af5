//! Live capture (cargo feature `live`): packets from libpcap through the same pipeline as
//! files. Connections are reported as they finish (closed, or idle past the timeout) and all
//! the rest when the capture stops: Ctrl-C, `--duration` or `--count`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::capture::analyzer::Config;
use crate::capture::pipeline::Pipeline;
use crate::capture::source::LinkType;
use crate::report::capture::{CaptureReport, Connection};

/// What to capture and for how long.
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    pub interface: String,
    /// A BPF filter (`tcp port 3389`).
    pub filter: Option<String>,
    pub config: Config,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many packets.
    pub count: Option<u64>,
}

/// Captures until stopped; `on_connection` sees each finished connection at once.
pub fn run(
    opts: &LiveOptions,
    on_connection: impl FnMut(Connection),
) -> anyhow::Result<CaptureReport> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Only the first handler per process can be set; a second live run keeps the first.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let mut cap = pcap::Capture::from_device(opts.interface.as_str())
        .with_context(|| format!("interface {}", opts.interface))?
        .promisc(false)
        .snaplen(65_535)
        .immediate_mode(true)
        .timeout(200)
        .open()
        .with_context(|| {
            format!(
                "opening {} for capture (root or CAP_NET_RAW needed)",
                opts.interface
            )
        })?
        // Non-blocking, so that Ctrl-C and --duration are noticed on a silent interface
        // (libpcap's read timeout does not fire in immediate mode on Linux).
        .setnonblock()
        .context("non-blocking capture")?;
    if let Some(f) = &opts.filter {
        cap.filter(f, true)
            .with_context(|| format!("filter {f:?}"))?;
    }
    let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
    let started = Instant::now();
    // Streamed, never kept: a capture may run for days.
    let config = Config {
        keep_connections: false,
        ..opts.config.clone()
    };
    let mut pipeline = Pipeline::new(config, on_connection);
    loop {
        if stop.load(Ordering::SeqCst)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
            || opts.count.is_some_and(|n| pipeline.packets >= n)
        {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                let ts = timestamp_ns(p.header.ts.tv_sec, p.header.ts.tv_usec);
                let number = pipeline.packets + 1;
                pipeline.packet(number, ts, link, p.data, p.header.len);
                // Live output is prompt: each connection leaves as it finishes.
                pipeline.flush();
            }
            Err(pcap::Error::TimeoutExpired) => {
                std::thread::sleep(Duration::from_millis(20));
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                pipeline.tick(now);
            }
            Err(e) => return Err(e).context("reading packets"),
        }
    }
    Ok(pipeline.finish(format!("live:{}", opts.interface)))
}

/// A libpcap timestamp in nanoseconds (`time_t` and `suseconds_t` differ in width by platform).
fn timestamp_ns(sec: impl Into<i64>, usec: impl Into<i64>) -> i64 {
    sec.into()
        .saturating_mul(1_000_000_000)
        .saturating_add(usec.into().saturating_mul(1_000))
}
