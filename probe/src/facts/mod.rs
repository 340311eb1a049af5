//! Typed observations: what each PDU *means*, one interpreter per PDU kind, shared by the
//! active probe, the capture analyzer and `decode` (ARCHITECTURE.md, "Layers").
//!
//! Depends only on `rdp_proto` (and `x509-parser` for certificates): no I/O, no clock reads
//! (times are passed in), no report strings. The rules in [`crate::diagnose::rules`] judge these
//! facts; the report DTOs are built from them.

pub mod cert;
pub mod connection;
pub mod credssp;
pub mod decrypt;
pub mod gateway;
pub mod gcc;
pub mod kerberos;
pub mod observe;
pub mod probe;
pub mod rdp;
pub mod rdpeudp;
pub mod session;
pub mod stage;
pub mod tcp;
pub mod tls;
pub mod x224;
