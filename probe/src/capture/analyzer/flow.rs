//! The flow table's keys: both directions of a TCP or UDP flow alike, hashed cheaply.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Endpoint {
    pub(super) ip: IpAddr,
    pub(super) port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            // By hand (every connection of a capture names both ends; a SYN scan's million):
            // the formatting machinery cost more than the rest of the name.
            IpAddr::V4(ip) => {
                // "255.255.255.255:65535" at most.
                let mut out = [0u8; 21];
                let mut len = 0;
                let mut n = itoa::Buffer::new();
                let mut put = |bytes: &[u8]| {
                    out[len..len + bytes.len()].copy_from_slice(bytes);
                    len += bytes.len();
                };
                for (i, o) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        put(b".");
                    }
                    put(n.format(o).as_bytes());
                }
                put(b":");
                put(n.format(self.port).as_bytes());
                f.write_str(std::str::from_utf8(&out[..len]).map_err(|_| std::fmt::Error)?)
            }
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// A flow's identity, both directions alike: the two endpoints packed into integers (an IPv4
/// address in the low 32 bits, the family in `meta`), the lower endpoint first. Hashing it is
/// three multiplications; comparing it three integer compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) lo: u128,
    pub(super) hi: u128,
    /// Ports of `lo` and `hi`, and 1 << 32 for IPv6.
    pub(super) meta: u64,
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.lo as u64 ^ (self.lo >> 64) as u64);
        h.write_u64(self.hi as u64 ^ (self.hi >> 64) as u64);
        h.write_u64(self.meta);
    }
}

/// FxHash (rustc's): flow keys come from the capture, but a flow table keyed by them is
/// bounded by `max_flows`, so a fast non-keyed hash is acceptable here.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(super) type FlowMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<FxHasher>>;

pub(super) fn packed(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

pub(super) fn key(a: Endpoint, b: Endpoint) -> Key {
    let (pa, v6) = packed(a.ip);
    let (pb, _) = packed(b.ip);
    let (lo, hi, plo, phi) = if (pa, a.port) <= (pb, b.port) {
        (pa, pb, a.port, b.port)
    } else {
        (pb, pa, b.port, a.port)
    };
    Key {
        lo,
        hi,
        meta: u64::from(plo) | u64::from(phi) << 16 | u64::from(v6) << 32,
    }
}

/// A flow's place in a time-ordered queue: (time, the flow's first packet number as its
/// identity, key). Entries are checked when they reach the front: a flow active since is put
/// back with its newer time, an entry of a flow already gone is dropped. Each packet costs
/// nothing here, each eviction O(1) amortised.
pub(super) type QueueEntry = (i64, u64, Key);
