//! Which common clients would connect: from what the probe learned about the server, for each
//! client whether it connects, or where it fails with which message, and the fix. A client's
//! behaviour is a [`Client`] profile whose every fact cites its public source; clients whose
//! behaviour is not documented (Microsoft's Windows App on macOS, FreeRDP 3's defaults) are
//! left out rather than guessed. The server side is [`ServerFacts`]; [`matrix`] is the rule.

use serde::Serialize;

use super::{FindingId, Stage};
use crate::facts::tls::TlsVersion;

/// How one client fares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClientView {
    pub client: &'static str,
    /// `connects` or `fails`.
    pub outcome: Outcome,
    /// Where it fails (null: it connects).
    pub stage: Option<Stage>,
    /// What the user sees, or what happens on the way (a certificate prompt).
    pub message: String,
    /// What to change (null: nothing).
    pub fix: Option<&'static str>,
    /// The public sources of the client facts used.
    pub source: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Connects,
    Fails,
}

/// What the probe learned about the server (None: not known).
#[derive(Clone, Debug, Default)]
pub struct ServerFacts {
    /// A failure every client meets before the security layer (dns, tcp, x224): the stage and
    /// what happened.
    pub unreachable: Option<(Stage, &'static str)>,
    /// The layers the server selects when asked for them alone.
    pub rdp: bool,
    pub ssl: bool,
    pub hybrid: bool,
    /// The server refuses every request without CredSSP.
    pub nla_required: bool,
    /// The TLS versions the server accepts; empty when not enumerated.
    pub tls: Vec<TlsVersion>,
    /// The server's CredSSP has the CVE-2018-0886 fix (TSRequest version 5 or later).
    pub credssp_patched: Option<bool>,
    /// Why the certificate would make a client ask (expired, self-signed, another name).
    pub cert_prompt: Option<&'static str>,
    /// A failure after the security layer that every client meets (a denied session,
    /// licensing): the stage and the finding.
    pub later: Option<(Stage, FindingId)>,
}

/// What a client does with a CredSSP server without the CVE-2018-0886 fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Oracle {
    /// Refuses it (an updated Windows client under "Force Updated Clients" or "Mitigated").
    Refuses,
    /// Connects (an updated Windows client under "Vulnerable", or a client that falls back to
    /// the old CredSSP versions).
    Connects,
}

/// A client's documented behaviour.
struct Client {
    name: &'static str,
    /// Offers CredSSP (NLA) without extra set-up.
    nla: bool,
    /// Offers TLS without NLA.
    ssl: bool,
    /// Can use Standard RDP Security.
    rdp: bool,
    /// The TLS versions it uses.
    tls: &'static [TlsVersion],
    oracle: Oracle,
    /// What the user sees when the server requires NLA and the client cannot do it.
    nla_message: &'static str,
    /// What the user sees when no TLS version is shared, and the fix.
    tls_message: &'static str,
    tls_fix: &'static str,
    /// How the client asks about a certificate it cannot verify.
    cert_prompt: &'static str,
    source: &'static str,
}

const ORACLE_MESSAGE: &str = "\"An authentication error has occurred. The function requested is not supported ... This could be due to CredSSP encryption oracle remediation.\"";
const ORACLE_FIX: &str = "update the server (CVE-2018-0886, May 2018 or later); setting the client's policy to Vulnerable only hides it";
const KB_CREDSSP: &str = "Microsoft KB4093492 \"CredSSP updates for CVE-2018-0886\" (the Encryption Oracle Remediation policy: Force Updated Clients, Mitigated (the default since the May 2018 update), Vulnerable; an updated client under the first two refuses an unpatched server); learn.microsoft.com \"Protocols in TLS/SSL (Schannel SSP)\" (TLS 1.0 to 1.2 enabled for clients)";
const MSTSC_CERT: &str =
    "mstsc asks first: \"The identity of the remote computer cannot be verified\"";
const MSTSC_NLA: &str = "\"The remote computer requires Network Level Authentication, which your computer does not support\"";
const MSTSC_TLS: &[TlsVersion] = &[TlsVersion::V1_0, TlsVersion::V1_1, TlsVersion::V1_2];

/// mstsc on updated Windows 10/11 under one Encryption Oracle Remediation value.
const fn mstsc_updated(name: &'static str, oracle: Oracle, source: &'static str) -> Client {
    Client {
        name,
        nla: true,
        ssl: true,
        rdp: true,
        tls: MSTSC_TLS,
        oracle,
        nla_message: MSTSC_NLA,
        tls_message: "the TLS handshake fails (mstsc: \"An internal error has occurred\")",
        tls_fix: "enable TLS 1.2 on the server",
        cert_prompt: MSTSC_CERT,
        source,
    }
}

const CLIENTS: &[Client] = &[
    mstsc_updated(
        "mstsc, Windows 10/11 updated (Encryption Oracle Remediation: Mitigated, the default)",
        Oracle::Refuses,
        KB_CREDSSP,
    ),
    mstsc_updated(
        "mstsc, updated, policy Force Updated Clients",
        Oracle::Refuses,
        KB_CREDSSP,
    ),
    mstsc_updated(
        "mstsc, updated, policy Vulnerable",
        Oracle::Connects,
        KB_CREDSSP,
    ),
    Client {
        name: "mstsc, Windows 7 SP1 / Server 2008 R2 without KB3080079 (TLS 1.0 only)",
        nla: true,
        ssl: true,
        rdp: true,
        tls: &[TlsVersion::V1_0],
        oracle: Oracle::Refuses,
        nla_message: MSTSC_NLA,
        tls_message: "the TLS handshake fails: this client speaks TLS 1.0 only to RDP servers",
        tls_fix: "install KB3080079 on the client (TLS 1.1 and 1.2 for RDP), or allow TLS 1.0 on the server",
        cert_prompt: MSTSC_CERT,
        source: "Microsoft KB3080079 \"Update to add RDS support for TLS 1.1 and TLS 1.2 in Windows 7 or Windows Server 2008 R2\"; KB4093492 for CredSSP",
    },
    Client {
        name: "FreeRDP 2 (xfreerdp) with OpenSSL 3 defaults (also FreeRDP 3 before 3.27)",
        nla: true,
        ssl: true,
        rdp: true,
        tls: &[TlsVersion::V1_2, TlsVersion::V1_3],
        oracle: Oracle::Connects,
        nla_message: "ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED",
        tls_message: "ERRCONNECT_TLS_CONNECT_FAILED: OpenSSL 3 at security level 1 (FreeRDP's default) refuses TLS 1.0 and 1.1",
        tls_fix: "/tls-seclevel:0 on the client, or TLS 1.2 on the server",
        cert_prompt: "xfreerdp asks \"Do you trust the above certificate? (Y/T/N)\" (/cert:ignore or /cert:tofu skip it)",
        source: "xfreerdp 2.11 /help (\"/tls-seclevel:<level> TLS security level - defaults to 1\", /cert); OpenSSL 3.0 SSL_CTX_set_security_level(3) (\"SSLv3, TLS 1.0, TLS 1.1 and DTLS 1.0 are all disabled at this level\"); FreeRDP libfreerdp/core/nla.c (peerVersion < 5: the old pubKeyAuth, so unpatched servers connect), libfreerdp/crypto/tls.c (the certificate question); FreeRDP 3.27 raised the default to level 2 and TLS 1.2 (commit c09281f34), so it is not this row",
    },
    Client {
        name: "Remmina (RDP plugin on FreeRDP 2)",
        nla: true,
        ssl: true,
        rdp: true,
        tls: &[TlsVersion::V1_2, TlsVersion::V1_3],
        oracle: Oracle::Connects,
        nla_message: "the connection fails at negotiation (FreeRDP's ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED)",
        tls_message: "the TLS handshake fails (FreeRDP's ERRCONNECT_TLS_CONNECT_FAILED): OpenSSL 3 refuses TLS 1.0 and 1.1",
        tls_fix: "lower the profile's TLS security level to 0 (FreeRDP's /tls-seclevel:0), or TLS 1.2 on the server",
        cert_prompt: "Remmina asks whether to accept the certificate",
        source: "Debian's remmina-plugin-rdp depends on libfreerdp2 (the same engine as xfreerdp 2); the FreeRDP and OpenSSL sources above",
    },
    Client {
        name: "rdesktop 1.9 (no Kerberos ticket)",
        nla: false,
        ssl: true,
        rdp: true,
        tls: &[TlsVersion::V1_2, TlsVersion::V1_3],
        oracle: Oracle::Connects,
        nla_message: "\"Failed to initialize NLA, do you have correct Kerberos TGT initialized ? Failed to connect, CredSSP required by server\"",
        tls_message: "the TLS handshake fails (TLS 1.0/1.1 depend on the system's GnuTLS policy; rdesktop suggests its -V option)",
        tls_fix: "rdesktop -V 1.2, or TLS 1.2 on the server",
        cert_prompt: "rdesktop asks \"Do you trust this certificate (yes/no)?\"",
        source: "rdesktop source (iso.c: \"CredSSP required by server\"; cssp.c: CredSSP over GSSAPI/Kerberos only), rdesktop issue #71 \"CredSSP does not work\"; rdesktop 1.9.0 run here against FreeRDP's NLA server (that message) and xrdp with TLS 1.2/1.3 only (it reaches the certificate prompt)",
    },
];

/// The matrix for a server.
pub fn matrix(s: &ServerFacts) -> Vec<ClientView> {
    CLIENTS.iter().map(|c| one(c, s)).collect()
}

fn fails(c: &Client, stage: Stage, message: String, fix: Option<&'static str>) -> ClientView {
    ClientView {
        client: c.name,
        outcome: Outcome::Fails,
        stage: Some(stage),
        message,
        fix,
        source: c.source,
    }
}

fn one(c: &Client, s: &ServerFacts) -> ClientView {
    if let Some((stage, what)) = s.unreachable {
        return fails(c, stage, what.to_owned(), None);
    }
    // The layer the server selects for what this client offers.
    enum Layer {
        Nla,
        Tls,
        Rdp,
    }
    let layer = if c.nla && s.hybrid {
        Layer::Nla
    } else if s.nla_required {
        return fails(
            c,
            Stage::X224,
            c.nla_message.to_owned(),
            Some("a client with CredSSP (NLA), or clear \"require NLA\" on the server"),
        );
    } else if c.ssl && s.ssl {
        Layer::Tls
    } else if c.rdp && s.rdp {
        Layer::Rdp
    } else {
        return fails(
            c,
            Stage::X224,
            "the server refuses every protocol this client offers".into(),
            Some("set the server's security layer to Negotiate"),
        );
    };
    let mut notes = Vec::new();
    if matches!(layer, Layer::Nla | Layer::Tls) {
        let shared = s.tls.is_empty() || s.tls.iter().any(|v| c.tls.contains(v));
        if !shared {
            return fails(c, Stage::Tls, c.tls_message.to_owned(), Some(c.tls_fix));
        }
        if let Some(why) = s.cert_prompt {
            notes.push(format!("{} ({why})", c.cert_prompt));
        }
    }
    if matches!(layer, Layer::Nla) && s.credssp_patched == Some(false) {
        match c.oracle {
            Oracle::Refuses => {
                return fails(c, Stage::Credssp, ORACLE_MESSAGE.into(), Some(ORACLE_FIX))
            }
            Oracle::Connects => notes.push(
                "connects to a CredSSP without the CVE-2018-0886 fix: the credentials are exposed to that attack".into(),
            ),
        }
    }
    if let Some((stage, id)) = s.later {
        let (_, summary, remediation) = id.entry();
        return fails(c, stage, summary.to_owned(), Some(remediation));
    }
    let via = match layer {
        Layer::Nla => "with NLA",
        Layer::Tls => "with TLS, without NLA",
        Layer::Rdp => "with Standard RDP Security",
    };
    let message = if notes.is_empty() {
        format!("connects {via}")
    } else {
        format!("connects {via}; {}", notes.join("; "))
    };
    ClientView {
        client: c.name,
        outcome: Outcome::Connects,
        stage: None,
        message,
        fix: None,
        source: c.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(m: &[ClientView], prefix: &str) -> (Outcome, Option<Stage>) {
        let v = m.iter().find(|v| v.client.starts_with(prefix)).unwrap();
        (v.outcome, v.stage)
    }

    fn nla_server() -> ServerFacts {
        ServerFacts {
            hybrid: true,
            nla_required: true,
            tls: vec![TlsVersion::V1_2, TlsVersion::V1_3],
            credssp_patched: Some(true),
            ..ServerFacts::default()
        }
    }

    #[test]
    fn an_nla_server_with_tls_1_2() {
        let m = matrix(&nla_server());
        assert_eq!(m.len(), CLIENTS.len());
        assert_eq!(outcome(&m, "mstsc, Windows 10").0, Outcome::Connects);
        assert_eq!(
            outcome(&m, "mstsc, Windows 7"),
            (Outcome::Fails, Some(Stage::Tls))
        );
        assert_eq!(outcome(&m, "FreeRDP 2").0, Outcome::Connects);
        let rdesktop = m.iter().find(|v| v.client.starts_with("rdesktop")).unwrap();
        assert_eq!(rdesktop.stage, Some(Stage::X224));
        assert!(rdesktop.message.contains("CredSSP required by server"));
    }

    #[test]
    fn an_unpatched_credssp_under_each_policy() {
        let s = ServerFacts {
            credssp_patched: Some(false),
            ..nla_server()
        };
        let m = matrix(&s);
        assert_eq!(
            outcome(&m, "mstsc, Windows 10"),
            (Outcome::Fails, Some(Stage::Credssp))
        );
        assert_eq!(
            outcome(&m, "mstsc, updated, policy Force"),
            (Outcome::Fails, Some(Stage::Credssp))
        );
        assert_eq!(
            outcome(&m, "mstsc, updated, policy Vulnerable").0,
            Outcome::Connects
        );
        assert_eq!(outcome(&m, "FreeRDP 2").0, Outcome::Connects);
    }

    #[test]
    fn tls_1_0_only_and_failures_every_client_meets() {
        let s = ServerFacts {
            ssl: true,
            tls: vec![TlsVersion::V1_0],
            cert_prompt: Some("expired"),
            ..ServerFacts::default()
        };
        let m = matrix(&s);
        assert_eq!(outcome(&m, "mstsc, Windows 10").0, Outcome::Connects);
        assert!(m[0].message.contains("identity of the remote computer"));
        assert_eq!(outcome(&m, "FreeRDP 2"), (Outcome::Fails, Some(Stage::Tls)));
        assert_eq!(outcome(&m, "Remmina"), (Outcome::Fails, Some(Stage::Tls)));
        let down = ServerFacts {
            unreachable: Some((Stage::Tcp, "the server refused the TCP connection")),
            ..ServerFacts::default()
        };
        assert!(matrix(&down).iter().all(|v| v.stage == Some(Stage::Tcp)));
        let denied = ServerFacts {
            later: Some((Stage::Capabilities, FindingId::ServerDeniedConnection)),
            ..nla_server()
        };
        let m = matrix(&denied);
        assert_eq!(
            outcome(&m, "mstsc, Windows 10"),
            (Outcome::Fails, Some(Stage::Capabilities))
        );
    }
}
