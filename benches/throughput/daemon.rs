//! The release daemon as the bench runs it: its configuration (the defaults, as production would run them),
//! start, the drain of a preloaded queue watched through `/metrics`, the HIGH probes sent meanwhile, and the
//! stop with its final readings. Every phase that measures the daemon goes through here, so all of them
//! measure the same thing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gd_incidents::telemetry::metrics::{MESSAGES_IN_FLIGHT, MESSAGES_SETTLED};

use crate::findings::{Findings, Level};
use crate::procstat::{busy_share, cpu_secs, host_cpu, peak_rss_kib};
use crate::scrape::{Scrape, counter, metric, scrape};
use crate::stats::{mean, pct};
use crate::support::http::free_addr;
use crate::support::{Aws, ConfigText, Process, Stack, now_ms};
use crate::{Result, log};

/// How often the daemon's /metrics is read while most of its backlog remains. A read costs the daemon about
/// 0.4 ms of CPU (its whole registry encoded): ten a second were a tenth of its CPU in the LOW phase, paid for
/// the bench alone (Prometheus reads every 15 s or more).
const SCRAPE_EVERY: Duration = Duration::from_secs(1);
/// How often once the backlog is nearly settled ([`SCRAPE_CLOSELY_FROM`]), so that its end is timed closely.
const SCRAPE_CLOSELY_EVERY: Duration = Duration::from_millis(100);
/// The share of the backlog settled from which /metrics is read every [`SCRAPE_CLOSELY_EVERY`].
const SCRAPE_CLOSELY_FROM: f64 = 0.95;
/// How often a HIGH probe finding is sent while the daemon drains the burst.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Probes stop once this share of the burst is processed, so that each one is sent while a backlog remains.
const PROBE_UNTIL: f64 = 0.9;

/// A running `gd-incidents run` and the port of its `[server]`.
pub struct Daemon {
    /// The process (killed if dropped).
    pub process: Process,
    /// Its `[server]` port: `/metrics` and `/healthz`.
    pub port: u16,
    /// When it was spawned, in epoch ms.
    pub started_ms: f64,
}

/// What a daemon's configuration is made from.
pub struct Setup {
    /// Where the configs and logs go.
    pub dir: PathBuf,
    /// The stack whose queue, table and topics it uses.
    pub stack: Stack,
    /// Extra `[queue]` lines (`--queue-extra`).
    pub queue_extra: Vec<String>,
    /// Whether the daemon reads the stack's urgent queue too.
    pub urgent: bool,
}

/// The daemon's defaults but for the endpoint, JSON logs at `info`, the urgent queue and `[server]`.
fn config(setup: &Setup, name: &str, port: u16) -> Result<PathBuf> {
    let urgent = match (setup.urgent, setup.stack.urgent_queue_url()) {
        (false, _) => String::new(),
        (true, Some(url)) => format!("urgent_url = \"{url}\"\n"),
        (true, None) => return Err(format!("stack {} has no urgent queue", setup.stack.name)),
    };
    let text = ConfigText {
        aws: String::new(),
        queue: format!("{urgent}{}\n", setup.queue_extra.join("\n")),
        log_level: "info".into(),
        tail: format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    };
    Ok(text.write(&setup.dir, &setup.stack, name))
}

/// Starts a daemon named `name` (its config and log in `setup.dir`) and waits until it is healthy.
pub async fn start_daemon(setup: &Setup, name: &str) -> Result<Daemon> {
    let addr = free_addr();
    let config = config(setup, name, addr.port())?;
    let started_ms = now_ms();
    let mut process = Process::start_as_deployed(&config, name);
    process.wait_healthy(addr, Duration::from_secs(30)).await;
    Ok(Daemon { process, port: addr.port(), started_ms })
}

/// HIGH findings sent one at a time while the burst drains.
pub struct Probes {
    /// Set to stop sending.
    stop: Arc<AtomicBool>,
    /// The sender: returns (finding id, send time in epoch ms) of each probe sent.
    task: tokio::task::JoinHandle<Vec<(String, f64)>>,
}

/// Each probe goes to every queue of `queues`, as the rules deliver a HIGH finding to both queues; or, with
/// `bus`, is put on the default event bus as GuardDuty would, for the stack's rules to deliver (the whole
/// path: the probe's time is taken before `PutEvents`).
pub fn start_probes(
    aws: &Aws,
    queues: &[String],
    bus: Option<aws_sdk_eventbridge::Client>,
    findings: Arc<Findings>,
    prefix: String,
) -> Probes {
    let stop = Arc::new(AtomicBool::new(false));
    let (sqs, queues, flag) = (aws.sqs.clone(), queues.to_vec(), stop.clone());
    let task = tokio::spawn(async move {
        // Each probe is sent by a task of its own: on LocalStack a `PutEvents` can take seconds under load, and
        // waiting for it would space the probes out and send fewer of them while the backlog remains.
        let mut sends = tokio::task::JoinSet::new();
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for probe in 0..1000 {
            tick.tick().await;
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let finding = format!("{prefix}{probe:04}");
            let body = findings.body(&finding, Level::High, 0);
            let (sqs, queues, bus) = (sqs.clone(), queues.clone(), bus.clone());
            sends.spawn(async move {
                let at = now_ms();
                let (all, put_secs) = match &bus {
                    // Counted from the call: LocalStack fans an event out to every stack's rules before
                    // PutEvents returns, and our copy may be delivered (and paged) long before it does.
                    Some(events) => (put_event(events, &body).await, Some((now_ms() - at) / 1000.0)),
                    None => {
                        let mut all = true;
                        for queue in &queues {
                            all &= sqs.send_message().queue_url(queue).message_body(&body).send().await.is_ok();
                        }
                        (all, None)
                    }
                };
                (all.then_some((finding, at)), put_secs)
            });
        }
        let mut sent = Vec::new();
        let mut put_secs = Vec::new();
        while let Some(joined) = sends.join_next().await {
            if let Ok((probe, secs)) = joined {
                sent.extend(probe);
                put_secs.extend(secs);
            }
        }
        sent.sort_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(mean), Some(p50), Some(max)) = (mean(&put_secs), pct(&put_secs, 50.0), pct(&put_secs, 100.0)) {
            log(format!(
                "probes: PutEvents took {mean:.2}s on average, p50 {p50:.2}s, max {max:.2}s (LocalStack delivers to \
                 every stack's rules before it returns)"
            ));
        }
        sent
    });
    Probes { stop, task }
}

/// Puts an EventBridge event (a message body as the rules deliver it) on the default bus; whether it was taken.
async fn put_event(events: &aws_sdk_eventbridge::Client, body: &str) -> bool {
    let Ok(event) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(text("source"))
        .detail_type(text("detail-type"))
        .detail(event["detail"].to_string())
        .build();
    let sent = events.put_events().entries(entry).send().await;
    sent.is_ok_and(|out| out.failed_entry_count == 0)
}

/// What a daemon's drain measured.
#[derive(Debug, Default)]
pub struct Drain {
    /// From spawning the daemon to every message settled and the queues empty.
    pub secs: f64,
    /// Messages settled (processed or dead-lettered).
    pub messages: f64,
    /// `messages / secs`.
    pub rate: f64,
    /// Mean of `messages_in_flight` while a backlog remained.
    pub in_flight_mean: f64,
    /// Its maximum.
    pub in_flight_max: f64,
    /// The probes sent: (finding id, send time in epoch ms).
    pub probes: Vec<(String, f64)>,
    /// Share of the host's CPUs busy from the daemon's health to the end of the drain.
    pub host_busy: Option<f64>,
    /// Messages settled as retried (they come back).
    pub retried: f64,
    /// Messages dead-lettered.
    pub dead_lettered: f64,
}

/// Waits until the daemon settled `preloaded` (+ probes, one message per queue each) messages and the queues
/// are empty, sampling /metrics.
pub async fn drain(
    aws: &Aws,
    daemon: &mut Daemon,
    queues: &[String],
    preloaded: usize,
    probes: Option<Probes>,
) -> Result<Drain> {
    let limit = Duration::from_secs(60) + Duration::from_millis(30 * preloaded as u64);
    let deadline = daemon.process.started + limit;
    let cpu_before = host_cpu();
    let mut probes = probes;
    let mut probe_sends: Vec<(String, f64)> = Vec::new();
    let mut in_flight = Vec::new();
    let mut last = Scrape::default();
    loop {
        if let Some(status) = daemon.process.exited() {
            return Err(format!(
                "the daemon exited while draining ({status}); see {}",
                daemon.process.log_path.display()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "drain not finished within {limit:?}: {} of {preloaded} settled; see {}",
                last.settled(),
                daemon.process.log_path.display()
            ));
        }
        match scrape(daemon.port).await {
            Ok(s) => last = s,
            Err(e) => log(format!("scrape failed: {e}")),
        }
        let settled = last.settled();
        let gauge = last.sum(&metric(MESSAGES_IN_FLIGHT), None);
        if settled < preloaded as f64 {
            in_flight.push(gauge);
        }
        if settled >= PROBE_UNTIL * preloaded as f64
            && let Some(p) = probes.take()
        {
            p.stop.store(true, Ordering::Relaxed);
            probe_sends = tokio::time::timeout(Duration::from_secs(30), p.task)
                .await
                .map_err(|_| "the probe sender did not stop")?
                .map_err(|e| format!("probe sender: {e}"))?;
        }
        if probes.is_none() && settled >= (preloaded + probe_sends.len() * queues.len()) as f64 {
            let mut empty = true;
            for queue in queues {
                empty &= aws.queue_depth(queue).await == 0;
            }
            if empty {
                break;
            }
        }
        let closely = settled >= SCRAPE_CLOSELY_FROM * preloaded as f64;
        tokio::time::sleep(if closely { SCRAPE_CLOSELY_EVERY } else { SCRAPE_EVERY }).await;
    }
    let secs = daemon.process.started.elapsed().as_secs_f64();
    let host_busy = busy_share(cpu_before, host_cpu());
    let messages = last.settled();
    Ok(Drain {
        secs,
        messages,
        rate: messages / secs,
        in_flight_mean: mean(&in_flight).unwrap_or_default(),
        in_flight_max: in_flight.iter().copied().fold(0.0, f64::max),
        probes: probe_sends,
        host_busy,
        retried: last.sum(&counter(MESSAGES_SETTLED), Some(("kind", "retried"))),
        dead_lettered: last.sum(&counter(MESSAGES_SETTLED), Some(("kind", "dead_lettered"))),
    })
}

/// The end of a daemon phase: final scrape, peak RSS and CPU, SIGTERM, exit code 0.
pub struct Stopped {
    /// `/metrics` just before SIGTERM.
    pub metrics: Scrape,
    /// VmHWM just before SIGTERM, KiB.
    pub rss_kib: Option<u64>,
    /// User + system CPU over the daemon's whole life, just before SIGTERM.
    pub cpu_secs: Option<f64>,
    /// From SIGTERM to the exit.
    pub exit_secs: f64,
}

/// Scrapes, reads the daemon's peak RSS and CPU, sends SIGTERM and requires exit 0.
pub async fn stop(daemon: &mut Daemon) -> Result<Stopped> {
    let metrics = scrape(daemon.port).await?;
    let rss_kib = peak_rss_kib(daemon.process.pid());
    let cpu_secs = cpu_secs(daemon.process.pid());
    let (status, took) = daemon.process.terminate(Duration::from_secs(30));
    if !status.success() {
        return Err(format!(
            "the daemon exited with {status} after SIGTERM; see {}",
            daemon.process.log_path.display()
        ));
    }
    Ok(Stopped { metrics, rss_kib, cpu_secs, exit_secs: took.as_secs_f64() })
}
