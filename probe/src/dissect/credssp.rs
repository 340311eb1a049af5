//! CredSSP TSRequest (DER) and the NTLM messages in it.

use rdp_proto::credssp::TsRequest;
use rdp_proto::nego::flag_names;
use rdp_proto::ntlm::{self, AvId, AvPair, Message};
use rdp_proto::DecodeError;

use crate::time::rfc3339;

use super::*;

pub(super) fn credssp_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let req: TsRequest = dec(input, part)?;
    let mut n = Node::new("CredSSP TSRequest", input, part);
    n.f("version", req.version).f(
        "patched CVE-2018-0886 (version >= 5)",
        req.patched_cve_2018_0886(),
    );
    for t in &req.nego_tokens {
        let mut tok = Node::new("negoToken", input, t);
        match ntlm_node(input, t) {
            Ok(x) => {
                tok.child(x);
            }
            Err(_) if !t.starts_with(&ntlm::SIGNATURE) => {
                tok.f("token", "not NTLM (SPNEGO/Kerberos)");
            }
            Err(e) => tok.error = Some(e.to_string()),
        }
        n.child(tok);
    }
    if let Some(a) = req.auth_info {
        n.f("authInfo length", a.len());
    }
    if let Some(p) = req.pub_key_auth {
        n.f("pubKeyAuth length", p.len());
    }
    if let Some(e) = req.error_code {
        n.f("errorCode", format!("0x{:08x} ({e})", e.0));
    }
    if let Some(c) = req.client_nonce {
        n.f("clientNonce", hex::encode(c));
    }
    Ok(n)
}

pub(super) fn av_pairs_node<'a>(
    input: &[u8],
    info: &[u8],
    pairs: impl Iterator<Item = AvPair<'a>>,
) -> Node {
    let mut n = Node::new("AV_PAIRs", input, info);
    for p in pairs {
        let name = p.id.to_string();
        match p.id {
            AvId::MSV_AV_TIMESTAMP => {
                let ft = p.filetime().unwrap_or(0);
                let t = ntlm::filetime_to_unix(ft)
                    .map_or_else(|| ft.to_string(), |s| rfc3339(s as i64));
                n.f(&name, t);
            }
            AvId::MSV_AV_FLAGS => {
                n.f(&name, hex::encode(p.value));
            }
            AvId::MSV_AV_CHANNEL_BINDINGS | AvId::MSV_AV_SINGLE_HOST => {
                n.f(&name, hex::encode(p.value));
            }
            _ if p.id.name().is_some() => {
                n.f(&name, p.text());
            }
            _ => {
                n.f(&name, hex::encode(p.value));
            }
        }
    }
    n
}

pub(super) fn ntlm_node(input: &[u8], part: &[u8]) -> Result<Node, DecodeError> {
    let msg: Message = dec(input, part)?;
    Ok(match &msg {
        Message::Negotiate(m) => {
            let mut n = Node::new("NTLM NEGOTIATE_MESSAGE", input, part);
            n.hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags));
            n.f("DomainName", wire_text(m.domain.data))
                .f("Workstation", wire_text(m.workstation.data));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            n
        }
        Message::Challenge(m) => {
            let mut n = Node::new("NTLM CHALLENGE_MESSAGE", input, part);
            n.f("TargetName", rdp_proto::utf16le(m.target_name.data))
                .hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags))
                .f("ServerChallenge", hex::encode(m.server_challenge));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            n.child(av_pairs_node(input, m.target_info.data, m.av_pairs()));
            n
        }
        Message::Authenticate(m) => {
            let mut n = Node::new("NTLM AUTHENTICATE_MESSAGE", input, part);
            n.f("DomainName", m.domain_name())
                .f("UserName", m.user_name())
                .f("Workstation", m.workstation_name())
                .f("LmChallengeResponse length", m.lm_response.data.len())
                .f("NtChallengeResponse length", m.nt_response.data.len())
                .hex32("NegotiateFlags", m.flags.bits())
                .f("NegotiateFlags names", flag_names(m.flags));
            if let Some(v) = m.version {
                n.f("Version", v.product_version());
            }
            if let Some(mic) = m.mic {
                n.f("MIC", hex::encode(mic));
            }
            if m.nt_response.data.len() > 44 {
                n.child(av_pairs_node(
                    input,
                    m.nt_response.data,
                    m.ntlmv2_av_pairs(),
                ));
            }
            n
        }
    })
}
