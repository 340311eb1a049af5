//! The active probe: speaks the RDP handshake to a server stage by stage (ARCHITECTURE.md,
//! "The probe: plan and driver"). [`plan`] decides (sans-IO: what to try, what each answer
//! means), [`pdu`] builds the requests, [`run`] is the tokio driver (what all its connections
//! share in `conn`, the TLS stage's I/O in `tls`, the walk's in `walk`), [`net`] owns sockets,
//! deadlines and framing, [`targets`] reads target lists, [`fleet`] runs many.

mod conn;
pub mod credentials;
pub mod fleet;
pub mod net;
pub mod pdu;
pub mod plan;
pub mod run;
pub mod targets;
mod tls;
mod walk;
