//! Fuzz oracles, shared by the cargo-fuzz targets in `fuzz/` and by the regression replay
//! test that runs under `cargo test` on stable. Each oracle must never panic on any input;
//! the assertions inside are the properties the parsers promise.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used
)]

use crate::frame::{Deframer, Framing, Header};
use crate::{
    capabilities, gcc, info, licensing, mcs, nego, ntlm, redirection, slowpath, tls, x224, Pdu,
};

/// Parses `$ty` from `$data`; if it parses, encoding must succeed with `encoded_len` bytes and
/// parse back to an equal value; with `exact`, the bytes must be the ones consumed.
macro_rules! check {
    ($ty:ty, $data:expr, $exact:expr) => {{
        let data: &[u8] = $data;
        if let Ok((rest, pdu)) = <$ty>::parse(data) {
            let consumed = &data[..data.len() - rest.len()];
            let mut out = Vec::new();
            // encoded_len is asked first: an encoder must never be asked to write far more
            // than it read (that would be an allocation from a crafted length).
            let want = pdu.encoded_len();
            assert!(
                want <= consumed.len() * 2 + 64,
                "{}: {want} bytes from {} parsed",
                <$ty>::NAME,
                consumed.len()
            );
            if pdu.encode(&mut out).is_ok() {
                assert_eq!(out.len(), want, "{}: encoded_len", <$ty>::NAME);
                if $exact {
                    assert_eq!(
                        out.as_slice(),
                        consumed,
                        "{}: re-encoding changed bytes",
                        <$ty>::NAME
                    );
                }
                let (_, again) = <$ty>::parse(&out)
                    .unwrap_or_else(|e| panic!("{}: re-parse failed: {e:?}", <$ty>::NAME));
                assert!(again == pdu, "{}: re-parse differs", <$ty>::NAME);
            }
            Some(pdu)
        } else {
            None
        }
    }};
}

/// X.224 TPDUs in TPKTs and the negotiation structures.
pub fn x224(data: &[u8]) {
    check!(crate::tpkt::Tpkt<'_>, data, true);
    check!(x224::Tpdu<'_>, data, true);
    if let Ok((_, tpkt)) = crate::tpkt::Tpkt::parse(data) {
        check!(x224::Tpdu<'_>, tpkt.payload, true);
    }
    check!(nego::NegotiationRequest, data, true);
    check!(nego::NegotiationResponse, data, true);
    check!(nego::NegotiationFailure, data, true);
    check!(nego::CorrelationInfo, data, true);
}

/// MCS connect PDUs, GCC and its blocks, domain PDUs, server certificates.
pub fn mcs_gcc(data: &[u8]) {
    if let Some(ci) = check!(mcs::ConnectInitial<'_>, data, false) {
        check!(gcc::ConferenceCreateRequest<'_>, ci.user_data, false);
    }
    if let Some(cr) = check!(mcs::ConnectResponse<'_>, data, false) {
        if let Some(resp) = check!(gcc::ConferenceCreateResponse<'_>, cr.user_data, false) {
            if let Some(sec) = resp.security() {
                let _ = sec.certificate();
            }
        }
    }
    check!(gcc::ConferenceCreateRequest<'_>, data, false);
    if let Some(resp) = check!(gcc::ConferenceCreateResponse<'_>, data, false) {
        for b in &resp.blocks {
            if let gcc::ServerBlock::Security(s) = b {
                let _ = s.certificate();
            }
        }
    }
    check!(mcs::DomainPdu<'_>, data, false);
}

/// Slow-path headers, Set Error Info, the capability exchange, licensing, fast-path.
pub fn slowpath_licensing(data: &[u8]) {
    check!(info::ClientInfo<'_>, data, true);
    check!(capabilities::DemandActive<'_>, data, true);
    check!(capabilities::ConfirmActive<'_>, data, true);
    check!(slowpath::SecurityHeader, data, true);
    check!(slowpath::NonFipsSecurityHeader, data, true);
    check!(slowpath::FipsSecurityHeader, data, true);
    if let Some(sc) = check!(slowpath::ShareControlPdu<'_>, data, true) {
        check!(capabilities::DemandActive<'_>, sc.body, true);
        check!(capabilities::ConfirmActive<'_>, sc.body, true);
        if let Some(sd) = check!(slowpath::ShareDataPdu<'_>, sc.body, true) {
            check!(slowpath::SetErrorInfo, sd.body, true);
        }
        if let Some(redirect) = sc.body.get(2..) {
            check!(redirection::ServerRedirection<'_>, redirect, true);
        }
    }
    check!(redirection::ServerRedirection<'_>, data, true);
    if let Some(l) = check!(licensing::LicensingPdu<'_>, data, true) {
        if let licensing::LicensingBody::Other(body) = l.body {
            check!(licensing::LicenseRequest<'_>, body, true);
            check!(licensing::NewLicenseRequest<'_>, body, true);
            check!(licensing::PlatformChallenge<'_>, body, true);
            check!(licensing::PlatformChallengeResponse<'_>, body, true);
        }
    }
    check!(licensing::LicenseRequest<'_>, data, true);
    check!(licensing::NewLicenseRequest<'_>, data, true);
    check!(licensing::PlatformChallenge<'_>, data, true);
    check!(licensing::PlatformChallengeResponse<'_>, data, true);
    check!(crate::fastpath::FastPathPdu<'_>, data, false);
}

/// TLS records, handshake messages, hellos, certificates, alerts.
pub fn tls(data: &[u8]) {
    if let Some(rec) = check!(tls::Record<'_>, data, true) {
        let mut frag = rec.fragment;
        while let Some(hs) = check!(tls::Handshake<'_>, frag, true) {
            match hs.msg_type {
                tls::HandshakeType::CLIENT_HELLO => {
                    if let Some(ch) = check!(tls::ClientHello<'_>, hs.body, true) {
                        let _ = (ch.sni(), ch.versions(), ch.cipher_suites().count());
                    }
                }
                tls::HandshakeType::SERVER_HELLO => {
                    if let Some(sh) = check!(tls::ServerHello<'_>, hs.body, true) {
                        let _ = sh.selected_version();
                    }
                }
                tls::HandshakeType::CERTIFICATE => {
                    check!(tls::Certificate<'_>, hs.body, true);
                }
                _ => {}
            }
            frag = &frag[hs.encoded_len()..];
        }
        check!(tls::Alert, rec.fragment, true);
    }
    check!(tls::ClientHello<'_>, data, true);
    check!(tls::ServerHello<'_>, data, true);
    check!(tls::Certificate<'_>, data, true);
    // Its entries' extensions are dropped: not byte-exact.
    check!(tls::Certificate13<'_>, data, false);
}

/// The RD Gateway's transport: an HTTP response or request head, a WebSocket frame (its payload unmasked) and the MS-TSGU packet
/// in it, and MS-TSGU packets alone (a frame's length encoding and a packet's raw optional
/// fields are kept; non-minimal lengths re-encode shorter: not byte-exact).
pub fn gateway(data: &[u8]) {
    // An HTTP answer head: within its bounds, never past the input.
    if let Ok(Some(h)) = crate::http::parse_response(data) {
        assert!(h.len <= data.len() && h.len <= crate::http::MAX_HEAD);
        assert!(h.headers.len() <= crate::http::MAX_HEADERS);
    }
    // A request head (the client's side, as a capture reads it): the same bounds.
    if let Ok(Some(h)) = crate::http::parse_request(data) {
        assert!(h.len <= data.len() && h.len <= crate::http::MAX_HEAD);
        assert!(h.headers.len() <= crate::http::MAX_HEADERS);
    }
    if let Some(f) = check!(crate::websocket::Frame<'_>, data, false) {
        let payload = f.unmasked();
        check!(crate::tsgu::Packet<'_>, &payload, false);
    }
    check!(crate::tsgu::Packet<'_>, data, false);
}

/// MS-RDPEUDP's SYN and SYN+ACK (the reserved bytes after a correlation id are written as
/// zeros: not byte-exact).
pub fn rdpeudp(data: &[u8]) {
    check!(crate::rdpeudp::Syn<'_>, data, false);
}

/// CredSSP TSRequest and the NTLM messages inside.
pub fn credssp_ntlm(data: &[u8]) {
    if let Some(c) = check!(crate::credssp::TsCredentials<'_>, data, false) {
        check!(crate::credssp::TsPasswordCreds<'_>, c.credentials, false);
    }
    check!(crate::credssp::TsPasswordCreds<'_>, data, false);
    if let Some(req) = check!(crate::credssp::TsRequest<'_>, data, false) {
        for t in &req.nego_tokens {
            ntlm_message(t);
        }
    }
    ntlm_message(data);
}

fn ntlm_message(data: &[u8]) {
    if let Some(ntlm::Message::Challenge(c)) = check!(ntlm::Message<'_>, data, false) {
        for p in c.av_pairs() {
            let _ = (p.text(), p.filetime());
        }
    }
}

/// The deframer over an arbitrary stream, pushed in chunks whose sizes come from the input.
/// Frames must tile the stream exactly: each starts where the previous ended and has the
/// length its header says.
pub fn deframer(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let framing = if mode & 1 == 0 {
        Framing::Rdp
    } else {
        Framing::Der
    };
    let chunk = usize::from(mode >> 1).max(1);
    let mut d = Deframer::with_limit(70_000);
    d.set_framing(framing);
    let mut expected_offset = 0u64;
    for part in rest.chunks(chunk) {
        if d.push(part).is_err() {
            return;
        }
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    assert_eq!(f.offset, expected_offset, "frames must tile the stream");
                    match crate::frame::frame_header(f.bytes, framing, 0) {
                        Ok(Header::Frame { kind, len }) => {
                            assert_eq!(kind, f.kind);
                            assert_eq!(len, f.bytes.len());
                        }
                        other => panic!("frame header changed: {other:?}"),
                    }
                    expected_offset += f.bytes.len() as u64;
                    match f.kind {
                        crate::frame::FrameKind::Tpkt => x224(f.bytes),
                        crate::frame::FrameKind::TlsRecord => tls(f.bytes),
                        crate::frame::FrameKind::Der => credssp_ntlm(f.bytes),
                        crate::frame::FrameKind::FastPath => {
                            check!(crate::fastpath::FastPathPdu<'_>, f.bytes, false);
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Every entry point at once (the regression replay uses this).
pub fn all(data: &[u8]) {
    x224(data);
    mcs_gcc(data);
    slowpath_licensing(data);
    tls(data);
    credssp_ntlm(data);
    deframer(data);
    rdpeudp(data);
    gateway(data);
}
