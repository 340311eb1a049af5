//! CredSSP with credentials (MS-CSSP 3.1.5) over NTLMv2 or Kerberos. NTLM: the NEGOTIATE, then
//! from the server's CHALLENGE the AUTHENTICATE (NTLMv2 response, MIC, the AV pairs Windows
//! expects) with pubKeyAuth. Kerberos ([`GssKerberos`]): the SPNEGO NegTokenInit with the
//! AP-REQ, then from the server's AP-REP the pubKeyAuth. Either way pubKeyAuth is the client
//! nonce hash for version 5 and later (the sealed public key for 2 to 4), the server's
//! pubKeyAuth is checked, then the TSCredentials with the password go sealed. Sans-IO: the
//! driver writes what [`CredsspStep::Send`] holds and feeds every TSRequest read.

use rdp_proto::credssp::{TsCredentials, TsPasswordCreds, TsRequest};
use rdp_proto::ntlm::{self, Authenticate, AvId, Challenge, Field, NegotiateFlags};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::kerberos::{GssFailure, GssKerberos};
use crate::active::credentials::Credentials;
use crate::active::crypto::ntlm::{mic, ntowf_v2, rc4, utf16, Direction, Ntlmv2, Sealer};
pub use crate::facts::credssp::{AuthFailure, AuthOutcome, AuthStep, EarlyAuthz};

/// The TSRequest version rdprobe speaks (MS-CSSP 2.2.1: 6 has the client nonce and errorCode).
pub const CREDSSP_VERSION: u32 = 6;

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum CredsspStep {
    /// Write this TSRequest, then read the next one (unless it was the TSCredentials: then
    /// CredSSP is done).
    Send(Vec<u8>),
    /// CredSSP is done: the TSCredentials went out.
    Done(Vec<u8>),
    Failed(AuthFailure),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Challenge,
    PubKeyAuth,
    Done,
}

/// One CredSSP exchange with credentials.
pub struct CredsspClient<'c> {
    creds: &'c Credentials,
    state: State,
    negotiate: Vec<u8>,
    /// The server certificate's SubjectPublicKey (the RSAPublicKey DER).
    public_key: Vec<u8>,
    /// "TERMSRV/<host>".
    target_name: String,
    /// Now, as a FILETIME (when the server sends no timestamp).
    now_filetime: u64,
    client_challenge: [u8; 8],
    exported: Zeroizing<[u8; 16]>,
    nonce: [u8; 32],
    server_version: u32,
    client: Option<Sealer>,
    server: Option<Sealer>,
    /// Kerberos instead of NTLM.
    kerberos: Option<Box<GssKerberos>>,
}

impl core::fmt::Debug for CredsspClient<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CredsspClient")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

const CLIENT_TO_SERVER: &[u8] = b"CredSSP Client-To-Server Binding Hash\0";
const SERVER_TO_CLIENT: &[u8] = b"CredSSP Server-To-Client Binding Hash\0";

impl<'c> CredsspClient<'c> {
    /// Starts CredSSP: returns the client and the first TSRequest (the NTLM NEGOTIATE).
    /// `random`: the client challenge (8), the exported session key (16), the nonce (32).
    pub fn start(
        creds: &'c Credentials,
        public_key: Vec<u8>,
        host: &str,
        now_filetime: u64,
        random: [u8; 56],
    ) -> (Self, Vec<u8>) {
        let negotiate =
            rdp_proto::encode_vec(&ntlm::Negotiate::probe(probe_version())).unwrap_or_default();
        let first = first_request();
        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(&random[..8]);
        let mut exported = Zeroizing::new([0u8; 16]);
        exported.copy_from_slice(&random[8..24]);
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&random[24..]);
        (
            Self {
                creds,
                state: State::Challenge,
                negotiate,
                public_key,
                target_name: format!("TERMSRV/{host}"),
                now_filetime,
                client_challenge,
                exported,
                nonce,
                server_version: 0,
                client: None,
                server: None,
                kerberos: None,
            },
            first,
        )
    }

    /// Starts CredSSP over Kerberos: `gss` made `token` (the NegTokenInit with the AP-REQ);
    /// `nonce`: the CredSSP client nonce. Returns the client and the first TSRequest.
    pub fn start_kerberos(
        creds: &'c Credentials,
        public_key: Vec<u8>,
        gss: GssKerberos,
        token: &[u8],
        nonce: [u8; 32],
    ) -> (Self, Vec<u8>) {
        let first = ts_request(&TsRequest {
            version: CREDSSP_VERSION,
            nego_tokens: vec![token],
            ..Default::default()
        });
        (
            Self {
                creds,
                state: State::Challenge,
                negotiate: Vec::new(),
                public_key,
                target_name: String::new(),
                now_filetime: 0,
                client_challenge: [0; 8],
                exported: Zeroizing::new([0; 16]),
                nonce,
                server_version: 0,
                client: None,
                server: None,
                kerberos: Some(Box::new(gss)),
            },
            first,
        )
    }

    /// The step CredSSP is at (for a failure without an answer).
    pub fn step(&self) -> AuthStep {
        match (self.state, self.kerberos.is_some()) {
            (State::Challenge, false) => AuthStep::Negotiate,
            (State::Challenge, true) => AuthStep::ApReq,
            (State::PubKeyAuth, false) => AuthStep::Authenticate,
            (State::PubKeyAuth, true) => AuthStep::PubKeyAuth,
            (State::Done, _) => AuthStep::Credentials,
        }
    }

    /// The server's TSRequest (`bytes`, one DER frame).
    pub fn on_ts_request(&mut self, bytes: &[u8]) -> CredsspStep {
        let step = self.step();
        let req: TsRequest = match rdp_proto::decode(bytes) {
            Ok(r) => r,
            Err(e) => return CredsspStep::Failed(AuthFailure::Malformed(e.to_string(), step)),
        };
        if let Some(code) = req.error_code.filter(|c| c.0 != 0) {
            return CredsspStep::Failed(AuthFailure::Status(code, step));
        }
        match self.state {
            State::Challenge if self.kerberos.is_some() => self.on_ap_rep(&req),
            State::Challenge => self.on_challenge(&req, bytes),
            State::PubKeyAuth => self.on_pub_key_auth(&req),
            State::Done => CredsspStep::Failed(AuthFailure::Malformed(
                "a TSRequest after the TSCredentials".into(),
                step,
            )),
        }
    }

    fn on_challenge(&mut self, req: &TsRequest<'_>, _bytes: &[u8]) -> CredsspStep {
        let bad = |why: &str| {
            CredsspStep::Failed(AuthFailure::Malformed(why.into(), AuthStep::Negotiate))
        };
        let Some(token) = req.nego_tokens.first() else {
            return bad("no negoToken (the CHALLENGE) in the server's TSRequest");
        };
        let Ok(challenge) = rdp_proto::decode::<Challenge>(token) else {
            return bad("the negoToken is not an NTLM CHALLENGE");
        };
        self.server_version = req.version;
        let Some(authenticate) = authenticate(
            &NtlmLogon {
                creds: self.creds,
                negotiate: &self.negotiate,
                target_name: &self.target_name,
                channel_bindings: [0; 16],
                now_filetime: self.now_filetime,
                client_challenge: self.client_challenge,
                exported: &self.exported,
            },
            &challenge,
            token,
        ) else {
            return bad("the CHALLENGE does not offer key exchange, extended session security, 128-bit sealing and Unicode");
        };
        let mut client = Sealer::new(&self.exported, Direction::ClientToServer);
        self.server = Some(Sealer::new(&self.exported, Direction::ServerToClient));
        let (pub_key_auth, nonce) = if self.server_version >= 5 {
            (
                client.seal(&self.binding_hash(CLIENT_TO_SERVER)),
                Some(&self.nonce[..]),
            )
        } else {
            (client.seal(&self.public_key), None)
        };
        self.client = Some(client);
        self.state = State::PubKeyAuth;
        CredsspStep::Send(ts_request(&TsRequest {
            version: CREDSSP_VERSION,
            nego_tokens: vec![&authenticate],
            pub_key_auth: Some(&pub_key_auth),
            client_nonce: nonce,
            ..Default::default()
        }))
    }

    /// The server's answer to the AP-REQ: the AP-REP checked (mutual authentication), then
    /// pubKeyAuth sealed with the Kerberos context (and a mechListMIC when SPNEGO asks).
    fn on_ap_rep(&mut self, req: &TsRequest<'_>) -> CredsspStep {
        let bad = |why: String| CredsspStep::Failed(AuthFailure::Malformed(why, AuthStep::ApReq));
        let Some(token) = req.nego_tokens.first() else {
            return bad("no negoToken (the AP-REP) in the server's TSRequest".into());
        };
        self.server_version = req.version;
        let Some(gss) = self.kerberos.as_mut() else {
            return bad("no Kerberos context".into());
        };
        let mic = match gss.on_answer(token) {
            Ok(mic) => mic,
            Err(GssFailure::ApError(code, text)) => {
                return CredsspStep::Failed(AuthFailure::Kerberos(code, text))
            }
            Err(GssFailure::Malformed(why)) => return bad(why),
        };
        let (plain, nonce) = if self.server_version >= 5 {
            (self.binding_hash(CLIENT_TO_SERVER), Some(&self.nonce[..]))
        } else {
            (self.public_key.clone(), None)
        };
        let Some(gss) = self.kerberos.as_mut() else {
            return bad("no Kerberos context".into());
        };
        let pub_key_auth = gss.seal(&plain);
        self.state = State::PubKeyAuth;
        CredsspStep::Send(ts_request(&TsRequest {
            version: CREDSSP_VERSION,
            nego_tokens: mic.as_deref().into_iter().collect(),
            pub_key_auth: Some(&pub_key_auth),
            client_nonce: nonce,
            ..Default::default()
        }))
    }

    fn seal(&mut self, plain: &[u8]) -> Option<Vec<u8>> {
        match self.kerberos.as_mut() {
            Some(g) => Some(g.seal(plain)),
            None => self.client.as_mut().map(|c| c.seal(plain)),
        }
    }

    fn unseal(&mut self, token: &[u8]) -> Option<Vec<u8>> {
        match self.kerberos.as_mut() {
            Some(g) => g.unseal(token),
            None => self.server.as_mut().and_then(|s| s.unseal(token)),
        }
    }

    /// SHA256(magic + ClientNonce + SubjectPublicKey) (MS-CSSP 3.1.5, version 5 and later).
    fn binding_hash(&self, magic: &[u8]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(magic);
        h.update(self.nonce);
        h.update(&self.public_key);
        h.finalize().to_vec()
    }

    fn on_pub_key_auth(&mut self, req: &TsRequest<'_>) -> CredsspStep {
        let Some(echo) = req.pub_key_auth else {
            return CredsspStep::Failed(AuthFailure::Malformed(
                "no pubKeyAuth in the server's answer to the AUTHENTICATE".into(),
                self.step(),
            ));
        };
        let Some(plain) = self.unseal(echo) else {
            return CredsspStep::Failed(AuthFailure::PubKeyMismatch);
        };
        let expected = if self.server_version >= 5 {
            self.binding_hash(SERVER_TO_CLIENT)
        } else {
            // The public key with its first byte plus one.
            let mut k = self.public_key.clone();
            if let Some(b) = k.first_mut() {
                *b = b.wrapping_add(1);
            }
            k
        };
        if plain != expected {
            return CredsspStep::Failed(AuthFailure::PubKeyMismatch);
        }
        let domain = Zeroizing::new(utf16(self.creds.domain()));
        let user = Zeroizing::new(utf16(self.creds.user()));
        let password = Zeroizing::new(utf16(self.creds.password()));
        let creds = Zeroizing::new(
            rdp_proto::encode_vec(&TsPasswordCreds {
                domain: &domain,
                user: &user,
                password: &password,
            })
            .unwrap_or_default(),
        );
        let ts_creds = Zeroizing::new(
            rdp_proto::encode_vec(&TsCredentials {
                cred_type: 1,
                credentials: &creds,
            })
            .unwrap_or_default(),
        );
        let Some(auth_info) = self.seal(&ts_creds) else {
            return CredsspStep::Failed(AuthFailure::PubKeyMismatch);
        };
        self.state = State::Done;
        CredsspStep::Done(ts_request(&TsRequest {
            version: CREDSSP_VERSION,
            auth_info: Some(&auth_info),
            ..Default::default()
        }))
    }
}

/// What an NTLMv2 logon needs besides the CHALLENGE: the credentials, the NEGOTIATE sent (for
/// the MIC), the service's name (`TERMSRV/host`, `HTTP/gateway`), the channel bindings hash
/// (zeros without), the time, the client challenge and the exported session key.
pub struct NtlmLogon<'a> {
    pub creds: &'a Credentials,
    pub negotiate: &'a [u8],
    pub target_name: &'a str,
    pub channel_bindings: [u8; 16],
    pub now_filetime: u64,
    pub client_challenge: [u8; 8],
    pub exported: &'a [u8; 16],
}

/// The AUTHENTICATE_MESSAGE (MS-NLMP 3.1.5.1.2) answering `challenge` (its bytes: `token`),
/// with the NTLMv2 response, the encrypted session key and the MIC; None when the CHALLENGE
/// does not offer key exchange, extended session security, 128-bit sealing and Unicode. The
/// one NTLM logon of rdprobe: CredSSP's and the RD Gateway's HTTP authentication.
pub fn authenticate(l: &NtlmLogon<'_>, challenge: &Challenge<'_>, token: &[u8]) -> Option<Vec<u8>> {
    let timestamp = challenge
        .av(AvId::MSV_AV_TIMESTAMP)
        .and_then(|a| a.filetime());
    // The AV pairs sent back: the server's (without its EOL), MsvAvFlags (a MIC follows),
    // the channel bindings (CredSSP: zeros, it binds with pubKeyAuth), the target name.
    let mut info = Vec::new();
    for av in challenge.av_pairs() {
        if av.id == AvId::MSV_AV_EOL || av.id == AvId::MSV_AV_FLAGS {
            continue;
        }
        push_av(&mut info, av.id.0, av.value);
    }
    push_av(&mut info, AvId::MSV_AV_FLAGS.0, &2u32.to_le_bytes());
    push_av(
        &mut info,
        AvId::MSV_AV_CHANNEL_BINDINGS.0,
        &l.channel_bindings,
    );
    push_av(&mut info, AvId::MSV_AV_TARGET_NAME.0, &utf16(l.target_name));
    push_av(&mut info, AvId::MSV_AV_EOL.0, &[]);
    let key = ntowf_v2(l.creds.password(), l.creds.user(), l.creds.domain());
    let r = Ntlmv2::compute(
        &key,
        &challenge.server_challenge,
        &l.client_challenge,
        timestamp.unwrap_or(l.now_filetime),
        &info,
        timestamp.is_some(),
    );
    let encrypted_key = rc4(&r.session_base_key, &l.exported[..]);
    let flags = challenge.flags
        & (NegotiateFlags::NTLMSSP_NEGOTIATE_56
            | NegotiateFlags::NTLMSSP_NEGOTIATE_KEY_EXCH
            | NegotiateFlags::NTLMSSP_NEGOTIATE_128
            | NegotiateFlags::NTLMSSP_NEGOTIATE_VERSION
            | NegotiateFlags::NTLMSSP_NEGOTIATE_TARGET_INFO
            | NegotiateFlags::NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
            | NegotiateFlags::NTLMSSP_NEGOTIATE_ALWAYS_SIGN
            | NegotiateFlags::NTLMSSP_NEGOTIATE_NTLM
            | NegotiateFlags::NTLMSSP_NEGOTIATE_SEAL
            | NegotiateFlags::NTLMSSP_NEGOTIATE_SIGN
            | NegotiateFlags::NTLMSSP_REQUEST_TARGET
            | NegotiateFlags::NTLMSSP_NEGOTIATE_UNICODE);
    let needed = NegotiateFlags::NTLMSSP_NEGOTIATE_KEY_EXCH
        | NegotiateFlags::NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
        | NegotiateFlags::NTLMSSP_NEGOTIATE_128
        | NegotiateFlags::NTLMSSP_NEGOTIATE_SEAL
        | NegotiateFlags::NTLMSSP_NEGOTIATE_UNICODE;
    if !flags.contains(needed) {
        return None;
    }
    let domain = utf16(l.creds.domain());
    let user = utf16(l.creds.user());
    let workstation = utf16("RDPROBE");
    let fields = |mic: [u8; 16]| {
        let [lm, nt, d, u, w, k] = Field::packed(
            88,
            [
                &r.lm_response[..],
                &r.nt_response,
                &domain,
                &user,
                &workstation,
                &encrypted_key,
            ],
        );
        rdp_proto::encode_vec(&Authenticate {
            lm_response: lm,
            nt_response: nt,
            domain: d,
            user: u,
            workstation: w,
            session_key: k,
            flags,
            version: Some(probe_version()),
            mic: Some(mic),
        })
        .unwrap_or_default()
    };
    let unsigned = fields([0; 16]);
    let authenticate = fields(mic(l.exported, l.negotiate, token, &unsigned));
    Some(authenticate)
}

fn push_av(dst: &mut Vec<u8>, id: u16, value: &[u8]) {
    dst.extend(id.to_le_bytes());
    dst.extend(u16::try_from(value.len()).unwrap_or(0).to_le_bytes());
    dst.extend_from_slice(value);
}

fn ts_request(r: &TsRequest<'_>) -> Vec<u8> {
    rdp_proto::encode_vec(r).unwrap_or_default()
}

/// The first TSRequest of CredSSP: the NTLM NEGOTIATE (MS-CSSP 3.1.5 step 1).
pub fn first_request() -> Vec<u8> {
    let negotiate =
        rdp_proto::encode_vec(&ntlm::Negotiate::probe(probe_version())).unwrap_or_default();
    ts_request(&TsRequest {
        version: CREDSSP_VERSION,
        nego_tokens: vec![&negotiate],
        ..Default::default()
    })
}

/// The VERSION rdprobe's NTLM messages carry (Windows 10 2004, NTLMSSP_REVISION_W2K3).
pub fn probe_version() -> ntlm::Version {
    ntlm::Version {
        major: 10,
        minor: 0,
        build: 19041,
        reserved: [0; 3],
        revision: 15,
    }
}
