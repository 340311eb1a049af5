//! A connection over time, for the HTML report's plots: bytes each way, retransmissions and
//! zero windows per interval, RTT samples, and the longest silence (a frozen session shows as
//! a gap). Fixed size whatever the connection's length: [`BUCKETS`] intervals whose width
//! doubles (neighbours merged) when the connection outgrows them. Only flows that carry
//! payload have one (it lives with their reassembly state).

use crate::report::capture::SeriesReport;

use crate::capture::tcp::seq_gt;

/// Intervals per connection.
pub const BUCKETS: usize = 64;
/// The first interval width: 10 ms.
const FIRST_WIDTH_NS: i64 = 10_000_000;

/// The time series of one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    start_ns: i64,
    width_ns: i64,
    bytes: [[u64; BUCKETS]; 2],
    retransmissions: [u32; BUCKETS],
    zero_windows: [u32; BUCKETS],
    /// The largest RTT sample in each interval, in µs (0: none).
    rtt_us: [u32; BUCKETS],
    /// Per direction: the end sequence number and time of one data segment waiting for its
    /// ACK (one sample at a time; a retransmission drops it: Karn's rule).
    pending: [Option<(u32, i64)>; 2],
    last_ns: i64,
    gap_ns: i64,
    gap_from_ns: i64,
}

/// What one packet adds.
pub struct Packet {
    /// 0: from the client.
    pub dir: usize,
    pub ts_ns: i64,
    pub seq: u32,
    pub ack: Option<u32>,
    pub len: u32,
    pub retransmission: bool,
    pub zero_window: bool,
}

impl Series {
    pub fn new(start_ns: i64) -> Self {
        Series {
            start_ns,
            width_ns: FIRST_WIDTH_NS,
            bytes: [[0; BUCKETS]; 2],
            retransmissions: [0; BUCKETS],
            zero_windows: [0; BUCKETS],
            rtt_us: [0; BUCKETS],
            pending: [None; 2],
            last_ns: start_ns,
            gap_ns: 0,
            gap_from_ns: start_ns,
        }
    }

    /// The interval of `ts_ns`, widening the intervals until it fits.
    fn bucket(&mut self, ts_ns: i64) -> usize {
        let at = ts_ns.saturating_sub(self.start_ns).max(0);
        while at / self.width_ns >= BUCKETS as i64 {
            self.widen();
        }
        (at / self.width_ns) as usize
    }

    /// Doubles the interval width: each pair of neighbours becomes one.
    fn widen(&mut self) {
        fn merge<T: Copy + Default>(a: &mut [T; BUCKETS], f: impl Fn(T, T) -> T) {
            for i in 0..BUCKETS {
                a[i] = if i < BUCKETS / 2 {
                    f(a[2 * i], a[2 * i + 1])
                } else {
                    T::default()
                };
            }
        }
        for d in &mut self.bytes {
            merge(d, |x, y| x + y);
        }
        merge(&mut self.retransmissions, |x, y| x + y);
        merge(&mut self.zero_windows, |x, y| x + y);
        merge(&mut self.rtt_us, |x, y| x.max(y));
        self.width_ns = self.width_ns.saturating_mul(2);
    }

    pub fn add(&mut self, p: &Packet) {
        if p.ts_ns > self.last_ns {
            let gap = p.ts_ns.saturating_sub(self.last_ns);
            if gap > self.gap_ns {
                self.gap_ns = gap;
                self.gap_from_ns = self.last_ns;
            }
            self.last_ns = p.ts_ns;
        }
        let b = self.bucket(p.ts_ns);
        let d = p.dir.min(1);
        self.bytes[d][b] += u64::from(p.len);
        if p.retransmission {
            self.retransmissions[b] += 1;
            self.pending[d] = None;
        }
        if p.zero_window {
            self.zero_windows[b] += 1;
        }
        // An ACK from this side ends the other side's pending sample.
        if let (Some(ack), Some((end, sent))) = (p.ack, self.pending[1 - d]) {
            if !seq_gt(end, ack) {
                let us =
                    (p.ts_ns.saturating_sub(sent).max(0) / 1000).min(i64::from(u32::MAX)) as u32;
                self.rtt_us[b] = self.rtt_us[b].max(us.max(1));
                self.pending[1 - d] = None;
            }
        }
        if p.len > 0 && !p.retransmission && self.pending[d].is_none() {
            self.pending[d] = Some((p.seq.wrapping_add(p.len), p.ts_ns));
        }
    }

    /// The report form: times in ms from the connection's first packet.
    pub fn report(&self) -> SeriesReport {
        let used = ((self.last_ns.saturating_sub(self.start_ns).max(0) / self.width_ns) as usize
            + 1)
        .min(BUCKETS);
        SeriesReport {
            interval_ms: self.width_ns as f64 / 1e6,
            client_bytes: self.bytes[0][..used].to_vec(),
            server_bytes: self.bytes[1][..used].to_vec(),
            retransmissions: self.retransmissions[..used].to_vec(),
            zero_windows: self.zero_windows[..used].to_vec(),
            rtt_ms: self.rtt_us[..used]
                .iter()
                .map(|&u| (u > 0).then(|| f64::from(u) / 1000.0))
                .collect(),
            longest_gap_ms: self.gap_ns as f64 / 1e6,
            longest_gap_from_ms: self.gap_from_ns.saturating_sub(self.start_ns) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(dir: usize, ms: i64, seq: u32, ack: u32, len: u32) -> Packet {
        Packet {
            dir,
            ts_ns: ms * 1_000_000,
            seq,
            ack: Some(ack),
            len,
            retransmission: false,
            zero_window: false,
        }
    }

    #[test]
    fn rtt_from_data_to_its_ack_and_widening_keeps_the_size() {
        let mut s = Series::new(0);
        s.add(&pkt(0, 0, 1000, 1, 100));
        s.add(&pkt(1, 25, 1, 1100, 0)); // acks it after 25 ms
        let r = s.report();
        assert_eq!(r.interval_ms, 10.0);
        assert_eq!(r.rtt_ms[2], Some(25.0));
        assert_eq!(r.client_bytes[0], 100);
        // Ten seconds later: the intervals widen, the totals stay.
        s.add(&pkt(0, 10_000, 1100, 1, 50));
        let r = s.report();
        assert!(r.client_bytes.len() <= BUCKETS);
        assert_eq!(r.client_bytes.iter().sum::<u64>(), 150);
        assert!(r.interval_ms >= 10_000.0 / BUCKETS as f64);
        assert_eq!(r.longest_gap_ms, 9_975.0);
        assert_eq!(r.longest_gap_from_ms, 25.0);
        assert_eq!(
            r.rtt_ms.iter().flatten().count(),
            1,
            "the max survives the merges"
        );
        // A retransmission is no RTT sample (Karn).
        let mut s = Series::new(0);
        s.add(&pkt(0, 0, 1, 1, 10));
        s.add(&Packet {
            retransmission: true,
            ..pkt(0, 200, 1, 1, 10)
        });
        s.add(&pkt(1, 210, 1, 11, 0));
        assert!(s.report().rtt_ms.iter().all(Option::is_none));
        assert_eq!(s.report().retransmissions.iter().sum::<u32>(), 1);
        // Hostile times: before the start, at the end of time.
        let mut s = Series::new(1_000);
        s.add(&pkt(0, -5, 1, 1, 1));
        s.add(&Packet {
            ts_ns: i64::MAX,
            ..pkt(1, 0, 1, 2, 1)
        });
        assert!(s.report().client_bytes.len() <= BUCKETS);
    }
}
