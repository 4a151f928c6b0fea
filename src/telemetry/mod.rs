//! Logs ([`logs`]), metrics ([`metrics`]) and the daemon's CloudWatch heartbeat ([`heartbeat`]), set up once
//! per process.
//!
//! What belongs here is how the process reports on itself: the log format and filter (`[log]`, `RUST_LOG`)
//! and the Prometheus registry that `/metrics` serves, with the counters the other layers increment. Rules
//! it keeps:
//! - it uses only the configuration and the domain below it, so every layer above may count and log;
//! - it is set up once per process, by `main.rs`, before anything logs;
//! - message bodies and credentials are never logged at `info`.

pub mod heartbeat;
pub mod logs;
pub mod metrics;
