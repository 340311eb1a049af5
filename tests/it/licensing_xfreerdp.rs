//! rdprobe's licensing keys checked against a real client: xfreerdp connects to a loopback
//! server that replays xrdp's real answers at encryption level NONE up to the Client Info, then
//! issues a License Request carrying a test RSA key, reads xfreerdp's New License Request
//! (premaster secret decrypted with the test's private key), derives the licensing keys with
//! `rdprobe::active::client::licensing::LicensingKeys`, sends a Platform Challenge encrypted and
//! MACed with them, and checks xfreerdp's Platform Challenge Response with them: the challenge
//! decrypts to what was sent and the MAC over response and hardware id is FreeRDP's. If
//! rdprobe's key derivation, RC4 use or MAC differed from FreeRDP's, this fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use num_bigint::BigUint;
use rdp_proto::gcc::{parse_server_certificate, ServerCertificate};
use rdp_proto::licensing::{
    LicenseBlob, LicenseRequest, LicensingBody, LicensingPdu, NewLicenseRequest, PlatformChallenge,
    PlatformChallengeResponse, BB_ENCRYPTED_DATA_BLOB,
};
use rdp_proto::mcs::{DomainPdu, McsResult};
use rdp_tests::peers;
use rdprobe::active::client::licensing::LicensingKeys;

/// A 512-bit RSA key made for this test with `openssl genrsa 512` (big-endian hex).
const N: &str = "d45ad11386efd271f9cd1651f5e28c2ee1b7946d2414b476d9ff9651e2f458448c7d1b7abc921514c28201c5fcdb084ba3ea63877aafc920cd5d76865ae433f1";
const D: &str = "00c3440b3300867025dc04e8fc4eb49620d9ef7c2d6bdb1a229bccb905ed42b012128ae755741131d3c5dc1cd90c2ce0cb7d6f784b7714a8bff976aa65d100682d";

/// xrdp's real frame `n` at level NONE (the capture xfreerdp made of xrdp).
fn xrdp(n: u32) -> Vec<u8> {
    let dir = rdp_tests::fixtures().join("pdu/peers/xfreerdp_xrdp-rdp-none");
    let e = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{n:03}-"))
        })
        .unwrap();
    std::fs::read(e.path()).unwrap()
}

/// One TPKT from the client, whole.
fn read_tpkt(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).ok()?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut frame = head.to_vec();
    frame.resize(len.max(4), 0);
    s.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// `mcs` in X.224 Data in a TPKT.
fn mcs_frame(mcs: &[u8]) -> Vec<u8> {
    let x224 = rdp_proto::encode_vec(&rdp_proto::x224::Tpdu::Data(rdp_proto::x224::Data {
        eot: 0x80,
        variable: &[],
        payload: mcs,
    }))
    .unwrap();
    rdp_proto::encode_vec(&rdp_proto::tpkt::Tpkt {
        reserved: 0,
        payload: &x224,
    })
    .unwrap()
}

/// A server licensing PDU on the I/O channel.
fn licensing(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let pdu = rdp_proto::encode_vec(&LicensingPdu {
        msg_type: rdp_proto::licensing::LicenseMsgType(msg_type),
        flags: 0x83,
        body: LicensingBody::Other(body),
    })
    .unwrap();
    let mut data = vec![0x80, 0, 0, 0];
    data.extend(pdu);
    let mcs = rdp_proto::encode_vec(&DomainPdu::SendDataIndication(rdp_proto::mcs::SendData {
        initiator: 1002,
        channel_id: 1003,
        priority_segmentation: 0x70,
        data: &data,
        long_length: true,
    }))
    .unwrap();
    mcs_frame(&mcs)
}

/// The client licensing PDU in `frame`: its type and body.
fn client_licensing(frame: &[u8]) -> Option<(u8, Vec<u8>)> {
    let DomainPdu::SendDataRequest(sd) = rdp_proto::decode::<DomainPdu>(frame.get(7..)?).ok()?
    else {
        return None;
    };
    let flags = u16::from_le_bytes([*sd.data.first()?, *sd.data.get(1)?]);
    if flags & 0x0080 == 0 {
        return None;
    }
    let l: LicensingPdu = rdp_proto::decode(sd.data.get(4..)?).ok()?;
    let LicensingBody::Other(body) = l.body else {
        return None;
    };
    Some((l.msg_type.0, body.to_vec()))
}

/// The server's side, on the accepted connection; returns what it found (or why it stopped).
fn serve(s: &mut TcpStream) -> Result<String, String> {
    let n = BigUint::parse_bytes(N.as_bytes(), 16).unwrap();
    let d = BigUint::parse_bytes(D.as_bytes(), 16).unwrap();
    // xrdp's License Request with the test key.
    let mut request = xrdp(21);
    let (offset, server_random) = {
        let DomainPdu::SendDataIndication(sd) =
            rdp_proto::decode::<DomainPdu>(&request[7..]).unwrap()
        else {
            panic!()
        };
        let l: LicensingPdu = rdp_proto::decode(&sd.data[4..]).unwrap();
        let LicensingBody::Other(body) = l.body else {
            panic!()
        };
        let lr: LicenseRequest = rdp_proto::decode(body).unwrap();
        let (_, cert) = parse_server_certificate(lr.certificate.data).unwrap();
        let ServerCertificate::Proprietary(p) = cert.certificate else {
            panic!()
        };
        let offset = p.public_key.modulus.as_ptr() as usize - request.as_ptr() as usize;
        (offset, <[u8; 32]>::try_from(lr.server_random).unwrap())
    };
    let mut n_le = n.to_bytes_le();
    n_le.resize(64, 0);
    request[offset..offset + 64].copy_from_slice(&n_le);

    let challenge = b"T\0E\0S\0T\0\0\0".to_vec();
    let mut keys = None;
    let mut user = 1007;
    let mut step = 0;
    loop {
        let frame = read_tpkt(s).ok_or(format!("the client closed after step {step}"))?;
        step += 1;
        // X.224 Connection Request, then MCS.
        if frame.get(5) == Some(&0xE0) {
            s.write_all(&xrdp(2)).map_err(|e| e.to_string())?;
            continue;
        }
        let mcs = frame.get(7..).unwrap_or_default();
        if mcs.starts_with(&rdp_proto::mcs::TAG_CONNECT_INITIAL) {
            s.write_all(&xrdp(4)).map_err(|e| e.to_string())?;
            continue;
        }
        match rdp_proto::decode::<DomainPdu>(mcs) {
            Ok(DomainPdu::AttachUserRequest) => {
                let confirm = xrdp(7);
                if let Ok(DomainPdu::AttachUserConfirm {
                    initiator: Some(u), ..
                }) = rdp_proto::decode::<DomainPdu>(&confirm[7..])
                {
                    user = u;
                }
                s.write_all(&confirm).map_err(|e| e.to_string())?;
            }
            Ok(DomainPdu::ChannelJoinRequest { channel_id, .. }) => {
                let c = rdp_proto::encode_vec(&DomainPdu::ChannelJoinConfirm {
                    result: McsResult::RT_SUCCESSFUL,
                    initiator: user,
                    requested: channel_id,
                    channel_id: Some(channel_id),
                })
                .unwrap();
                s.write_all(&mcs_frame(&c)).map_err(|e| e.to_string())?;
            }
            Ok(DomainPdu::SendDataRequest(sd)) if sd.data.first() == Some(&0x40) => {
                // The Client Info: the License Request.
                s.write_all(&request).map_err(|e| e.to_string())?;
            }
            Ok(DomainPdu::SendDataRequest(_)) => {
                let Some((msg, body)) = client_licensing(&frame) else {
                    continue;
                };
                if msg == 0x13 {
                    let nlr: NewLicenseRequest =
                        rdp_proto::decode(&body).map_err(|e| e.to_string())?;
                    let pm = BigUint::from_bytes_le(nlr.encrypted_premaster.data)
                        .modpow(&d, &n)
                        .to_bytes_le();
                    let mut premaster = [0u8; 48];
                    premaster.copy_from_slice(&pm[..48]);
                    let client_random = <[u8; 32]>::try_from(nlr.client_random).unwrap();
                    let k = LicensingKeys::derive(&premaster, &client_random, &server_random);
                    let encrypted = k.rc4(&challenge);
                    let mac = k.mac(&challenge);
                    let pc = rdp_proto::encode_vec(&PlatformChallenge {
                        connect_flags: 0,
                        encrypted_challenge: LicenseBlob {
                            blob_type: BB_ENCRYPTED_DATA_BLOB,
                            data: &encrypted,
                        },
                        mac: &mac,
                    })
                    .unwrap();
                    keys = Some(k);
                    s.write_all(&licensing(0x02, &pc))
                        .map_err(|e| e.to_string())?;
                } else if msg == 0x15 {
                    let k = keys.as_ref().ok_or("a response before the challenge")?;
                    let pcr: PlatformChallengeResponse =
                        rdp_proto::decode(&body).map_err(|e| e.to_string())?;
                    let response = k.rc4(pcr.encrypted_response.data);
                    let hwid = k.rc4(pcr.encrypted_hwid.data);
                    let mut signed = response.clone();
                    signed.extend(&hwid);
                    let echoed = response.get(8..) == Some(&challenge[..]);
                    let mac = k.mac(&signed) == pcr.mac;
                    return Ok(format!(
                        "challenge echoed: {echoed}, MAC matches: {mac}, hwid {} bytes",
                        hwid.len()
                    ));
                } else {
                    return Err(format!("licensing message {msg:#x}"));
                }
            }
            _ => {}
        }
    }
}

#[test]
fn rdprobe_licensing_keys_are_freerdps() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let Some(mut client) = peers::or_skip_client(peers::xfreerdp_client(port)) else {
        return;
    };
    listener.set_nonblocking(true).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(_) if Instant::now() < end && client.exited().is_none() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("xfreerdp did not connect: {e}\n{}", client.logs()),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let found = serve(&mut stream);
    assert_eq!(
        found.as_deref(),
        Ok("challenge echoed: true, MAC matches: true, hwid 20 bytes"),
        "{}",
        client.logs()
    );
}
