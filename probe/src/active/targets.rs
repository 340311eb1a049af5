//! The target list of `rdprobe probe`: single targets, CIDR blocks expanded lazily, lists read
//! from a file or standard input with a size limit, and notes on targets that could be read
//! two ways.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A target: a host name or address, and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Parses `host`, `host:port`, `IPv4`, `IPv4:port`, `[IPv6]:port`, `IPv6`.
pub fn parse_target(s: &str, default_port: u16) -> Result<Target, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty target".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s}: missing ]"))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{s}: not an IPv6 address"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{s}: bad port"))?,
            None if tail.is_empty() => default_port,
            None => return Err(format!("{s}: unexpected text after ]")),
        };
        return Ok(Target {
            host: host.to_owned(),
            port,
        });
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(Target {
            host: s.to_owned(),
            port: default_port,
        });
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok(Target {
            host: h.to_owned(),
            port: p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{s}: bad port"))?,
        }),
        None => Ok(Target {
            host: s.to_owned(),
            port: default_port,
        }),
    }
}

/// The most bytes read from a target list or a hex dump (`-i FILE|-`, `decode -`).
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// The largest block expanded without `--allow-large-blocks` (a /16, 65,536 addresses).
pub const MAX_BLOCK: u128 = 1 << 16;

/// Reads at most `limit` bytes of text; more is an error (`/dev/zero` cannot grow it).
pub fn read_limited(mut r: impl Read, what: &str, limit: u64) -> Result<String, String> {
    let mut buf = Vec::new();
    (&mut r)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading {what}: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!("{what}: more than {limit} bytes of input"));
    }
    String::from_utf8(buf).map_err(|e| format!("{what}: not UTF-8 text ({e})"))
}

/// The lines of a target list: `#` starts a comment, blank lines are skipped.
pub fn list_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
}

/// One entry of the target list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    One(Target),
    /// `count` addresses from `first`, all on `port`.
    Block {
        first: IpAddr,
        count: u128,
        port: u16,
    },
}

/// `--shard K/N`: the K-th of N deterministic parts of the expanded target list (masscan's and
/// zgrab2's convention). Target number `i` (from 0, in list order, CIDR blocks expanded) goes
/// to part `i % N + 1`, so the N runs cover every target exactly once, on any machine, in any
/// order, for the same list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N <= 1,000,000.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (for example 2/4)"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: K is not a number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: N is not a number"))?;
        if n == 0 || n > 1_000_000 || k == 0 || k > n {
            return Err(format!("{s:?}: needs 1 <= K <= N <= 1000000"));
        }
        Ok(Self { k, n })
    }

    /// Whether target number `index` belongs to this part.
    pub fn keeps(self, index: u128) -> bool {
        index % u128::from(self.n) == u128::from(self.k - 1)
    }
}

impl Spec {
    /// How many targets this entry is.
    pub fn len(&self) -> u128 {
        match self {
            Self::One(_) => 1,
            Self::Block { count, .. } => *count,
        }
    }

    /// Whether it names no target (never: a block has at least one address).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its targets, one at a time (a /16 is not materialised).
    pub fn targets(&self) -> Box<dyn Iterator<Item = Target> + Send + '_> {
        match self {
            Self::One(t) => Box::new(std::iter::once(t.clone())),
            Self::Block { first, count, port } => {
                let (first, port) = (*first, *port);
                Box::new((0..*count).map(move |i| Target {
                    host: match first {
                        IpAddr::V4(a) => {
                            Ipv4Addr::from(u32::from(a).wrapping_add(i as u32)).to_string()
                        }
                        IpAddr::V6(a) => Ipv6Addr::from(u128::from(a).wrapping_add(i)).to_string(),
                    },
                    port,
                }))
            }
        }
    }
}

/// Parses one entry: a target (see [`parse_target`]) or a CIDR block `ADDR/LEN[:PORT]` (IPv6
/// blocks as `[ADDR/LEN]:PORT` or `ADDR/LEN`). Blocks larger than [`MAX_BLOCK`] need
/// `allow_large`. The note says how an ambiguous entry was read.
pub fn parse_spec(s: &str, default_port: u16, allow_large: bool) -> Result<Spec, String> {
    let s = s.trim();
    let inner = s.strip_prefix('[').and_then(|r| r.split_once(']'));
    let (body, port) = match inner {
        Some((b, tail)) if b.contains('/') => {
            let port = match tail.strip_prefix(':') {
                Some(p) => parse_port(s, p)?,
                None if tail.is_empty() => default_port,
                None => return Err(format!("{s}: unexpected text after ]")),
            };
            (b, port)
        }
        _ if s.contains('/') => match s.split_once('/') {
            Some((addr, rest)) if !addr.contains(':') || addr.parse::<Ipv6Addr>().is_ok() => {
                // IPv4 a.b.c.d/n[:port]; IPv6 without brackets takes no port.
                match rest.split_once(':') {
                    Some((len, p)) if !addr.contains(':') => {
                        (&s[..addr.len() + 1 + len.len()], parse_port(s, p)?)
                    }
                    _ => (s, default_port),
                }
            }
            _ => return Err(format!("{s}: not an address block")),
        },
        _ => return parse_target(s, default_port).map(Spec::One),
    };
    let (addr, len) = body
        .split_once('/')
        .ok_or_else(|| format!("{s}: not an address block"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s}: {addr} is not an IP address"))?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= bits)
        .ok_or_else(|| format!("{s}: the prefix length must be 0..={bits}"))?;
    let count: u128 = 1u128.checked_shl(bits - len).unwrap_or(u128::MAX);
    if count > MAX_BLOCK && !allow_large {
        return Err(format!(
            "{s}: {count} addresses; blocks larger than a /16 ({MAX_BLOCK}) need --allow-large-blocks"
        ));
    }
    let first = match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    };
    Ok(Spec::Block { first, count, port })
}

fn parse_port(s: &str, p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) => Err(format!("{s}: port 0 is not a port")),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("{s}: bad port {p:?}")),
    }
}

/// A note when `s` could be read two ways: `::1:3389` is the IPv6 address `::1:3389` (probed
/// on the default port), though it may have meant port 3389 of `::1`.
pub fn ambiguity(s: &str, default_port: u16) -> Option<String> {
    let s = s.trim();
    if s.starts_with('[') || s.parse::<Ipv6Addr>().is_err() {
        return None;
    }
    let (head, last) = s.rsplit_once(':')?;
    let looks_like_port = !last.is_empty()
        && last.len() <= 5
        && last.bytes().all(|b| b.is_ascii_digit())
        && last.parse::<u16>().is_ok_and(|p| p > 0);
    (looks_like_port && head.parse::<Ipv6Addr>().is_ok()).then(|| {
        format!(
            "{s} is read as the IPv6 address {s} on port {default_port}; for port {last} of {head} write [{head}]:{last}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_target_once() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { k: 2, n: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        for n in 1..6u64 {
            let mut seen = vec![0u8; 23];
            for k in 1..=n {
                let sh = Shard { k, n };
                for (i, c) in seen.iter_mut().enumerate() {
                    if sh.keeps(i as u128) {
                        *c += 1;
                    }
                }
            }
            assert!(seen.iter().all(|c| *c == 1), "{n}: {seen:?}");
        }
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("rdp.example", 3389).unwrap(),
            Target {
                host: "rdp.example".into(),
                port: 3389
            }
        );
        assert_eq!(
            parse_target("10.0.0.1:3390", 3389).unwrap(),
            Target {
                host: "10.0.0.1".into(),
                port: 3390
            }
        );
        assert_eq!(
            parse_target("[::1]:13389", 3389).unwrap(),
            Target {
                host: "::1".into(),
                port: 13389
            }
        );
        assert_eq!(
            parse_target("::1", 3389).unwrap(),
            Target {
                host: "::1".into(),
                port: 3389
            }
        );
        assert!(parse_target("[::1", 3389).is_err());
        assert!(parse_target("host:notaport", 3389).is_err());
    }

    fn hosts(spec: &Spec) -> Vec<String> {
        spec.targets()
            .map(|t| format!("{}:{}", t.host, t.port))
            .collect()
    }

    #[test]
    fn blocks_expand_to_every_address() {
        let s = parse_spec("127.0.0.8/30", 3389, false).unwrap();
        assert_eq!(
            hosts(&s),
            [
                "127.0.0.8:3389",
                "127.0.0.9:3389",
                "127.0.0.10:3389",
                "127.0.0.11:3389"
            ]
        );
        let s = parse_spec("127.1.2.3/24:13389", 3389, false).unwrap();
        assert_eq!(s.len(), 256);
        assert_eq!(hosts(&s)[0], "127.1.2.0:13389");
        assert_eq!(hosts(&s)[255], "127.1.2.255:13389");
        assert_eq!(parse_spec("127.0.0.1/32", 1, false).unwrap().len(), 1);
        let s = parse_spec("[::1/127]:3390", 3389, false).unwrap();
        assert_eq!(hosts(&s), [":::3390", "::1:3390"]);
        assert_eq!(parse_spec("fe80::/112", 3389, false).unwrap().len(), 65_536);
    }

    #[test]
    fn large_blocks_need_the_flag_and_bad_blocks_are_errors() {
        let e = parse_spec("10.0.0.0/8", 3389, false).unwrap_err();
        assert!(e.contains("--allow-large-blocks"), "{e}");
        assert_eq!(parse_spec("10.0.0.0/8", 3389, true).unwrap().len(), 1 << 24);
        assert_eq!(
            parse_spec("::/0", 3389, true).unwrap().len(),
            u128::MAX,
            "a /0 of IPv6 saturates; it is never materialised"
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/x",
            "nonsense/8",
            "10.0.0.0/24:0",
            "10.0.0.0/24:x",
        ] {
            assert!(parse_spec(bad, 3389, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn ambiguous_ipv6_targets_say_how_they_were_read() {
        let note = ambiguity("::1:3389", 3389).unwrap();
        assert!(note.contains("[::1]:3389"), "{note}");
        assert_eq!(ambiguity("[::1]:3389", 3389), None);
        assert_eq!(ambiguity("::1", 3389), None, "the last group is not a port");
        assert_eq!(ambiguity("127.0.0.1:3389", 3389), None);
        assert_eq!(ambiguity("fe80::abcd", 3389), None);
    }

    #[test]
    fn input_is_read_with_a_limit() {
        let zeros = std::io::repeat(b'1');
        let e = read_limited(zeros, "standard input", 1024).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        assert_eq!(
            read_limited(&b"a\n# c\n b # x\n"[..], "f", 1024).unwrap(),
            "a\n# c\n b # x\n"
        );
        let text = "a\n# c\n b # x\n\n";
        assert_eq!(list_lines(text).collect::<Vec<_>>(), ["a", "b"]);
    }
}
