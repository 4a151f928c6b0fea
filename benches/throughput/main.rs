//! Throughput benchmark (issue 7): the release daemon against LocalStack, compared with a bare loop that does
//! only the calls a finding needs, and with a Python consumer written the way AWS's samples are.
//!
//! One run does, in order:
//! 1. starts LocalStack (idempotent) and deploys three fresh stacks in parallel: `bench-<id>` for the burst's
//!    daemon, `bench-<id>-ceil` for the ceiling and the peer, `bench-<id>-low` for the LOW phase's daemon, so
//!    all use the same queue and table definitions;
//! 2. **ceiling** (`ceiling.rs`): for 4 and then 8 parallel loops, loads N LOW findings into the ceiling queue,
//!    then drains it with loops of "receive 10, one conditional PutItem each (concurrently), DeleteMessageBatch";
//! 3. **burst** (`burst.rs`): loads N findings (85% LOW, 10% MEDIUM, 4% HIGH, 1% CRITICAL, plus a second
//!    version of 5% of them and byte-identical redeliveries of 3%) into the daemon's queue, and the
//!    HIGH/CRITICAL ones also into the urgent queue as the template's second rule would (unless `--no-urgent`),
//!    starts the daemon, and measures the drain; while it drains, one HIGH "probe" finding a second is sent (to
//!    both queues) to measure send-to-page under load;
//! 4. **peer** (`peer.rs`, `peer.py`): loads N/5 (at least 300) LOW findings onto the idle ceiling stack and
//!    drains them with the Python peer, measuring its rate, CPU and peak RSS;
//! 5. **LOW phase** (`low.rs`): loads as many LOW findings onto the LOW stack, starts a second daemon there,
//!    drains, and counts the AWS calls, CPU and peak RSS per LOW finding;
//! 6. prints one table (metric, value, target) and writes it as JSON (`table.rs`).
//!
//! `--soak N` runs only the soak instead (`soak.rs`): N LOW findings through one daemon, its RSS and CPU per
//! message sampled through the run.
//!
//! Only `127.0.0.1` is ever contacted. Nothing is deleted. See `benches/README.md`.

#[path = "../../tests/support/mod.rs"]
mod support;

mod backlog;
mod burst;
mod ceiling;
mod cost;
mod daemon;
mod findings;
mod low;
mod peer;
mod procstat;
mod queries;
mod scrape;
mod soak;
mod stats;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gd_incidents::telemetry::metrics::AWS_CALLS;
use serde_json::json;

use crate::ceiling::{Write, ceiling};
use crate::daemon::Setup;
use crate::findings::{Findings, Rng, low_burst};
use crate::procstat::{busy_share, host_cpu};
use crate::support::{Aws, deploy_named, repo};

/// Concurrent SendMessageBatch callers when loading a queue.
const SENDERS: usize = 8;
/// Parallel loops of the ceiling that are tried; the best counts.
const CEILING_LOOPS: [usize; 2] = [4, 8];
/// The account of every benchmark finding (the region is the stacks').
const ACCOUNT: &str = "123456789012";
/// LOW findings queued at least before the backlog phase's daemon starts (issue 21: "with 5,000 LOW findings
/// already queued").
const BACKLOG_MIN: usize = 5000;
/// The soak's size when `--soak` has no value: issue 21's "100,000 findings through one daemon".
const SOAK_DEFAULT: &str = "100000";

/// The bench's command line (after `cargo bench --bench throughput --`).
#[derive(Debug, Parser)]
#[command(about = "gd-incidents throughput benchmark against LocalStack (issue 7)")]
pub struct Args {
    /// Distinct findings in the burst (and in each ceiling run); the LOW phase and the peer use a fifth (at
    /// least 300).
    #[arg(long)]
    findings: Option<usize>,
    /// A CI-sized run: 500 findings unless --findings says otherwise.
    #[arg(long)]
    quick: bool,
    /// Where the results go as JSON [default: target/bench/throughput.json, or target/bench/soak.json with
    /// --soak].
    #[arg(long)]
    json: Option<PathBuf>,
    /// Extra lines for the daemon's [queue] section, e.g. --queue-extra 'max_in_flight = 128' (experiments).
    #[arg(long = "queue-extra")]
    queue_extra: Vec<String>,
    /// Skip the ceiling (faster iterations on the daemon alone; the ratio is then not reported).
    #[arg(long)]
    no_ceiling: bool,
    /// Also run the ceiling with the daemon's write (TransactWriteItems of incident, event and evidence) instead
    /// of one PutItem, to attribute the gap between the daemon and the ceiling.
    #[arg(long)]
    attribution: bool,
    /// Skip the list and search timings (their fill of 100,000 incidents takes about 10 minutes).
    #[arg(long)]
    no_queries: bool,
    /// Neither configure the daemon's urgent queue nor feed it: the daemon as without the priority lane.
    #[arg(long)]
    no_urgent: bool,
    /// Run only the soak: N LOW findings (100000 if no N) through one daemon, RSS and CPU sampled.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = SOAK_DEFAULT)]
    soak: Option<usize>,
    /// Exit 1 when a target is missed (by default the table only says so).
    #[arg(long)]
    check: bool,
    /// Passed by `cargo bench`; required (without it, e.g. under `cargo test`, the bench does nothing).
    #[arg(long, hide = true)]
    bench: bool,
}

/// Runs the bench when `cargo bench` started it; exits 1 if it fails, or with `--check` if a target is missed.
fn main() -> ExitCode {
    // `cargo test --all-targets` (deploy/test.sh) runs `harness = false` benches too, without `--bench` and
    // perhaps with test-harness arguments: do nothing then. `cargo bench` always passes `--bench`.
    if !std::env::args().skip(1).any(|a| a == "--bench") {
        eprintln!("throughput: skipped (not run by `cargo bench`); run `cargo bench --bench throughput`");
        return ExitCode::SUCCESS;
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match args.soak {
        Some(n) => runtime.block_on(soak::run(&args, n)),
        None => runtime.block_on(run(args)),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bench's result: errors are messages for the person running it.
type Result<T, E = String> = std::result::Result<T, E>;

/// A progress line on stderr, with the time since the bench started.
fn log(text: impl AsRef<str>) {
    eprintln!("[bench {:>7.1}s] {}", since_start().as_secs_f64(), text.as_ref());
}

/// Time since the first call (the bench's start).
fn since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// A fresh run id and its directory of configs and logs, `target/bench/run-<id>`.
fn run_dir() -> Result<(String, PathBuf)> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let dir = repo().join("target/bench").join(format!("run-{id}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((id, dir))
}

/// The full run: ceiling, burst, peer, LOW phase, table. `Ok(false)` when `--check` and a target was missed.
async fn run(args: Args) -> Result<bool> {
    let n = args.findings.unwrap_or(if args.quick { 500 } else { 5000 });
    if n < 20 {
        return Err("--findings must be at least 20".into());
    }
    // At least 300: a shorter phase ends before the daemon reaches a steady state.
    let low_n = (n / 5).max(300);
    let (id, dir) = run_dir()?;
    log(format!("run {id}: {n} findings; files in {}", dir.display()));

    log("starting LocalStack (idempotent)");
    support::ensure_localstack();
    log(format!("daemon binary {}", support::binary()));
    let names = ["", "-ceil", "-low", "-cost", "-backlog", "-queries"].map(|suffix| format!("bench-{id}{suffix}"));
    log(format!("deploying stacks {}", names.join(", ")));
    let deploys = names.clone().map(|name| std::thread::spawn(move || deploy_named(&name)));
    let [stack, ceil_stack, low_stack, cost_stack, backlog_stack, queries_stack] = deploys.map(|d| d.join());
    let stack = stack.map_err(|_| "deploying the daemon's stack failed")?;
    let ceil_stack = ceil_stack.map_err(|_| "deploying the ceiling's stack failed")?;
    let low_stack = low_stack.map_err(|_| "deploying the LOW phase's stack failed")?;
    let cost_stack = cost_stack.map_err(|_| "deploying the cost phase's stack failed")?;
    let backlog_stack = backlog_stack.map_err(|_| "deploying the backlog phase's stack failed")?;
    let queries_stack = queries_stack.map_err(|_| "deploying the queries phase's stack failed")?;
    let aws = Aws::new().await;
    let findings = Arc::new(Findings::new());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Whatever else runs on the host skews everything: measure it first.
    let idle0 = host_cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let background_busy = busy_share(idle0, host_cpu());

    // 1. The ceiling.
    let mut ceilings = Vec::new();
    let mut plans: Vec<(Write, usize)> = Vec::new();
    if !args.no_ceiling {
        plans.extend(CEILING_LOOPS.map(|loops| (Write::Put, loops)));
    }
    if args.attribution {
        plans.push((Write::Transact, CEILING_LOOPS[CEILING_LOOPS.len() - 1]));
    }
    for (write, loops) in plans {
        let msgs = low_burst(&findings, &format!("c{loops}{write:?}-{id}-"), n);
        let bodies: Vec<String> = msgs.into_iter().map(|m| m.body).collect();
        let t = Instant::now();
        aws.load(ceil_stack.queue_url(), &bodies, SENDERS).await;
        log(format!(
            "ceiling: loaded {n} LOW findings in {:.1}s; draining with {loops} loops ({write:?})",
            t.elapsed().as_secs_f64()
        ));
        let run = ceiling(&aws, ceil_stack.queue_url(), ceil_stack.table(), write, loops, n).await?;
        log(format!("ceiling, {loops} loops, {write:?}: {:.0} msg/s ({} in {:.1}s)", run.rate, run.messages, run.secs));
        ceilings.push(run);
    }

    // 2. The burst.
    let urgent = !args.no_urgent && stack.urgent_queue_url().is_some();
    let setup = Setup { dir: dir.clone(), stack: stack.clone(), queue_extra: args.queue_extra.clone(), urgent };
    let burst = burst::run(&aws, &setup, &findings, &mut rng, &id, n).await?;

    // 3. The peer and 4. the LOW-only phase, one after the other, each on an idle stack. Not on the daemon's
    // queue: the burst daemon's last long poll, cut off by SIGTERM, can still be pending in LocalStack and
    // would take (and hide for the visibility timeout) the first messages sent. The LOW daemon gets a stack
    // of its own, with an empty table like the burst's: in the ceiling's table it would spend its start
    // adding the ceiling's and the peer's items to the `by-listing` index (its once-only backfill).
    let peer = peer::phase(&aws, &ceil_stack, &findings, &id, low_n, &dir).await?;
    let low_setup = Setup { stack: low_stack, ..setup };
    let low = low::run(&aws, &low_setup, &findings, &id, low_n).await?;
    // 5. What findings cost in DynamoDB, on a stack of its own (its table empty, as for the LOW phase).
    let cost_setup = Setup { stack: cost_stack, urgent: false, ..low_setup };
    let cost = cost::run(&aws, &cost_setup, &findings, &id, low_n, (low_n / 10).max(30)).await?;
    // 6. HIGH findings through EventBridge while N (at least issue 21's 5,000) LOW findings are queued.
    let backlog_setup = Setup { stack: backlog_stack, urgent: !args.no_urgent, ..cost_setup };
    let queued = if args.quick { n } else { n.max(BACKLOG_MIN) };
    let backlog = backlog::run(&aws, &backlog_setup, &findings, &id, queued).await?;
    // 7. The list and search at a year's scale (10,000 only with --quick).
    let sizes: &[usize] = match (args.no_queries, args.quick) {
        (true, _) => &[],
        (false, true) => &[10_000],
        (false, false) => &[10_000, 100_000],
    };
    let queries = queries::run(&aws, &queries_stack, &findings, &id, sizes).await?;

    let full = table::Full {
        n,
        ceilings: &ceilings,
        burst: &burst,
        low: &low,
        peer: &peer,
        cost: &cost,
        backlog: &backlog,
        queries: &queries,
        background_busy,
    };
    let r = table::full(&full);
    r.print();

    let (commit, dirty) = table::commit();
    let b = &burst;
    let report = json!({
        "bench": "throughput",
        "commit": commit,
        "dirty": dirty,
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "findings": n,
        "low_phase_findings": low_n,
        "stacks": names,
        "queue_extra": args.queue_extra,
        "urgent": !args.no_urgent,
        "rows": r.json(),
        "ceiling": ceilings.iter().map(ceiling::CeilingRun::json).collect::<Vec<_>>(),
        "daemon_calls_burst": b.stopped.metrics.by_operation(&scrape::counter(AWS_CALLS)),
        "daemon_calls_low": low.stopped.metrics.by_operation(&scrape::counter(AWS_CALLS)),
        "low_phase": { "secs": low.drained.secs, "msg_per_s": low.drained.rate, "rss_kib": low.stopped.rss_kib,
                       "cpu_secs": low.stopped.cpu_secs, "in_flight_mean": low.drained.in_flight_mean,
                       "host_busy": low.drained.host_busy },
        "peer": { "secs": peer.secs, "msg_per_s": peer.rate, "rss_kib": peer.rss_kib, "cpu_secs": peer.cpu_secs,
                  "host_busy": peer.host_busy, "result": peer.details },
        "cost": cost.iter().map(|s| json!({ "step": s.what, "findings": s.findings,
            "units": s.units.iter().map(|((op, t), u)| json!({ "operation": op, "target": t, "units": u })).collect::<Vec<_>>() }))
            .collect::<Vec<_>>(),
        "pages": { "oce": b.pages_per_topic.0, "iso": b.pages_per_topic.1, "expected_per_topic": b.expected_pages },
        "logs": dir.display().to_string(),
    });
    let json_path = args.json.clone().unwrap_or_else(|| PathBuf::from("target/bench/throughput.json"));
    table::write_json(&json_path, &report)?;
    if b.missing > 0 || b.duplicates > 0 {
        return Err(format!("{} incidents missing, {} pages duplicated", b.missing, b.duplicates));
    }
    Ok(!args.check || r.all_met())
}
