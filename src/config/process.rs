//! `[log]`, `[daemon]` and `[server]`: how the process logs, stops and reports its health.

use serde::Deserialize;

/// `[server]`: health and metrics over HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to serve `/healthz`, `/readyz` and `/metrics` on, e.g. `127.0.0.1:9090`; off when absent.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
}

/// `[log]`: log format and level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (JSON unless standard error is a terminal), `json` or `text`.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `gd_incidents=debug,info`; `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal (CloudWatch, journald), text when it is.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// `[daemon]`: process-wide behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Seconds in-flight work may take to finish after SIGTERM/SIGINT before it is released back to the
    /// queue (ECS allows 30 in all; keep well under it).
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// Seconds between two heartbeats (a CloudWatch embedded-metric log line, written while the consumer
    /// polls and the logs are JSON); 0: none. The stack's alarm expects one a minute.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Seconds between two computations of the figures on `/metrics` (open incidents, time to acknowledge
    /// and resolve, by level, over the last 7 days); 0: none. Each reads that week's incidents.
    #[serde(default = "default_figures_interval_secs")]
    pub figures_interval_secs: u64,
    /// Threads that run the daemon's and the portal's work (count); 1: all on one thread, which the bench
    /// measured as the cheaper in CPU per finding (no wake-ups across threads) at ~1 ms of CPU per finding,
    /// far more than GuardDuty sends. More only for a portal that serves many people at once.
    #[serde(default = "default_worker_threads")]
    pub worker_threads: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Auto, level: default_log_level() }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            shutdown_grace_secs: default_shutdown_grace_secs(),
            heartbeat_secs: default_heartbeat_secs(),
            figures_interval_secs: default_figures_interval_secs(),
            worker_threads: default_worker_threads(),
        }
    }
}

fn default_log_level() -> String {
    "info".into()
}
fn default_shutdown_grace_secs() -> u64 {
    15
}
fn default_heartbeat_secs() -> u64 {
    60
}
fn default_worker_threads() -> usize {
    1
}

fn default_figures_interval_secs() -> u64 {
    900
}
