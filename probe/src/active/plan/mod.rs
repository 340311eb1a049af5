//! The probe's decisions, sans-IO (ARCHITECTURE.md, "The probe: plan and driver"): which
//! attempts to make, what each answer means, when a stage is done and what the result is.
//!
//! No tokio, no sockets, no clock reads. The driver ([`super::run`]) connects, writes, reads
//! frames by the deframer's hint, keeps the deadlines, and hands what it observed to these
//! functions together with the elapsed time. Unit tests drive them with the real peers' PDUs.

mod credssp;
pub mod gateway;
mod mcs;
mod record;
mod tls;
mod x224;

pub use crate::facts::observe::{read_confirm, ConnectFailure, CrOutcome, ReadFailure};
pub use credssp::*;
pub use mcs::*;
pub use record::*;
pub use tls::*;
pub use x224::*;
