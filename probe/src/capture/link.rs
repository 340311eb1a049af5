//! Link, IP and transport decoding of captured packets.
//!
//! [`decode`] takes a packet's link type and captured bytes and returns its IP addresses and
//! its TCP or UDP header and payload, all borrowed from the packet (nothing is allocated).
//! Ethernet (with up to three 802.1Q / 802.1ad / QinQ tags), VLAN, IPv4, IPv6 (extension
//! headers walked), TCP and UDP are sliced by `etherparse` in its lax mode, so a packet cut by
//! the snapshot length still yields its TCP header and the real segment length; only the
//! Linux cooked (SLL, SLL2) and BSD loopback (NULL, LOOP) prefixes are read here.
//!
//! Checksums are never verified: captures taken on the sending host show offloaded (wrong)
//! checksums on every outgoing packet. Packets that carry no usable transport header (not IP,
//! a non-first IP fragment, a header cut short) are a [`LinkError`] saying why, so the caller
//! can count them by reason.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::net::IpAddr;

use etherparse::err::packet::SliceError;
use etherparse::err::Layer;
use etherparse::{
    EtherType, LaxIpPayloadSlice, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice,
    TcpOptionElement, TcpSlice, TransportSlice, UdpSlice,
};

use super::source::LinkType;

/// The IP and transport headers of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (None for IPv6).
    pub ip_id: Option<u16>,
    /// Outermost VLAN id, if the frame is tagged.
    pub vlan: Option<u16>,
    /// True for the first fragment of a fragmented IP datagram: the transport header is real
    /// but the payload (and `payload_len`) cover only this fragment.
    pub more_fragments: bool,
    pub transport: Transport<'a>,
}

/// The transport layer of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    /// `payload` is what was captured of the datagram (bounded by the UDP length field).
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// Any other IP protocol (ICMP, ESP, GRE...), by IP protocol number.
    Other {
        protocol: u8,
    },
}

/// A TCP header and the captured part of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The low 8 flag bits (see the associated constants).
    pub flags: u8,
    /// Raw (unscaled) window.
    pub window: u16,
    /// Window scale option (shift count), read from SYN segments only.
    pub window_scale: Option<u8>,
    /// Maximum segment size option, read from SYN segments only.
    pub mss: Option<u16>,
    /// Captured payload bytes (shorter than `payload_len` when the capture cut the packet).
    pub payload: &'a [u8],
    /// Payload length according to the IP header: the real segment length.
    pub payload_len: u32,
}

impl TcpSegment<'_> {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// True if all the bits of `mask` are set.
    pub fn has(&self, mask: u8) -> bool {
        self.flags & mask == mask
    }

    /// True when the capture kept fewer payload bytes than the segment carried.
    pub fn is_truncated(&self) -> bool {
        (self.payload.len() as u64) < u64::from(self.payload_len)
    }
}

/// Why a packet has no decodable IP transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(LinkType),
    #[error("truncated {layer} header: {got} of {needed} bytes present")]
    Truncated {
        layer: &'static str,
        got: usize,
        needed: usize,
    },
    #[error("not IP: {} (ethertype {ethertype:#06x})", ether_type_name(*.ethertype))]
    NotIp { ethertype: u16 },
    #[error("not IP: address family {family} in the {link} header")]
    UnsupportedFamily { link: LinkType, family: u32 },
    #[error("IP version {0} (only 4 and 6 are supported)")]
    BadIpVersion(u8),
    #[error("malformed {layer} header: {reason}")]
    Malformed {
        layer: &'static str,
        reason: &'static str,
    },
    #[error(
        "non-first IP fragment (offset {offset} bytes, protocol {protocol}): its transport \
         header is in the first fragment"
    )]
    Fragment { offset: u16, protocol: u8 },
}

/// A name for an ethertype that is not IP.
pub fn ether_type_name(ethertype: u16) -> &'static str {
    match ethertype {
        0x0000..=0x05dc => "802.3 length field (LLC frame)",
        0x0800 => "IPv4",
        0x86dd => "IPv6",
        0x0806 => "ARP",
        0x0842 => "Wake-on-LAN",
        0x8035 => "RARP",
        0x8100 | 0x88a8 | 0x9100 => "more than 3 nested VLAN tags",
        0x8809 => "slow protocols (LACP)",
        0x8847 | 0x8848 => "MPLS",
        0x8863 => "PPPoE discovery",
        0x8864 => "PPPoE session",
        0x888e => "EAPOL (802.1X)",
        0x88cc => "LLDP",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        0x8906 => "FCoE",
        _ => "unknown ethertype",
    }
}

/// The common case without etherparse: Ethernet (at most one 802.1Q tag), IPv4 without
/// fragmentation or IPv6 without extension headers, then TCP without SYN (a SYN's options are
/// read by the general path) or UDP, all lengths consistent with the captured bytes. Anything
/// else returns None and takes the general path; a test holds the two to the same result on
/// every fixture packet.
pub(crate) fn fast_ethernet(data: &[u8]) -> Option<Decoded<'_>> {
    let (mut ethertype, mut at, mut vlan) = (
        u16::from_be_bytes(data.get(12..14)?.try_into().ok()?),
        14,
        None,
    );
    if ethertype == 0x8100 {
        let &[t0, t1, e0, e1] = data.get(14..18)? else {
            return None;
        };
        vlan = Some(u16::from_be_bytes([t0, t1]) & 0x0FFF);
        ethertype = u16::from_be_bytes([e0, e1]);
        at = 18;
    }
    let ip = data.get(at..)?;
    let (src, dst, ttl, ip_id, proto, l4) = match ethertype {
        0x0800 => {
            let &[vihl, _, tl0, tl1, id0, id1, fl0, fl1, ttl, proto, ..] = ip.get(..20)? else {
                return None;
            };
            let ihl = usize::from(vihl & 0x0F) * 4;
            if vihl >> 4 != 4 || ihl < 20 || u16::from_be_bytes([fl0, fl1]) & 0x3FFF != 0 {
                return None; // not IPv4, a bad header length, or a fragment
            }
            let total = usize::from(u16::from_be_bytes([tl0, tl1]));
            if total < ihl || total > ip.len() {
                return None; // truncated or padded oddly: the general path explains it
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(src.into()),
                IpAddr::V4(dst.into()),
                ttl,
                Some(u16::from_be_bytes([id0, id1])),
                proto,
                ip.get(ihl..total)?,
            )
        }
        0x86DD => {
            let h = ip.get(..40)?;
            let &[v, _, _, _, l0, l1, next, hops, ..] = h else {
                return None;
            };
            if v >> 4 != 6 {
                return None;
            }
            let total = 40 + usize::from(u16::from_be_bytes([l0, l1]));
            if total > ip.len() || total == 40 {
                return None; // truncated, or a jumbogram
            }
            let src: [u8; 16] = h.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = h.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(src.into()),
                IpAddr::V6(dst.into()),
                hops,
                None,
                next,
                ip.get(40..total)?,
            )
        }
        _ => return None,
    };
    let transport = match proto {
        6 => {
            let &[sp0, sp1, dp0, dp1, s0, s1, s2, s3, a0, a1, a2, a3, off, flags, w0, w1, ..] =
                l4.get(..20)?
            else {
                return None;
            };
            let hl = usize::from(off >> 4) * 4;
            if hl < 20 || hl > l4.len() || flags & TcpSegment::SYN != 0 {
                return None;
            }
            let payload = l4.get(hl..)?;
            Transport::Tcp(TcpSegment {
                src_port: u16::from_be_bytes([sp0, sp1]),
                dst_port: u16::from_be_bytes([dp0, dp1]),
                seq: u32::from_be_bytes([s0, s1, s2, s3]),
                ack: u32::from_be_bytes([a0, a1, a2, a3]),
                flags,
                window: u16::from_be_bytes([w0, w1]),
                window_scale: None,
                mss: None,
                payload,
                payload_len: payload.len() as u32,
            })
        }
        17 => {
            let &[sp0, sp1, dp0, dp1, l0, l1, ..] = l4.get(..8)? else {
                return None;
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if len < 8 || len > l4.len() {
                return None;
            }
            Transport::Udp {
                src_port: u16::from_be_bytes([sp0, sp1]),
                dst_port: u16::from_be_bytes([dp0, dp1]),
                payload: l4.get(8..len)?,
            }
        }
        _ => return None,
    };
    Some(Decoded {
        src,
        dst,
        ttl,
        ip_id,
        vlan,
        more_fragments: false,
        transport,
    })
}

fn split<'a>(
    data: &'a [u8],
    len: usize,
    layer: &'static str,
) -> Result<(&'a [u8], &'a [u8]), LinkError> {
    if data.len() < len {
        return Err(LinkError::Truncated {
            layer,
            got: data.len(),
            needed: len,
        });
    }
    Ok(data.split_at(len))
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// BSD loopback address family: host order for NULL, network order for LOOP, but a value
/// that only makes sense byte-swapped is swapped (captures move between machines).
fn loopback_ether_type(link: LinkType, header: &[u8]) -> Result<EtherType, LinkError> {
    let bytes = match header {
        &[a, b, c, d] => [a, b, c, d],
        _ => [0; 4],
    };
    let (first, second) = if link == LinkType::LOOP {
        (u32::from_be_bytes(bytes), u32::from_le_bytes(bytes))
    } else {
        (u32::from_le_bytes(bytes), u32::from_be_bytes(bytes))
    };
    let family = if first > 0xffff { second } else { first };
    match family {
        2 => Ok(EtherType::IPV4),
        24 | 28 | 30 => Ok(EtherType::IPV6),
        family => Err(LinkError::UnsupportedFamily { link, family }),
    }
}

/// Decodes the link, IP and transport headers of one packet.
pub fn decode(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, LinkError> {
    if link == LinkType::ETHERNET {
        if let Some(d) = fast_ethernet(data) {
            return Ok(d);
        }
    }
    decode_general(link, data)
}

/// [`decode`] through etherparse, for every link type and every odd case.
pub(crate) fn decode_general(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, LinkError> {
    let sliced = match link {
        LinkType::ETHERNET => {
            LaxSlicedPacket::from_ethernet(data).map_err(|e| LinkError::Truncated {
                layer: "Ethernet",
                got: e.len,
                needed: e.required_len,
            })?
        }
        LinkType::LINUX_SLL => {
            let (header, rest) = split(data, 16, "Linux cooked (SLL)")?;
            LaxSlicedPacket::from_ether_type(EtherType(be16(header, 14)), rest)
        }
        LinkType::LINUX_SLL2 => {
            let (header, rest) = split(data, 20, "Linux cooked v2 (SLL2)")?;
            LaxSlicedPacket::from_ether_type(EtherType(be16(header, 0)), rest)
        }
        LinkType::NULL | LinkType::LOOP => {
            let (header, rest) = split(data, 4, "BSD loopback")?;
            LaxSlicedPacket::from_ether_type(loopback_ether_type(link, header)?, rest)
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            let ether_type = match data.first().map(|b| b >> 4) {
                Some(4) => EtherType::IPV4,
                Some(6) => EtherType::IPV6,
                Some(v) => return Err(LinkError::BadIpVersion(v)),
                None => {
                    return Err(LinkError::Truncated {
                        layer: "IP",
                        got: 0,
                        needed: 20,
                    })
                }
            };
            LaxSlicedPacket::from_ether_type(ether_type, data)
        }
        _ => return Err(LinkError::UnsupportedLinkType(link)),
    };
    let data_end = data.as_ptr() as usize + data.len();
    finish(&sliced, data_end)
}

/// The ethertype after the last link header, for "not IP" reports.
fn last_ether_type(p: &LaxSlicedPacket<'_>) -> u16 {
    match p.link_exts.last() {
        Some(LaxLinkExtSlice::Vlan(v)) => return v.ether_type().0,
        Some(LaxLinkExtSlice::Macsec(_)) => return EtherType::MACSEC.0,
        None => {}
    }
    match &p.link {
        Some(LinkSlice::Ethernet2(e)) => e.ether_type().0,
        Some(LinkSlice::EtherPayload(e)) => e.ether_type.0,
        // (not produced here: the SLL header is split off before etherparse runs)
        Some(LinkSlice::LinuxSll(_) | LinkSlice::LinuxSllPayload(_)) | None => 0,
    }
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::LinuxSllHeader => "Linux cooked (SLL)",
        Layer::Ethernet2Header => "Ethernet",
        Layer::EtherPayload => "Ethernet payload",
        Layer::VlanHeader => "VLAN",
        Layer::MacsecHeader | Layer::MacsecPacket => "MACsec",
        Layer::IpHeader => "IP",
        Layer::Ipv4Header | Layer::Ipv4Packet => "IPv4",
        Layer::IpAuthHeader => "IP authentication",
        Layer::Ipv6Header | Layer::Ipv6Packet => "IPv6",
        Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => "IPv6 extension",
        Layer::UdpHeader | Layer::UdpPayload => "UDP",
        Layer::TcpHeader => "TCP",
        Layer::Icmpv4 | Layer::Icmpv4Timestamp | Layer::Icmpv4TimestampReply => "ICMP",
        Layer::Icmpv6 => "ICMPv6",
        Layer::Igmp => "IGMP",
        Layer::Arp => "ARP",
    }
}

/// Maps etherparse's stop error to ours; `None` when it does not concern IP/TCP/UDP (a cut
/// ICMP or IGMP message is still an IP packet of that protocol).
fn stop_error(err: &SliceError, layer: Layer) -> Option<LinkError> {
    use etherparse::err::ip::HeaderError as IpError;
    use etherparse::err::ipv6_exts::HeaderError as ExtError;
    match layer {
        Layer::Icmpv4
        | Layer::Icmpv4Timestamp
        | Layer::Icmpv4TimestampReply
        | Layer::Icmpv6
        | Layer::Igmp => return None,
        Layer::Arp => return Some(LinkError::NotIp { ethertype: 0x0806 }),
        _ => {}
    }
    Some(match err {
        SliceError::Len(l) => LinkError::Truncated {
            layer: layer_name(l.layer),
            got: l.len,
            needed: l.required_len,
        },
        SliceError::Ip(IpError::UnsupportedIpVersion { version_number }) => {
            LinkError::BadIpVersion(*version_number)
        }
        SliceError::Ip(IpError::Ipv4HeaderLengthSmallerThanHeader { .. }) | SliceError::Ipv4(_) => {
            LinkError::Malformed {
                layer: "IPv4",
                reason: "header length (IHL) below 5 or wrong version",
            }
        }
        SliceError::Ipv6(_) => LinkError::Malformed {
            layer: "IPv6",
            reason: "wrong version",
        },
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(ExtError::IpAuth(_)) => {
            LinkError::Malformed {
                layer: "IP authentication",
                reason: "payload length too small",
            }
        }
        SliceError::Ipv6Exts(ExtError::HopByHopNotAtStart) => LinkError::Malformed {
            layer: "IPv6 extension",
            reason: "hop-by-hop options header not right after the IPv6 header",
        },
        SliceError::Tcp(_) => LinkError::Malformed {
            layer: "TCP",
            reason: "data offset below 5 (header shorter than 20 bytes)",
        },
        SliceError::Macsec(_) => LinkError::Malformed {
            layer: "MACsec",
            reason: "invalid MACsec header",
        },
        SliceError::LinuxSll(_) => LinkError::Malformed {
            layer: "Linux cooked (SLL)",
            reason: "invalid header",
        },
    })
}

fn tcp_segment<'a>(tcp: &TcpSlice<'a>, missing: usize) -> TcpSegment<'a> {
    let flags = tcp.header_slice().get(13).copied().unwrap_or(0);
    let (mut window_scale, mut mss) = (None, None);
    if flags & TcpSegment::SYN != 0 {
        for option in tcp.options_iterator() {
            match option {
                Ok(TcpOptionElement::MaximumSegmentSize(v)) => mss = Some(v),
                Ok(TcpOptionElement::WindowScale(s)) => window_scale = Some(s),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let payload = tcp.payload();
    TcpSegment {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        window_scale,
        mss,
        payload,
        payload_len: u32::try_from(payload.len().saturating_add(missing)).unwrap_or(u32::MAX),
    }
}

fn udp<'a>(udp: &UdpSlice<'a>) -> Transport<'a> {
    Transport::Udp {
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        payload: udp.payload(),
    }
}

/// Transport header of a first fragment (etherparse stops at fragmented payloads).
fn first_fragment_transport<'a>(
    payload: &LaxIpPayloadSlice<'a>,
    missing: usize,
) -> Result<Transport<'a>, LinkError> {
    let protocol = payload.ip_number.0;
    match protocol {
        6 => match TcpSlice::from_slice(payload.payload) {
            Ok(tcp) => Ok(Transport::Tcp(tcp_segment(&tcp, missing))),
            Err(etherparse::err::tcp::HeaderSliceError::Len(l)) => Err(LinkError::Truncated {
                layer: "TCP",
                got: l.len,
                needed: l.required_len,
            }),
            Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => Err(LinkError::Malformed {
                layer: "TCP",
                reason: "data offset below 5 (header shorter than 20 bytes)",
            }),
        },
        17 => match UdpSlice::from_slice_lax(payload.payload) {
            Ok(u) => Ok(udp(&u)),
            Err(l) => Err(LinkError::Truncated {
                layer: "UDP",
                got: l.len,
                needed: l.required_len,
            }),
        },
        protocol => Ok(Transport::Other { protocol }),
    }
}

fn finish<'a>(p: &LaxSlicedPacket<'a>, data_end: usize) -> Result<Decoded<'a>, LinkError> {
    let vlan = p.link_exts.iter().find_map(|e| match e {
        LaxLinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
        LaxLinkExtSlice::Macsec(_) => None,
    });
    let stop = p
        .stop_err
        .as_ref()
        .and_then(|(err, layer)| stop_error(err, *layer));
    let Some(net) = &p.net else {
        return Err(stop.unwrap_or(LinkError::NotIp {
            ethertype: last_ether_type(p),
        }));
    };
    // (src, dst, ttl, ip id, payload, bytes from the IP header to the end of the captured data
    // that the IP length field claims, fragment offset in bytes)
    let (src, dst, ttl, ip_id, payload, ip_start, declared, frag_offset) = match net {
        LaxNetSlice::Arp(_) => return Err(LinkError::NotIp { ethertype: 0x0806 }),
        LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                Some(h.identification()),
                ip.payload().clone(),
                h.slice().as_ptr() as usize,
                usize::from(h.total_len()),
                h.fragments_offset().byte_offset(),
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let h = ip.header();
            let frag_offset = if ip.payload().fragmented {
                ip.extensions()
                    .clone()
                    .into_iter()
                    .find_map(|ext| match ext {
                        etherparse::Ipv6ExtensionSlice::Fragment(f) => {
                            Some(f.fragment_offset().byte_offset())
                        }
                        _ => None,
                    })
                    .unwrap_or(0)
            } else {
                0
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                None,
                ip.payload().clone(),
                h.slice().as_ptr() as usize,
                40 + usize::from(h.payload_length()),
                frag_offset,
            )
        }
    };
    let missing = if payload.incomplete {
        declared.saturating_sub(data_end.saturating_sub(ip_start))
    } else {
        0
    };
    let protocol = payload.ip_number.0;
    let mut more_fragments = false;
    let transport = match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => Transport::Tcp(tcp_segment(tcp, missing)),
        Some(TransportSlice::Udp(u)) => udp(u),
        Some(_) => Transport::Other { protocol },
        None => {
            if let Some(err) = stop {
                return Err(err);
            }
            if payload.fragmented {
                if frag_offset != 0 {
                    return Err(LinkError::Fragment {
                        offset: frag_offset,
                        protocol,
                    });
                }
                more_fragments = true;
                first_fragment_transport(&payload, missing)?
            } else {
                Transport::Other { protocol }
            }
        }
    };
    Ok(Decoded {
        src,
        dst,
        ttl,
        ip_id,
        vlan,
        more_fragments,
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_families_in_either_byte_order() {
        for (link, bytes, want) in [
            (LinkType::NULL, [2, 0, 0, 0], EtherType::IPV4),
            (LinkType::NULL, [0, 0, 0, 2], EtherType::IPV4),
            (LinkType::NULL, [30, 0, 0, 0], EtherType::IPV6),
            (LinkType::NULL, [28, 0, 0, 0], EtherType::IPV6),
            (LinkType::LOOP, [0, 0, 0, 24], EtherType::IPV6),
            (LinkType::LOOP, [24, 0, 0, 0], EtherType::IPV6),
        ] {
            assert_eq!(
                loopback_ether_type(link, &bytes),
                Ok(want),
                "{link} {bytes:?}"
            );
        }
        assert_eq!(
            loopback_ether_type(LinkType::NULL, &[7, 0, 0, 0]),
            Err(LinkError::UnsupportedFamily {
                link: LinkType::NULL,
                family: 7
            })
        );
    }

    /// The fast path gives exactly what the general path gives, on every Ethernet packet of
    /// every fixture capture (and says how many it took).
    #[test]
    fn the_fast_path_agrees_with_etherparse_on_every_fixture_packet() {
        use crate::capture::source::PacketReader;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/captures");
        let (mut fast, mut total) = (0, 0);
        for sub in ["public", "peers", "crafted"] {
            let Ok(dir) = std::fs::read_dir(root.join(sub)) else {
                continue;
            };
            for f in dir.flatten().map(|e| e.path()) {
                if !f.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                    continue;
                }
                let mut r = PacketReader::open(&f).unwrap();
                while let Ok(Some(p)) = r.next_packet() {
                    if p.link != LinkType::ETHERNET {
                        continue;
                    }
                    total += 1;
                    if let Some(d) = fast_ethernet(p.data) {
                        fast += 1;
                        assert_eq!(
                            Ok(d),
                            decode_general(p.link, p.data),
                            "{} packet {}",
                            f.display(),
                            p.number
                        );
                    }
                }
            }
        }
        assert!(
            fast * 10 > total * 8,
            "the fast path took {fast} of {total}"
        );
    }
}
