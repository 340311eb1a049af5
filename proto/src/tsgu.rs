//! [MS-TSGU] the Remote Desktop Gateway's HTTP transport packets (2.2.10): what travels in the
//! WebSocket binary frames (or the legacy RDG_IN_DATA / RDG_OUT_DATA bodies) between a client and
//! an RD Gateway. Little-endian; each packet is an HTTP_PACKET_HEADER (packetType, reserved,
//! packetLength including the header) and its body.
//!
//! [MS-TSGU]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tsgu/

use crate::codec::{fit, le_u16, le_u32, len_u16, len_u32, open_enum, take, too_large, u8};
use crate::{EncodeError, Layer, PResult, Pdu};

open_enum! {
    /// HTTP_PACKET_HEADER `packetType` (2.2.5.3).
    pub struct PacketType(u16) {
        PKT_TYPE_HANDSHAKE_REQUEST = 0x1,
        PKT_TYPE_HANDSHAKE_RESPONSE = 0x2,
        PKT_TYPE_EXTENDED_AUTH_MSG = 0x3,
        PKT_TYPE_TUNNEL_CREATE = 0x4,
        PKT_TYPE_TUNNEL_RESPONSE = 0x5,
        PKT_TYPE_TUNNEL_AUTH = 0x6,
        PKT_TYPE_TUNNEL_AUTH_RESPONSE = 0x7,
        PKT_TYPE_CHANNEL_CREATE = 0x8,
        PKT_TYPE_CHANNEL_RESPONSE = 0x9,
        PKT_TYPE_DATA = 0xA,
        PKT_TYPE_SERVICE_MESSAGE = 0xB,
        PKT_TYPE_REAUTH_MESSAGE = 0xC,
        PKT_TYPE_KEEPALIVE = 0xD,
        PKT_TYPE_CLOSE_CHANNEL = 0x10,
        PKT_TYPE_CLOSE_CHANNEL_RESPONSE = 0x11,
    }
}

/// The largest packet accepted: a DATA packet's 16-bit length and its headers.
pub const MAX_PACKET: usize = 0xFFFF + 10;

/// HTTP_TUNNEL_RESPONSE `fieldsPresent` bits.
pub const HTTP_TUNNEL_RESPONSE_FIELD_TUNNEL_ID: u16 = 0x01;
pub const HTTP_TUNNEL_RESPONSE_FIELD_CAPS: u16 = 0x02;
/// HTTP_TUNNEL_AUTH_RESPONSE `fieldsPresent` bits.
pub const HTTP_TUNNEL_AUTH_RESPONSE_FIELD_REDIR_FLAGS: u16 = 0x01;
pub const HTTP_TUNNEL_AUTH_RESPONSE_FIELD_IDLE_TIMEOUT: u16 = 0x02;
/// HTTP_CHANNEL_RESPONSE `fieldsPresent` bits (the optional fields come in this order:
/// channel id, UDP port, authentication cookie).
pub const HTTP_CHANNEL_RESPONSE_FIELD_CHANNELID: u16 = 0x01;
pub const HTTP_CHANNEL_RESPONSE_FIELD_AUTHNCOOKIE: u16 = 0x02;
pub const HTTP_CHANNEL_RESPONSE_FIELD_UDPPORT: u16 = 0x04;

/// One MS-TSGU HTTP transport packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// 2.2.10.10 HTTP_HANDSHAKE_REQUEST_PACKET
    HandshakeRequest {
        ver_major: u8,
        ver_minor: u8,
        client_version: u16,
        extended_auth: u16,
    },
    /// 2.2.10.11 HTTP_HANDSHAKE_RESPONSE_PACKET
    HandshakeResponse {
        error_code: u32,
        ver_major: u8,
        ver_minor: u8,
        server_version: u16,
        extended_auth: u16,
    },
    /// 2.2.10.18 HTTP_TUNNEL_PACKET: capabilities, and the optional fields raw (a PAA cookie).
    TunnelCreate {
        caps: u32,
        fields_present: u16,
        optional: &'a [u8],
    },
    /// 2.2.10.20 HTTP_TUNNEL_RESPONSE: the tunnel id and capabilities when present; the rest
    /// of the optional fields (SoH request, consent message) raw.
    TunnelResponse {
        server_version: u16,
        status_code: u32,
        fields_present: u16,
        tunnel_id: Option<u32>,
        caps: Option<u32>,
        rest: &'a [u8],
    },
    /// 2.2.10.14 HTTP_TUNNEL_AUTH_PACKET: the client's name (UTF-16LE), then raw fields.
    TunnelAuth {
        fields_present: u16,
        client_name: &'a [u8],
        rest: &'a [u8],
    },
    /// 2.2.10.16 HTTP_TUNNEL_AUTH_RESPONSE
    TunnelAuthResponse {
        error_code: u32,
        fields_present: u16,
        redir_flags: Option<u32>,
        idle_timeout: Option<u32>,
        rest: &'a [u8],
    },
    /// 2.2.10.2 HTTP_CHANNEL_PACKET: the resources (UTF-16LE names, each with its terminator),
    /// the port and the protocol (3: TCP).
    ChannelCreate {
        port: u16,
        protocol: u16,
        resources: Vec<&'a [u8]>,
        alt_resources: Vec<&'a [u8]>,
    },
    /// 2.2.10.4 HTTP_CHANNEL_RESPONSE
    ChannelResponse {
        error_code: u32,
        fields_present: u16,
        channel_id: Option<u32>,
        udp_port: Option<u16>,
        authn_cookie: Option<&'a [u8]>,
    },
    /// 2.2.10.6 HTTP_DATA_PACKET: the tunnelled bytes (the inner RDP connection).
    Data(&'a [u8]),
    /// 2.2.10.8 HTTP_CLOSE_PACKET (request and response): a status code.
    CloseChannel { response: bool, status_code: u32 },
    /// Any other packet (extended auth, service message, reauth, keepalive), its body raw.
    Other {
        packet_type: PacketType,
        body: &'a [u8],
    },
}

/// Most resources a channel request may name (one, and a few alternatives, in practice).
const MAX_RESOURCES: usize = 16;

fn blob<'a>(i: &'a [u8], ctx: &'static str) -> PResult<'a, &'a [u8]> {
    let (i, n) = le_u16(ctx)(i)?;
    take(i, n.into(), ctx)
}

fn put_blob(dst: &mut Vec<u8>, b: &[u8], ctx: &'static str) -> Result<(), EncodeError> {
    fit("MS-TSGU packet", ctx, b.len(), 0xFFFF)?;
    dst.extend_from_slice(&len_u16(b.len()).to_le_bytes());
    dst.extend_from_slice(b);
    Ok(())
}

impl<'a> Packet<'a> {
    /// Its packetType.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::HandshakeRequest { .. } => PacketType::PKT_TYPE_HANDSHAKE_REQUEST,
            Self::HandshakeResponse { .. } => PacketType::PKT_TYPE_HANDSHAKE_RESPONSE,
            Self::TunnelCreate { .. } => PacketType::PKT_TYPE_TUNNEL_CREATE,
            Self::TunnelResponse { .. } => PacketType::PKT_TYPE_TUNNEL_RESPONSE,
            Self::TunnelAuth { .. } => PacketType::PKT_TYPE_TUNNEL_AUTH,
            Self::TunnelAuthResponse { .. } => PacketType::PKT_TYPE_TUNNEL_AUTH_RESPONSE,
            Self::ChannelCreate { .. } => PacketType::PKT_TYPE_CHANNEL_CREATE,
            Self::ChannelResponse { .. } => PacketType::PKT_TYPE_CHANNEL_RESPONSE,
            Self::Data(_) => PacketType::PKT_TYPE_DATA,
            Self::CloseChannel {
                response: false, ..
            } => PacketType::PKT_TYPE_CLOSE_CHANNEL,
            Self::CloseChannel { response: true, .. } => {
                PacketType::PKT_TYPE_CLOSE_CHANNEL_RESPONSE
            }
            Self::Other { packet_type, .. } => *packet_type,
        }
    }

    /// The error or status code a server answer carries (0: success).
    pub fn error_code(&self) -> Option<u32> {
        match self {
            Self::HandshakeResponse { error_code, .. }
            | Self::TunnelAuthResponse { error_code, .. }
            | Self::ChannelResponse { error_code, .. } => Some(*error_code),
            Self::TunnelResponse { status_code, .. } | Self::CloseChannel { status_code, .. } => {
                Some(*status_code)
            }
            _ => None,
        }
    }

    fn parse_body(ty: PacketType, b: &'a [u8]) -> PResult<'a, Self> {
        Ok(match ty {
            PacketType::PKT_TYPE_HANDSHAKE_REQUEST => {
                let (b, ver_major) = u8("verMajor")(b)?;
                let (b, ver_minor) = u8("verMinor")(b)?;
                let (b, client_version) = le_u16("clientVersion")(b)?;
                let (b, extended_auth) = le_u16("extendedAuth")(b)?;
                (
                    b,
                    Self::HandshakeRequest {
                        ver_major,
                        ver_minor,
                        client_version,
                        extended_auth,
                    },
                )
            }
            PacketType::PKT_TYPE_HANDSHAKE_RESPONSE => {
                let (b, error_code) = le_u32("errorCode")(b)?;
                let (b, ver_major) = u8("verMajor")(b)?;
                let (b, ver_minor) = u8("verMinor")(b)?;
                let (b, server_version) = le_u16("serverVersion")(b)?;
                let (b, extended_auth) = le_u16("extendedAuth")(b)?;
                (
                    b,
                    Self::HandshakeResponse {
                        error_code,
                        ver_major,
                        ver_minor,
                        server_version,
                        extended_auth,
                    },
                )
            }
            PacketType::PKT_TYPE_TUNNEL_CREATE => {
                let (b, caps) = le_u32("capsFlags")(b)?;
                let (b, fields_present) = le_u16("fieldsPresent")(b)?;
                let (b, _) = le_u16("reserved")(b)?;
                (
                    &[],
                    Self::TunnelCreate {
                        caps,
                        fields_present,
                        optional: b,
                    },
                )
            }
            PacketType::PKT_TYPE_TUNNEL_RESPONSE => {
                let (b, server_version) = le_u16("serverVersion")(b)?;
                let (b, status_code) = le_u32("statusCode")(b)?;
                let (b, fields_present) = le_u16("fieldsPresent")(b)?;
                let (mut b, _) = le_u16("reserved")(b)?;
                let mut tunnel_id = None;
                if fields_present & HTTP_TUNNEL_RESPONSE_FIELD_TUNNEL_ID != 0 {
                    let (r, v) = le_u32("tunnelId")(b)?;
                    tunnel_id = Some(v);
                    b = r;
                }
                let mut caps = None;
                if fields_present & HTTP_TUNNEL_RESPONSE_FIELD_CAPS != 0 {
                    let (r, v) = le_u32("capsFlags")(b)?;
                    caps = Some(v);
                    b = r;
                }
                (
                    &[],
                    Self::TunnelResponse {
                        server_version,
                        status_code,
                        fields_present,
                        tunnel_id,
                        caps,
                        rest: b,
                    },
                )
            }
            PacketType::PKT_TYPE_TUNNEL_AUTH => {
                let (b, fields_present) = le_u16("fieldsPresent")(b)?;
                let (b, client_name) = blob(b, "clientName")?;
                (
                    &[],
                    Self::TunnelAuth {
                        fields_present,
                        client_name,
                        rest: b,
                    },
                )
            }
            PacketType::PKT_TYPE_TUNNEL_AUTH_RESPONSE => {
                let (b, error_code) = le_u32("errorCode")(b)?;
                let (b, fields_present) = le_u16("fieldsPresent")(b)?;
                let (mut b, _) = le_u16("reserved")(b)?;
                let mut redir_flags = None;
                if fields_present & HTTP_TUNNEL_AUTH_RESPONSE_FIELD_REDIR_FLAGS != 0 {
                    let (r, v) = le_u32("redirFlags")(b)?;
                    redir_flags = Some(v);
                    b = r;
                }
                let mut idle_timeout = None;
                if fields_present & HTTP_TUNNEL_AUTH_RESPONSE_FIELD_IDLE_TIMEOUT != 0 {
                    let (r, v) = le_u32("idleTimeout")(b)?;
                    idle_timeout = Some(v);
                    b = r;
                }
                (
                    &[],
                    Self::TunnelAuthResponse {
                        error_code,
                        fields_present,
                        redir_flags,
                        idle_timeout,
                        rest: b,
                    },
                )
            }
            PacketType::PKT_TYPE_CHANNEL_CREATE => {
                let (b, n) = u8("numResources")(b)?;
                let (b, n_alt) = u8("numAltResources")(b)?;
                if usize::from(n) + usize::from(n_alt) > MAX_RESOURCES {
                    return too_large(
                        b,
                        "numResources",
                        MAX_RESOURCES,
                        usize::from(n) + usize::from(n_alt),
                    );
                }
                let (b, port) = le_u16("port")(b)?;
                let (mut b, protocol) = le_u16("protocol")(b)?;
                let mut resources = Vec::with_capacity(n.into());
                for _ in 0..n {
                    let (r, s) = blob(b, "resourceName")?;
                    resources.push(s);
                    b = r;
                }
                let mut alt_resources = Vec::with_capacity(n_alt.into());
                for _ in 0..n_alt {
                    let (r, s) = blob(b, "altResourceName")?;
                    alt_resources.push(s);
                    b = r;
                }
                (
                    b,
                    Self::ChannelCreate {
                        port,
                        protocol,
                        resources,
                        alt_resources,
                    },
                )
            }
            PacketType::PKT_TYPE_CHANNEL_RESPONSE => {
                let (b, error_code) = le_u32("errorCode")(b)?;
                let (b, fields_present) = le_u16("fieldsPresent")(b)?;
                let (mut b, _) = le_u16("reserved")(b)?;
                let mut channel_id = None;
                if fields_present & HTTP_CHANNEL_RESPONSE_FIELD_CHANNELID != 0 {
                    let (r, v) = le_u32("channelId")(b)?;
                    channel_id = Some(v);
                    b = r;
                }
                let mut udp_port = None;
                if fields_present & HTTP_CHANNEL_RESPONSE_FIELD_UDPPORT != 0 {
                    let (r, v) = le_u16("udpPort")(b)?;
                    udp_port = Some(v);
                    b = r;
                }
                let mut authn_cookie = None;
                if fields_present & HTTP_CHANNEL_RESPONSE_FIELD_AUTHNCOOKIE != 0 {
                    let (r, v) = blob(b, "authnCookie")?;
                    authn_cookie = Some(v);
                    b = r;
                }
                (
                    b,
                    Self::ChannelResponse {
                        error_code,
                        fields_present,
                        channel_id,
                        udp_port,
                        authn_cookie,
                    },
                )
            }
            PacketType::PKT_TYPE_DATA => {
                let (b, data) = blob(b, "data")?;
                (b, Self::Data(data))
            }
            PacketType::PKT_TYPE_CLOSE_CHANNEL | PacketType::PKT_TYPE_CLOSE_CHANNEL_RESPONSE => {
                let (b, status_code) = le_u32("statusCode")(b)?;
                (
                    b,
                    Self::CloseChannel {
                        response: ty == PacketType::PKT_TYPE_CLOSE_CHANNEL_RESPONSE,
                        status_code,
                    },
                )
            }
            other => (
                &[],
                Self::Other {
                    packet_type: other,
                    body: b,
                },
            ),
        })
    }

    fn body_len(&self) -> usize {
        match self {
            Self::HandshakeRequest { .. } => 6,
            Self::HandshakeResponse { .. } => 10,
            Self::TunnelCreate { optional, .. } => 8 + optional.len(),
            Self::TunnelResponse {
                tunnel_id,
                caps,
                rest,
                ..
            } => 10 + tunnel_id.map_or(0, |_| 4) + caps.map_or(0, |_| 4) + rest.len(),
            Self::TunnelAuth {
                client_name, rest, ..
            } => 4 + client_name.len() + rest.len(),
            Self::TunnelAuthResponse {
                redir_flags,
                idle_timeout,
                rest,
                ..
            } => 8 + redir_flags.map_or(0, |_| 4) + idle_timeout.map_or(0, |_| 4) + rest.len(),
            Self::ChannelCreate {
                resources,
                alt_resources,
                ..
            } => {
                6 + resources
                    .iter()
                    .chain(alt_resources)
                    .map(|r| 2 + r.len())
                    .sum::<usize>()
            }
            Self::ChannelResponse {
                channel_id,
                udp_port,
                authn_cookie,
                ..
            } => {
                8 + channel_id.map_or(0, |_| 4)
                    + udp_port.map_or(0, |_| 2)
                    + authn_cookie.map_or(0, |c| 2 + c.len())
            }
            Self::Data(d) => 2 + d.len(),
            Self::CloseChannel { .. } => 4,
            Self::Other { body, .. } => body.len(),
        }
    }
}

impl<'a> Pdu<'a> for Packet<'a> {
    const NAME: &'static str = "MS-TSGU packet";
    const LAYER: Layer = Layer::Tsgu;

    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (r, ty) = le_u16("packetType")(i)?;
        let (r, _) = le_u16("reserved")(r)?;
        let (r, len) = le_u32("packetLength")(r)?;
        let len = len as usize;
        if len > MAX_PACKET {
            return too_large(r, "packetLength", MAX_PACKET, len);
        }
        let Some(body_len) = len.checked_sub(8) else {
            return crate::codec::invalid(r, "packetLength", "shorter than its header");
        };
        let (rest, body) = take(r, body_len, "packet body")?;
        let (_, packet) = Self::parse_body(PacketType(ty), body)?;
        Ok((rest, packet))
    }

    fn encoded_len(&self) -> usize {
        8 + self.body_len()
    }

    fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        fit(Self::NAME, "packetLength", len, MAX_PACKET)?;
        dst.extend_from_slice(&self.packet_type().0.to_le_bytes());
        dst.extend_from_slice(&[0, 0]);
        dst.extend_from_slice(&len_u32(len).to_le_bytes());
        match self {
            Self::HandshakeRequest {
                ver_major,
                ver_minor,
                client_version,
                extended_auth,
            } => {
                dst.extend_from_slice(&[*ver_major, *ver_minor]);
                dst.extend_from_slice(&client_version.to_le_bytes());
                dst.extend_from_slice(&extended_auth.to_le_bytes());
            }
            Self::HandshakeResponse {
                error_code,
                ver_major,
                ver_minor,
                server_version,
                extended_auth,
            } => {
                dst.extend_from_slice(&error_code.to_le_bytes());
                dst.extend_from_slice(&[*ver_major, *ver_minor]);
                dst.extend_from_slice(&server_version.to_le_bytes());
                dst.extend_from_slice(&extended_auth.to_le_bytes());
            }
            Self::TunnelCreate {
                caps,
                fields_present,
                optional,
            } => {
                dst.extend_from_slice(&caps.to_le_bytes());
                dst.extend_from_slice(&fields_present.to_le_bytes());
                dst.extend_from_slice(&[0, 0]);
                dst.extend_from_slice(optional);
            }
            Self::TunnelResponse {
                server_version,
                status_code,
                fields_present,
                tunnel_id,
                caps,
                rest,
            } => {
                dst.extend_from_slice(&server_version.to_le_bytes());
                dst.extend_from_slice(&status_code.to_le_bytes());
                dst.extend_from_slice(&fields_present.to_le_bytes());
                dst.extend_from_slice(&[0, 0]);
                for v in [tunnel_id, caps].into_iter().flatten() {
                    dst.extend_from_slice(&v.to_le_bytes());
                }
                dst.extend_from_slice(rest);
            }
            Self::TunnelAuth {
                fields_present,
                client_name,
                rest,
            } => {
                dst.extend_from_slice(&fields_present.to_le_bytes());
                put_blob(dst, client_name, "clientName")?;
                dst.extend_from_slice(rest);
            }
            Self::TunnelAuthResponse {
                error_code,
                fields_present,
                redir_flags,
                idle_timeout,
                rest,
            } => {
                dst.extend_from_slice(&error_code.to_le_bytes());
                dst.extend_from_slice(&fields_present.to_le_bytes());
                dst.extend_from_slice(&[0, 0]);
                for v in [redir_flags, idle_timeout].into_iter().flatten() {
                    dst.extend_from_slice(&v.to_le_bytes());
                }
                dst.extend_from_slice(rest);
            }
            Self::ChannelCreate {
                port,
                protocol,
                resources,
                alt_resources,
            } => {
                fit(Self::NAME, "numResources", resources.len(), 0xFF)?;
                fit(Self::NAME, "numAltResources", alt_resources.len(), 0xFF)?;
                dst.push(crate::codec::len_u8(resources.len()));
                dst.push(crate::codec::len_u8(alt_resources.len()));
                dst.extend_from_slice(&port.to_le_bytes());
                dst.extend_from_slice(&protocol.to_le_bytes());
                for r in resources.iter().chain(alt_resources) {
                    put_blob(dst, r, "resourceName")?;
                }
            }
            Self::ChannelResponse {
                error_code,
                fields_present,
                channel_id,
                udp_port,
                authn_cookie,
            } => {
                dst.extend_from_slice(&error_code.to_le_bytes());
                dst.extend_from_slice(&fields_present.to_le_bytes());
                dst.extend_from_slice(&[0, 0]);
                if let Some(v) = channel_id {
                    dst.extend_from_slice(&v.to_le_bytes());
                }
                if let Some(v) = udp_port {
                    dst.extend_from_slice(&v.to_le_bytes());
                }
                if let Some(c) = authn_cookie {
                    put_blob(dst, c, "authnCookie")?;
                }
            }
            Self::Data(d) => put_blob(dst, d, "data")?,
            Self::CloseChannel { status_code, .. } => {
                dst.extend_from_slice(&status_code.to_le_bytes())
            }
            Self::Other { body, .. } => dst.extend_from_slice(body),
        }
        Ok(())
    }
}

/// Splits a tunnel's byte stream into MS-TSGU packets (each HTTP_PACKET_HEADER's
/// packetLength, bounded to [`MAX_PACKET`]).
#[derive(Debug, Default)]
pub struct PacketReader {
    buf: Vec<u8>,
}

impl PacketReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet's bytes, None until one is complete; Err when the header is
    /// impossible.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some(&[_, _, _, _, a, b, c, d]) = self.buf.first_chunk::<8>() else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([a, b, c, d]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if !(8..=MAX_PACKET).contains(&len) {
            return Err(format!(
                "an MS-TSGU packet length of {len} (8 to {} allowed)",
                MAX_PACKET
            ));
        }
        if self.buf.len() < len {
            return Ok(None);
        }
        Ok(Some(self.buf.drain(..len).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode_vec};

    /// The packets of a successful session as research/gateway-udp-kerberos.md 2.1 records them
    /// (a Windows RD Gateway and mstsc): the handshake, the tunnel, the channel to RDSH01:3389.
    #[test]
    fn a_windows_gateway_session() {
        let req = [0x01, 0, 0, 0, 0x0e, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 0];
        assert_eq!(
            decode::<Packet>(&req).unwrap(),
            Packet::HandshakeRequest {
                ver_major: 1,
                ver_minor: 0,
                client_version: 0,
                extended_auth: 0
            }
        );
        let resp = [
            0x02, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0x07, 0,
        ];
        let p = decode::<Packet>(&resp).unwrap();
        assert_eq!(p.error_code(), Some(0));
        assert!(matches!(
            p,
            Packet::HandshakeResponse {
                extended_auth: 7,
                ..
            }
        ));
        assert_eq!(encode_vec(&p).unwrap(), resp);
        // A channel request naming one resource, port 3389, TCP.
        let name: Vec<u8> = "RDSH01\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let ch = Packet::ChannelCreate {
            port: 3389,
            protocol: 3,
            resources: vec![&name],
            alt_resources: vec![],
        };
        let bytes = encode_vec(&ch).unwrap();
        assert_eq!(decode::<Packet>(&bytes).unwrap(), ch);
        // A refusal: E_PROXY_RAP_ACCESSDENIED in the channel response.
        let refused = Packet::ChannelResponse {
            error_code: 0x8007_59DA,
            fields_present: 0,
            channel_id: None,
            udp_port: None,
            authn_cookie: None,
        };
        let bytes = encode_vec(&refused).unwrap();
        assert_eq!(
            decode::<Packet>(&bytes).unwrap().error_code(),
            Some(0x8007_59DA)
        );
        // A length shorter than the header, or past the limit, is refused.
        assert!(decode::<Packet>(&[0x0a, 0, 0, 0, 4, 0, 0, 0]).is_err());
        assert!(decode::<Packet>(&[0x0a, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
