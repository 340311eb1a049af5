//! Finding ids: the closed set the README's findings table lists. A typo in an id is a compile
//! error; each id has one catalogue entry (severity, summary, remediation).

use serde::{Serialize, Serializer};

use super::Severity;

/// A finding's stable id, serialised as its kebab-case name (`tcp-refused`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingId {
    GatewayUnreachable,
    GatewayTlsFailed,
    GatewayCertInvalid,
    GatewayUnavailable,
    GatewayHttpTransportDisabled,
    GatewayMethodsBlocked,
    GatewayAuthFailed,
    GatewayAccountRestricted,
    GatewayPolicyDenied,
    GatewayResourceDenied,
    GatewayTargetUnreachable,
    GatewayRefused,
    DnsUnresolved,
    DnsMultipleAddresses,
    TcpRefused,
    TcpTimeout,
    TcpUnreachable,
    SynUnanswered,
    X224NoResponse,
    X224Closed,
    X224Malformed,
    NotRdp,
    NegSslRequired,
    NegSslNotAllowed,
    NegSslCertNotOnServer,
    NegInconsistentFlags,
    NegHybridRequired,
    NegSslWithUserAuthRequired,
    NegProtocolNotRequested,
    LegacyNoNegotiation,
    NlaNotRequired,
    RdpSecurityAllowed,
    WeakRdpEncryption,
    TlsLegacyOnly,
    TlsLegacyEnabled,
    TlsHandshakeFailed,
    CertExpired,
    CertNotYetValid,
    CertNameMismatch,
    CertSelfSigned,
    CertWeak,
    CredsspUnpatched,
    CredsspFailed,
    CredsspAbandoned,
    ClockSkew,
    RestrictedAdminSupported,
    ServerErrorInfo,
    ServerDeniedConnection,
    InsufficientPrivileges,
    FreshCredentialsRequired,
    SessionReplaced,
    SessionTimeLimit,
    ServerShuttingDown,
    ServerResources,
    BrokerError,
    Redirected,
    KerberosPreauthFailed,
    KerberosClientUnknown,
    KerberosClientRevoked,
    KerberosPasswordExpired,
    KerberosClockSkew,
    KerberosSpnUnknown,
    KerberosError,
    KdcUnreachable,
    KerberosTicketRejected,
    NtlmRefused,
    LogonFailure,
    AccountLocked,
    AccountDisabled,
    PasswordExpired,
    LogonRestricted,
    NoLogonServers,
    UserNotAuthorized,
    AuthFailed,
    WrongHost,

    LicensingError,
    PacketLoss,
    ClosedByServer,
    ServerSilent,
    ResetByServer,
    ResetByClient,
    InjectedReset,
    ProbeTimeout,
    InternalError,
    ZeroWindow,
    PasswordSpray,
    BruteForce,
}

impl FindingId {
    /// Every id, in catalogue order.
    pub const ALL: [Self; 87] = [
        Self::GatewayUnreachable,
        Self::GatewayTlsFailed,
        Self::GatewayCertInvalid,
        Self::GatewayUnavailable,
        Self::GatewayHttpTransportDisabled,
        Self::GatewayMethodsBlocked,
        Self::GatewayAuthFailed,
        Self::GatewayAccountRestricted,
        Self::GatewayPolicyDenied,
        Self::GatewayResourceDenied,
        Self::GatewayTargetUnreachable,
        Self::GatewayRefused,
        Self::DnsUnresolved,
        Self::DnsMultipleAddresses,
        Self::TcpRefused,
        Self::TcpTimeout,
        Self::TcpUnreachable,
        Self::SynUnanswered,
        Self::X224NoResponse,
        Self::X224Closed,
        Self::X224Malformed,
        Self::NotRdp,
        Self::NegSslRequired,
        Self::NegSslNotAllowed,
        Self::NegSslCertNotOnServer,
        Self::NegInconsistentFlags,
        Self::NegHybridRequired,
        Self::NegSslWithUserAuthRequired,
        Self::NegProtocolNotRequested,
        Self::LegacyNoNegotiation,
        Self::NlaNotRequired,
        Self::RdpSecurityAllowed,
        Self::WeakRdpEncryption,
        Self::TlsLegacyOnly,
        Self::TlsLegacyEnabled,
        Self::TlsHandshakeFailed,
        Self::CertExpired,
        Self::CertNotYetValid,
        Self::CertNameMismatch,
        Self::CertSelfSigned,
        Self::CertWeak,
        Self::CredsspUnpatched,
        Self::CredsspFailed,
        Self::CredsspAbandoned,
        Self::ClockSkew,
        Self::RestrictedAdminSupported,
        Self::ServerErrorInfo,
        Self::ServerDeniedConnection,
        Self::InsufficientPrivileges,
        Self::FreshCredentialsRequired,
        Self::SessionReplaced,
        Self::SessionTimeLimit,
        Self::ServerShuttingDown,
        Self::ServerResources,
        Self::BrokerError,
        Self::Redirected,
        Self::KerberosPreauthFailed,
        Self::KerberosClientUnknown,
        Self::KerberosClientRevoked,
        Self::KerberosPasswordExpired,
        Self::KerberosClockSkew,
        Self::KerberosSpnUnknown,
        Self::KerberosError,
        Self::KdcUnreachable,
        Self::KerberosTicketRejected,
        Self::NtlmRefused,
        Self::LogonFailure,
        Self::AccountLocked,
        Self::AccountDisabled,
        Self::PasswordExpired,
        Self::LogonRestricted,
        Self::NoLogonServers,
        Self::UserNotAuthorized,
        Self::AuthFailed,
        Self::WrongHost,
        Self::LicensingError,
        Self::PacketLoss,
        Self::ClosedByServer,
        Self::ServerSilent,
        Self::ResetByServer,
        Self::ResetByClient,
        Self::InjectedReset,
        Self::ProbeTimeout,
        Self::InternalError,
        Self::ZeroWindow,
        Self::PasswordSpray,
        Self::BruteForce,
    ];

    /// The id as it appears in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GatewayUnreachable => "gateway-unreachable",
            Self::GatewayTlsFailed => "gateway-tls-failed",
            Self::GatewayCertInvalid => "gateway-cert-invalid",
            Self::GatewayUnavailable => "gateway-unavailable",
            Self::GatewayHttpTransportDisabled => "gateway-http-transport-disabled",
            Self::GatewayMethodsBlocked => "gateway-methods-blocked",
            Self::GatewayAuthFailed => "gateway-auth-failed",
            Self::GatewayAccountRestricted => "gateway-account-restricted",
            Self::GatewayPolicyDenied => "gateway-policy-denied",
            Self::GatewayResourceDenied => "gateway-resource-denied",
            Self::GatewayTargetUnreachable => "gateway-target-unreachable",
            Self::GatewayRefused => "gateway-refused",
            Self::DnsUnresolved => "dns-unresolved",
            Self::DnsMultipleAddresses => "dns-multiple-addresses",
            Self::TcpRefused => "tcp-refused",
            Self::TcpTimeout => "tcp-timeout",
            Self::TcpUnreachable => "tcp-unreachable",
            Self::SynUnanswered => "syn-unanswered",
            Self::X224NoResponse => "x224-no-response",
            Self::X224Closed => "x224-closed",
            Self::X224Malformed => "x224-malformed",
            Self::NotRdp => "not-rdp",
            Self::NegSslRequired => "neg-ssl-required",
            Self::NegSslNotAllowed => "neg-ssl-not-allowed",
            Self::NegSslCertNotOnServer => "neg-ssl-cert-not-on-server",
            Self::NegInconsistentFlags => "neg-inconsistent-flags",
            Self::NegHybridRequired => "neg-hybrid-required",
            Self::NegSslWithUserAuthRequired => "neg-ssl-with-user-auth-required",
            Self::NegProtocolNotRequested => "neg-protocol-not-requested",
            Self::LegacyNoNegotiation => "legacy-no-negotiation",
            Self::NlaNotRequired => "nla-not-required",
            Self::RdpSecurityAllowed => "rdp-security-allowed",
            Self::WeakRdpEncryption => "weak-rdp-encryption",
            Self::TlsLegacyOnly => "tls-legacy-only",
            Self::TlsLegacyEnabled => "tls-legacy-enabled",
            Self::TlsHandshakeFailed => "tls-handshake-failed",
            Self::CertExpired => "cert-expired",
            Self::CertNotYetValid => "cert-not-yet-valid",
            Self::CertNameMismatch => "cert-name-mismatch",
            Self::CertSelfSigned => "cert-self-signed",
            Self::CertWeak => "cert-weak",
            Self::CredsspUnpatched => "credssp-unpatched",
            Self::CredsspFailed => "credssp-failed",
            Self::CredsspAbandoned => "credssp-abandoned",
            Self::ClockSkew => "clock-skew",
            Self::RestrictedAdminSupported => "restricted-admin-supported",
            Self::ServerErrorInfo => "server-error-info",
            Self::ServerDeniedConnection => "server-denied-connection",
            Self::InsufficientPrivileges => "insufficient-privileges",
            Self::FreshCredentialsRequired => "fresh-credentials-required",
            Self::SessionReplaced => "session-replaced",
            Self::SessionTimeLimit => "session-time-limit",
            Self::ServerShuttingDown => "server-shutting-down",
            Self::ServerResources => "server-resources",
            Self::BrokerError => "broker-error",
            Self::Redirected => "redirected",
            Self::KerberosPreauthFailed => "kerberos-preauth-failed",
            Self::KerberosClientUnknown => "kerberos-client-unknown",
            Self::KerberosClientRevoked => "kerberos-client-revoked",
            Self::KerberosPasswordExpired => "kerberos-password-expired",
            Self::KerberosClockSkew => "kerberos-clock-skew",
            Self::KerberosSpnUnknown => "kerberos-spn-unknown",
            Self::KerberosError => "kerberos-error",
            Self::KdcUnreachable => "kdc-unreachable",
            Self::KerberosTicketRejected => "kerberos-ticket-rejected",
            Self::NtlmRefused => "ntlm-refused",
            Self::LogonFailure => "logon-failure",
            Self::AccountLocked => "account-locked",
            Self::AccountDisabled => "account-disabled",
            Self::PasswordExpired => "password-expired",
            Self::LogonRestricted => "logon-restricted",
            Self::NoLogonServers => "no-logon-servers",
            Self::UserNotAuthorized => "user-not-authorized",
            Self::AuthFailed => "auth-failed",
            Self::WrongHost => "wrong-host",

            Self::LicensingError => "licensing-error",
            Self::PacketLoss => "packet-loss",
            Self::ClosedByServer => "closed-by-server",
            Self::ServerSilent => "server-silent",
            Self::ResetByServer => "reset-by-server",
            Self::ResetByClient => "reset-by-client",
            Self::InjectedReset => "injected-reset",
            Self::ProbeTimeout => "probe-timeout",
            Self::InternalError => "internal-error",
            Self::ZeroWindow => "zero-window",
            Self::PasswordSpray => "password-spray",
            Self::BruteForce => "brute-force",
        }
    }

    /// (severity, summary, remediation): the catalogue entry.
    pub fn entry(self) -> (Severity, &'static str, &'static str) {
        match self {
            Self::GatewayUnreachable => (
                Severity::Error,
                "the RD Gateway cannot be reached (its name does not resolve, or nothing answers on its port)",
                "check the gateway's DNS name and that TCP 443 (or its custom port) is open to it from the client's network",
            ),
            Self::GatewayTlsFailed => (
                Severity::Error,
                "the TLS handshake with the RD Gateway failed",
                "the gateway's certificate binding in IIS/HTTP.sys or its TLS settings: check the SSL certificate in RD Gateway Manager and any TLS-inspecting proxy in front",
            ),
            Self::GatewayCertInvalid => (
                Severity::Error,
                "the RD Gateway's certificate is not one mstsc accepts (expired, not yet valid, self-signed or for another name)",
                "install a certificate from a CA the clients trust, valid now, naming the gateway's public name (RD Gateway Manager > Properties > SSL Certificate); mstsc refuses a gateway certificate it cannot verify, with no way to continue",
            ),
            Self::GatewayUnavailable => (
                Severity::Error,
                "the RD Gateway did not serve the request (503, another status, or TLS closed without an HTTP answer)",
                "check the Remote Desktop Gateway service (TSGateway) and its IIS application pool on the gateway; a load balancer or proxy in front may be answering instead",
            ),
            Self::GatewayHttpTransportDisabled => (
                Severity::Error,
                "the RD Gateway's HTTP transport is not there (403, 404 or 410 for /remoteDesktopGateway/)",
                "enable the HTTP transport in RD Gateway Manager (Transport Settings), or check that the path is not owned by another IIS application (Exchange's RPC proxy); clients fall back to RPC over HTTP",
            ),
            Self::GatewayMethodsBlocked => (
                Severity::Error,
                "something in front of the RD Gateway refuses its RDG_OUT_DATA / RDG_IN_DATA methods (501)",
                "let the reverse proxy, WAF or CDN pass the RDG_* methods and WebSocket upgrades to /remoteDesktopGateway/, or publish the gateway without it",
            ),
            Self::GatewayAuthFailed => (
                Severity::Error,
                "the RD Gateway refused the credentials (HTTP 401)",
                "wrong password, or an account the gateway's domain does not know; the gateway can need other credentials than the target (RDPROBE_GATEWAY_PASSWORD)",
            ),
            Self::GatewayAccountRestricted => (
                Severity::Error,
                "the RD Gateway refused the account's kind of logon (401 User Account Restricted)",
                "the account may not use NTLM or passwords here (Protected Users, smart card required: RDG-Auth-Scheme): use Kerberos (a KDC proxy) or a smart card, or change the account's restrictions",
            ),
            Self::GatewayPolicyDenied => (
                Severity::Error,
                "no RD connection authorization policy (RD CAP) lets this user use the RD Gateway (E_PROXY_NAP_ACCESSDENIED)",
                "add the user (or a group of theirs) to an RD CAP, or match the CAP's authentication method and device redirection conditions; the gateway logs event 201",
            ),
            Self::GatewayResourceDenied => (
                Severity::Error,
                "no RD resource authorization policy (RD RAP) lets this user reach this computer through the RD Gateway (E_PROXY_RAP_ACCESSDENIED)",
                "add the computer, by the exact name clients use (FQDN, NetBIOS name or IP address), to an RD RAP that includes the user, and check the allowed port; the gateway logs event 301",
            ),
            Self::GatewayTargetUnreachable => (
                Severity::Error,
                "the RD Gateway could not connect to the target (E_PROXY_TS_CONNECTFAILED)",
                "check from the gateway: the target's name in its DNS, the route and firewall from the gateway to the target's RDP port, and that the target is up",
            ),
            Self::GatewayRefused => (
                Severity::Error,
                "the RD Gateway refused the tunnel with an error code",
                "the code names the cause (rdprobe explain CODE): capabilities, health policy, certificate, connection limit or the gateway's internal state",
            ),
            Self::DnsUnresolved => (
                Severity::Error,
                "the name does not resolve",
                "fix the DNS record, or connect by IP",
            ),
            Self::DnsMultipleAddresses => (
                Severity::Warning,
                "the name has several addresses that answer differently",
                "stale record: flush the client's cache (ipconfig /flushdns) and fix DNS",
            ),
            Self::TcpRefused => (
                Severity::Error,
                "the server refused the TCP connection (RST to SYN)",
                "nothing listens on the port: Remote Desktop disabled, TermService stopped, or a wrong/custom port",
            ),
            Self::TcpTimeout => (
                Severity::Error,
                "no answer to the TCP SYN",
                "a firewall, cloud security group, NAT forward or a Public network profile drops it, or the host is down",
            ),
            Self::TcpUnreachable => (
                Severity::Error,
                "the host or network is unreachable",
                "check routing and the VPN",
            ),
            Self::SynUnanswered => (
                Severity::Error,
                "SYNs without any reply in the capture",
                "a firewall, cloud security group, NAT forward or a Public network profile drops it, or the host is down",
            ),
            Self::X224NoResponse => (
                Severity::Error,
                "TCP connected, but no X.224 Connection Confirm came back",
                "the Remote Desktop service is hung (restart Remote Desktop Services), or this is not RDP",
            ),
            Self::X224Closed => (
                Severity::Error,
                "the server closed the connection right after the Connection Request",
                "service failing, connection limit reached, or a TLS pass-through / gateway in front",
            ),
            Self::X224Malformed => (
                Severity::Error,
                "the X.224 negotiation is malformed",
                "a non-conformant server or a middlebox rewrote it; the evidence names the field",
            ),
            Self::NotRdp => (
                Severity::Error,
                "the answer is not RDP",
                "wrong port, or another service listens on it",
            ),
            Self::NegSslRequired => (
                Severity::Error,
                "the server requires TLS (SSL_REQUIRED_BY_SERVER)",
                "allow TLS on the client, or set the server's security layer to Negotiate",
            ),
            Self::NegSslNotAllowed => (
                Severity::Error,
                "the server does not allow TLS (SSL_NOT_ALLOWED_BY_SERVER)",
                "the server is set to RDP Security Layer only: set it to Negotiate or SSL",
            ),
            Self::NegSslCertNotOnServer => (
                Severity::Error,
                "the server has no usable TLS certificate (SSL_CERT_NOT_ON_SERVER)",
                "regenerate the RDP certificate (clear MachineKeys / Remote Desktop certificate store, restart TermService)",
            ),
            Self::NegInconsistentFlags => (
                Severity::Error,
                "the server rejected the request's flags (INCONSISTENT_FLAGS)",
                "client and server disagree on the protocols; update the client",
            ),
            Self::NegHybridRequired => (
                Severity::Error,
                "the server requires Network Level Authentication (HYBRID_REQUIRED_BY_SERVER)",
                "enable CredSSP/NLA on the client (or clear 'require NLA' on the server)",
            ),
            Self::NegSslWithUserAuthRequired => (
                Severity::Error,
                "the server requires TLS with user authentication (SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER)",
                "use a client that supports it, or change the server's policy",
            ),
            Self::NegProtocolNotRequested => (
                Severity::Error,
                "the server selected a security protocol the client did not request",
                "non-conformant server (xrdp does this); clients that only allow what they asked for abort: fix the server's security layer setting",
            ),
            Self::LegacyNoNegotiation => (
                Severity::Warning,
                "no RDP negotiation (pre-Vista peer): only Standard RDP Security",
                "upgrade the server or client; Standard RDP Security is open to man-in-the-middle",
            ),
            Self::NlaNotRequired => (
                Severity::Warning,
                "the server accepts a connection without CredSSP (NLA)",
                "require Network Level Authentication (DoS and credential exposure risk)",
            ),
            Self::RdpSecurityAllowed => (
                Severity::Warning,
                "Standard RDP Security is used",
                "man-in-the-middle risk: require TLS or NLA",
            ),
            Self::WeakRdpEncryption => (
                Severity::Warning,
                "weak RDP encryption (40/56-bit, or none)",
                "set the encryption level to High or FIPS",
            ),
            Self::TlsLegacyOnly => (
                Severity::Error,
                "the best TLS version offered is 1.0/1.1",
                "enable TLS 1.2 on the server (KB3080079 on old Windows)",
            ),
            Self::TlsLegacyEnabled => (
                Severity::Warning,
                "TLS 1.0/1.1 is accepted besides 1.2+",
                "disable TLS 1.0 and 1.1",
            ),
            Self::TlsHandshakeFailed => (
                Severity::Error,
                "the TLS handshake failed",
                "the alert or the stage names the cause: certificate or private key unusable, protocol or cipher mismatch",
            ),
            Self::CertExpired => (
                Severity::Error,
                "the certificate has expired",
                "renew or replace the RDP certificate",
            ),
            Self::CertNotYetValid => (
                Severity::Error,
                "the certificate is not valid yet",
                "check the server's clock, or reissue the certificate",
            ),
            Self::CertNameMismatch => (
                Severity::Warning,
                "the target name is not in the certificate",
                "connect with the name in the certificate, or reissue it",
            ),
            Self::CertSelfSigned => (
                Severity::Info,
                "the certificate is self-signed",
                "expected for default RDP certificates; deploy a CA-issued certificate to stop the prompts",
            ),
            Self::CertWeak => (
                Severity::Warning,
                "weak certificate (RSA < 2048 bits, or a SHA-1/MD5 signature)",
                "reissue the certificate",
            ),
            Self::CredsspUnpatched => (
                Severity::Warning,
                "the server's CredSSP lacks the CVE-2018-0886 fix (TSRequest version < 5)",
                "update the server: patched clients refuse it ('encryption oracle remediation')",
            ),
            Self::CredsspFailed => (
                Severity::Error,
                "the connection ended during CredSSP (NLA)",
                "wrong credentials, account restrictions, or a CredSSP version mismatch; check the server's Security log",
            ),
            Self::CredsspAbandoned => (
                Severity::Warning,
                "the client left CredSSP (NLA) before sending credentials",
                "a cancelled credential prompt, no saved credentials, or a tool that only reads the server's NTLM identity (nmap); if users report it, check what the client is given to log on with",
            ),
            Self::ClockSkew => (
                Severity::Warning,
                "the server's clock is far from ours",
                "fix time synchronisation (Kerberos fails beyond 5 minutes)",
            ),
            Self::RestrictedAdminSupported => (
                Severity::Info,
                "the server supports Restricted Admin mode",
                "mstsc /restrictedAdmin can be used",
            ),
            Self::ServerErrorInfo => (
                Severity::Error,
                "the server sent a Set Error Info PDU",
                "the code names the cause: licensing, session limits, denied, privileges",
            ),
            Self::ServerDeniedConnection => (
                Severity::Error,
                "the server denied the connection (Set Error Info 7; mstsc 0x904 / extended 0x7)",
                "the server refuses new sessions: an RD Session Host in drain mode (chglogon /query), a connection or session limit, \"Deny log on through Remote Desktop Services\", or a failing service; the evidence says at which stage",
            ),
            Self::InsufficientPrivileges => (
                Severity::Error,
                "the user may not log on remotely (Set Error Info 9)",
                "add the user to Remote Desktop Users, or grant \"Allow log on through Remote Desktop Services\"",
            ),
            Self::FreshCredentialsRequired => (
                Severity::Error,
                "the server wants the password typed (Set Error Info 10)",
                "the policy \"Always prompt for password upon connection\" is set: type the password instead of saved credentials",
            ),
            Self::SessionReplaced => (
                Severity::Warning,
                "another connection took over the session (Set Error Info 5)",
                "a duplicate or stuck session of the same user: log the old session off, or allow more than one session per user",
            ),
            Self::SessionTimeLimit => (
                Severity::Warning,
                "a session time limit ended the session (Set Error Info 3 or 4)",
                "idle or active session limits (RDS session time-limit policies)",
            ),
            Self::ServerShuttingDown => (
                Severity::Warning,
                "the server is shutting down or rebooting (Set Error Info 25 or 26)",
                "wait for the restart, or ask why the server restarts",
            ),
            Self::ServerResources => (
                Severity::Error,
                "the server could not create the session (out of memory, graphics or logon process failure)",
                "check the server's event log (Winlogon, DWM, display driver, CSRSS); a corrupt user profile shows here too",
            ),
            Self::BrokerError => (
                Severity::Error,
                "the connection broker could not place the session (Set Error Info 0x400..0x412)",
                "the code names the broker's problem: destination not found, VM not started or without DNS, pool full",
            ),
            Self::KerberosPreauthFailed => (
                Severity::Error,
                "Kerberos pre-authentication failed: a wrong password (KDC_ERR_PREAUTH_FAILED)",
                "check the password; the domain controller's Security log (event 4771) names the account and the client",
            ),
            Self::KerberosClientUnknown => (
                Severity::Error,
                "the KDC does not know the user (KDC_ERR_C_PRINCIPAL_UNKNOWN)",
                "check the user name and its domain (user@domain or DOMAIN\\user); a local account logs on with NTLM instead",
            ),
            Self::KerberosClientRevoked => (
                Severity::Error,
                "the KDC refused the account: locked out or disabled (KDC_ERR_CLIENT_REVOKED)",
                "unlock or enable the account; the domain controller's Security log (events 4768, 4771) says which",
            ),
            Self::KerberosPasswordExpired => (
                Severity::Error,
                "the password has expired (KDC_ERR_KEY_EXPIRED)",
                "change the password (NLA cannot change it: log on another way first)",
            ),
            Self::KerberosClockSkew => (
                Severity::Error,
                "the client's clock is more than 5 minutes from the KDC's (KRB_AP_ERR_SKEW)",
                "fix time synchronisation on the client (w32tm /resync) or the domain controller",
            ),
            Self::KerberosSpnUnknown => (
                Severity::Warning,
                "no service principal for the name the client connected to (KDC_ERR_S_PRINCIPAL_UNKNOWN): the client falls back to NTLM",
                "connect by the server's DNS name, not an IP address or an alias; or register the alias (setspn -S TERMSRV/alias host); where NTLM is blocked this is why the logon fails",
            ),
            Self::KerberosError => (
                Severity::Error,
                "the KDC refused the request (a KRB-ERROR)",
                "the code names the cause: an encryption type or policy mismatch (KDC_ERR_ETYPE_NOSUPP, KDC_ERR_POLICY), a ticket problem; the domain controller's System and Security logs say more",
            ),
            Self::KdcUnreachable => (
                Severity::Error,
                "no KDC of the user's realm could be reached: Kerberos is impossible from here, and mstsc falls back to NTLM",
                "check that the client resolves and reaches a domain controller on TCP/UDP 88 (DNS SRV _kerberos._tcp.REALM, a firewall, a VPN); from outside, an RD Gateway with a KDC proxy; or give --kdc",
            ),
            Self::KerberosTicketRejected => (
                Severity::Error,
                "the RDP server refused the Kerberos ticket (a KRB-ERROR to the AP-REQ)",
                "KRB_AP_ERR_MODIFIED: the ticket is encrypted for another account than the server's (a duplicated TERMSRV SPN, setspn -X; or a stale computer password, reset the machine account); KRB_AP_ERR_SKEW: fix the server's clock",
            ),
            Self::NtlmRefused => (
                Severity::Error,
                "the server refused the NTLM logon: NTLM is blocked here (Restrict NTLM policies, Protected Users) and only Kerberos can log on",
                "connect by the server's DNS name so that Kerberos is used (a TERMSRV/<name> SPN, a reachable KDC); or allow NTLM for this server (Network security: Restrict NTLM)",
            ),
            Self::LogonFailure => (
                Severity::Error,
                "wrong user name or password (CredSSP errorCode STATUS_LOGON_FAILURE, WRONG_PASSWORD or NO_SUCH_USER)",
                "check the user name (DOMAIN\\user or user@domain) and the password",
            ),
            Self::AccountLocked => (
                Severity::Error,
                "the account is locked out (STATUS_ACCOUNT_LOCKED_OUT)",
                "unlock the account; find what keeps using an old password (a mapped drive, a service, a phone)",
            ),
            Self::AccountDisabled => (
                Severity::Error,
                "the account is disabled or expired (STATUS_ACCOUNT_DISABLED / ACCOUNT_EXPIRED)",
                "enable the account or extend its expiry date",
            ),
            Self::PasswordExpired => (
                Severity::Error,
                "the password has expired or must be changed (STATUS_PASSWORD_EXPIRED / PASSWORD_MUST_CHANGE)",
                "change the password (NLA cannot change it: log on another way, or turn off NLA for the change)",
            ),
            Self::LogonRestricted => (
                Severity::Error,
                "an account restriction forbids this logon (STATUS_ACCOUNT_RESTRICTION / INVALID_LOGON_HOURS / INVALID_WORKSTATION / LOGON_TYPE_NOT_GRANTED)",
                "check logon hours, the allowed workstations, and the Allow log on through Remote Desktop Services right",
            ),
            Self::NoLogonServers => (
                Severity::Error,
                "the server cannot reach or trust a domain controller (STATUS_NO_LOGON_SERVERS / TRUSTED_RELATIONSHIP_FAILURE / TIME_DIFFERENCE_AT_DC)",
                "check the server domain membership, its DNS and its clock against the domain controller",
            ),
            Self::UserNotAuthorized => (
                Severity::Error,
                "the user authenticated but may not log on remotely (Early User Authorization Result: access denied)",
                "add the user to Remote Desktop Users (or grant Allow log on through Remote Desktop Services)",
            ),
            Self::AuthFailed => (
                Severity::Error,
                "authentication failed (CredSSP ended without a code this catalogue names)",
                "the evidence names the step and the code; a close right after the NTLM AUTHENTICATE is most often a wrong user name or password (the server's Security log, event 4625, says which)",
            ),
            Self::WrongHost => (
                Severity::Warning,
                "the server names itself as another host than the target name (NTLM computer name, certificate)",
                "DNS points at the wrong host (a stale record: check it, ipconfig /flushdns), or a NAT / port forward sends the port to another machine: check the forwarding rule",
            ),
            Self::Redirected => (
                Severity::Info,
                "the server redirects the client to another host (Server Redirection PDU)",
                "a broker sends the client elsewhere (the target is in the evidence; rdprobe never follows it): probe that target; a wrong or unreachable target is a broker or DNS problem",
            ),
            Self::LicensingError => (
                Severity::Error,
                "licensing failed",
                "no license server, no CALs left, or the grace period ended",
            ),
            Self::PacketLoss => (
                Severity::Warning,
                "the path loses packets (retransmissions or lost segments above 1 %)",
                "unreliable network: fix the path, test without VPN or antivirus",
            ),
            Self::ServerSilent => (
                Severity::Error,
                "the server stopped answering during the connection sequence",
                "the stage names where: a session host hung in licensing or logon (Winlogon), or a middlebox dropping the traffic; check the server's event log",
            ),
            Self::ClosedByServer => (
                Severity::Error,
                "the server ended the connection during the handshake",
                "the stage and the server's disconnect reason say where; check the server's event log (TermService, RemoteDesktopServices-RdpCoreTS)",
            ),
            Self::ResetByServer => (
                Severity::Error,
                "the server reset the connection",
                "the stage names what was interrupted",
            ),
            Self::ResetByClient => (
                Severity::Info,
                "the client reset the connection",
                "usually the client giving up or closing; the stage says when",
            ),
            Self::InjectedReset => (
                Severity::Warning,
                "a reset whose TTL or IP ID does not fit its sender",
                "a middlebox (firewall, antivirus, VPN) killed the connection",
            ),
            Self::ProbeTimeout => (
                Severity::Warning,
                "the probe ran out of its --timeout before finishing",
                "the stage named was still waiting: the server stalls or answers slowly (overload, a middlebox); raise --timeout to see further",
            ),
            Self::InternalError => (
                Severity::Error,
                "rdprobe failed on this target (internal error)",
                "a bug in rdprobe: report it with the evidence; the other targets are unaffected",
            ),
            Self::ZeroWindow => (
                Severity::Warning,
                "a receiver advertised a zero window",
                "the receiver stalled (server overloaded, or a slow client)",
            ),
            Self::PasswordSpray => (
                Severity::Error,
                "a password spray: many NLA logons refused, over several user names",
                "block the sources, keep RDP off the internet (RD Gateway or VPN with MFA), check the accounts tried in the Security log (event 4625) and reset any that logged on",
            ),
            Self::BruteForce => (
                Severity::Error,
                "a brute force: many NLA logons refused in a short time",
                "block the source, keep RDP off the internet (RD Gateway or VPN with MFA), set an account lockout policy; the Security log (event 4625) names the account",
            ),
        }
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for FindingId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// In the JSON Schema: one of the catalogue's ids.
impl schemars::JsonSchema for FindingId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FindingId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<&str> = Self::ALL.iter().map(|i| i.as_str()).collect();
        schemars::json_schema!({
            "type": "string",
            "description": "A finding's id (README, Findings).",
            "enum": ids,
        })
    }
}

impl PartialEq<&str> for FindingId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for FindingId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
