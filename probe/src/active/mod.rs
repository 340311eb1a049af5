//! The active probe: speaks the RDP handshake to a server stage by stage (ARCHITECTURE.md,
//! "The probe: plan and driver"). [`plan`] decides (sans-IO: what to try, what each answer
//! means), [`pdu`] builds the requests, [`run`] is the tokio driver (what all its connections
//! share in `conn`, the main connection over any byte stream in `connect`, the TLS stage in
//! `tls`), [`net`] owns sockets,
//! deadlines and framing, [`targets`] reads target lists, [`fleet`] runs many.

pub mod client;
mod conn;
mod gateway;
mod kerberos;
pub use gateway::GatewayOptions;
mod connect;
pub mod credentials;
pub mod crypto;
pub mod fleet;
pub mod keylog;
pub mod net;
pub mod pdu;
pub mod plan;
pub mod run;
pub mod targets;
mod tls;
mod udp;
