//! TLS records, handshake messages and the X.509 certificates inside them.

use rdp_proto::tls::{self as ptls, ContentType, HandshakeType};
use rdp_proto::{decode_prefix, DecodeError};

use crate::facts::cert::CertFacts;
use crate::time::rfc3339;

use super::*;

/// An X.509 certificate's facts ([`CertFacts`]).
pub fn x509_node(input: &[u8], der: &[u8]) -> Node {
    let mut n = Node::new("Certificate (X.509)", input, der);
    match CertFacts::try_parse(der) {
        Ok(c) => {
            n.f("subject", c.subject.clone())
                .f("issuer", c.issuer.clone())
                .f("serial", c.serial.clone())
                .f("notBefore", rfc3339(c.not_before))
                .f("notAfter", rfc3339(c.not_after));
            if !c.sans.is_empty() {
                n.f("subjectAltName", c.sans.clone());
            }
            n.f("publicKey", format!("{} {} bits", c.key_type, c.key_bits));
            n.f("signature", c.signature.clone());
        }
        Err(e) => n.error = Some(format!("X.509: {e}")),
    }
    n
}

pub(super) fn tls_record_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let rec: ptls::Record = dec(input, part)?;
    let mut n = Node::new(format!("TLS record: {}", rec.content_type), input, part);
    n.f("version", rec.version.label())
        .f("length", rec.fragment.len());
    match rec.content_type {
        ContentType::HANDSHAKE => {
            let mut frag = rec.fragment;
            while !frag.is_empty() {
                match decode_prefix::<ptls::Handshake>(frag) {
                    Ok((rest, hs)) if hs.msg_type.name().is_some() => {
                        let whole = &frag[..frag.len() - rest.len()];
                        n.child(handshake_node(input, whole, &hs));
                        frag = rest;
                    }
                    _ => {
                        n.f("encrypted handshake data", frag.len());
                        break;
                    }
                }
            }
        }
        ContentType::ALERT if rec.fragment.len() == 2 => {
            let a: ptls::Alert = dec(input, rec.fragment)?;
            let mut x = Node::new("Alert", input, rec.fragment);
            x.f("level", a.level.to_string())
                .f("description", a.description.to_string());
            n.child(x);
        }
        ContentType::ALERT => {
            n.f("encrypted alert", rec.fragment.len());
        }
        _ => {}
    }
    Ok(n)
}

pub(super) fn handshake_node(input: &[u8], whole: &[u8], hs: &ptls::Handshake<'_>) -> Node {
    let mut n = Node::new(format!("Handshake: {}", hs.msg_type), input, whole);
    let body = hs.body;
    let r: Result<(), DecodeError> = (|| {
        match hs.msg_type {
            HandshakeType::CLIENT_HELLO => {
                let ch: ptls::ClientHello = dec(input, body)?;
                n.f("legacy_version", ch.version.label())
                    .f(
                        "versions",
                        ch.versions().iter().map(|v| v.label()).collect::<Vec<_>>(),
                    )
                    .f("random", hex::encode(ch.random))
                    .f("legacy_session_id", hex::encode(ch.session_id))
                    .f(
                        "cipher_suites",
                        ch.cipher_suites()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>(),
                    )
                    .f(
                        "extensions",
                        ch.extensions()
                            .map(|e| e.ext_type.to_string())
                            .collect::<Vec<_>>(),
                    );
                if let Some(sni) = ch.sni() {
                    n.f("server_name", wire_text(sni));
                }
            }
            HandshakeType::SERVER_HELLO => {
                let sh: ptls::ServerHello = dec(input, body)?;
                n.f("legacy_version", sh.version.label())
                    .f("selected version", sh.selected_version().label())
                    .f("cipher_suite", sh.cipher_suite.to_string())
                    .f("random", hex::encode(sh.random))
                    .f(
                        "extensions",
                        sh.extensions()
                            .map(|e| e.ext_type.to_string())
                            .collect::<Vec<_>>(),
                    );
                if sh.is_hello_retry_request() {
                    n.f("HelloRetryRequest", true);
                }
            }
            HandshakeType::CERTIFICATE => {
                let c: ptls::Certificate = dec(input, body)?;
                n.f("certificates", c.certificates.len());
                for der in &c.certificates {
                    n.child(x509_node(input, der));
                }
            }
            _ => {
                n.f("body length", body.len());
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        n.error = Some(e.to_string());
    }
    n
}
