//! Link-layer header types (LINKTYPE_* of the tcpdump.org registry).

use std::fmt;

/// A link-layer header type (LINKTYPE_* value of the tcpdump.org registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: Self = Self(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: Self = Self(1);
    /// Raw IP under the DLT value most systems use for DLT_RAW (12).
    pub const RAW_12: Self = Self(12);
    /// Raw IP under OpenBSD's DLT_RAW value (14).
    pub const RAW_14: Self = Self(14);
    /// Raw IPv4 or IPv6, version from the first nibble.
    pub const RAW: Self = Self(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: Self = Self(108);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: Self = Self(113);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: Self = Self(276);

    /// A short human name for the link types this crate decodes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NULL => "BSD loopback (NULL)",
            Self::ETHERNET => "Ethernet",
            Self::RAW | Self::RAW_12 | Self::RAW_14 => "raw IP",
            Self::LOOP => "OpenBSD loopback (LOOP)",
            Self::LINUX_SLL => "Linux cooked capture (SLL)",
            Self::IPV4 => "raw IPv4",
            Self::IPV6 => "raw IPv6",
            Self::LINUX_SLL2 => "Linux cooked capture v2 (SLL2)",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
