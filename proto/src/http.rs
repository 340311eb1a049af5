//! [RFC 9112 4] an HTTP/1.1 response head (status line and header fields), as an RD Gateway
//! answers RDG_OUT_DATA: 101 to a WebSocket upgrade, 401 with its authentication schemes, 404,
//! 501, 503. Read with `httparse` (hyper's parser: zero-copy, no allocation but the list of
//! fields), bounded to [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields.
//!
//! [RFC 9112 4]: https://www.rfc-editor.org/rfc/rfc9112#section-4

use crate::{DecodeError, DecodeErrorKind, Layer};

/// The largest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields accepted.
pub const MAX_HEADERS: usize = 64;

/// A response's status line and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// HTTP/1.x
    pub minor_version: u8,
    pub status: u16,
    pub reason: &'a str,
    /// Each field's name and raw value, in order.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// Bytes of the head, the empty line included (the body follows).
    pub len: usize,
}

impl<'a> ResponseHead<'a> {
    /// Every value of the field `name` (case-insensitive), in order.
    pub fn values(&self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first value of `name` as text (lossy).
    pub fn value(&self, name: &'a str) -> Option<String> {
        self.values(name)
            .next()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

fn error(offset: usize, context: &'static str, kind: DecodeErrorKind) -> DecodeError {
    DecodeError {
        layer: Layer::Http,
        context,
        offset,
        kind,
    }
}

/// Reads the head at the start of `buf`: Ok(None) while it is incomplete (and within
/// [`MAX_HEAD`]), an error when it is not an HTTP/1.x response or too large.
pub fn parse_response(buf: &[u8]) -> Result<Option<ResponseHead<'_>>, DecodeError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            if len > MAX_HEAD {
                return Err(error(
                    0,
                    "response head",
                    DecodeErrorKind::TooLarge {
                        limit: MAX_HEAD,
                        got: len,
                    },
                ));
            }
            let headers = response.headers.iter().map(|h| (h.name, h.value)).collect();
            Ok(Some(ResponseHead {
                minor_version: response.version.unwrap_or(1),
                status: response.code.unwrap_or(0),
                reason: response.reason.unwrap_or(""),
                headers,
                len,
            }))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(error(
            0,
            "response head",
            DecodeErrorKind::TooLarge {
                limit: MAX_HEAD,
                got: buf.len(),
            },
        )),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => {
            let reason = match e {
                httparse::Error::TooManyHeaders => "more than 64 header fields",
                httparse::Error::Version => "not an HTTP/1.x response",
                httparse::Error::Status => "no valid status code",
                _ => "not an HTTP response head",
            };
            Err(error(
                0,
                "response head",
                DecodeErrorKind::InvalidField { reason },
            ))
        }
    }
}

/// A request's method, target and header fields (a client's `RDG_OUT_DATA
/// /remoteDesktopGateway/`, as a capture shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Each field's name and raw value, in order.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// Bytes of the head, the empty line included (the body follows).
    pub len: usize,
}

impl<'a> RequestHead<'a> {
    /// The first value of `name` (case-insensitive) as text (lossy).
    pub fn value(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Reads the request head at the start of `buf`, bounded as [`parse_response`] is.
pub fn parse_request(buf: &[u8]) -> Result<Option<RequestHead<'_>>, DecodeError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let too_large = |got| {
        error(
            0,
            "request head",
            DecodeErrorKind::TooLarge {
                limit: MAX_HEAD,
                got,
            },
        )
    };
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => Err(too_large(len)),
        Ok(httparse::Status::Complete(len)) => Ok(Some(RequestHead {
            method: request.method.unwrap_or(""),
            path: request.path.unwrap_or(""),
            headers: request.headers.iter().map(|h| (h.name, h.value)).collect(),
            len,
        })),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(too_large(buf.len())),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => {
            let reason = match e {
                httparse::Error::TooManyHeaders => "more than 64 header fields",
                httparse::Error::Version => "not an HTTP/1.x request",
                _ => "not an HTTP request head",
            };
            Err(error(
                0,
                "request head",
                DecodeErrorKind::InvalidField { reason },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mstsc's request as research/gateway-udp-kerberos.md 2.1 records it.
    #[test]
    fn an_rdg_request() {
        let r = b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nRDG-Connection-Id: {1}\r\n\r\n\x01";
        let h = parse_request(r).unwrap().unwrap();
        assert_eq!(
            (h.method, h.path),
            ("RDG_OUT_DATA", "/remoteDesktopGateway/")
        );
        assert_eq!(h.value("rdg-connection-id").as_deref(), Some("{1}"));
        assert_eq!(&r[h.len..], b"\x01");
        assert_eq!(parse_request(b"RDG_OUT_DATA / HTT").unwrap(), None);
        assert!(parse_request(b"\x16\x03\x01\x02\x00").is_err());
    }

    /// A Windows RD Gateway's 401 to an anonymous RDG_OUT_DATA (the fields FreeRDP#4781 and
    /// research/gateway-udp-kerberos.md 2.1 record), a 101, and what is not a response.
    #[test]
    fn a_gateway_401_and_101() {
        let r401 = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nServer: Microsoft-HTTPAPI/2.0\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nWWW-Authenticate: Basic realm=\"gw01\"\r\nContent-Length: 341\r\n\r\n<html>";
        let h = parse_response(r401).unwrap().unwrap();
        assert_eq!((h.status, h.reason), (401, "Unauthorized"));
        let schemes: Vec<&[u8]> = h.values("www-authenticate").collect();
        assert_eq!(schemes.len(), 3);
        assert_eq!(h.value("server").as_deref(), Some("Microsoft-HTTPAPI/2.0"));
        assert_eq!(&r401[h.len..], b"<html>");
        let r101 = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(parse_response(r101).unwrap().unwrap().status, 101);
        assert_eq!(parse_response(b"HTTP/1.1 401 Unauth").unwrap(), None);
        assert!(parse_response(b"\x03\x00\x00\x13\x0e\xd0").is_err());
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert!(parse_response(&big).is_err());
    }
}
