//! The active probe: speaks the RDP handshake to a server stage by stage (ARCHITECTURE.md,
//! "The probe: plan and driver"). [`plan`] decides (sans-IO: what to try, what each answer
//! means, what the result is), [`pdu`] builds the requests, [`run`] is the tokio driver (the TLS stage's I/O in `tls`), [`net`]
//! owns sockets, deadlines and framing, [`targets`] reads target lists, [`fleet`] runs many.

pub mod credentials;
pub mod fleet;
pub mod net;
pub mod pdu;
pub mod plan;
pub mod run;
pub mod targets;
mod tls;
mod walk;
