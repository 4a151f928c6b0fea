//! The support of the integration tests and of `benches/throughput/`: LocalStack (started if it is not
//! running; never skipped), one CloudFormation stack per test, the real `gd-incidents` binary, capture queues
//! subscribed to the paging topics, the incident table read back, finding events, the daemon's configuration,
//! one small HTTP server for the fakes (GuardDuty, the load balancer) and the portal's helpers.
//!
//! A test includes it with `mod support;`, the bench with `#[path = "../../tests/support/mod.rs"] mod support;`.
// Every test binary (and the bench) compiles the whole tree but uses its own part of it.
#![allow(dead_code)]

pub mod capture;
pub mod config;
pub mod estate;
pub mod finding;
pub mod guardduty;
pub mod http;
pub mod iam;
pub mod localstack;
pub mod portal;
pub mod process;
pub mod queues;
pub mod stack;
pub mod subscribers;
pub mod table;
pub mod waf;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

// The names most tests use, at the top; a test binary that uses none of some of them is not an error.
#[allow(unused_imports)]
pub use capture::Received;
#[allow(unused_imports)]
pub use config::{ConfigText, write_config, write_config_with};
#[allow(unused_imports)]
pub use finding::FindingEvent;
#[allow(unused_imports)]
pub use localstack::{Aws, endpoint, ensure_localstack, sdk};
#[allow(unused_imports)]
pub use process::{Daemon, Process, binary, gd, gd_env, gd_json};
#[allow(unused_imports)]
pub use stack::{Stack, deploy_forwarding, deploy_named, deploy_stack, deploy_stack_with};
#[allow(unused_imports)]
pub use table::{Item, incident_of, n, s};

/// The repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture from tests/fixtures/findings.
pub fn fixture(name: &str) -> Value {
    let path = repo().join("tests/fixtures/findings").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read fixture")).expect("fixture is JSON")
}

/// Wall-clock milliseconds since the epoch: the clock of SQS's `SentTimestamp` and the daemon's `created_at`.
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
