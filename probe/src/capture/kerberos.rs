//! Kerberos on port 88 (sans-IO): messages from UDP datagrams and from TCP streams (each
//! message after a 4-byte length, RFC 4120 7.2.2), kept per client so that an RDP connection
//! can be told what its client asked the KDC just before ([`KrbLog::take`]). Bounded: a TCP
//! message of at most [`MAX_MESSAGE`] bytes, [`PER_CLIENT`] messages per client,
//! [`MAX_CLIENTS`] clients.

use core::net::IpAddr;
use std::collections::{HashMap, VecDeque};

use crate::facts::kerberos::{KrbEvent, KrbMessage};

/// The Kerberos port.
pub const PORT: u16 = 88;
/// Largest Kerberos message read from TCP (tickets with a large PAC stay well below).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Messages kept per client (the newest).
pub const PER_CLIENT: usize = 64;
/// Clients tracked.
pub const MAX_CLIENTS: usize = 100_000;
/// How long before an RDP connection its client's Kerberos exchange counts as its own.
pub const BEFORE_NS: i64 = 120 * 1_000_000_000;

/// One direction of a Kerberos TCP stream.
#[derive(Debug, Default)]
pub struct KrbStream {
    buf: Vec<u8>,
    broken: bool,
}

impl KrbStream {
    /// In-order bytes; each whole message is handed to `each`.
    pub fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(&[u8])) {
        if self.broken {
            return;
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let Some(head) = self.buf.first_chunk::<4>() else {
                return;
            };
            // The high bit is reserved (RFC 4120 7.2.2): set, this is not a message length.
            let len = u32::from_be_bytes(*head) as usize;
            if len > MAX_MESSAGE || head[0] & 0x80 != 0 {
                self.broken = true;
                self.buf = Vec::new();
                return;
            }
            let Some(msg) = self.buf.get(4..4 + len) else {
                return;
            };
            each(msg);
            self.buf.drain(..4 + len);
        }
    }
}

/// A message kept, and whether an RDP connection took it.
#[derive(Debug)]
struct Kept {
    event: KrbEvent,
    taken: bool,
}

/// The Kerberos messages of a capture by client.
#[derive(Debug, Default)]
pub struct KrbLog {
    by_client: HashMap<IpAddr, VecDeque<Kept>>,
}

impl KrbLog {
    /// A message between `client` and the KDC `kdc`, if it is one.
    pub fn record(&mut self, client: IpAddr, kdc: String, ts_ns: i64, msg: &[u8]) {
        let Some(message) = KrbMessage::parse(msg) else {
            return;
        };
        let room = self.by_client.len() < MAX_CLIENTS;
        let list = match self.by_client.get_mut(&client) {
            Some(l) => l,
            None if room => self.by_client.entry(client).or_default(),
            None => return,
        };
        if list.len() == PER_CLIENT {
            list.pop_front();
        }
        list.push_back(Kept {
            event: KrbEvent {
                ts_ns,
                kdc,
                message,
            },
            taken: false,
        });
    }

    /// The messages of `client` from [`BEFORE_NS`] before `start_ns` to `end_ns`, for the RDP
    /// connection of that time; they are then no longer the capture's unattached ones.
    pub fn take(&mut self, client: IpAddr, start_ns: i64, end_ns: i64) -> Vec<KrbEvent> {
        let Some(list) = self.by_client.get_mut(&client) else {
            return Vec::new();
        };
        list.iter_mut()
            .filter(|k| k.event.ts_ns >= start_ns - BEFORE_NS && k.event.ts_ns <= end_ns)
            .map(|k| {
                k.taken = true;
                k.event.clone()
            })
            .collect()
    }

    /// The messages no RDP connection took, by client.
    pub fn untaken(&self) -> Vec<KrbEvent> {
        let mut out: Vec<KrbEvent> = self
            .by_client
            .values()
            .flatten()
            .filter(|k| !k.taken)
            .map(|k| k.event.clone())
            .collect();
        out.sort_by_key(|e| e.ts_ns);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_messages_are_cut_by_their_length_and_a_bad_length_stops() {
        let mut s = KrbStream::default();
        let mut got = Vec::new();
        s.feed(&[0, 0, 0, 3, 1, 2], |m| got.push(m.to_vec()));
        assert!(got.is_empty());
        s.feed(&[3, 0, 0, 0, 1, 9], |m| got.push(m.to_vec()));
        assert_eq!(got, vec![vec![1, 2, 3], vec![9]]);
        s.feed(&[0x80, 0, 0, 1, 0], |m| got.push(m.to_vec()));
        s.feed(&[0, 0, 0, 1, 7], |m| got.push(m.to_vec()));
        assert_eq!(got.len(), 2, "the stream stays broken");
    }
}
