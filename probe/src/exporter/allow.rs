//! `allowed_targets`: which targets a scrape may name, so that an exporter reachable from
//! elsewhere is never an open scanning proxy. An address must fall in a listed CIDR block (or
//! be listed); a host name must be listed, or match a `*.domain` pattern. A name is never
//! resolved to decide (its address could change between the check and the probe).

use core::net::IpAddr;

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Net(IpAddr, u8),
    Name(String),
    /// `*.corp.test`: any name ending in `.corp.test`.
    Suffix(String),
}

/// The list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Entry>);

impl AllowList {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        for raw in list {
            let s = raw.trim();
            let e = if let Some((ip, bits)) = s.split_once('/') {
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("allowed_targets: {s:?} is not a CIDR block"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits: u8 = bits
                    .parse()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("allowed_targets: {s:?} has a bad prefix length"))?;
                Entry::Net(ip, bits)
            } else if let Ok(ip) = s.parse::<IpAddr>() {
                Entry::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
            } else if let Some(d) = s.strip_prefix("*.") {
                Entry::Suffix(format!(".{}", d.to_ascii_lowercase()))
            } else if !s.is_empty() && !s.contains(['/', ' ', '*']) {
                Entry::Name(s.to_ascii_lowercase())
            } else {
                return Err(format!(
                    "allowed_targets: {s:?} is neither a CIDR block nor a name"
                ));
            };
            out.push(e);
        }
        Ok(Self(out))
    }

    /// Whether `host` (an address or a name, as the target gives it) may be probed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.0.iter().any(|e| match e {
                Entry::Net(net, bits) => within(ip, *net, *bits),
                _ => false,
            });
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.iter().any(|e| match e {
            Entry::Name(n) => *n == name,
            Entry::Suffix(d) => name.ends_with(d.as_str()),
            Entry::Net(..) => false,
        })
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_names_and_patterns() {
        let l = AllowList::parse(&[
            "127.0.0.0/8".into(),
            "10.1.2.3".into(),
            "rdp.corp.test".into(),
            "*.farm.test".into(),
            "::1/128".into(),
        ])
        .unwrap();
        assert!(l.allows("127.9.9.9"));
        assert!(l.allows("10.1.2.3"));
        assert!(!l.allows("10.1.2.4"));
        assert!(l.allows("RDP.corp.test."));
        assert!(l.allows("host7.farm.test"));
        assert!(!l.allows("farm.test"));
        assert!(!l.allows("evil.test"));
        assert!(l.allows("[::1]"));
        assert!(!l.allows("::2"));
        assert!(AllowList::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(AllowList::parse(&["a b".into()]).is_err());
        // 0 bits: everything of that family.
        assert!(AllowList::parse(&["0.0.0.0/0".into()])
            .unwrap()
            .allows("192.0.2.1"));
    }
}
