//! The real PDUs of `fixtures/pdu/` for unit tests (test builds only).

/// `fixtures/pdu/REL`, e.g. `peers/credssp/shadow-nla_x224_cc.bin`.
pub fn pdu(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pdu")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The server flight of Zeek's `rdp-to-ssl` capture (TLS 1.0: ServerHello, Certificate,
/// ServerHelloDone), a real Windows Server 2008 R2.
pub fn zeek_tls10_flight() -> Vec<u8> {
    pdu("zeek__rdp-to-ssl/004-s2c-tls-handshake-server-hello.bin")
}
