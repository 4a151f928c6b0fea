//! The burst (issue 7): a mixed backlog loaded before the daemon starts, drained by the release daemon while
//! HIGH probes arrive, then checked end to end: every incident written, every page sent once, and how soon
//! the HIGH/CRITICAL findings were paged compared with the LOW ones written. This is the phase that shows
//! whether the priority lane works under load, which no bare loop can.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::daemon::{Drain, Setup, Stopped, drain, start_daemon, start_probes, stop};
use crate::findings::{Findings, Level, Rng, mixed_burst};
use crate::support::{self, Aws, Stack};
use crate::{Result, SENDERS, log};

/// What the burst measured.
pub struct Burst {
    /// Messages loaded on the work queue (findings, updates, redeliveries).
    pub messages: usize,
    /// Distinct HIGH/CRITICAL findings.
    pub paging_findings: usize,
    /// Copies loaded on the urgent queue (0 without the priority lane).
    pub urgent_copies: usize,
    /// Time to load the work queue (and the urgent queue at the same time).
    pub load_secs: f64,
    /// The drain.
    pub drained: Drain,
    /// The daemon's final readings.
    pub stopped: Stopped,
    /// Pages expected per topic: the paging findings plus the probes.
    pub expected_pages: usize,
    /// Pages received on each capture queue: (OCE, ISO).
    pub pages_per_topic: (usize, usize),
    /// This run's pages received, both topics.
    pub pages_received: usize,
    /// Pages received twice.
    pub duplicates: usize,
    /// Burst findings without an incident after the drain.
    pub missing: usize,
    /// Messages settled beyond those the bench sent (other sessions' events on the shared bus).
    pub foreign: f64,
    /// Incident `created_at` minus the finding's first send, s.
    pub send_to_incident: Vec<f64>,
    /// The same for HIGH/CRITICAL findings.
    pub send_to_incident_paging: Vec<f64>,
    /// Page `SentTimestamp` minus the finding's first send, s (burst findings).
    pub page_from_send: Vec<f64>,
    /// Page `SentTimestamp` minus the daemon's spawn, s.
    pub page_from_start: Vec<f64>,
    /// Share of the burst's incidents written when each burst page arrived.
    pub page_drained: Vec<f64>,
    /// Page minus send of each probe, s.
    pub probe_to_page: Vec<f64>,
}

/// Receives the pages on a capture queue until `expected` arrived (then 1 s more for duplicates) or `limit`
/// passed: (incident id, level, SentTimestamp in ms).
async fn pages(aws: &Aws, queue: &str, expected: usize, limit: Duration) -> Vec<(String, String, f64)> {
    let got = aws.drain(queue, expected, limit, Duration::from_secs(1)).await;
    let attr = |m: &support::Received, k: &str| m.attributes.get(k).cloned().unwrap_or_default();
    got.iter().map(|m| (attr(m, "incident_id"), attr(m, "severity"), m.sent_ms)).collect()
}

/// The incidents in `table` whose finding id contains `tag`: finding id -> (incident id, created_at ms).
pub async fn incident_times(aws: &Aws, table: &str, tag: &str) -> Result<HashMap<String, (String, f64)>> {
    let mut found = HashMap::new();
    for item in aws.incidents(table).await {
        let s = |k: &str| support::s(&item, k).map(str::to_owned);
        let (Some(finding), Some(incident), Some(created)) = (s("finding_id"), s("incident_id"), s("created_at"))
        else {
            continue;
        };
        if !finding.contains(tag) {
            continue;
        }
        let created = chrono::DateTime::parse_from_rfc3339(&created)
            .map(|t| t.timestamp_millis() as f64)
            .map_err(|e| format!("created_at {created}: {e}"))?;
        found.insert(finding, (incident, created));
    }
    Ok(found)
}

/// Loads `n` findings' burst onto `setup.stack`'s queues, runs a daemon on them with probes, collects the
/// pages, stops the daemon and reads the incidents back. `id` tags this run's findings.
pub async fn run(
    aws: &Aws,
    setup: &Setup,
    findings: &Arc<Findings>,
    rng: &mut Rng,
    id: &str,
    n: usize,
) -> Result<Burst> {
    let stack: &Stack = &setup.stack;
    let queue = stack.queue_url().to_owned();
    let oce = aws.capture(stack.oce_topic(), &format!("bench-{id}-oce")).await;
    let iso = aws.capture(stack.iso_topic(), &format!("bench-{id}-iso")).await;
    let burst_prefix = format!("b-{id}-");
    let burst = mixed_burst(findings, &burst_prefix, n, rng);
    let bodies: Vec<String> = burst.iter().map(|m| m.body.clone()).collect();
    // What the urgent rule copies (severity 7 and up) goes to the urgent queue at the same time.
    let urgent = if setup.urgent { stack.urgent_queue_url().map(str::to_owned) } else { None };
    let urgent_bodies: Vec<String> =
        burst.iter().filter(|m| urgent.is_some() && m.level.pages()).map(|m| m.body.clone()).collect();
    let t = Instant::now();
    let (sent, _) = tokio::join!(aws.load(&queue, &bodies, SENDERS), async {
        match &urgent {
            Some(u) => aws.load(u, &urgent_bodies, SENDERS).await,
            None => Vec::new(),
        }
    });
    let load_secs = t.elapsed().as_secs_f64();
    log(format!(
        "burst: loaded {} messages ({n} findings) in {load_secs:.1}s, {} of them also to the urgent queue; starting the daemon",
        burst.len(),
        urgent_bodies.len()
    ));
    let queues: Vec<String> = std::iter::once(queue.clone()).chain(urgent.clone()).collect();
    let mut level_of: HashMap<&str, Level> = HashMap::new();
    let mut first_sent: HashMap<&str, f64> = HashMap::new();
    for (m, &at) in burst.iter().zip(&sent) {
        level_of.insert(&m.finding, m.level);
        let e = first_sent.entry(&m.finding).or_insert(at);
        *e = e.min(at);
    }
    let paging_findings = level_of.values().filter(|l| l.pages()).count();

    let mut daemon = start_daemon(setup, "burst").await?;
    let probes = start_probes(aws, &queues, None, findings.clone(), format!("p-{id}-"));
    let preloaded = burst.len() + urgent_bodies.len();
    let drained = drain(aws, &mut daemon, &queues, preloaded, Some(probes)).await?;
    log(format!(
        "burst: {} messages settled in {:.1}s ({:.0} msg/s), {} probes; collecting pages",
        drained.messages,
        drained.secs,
        drained.rate,
        drained.probes.len()
    ));
    let expected_pages = paging_findings + drained.probes.len();
    let limit = Duration::from_secs(30);
    let (oce_pages, iso_pages) =
        tokio::join!(pages(aws, &oce, expected_pages, limit), pages(aws, &iso, expected_pages, limit));
    let stopped = stop(&mut daemon).await?;
    log(format!("burst daemon stopped with exit 0 in {:.2}s", stopped.exit_secs));

    // Incidents, pages and their times.
    let deadline = Instant::now() + Duration::from_secs(20);
    let incidents = loop {
        let found = incident_times(aws, stack.table(), &format!("-{id}-")).await?;
        if found.len() >= n + drained.probes.len() || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let by_incident: HashMap<&str, &str> = incidents.iter().map(|(f, (i, _))| (i.as_str(), f.as_str())).collect();
    let mut burst_created: Vec<f64> =
        incidents.iter().filter(|(f, _)| f.starts_with(&burst_prefix)).map(|(_, (_, c))| *c).collect();
    burst_created.sort_by(f64::total_cmp);
    let missing = n.saturating_sub(burst_created.len());
    let send_to_incident: Vec<f64> =
        incidents.iter().filter_map(|(f, (_, c))| first_sent.get(f.as_str()).map(|s| (c - s) / 1000.0)).collect();
    let send_to_incident_paging: Vec<f64> = incidents
        .iter()
        .filter(|(f, _)| level_of.get(f.as_str()).is_some_and(|l| l.pages()))
        .filter_map(|(f, (_, c))| first_sent.get(f.as_str()).map(|s| (c - s) / 1000.0))
        .collect();
    let probe_sent: HashMap<&str, f64> = drained.probes.iter().map(|(f, t)| (f.as_str(), *t)).collect();
    let (mut page_from_send, mut page_from_start, mut page_drained, mut probe_to_page) =
        (vec![], vec![], vec![], vec![]);
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    for (topic, pages) in [("oce", &oce_pages), ("iso", &iso_pages)] {
        for (incident, level, at) in pages.iter() {
            if !seen.insert((topic, incident.clone(), level.clone())) {
                duplicates += 1;
                continue;
            }
            let Some(&finding) = by_incident.get(incident.as_str()) else { continue };
            if let Some(s) = probe_sent.get(finding) {
                probe_to_page.push((at - s) / 1000.0);
            } else if let Some(s) = first_sent.get(finding) {
                page_from_send.push((at - s) / 1000.0);
                page_from_start.push((at - daemon.started_ms) / 1000.0);
                let written = burst_created.partition_point(|c| c <= at);
                page_drained.push(written as f64 / burst_created.len().max(1) as f64);
            }
        }
    }
    // Only this run's pages: other sessions' tests may put GuardDuty events on LocalStack's shared default
    // event bus, and every stack's rule forwards them to its queue.
    let pages_received = oce_pages.iter().chain(&iso_pages).filter(|p| by_incident.contains_key(p.0.as_str())).count();
    let foreign = drained.messages - (preloaded + drained.probes.len() * queues.len()) as f64;
    Ok(Burst {
        messages: burst.len(),
        paging_findings,
        urgent_copies: urgent_bodies.len(),
        load_secs,
        expected_pages,
        pages_per_topic: (oce_pages.len(), iso_pages.len()),
        pages_received,
        duplicates,
        missing,
        foreign,
        send_to_incident,
        send_to_incident_paging,
        page_from_send,
        page_from_start,
        page_drained,
        probe_to_page,
        drained,
        stopped,
    })
}
