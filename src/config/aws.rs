//! `[aws]`, `[queue]` and `[incidents]`: where the daemon finds its AWS services and how it calls them.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[aws]`: region, endpoint and the retry and timeout policy of every AWS call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// AWS region of the queue, table and topics, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint for every service (LocalStack: `http://127.0.0.1:4566`); absent on real AWS.
    /// `AWS_ENDPOINT_URL_<SERVICE>` still wins for that service.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call, the first included, with exponential backoff and jitter between them.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds one attempt of an AWS call may take before it is abandoned and retried
    /// (a receive gets the long-poll wait on top of this).
    #[serde(default = "default_attempt_timeout_secs")]
    pub attempt_timeout_secs: u64,
    /// Seconds an AWS call may take in all, retries included (a receive gets the long-poll wait on top).
    #[serde(default = "default_operation_timeout_secs")]
    pub operation_timeout_secs: u64,
    /// Tests only, never in production: while this file exists, requests of the services it lists go to the
    /// addresses it gives (an outage). See `src/adapters/faults.rs`.
    #[serde(default)]
    pub fault_injection_file: Option<PathBuf>,
    /// Tests only, never in production: every AWS request is appended to this file, for the permission
    /// test. See `src/adapters/call_log.rs`.
    #[serde(default)]
    pub call_log_file: Option<PathBuf>,
}

/// `[queue]`: the SQS work queue and how it is consumed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// URL of the work queue.
    pub url: String,
    /// URL of the dead-letter queue; when absent, read from the work queue's redrive policy at start.
    #[serde(default)]
    pub dead_letter_url: Option<String>,
    /// Seconds a receive long-polls for messages (0 to 20).
    #[serde(default = "default_wait_time_secs")]
    pub wait_time_secs: u32,
    /// Messages asked for per receive (1 to 10).
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// Messages of the work queue processed at once, at most (1 to 1000). More than the table keeps up with
    /// only makes each write slower.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// URL of the urgent queue, which the template's second rule feeds with copies of the HIGH and CRITICAL
    /// findings (severity 7 and up), so that they are paged at once even behind a backlog on the work queue.
    /// Consumed alongside the work queue, with its own bound on messages in flight; its copies and the work
    /// queue's are one incident and one page. Absent: only the work queue is consumed.
    #[serde(default)]
    pub urgent_url: Option<String>,
    /// Messages of the urgent queue processed at once, at most (1 to 1000), in addition to `max_in_flight`.
    #[serde(default = "default_urgent_max_in_flight")]
    pub urgent_max_in_flight: usize,
    /// Seconds a received message stays hidden from other consumers; extended while work runs long
    /// (1 to 43200).
    #[serde(default = "default_visibility_timeout_secs")]
    pub visibility_timeout_secs: u32,
    /// Seconds before a message that failed for a passing reason comes back, doubled on each further
    /// failure up to 900.
    #[serde(default = "default_retry_delay_secs")]
    pub retry_delay_secs: u32,
    /// After this many receives of a message that keeps failing for passing reasons, it is sent again as a
    /// fresh message (and the old one deleted), so that SQS's redrive policy never dead-letters it for an
    /// outage. Keep it below the redrive policy's `maxReceiveCount` (the template's is 10).
    #[serde(default = "default_requeue_after_receives")]
    pub requeue_after_receives: u32,
}

/// `[incidents]`: the DynamoDB table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Name of the incident table.
    pub table: String,
    /// Name of the table of confidential staff reports (insider misconduct, procedure 3.2), encrypted with a
    /// key only the ISO, the daemon and the portal may use (stack output `ConfidentialTableName`). Absent:
    /// they are kept in `table`, hidden from responders by the program alone.
    #[serde(default)]
    pub confidential_table: Option<String>,
}

fn default_max_attempts() -> u32 {
    5
}
fn default_attempt_timeout_secs() -> u64 {
    10
}
fn default_operation_timeout_secs() -> u64 {
    60
}
fn default_wait_time_secs() -> u32 {
    20
}
fn default_batch_size() -> u32 {
    10
}
fn default_max_in_flight() -> usize {
    20
}
fn default_urgent_max_in_flight() -> usize {
    30
}
fn default_visibility_timeout_secs() -> u32 {
    60
}
fn default_retry_delay_secs() -> u32 {
    15
}
fn default_requeue_after_receives() -> u32 {
    5
}

impl AwsConfig {
    /// [`AwsConfig::attempt_timeout_secs`] as a duration.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_secs(self.attempt_timeout_secs)
    }
    /// [`AwsConfig::operation_timeout_secs`] as a duration.
    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }
}
