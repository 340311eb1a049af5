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

/// Frame `n` of a real connection's PDU directory (`fixtures/pdu/peers/DIR/NNN-...bin`) and
/// whether the client sent it.
pub fn peer_frame(dir: &str, n: u32) -> (Vec<u8>, bool) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pdu/peers")
        .join(dir);
    let prefix = format!("{n:03}-");
    let e = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .unwrap_or_else(|| panic!("no frame {n} in {}", path.display()));
    let from_client = e.file_name().to_string_lossy().contains("-c2s-");
    (std::fs::read(e.path()).unwrap(), from_client)
}

/// The payload of the `n`th UDP datagram (from 0) of `fixtures/captures/public/FILE`, read with
/// the capture reader and link decoder.
pub fn capture_udp_payload(file: &str, n: usize) -> Vec<u8> {
    use crate::capture::link::{self, Transport};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/captures/public")
        .join(file);
    let mut reader = crate::capture::source::PacketReader::open(&path).unwrap();
    let mut seen = 0;
    while let Some(p) = reader.next_packet().unwrap() {
        if let Ok(d) = link::decode(p.link, p.data) {
            if let Transport::Udp { payload, .. } = d.transport {
                if seen == n {
                    return payload.to_vec();
                }
                seen += 1;
            }
        }
    }
    panic!("no UDP datagram {n} in {file}");
}

/// A rustls key log that keeps the NSS key log lines rdprobe writes (`active::keylog::line`).
#[derive(Debug, Default)]
pub struct KeyLogLines(pub std::sync::Mutex<String>);

impl rustls::KeyLog for KeyLogLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = crate::active::keylog::line(label, client_random, secret);
        self.0.lock().unwrap().push_str(&line);
    }
}

/// A rustls client and server for `name` in memory, restricted to `provider`'s suites and
/// `version`, the client logging its secrets into the returned key log.
pub fn tls_pair(
    name: &str,
    provider: rustls::crypto::CryptoProvider,
    version: &'static rustls::SupportedProtocolVersion,
) -> (
    rustls::ClientConnection,
    rustls::ServerConnection,
    std::sync::Arc<KeyLogLines>,
) {
    use std::sync::Arc;
    let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let provider = Arc::new(provider);
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let log = Arc::new(KeyLogLines::default());
    client.key_log = log.clone();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    (
        rustls::ClientConnection::new(Arc::new(client), server_name).unwrap(),
        rustls::ServerConnection::new(Arc::new(server)).unwrap(),
        log,
    )
}
