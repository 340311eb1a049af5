//! Kerberos as mstsc's Negotiate package speaks it (RFC 4120, MS-KILE), sans-IO:
//! [`KdcClient`] asks the KDC for a ticket-granting ticket (AS-REQ, then again with
//! PA-ENC-TIMESTAMP when the KDC answers PREAUTH_REQUIRED with its ETYPE-INFO2) and for the
//! service ticket `TERMSRV/<host>` (TGS-REQ); [`GssKerberos`] turns that ticket into the
//! SPNEGO token CredSSP carries (an AP-REQ with mutual authentication and a subkey), reads
//! the AP-REP, and seals and opens CredSSP's pubKeyAuth and TSCredentials (RFC 4121 Wrap).
//! The driver moves bytes and the clock; every decision is here. Keys are zeroized when
//! dropped and never leave this module but as ciphertext.

use rdp_proto::kerberos::{
    self as krb, app, EncApRepPart, EncKdcRepPart, KdcRep, KrbError, NegState, NegTokenResp,
    PaType, ReqBody,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::active::credentials::Credentials;
use crate::active::crypto::kerberos::{self as kc, usage, Key};
use crate::facts::kerberos::{
    KdcExchange, KdcFacts, KdcRequest, KerberosFailure, KrbErrorCode, KrbMessage,
};

/// Randomness for confounders, nonces, the subkey and sequence numbers: SHA-256 of a seed
/// drawn by the driver and a counter (so tests can replay an exchange).
#[derive(Clone)]
pub struct Entropy {
    seed: Zeroizing<[u8; 32]>,
    n: u64,
}

impl Entropy {
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            seed: Zeroizing::new(seed),
            n: 0,
        }
    }

    fn next32(&mut self) -> Zeroizing<[u8; 32]> {
        self.n += 1;
        let mut h = Sha256::new();
        h.update(*self.seed);
        h.update(self.n.to_be_bytes());
        Zeroizing::new(h.finalize().into())
    }

    fn next16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.next32()[..16]);
        out
    }

    fn next_u31(&mut self) -> u32 {
        let b = self.next32();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7FFF_FFFF
    }
}

/// The clock: Unix seconds and microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub unix: u64,
    pub usec: u32,
}

/// A service ticket and its session key.
pub struct ServiceTicket {
    /// The Ticket's DER, as the KDC sent it.
    pub ticket: Vec<u8>,
    pub key: Key,
    /// The client's realm and name, for the Authenticator.
    pub crealm: String,
    pub cname: String,
}

impl core::fmt::Debug for ServiceTicket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServiceTicket")
            .field("cname", &self.cname)
            .finish_non_exhaustive()
    }
}

/// What the driver does next with the KDC.
#[derive(Debug)]
pub enum KdcStep {
    /// Send this message to the KDC, then call [`KdcClient::on_reply`] with its answer.
    Send(Vec<u8>),
    /// Done: the service ticket.
    Ticket(ServiceTicket),
    Failed(KerberosFailure),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KState {
    /// The first AS-REQ (without pre-authentication, as MIT and Windows clients send it).
    AsFirst,
    /// The AS-REQ with PA-ENC-TIMESTAMP.
    AsPreauth,
    Tgs,
    Done,
}

/// The KDC exchanges for one service ticket.
pub struct KdcClient<'c> {
    creds: &'c Credentials,
    state: KState,
    ent: Entropy,
    nonce: u32,
    user_key: Option<Key>,
    tgt: Option<(Vec<u8>, Key)>,
    crealm: String,
    cname: String,
    /// What the `kerberos` stage reports.
    pub facts: KdcFacts,
}

impl core::fmt::Debug for KdcClient<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KdcClient")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// `--auth`: which mechanism CredSSP uses with `--user`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthPolicy {
    /// What mstsc's Negotiate would pick: Kerberos when the target is a name in a realm, NTLM
    /// otherwise, and NTLM again when no KDC answers or the KDC knows no `TERMSRV/<name>`.
    #[default]
    Auto,
    /// Kerberos only: no fallback.
    Kerberos,
    /// NTLM only (rdprobe before Kerberos).
    Ntlm,
}

/// The mechanism a logon starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Ask the KDC of this realm.
    Kerberos { realm: String },
    /// NTLM, and why not Kerberos (None: `--auth ntlm`).
    Ntlm { reason: Option<String> },
}

/// What mstsc would pick for `creds` connecting to `host` (MS-CSSP over SPNEGO: Kerberos needs
/// a `TERMSRV/<name>` principal, so an IP address means NTLM).
pub fn choose(policy: AuthPolicy, creds: &Credentials, host: &str) -> Choice {
    if policy == AuthPolicy::Ntlm {
        return Choice::Ntlm { reason: None };
    }
    let ip = host
        .trim_matches(['[', ']'])
        .parse::<core::net::IpAddr>()
        .is_ok();
    match realm_for(creds, host) {
        Some(realm) if policy == AuthPolicy::Kerberos || !ip => Choice::Kerberos { realm },
        Some(_) => Choice::Ntlm {
            reason: Some(format!(
                "the target {host} is an IP address: there is no TERMSRV/{host} principal, so Windows uses NTLM"
            )),
        },
        None => Choice::Ntlm {
            reason: Some(if ip {
                format!("the target {host} is an IP address and the user names no DNS domain")
            } else {
                format!("no realm: the user names no DNS domain and {host} is not a DNS name")
            }),
        },
    }
}

/// The realm for a logon: the user's UPN suffix or domain when it is a DNS name
/// (`alice@corp.test`, `CORP.TEST\alice`), else the target's DNS domain (`srv.corp.test`),
/// upper-cased; None when neither is a DNS name (a NetBIOS domain and an IP address).
pub fn realm_for(creds: &Credentials, host: &str) -> Option<String> {
    let d = creds.domain();
    if d.contains('.') {
        return Some(d.to_ascii_uppercase());
    }
    if host.parse::<core::net::IpAddr>().is_ok() {
        return None;
    }
    let (_, domain) = host.split_once('.')?;
    (!domain.is_empty()).then(|| domain.to_ascii_uppercase())
}

impl<'c> KdcClient<'c> {
    /// Starts the exchange for `TERMSRV/<host>` in `realm`: the client and the first AS-REQ.
    pub fn start(
        creds: &'c Credentials,
        realm: &str,
        host: &str,
        now: Clock,
        seed: [u8; 32],
    ) -> (Self, Vec<u8>) {
        let realm = realm.to_ascii_uppercase();
        let mut c = Self {
            creds,
            state: KState::AsFirst,
            ent: Entropy::new(seed),
            nonce: 0,
            user_key: None,
            tgt: None,
            crealm: realm.clone(),
            cname: creds.user().to_owned(),
            facts: KdcFacts {
                realm: realm.clone(),
                client: format!("{}@{realm}", creds.user()),
                service: format!("TERMSRV/{host}@{realm}"),
                ..KdcFacts::default()
            },
        };
        let first = c.as_req(now, None);
        (c, first)
    }

    fn service_name(&self) -> String {
        self.facts
            .service
            .rsplit_once('@')
            .map_or(self.facts.service.clone(), |(s, _)| s.to_owned())
    }

    fn as_req(&mut self, now: Clock, preauth: Option<&Key>) -> Vec<u8> {
        self.nonce = self.ent.next_u31();
        let tgs = format!("krbtgt/{}", self.crealm);
        let body = krb::req_body(&ReqBody {
            cname: Some(&self.cname),
            realm: &self.crealm,
            sname: &tgs,
            till: now.unix + 10 * 3600,
            nonce: self.nonce,
            etypes: &kc::SUPPORTED,
        });
        let mut padata = Vec::new();
        if let Some(key) = preauth {
            let ts = krb::pa_enc_ts_enc(now.unix, now.usec);
            let enc = key.encrypt(usage::AS_REQ_PA_ENC_TIMESTAMP, self.ent.next16(), &ts);
            padata.push(krb::pa_data(
                PaType::ENC_TIMESTAMP,
                &krb::encrypted_data(key.etype, None, &enc),
            ));
        }
        padata.push(krb::pa_data(PaType::PAC_REQUEST, &krb::pa_pac_request()));
        krb::kdc_req(app::AS_REQ, &padata, &body)
    }

    fn request(&self) -> KdcRequest {
        match self.state {
            KState::Tgs | KState::Done => KdcRequest::Tgs,
            _ => KdcRequest::As,
        }
    }

    fn record(&mut self, answer: String, error: Option<KrbErrorCode>) {
        self.facts.exchanges.push(KdcExchange {
            request: self.request(),
            preauth: self.state == KState::AsPreauth,
            answer,
            error,
        });
    }

    fn fail(&mut self, failure: KerberosFailure) -> KdcStep {
        self.state = KState::Done;
        self.facts.failure = Some(failure.clone());
        KdcStep::Failed(failure)
    }

    fn malformed(&mut self, why: String) -> KdcStep {
        self.record(format!("unreadable: {why}"), None);
        self.fail(KerberosFailure::Malformed(why))
    }

    /// The KDC could not be reached for the current request (`why`).
    pub fn on_unreachable(&mut self, why: String) -> KerberosFailure {
        self.record(format!("no answer: {why}"), None);
        let f = KerberosFailure::Unreachable(why);
        self.state = KState::Done;
        self.facts.failure = Some(f.clone());
        f
    }

    /// The KDC's answer to the last request.
    pub fn on_reply(&mut self, bytes: &[u8], now: Clock) -> KdcStep {
        match bytes.first() {
            Some(&app::KRB_ERROR) => self.on_error(bytes, now),
            Some(&app::AS_REP) if matches!(self.state, KState::AsFirst | KState::AsPreauth) => {
                self.on_as_rep(bytes, now)
            }
            Some(&app::TGS_REP) if self.state == KState::Tgs => self.on_tgs_rep(bytes),
            _ => self.malformed("the KDC's answer is not the expected Kerberos message".into()),
        }
    }

    fn on_error(&mut self, bytes: &[u8], now: Clock) -> KdcStep {
        let e = match KrbError::decode(bytes) {
            Ok(e) => e,
            Err(err) => return self.malformed(format!("KRB-ERROR: {err}")),
        };
        let code = KrbErrorCode(e.error_code);
        if self.facts.clock_skew_secs.is_none() {
            self.facts.clock_skew_secs = Some(e.stime as i64 - now.unix as i64);
        }
        self.record(code.to_string(), Some(code));
        if self.state == KState::AsFirst && code == KrbErrorCode::PREAUTH_REQUIRED {
            let info = e.etype_info2();
            let Some(entry) = info.iter().find(|i| kc::SUPPORTED.contains(&i.etype)) else {
                let offered: Vec<&str> = info.iter().map(|i| i.etype.name()).collect();
                return self.fail(KerberosFailure::Malformed(format!(
                    "the KDC has no AES key for the user (ETYPE-INFO2 offers {}); rdprobe speaks aes256/aes128-cts-hmac-sha1-96",
                    if offered.is_empty() { "nothing".to_owned() } else { offered.join(", ") }
                )));
            };
            let salt = entry
                .salt
                .clone()
                .unwrap_or_else(|| format!("{}{}", self.crealm, self.cname));
            let key = match Key::from_password(
                entry.etype,
                self.creds.password(),
                &salt,
                entry.s2kparams.as_deref(),
            ) {
                Ok(k) => k,
                Err(err) => return self.fail(KerberosFailure::Malformed(err.to_string())),
            };
            self.facts.etype = Some(entry.etype);
            self.state = KState::AsPreauth;
            let req = self.as_req(now, Some(&key));
            self.user_key = Some(key);
            return KdcStep::Send(req);
        }
        let request = self.request();
        self.fail(KerberosFailure::Kdc {
            code,
            request,
            text: e.e_text.filter(|t| !t.is_empty()),
        })
    }

    fn on_as_rep(&mut self, bytes: &[u8], now: Clock) -> KdcStep {
        let rep = match KdcRep::decode(bytes) {
            Ok(r) => r,
            Err(err) => return self.malformed(format!("AS-REP: {err}")),
        };
        self.record("AS-REP".into(), None);
        let key = match self.user_key.take() {
            Some(k) if k.etype == rep.enc_part.etype => k,
            _ => {
                // No pre-authentication was asked: the default salt.
                let salt = format!("{}{}", self.crealm, self.cname);
                match Key::from_password(rep.enc_part.etype, self.creds.password(), &salt, None) {
                    Ok(k) => k,
                    Err(err) => return self.fail(KerberosFailure::Malformed(err.to_string())),
                }
            }
        };
        self.facts.etype = Some(key.etype);
        let plain = match key.decrypt(usage::AS_REP_ENC_PART, rep.enc_part.cipher) {
            Ok(p) => p,
            Err(err) => {
                return self.fail(KerberosFailure::Malformed(format!(
                    "the AS-REP does not open with the password's key: {err}"
                )))
            }
        };
        let part = match EncKdcRepPart::decode(&plain) {
            Ok(p) => p,
            Err(err) => return self.malformed(format!("EncASRepPart: {err}")),
        };
        if part.nonce != self.nonce {
            return self.malformed("the AS-REP's nonce is not ours".into());
        }
        let Some(session) = Key::new(part.key.etype, part.key.value) else {
            return self.malformed(format!(
                "the TGT's session key is {}, not AES",
                part.key.etype.name()
            ));
        };
        self.crealm = rep.crealm.clone();
        self.cname = rep.cname.clone();
        self.tgt = Some((rep.ticket.to_vec(), session));
        self.state = KState::Tgs;
        KdcStep::Send(self.tgs_req(now))
    }

    fn tgs_req(&mut self, now: Clock) -> Vec<u8> {
        self.nonce = self.ent.next_u31();
        let sname = self.service_name();
        let body = krb::req_body(&ReqBody {
            cname: None,
            realm: &self.crealm,
            sname: &sname,
            till: now.unix + 10 * 3600,
            nonce: self.nonce,
            etypes: &kc::SUPPORTED,
        });
        let Some((ticket, session)) = &self.tgt else {
            return Vec::new();
        };
        let cksum = session.checksum(usage::TGS_REQ_AUTH_CKSUM, &body);
        let auth = krb::authenticator(&krb::AuthenticatorFields {
            crealm: &self.crealm,
            cname: &self.cname,
            cksum: Some((session.checksum_type(), &cksum)),
            cusec: now.usec,
            ctime: now.unix,
            subkey: None,
            seq_number: None,
        });
        let enc = session.encrypt(usage::TGS_REQ_AUTHENTICATOR, self.ent.next16(), &auth);
        let ap = krb::ap_req(0, ticket, &krb::encrypted_data(session.etype, None, &enc));
        krb::kdc_req(app::TGS_REQ, &[krb::pa_data(PaType::TGS_REQ, &ap)], &body)
    }

    fn on_tgs_rep(&mut self, bytes: &[u8]) -> KdcStep {
        let rep = match KdcRep::decode(bytes) {
            Ok(r) => r,
            Err(err) => return self.malformed(format!("TGS-REP: {err}")),
        };
        self.record("TGS-REP".into(), None);
        let Some((_, session)) = &self.tgt else {
            return self.malformed("a TGS-REP without a TGT".into());
        };
        let plain = match session.decrypt(usage::TGS_REP_ENC_PART_SESSION, rep.enc_part.cipher) {
            Ok(p) => p,
            Err(err) => return self.malformed(format!("the TGS-REP does not open: {err}")),
        };
        let part = match EncKdcRepPart::decode(&plain) {
            Ok(p) => p,
            Err(err) => return self.malformed(format!("EncTGSRepPart: {err}")),
        };
        if part.nonce != self.nonce {
            return self.malformed("the TGS-REP's nonce is not ours".into());
        }
        let Some(key) = Key::new(part.key.etype, part.key.value) else {
            return self.malformed(format!(
                "the service ticket's session key is {}, not AES",
                part.key.etype.name()
            ));
        };
        self.facts.ticket_etype = Some(rep.ticket_etype);
        self.state = KState::Done;
        KdcStep::Ticket(ServiceTicket {
            ticket: rep.ticket.to_vec(),
            key,
            crealm: self.crealm.clone(),
            cname: self.cname.clone(),
        })
    }
}

/// Why the GSS-API Kerberos context could not be established with the RDP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GssFailure {
    /// The server answered the AP-REQ with a KRB-ERROR (KRB_AP_ERR_MODIFIED: the ticket is
    /// not for its key, a duplicated or stale SPN; KRB_AP_ERR_SKEW; ...).
    ApError(KrbErrorCode, Option<String>),
    /// SPNEGO rejected, or an answer that does not parse or open.
    Malformed(String),
}

/// The Kerberos GSS-API context of CredSSP (RFC 4121 inside SPNEGO, MS-CSSP 3.1.5).
pub struct GssKerberos {
    ticket_key: Key,
    subkey: Key,
    /// The acceptor's subkey from the AP-REP, when it sent one (then every token uses it).
    acceptor_key: Option<Key>,
    send_seq: u64,
    ent: Entropy,
}

impl core::fmt::Debug for GssKerberos {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GssKerberos").finish_non_exhaustive()
    }
}

const MECHS: [&[u8]; 2] = [krb::OID_KRB5, krb::OID_MS_KRB5];

impl GssKerberos {
    /// The context and the first SPNEGO token (NegTokenInit with the AP-REQ).
    pub fn start(t: ServiceTicket, now: Clock, seed: [u8; 32]) -> (Self, Vec<u8>) {
        let mut ent = Entropy::new(seed);
        let sub = ent.next32();
        let len = t.key.bytes().len();
        let subkey = Key::new(t.key.etype, &sub[..len]).unwrap_or_else(|| t.key.clone());
        let seq = ent.next_u31() & 0x3FFF_FFFF;
        let cksum = krb::gss_checksum(krb::GSS_FLAGS);
        let auth = krb::authenticator(&krb::AuthenticatorFields {
            crealm: &t.crealm,
            cname: &t.cname,
            cksum: Some((krb::CKSUM_GSS, &cksum)),
            cusec: now.usec,
            ctime: now.unix,
            subkey: Some((subkey.etype, subkey.bytes())),
            seq_number: Some(seq),
        });
        let enc = t
            .key
            .encrypt(usage::AP_REQ_AUTHENTICATOR, ent.next16(), &auth);
        let ap = krb::ap_req(
            krb::AP_MUTUAL_REQUIRED,
            &t.ticket,
            &krb::encrypted_data(t.key.etype, None, &enc),
        );
        let token = krb::spnego_init(&MECHS, &krb::gss_token(krb::TOK_AP_REQ, &ap));
        (
            Self {
                ticket_key: t.key,
                subkey,
                acceptor_key: None,
                send_seq: u64::from(seq),
                ent,
            },
            token,
        )
    }

    /// The server's answer to the AP-REQ (a NegTokenResp, or a bare GSS token): Ok with a
    /// mechListMIC to send when the server asked for one.
    pub fn on_answer(&mut self, token: &[u8]) -> Result<Option<Vec<u8>>, GssFailure> {
        let bad = |why: String| Err(GssFailure::Malformed(why));
        let (inner, wants_mic) = if token.first() == Some(&0xA1) {
            let r = match NegTokenResp::decode(token) {
                Ok(r) => r,
                Err(e) => return bad(format!("SPNEGO answer: {e}")),
            };
            if r.neg_state == Some(NegState::REJECT) {
                return bad("SPNEGO reject: the server refused the Kerberos mechanism".into());
            }
            let Some(t) = r.response_token else {
                return bad("the SPNEGO answer carries no Kerberos token".into());
            };
            (t, r.neg_state == Some(NegState::REQUEST_MIC))
        } else {
            (token, false)
        };
        let (oid, rest) = match krb::decode_gss_token(inner) {
            Ok(t) => t,
            Err(e) => return bad(format!("GSS token: {e}")),
        };
        if oid != krb::OID_KRB5 && oid != krb::OID_MS_KRB5 {
            return bad("the answer's GSS token is not Kerberos".into());
        }
        let (tok_id, msg) = rest.split_at(rest.len().min(2));
        if tok_id == krb::TOK_ERROR {
            return match KrbMessage::parse(msg) {
                Some(KrbMessage::Error { code, text, .. }) => Err(GssFailure::ApError(code, text)),
                _ => bad("an unreadable KRB-ERROR in the GSS token".into()),
            };
        }
        if tok_id != krb::TOK_AP_REP {
            return bad("the GSS token is not an AP-REP".into());
        }
        let enc = match krb::decode_ap_rep(msg) {
            Ok(e) => e,
            Err(e) => return bad(format!("AP-REP: {e}")),
        };
        let plain = match self.ticket_key.decrypt(usage::AP_REP_ENC_PART, enc.cipher) {
            Ok(p) => p,
            Err(e) => return bad(format!("the AP-REP does not open: {e}")),
        };
        let part = match EncApRepPart::decode(&plain) {
            Ok(p) => p,
            Err(e) => return bad(format!("EncAPRepPart: {e}")),
        };
        if let Some(k) = part.subkey {
            match Key::new(k.etype, k.value) {
                Some(k) => self.acceptor_key = Some(k),
                None => return bad(format!("the acceptor subkey is {}", k.etype.name())),
            }
        }
        Ok(wants_mic.then(|| {
            let mic = kc::get_mic(
                self.key(),
                self.acceptor_key.is_some(),
                self.send_seq,
                &krb::mech_type_list(&MECHS),
            );
            self.send_seq += 1;
            krb::spnego_resp_mic(&mic)
        }))
    }

    fn key(&self) -> &Key {
        self.acceptor_key.as_ref().unwrap_or(&self.subkey)
    }

    /// GSS_Wrap with confidentiality (pubKeyAuth, authInfo).
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let confounder = self.ent.next16();
        let t = kc::wrap(
            self.key(),
            self.acceptor_key.is_some(),
            self.send_seq,
            confounder,
            plain,
        );
        self.send_seq += 1;
        t
    }

    /// GSS_Unwrap of the server's token.
    pub fn unseal(&mut self, token: &[u8]) -> Option<Vec<u8>> {
        kc::unwrap(self.key(), token).ok().map(|p| p.to_vec())
    }
}

#[cfg(test)]
mod tests;
