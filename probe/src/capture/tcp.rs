//! Per-direction TCP analysis with Wireshark's `tcp.analysis.*` definitions
//! (epan/dissectors/packet-tcp.c, `tcp_analyze_sequence_number`), Zeek's history letters, and
//! bounded reassembly of the bytes the RDP session analyzer needs.
//!
//! Sequence numbers are compared modulo 2^32 (`seq_gt` and friends), so streams that wrap
//! around are tracked correctly.

use std::collections::BTreeMap;

/// TCP flag bits.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}
use flags::{ACK, FIN, RST, SYN};

/// `a > b` modulo 2^32.
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}
/// `a < b` modulo 2^32.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
/// `a <= b` modulo 2^32.
pub fn seq_le(a: u32, b: u32) -> bool {
    !seq_gt(a, b)
}

/// What one segment is, in Wireshark's terms. Several can be set at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    pub retransmission: bool,
    pub fast_retransmission: bool,
    pub spurious_retransmission: bool,
    pub out_of_order: bool,
    pub lost_segment: bool,
    pub dup_ack: bool,
    pub zero_window: bool,
    pub zero_window_probe: bool,
    pub keep_alive: bool,
    pub keep_alive_ack: bool,
    pub window_update: bool,
}

/// The counters a connection report carries, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    /// IP payload bytes? No: TCP payload bytes (sequence space covered, retransmissions included).
    pub bytes: u64,
    pub retransmissions: u64,
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub lost_segments: u64,
    pub out_of_order: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub keep_alives: u64,
}

impl Counters {
    fn add(&mut self, a: &Analysis) {
        self.retransmissions += u64::from(a.retransmission);
        self.fast_retransmissions += u64::from(a.fast_retransmission);
        self.spurious_retransmissions += u64::from(a.spurious_retransmission);
        self.lost_segments += u64::from(a.lost_segment);
        self.out_of_order += u64::from(a.out_of_order);
        self.dup_acks += u64::from(a.dup_ack);
        self.zero_windows += u64::from(a.zero_window);
        self.keep_alives += u64::from(a.keep_alive);
    }

    pub fn merge(&self, o: &Counters) -> Counters {
        Counters {
            packets: self.packets + o.packets,
            bytes: self.bytes + o.bytes,
            retransmissions: self.retransmissions + o.retransmissions,
            fast_retransmissions: self.fast_retransmissions + o.fast_retransmissions,
            spurious_retransmissions: self.spurious_retransmissions + o.spurious_retransmissions,
            lost_segments: self.lost_segments + o.lost_segments,
            out_of_order: self.out_of_order + o.out_of_order,
            dup_acks: self.dup_acks + o.dup_acks,
            zero_windows: self.zero_windows + o.zero_windows,
            keep_alives: self.keep_alives + o.keep_alives,
        }
    }
}

/// Sequence state of one direction (Wireshark's `tcp_flow_t` analysis fields).
#[derive(Clone, Debug, Default)]
pub struct SeqState {
    /// Highest seq + len (+1 for SYN/FIN) seen; None before the first segment.
    pub nextseq: Option<u32>,
    nextseq_time_ns: i64,
    /// Last ACK number this direction sent.
    pub lastack: Option<u32>,
    lastack_time_ns: i64,
    /// Consecutive duplicate ACKs this direction sent.
    dupacknum: u32,
    /// Last raw window this direction advertised.
    window: Option<u16>,
    last_was_keep_alive: bool,
    pub counters: Counters,
}

/// One segment as the analysis sees it.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub ts_ns: i64,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Real segment length (from the IP header, not the captured bytes).
    pub len: u32,
}

/// Analyses `seg` sent by `fwd` (the other direction is `rev`); `first_rtt_ns` is the
/// handshake RTT when known (Wireshark uses it as the out-of-order threshold, else 3 ms).
/// The sequence number after `seg`: its payload, plus one for a SYN or FIN.
fn seg_end(seg: &Segment) -> u32 {
    let end = seg.seq.wrapping_add(seg.len);
    if seg.flags & (SYN | FIN) != 0 {
        end.wrapping_add(1)
    } else {
        end
    }
}

pub fn analyze(
    fwd: &mut SeqState,
    rev: &mut SeqState,
    seg: &Segment,
    first_rtt_ns: Option<i64>,
) -> Analysis {
    let mut a = Analysis::default();
    let f = seg.flags;
    let (seq, len) = (seg.seq, seg.len);
    let control = f & (SYN | FIN | RST) != 0;
    fwd.counters.packets += 1;
    fwd.counters.bytes += u64::from(len);

    'checks: {
        // ZERO WINDOW PROBE: one byte at nextseq while the receiver's window is zero.
        if len == 1 && fwd.nextseq == Some(seq) && rev.window == Some(0) {
            a.zero_window_probe = true;
            break 'checks;
        }
        // ZERO WINDOW
        if seg.window == 0 && !control {
            a.zero_window = true;
        }
        // LOST SEGMENT: a gap before this segment.
        if let Some(next) = fwd.nextseq {
            if seq_gt(seq, next) && f & RST == 0 {
                a.lost_segment = true;
            }
        }
        // KEEP-ALIVE: zero or one byte at nextseq - 1.
        if len <= 1 && !control && fwd.nextseq.map(|n| n.wrapping_sub(1)) == Some(seq) {
            a.keep_alive = true;
        }
        let same_place =
            len == 0 && !control && fwd.nextseq == Some(seq) && fwd.lastack == Some(seg.ack);
        // WINDOW UPDATE
        if same_place && seg.window != 0 && fwd.window.is_some_and(|w| w != seg.window) {
            a.window_update = true;
        }
        // KEEP-ALIVE ACK
        if same_place
            && seg.window != 0
            && fwd.window == Some(seg.window)
            && rev.last_was_keep_alive
        {
            a.keep_alive_ack = true;
            break 'checks;
        }
        // DUPLICATE ACK
        if same_place && seg.window != 0 && fwd.window == Some(seg.window) && f & ACK != 0 {
            fwd.dupacknum += 1;
            a.dup_ack = true;
        }
    }
    if !a.dup_ack {
        fwd.dupacknum = 0;
    }

    // RETRANSMISSION family: data (or SYN/FIN) below nextseq that is not a keep-alive.
    if (len > 0 || f & (SYN | FIN) != 0) && !a.keep_alive && !a.zero_window_probe {
        if let Some(next) = fwd.nextseq {
            if seq_lt(seq, next) {
                let since = seg.ts_ns - fwd.nextseq_time_ns;
                let ooo_threshold = first_rtt_ns.filter(|r| *r > 0).unwrap_or(3_000_000);
                if rev.dupacknum >= 2
                    && rev.lastack == Some(seq)
                    && seg.ts_ns - rev.lastack_time_ns < 20_000_000
                {
                    a.fast_retransmission = true;
                    a.retransmission = true;
                } else if since < ooo_threshold && next != seg_end(seg) {
                    // A SYN or FIN counts here too, its flag as one byte (as tshark counts
                    // them): a SYN-ACK sent again within the RTT of the server's last data is
                    // out of order; the same SYN sent again is a retransmission.
                    a.out_of_order = true;
                } else if len > 0
                    && rev
                        .lastack
                        .is_some_and(|ack| seq_le(seq.wrapping_add(len), ack))
                {
                    a.spurious_retransmission = true;
                    a.retransmission = true;
                } else {
                    a.retransmission = true;
                }
            }
        }
    }

    let end = seg_end(seg);
    if !a.zero_window_probe && fwd.nextseq.is_none_or(|n| seq_gt(end, n)) {
        fwd.nextseq = Some(end);
        fwd.nextseq_time_ns = seg.ts_ns;
    }
    if f & ACK != 0 && fwd.lastack != Some(seg.ack) {
        fwd.lastack = Some(seg.ack);
        fwd.lastack_time_ns = seg.ts_ns;
    }
    fwd.window = Some(seg.window);
    fwd.last_was_keep_alive = a.keep_alive;
    fwd.counters.add(&a);
    a
}

/// Zeek's connection history: each letter once per direction (upper case = originator), except
/// retransmissions (`T`) and zero windows (`W`), repeated at 1, 10, 100... occurrences.
#[derive(Clone, Debug, Default)]
pub struct History {
    text: String,
    seen: [u32; 2],
    t_count: [u64; 2],
    w_count: [u64; 2],
}

impl History {
    const LETTERS: &'static str = "SHADFRTW";

    fn bit(letter: char) -> u32 {
        Self::LETTERS.find(letter).map_or(0, |i| 1 << i)
    }

    fn once(&mut self, orig: bool, letter: char) {
        let d = usize::from(!orig);
        let b = Self::bit(letter);
        if self.seen[d] & b == 0 {
            self.seen[d] |= b;
            self.push(orig, letter);
        }
    }

    fn push(&mut self, orig: bool, letter: char) {
        self.text.push(if orig {
            letter
        } else {
            letter.to_ascii_lowercase()
        });
    }

    fn repeat(&mut self, orig: bool, letter: char, count: u64) {
        // Logged at 1, 10, 100, ... (Zeek's "exponential" history letters).
        let mut n = 1;
        while n < count {
            n *= 10;
        }
        if n == count {
            self.push(orig, letter);
        }
    }

    /// Records one segment sent by the originator (`orig`) or the responder.
    pub fn record(&mut self, orig: bool, f: u8, len: u32, a: &Analysis) {
        let d = usize::from(!orig);
        if f & SYN != 0 {
            self.once(orig, if f & ACK != 0 { 'H' } else { 'S' });
        }
        if f & FIN != 0 {
            self.once(orig, 'F');
        }
        if f & RST != 0 {
            self.once(orig, 'R');
        }
        if len > 0 {
            self.once(orig, 'D');
        } else if f & (SYN | FIN | RST) == 0 && f & ACK != 0 {
            self.once(orig, 'A');
        }
        if a.retransmission {
            self.t_count[d] += 1;
            self.repeat(orig, 'T', self.t_count[d]);
        }
        if a.zero_window {
            self.w_count[d] += 1;
            self.repeat(orig, 'W', self.w_count[d]);
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// How much out-of-order data one direction may hold while waiting for a gap to fill.
pub const MAX_PENDING: usize = 256 * 1024;

/// What one held out-of-order segment costs besides its bytes: its B-tree entry, the `Vec`
/// header and the allocator's rounding (measured: a 1-byte segment costs about 90 bytes).
pub const SEGMENT_COST: usize = 96;

/// The memory all reassemblers of a capture may hold for out-of-order segments together;
/// what does not fit is skipped (counted), never held.
#[derive(Clone, Debug)]
pub struct Budget {
    used: usize,
    limit: usize,
    /// Bytes given up (gaps skipped) to stay within the per-flow or the total limit.
    pub skipped_bytes: u64,
    /// Gaps given up for that reason.
    pub skipped_gaps: u64,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Self {
            used: 0,
            limit,
            skipped_bytes: 0,
            skipped_gaps: 0,
        }
    }

    /// Memory held now.
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn fits(&self, cost: usize) -> bool {
        self.used + cost <= self.limit
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(128 * 1024 * 1024)
    }
}

/// Bounded in-order delivery of one direction's bytes, by sequence number. The first copy of
/// a byte wins; a later copy that differs is counted as a conflicting overlap.
///
/// Positions are offsets from the first sequence number, so ordering survives a wrap of the
/// 32-bit sequence space; only the handshake (far below 4 GiB) is ever reassembled.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    /// Sequence number of offset 0.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Out-of-order segments by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// What `pending` costs: its bytes plus [`SEGMENT_COST`] a segment.
    pending_bytes: usize,
    /// Overlaps whose bytes differed from the first copy.
    pub conflicting_overlaps: u64,
    /// Bytes skipped because a gap never filled (pending limit reached).
    pub gap_bytes: u64,
    /// The last delivered bytes, to compare re-sent copies against.
    tail: Vec<u8>,
}

/// How many delivered bytes are kept to check overlaps.
const TAIL: usize = 4096;

impl Reassembler {
    /// Sets the first sequence number to deliver (ISN + 1 after a SYN).
    pub fn start(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
    }

    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Bytes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.next
    }

    /// Adds a segment's payload; calls `deliver` with each run of bytes that became in-order.
    /// Out-of-order segments are held within this direction's limit ([`MAX_PENDING`], segment
    /// overhead included) and the capture's `budget`; beyond, the oldest gap is given up.
    pub fn push(
        &mut self,
        seq: u32,
        data: &[u8],
        budget: &mut Budget,
        mut deliver: impl FnMut(&[u8]),
    ) {
        if data.is_empty() {
            return;
        }
        let base = *self.base.get_or_insert(seq);
        // Offsets are taken relative to `next`, which tolerates data from before `base`.
        let next_seq = base.wrapping_add(self.next as u32);
        let rel = i64::from(seq.wrapping_sub(next_seq) as i32);
        let end = rel + data.len() as i64;
        if end <= 0 {
            self.check_overlap(rel, data);
            return;
        }
        if rel > 0 {
            let off = self.next + rel as u64;
            let cost = data.len() + SEGMENT_COST;
            if self.pending.contains_key(&off) {
                return;
            }
            if self.pending_bytes + cost > MAX_PENDING || !budget.fits(cost) {
                let before = self.gap_bytes;
                self.skip_gap(budget, &mut deliver);
                self.count_skip(budget, before);
                if self.next > off {
                    return;
                }
                if self.pending_bytes + cost > MAX_PENDING || !budget.fits(cost) {
                    // Still no room (other flows hold the budget): give up the gap before
                    // this segment and deliver it at once instead of holding it.
                    let before = self.gap_bytes;
                    self.gap_bytes += off - self.next;
                    self.next = off;
                    self.tail.clear();
                    self.count_skip(budget, before);
                    self.emit(data, &mut deliver);
                    self.drain(budget, &mut deliver);
                    return;
                }
            }
            self.pending_bytes += cost;
            budget.used += cost;
            self.pending.insert(off, data.to_vec());
            return;
        }
        let skip = (-rel) as usize;
        self.check_overlap(rel, &data[..skip]);
        self.emit(&data[skip..], &mut deliver);
        self.drain(budget, &mut deliver);
    }

    fn count_skip(&self, budget: &mut Budget, gap_before: u64) {
        if self.gap_bytes > gap_before {
            budget.skipped_bytes += self.gap_bytes - gap_before;
            budget.skipped_gaps += 1;
        }
    }

    fn emit(&mut self, bytes: &[u8], deliver: &mut impl FnMut(&[u8])) {
        self.next += bytes.len() as u64;
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * TAIL {
            self.tail.drain(..self.tail.len() - TAIL);
        }
        deliver(bytes);
    }

    /// Compares re-sent bytes (starting `rel` bytes before `next`, rel <= 0) with the tail.
    fn check_overlap(&mut self, rel: i64, data: &[u8]) {
        let back = (-rel) as usize;
        if data.is_empty() || back > self.tail.len() {
            return;
        }
        let start = self.tail.len() - back;
        let n = data.len().min(back);
        if self.tail[start..start + n] != data[..n] {
            self.conflicting_overlaps += 1;
        }
    }

    fn drain(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(&[u8])) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.next {
                return;
            }
            let data = entry.remove();
            let cost = data.len() + SEGMENT_COST;
            self.pending_bytes -= cost;
            budget.used -= cost;
            let end = off + data.len() as u64;
            let rel = off as i64 - self.next as i64;
            if end <= self.next {
                self.check_overlap(rel, &data);
                continue;
            }
            let skip = (self.next - off) as usize;
            self.check_overlap(rel, &data[..skip]);
            self.emit(&data[skip..], deliver);
        }
    }

    /// Gives up on the oldest gap: jump to the lowest pending segment.
    fn skip_gap(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(&[u8])) {
        if let Some((&lowest, _)) = self.pending.iter().next() {
            if lowest > self.next {
                self.gap_bytes += lowest - self.next;
                self.next = lowest;
                self.tail.clear();
            }
            self.drain(budget, deliver);
        }
    }

    /// Stops reassembling: frees held data and gives its share of `budget` back (the
    /// connection went to encrypted bulk data, or ended).
    pub fn stop(&mut self, budget: &mut Budget) {
        self.pending.clear();
        budget.used -= self.pending_bytes;
        self.pending_bytes = 0;
        self.tail = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(ts_ms: i64, seq: u32, ack: u32, flags: u8, window: u16, len: u32) -> Segment {
        Segment {
            ts_ns: ts_ms * 1_000_000,
            seq,
            ack,
            flags,
            window,
            len,
        }
    }

    #[test]
    fn sequence_comparisons_wrap() {
        assert!(seq_gt(5, u32::MAX - 5));
        assert!(seq_lt(u32::MAX - 5, 5));
        assert!(seq_le(7, 7));
    }

    #[test]
    fn retransmission_out_of_order_and_lost() {
        let (mut a, mut b) = (SeqState::default(), SeqState::default());
        analyze(&mut a, &mut b, &seg(0, 1000, 1, ACK, 100, 100), None);
        // gap: 1100..1200 missing, 1200 arrives
        let x = analyze(&mut a, &mut b, &seg(1, 1200, 1, ACK, 100, 100), None);
        assert!(x.lost_segment);
        // the missing one arrives 1 ms later: out of order, not a retransmission
        let x = analyze(&mut a, &mut b, &seg(2, 1100, 1, ACK, 100, 100), None);
        assert!(x.out_of_order && !x.retransmission);
        // the same again 500 ms later: retransmission
        let x = analyze(&mut a, &mut b, &seg(500, 1100, 1, ACK, 100, 100), None);
        assert!(x.retransmission && !x.out_of_order);
        assert_eq!(a.counters.retransmissions, 1);
        // once acknowledged by the peer, a re-send is spurious
        analyze(&mut b, &mut a, &seg(501, 1, 1300, ACK, 100, 0), None);
        let x = analyze(&mut a, &mut b, &seg(900, 1100, 1, ACK, 100, 100), None);
        assert!(x.spurious_retransmission && x.retransmission);
    }

    #[test]
    fn reassembly_reorders_and_first_copy_wins() {
        let mut r = Reassembler::default();
        let mut b = Budget::default();
        let mut out = Vec::new();
        r.start(10);
        r.push(15, b"fghij", &mut b, |b| out.extend_from_slice(b));
        assert!(out.is_empty());
        r.push(10, b"abcde", &mut b, |b| out.extend_from_slice(b));
        assert_eq!(out, b"abcdefghij");
        r.push(12, b"XY", &mut b, |b| out.extend_from_slice(b));
        assert_eq!(r.conflicting_overlaps, 1);
        r.push(18, b"ijklm", &mut b, |b| out.extend_from_slice(b));
        assert_eq!(out, b"abcdefghijklm");
    }

    #[test]
    fn reassembly_across_sequence_wrap() {
        let mut r = Reassembler::default();
        let mut b = Budget::default();
        let mut out = Vec::new();
        r.start(u32::MAX - 2);
        r.push(0, b"de", &mut b, |b| out.extend_from_slice(b));
        assert!(out.is_empty());
        r.push(u32::MAX - 2, b"abc", &mut b, |b| out.extend_from_slice(b));
        assert_eq!(out, b"abcde");
        r.push(u32::MAX, b"c", &mut b, |b| out.extend_from_slice(b));
        assert_eq!((out.len(), r.conflicting_overlaps), (5, 0));
    }

    #[test]
    fn pending_is_bounded() {
        let mut r = Reassembler::default();
        let mut b = Budget::default();
        r.start(0);
        let chunk = vec![7u8; 64 * 1024];
        let mut delivered = 0;
        for k in 1..10u32 {
            r.push(k * 100_000, &chunk, &mut b, |b| delivered += b.len());
        }
        assert!(r.pending_bytes <= MAX_PENDING);
        assert!(r.gap_bytes > 0 && delivered > 0);
    }

    /// Heavy reordering in one-byte segments: what is held is bounded by its real cost
    /// (bytes plus per-segment overhead), not by its payload bytes alone.
    #[test]
    fn one_byte_segments_are_charged_their_overhead() {
        let mut r = Reassembler::default();
        let mut b = Budget::default();
        r.start(0);
        let mut delivered = 0;
        // Every other byte of 1 MB, never the first: nothing becomes in-order by itself.
        for k in (1..1_000_000u32).step_by(2) {
            r.push(k, &[1], &mut b, |x| delivered += x.len());
        }
        assert!(r.pending_bytes <= MAX_PENDING, "{}", r.pending_bytes);
        assert!(r.pending.len() <= MAX_PENDING / (1 + SEGMENT_COST));
        assert_eq!(b.used(), r.pending_bytes);
        assert!(b.skipped_gaps > 0 && b.skipped_bytes > 0);
        r.stop(&mut b);
        assert_eq!(b.used(), 0, "stopping gives the budget back");
    }

    /// Many flows share one budget: the total held never exceeds it; what did not fit is
    /// delivered after a skipped gap and counted.
    #[test]
    fn all_flows_together_stay_within_the_budget() {
        let mut b = Budget::new(100 * 1024);
        let mut flows: Vec<Reassembler> = (0..8).map(|_| Reassembler::default()).collect();
        let chunk = [9u8; 1000];
        let mut delivered = 0;
        for (i, r) in flows.iter_mut().enumerate() {
            r.start(0);
            for k in 1..200u32 {
                r.push(k * 2000, &chunk, &mut b, |x| delivered += x.len());
                assert!(
                    b.used() <= b.limit(),
                    "flow {i}: {} > {}",
                    b.used(),
                    b.limit()
                );
            }
        }
        assert!(b.skipped_gaps > 0);
        assert!(delivered > 0);
        for r in &mut flows {
            r.stop(&mut b);
        }
        assert_eq!(b.used(), 0);
    }
}
