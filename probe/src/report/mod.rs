//! Output DTOs and renderers.

pub mod archive;
pub mod capture;
pub mod fleet;
pub mod gateway;
pub mod html;
pub mod json;
pub mod metrics;
pub mod nagios;
pub mod probe;
pub mod scan;
pub mod schema;
pub mod text;
pub mod watch;
