//! `rdprobe exporter`: a Prometheus exporter in the blackbox exporter's shape. `/probe?target=
//! HOST[:PORT]&module=NAME` runs one probe and answers its metrics (`report::metrics`);
//! `/metrics` is the exporter's own. hyper serves HTTP/1.1 with a header read timeout and a
//! bounded buffer; probes run under a concurrency limit with a bounded queue, each within the
//! scrape timeout Prometheus sends minus a margin; SIGTERM and Ctrl-C stop it gracefully.

pub mod allow;
pub mod config;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use config::Config;

/// Most HTTP connections open at once; more are closed at once.
const MAX_CONNECTIONS: usize = 512;
/// A client must send its request head within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection lives at most this long (keep-alive included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// The exporter's own counters.
#[derive(Default)]
struct Stats {
    probes_ok: AtomicU64,
    probes_failed: AtomicU64,
    rejected_bad_request: AtomicU64,
    rejected_not_allowed: AtomicU64,
    rejected_busy: AtomicU64,
    in_flight: AtomicUsize,
    waiting: AtomicUsize,
    duration_micros: AtomicU64,
}

struct State {
    config: Config,
    probes: Semaphore,
    stats: Stats,
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, content_type: &str, body: String) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Answer {
    answer(status, "text/plain; charset=utf-8", body.into())
}

const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Runs the exporter on `listen` until SIGTERM or Ctrl-C.
pub fn run(
    listen: SocketAddr,
    config_file: Option<std::path::PathBuf>,
) -> anyhow::Result<std::process::ExitCode> {
    let text = match &config_file {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| {
            format!(
                "reading {}",
                crate::escape::terminal(&p.display().to_string())
            )
        })?),
        None => None,
    };
    let config = Config::parse(text.as_deref())
        .map_err(|e| anyhow::anyhow!("{}", crate::escape::terminal(&e)))?;
    if !listen.ip().is_loopback() && config.allowed.is_none() {
        anyhow::bail!(
            "listening on {listen} (not loopback) needs allowed_targets in --config: an exporter reachable from elsewhere must not probe any address it is given"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let local = listener.local_addr().unwrap_or(listen);
        eprintln!("rdprobe exporter: listening on http://{local}/ (probe: /probe?target=HOST&module=NAME, own metrics: /metrics)");
        serve(listener, config, shutdown()).await;
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Serves `listener` with `config` until `stop` completes, then waits (at most 30 s) for the
/// connections in flight. The caller checks the listening address against `allowed_targets`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) {
    let state = Arc::new(State {
        probes: Semaphore::new(config.max_concurrent),
        config,
        stats: Stats::default(),
    });
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let state = state.clone();
                let mut closing = closing_rx.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(16 * 1024)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
                    tokio::pin!(lifetime);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = &mut lifetime => {}
                        _ = closing.changed() => {
                            // Finish the request in flight, then close (idle keep-alive
                            // connections close at once).
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
                        }
                    }
                    drop(permit);
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = closing_tx.send(());
    eprintln!("rdprobe exporter: stopping; waiting for the probes in flight");
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), connections.acquire_many(all)).await;
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"));
    }
    Ok(match req.uri().path() {
        "/probe" => probe(&state, &req).await,
        "/metrics" => answer(StatusCode::OK, EXPOSITION, own_metrics(&state)),
        "/" => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            format!(
                "<html><head><title>rdprobe exporter</title></head><body><h1>rdprobe exporter</h1><p><a href=\"/metrics\">/metrics</a></p><p>/probe?target=HOST[:PORT]&amp;module=NAME; modules: {}</p></body></html>\n",
                state
                    .config
                    .modules
                    .keys()
                    .map(|k| html_text(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    })
}

/// Text for an HTML page: `<`, `>`, `&`, quotes escaped.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bad(state: &State, why: String) -> Answer {
    state
        .stats
        .rejected_bad_request
        .fetch_add(1, Ordering::Relaxed);
    text(StatusCode::BAD_REQUEST, format!("{why}\n"))
}

async fn probe(state: &State, req: &Request<Incoming>) -> Answer {
    let query = req.uri().query().unwrap_or("");
    let mut target = None;
    let mut module = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "target" => target = Some(v.into_owned()),
            "module" => module = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(target) = target.filter(|t| !t.is_empty()) else {
        return bad(
            state,
            "the target parameter is missing (/probe?target=HOST[:PORT]&module=NAME)".into(),
        );
    };
    let module_name = module.unwrap_or_else(|| "default".into());
    let Some(module) = state.config.modules.get(&module_name) else {
        return bad(
            state,
            format!("unknown module {}", crate::escape::terminal(&module_name)),
        );
    };
    let target = match crate::active::targets::parse_target(&target, module.port) {
        Ok(t) => t,
        Err(e) => return bad(state, format!("target: {}", crate::escape::terminal(&e))),
    };
    if let Some(allowed) = &state.config.allowed {
        if !allowed.allows(&target.host) {
            state
                .stats
                .rejected_not_allowed
                .fetch_add(1, Ordering::Relaxed);
            return text(
                StatusCode::FORBIDDEN,
                format!(
                    "{} is not in allowed_targets\n",
                    crate::escape::terminal(&target.host)
                ),
            );
        }
    }
    // Prometheus says how long it waits; the probe must answer before that.
    let mut opts = module.opts.clone();
    if let Some(h) = req.headers().get("X-Prometheus-Scrape-Timeout-Seconds") {
        let Some(secs) = h
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        else {
            return bad(
                state,
                "X-Prometheus-Scrape-Timeout-Seconds is not a number of seconds".into(),
            );
        };
        let budget = secs - state.config.margin.as_secs_f64();
        if budget < 0.2 {
            return bad(
                state,
                format!(
                    "a scrape timeout of {secs} s leaves no time for a probe (the margin is {} s)",
                    state.config.margin.as_secs_f64()
                ),
            );
        }
        opts.timeout = opts.timeout.min(Duration::from_secs_f64(budget));
        opts.stage_timeout = opts.stage_timeout.min(opts.timeout);
    }
    let deadline = tokio::time::Instant::now() + opts.timeout;
    // A bounded queue: beyond it the exporter says it is busy instead of piling up probes.
    if state.stats.waiting.fetch_add(1, Ordering::SeqCst) >= state.config.queue {
        state.stats.waiting.fetch_sub(1, Ordering::SeqCst);
        state.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
        return text(StatusCode::SERVICE_UNAVAILABLE, "too many probes waiting\n");
    }
    let permit = tokio::time::timeout_at(deadline, state.probes.acquire()).await;
    state.stats.waiting.fetch_sub(1, Ordering::SeqCst);
    let Ok(Ok(_permit)) = permit else {
        state.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no probe slot before the scrape timeout\n",
        );
    };
    // What is left of the budget after the wait.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if left < Duration::from_millis(100) {
        state.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no time left after waiting for a probe slot\n",
        );
    }
    opts.timeout = left;
    opts.stage_timeout = opts.stage_timeout.min(left);
    state.stats.in_flight.fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let result = crate::active::run::probe(&target, &opts).await;
    let took = started.elapsed();
    state.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.stats.duration_micros.fetch_add(
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let ok = result.stopped_at.is_none();
    if ok {
        state.stats.probes_ok.fetch_add(1, Ordering::Relaxed);
    } else {
        state.stats.probes_failed.fetch_add(1, Ordering::Relaxed);
    }
    eprintln!(
        "rdprobe exporter: probe {}:{} module {} {} in {:.0} ms{}",
        crate::escape::terminal(&target.host),
        target.port,
        crate::escape::terminal(&module_name),
        if ok { "ok" } else { "failed" },
        took.as_secs_f64() * 1000.0,
        result
            .stopped_at
            .map(|s| format!(" at {s}"))
            .unwrap_or_default()
    );
    answer(
        StatusCode::OK,
        EXPOSITION,
        crate::report::metrics::probe_metrics(&result, &module_name),
    )
}

fn own_metrics(state: &State) -> String {
    let s = &state.stats;
    let ok = s.probes_ok.load(Ordering::Relaxed);
    let failed = s.probes_failed.load(Ordering::Relaxed);
    format!(
        "# HELP rdprobe_exporter_probes_total probes run, by result\n\
         # TYPE rdprobe_exporter_probes_total counter\n\
         rdprobe_exporter_probes_total{{result=\"success\"}} {ok}\n\
         rdprobe_exporter_probes_total{{result=\"failure\"}} {failed}\n\
         # HELP rdprobe_exporter_rejected_total scrapes answered without a probe, by reason\n\
         # TYPE rdprobe_exporter_rejected_total counter\n\
         rdprobe_exporter_rejected_total{{reason=\"bad_request\"}} {}\n\
         rdprobe_exporter_rejected_total{{reason=\"not_allowed\"}} {}\n\
         rdprobe_exporter_rejected_total{{reason=\"busy\"}} {}\n\
         # HELP rdprobe_exporter_probes_in_flight probes running now\n\
         # TYPE rdprobe_exporter_probes_in_flight gauge\n\
         rdprobe_exporter_probes_in_flight {}\n\
         # HELP rdprobe_exporter_probes_waiting probes waiting for a slot\n\
         # TYPE rdprobe_exporter_probes_waiting gauge\n\
         rdprobe_exporter_probes_waiting {}\n\
         # HELP rdprobe_exporter_probe_duration_seconds time spent probing\n\
         # TYPE rdprobe_exporter_probe_duration_seconds summary\n\
         rdprobe_exporter_probe_duration_seconds_sum {}\n\
         rdprobe_exporter_probe_duration_seconds_count {}\n",
        s.rejected_bad_request.load(Ordering::Relaxed),
        s.rejected_not_allowed.load(Ordering::Relaxed),
        s.rejected_busy.load(Ordering::Relaxed),
        s.in_flight.load(Ordering::Relaxed),
        s.waiting.load(Ordering::Relaxed),
        s.duration_micros.load(Ordering::Relaxed) as f64 / 1e6,
        ok + failed,
    )
}
