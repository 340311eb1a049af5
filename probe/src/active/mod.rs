//! The active probe: speaks the RDP handshake to a server stage by stage (DESIGN.md sections
//! 3 to 5). [`pdu`] builds and reads the PDUs (no I/O), [`net`] owns sockets and deadlines,
//! [`run`] drives the stages and turns observations into findings.

pub mod fleet;
pub mod net;
pub mod pdu;
pub mod run;
pub mod targets;
