//! What every connection of one target's probe shares: the options, the per-target context
//! ([`Run`]: deadline, pacing, randomness, the facts and the record), and one Connection
//! Request exchange. The stages' drivers (`run`, `tls`, `walk`) build on this and not on each
//! other's internals.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdp_proto::nego::SecurityProtocol;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::net::{self, FrameReader};
use super::pdu;
use super::plan::{self, ConnectFailure, CrOutcome, ReadFailure, Record};
use crate::diagnose::Stage;
use crate::facts::probe::ProbeFacts;
use crate::facts::x224::Confirm;

/// Probe settings.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The whole probe of one target ends by this long after it starts.
    pub timeout: Duration,
    /// One connect or one answer may take this long.
    pub stage_timeout: Duration,
    /// Pause between two connections to the same target (some servers reset rapid reconnects).
    pub pace: Duration,
    /// Enumerate security layers, TLS versions and encryption methods (false: only the
    /// connection an mstsc client would make, plus TLS and CredSSP on it).
    pub enumerate: bool,
    /// server_name to send in TLS (default: the target when it is a host name).
    pub sni: Option<String>,
    /// A global limit on new connections per second, shared by every target of a run.
    pub rate: Option<Arc<Rate>>,
    /// The last stage walked on the main connection (`--stop-after`; `mcs` and earlier: no
    /// walk past the MCS connect).
    pub stop_after: Stage,
    /// `--user`: CredSSP and the Client Info carry these on the main connection (never on the
    /// enumeration's).
    pub credentials: Option<Arc<super::credentials::Credentials>>,
    /// `--keylog FILE` / `SSLKEYLOGFILE`: where the main TLS session's secrets go.
    pub keylog: Option<Arc<dyn rustls::KeyLog>>,
    /// `--udp`: one MS-RDPEUDP SYN to the target's port over UDP.
    pub udp: bool,
    /// `--gateway`: reach the target through this RD Gateway.
    pub gateway: Option<super::GatewayOptions>,
    /// `--auth`: Kerberos or NTLM for `--user`.
    pub auth: super::client::kerberos::AuthPolicy,
    /// `--kdc HOST[:PORT]`: the KDC to ask (default: krb5.conf's, then DNS SRV, then the
    /// realm's own name).
    pub kdc: Option<String>,
}

/// New connections per second across all targets (`--rate`): each connection takes the next
/// free slot; a slot past the target's deadline is not waited for.
#[derive(Debug)]
pub struct Rate {
    interval: Duration,
    next: std::sync::Mutex<Instant>,
}

impl Rate {
    /// `per_second` connections a second (at least one a day).
    pub fn new(per_second: f64) -> Self {
        let interval = Duration::try_from_secs_f64(1.0 / per_second.max(1e-5))
            .unwrap_or(Duration::from_secs(86_400));
        Self {
            interval,
            next: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for this connection's slot; false when the slot would come after `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> bool {
        let slot = {
            let mut next = match self.next.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let slot = (*next).max(Instant::now());
            if slot >= deadline {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            stage_timeout: Duration::from_secs(4),
            pace: Duration::from_millis(20),
            enumerate: true,
            sni: None,
            rate: None,
            stop_after: Stage::Active,
            credentials: None,
            keylog: None,
            udp: false,
            gateway: None,
            auth: Default::default(),
            kdc: None,
        }
    }
}

/// The result of one Connection Request: the outcome, and the stream when it was a Confirm.
pub(super) struct Exchange {
    pub(super) outcome: CrOutcome,
    stream: Option<(TcpStream, FrameReader)>,
    /// Time to connect, and from the request to the answer.
    pub(super) tcp: Duration,
    pub(super) x224: Duration,
}

impl Exchange {
    fn failed(outcome: CrOutcome, tcp: Duration, x224: Duration) -> Self {
        Self {
            outcome,
            stream: None,
            tcp,
            x224,
        }
    }

    /// The Confirm and the stream, if the server confirmed.
    pub(super) fn confirmed(self) -> Option<(Confirm, TcpStream, FrameReader)> {
        match (self.outcome, self.stream) {
            (CrOutcome::Confirmed(c), Some((s, r))) => Some((c, s, r)),
            _ => None,
        }
    }
}

/// Opens a TCP connection to `addr` in the target's time (and the global `--rate`).
pub(super) async fn open(
    addr: SocketAddr,
    opts: &ProbeOptions,
    deadline: Instant,
) -> Result<TcpStream, ConnectFailure> {
    if let Some(rate) = &opts.rate {
        if !rate.acquire(deadline).await {
            return Err(ConnectFailure::NoTime);
        }
    }
    net::connect(addr, net::stage_deadline(deadline, opts.stage_timeout)).await
}

/// Connects to `addr` and sends a Connection Request for `protocols` (None: no negotiation).
pub(super) async fn exchange(
    addr: SocketAddr,
    protocols: Option<SecurityProtocol>,
    opts: &ProbeOptions,
    deadline: Instant,
) -> Exchange {
    if let Some(rate) = &opts.rate {
        if !rate.acquire(deadline).await {
            return Exchange::failed(
                CrOutcome::ConnectFailed(ConnectFailure::NoTime),
                Duration::ZERO,
                Duration::ZERO,
            );
        }
    }
    let t0 = Instant::now();
    let mut stream =
        match net::connect(addr, net::stage_deadline(deadline, opts.stage_timeout)).await {
            Ok(s) => s,
            // Accepted, then reset before connect() returned: the server closed at once.
            Err(ConnectFailure::Reset) => {
                return Exchange::failed(
                    CrOutcome::NoConfirm(ReadFailure::Reset { got: 0 }),
                    t0.elapsed(),
                    Duration::ZERO,
                )
            }
            Err(e) => {
                return Exchange::failed(CrOutcome::ConnectFailed(e), t0.elapsed(), Duration::ZERO)
            }
        };
    let tcp = t0.elapsed();
    let t1 = Instant::now();
    let cr = pdu::connection_request(protocols).unwrap_or_default();
    if let Err(e) = stream.write_all(&cr).await {
        return Exchange::failed(
            CrOutcome::NoConfirm(ReadFailure::Io(e.to_string())),
            tcp,
            t1.elapsed(),
        );
    }
    let mut reader = FrameReader::default();
    let answer = reader
        .next_tpkt(
            &mut stream,
            net::stage_deadline(deadline, opts.stage_timeout),
        )
        .await;
    let x224 = t1.elapsed();
    match answer {
        Ok(frame) => match plan::read_confirm(&frame) {
            outcome @ CrOutcome::Confirmed(_) => Exchange {
                outcome,
                stream: Some((stream, reader)),
                tcp,
                x224,
            },
            outcome => Exchange::failed(outcome, tcp, x224),
        },
        Err(e) => Exchange::failed(CrOutcome::NoConfirm(e), tcp, x224),
    }
}

/// One target's run: the options, its deadline, what the probe established and the record of
/// what was decided.
pub(super) struct Run<'a> {
    pub(super) opts: &'a ProbeOptions,
    pub(super) deadline: Instant,
    pub(super) t0: Instant,
    pub(super) rng: u64,
    pub(super) facts: ProbeFacts,
    pub(super) rec: Record,
}

impl<'a> Run<'a> {
    /// A run for `host`:`port` starting now, its deadline `--timeout` away.
    pub(super) fn new(opts: &'a ProbeOptions, host: &str, port: u16) -> Self {
        let t0 = Instant::now();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Self {
            opts,
            deadline: t0 + opts.timeout,
            t0,
            rng: seed,
            facts: ProbeFacts::new(host, port),
            rec: Record::default(),
        }
    }

    pub(super) fn at(&self) -> Duration {
        self.t0.elapsed()
    }

    pub(super) fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub(super) fn limit(&self) -> String {
        format!("--timeout ({:?})", self.opts.timeout)
    }

    /// The pause between two connections to the target, never past its deadline.
    pub(super) async fn pace(&self) {
        let until = (Instant::now() + self.opts.pace).min(self.deadline);
        tokio::time::sleep_until(until).await;
    }

    pub(super) fn random(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            chunk.copy_from_slice(&self.rng.to_le_bytes());
        }
        out
    }

    pub(super) fn sni(&self) -> Option<String> {
        self.opts.sni.clone().or_else(|| {
            let host = &self.facts.host;
            (host.parse::<IpAddr>().is_err()).then(|| host.clone())
        })
    }
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
