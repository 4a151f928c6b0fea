//! The LOW-only phase: the daemon on LOW findings alone, the load of the ceiling and of the peer, so that its
//! rate, AWS calls, CPU and memory per finding compare like for like.

use crate::daemon::{Drain, Setup, Stopped, drain, start_daemon, stop};
use crate::findings::{Findings, low_burst};
use crate::support::Aws;
use crate::{Result, SENDERS, log};

/// What the LOW-only phase measured.
pub struct Low {
    /// LOW findings loaded.
    pub n: usize,
    /// The drain.
    pub drained: Drain,
    /// The daemon's final readings (metrics, VmHWM, CPU).
    pub stopped: Stopped,
}

/// Loads `n` LOW findings onto `setup.stack`'s queue, then starts a daemon named `low` on it, drains and
/// stops it. The stack must be idle: on a queue a stopped daemon read, its last long poll, cut short by
/// SIGTERM, may still be waiting in LocalStack and would take (and hide for the visibility timeout) the first
/// messages sent. Its table should be empty, or the daemon's start does more than a production start.
pub async fn run(aws: &Aws, setup: &Setup, findings: &Findings, id: &str, n: usize) -> Result<Low> {
    let queue = setup.stack.queue_url().to_owned();
    let bodies: Vec<String> = low_burst(findings, &format!("l-{id}-"), n).into_iter().map(|m| m.body).collect();
    aws.load(&queue, &bodies, SENDERS).await;
    log(format!("LOW phase: loaded {n} LOW findings; starting a daemon"));
    let mut daemon = start_daemon(setup, "low").await?;
    let urgent = setup.urgent.then(|| setup.stack.urgent_queue_url().map(str::to_owned)).flatten();
    let queues: Vec<String> = std::iter::once(queue).chain(urgent).collect();
    let drained = drain(aws, &mut daemon, &queues, n, None).await?;
    let stopped = stop(&mut daemon).await?;
    log(format!("LOW phase: {:.0} msg/s; daemon stopped with exit 0", drained.rate));
    Ok(Low { n, drained, stopped })
}
