//! Logs and metrics, set up once per process.

pub mod logs;
pub mod metrics;
