//! A page behind a backlog (issue 21): N LOW findings already queued when the daemon starts, and HIGH probes
//! arriving the way GuardDuty's findings do, put on the default event bus for the stack's rules to deliver
//! (to the work queue, and to the urgent queue for severity 7 and up). Each probe's time from its `PutEvents`
//! call to its page on the OCE topic is what an on-call engineer waits while the daemon works through the
//! backlog (on LocalStack, its synchronous fan-out to every stack's rules included).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::burst::incident_times;
use crate::daemon::{Setup, drain, start_daemon, start_probes, stop};
use crate::findings::{Findings, low_burst};
use crate::support::Aws;
use crate::{Result, SENDERS, log};

/// What the phase measured.
pub struct Backlog {
    /// LOW findings queued before the daemon started.
    pub queued: usize,
    /// Probes put on the bus.
    pub probes: usize,
    /// Each paged probe's seconds from its `PutEvents` call to its page's `SentTimestamp`.
    pub send_to_page: Vec<f64>,
    /// Each probe's seconds from its `PutEvents` call to its incident's `created_at` (taken by the daemon just
    /// before it writes the incident): delivery, the wait in the queue and the receive.
    pub send_to_incident: Vec<f64>,
    /// Each paged probe's seconds from its arrival on a queue (SQS's `SentTimestamp`) to its last page published,
    /// as the daemon logs it (`arrival_to_page_ms`): the daemon's part, without `PutEvents`.
    pub arrival_to_page: Vec<f64>,
}

/// Loads `n` LOW findings on `setup.stack`'s work queue, starts a daemon, and puts a HIGH probe a second on the
/// bus until 90% of the backlog is settled; then reads the OCE topic's pages.
pub async fn run(aws: &Aws, setup: &Setup, findings: &Arc<Findings>, id: &str, n: usize) -> Result<Backlog> {
    let stack = &setup.stack;
    let queue = stack.queue_url().to_owned();
    let oce = aws.capture(stack.oce_topic(), &format!("bench-{id}-backlog-oce")).await;
    let bodies: Vec<String> = low_burst(findings, &format!("q-{id}-"), n).into_iter().map(|m| m.body).collect();
    aws.load(&queue, &bodies, SENDERS).await;
    log(format!("backlog: {n} LOW findings queued; starting a daemon, probes through EventBridge"));
    let urgent = stack.urgent_queue_url().filter(|_| setup.urgent).map(str::to_owned);
    let queues: Vec<String> = std::iter::once(queue).chain(urgent).collect();
    let mut daemon = start_daemon(setup, "backlog").await?;
    let bus = Some(aws.events().await);
    let probes = start_probes(aws, &queues, bus, findings.clone(), format!("e-{id}-"));
    let drained = drain(aws, &mut daemon, &queues, n, Some(probes)).await?;
    let sent: HashMap<String, f64> = drained.probes.iter().cloned().collect();
    let pages = aws.drain(&oce, sent.len(), Duration::from_secs(30), Duration::from_secs(1)).await;
    stop(&mut daemon).await?;
    let arrival_to_page = arrival_to_page(&daemon.process.log(), &format!("e-{id}-"));
    // A page names its incident; the incident names its finding.
    let incidents = incident_times(aws, stack.table(), &format!("e-{id}-")).await?;
    let finding_of: HashMap<&str, &str> = incidents.iter().map(|(f, (i, _))| (i.as_str(), f.as_str())).collect();
    let send_to_incident: Vec<f64> =
        incidents.iter().filter_map(|(f, (_, created))| Some((created - sent.get(f)?) / 1000.0)).collect();
    let send_to_page: Vec<f64> = pages
        .iter()
        .filter_map(|m| {
            let finding = finding_of.get(m.attributes.get("incident_id")?.as_str())?;
            Some((m.sent_ms - sent.get(*finding)?) / 1000.0)
        })
        .collect();
    log(format!("backlog: {} of {} probes paged", send_to_page.len(), sent.len()));
    Ok(Backlog { queued: n, probes: sent.len(), send_to_page, send_to_incident, arrival_to_page })
}

/// The seconds from arrival to page of each finding whose id starts with `prefix`, from the daemon's JSON log.
fn arrival_to_page(log: &str, prefix: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains("arrival_to_page_ms"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "paged" && l["finding_id"].as_str().is_some_and(|f| f.starts_with(prefix)))
        .filter_map(|l| Some(l["arrival_to_page_ms"].as_f64()? / 1000.0))
        .collect()
}
