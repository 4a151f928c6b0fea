//! The soak (issue 21, point 7): N LOW findings through one daemon, fed a chunk at a time so that the backlog
//! stays bounded, with the daemon's RSS and CPU per message sampled through the run. A leak or a cost that
//! grows with the number of findings handled shows only over a long run, never in the burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gd_incidents::telemetry::metrics::MESSAGES_SETTLED;
use serde_json::json;

use crate::daemon::{Setup, start_daemon, stop};
use crate::findings::{Findings, low_range};
use crate::procstat::{busy_share, cpu_secs, host_cpu, rss_kib};
use crate::scrape::{counter, scrape};
use crate::support::{self, Aws, deploy_named};
use crate::table::{Report, commit, mb, per_message_ms, write_json};
use crate::{Args, Result, SENDERS, log, run_dir};

/// Findings loaded at a time.
const CHUNK: usize = 2000;
/// A chunk is loaded only if the backlog (sent, not yet settled) stays at or below this.
const MAX_BACKLOG: usize = 5000;
/// The share of the messages after which the daemon counts as warmed up.
const WARM_UP: f64 = 0.1;
/// The soak fails if no message is settled for this long.
const STALL: Duration = Duration::from_secs(120);

/// One reading of the daemon during the soak.
#[derive(Debug, Clone)]
struct Sample {
    /// Since the daemon was spawned.
    secs: f64,
    /// Findings sent so far.
    sent: usize,
    /// Messages settled so far (from /metrics).
    settled: f64,
    /// VmRSS, KiB.
    rss_kib: Option<u64>,
    /// User + system CPU so far.
    cpu_secs: Option<f64>,
}

/// CPU ms per message between two samples.
fn cpu_per_message(a: &Sample, b: &Sample) -> Option<f64> {
    per_message_ms(b.cpu_secs.zip(a.cpu_secs).map(|(b, a)| b - a), b.settled - a.settled)
}

/// CPU ms per message over a window of messages settled, `lo..hi`: from the last sample at or before `lo` to
/// the first at or after `hi`, so that the window is covered whatever the sampling interval.
fn window(samples: &[Sample], lo: f64, hi: f64) -> Option<f64> {
    let a = samples.iter().rev().find(|s| s.settled <= lo)?;
    let b = samples.iter().find(|s| s.settled >= hi)?;
    cpu_per_message(a, b)
}

/// Growth from `from` to `to`, in percent.
fn growth(from: Option<f64>, to: Option<f64>) -> Option<f64> {
    from.zip(to).filter(|(f, _)| *f > 0.0).map(|(f, t)| (t / f - 1.0) * 100.0)
}

/// Loads the soak's findings a chunk at a time, keeping the backlog at most [`MAX_BACKLOG`]; `sent` says how
/// many are on the queue.
async fn feed(
    aws: Aws,
    findings: Arc<Findings>,
    queue: String,
    prefix: String,
    n: usize,
    sent: Arc<AtomicUsize>,
    port: u16,
) {
    loop {
        let from = sent.load(Ordering::Relaxed);
        if from >= n {
            return;
        }
        let settled = match scrape(port).await {
            Ok(m) => m.settled() as usize,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if from.saturating_sub(settled) + CHUNK > MAX_BACKLOG {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let to = (from + CHUNK).min(n);
        let bodies: Vec<String> = low_range(&findings, &prefix, from..to).into_iter().map(|m| m.body).collect();
        aws.load(&queue, &bodies, SENDERS).await;
        sent.store(to, Ordering::Relaxed);
    }
}

/// Runs the soak of `n` LOW findings: one stack, one daemon; prints the samples and the summary rows and writes
/// the JSON. `Ok(false)` when `--check` and a target was missed.
pub async fn run(args: &Args, n: usize) -> Result<bool> {
    if n < 100 {
        return Err("--soak must be at least 100".into());
    }
    let (id, dir) = run_dir()?;
    log(format!("soak {id}: {n} LOW findings through one daemon; files in {}", dir.display()));
    log("starting LocalStack (idempotent)");
    support::ensure_localstack();
    let name = format!("bench-{id}-soak");
    log(format!("deploying stack {name}"));
    let stack = tokio::task::spawn_blocking({
        let name = name.clone();
        move || deploy_named(&name)
    })
    .await
    .map_err(|_| "deploying the soak's stack failed")?;
    let aws = Aws::new().await;
    let findings = Arc::new(Findings::new());
    let idle0 = host_cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let background_busy = busy_share(idle0, host_cpu());

    let urgent = !args.no_urgent && stack.urgent_queue_url().is_some();
    let setup = Setup { dir: dir.clone(), stack: stack.clone(), queue_extra: args.queue_extra.clone(), urgent };
    let queue = stack.queue_url().to_owned();
    let prefix = format!("s-{id}-");
    // The first chunk waits on the queue, as the other phases' loads do; the rest follow as it drains.
    let first = CHUNK.min(n);
    let bodies: Vec<String> = low_range(&findings, &prefix, 0..first).into_iter().map(|m| m.body).collect();
    aws.load(&queue, &bodies, SENDERS).await;
    let sent = Arc::new(AtomicUsize::new(first));
    let mut daemon = start_daemon(&setup, "soak").await?;
    let (pid, port) = (daemon.process.pid(), daemon.port);
    let feeder = tokio::spawn(feed(aws.clone(), findings.clone(), queue.clone(), prefix, n, sent.clone(), port));
    // Coarse samples for the hand-run soak, finer ones so that a bounded run still has a dozen.
    let every = if n < 20_000 { Duration::from_secs(1) } else { Duration::from_secs(5) };
    let started = daemon.process.started;
    let sample = |settled: f64| Sample {
        secs: started.elapsed().as_secs_f64(),
        sent: sent.load(Ordering::Relaxed),
        settled,
        rss_kib: rss_kib(pid),
        cpu_secs: cpu_secs(pid),
    };
    let mut samples = vec![sample(0.0)];
    let cpu_before = host_cpu();
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(50 * n as u64);
    let mut progress = (0.0, Instant::now());
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let outcome: Result<()> = loop {
        tick.tick().await;
        if let Some(status) = daemon.process.exited() {
            break Err(format!(
                "the daemon exited during the soak ({status}); see {}",
                daemon.process.log_path.display()
            ));
        }
        let settled = match scrape(port).await {
            Ok(m) => m.settled(),
            Err(e) => {
                log(format!("scrape failed: {e}"));
                continue;
            }
        };
        let s = sample(settled);
        if let Some(prev) = samples.last() {
            let per = cpu_per_message(prev, &s).map_or("-".into(), |v| format!("{v:.2}"));
            let rss = mb(s.rss_kib).map_or("?".into(), |v| format!("{v:.1}"));
            log(format!("soak: {settled:.0} of {n} settled, {} sent, RSS {rss} MB, CPU {per} ms/msg", s.sent));
        }
        samples.push(s);
        if settled > progress.0 {
            progress = (settled, Instant::now());
        } else if progress.1.elapsed() > STALL {
            break Err(format!("soak: nothing settled for {STALL:?} at {settled} of {n}"));
        }
        if feeder.is_finished() && sent.load(Ordering::Relaxed) < n {
            break Err("soak: the feeder stopped before sending every finding".into());
        }
        if feeder.is_finished() && settled >= n as f64 && aws.queue_depth(&queue).await == 0 {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err(format!("soak: {settled} of {n} settled by the deadline"));
        }
    };
    if let Err(e) = outcome {
        feeder.abort();
        return Err(format!("{e}; see {}", daemon.process.log_path.display()));
    }
    feeder.await.map_err(|e| format!("soak: the feeder failed: {e}"))?;
    let host_busy = busy_share(cpu_before, host_cpu());
    let stopped = stop(&mut daemon).await?;
    log(format!("soak: daemon stopped with exit 0 in {:.2}s", stopped.exit_secs));

    print_samples(&samples);
    let total = n as f64;
    let last = samples.last().cloned().ok_or("soak: no samples")?;
    let warm = samples.iter().find(|s| s.settled >= WARM_UP * total);
    let (rss_warm, rss_end) = (mb(warm.and_then(|s| s.rss_kib)), mb(last.rss_kib));
    let cpu_second = window(&samples, WARM_UP * total, 2.0 * WARM_UP * total);
    let cpu_last = window(&samples, (1.0 - WARM_UP) * total, total);
    let mut r = Report::default();
    r.info("soak: findings", Some(total), "");
    r.info("soak: messages settled", Some(last.settled), "");
    r.info("soak: time from daemon start to all settled", Some(last.secs), "s");
    r.info("soak: msg/s", Some(last.settled / last.secs.max(1e-9)), "msg/s");
    r.info("soak: samples", Some(samples.len() as f64), "");
    r.info("soak: RSS after warm-up (10% of messages settled)", rss_warm, "MB");
    r.info("soak: RSS at the end", rss_end, "MB");
    r.target("soak: RSS growth after warm-up", growth(rss_warm, rss_end), "%", "<= 10%", |v| v <= 10.0);
    r.info("soak: peak RSS (VmHWM)", mb(stopped.rss_kib), "MB");
    r.info("soak: CPU per message, second 10% of messages", cpu_second, "ms");
    r.info("soak: CPU per message, last 10% of messages", cpu_last, "ms");
    r.target("soak: CPU/msg growth", growth(cpu_second, cpu_last), "%", "<= 20%", |v| v <= 20.0);
    r.info("soak: CPU per message, whole life", per_message_ms(stopped.cpu_secs, last.settled), "ms");
    let retried = stopped.metrics.sum(&counter(MESSAGES_SETTLED), Some(("kind", "retried")));
    let dead = stopped.metrics.sum(&counter(MESSAGES_SETTLED), Some(("kind", "dead_lettered")));
    r.info("soak: messages retried / dead-lettered", Some(retried + dead), "");
    r.info("host CPU busy during the soak (2 cores = 1.0)", host_busy, "");
    r.info("host CPU busy in 1 s before the soak (other load)", background_busy, "");
    r.print();

    let (commit, dirty) = commit();
    let report = json!({
        "bench": "soak",
        "commit": commit,
        "dirty": dirty,
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "findings": n,
        "stack": name,
        "queue_extra": args.queue_extra,
        "urgent": urgent,
        "rows": r.json(),
        "samples": samples.iter().map(|s| json!({ "secs": s.secs, "sent": s.sent, "settled": s.settled,
            "rss_kib": s.rss_kib, "cpu_secs": s.cpu_secs })).collect::<Vec<_>>(),
        "logs": dir.display().to_string(),
    });
    let json_path = args.json.clone().unwrap_or_else(|| "target/bench/soak.json".into());
    write_json(&json_path, &report)?;
    Ok(!args.check || r.all_met())
}

/// The samples as a table on stdout: elapsed, sent, settled, RSS and CPU per message since the sample before.
fn print_samples(samples: &[Sample]) {
    let mut out = format!(
        "\n{:>9}  {:>8}  {:>8}  {:>8}  {:>12}\n{}\n",
        "elapsed s",
        "sent",
        "settled",
        "RSS MB",
        "CPU ms/msg",
        "-".repeat(53)
    );
    let mut prev: Option<&Sample> = None;
    for s in samples {
        let per = prev.and_then(|p| cpu_per_message(p, s)).map_or("-".into(), |v| format!("{v:.3}"));
        let rss = mb(s.rss_kib).map_or("?".into(), |v| format!("{v:.1}"));
        out.push_str(&format!("{:>9.1}  {:>8}  {:>8.0}  {:>8}  {:>12}\n", s.secs, s.sent, s.settled, rss, per));
        prev = Some(s);
    }
    println!("{out}");
}
