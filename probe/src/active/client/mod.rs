//! The probe's client state machines, sans-IO (ARCHITECTURE.md, "The probe"): the main
//! connection ([`connector`]), the walk past MCS ([`walk`], one file per phase), CredSSP with
//! credentials ([`cssp`]) and the licensing exchange ([`licensing`]). Bytes and time in, bytes
//! to send, facts, stages and findings out; the drivers in `active/` move the bytes.

pub mod connector;
pub mod cssp;
pub mod gateway;
pub mod kerberos;
pub mod licensing;
pub mod walk;
