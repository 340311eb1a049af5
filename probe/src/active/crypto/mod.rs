//! The cryptography the probe's clients speak, on RustCrypto: NTLMv2 ([`ntlm`], MS-NLMP) and
//! Standard RDP Security ([`rdp_security`], MS-RDPBCGR 5.3: RSA as RDP uses it, RC4 and FIPS
//! session keys, MACs). No I/O.

pub mod kerberos;
pub mod ntlm;
pub mod rdp_security;
