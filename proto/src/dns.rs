//! DNS (RFC 1035) as far as finding a KDC needs it: a query for the SRV records of a name
//! (RFC 2782, `_kerberos._tcp.REALM`, RFC 4120 7.2.3.2) and the answer's SRV records. Names
//! in answers may be compressed; pointers are followed at most [`MAX_JUMPS`] times and only
//! backwards, so a hostile answer cannot loop.

use crate::{DecodeError, DecodeErrorKind, Layer};

/// Resource record type SRV (RFC 2782).
pub const TYPE_SRV: u16 = 33;
/// Most compression pointers followed in one name.
pub const MAX_JUMPS: usize = 16;
/// Most answers read.
pub const MAX_ANSWERS: usize = 32;

/// One SRV record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// The host, without the final dot.
    pub target: String,
}

/// A recursive query (RD set) with `id` for the SRV records of `name`; None when a label is
/// empty or longer than 63 bytes, or the name longer than 253.
pub fn srv_query(id: u16, name: &str) -> Option<Vec<u8>> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TYPE_SRV.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Some(q)
}

fn err(offset: usize, reason: &'static str) -> DecodeError {
    DecodeError {
        layer: Layer::Dns,
        context: "DNS answer",
        offset,
        kind: DecodeErrorKind::InvalidField { reason },
    }
}

fn u16_at(m: &[u8], at: usize) -> Result<u16, DecodeError> {
    match m.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(err(at, "the message ends inside a field")),
    }
}

/// Reads the name at `at` (following compression); returns it and the offset after it in
/// place.
fn name_at(m: &[u8], mut at: usize) -> Result<(String, usize), DecodeError> {
    let mut out = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *m
            .get(at)
            .ok_or_else(|| err(at, "the message ends inside a name"))?;
        match len {
            0 => {
                return Ok((out, end.unwrap_or(at + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let ptr = usize::from(u16_at(m, at)? & 0x3FFF);
                jumps += 1;
                if jumps > MAX_JUMPS || ptr >= at {
                    return Err(err(at, "a compression pointer loops or points forward"));
                }
                end.get_or_insert(at + 2);
                at = ptr;
            }
            l if l & 0xC0 != 0 => return Err(err(at, "a label type other than 0 or 3")),
            l => {
                let l = usize::from(l);
                let label = m
                    .get(at + 1..at + 1 + l)
                    .ok_or_else(|| err(at, "the message ends inside a label"))?;
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&String::from_utf8_lossy(label));
                if out.len() > 255 {
                    return Err(err(at, "a name longer than 255 bytes"));
                }
                at += 1 + l;
            }
        }
    }
}

/// The SRV records of the answer to query `id`, sorted by priority then weight (highest
/// first); empty for NXDOMAIN or no records. An error for another id, a truncated answer, a
/// server failure or malformed bytes.
pub fn parse_srv_answer(m: &[u8], id: u16) -> Result<Vec<Srv>, DecodeError> {
    if u16_at(m, 0)? != id {
        return Err(err(0, "the answer's id is not the query's"));
    }
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return Err(err(2, "not an answer (QR is 0)"));
    }
    if flags & 0x0200 != 0 {
        return Err(err(2, "the answer is truncated (TC): ask over TCP"));
    }
    match flags & 0x000F {
        0 => {}
        3 => return Ok(Vec::new()),
        _ => return Err(err(3, "the server answered with an error (RCODE)")),
    }
    let qd = usize::from(u16_at(m, 4)?);
    let an = usize::from(u16_at(m, 6)?).min(MAX_ANSWERS);
    let mut at = 12;
    for _ in 0..qd.min(4) {
        let (_, next) = name_at(m, at)?;
        at = next + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        let (_, next) = name_at(m, at)?;
        let rtype = u16_at(m, next)?;
        let rdlen = usize::from(u16_at(m, next + 8)?);
        let rdata = next + 10;
        if m.len() < rdata + rdlen {
            return Err(err(next, "a record's data runs past the message"));
        }
        if rtype == TYPE_SRV {
            if rdlen < 7 {
                return Err(err(rdata, "an SRV record shorter than 7 bytes"));
            }
            let (target, _) = name_at(m, rdata + 6)?;
            out.push(Srv {
                priority: u16_at(m, rdata)?,
                weight: u16_at(m, rdata + 2)?,
                port: u16_at(m, rdata + 4)?,
                target,
            });
        }
        at = rdata + rdlen;
    }
    out.sort_by_key(|s| (s.priority, core::cmp::Reverse(s.weight)));
    // "." as target: the service is decidedly not available (RFC 2782).
    out.retain(|s| !s.target.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a server writes it: the question, then SRV records whose names point back
    /// at the question's name.
    fn answer(id: u16, records: &[(u16, u16, u16, &str)]) -> Vec<u8> {
        let mut m = srv_query(id, "_kerberos._tcp.corp.test").unwrap();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = records.len() as u8;
        for (p, w, port, target) in records {
            m.extend_from_slice(&[0xC0, 12]);
            m.extend_from_slice(&TYPE_SRV.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            let mut rdata = Vec::new();
            for v in [p, w, port] {
                rdata.extend_from_slice(&v.to_be_bytes());
            }
            for label in target.split('.').filter(|l| !l.is_empty()) {
                rdata.push(label.len() as u8);
                rdata.extend_from_slice(label.as_bytes());
            }
            rdata.push(0);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&rdata);
        }
        m
    }

    #[test]
    fn a_query_and_its_answer() {
        let q = srv_query(7, "_kerberos._tcp.CORP.TEST.").unwrap();
        assert_eq!(&q[..4], &[0, 7, 1, 0]);
        assert_eq!(&q[q.len() - 4..], &[0, 33, 0, 1]);
        let a = answer(
            7,
            &[(10, 5, 88, "dc2.corp.test"), (0, 100, 88, "dc1.corp.test")],
        );
        let srv = parse_srv_answer(&a, 7).unwrap();
        assert_eq!(srv[0].target, "dc1.corp.test");
        assert_eq!(srv[1].port, 88);
        assert!(parse_srv_answer(&a, 8).is_err());
        assert!(srv_query(1, "a..b").is_none());
    }

    #[test]
    fn hostile_answers_are_errors() {
        let mut a = answer(1, &[(0, 0, 88, "dc.corp.test")]);
        // A pointer to itself.
        let ptr = a.len() - 2 - "dc.corp.test".len();
        a[ptr] = 0xC0;
        a[ptr + 1] = ptr as u8;
        assert!(parse_srv_answer(&a, 1).is_err());
        for cut in 0..a.len() {
            let _ = parse_srv_answer(&a[..cut], 1);
        }
        assert!(parse_srv_answer(&[], 1).is_err());
    }
}
