//! rdprobe: finds out why a Remote Desktop connection fails.
//!
//! This crate holds everything that touches the world (sockets, files, the terminal); the
//! wire formats live in `rdp-proto`.

pub mod active;
pub mod capture;
pub mod diagnose;
pub mod dissect;
pub mod escape;
pub mod explain;
pub mod exporter;
pub mod facts;
pub mod fuzzing;
pub mod report;
#[cfg(test)]
mod testdata;
pub mod time;
