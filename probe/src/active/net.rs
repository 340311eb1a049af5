//! Sockets with deadlines: connecting, and reading whole frames through `rdp_proto`'s
//! deframer. Every wait is bounded; failures are classified for the findings.

use std::net::SocketAddr;
use std::time::Duration;

use rdp_proto::frame::{Deframer, Framing};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

pub use super::plan::{ConnectFailure, ReadFailure};

/// Opens a TCP connection before `deadline`.
pub async fn connect(addr: SocketAddr, deadline: Instant) -> Result<TcpStream, ConnectFailure> {
    if Instant::now() >= deadline {
        return Err(ConnectFailure::NoTime);
    }
    match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => Err(ConnectFailure::Timeout),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => ConnectFailure::Reset,
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                ConnectFailure::Unreachable(e.to_string())
            }
            _ if e.raw_os_error() == Some(113) || e.raw_os_error() == Some(101) => {
                ConnectFailure::Unreachable(e.to_string())
            }
            _ => ConnectFailure::Other(e.to_string()),
        }),
    }
}

/// A frame reader over one direction of a stream.
#[derive(Debug)]
pub struct FrameReader {
    deframer: Deframer,
    got: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new(Framing::Rdp)
    }
}

impl FrameReader {
    pub fn new(framing: Framing) -> Self {
        let mut deframer = Deframer::new();
        deframer.set_framing(framing);
        Self { deframer, got: 0 }
    }

    pub fn set_framing(&mut self, framing: Framing) {
        self.deframer.set_framing(framing);
    }

    /// Reads until one whole frame is buffered, or the deadline.
    pub async fn next<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadFailure> {
        self.read_frame(s, deadline, false).await
    }

    /// Like [`FrameReader::next`], for an answer that must be a TPKT (a Connection Confirm):
    /// any other first byte is "not RDP" at once (an HTTP or SSH banner could otherwise pass
    /// for the start of a fast-path PDU).
    pub async fn next_tpkt<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadFailure> {
        self.read_frame(s, deadline, true).await
    }

    /// Reads exactly `N` raw bytes (what is buffered first), or fails at the deadline.
    pub async fn next_bytes<const N: usize, S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        deadline: Instant,
    ) -> Result<[u8; N], ReadFailure> {
        let mut buf = [0u8; 1024];
        loop {
            if let Some(head) = self.deframer.buffered().get(..N) {
                let mut out = [0u8; N];
                out.copy_from_slice(head);
                self.deframer.skip(N);
                return Ok(out);
            }
            let n = match timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return Err(ReadFailure::Timeout { got: self.got }),
                Ok(Ok(0)) => return Err(ReadFailure::Closed { got: self.got }),
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Err(ReadFailure::Reset { got: self.got })
                }
                Ok(Err(e)) => return Err(ReadFailure::Io(e.to_string())),
            };
            self.got += n;
            if self.deframer.push(&buf[..n]).is_err() {
                return Err(ReadFailure::Io("too many bytes buffered".into()));
            }
        }
    }

    async fn read_frame<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        deadline: Instant,
        tpkt: bool,
    ) -> Result<Vec<u8>, ReadFailure> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if tpkt
                && self
                    .deframer
                    .buffered()
                    .first()
                    .is_some_and(|b| *b != rdp_proto::tpkt::TPKT_VERSION)
            {
                return Err(ReadFailure::NotFrame {
                    head: self.deframer.buffered().iter().take(64).copied().collect(),
                });
            }
            match self.deframer.next_frame() {
                Ok(Some(f)) => return Ok(f.bytes.to_vec()),
                Ok(None) => {}
                Err(_) => {
                    return Err(ReadFailure::NotFrame {
                        head: self.deframer.buffered().iter().take(64).copied().collect(),
                    });
                }
            }
            // A flooding peer keeps every read ready: the deadline is checked here too, not
            // only when a read has to wait.
            if Instant::now() >= deadline {
                return Err(ReadFailure::Timeout { got: self.got });
            }
            let n = match timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return Err(ReadFailure::Timeout { got: self.got }),
                Ok(Ok(0)) => {
                    // Bytes that never became a frame are judged by what they look like.
                    let held = self.deframer.buffered();
                    if !held.is_empty()
                        && rdp_proto::frame::frame_header(held, self.deframer.framing(), 0).is_err()
                    {
                        return Err(ReadFailure::NotFrame {
                            head: held.iter().take(64).copied().collect(),
                        });
                    }
                    return Err(ReadFailure::Closed { got: self.got });
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Err(ReadFailure::Reset { got: self.got })
                }
                Ok(Err(e)) => return Err(ReadFailure::Io(e.to_string())),
            };
            self.got += n;
            if self.deframer.push(&buf[..n]).is_err() {
                return Err(ReadFailure::NotFrame {
                    head: self.deframer.buffered().iter().take(64).copied().collect(),
                });
            }
        }
    }
}

/// The smaller of `deadline` and now + `stage`.
pub fn stage_deadline(deadline: Instant, stage: Duration) -> Instant {
    deadline.min(Instant::now() + stage)
}

/// `getaddrinfo(3)` for a TCP connection to `host:port` (blocking: run it on a blocking
/// thread): the addresses in the resolver's order without repeats, and the canonical name
/// (`AI_CANONNAME`: the name a CNAME or a hosts-file alias points to) when it differs from
/// `host`.
pub fn getaddrinfo(host: &str, port: u16) -> std::io::Result<(Vec<SocketAddr>, Option<String>)> {
    /// `AI_CANONNAME` (POSIX; 2 in glibc, musl, the BSDs and Windows).
    const AI_CANONNAME: i32 = 2;
    let hints = dns_lookup::AddrInfoHints {
        flags: AI_CANONNAME,
        socktype: dns_lookup::SockType::Stream.into(),
        ..dns_lookup::AddrInfoHints::default()
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut canonical = None;
    for a in dns_lookup::getaddrinfo(Some(host), None, Some(hints)).map_err(std::io::Error::from)? {
        let mut a = a?;
        if canonical.is_none() {
            canonical = a.canonname.take().filter(|c| !c.eq_ignore_ascii_case(host));
        }
        a.sockaddr.set_port(port);
        if !addrs.contains(&a.sockaddr) {
            addrs.push(a.sockaddr);
        }
    }
    Ok((addrs, canonical))
}
