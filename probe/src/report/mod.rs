//! Output DTOs and renderers.

pub mod capture;
pub mod probe;
pub mod text;
