//! Output DTOs and renderers.

pub mod capture;
pub mod text;
