//! The real-peer harness (`rdp_tests::peers`): xrdp in its configurations and FreeRDP's NLA
//! shadow server, started here on ephemeral loopback ports. Each test skips loudly when a peer
//! cannot run (`sudo .ci/install-peers.sh` installs them) and fails instead with
//! RDPROBE_REQUIRE_PEERS=1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use rdp_proto::decode_prefix;
use rdp_proto::tls::{
    AlertDescription, Certificate, ContentType, Handshake, HandshakeType, ProbeHello,
    ProtocolVersion, Record, ServerHello,
};
use rdp_proto::x224::{NegotiationResult, Tpdu};
use rdp_tests::peers::{
    self, or_skip, or_skip_with, Cert, CryptLevel, Peer, Security, Unavailable, XrdpConfig,
};
use rdp_tests::read;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// xfreerdp's default X.224 Connection Request: cookie, RDP_NEG_REQ for SSL|HYBRID.
fn xfreerdp_cr() -> Vec<u8> {
    read("pdu/peers/credssp/xfreerdp_x224_cr.bin")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Sends xfreerdp's CR and returns the 19-byte Connection Confirm.
fn connection_confirm(s: &mut TcpStream) -> [u8; 19] {
    s.write_all(&xfreerdp_cr()).unwrap();
    let mut cc = [0u8; 19];
    s.read_exact(&mut cc).unwrap();
    cc
}

/// The CC's RDP_NEG_RSP: (flags, selectedProtocol), decoded with rdp_proto.
fn negotiation_response(cc: &[u8]) -> (u8, u32) {
    let (rest, (_, tpdu)) = Tpdu::parse_tpkt(cc).unwrap();
    assert!(rest.is_empty(), "bytes after the CC: {rest:02x?}");
    let Tpdu::ConnectionConfirm(cc) = tpdu else {
        panic!("not a Connection Confirm: {tpdu:?}")
    };
    match cc.negotiation {
        Some(NegotiationResult::Response(r)) => (r.flags.bits(), r.selected_protocol.bits()),
        other => panic!("not an RDP_NEG_RSP: {other:?}"),
    }
}

/// Connects, negotiates with xfreerdp's CR and checks the selected protocol both from the raw
/// byte (offset 15) and from rdp_proto's decoding.
fn assert_selects(peer: &Peer, want: u32, want_flags: Option<u8>) {
    let mut s = connect(peer.addr());
    let cc = connection_confirm(&mut s);
    let ctx = format!(
        "{} on {}: CC {cc:02x?}\n{}",
        peer.describe(),
        peer.port,
        peer.logs()
    );
    assert_eq!(u32::from(cc[15]), want, "selectedProtocol byte, {ctx}");
    let (flags, selected) = negotiation_response(&cc);
    assert_eq!(selected, want, "{ctx}");
    if let Some(f) = want_flags {
        assert_eq!(flags, f, "RDP_NEG_RSP flags, {ctx}");
    }
}

/// [`or_skip`], and the start-up time on stderr (`--nocapture` shows it).
fn started(r: Result<Peer, Unavailable>) -> Option<Peer> {
    let peer = or_skip(r)?;
    eprintln!(
        "started {} on port {} in {:?}",
        peer.describe(),
        peer.port,
        peer.started_in()
    );
    Some(peer)
}

fn rdp_high() -> XrdpConfig {
    XrdpConfig {
        security: Security::Rdp,
        crypt_level: CryptLevel::High,
        cert: Cert::Default,
        tls_protocols: None,
    }
}

fn tls_expired_12() -> XrdpConfig {
    XrdpConfig {
        security: Security::Tls,
        crypt_level: CryptLevel::High,
        cert: Cert::Expired,
        tls_protocols: Some("TLSv1.2"),
    }
}

fn negotiate() -> XrdpConfig {
    XrdpConfig {
        security: Security::Negotiate,
        ..XrdpConfig::default()
    }
}

#[test]
fn four_peers_at_once_select_what_the_notes_say() {
    // Started concurrently, all alive at the same time.
    let started = std::thread::scope(|s| {
        let jobs = [
            s.spawn(|| peers::xrdp(&rdp_high())),
            s.spawn(|| peers::xrdp(&tls_expired_12())),
            s.spawn(|| peers::xrdp(&negotiate())),
            s.spawn(peers::shadow_nla),
        ];
        jobs.map(|j| j.join().unwrap())
    });
    // xrdp: rdp selects RDP even for SSL|HYBRID; tls and negotiate select SSL (no CredSSP);
    // its RDP_NEG_RSP flags are always 0x01. Shadow with NLA selects HYBRID, flags 0x03.
    let expected = [
        (0, Some(0x01)),
        (1, Some(0x01)),
        (1, Some(0x01)),
        (2, Some(0x03)),
    ];
    let running: Vec<(Peer, (u32, Option<u8>))> = started
        .into_iter()
        .zip(expected)
        .filter_map(|(r, e)| or_skip(r).map(|p| (p, e)))
        .collect();
    for (p, _) in &running {
        eprintln!(
            "started (4 at once) {} on port {} in {:?}",
            p.describe(),
            p.port,
            p.started_in()
        );
    }
    let mut ports: Vec<u16> = running.iter().map(|(p, _)| p.port).collect();
    let mut groups: Vec<u32> = running.iter().map(|(p, _)| p.pgid()).collect();
    ports.sort_unstable();
    ports.dedup();
    groups.sort_unstable();
    groups.dedup();
    assert_eq!(ports.len(), running.len(), "ports are unique");
    assert_eq!(groups.len(), running.len(), "process groups are unique");
    // The handshakes run concurrently too.
    std::thread::scope(|s| {
        for (peer, (want, flags)) in &running {
            s.spawn(move || assert_selects(peer, *want, *flags));
        }
    });
}

#[test]
fn shadow_nla_refuses_a_request_without_hybrid() {
    let Some(peer) = started(peers::shadow_nla()) else {
        return;
    };
    // The same CR with requestedProtocols SSL only: RDP_NEG_FAILURE 5 (HYBRID_REQUIRED_BY_SERVER).
    let mut cr = xfreerdp_cr();
    let n = cr.len();
    assert_eq!(
        &cr[n - 8..],
        &[1, 0, 8, 0, 3, 0, 0, 0],
        "the fixture's RDP_NEG_REQ"
    );
    cr[n - 4] = 1;
    let mut s = connect(peer.addr());
    s.write_all(&cr).unwrap();
    let mut cc = [0u8; 19];
    s.read_exact(&mut cc).unwrap();
    let (_, (_, tpdu)) = Tpdu::parse_tpkt(&cc).unwrap();
    let Tpdu::ConnectionConfirm(cc) = tpdu else {
        panic!("{tpdu:?}")
    };
    let Some(NegotiationResult::Failure(f)) = cc.negotiation else {
        panic!("{:?}\n{}", cc.negotiation, peer.logs())
    };
    assert_eq!(f.code.0, 5, "{}", peer.logs());
}

/// `(pid, start time)` of a live process, from /proc/PID/stat (field 22).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    fields.get(19)?.parse().ok()
}

/// PIDs of the live processes in process group `pgid` (a zombie is dead: it only waits for its
/// parent, or PID 1, to reap it).
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
                    let live = !matches!(*f.first()?, "Z" | "X");
                    Some(live && f.get(2)?.parse::<u32>().ok()? == pgid)
                })
                .unwrap_or(false)
        })
        .collect()
}

fn assert_drop_cleans_up(peer: Peer) {
    let addr = peer.addr();
    let what = peer.describe().to_owned();
    let pgid = peer.pgid();
    let dir = peer.dir().to_path_buf();
    let procs: Vec<(u32, u64)> = peer
        .pids()
        .into_iter()
        .map(|pid| (pid, start_time(pid).expect("a peer process is alive")))
        .collect();
    assert!(procs.len() >= 2, "the guard and the server: {procs:?}");
    assert!(group_members(pgid).len() >= procs.len(), "{what}");
    drop(connect(addr)); // it accepts
    drop(peer);

    let err = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect_err("port still accepts");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{what}: {err}"
    );
    for (pid, st) in &procs {
        assert_ne!(
            start_time(*pid),
            Some(*st),
            "{what}: pid {pid} outlived the Peer"
        );
    }
    assert_eq!(
        group_members(pgid),
        Vec::<u32>::new(),
        "{what}: group {pgid}"
    );
    assert!(!dir.exists(), "{what}: {} is left", dir.display());
}

#[test]
fn dropping_an_xrdp_peer_frees_its_port_and_leaves_no_process() {
    if let Some(peer) = started(peers::xrdp(&rdp_high())) {
        assert_drop_cleans_up(peer);
    }
}

#[test]
fn dropping_a_shadow_peer_frees_its_port_and_leaves_no_process() {
    if let Some(peer) = started(peers::shadow_nla()) {
        assert!(peer.display().is_some());
        assert_eq!(peer.pids().len(), 3, "guard, Xvfb, freerdp-shadow-cli");
        assert_drop_cleans_up(peer);
    }
}

/// Reads TLS records until a handshake message of type `until` (returned with the ones
/// before it) or an alert (returned as Err).
fn handshake_until(
    s: &mut TcpStream,
    until: HandshakeType,
) -> Result<Vec<(HandshakeType, Vec<u8>)>, AlertDescription> {
    let mut pending = Vec::new();
    let mut msgs = Vec::new();
    loop {
        let mut header = [0u8; 5];
        s.read_exact(&mut header).unwrap();
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut rec = header.to_vec();
        rec.resize(5 + len, 0);
        s.read_exact(&mut rec[5..]).unwrap();
        let (_, record) = decode_prefix::<Record>(&rec).unwrap();
        match record.content_type {
            ContentType::ALERT => return Err(AlertDescription(record.fragment[1])),
            ContentType::HANDSHAKE => pending.extend_from_slice(record.fragment),
            other => panic!("unexpected record {other:?}"),
        }
        while let Ok((rest, hs)) = decode_prefix::<Handshake>(&pending) {
            msgs.push((hs.msg_type, hs.body.to_vec()));
            pending = rest.to_vec();
            if hs_type_is(msgs.last(), until) {
                return Ok(msgs);
            }
        }
    }
}

fn hs_type_is(m: Option<&(HandshakeType, Vec<u8>)>, t: HandshakeType) -> bool {
    m.is_some_and(|(ty, _)| *ty == t)
}

fn hello(version: ProtocolVersion) -> Vec<u8> {
    ProbeHello {
        version,
        suites: ProbeHello::default_suites(version),
        sni: Some("localhost"),
        random: [0x5a; 32],
    }
    .to_record()
    .unwrap()
}

fn pem_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    pem.contents
}

#[test]
fn tls_expired_peer_serves_its_certificate_over_tls12_only() {
    let Some(peer) = started(peers::xrdp(&tls_expired_12())) else {
        return;
    };
    let want = pem_der(peer.cert_path().unwrap());

    // TLS 1.2: the server's Certificate message (in clear in 1.2) carries the generated cert.
    let mut s = connect(peer.addr());
    assert_eq!(negotiation_response(&connection_confirm(&mut s)).1, 1);
    s.write_all(&hello(ProtocolVersion::TLS_1_2)).unwrap();
    let msgs = handshake_until(&mut s, HandshakeType::CERTIFICATE)
        .unwrap_or_else(|a| panic!("alert {a:?}\n{}", peer.logs()));
    let (_, sh) = &msgs[0];
    let (_, sh) = decode_prefix::<ServerHello>(sh).unwrap();
    assert_eq!(sh.selected_version(), ProtocolVersion::TLS_1_2);
    let (_, body) = msgs.last().unwrap();
    let (_, chain) = decode_prefix::<Certificate>(body).unwrap();
    assert_eq!(
        chain.certificates,
        vec![want.as_slice()],
        "the served chain"
    );

    // TLS 1.3 only: refused (ssl_protocols=TLSv1.2).
    let mut s = connect(peer.addr());
    assert_eq!(negotiation_response(&connection_confirm(&mut s)).1, 1);
    s.write_all(&hello(ProtocolVersion::TLS_1_3)).unwrap();
    match handshake_until(&mut s, HandshakeType::SERVER_HELLO) {
        Err(alert) => assert_eq!(alert, AlertDescription::PROTOCOL_VERSION),
        Ok(msgs) => {
            let (_, sh) = decode_prefix::<ServerHello>(&msgs[0].1).unwrap();
            panic!("a TLS 1.3-only hello got {:?}", sh.selected_version());
        }
    }
}

fn names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let cn = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let san = cert
        .subject_alternative_name()
        .unwrap()
        .expect("a subjectAltName")
        .value
        .general_names
        .iter()
        .map(|g| match g {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(ip) => format!("IP:{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    (cn, san)
}

#[test]
fn certificates_have_the_requested_names_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let localhost = (
        vec!["localhost".to_owned()],
        vec!["DNS:localhost".to_owned(), "IP:[127, 0, 0, 1]".to_owned()],
    );
    let mismatch = (
        vec!["mismatch.invalid".to_owned()],
        vec!["DNS:mismatch.invalid".to_owned()],
    );
    for (kind, want_names) in [
        (Cert::Default, &localhost),
        (Cert::Expired, &localhost),
        (Cert::Mismatch, &mismatch),
    ] {
        let files = match peers::write_cert(kind, dir.path()) {
            Ok(f) => f,
            Err(e) => {
                or_skip(Err(e));
                return;
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let pem = std::fs::read(&files.cert).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(&names(&cert), want_names, "{kind:?}");
        assert_eq!(cert.issuer(), cert.subject(), "{kind:?} is self-signed");
        let (from, to) = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        match kind {
            // 2020-01-01T00:00:00Z .. 2021-01-01T00:00:00Z
            Cert::Expired => assert_eq!((from, to), (1_577_836_800, 1_609_459_200)),
            _ => assert!(from <= now && now < to, "{kind:?}: {from}..{to}, now {now}"),
        }
        assert!(std::fs::metadata(&files.key).unwrap().len() > 0);
    }
}

#[test]
fn nla_nt_hash_is_what_winpr_hash_computes() {
    let out = std::process::Command::new("winpr-hash")
        .args([
            "-u",
            peers::NLA_USER,
            "-p",
            peers::NLA_PASSWORD,
            "-f",
            "sam",
        ])
        .output();
    let Ok(out) = out else {
        or_skip(Err(Unavailable::NotInstalled("winpr-hash".into())));
        return;
    };
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        line.trim(),
        format!("{}:::{}:::", peers::NLA_USER, peers::NLA_NT_HASH)
    );
}

#[test]
fn or_skip_skips_or_panics_as_required() {
    let why = || {
        Err(Unavailable::NotInstalled(
            "nothing (or_skip's own test, not a real skip)".into(),
        ))
    };
    assert!(or_skip_with(why(), false).is_none());
    let panicked = std::panic::catch_unwind(|| or_skip_with(why(), true));
    assert!(panicked.is_err(), "RDPROBE_REQUIRE_PEERS makes it a panic");
}

/// Set in the child process of [`peers_die_with_the_test_process`].
const ORPHAN_CHILD: &str = "RDPROBE_PEERS_HARNESS_ORPHAN_CHILD";

#[test]
fn peers_die_with_the_test_process() {
    if std::env::var_os(ORPHAN_CHILD).is_some() {
        // The child: start the peers, say where they are, wait to be SIGKILLed.
        let mut out = std::io::stdout().lock();
        let peers = [peers::xrdp(&rdp_high()), peers::shadow_nla()];
        for p in &peers {
            match p {
                Ok(p) => writeln!(out, "PEER {} {} {}", p.pgid(), p.port, p.dir().display()),
                Err(e) => writeln!(out, "UNAVAILABLE {e:?}"),
            }
            .unwrap();
        }
        writeln!(out, "READY").unwrap();
        out.flush().unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }

    // The parent: run this test alone in a child test process, then SIGKILL it.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "peers_harness::peers_die_with_the_test_process"])
        .args(["--nocapture", "--test-threads=1"])
        .env(ORPHAN_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut started = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child reports its peers");
        if line == "READY" {
            break;
        }
        if let Some(rest) = line.strip_prefix("PEER ") {
            let f: Vec<&str> = rest.splitn(3, ' ').collect();
            let (pgid, port): (u32, u16) = (f[0].parse().unwrap(), f[1].parse().unwrap());
            started.push((pgid, port, std::path::PathBuf::from(f[2])));
        } else if let Some(why) = line.strip_prefix("UNAVAILABLE ") {
            let _ = or_skip(Err(Unavailable::Failed(format!(
                "in the child process: {why}"
            ))));
        }
    }
    for (pgid, port, dir) in &started {
        assert!(!group_members(*pgid).is_empty());
        assert!(dir.is_dir());
        drop(connect(SocketAddr::from(([127, 0, 0, 1], *port))));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();

    // The guards: SIGTERM at once, the directory and SIGKILL 2 s later.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    for (pgid, port, dir) in &started {
        while !group_members(*pgid).is_empty() || dir.exists() {
            assert!(
                std::time::Instant::now() < end,
                "group {pgid} {:?} or {} outlived the test process",
                group_members(*pgid),
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], *port));
        let err = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect_err("port still accepts");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
