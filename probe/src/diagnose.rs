//! Observations to findings: the catalogue of DESIGN.md section 7, shared by the capture
//! analyzer and the active probe. Each finding has a stable id, a severity, a one-line
//! summary, a remediation and the evidence that raised it.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub remediation: &'static str,
    pub evidence: String,
}

/// (id, severity, summary, remediation)
const CATALOGUE: &[(&str, Severity, &str, &str)] = &[
    ("dns-unresolved", Severity::Error, "the name does not resolve", "fix the DNS record, or connect by IP"),
    ("dns-multiple-addresses", Severity::Warning, "the name has several addresses that answer differently", "stale record: flush the client's cache (ipconfig /flushdns) and fix DNS"),
    ("tcp-refused", Severity::Error, "the server refused the TCP connection (RST to SYN)", "nothing listens on the port: Remote Desktop disabled, TermService stopped, or a wrong/custom port"),
    ("tcp-timeout", Severity::Error, "no answer to the TCP SYN", "a firewall, cloud security group, NAT forward or a Public network profile drops it, or the host is down"),
    ("tcp-unreachable", Severity::Error, "the host or network is unreachable", "check routing and the VPN"),
    ("syn-unanswered", Severity::Error, "SYNs without any reply in the capture", "a firewall, cloud security group, NAT forward or a Public network profile drops it, or the host is down"),
    ("x224-no-response", Severity::Error, "TCP connected, but no X.224 Connection Confirm came back", "the Remote Desktop service is hung (restart Remote Desktop Services), or this is not RDP"),
    ("x224-closed", Severity::Error, "the server closed the connection right after the Connection Request", "service failing, connection limit reached, or a TLS pass-through / gateway in front"),
    ("x224-malformed", Severity::Error, "the X.224 negotiation is malformed", "a non-conformant server or a middlebox rewrote it; the evidence names the field"),
    ("not-rdp", Severity::Error, "the answer is not RDP", "wrong port, or another service listens on it"),
    ("neg-ssl-required", Severity::Error, "the server requires TLS (SSL_REQUIRED_BY_SERVER)", "allow TLS on the client, or set the server's security layer to Negotiate"),
    ("neg-ssl-not-allowed", Severity::Error, "the server does not allow TLS (SSL_NOT_ALLOWED_BY_SERVER)", "the server is set to RDP Security Layer only: set it to Negotiate or SSL"),
    ("neg-ssl-cert-not-on-server", Severity::Error, "the server has no usable TLS certificate (SSL_CERT_NOT_ON_SERVER)", "regenerate the RDP certificate (clear MachineKeys / Remote Desktop certificate store, restart TermService)"),
    ("neg-inconsistent-flags", Severity::Error, "the server rejected the request's flags (INCONSISTENT_FLAGS)", "client and server disagree on the protocols; update the client"),
    ("neg-hybrid-required", Severity::Error, "the server requires Network Level Authentication (HYBRID_REQUIRED_BY_SERVER)", "enable CredSSP/NLA on the client (or clear 'require NLA' on the server)"),
    ("neg-ssl-with-user-auth-required", Severity::Error, "the server requires TLS with user authentication (SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER)", "use a client that supports it, or change the server's policy"),
    ("neg-protocol-not-requested", Severity::Error, "the server selected a security protocol the client did not request", "non-conformant server (xrdp does this); clients that only allow what they asked for abort: fix the server's security layer setting"),
    ("legacy-no-negotiation", Severity::Warning, "no RDP negotiation (pre-Vista peer): only Standard RDP Security", "upgrade the server or client; Standard RDP Security is open to man-in-the-middle"),
    ("nla-not-required", Severity::Warning, "the server accepts a connection without CredSSP (NLA)", "require Network Level Authentication (DoS and credential exposure risk)"),
    ("rdp-security-allowed", Severity::Warning, "Standard RDP Security is used", "man-in-the-middle risk: require TLS or NLA"),
    ("weak-rdp-encryption", Severity::Warning, "weak RDP encryption (40/56-bit, or none)", "set the encryption level to High or FIPS"),
    ("tls-legacy-only", Severity::Error, "the best TLS version offered is 1.0/1.1", "enable TLS 1.2 on the server (KB3080079 on old Windows)"),
    ("tls-legacy-enabled", Severity::Warning, "TLS 1.0/1.1 is accepted besides 1.2+", "disable TLS 1.0 and 1.1"),
    ("tls-handshake-failed", Severity::Error, "the TLS handshake failed", "the alert or the stage names the cause: certificate or private key unusable, protocol or cipher mismatch"),
    ("cert-expired", Severity::Error, "the certificate has expired", "renew or replace the RDP certificate"),
    ("cert-not-yet-valid", Severity::Error, "the certificate is not valid yet", "check the server's clock, or reissue the certificate"),
    ("cert-name-mismatch", Severity::Warning, "the target name is not in the certificate", "connect with the name in the certificate, or reissue it"),
    ("cert-self-signed", Severity::Info, "the certificate is self-signed", "expected for default RDP certificates; deploy a CA-issued certificate to stop the prompts"),
    ("cert-weak", Severity::Warning, "weak certificate (RSA < 2048 bits, or a SHA-1/MD5 signature)", "reissue the certificate"),
    ("credssp-unpatched", Severity::Warning, "the server's CredSSP lacks the CVE-2018-0886 fix (TSRequest version < 5)", "update the server: patched clients refuse it ('encryption oracle remediation')"),
    ("credssp-failed", Severity::Error, "the connection ended during CredSSP (NLA)", "wrong credentials, account restrictions, or a CredSSP version mismatch; check the server's Security log"),
    ("clock-skew", Severity::Warning, "the server's clock is far from ours", "fix time synchronisation (Kerberos fails beyond 5 minutes)"),
    ("restricted-admin-supported", Severity::Info, "the server supports Restricted Admin mode", "mstsc /restrictedAdmin can be used"),
    ("server-error-info", Severity::Error, "the server sent a Set Error Info PDU", "the code names the cause: licensing, session limits, denied, privileges"),
    ("licensing-error", Severity::Error, "licensing failed", "no license server, no CALs left, or the grace period ended"),
    ("packet-loss", Severity::Warning, "the path loses packets (retransmissions or lost segments above 1 %)", "unreliable network: fix the path, test without VPN or antivirus"),
    ("closed-by-server", Severity::Error, "the server ended the connection during the handshake", "the stage and the server's disconnect reason say where; check the server's event log (TermService, RemoteDesktopServices-RdpCoreTS)"),
    ("reset-by-server", Severity::Error, "the server reset the connection", "the stage names what was interrupted"),
    ("reset-by-client", Severity::Info, "the client reset the connection", "usually the client giving up or closing; the stage says when"),
    ("injected-reset", Severity::Warning, "a reset whose TTL or IP ID does not fit its sender", "a middlebox (firewall, antivirus, VPN) killed the connection"),
    ("probe-timeout", Severity::Warning, "the probe ran out of its --timeout before finishing", "the stage named was still waiting: the server stalls or answers slowly (overload, a middlebox); raise --timeout to see further"),
    ("internal-error", Severity::Error, "rdprobe failed on this target (internal error)", "a bug in rdprobe: report it with the evidence; the other targets are unaffected"),
    ("zero-window", Severity::Warning, "a receiver advertised a zero window", "the receiver stalled (server overloaded, or a slow client)"),
];

/// Builds the finding `id` with its evidence. Unknown ids are a programming error caught by
/// the catalogue test; at run time they produce an error-severity finding named after the id.
pub fn finding(id: &'static str, evidence: impl Into<String>) -> Finding {
    let (severity, summary, remediation) = CATALOGUE.iter().find(|(i, ..)| *i == id).map_or(
        (Severity::Error, "unknown finding", ""),
        |(_, s, sum, rem)| (*s, *sum, *rem),
    );
    Finding {
        id,
        severity,
        summary,
        remediation,
        evidence: evidence.into(),
    }
}

/// Like [`finding`] with another severity (e.g. a reset that is an error in one stage and
/// information in another).
pub fn finding_with(id: &'static str, severity: Severity, evidence: impl Into<String>) -> Finding {
    Finding {
        severity,
        ..finding(id, evidence)
    }
}

/// The verdict of a set of findings: the worst severity, `ok` when none is a warning or error.
pub fn verdict(findings: &[Finding]) -> &'static str {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Error) => "error",
        Some(Severity::Warning) => "warning",
        _ => "ok",
    }
}

/// The worse of two verdicts (`error` > `warning` > `ok`), for exit codes over many results.
pub fn worse(a: &'static str, b: &'static str) -> &'static str {
    let rank = |v: &str| match v {
        "error" => 2,
        "warning" => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The finding id for an RDP_NEG_FAILURE code.
pub fn negotiation_failure_id(code: u32) -> &'static str {
    match code {
        1 => "neg-ssl-required",
        2 => "neg-ssl-not-allowed",
        3 => "neg-ssl-cert-not-on-server",
        4 => "neg-inconsistent-flags",
        5 => "neg-hybrid-required",
        6 => "neg-ssl-with-user-auth-required",
        _ => "x224-closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_complete() {
        let mut ids: Vec<_> = CATALOGUE.iter().map(|c| c.0).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
        for code in 1..=6 {
            assert_ne!(
                finding(negotiation_failure_id(code), "").summary,
                "unknown finding"
            );
        }
        assert_eq!(verdict(&[finding("cert-self-signed", "")]), "ok");
        assert_eq!(
            verdict(&[finding("cert-self-signed", ""), finding("packet-loss", "")]),
            "warning"
        );
        assert_eq!(verdict(&[finding("tcp-refused", "")]), "error");
        assert_eq!(worse("ok", "warning"), "warning");
        assert_eq!(worse("error", "warning"), "error");
        assert_eq!(worse("warning", "ok"), "warning");
    }
}
