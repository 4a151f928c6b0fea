//! Throughput benchmark (issue 7): the release daemon against LocalStack, compared with a bare loop that does
//! only the calls a finding needs.
//!
//! One run does, in order:
//! 1. starts LocalStack (idempotent) and deploys two fresh stacks in parallel: `bench-<id>` for the daemon and
//!    `bench-<id>-ceil` for the ceiling, so both use the same queue and table definitions;
//! 2. **ceiling**: for 4 and then 8 parallel loops, loads N LOW findings into the ceiling queue, then drains it
//!    with loops of "receive 10, one conditional PutItem each (concurrently), DeleteMessageBatch";
//! 3. **burst**: loads N findings (85% LOW, 10% MEDIUM, 4% HIGH, 1% CRITICAL, plus a second version of 5% of
//!    them and byte-identical redeliveries of 3%) into the daemon's queue, and the HIGH/CRITICAL ones also into
//!    the urgent queue as the template's second rule would (unless `--no-urgent`), starts the daemon, and
//!    measures the drain; while it drains, one HIGH "probe" finding a second is sent (to both queues) to
//!    measure send-to-page under load;
//! 4. **LOW phase**: loads N/5 (at least 300) LOW findings, starts a second daemon, drains, and counts the AWS
//!    calls per LOW finding;
//! 5. prints one table (metric, value, target) and writes it as JSON.
//!
//! Only `127.0.0.1` is ever contacted. Nothing is deleted. See `benches/README.md`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Parser;
use futures_util::future::join_all;
use gd_incidents::adapters::dynamodb::{IncidentKey, RECORD_EVENT, RECORD_EVIDENCE, RECORD_INCIDENT, SK_INCIDENT};
use gd_incidents::telemetry::metrics::{
    AWS_CALL_SECONDS, AWS_CALLS, MESSAGES_IN_FLIGHT, MESSAGES_RECEIVED, MESSAGES_SETTLED, PREFIX,
};
use hyper::Method;
use serde_json::{Value, json};
use support::http::{Http, free_addr};
use support::localstack::REGION;
use support::{Aws, ConfigText, FindingEvent, Item, Process, Stack, deploy_named, now_ms, repo};

/// Concurrent SendMessageBatch callers when loading a queue.
const SENDERS: usize = 8;
/// Parallel loops of the ceiling that are tried; the best counts.
const CEILING_LOOPS: [usize; 2] = [4, 8];
/// How often the daemon's /metrics is read while it drains.
const SCRAPE_EVERY: Duration = Duration::from_millis(100);
/// How often a HIGH probe finding is sent while the daemon drains the burst.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Probes stop once this share of the burst is processed, so that each one is sent while a backlog remains.
const PROBE_UNTIL: f64 = 0.9;
/// The account of every benchmark finding (the region is the stacks').
const ACCOUNT: &str = "123456789012";

#[derive(Debug, Parser)]
#[command(about = "gd-incidents throughput benchmark against LocalStack (issue 7)")]
struct Args {
    /// Distinct findings in the burst (and in each ceiling run); the LOW phase uses a fifth (at least 300).
    #[arg(long)]
    findings: Option<usize>,
    /// A CI-sized run: 500 findings unless --findings says otherwise.
    #[arg(long)]
    quick: bool,
    /// Where the results go as JSON.
    #[arg(long, default_value = "target/bench/throughput.json")]
    json: PathBuf,
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
    /// Neither configure the daemon's urgent queue nor feed it: the daemon as without the priority lane.
    #[arg(long)]
    no_urgent: bool,
    /// Exit 1 when a target is missed (by default the table only says so).
    #[arg(long)]
    check: bool,
    /// Passed by `cargo bench`; required (without it, e.g. under `cargo test`, the bench does nothing).
    #[arg(long, hide = true)]
    bench: bool,
}

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
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T, E = String> = std::result::Result<T, E>;

fn log(text: impl AsRef<str>) {
    eprintln!("[bench {:>7.1}s] {}", since_start().as_secs_f64(), text.as_ref());
}

fn since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

// ----- the daemon as a process ---------------------------------------------------------------------------------

/// A running `gd-incidents run` and the port of its `[server]`.
struct Daemon {
    process: Process,
    port: u16,
    /// When it was spawned, in epoch ms.
    started_ms: f64,
}

/// Peak resident set (VmHWM) in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User plus system CPU seconds of a process.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15 (1-based over the whole line).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// (busy, total) jiffies of the whole host.
fn host_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// Share of the host's CPUs busy between two [`host_cpu`] samples.
fn busy_share(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<f64> {
    let ((b0, t0), (b1, t1)) = (a?, b?);
    (t1 > t0).then(|| (b1 - b0) as f64 / (t1 - t0) as f64)
}

// ----- what the daemon did -------------------------------------------------------------------------------------

/// Receives the pages on a capture queue until `expected` arrived (then 1 s more for duplicates) or `limit`
/// passed: (incident id, level, SentTimestamp in ms).
async fn pages(aws: &Aws, queue: &str, expected: usize, limit: Duration) -> Vec<(String, String, f64)> {
    let got = aws.drain(queue, expected, limit, Duration::from_secs(1)).await;
    let attr = |m: &support::Received, k: &str| m.attributes.get(k).cloned().unwrap_or_default();
    got.iter().map(|m| (attr(m, "incident_id"), attr(m, "severity"), m.sent_ms)).collect()
}

/// The incidents in `table` whose finding id contains `tag`: finding id -> (incident id, created_at ms).
async fn incident_times(aws: &Aws, table: &str, tag: &str) -> Result<HashMap<String, (String, f64)>> {
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

// ----- findings ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    fn severity(self) -> f64 {
        match self {
            Level::Low => 2.0,
            Level::Medium => 5.0,
            Level::High => 8.0,
            Level::Critical => 9.5,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
            Level::Critical => "CRITICAL",
        }
    }
    fn pages(self) -> bool {
        self >= Level::High
    }
}

/// A small deterministic generator (xorshift64*), so that two runs send the same burst.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Makes finding events from the repository's EC2 backdoor fixture (a real GuardDuty finding, ~3.7 KB).
struct Findings {
    template: FindingEvent,
    base: chrono::DateTime<chrono::Utc>,
}

impl Findings {
    fn new() -> Findings {
        let template = FindingEvent::from_fixture("ec2-instance-backdoor", "template");
        Findings { template, base: chrono::Utc::now() - chrono::Duration::hours(1) }
    }

    /// Version `version` (0 = first) of finding `id` at `level`.
    fn body(&self, id: &str, level: Level, version: u32) -> String {
        let ts = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut event = self
            .template
            .clone()
            .set("id", json!(id))
            .arn(&format!(
                "arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/7ac0b9d4e3f2418a9c6e5d1b0a2f3e4d/finding/{id}"
            ))
            .severity(level.severity())
            .title(&format!("Benchmark {} finding {id} (C&C domain queried by i-0a1b2c3d4e5f67890)", level.name()))
            .created_at(&ts(self.base))
            .updated_at(&ts(self.base + chrono::Duration::minutes(i64::from(version))))
            .count(u64::from(3 + version));
        // The envelope's own id and time, as EventBridge sets them per delivery.
        event.0["id"] = json!(uuid::Uuid::new_v4().to_string());
        event.0["time"] = json!(ts(chrono::Utc::now()));
        event.body()
    }
}

/// One message of a burst.
#[derive(Debug, Clone)]
struct Msg {
    finding: String,
    level: Level,
    body: String,
}

/// The mixed burst: `n` findings with exact level shares (85/10/4/1 per hundred), a second version of 5% and
/// a byte-identical redelivery of 3%, each copy placed a little after its original.
fn mixed_burst(f: &Findings, prefix: &str, n: usize, rng: &mut Rng) -> Vec<Msg> {
    let mut levels: Vec<Level> = (0..n)
        .map(|i| match i % 100 {
            0..85 => Level::Low,
            85..95 => Level::Medium,
            95..99 => Level::High,
            _ => Level::Critical,
        })
        .collect();
    rng.shuffle(&mut levels);
    let mut keyed: Vec<(usize, Msg)> = Vec::with_capacity(n + n / 10);
    for (i, &level) in levels.iter().enumerate() {
        let finding = format!("{prefix}{i:06}");
        keyed.push((i * 4, Msg { body: f.body(&finding, level, 0), finding, level }));
    }
    let mut picks: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut picks);
    let (updates, rest) = picks.split_at(n * 5 / 100);
    let window = (n / 20).max(10);
    for &i in updates {
        let orig = &keyed[i].1;
        let msg = Msg { body: f.body(&orig.finding, orig.level, 1), ..orig.clone() };
        keyed.push(((i + 1 + rng.below(window)) * 4 + 1, msg));
    }
    for &i in &rest[..n * 3 / 100] {
        let copy = keyed[i].1.clone();
        keyed.push(((i + 1 + rng.below(window)) * 4 + 2, copy));
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, m)| m).collect()
}

fn low_burst(f: &Findings, prefix: &str, n: usize) -> Vec<Msg> {
    (0..n)
        .map(|i| {
            let finding = format!("{prefix}{i:06}");
            Msg { body: f.body(&finding, Level::Low, 0), finding, level: Level::Low }
        })
        .collect()
}

// ----- the daemon's /metrics ---------------------------------------------------------------------------------

/// One scrape of the Prometheus text.
#[derive(Debug, Clone, Default)]
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split("\",")
                        .filter_map(|kv| kv.split_once("=\""))
                        .map(|(k, v)| (k.to_owned(), v.trim_end_matches('"').to_owned()))
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            samples.push((name.to_owned(), labels, value));
        }
        Scrape(samples)
    }

    fn sum(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// `<service>.<operation>` -> value of a family labelled by service and operation.
    fn by_operation(&self, name: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (n, l, v) in &self.0 {
            if n == name {
                let key = format!(
                    "{}.{}",
                    l.get("service").map(String::as_str).unwrap_or("?"),
                    l.get("operation").map(String::as_str).unwrap_or("?")
                );
                *out.entry(key).or_insert(0.0) += v;
            }
        }
        out
    }

    /// Messages settled (processed or dead-lettered; retried ones come back).
    fn settled(&self) -> f64 {
        self.sum(&counter(MESSAGES_SETTLED), Some(("kind", "processed")))
            + self.sum(&counter(MESSAGES_SETTLED), Some(("kind", "dead_lettered")))
    }
}

/// The exported name of metric `name`.
fn metric(name: &str) -> String {
    format!("{PREFIX}_{name}")
}

/// The exported name of counter `name`.
fn counter(name: &str) -> String {
    format!("{PREFIX}_{name}_total")
}

async fn scrape(port: u16) -> Result<Scrape> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let answer = Http::default().try_send(Method::GET, &url, &[], None, Duration::from_secs(5)).await?;
    if answer.status != 200 {
        return Err(format!("GET /metrics: {}", answer.status));
    }
    Ok(Scrape::parse(&answer.body))
}

// ----- statistics ----------------------------------------------------------------------------------------------

/// Nearest-rank percentile of unsorted values; `None` when empty.
fn pct(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    Some(v[rank.min(v.len()) - 1])
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

// ----- the ceiling ---------------------------------------------------------------------------------------------

/// What the bare loop writes per message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Write {
    /// One conditional PutItem of the incident with the raw event in it: the necessary minimum.
    #[default]
    Put,
    /// The daemon's create: TransactWriteItems of the incident, a log event and the evidence (3 items).
    Transact,
}

#[derive(Debug, Default)]
struct CeilingRun {
    write: Write,
    loops: usize,
    messages: usize,
    secs: f64,
    rate: f64,
    put_ms: Vec<f64>,
    receive_ms: Vec<f64>,
    delete_ms: Vec<f64>,
    calls: usize,
    conditional_failures: usize,
    delete_failures: usize,
}

/// The item a bare create writes: the incident's own attributes plus the raw event (the evidence), one item.
fn ceiling_item(body: &str) -> Option<Item> {
    let v: Value = serde_json::from_str(body).ok()?;
    let d = v.get("detail")?;
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let (id, account, region, kind) = (s("id")?, s("accountId")?, s("region")?, s("type")?);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut item = HashMap::new();
    let mut put = |k: &str, v: String| item.insert(k.to_owned(), AttributeValue::S(v));
    put("pk", IncidentKey { account_id: account.clone(), region: region.clone(), finding_id: id.clone() }.pk());
    put("sk", SK_INCIDENT.into());
    put("record_type", RECORD_INCIDENT.into());
    put("incident_id", uuid::Uuid::new_v4().to_string());
    put("account_id", account);
    put("region", region);
    put("finding_id", id);
    put("finding_type", kind);
    put("severity", "LOW".into());
    put("status", "open".into());
    put("title", s("title").unwrap_or_default());
    put("description", s("description").unwrap_or_default());
    put("created_at", now.clone());
    put("updated_at", now);
    put("evidence", body.to_owned());
    item.insert("version".into(), AttributeValue::N("1".into()));
    let severity = d.get("severity").and_then(Value::as_f64).unwrap_or_default();
    item.insert("finding_severity".into(), AttributeValue::N(severity.to_string()));
    Some(item)
}

/// The daemon's three items for a new finding: the incident (without the body), a log event, the evidence.
fn transact_items(body: &str) -> Option<[(Item, bool); 3]> {
    let mut incident = ceiling_item(body)?;
    let evidence_body = incident.remove("evidence")?;
    let pk = incident.get("pk")?.clone();
    let incident_id = incident.get("incident_id")?.clone();
    let now = incident.get("created_at")?.clone();
    let rand = || AttributeValue::S(uuid::Uuid::new_v4().simple().to_string());
    let event: Item = [
        ("pk", pk.clone()),
        ("sk", rand()),
        ("record_type", AttributeValue::S(RECORD_EVENT.into())),
        ("incident_id", incident_id.clone()),
        ("at", now.clone()),
        ("kind", AttributeValue::S("created".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let evidence: Item = [
        ("pk", pk),
        ("sk", rand()),
        ("record_type", AttributeValue::S(RECORD_EVIDENCE.into())),
        ("incident_id", incident_id),
        ("received_at", now),
        ("body", evidence_body),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Some([(incident, true), (event, true), (evidence, false)])
}

/// One bare create; `Ok(true)` when its condition failed (the item exists).
async fn ceiling_write(aws: &Aws, table: &str, write: Write, body: &str) -> Result<bool> {
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let outcome = match write {
        Write::Put => {
            let item = ceiling_item(body).ok_or("ceiling: not a finding")?;
            let r = aws
                .dynamodb
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match r {
                Ok(_) => Ok(false),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(true),
                Err(e) => Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
            }
        }
        Write::Transact => {
            let mut writes = Vec::new();
            for (item, conditional) in transact_items(body).ok_or("ceiling: not a finding")? {
                let mut put = Put::builder().table_name(table).set_item(Some(item));
                if conditional {
                    put = put.condition_expression("attribute_not_exists(pk)");
                }
                writes.push(TransactWriteItem::builder().put(put.build().map_err(|e| e.to_string())?).build());
            }
            let r = aws.dynamodb.transact_write_items().set_transact_items(Some(writes)).send().await;
            match r {
                Ok(_) => Ok(false),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_transaction_canceled_exception()) => Ok(true),
                Err(e) => Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
            }
        }
    };
    outcome.map_err(|e| format!("ceiling {write:?}: {e}"))
}

/// Drains `target` messages from `queue` with `loops` loops of receive 10 / one write each (concurrently) /
/// DeleteMessageBatch.
async fn ceiling(aws: &Aws, queue: &str, table: &str, write: Write, loops: usize, target: usize) -> Result<CeilingRun> {
    let done = AtomicUsize::new(0);
    let stats = Mutex::new(CeilingRun { write, loops, ..CeilingRun::default() });
    let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(20 * target as u64);
    let started = Instant::now();
    let one_loop = || async {
        while done.load(Ordering::Relaxed) < target {
            if Instant::now() > deadline {
                return Err(format!("ceiling: {} of {target} after the deadline", done.load(Ordering::Relaxed)));
            }
            let t = Instant::now();
            let out = aws
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(60)
                .send()
                .await
                .map_err(|e| format!("ceiling receive: {e}"))?;
            let receive_ms = t.elapsed().as_secs_f64() * 1000.0;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                stats.lock().map_err(|_| "poisoned")?.calls += 1;
                continue;
            }
            let puts = join_all(messages.iter().map(|m| async {
                let t = Instant::now();
                let conflict = ceiling_write(aws, table, write, m.body.as_deref().unwrap_or_default()).await?;
                Ok::<_, String>((t.elapsed().as_secs_f64() * 1000.0, conflict))
            }))
            .await;
            let t = Instant::now();
            let delete_failures = aws.delete_batch(queue, &messages).await;
            let delete_ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut s = stats.lock().map_err(|_| "poisoned")?;
            s.delete_failures += delete_failures;
            s.receive_ms.push(receive_ms);
            s.delete_ms.push(delete_ms);
            s.calls += 2 + messages.len();
            for p in puts {
                let (ms, conflict) = p?;
                s.put_ms.push(ms);
                s.conditional_failures += usize::from(conflict);
            }
            drop(s);
            done.fetch_add(messages.len(), Ordering::Relaxed);
        }
        Ok::<(), String>(())
    };
    for r in join_all((0..loops).map(|_| one_loop())).await {
        r?;
    }
    let mut run = stats.into_inner().map_err(|_| "poisoned")?;
    run.secs = started.elapsed().as_secs_f64();
    run.messages = done.load(Ordering::Relaxed);
    run.rate = run.messages as f64 / run.secs;
    Ok(run)
}

// ----- the daemon phases ---------------------------------------------------------------------------------------

struct Setup {
    dir: PathBuf,
    stack: Stack,
    queue_extra: Vec<String>,
    /// Whether the daemon reads the stack's urgent queue too.
    urgent: bool,
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

async fn start_daemon(setup: &Setup, name: &str) -> Result<Daemon> {
    let addr = free_addr();
    let config = config(setup, name, addr.port())?;
    let started_ms = now_ms();
    let mut process = Process::start(&config, name);
    process.wait_healthy(addr, Duration::from_secs(30)).await;
    Ok(Daemon { process, port: addr.port(), started_ms })
}

/// HIGH findings sent one at a time while the burst drains.
struct Probes {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(String, f64)>>,
}

/// Each probe goes to every queue of `queues`, as the rules deliver a HIGH finding to both queues.
fn start_probes(aws: &Aws, queues: &[String], findings: Arc<Findings>, prefix: String) -> Probes {
    let stop = Arc::new(AtomicBool::new(false));
    let (sqs, queues, flag) = (aws.sqs.clone(), queues.to_vec(), stop.clone());
    let task = tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !flag.load(Ordering::Relaxed) && sent.len() < 1000 {
            tick.tick().await;
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let finding = format!("{prefix}{:04}", sent.len());
            let body = findings.body(&finding, Level::High, 0);
            let at = now_ms();
            let mut all = true;
            for queue in &queues {
                all &= sqs.send_message().queue_url(queue).message_body(&body).send().await.is_ok();
            }
            if all {
                sent.push((finding, at));
            }
        }
        sent
    });
    Probes { stop, task }
}

/// What a daemon's drain measured.
#[derive(Debug, Default)]
struct Drain {
    secs: f64,
    messages: f64,
    rate: f64,
    in_flight_mean: f64,
    in_flight_max: f64,
    probes: Vec<(String, f64)>,
    host_busy: Option<f64>,
    retried: f64,
    dead_lettered: f64,
}

/// Waits until the daemon settled `preloaded` (+ probes, one message per queue each) messages and the queues
/// are empty, sampling /metrics.
async fn drain(
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
        tokio::time::sleep(SCRAPE_EVERY).await;
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
struct Stopped {
    metrics: Scrape,
    rss_kib: Option<u64>,
    cpu_secs: Option<f64>,
    exit_secs: f64,
}

async fn stop(daemon: &mut Daemon) -> Result<Stopped> {
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

// ----- the report ----------------------------------------------------------------------------------------------

struct Row {
    metric: String,
    value: Option<f64>,
    unit: &'static str,
    target: Option<(&'static str, bool)>,
}

#[derive(Default)]
struct Report(Vec<Row>);

impl Report {
    fn info(&mut self, metric: impl Into<String>, value: Option<f64>, unit: &'static str) {
        self.0.push(Row { metric: metric.into(), value, unit, target: None });
    }
    /// A row with a target: `ok` says whether `value` meets it.
    fn target(
        &mut self,
        metric: &str,
        value: Option<f64>,
        unit: &'static str,
        target: &'static str,
        ok: fn(f64) -> bool,
    ) {
        let met = value.is_some_and(ok);
        self.0.push(Row { metric: metric.into(), value, unit, target: Some((target, met)) });
    }

    fn print(&self) {
        // `+ 0.0` turns the -0.0 of an empty float sum into 0.
        let fmt = |r: &Row| match r.value.map(|v| v + 0.0) {
            Some(v) if v.abs() >= 100.0 => format!("{v:.0} {}", r.unit),
            Some(v) if v.abs() >= 10.0 => format!("{v:.1} {}", r.unit),
            Some(v) => format!("{v:.3} {}", r.unit),
            None => "n/a".into(),
        };
        let w = self.0.iter().map(|r| r.metric.len()).max().unwrap_or(6).max(6);
        let mut out = String::new();
        out.push_str(&format!("\n{:<w$}  {:>16}  target\n{}\n", "metric", "value", "-".repeat(w + 40)));
        for r in &self.0 {
            let target = match r.target {
                Some((t, true)) => format!("{t}  ok"),
                Some((t, false)) => format!("{t}  MISSED"),
                None => String::new(),
            };
            out.push_str(&format!("{:<w$}  {:>16}  {target}\n", r.metric, fmt(r).trim_end()));
        }
        println!("{out}");
        let _ = std::io::stdout().flush();
    }

    fn json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|r| {
                    json!({
                        "metric": r.metric,
                        "value": r.value,
                        "unit": r.unit,
                        "target": r.target.map(|t| t.0),
                        "met": r.target.map(|t| t.1),
                    })
                })
                .collect(),
        )
    }

    fn all_met(&self) -> bool {
        self.0.iter().all(|r| r.target.is_none_or(|t| t.1))
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("timeout").arg("10").arg("git").args(args).current_dir(repo()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ----- the run -------------------------------------------------------------------------------------------------

async fn run(args: Args) -> Result<bool> {
    let n = args.findings.unwrap_or(if args.quick { 500 } else { 5000 });
    if n < 20 {
        return Err("--findings must be at least 20".into());
    }
    // At least 300: a shorter phase ends before the daemon reaches a steady state.
    let low_n = (n / 5).max(300);
    let id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let dir = repo().join("target/bench").join(format!("run-{id}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    log(format!("run {id}: {n} findings; files in {}", dir.display()));

    log("starting LocalStack (idempotent)");
    support::ensure_localstack();
    log(format!("daemon binary {}", support::binary()));
    let (main_name, ceil_name) = (format!("bench-{id}"), format!("bench-{id}-ceil"));
    log(format!("deploying stacks {main_name} and {ceil_name}"));
    let (a, b) = (main_name.clone(), ceil_name.clone());
    let main_deploy = std::thread::spawn(move || deploy_named(&a));
    let ceil_deploy = std::thread::spawn(move || deploy_named(&b));
    let stack = main_deploy.join().map_err(|_| "deploying the daemon's stack failed")?;
    let ceil_stack = ceil_deploy.join().map_err(|_| "deploying the ceiling's stack failed")?;
    let aws = Aws::new().await;
    let findings = Arc::new(Findings::new());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let queue = stack.queue_url().to_owned();

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
    let best = ceilings.iter().filter(|c| c.write == Write::Put).max_by(|a, b| a.rate.total_cmp(&b.rate));
    let transact = ceilings.iter().find(|c| c.write == Write::Transact);

    // 2. The burst.
    let oce = aws.capture(stack.oce_topic(), &format!("bench-{id}-oce")).await;
    let iso = aws.capture(stack.iso_topic(), &format!("bench-{id}-iso")).await;
    let burst_prefix = format!("b-{id}-");
    let burst = mixed_burst(&findings, &burst_prefix, n, &mut rng);
    let bodies: Vec<String> = burst.iter().map(|m| m.body.clone()).collect();
    // What the urgent rule copies (severity 7 and up) goes to the urgent queue at the same time.
    let urgent = if args.no_urgent { None } else { stack.urgent_queue_url().map(str::to_owned) };
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

    let setup = Setup {
        dir: dir.clone(),
        stack: stack.clone(),
        queue_extra: args.queue_extra.clone(),
        urgent: urgent.is_some(),
    };
    let mut daemon = start_daemon(&setup, "burst").await?;
    let probes = start_probes(&aws, &queues, findings.clone(), format!("p-{id}-"));
    let preloaded = burst.len() + urgent_bodies.len();
    let drained = drain(&aws, &mut daemon, &queues, preloaded, Some(probes)).await?;
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
        tokio::join!(pages(&aws, &oce, expected_pages, limit), pages(&aws, &iso, expected_pages, limit));
    let burst_stop = stop(&mut daemon).await?;
    log(format!("burst daemon stopped with exit 0 in {:.2}s", burst_stop.exit_secs));

    // Incidents, pages and their times.
    let deadline = Instant::now() + Duration::from_secs(20);
    let incidents = loop {
        let found = incident_times(&aws, stack.table(), &format!("-{id}-")).await?;
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

    // 3. The LOW-only phase.
    let low = low_burst(&findings, &format!("l-{id}-"), low_n);
    let bodies: Vec<String> = low.into_iter().map(|m| m.body).collect();
    // On the ceiling stack's queue: the burst daemon's last long poll, cut short by SIGTERM, may still be
    // waiting in LocalStack and would take (and hide for the visibility timeout) the first messages sent.
    let low_queue = ceil_stack.queue_url().to_owned();
    aws.load(&low_queue, &bodies, SENDERS).await;
    log(format!("LOW phase: loaded {low_n} LOW findings; starting a second daemon"));
    let low_setup = Setup { stack: ceil_stack.clone(), ..setup };
    let mut low_daemon = start_daemon(&low_setup, "low").await?;
    let low_queues: Vec<String> = std::iter::once(low_queue.clone())
        .chain(urgent.as_ref().and_then(|_| ceil_stack.urgent_queue_url().map(str::to_owned)))
        .collect();
    let low_drained = drain(&aws, &mut low_daemon, &low_queues, low_n, None).await?;
    let low_stop = stop(&mut low_daemon).await?;
    log(format!("LOW phase: {:.0} msg/s; daemon stopped with exit 0", low_drained.rate));

    // The table.
    let mut r = Report::default();
    let messages = drained.messages;
    r.info("burst: distinct findings", Some(n as f64), "");
    r.info("burst: messages (incl. 5% updates, 3% redeliveries, probes)", Some(messages), "");
    r.info("burst: HIGH/CRITICAL findings", Some(paging_findings as f64), "");
    r.info("burst: copies on the urgent queue (0: no priority lane)", Some(urgent_bodies.len() as f64), "");
    r.info(
        "load: messages/s into the queue (8 senders, batches of 10)",
        Some(bodies_rate(burst.len(), load_secs)),
        "msg/s",
    );
    for c in ceilings.iter().filter(|c| c.write == Write::Put) {
        r.info(format!("ceiling: {} loops, msg/s", c.loops), Some(c.rate), "msg/s");
    }
    r.info("ceiling: best, msg/s", best.map(|c| c.rate), "msg/s");
    r.info("ceiling: PutItem mean latency (best run)", best.and_then(|c| mean(&c.put_ms)), "ms");
    if let Some(t) = transact {
        let what = format!("attribution: bare loop with the daemon's 3-item transaction, {} loops", t.loops);
        r.info(what, Some(t.rate), "msg/s");
        r.info("attribution: its TransactWriteItems mean latency", mean(&t.put_ms), "ms");
    }
    r.info("daemon: drain time from start (burst)", Some(drained.secs), "s");
    r.info("daemon: msg/s (burst, from start to queue empty)", Some(drained.rate), "msg/s");
    r.target("daemon/ceiling throughput (burst)", best.map(|c| drained.rate / c.rate), "", ">= 0.8", |v| v >= 0.8);
    r.info("daemon: msg/s (LOW-only phase)", Some(low_drained.rate), "msg/s");
    r.info("daemon/ceiling throughput (LOW-only phase)", best.map(|c| low_drained.rate / c.rate), "");
    r.info("send->incident p50 (burst, incl. queue wait)", pct(&send_to_incident, 50.0), "s");
    r.info("send->incident p99 (burst, incl. queue wait)", pct(&send_to_incident, 99.0), "s");
    r.info("send->incident p99, HIGH/CRITICAL (burst)", pct(&send_to_incident_paging, 99.0), "s");
    r.info("send->page p50 (burst HIGH/CRITICAL, incl. queue wait)", pct(&page_from_send, 50.0), "s");
    r.info("send->page p99 (burst HIGH/CRITICAL, incl. queue wait)", pct(&page_from_send, 99.0), "s");
    r.info("daemon start->page p50 (burst HIGH/CRITICAL)", pct(&page_from_start, 50.0), "s");
    r.info("daemon start->page p99 (burst HIGH/CRITICAL)", pct(&page_from_start, 99.0), "s");
    r.target(
        "burst drained when a HIGH/CRIT page arrived, median",
        pct(&page_drained, 50.0),
        "",
        "~0 (<= 0.05)",
        |v| v <= 0.05,
    );
    r.info("burst drained when a HIGH/CRIT page arrived, p90", pct(&page_drained, 90.0), "");
    r.info("probes: HIGH findings sent while draining", Some(drained.probes.len() as f64), "");
    r.info("probe send->page p50 (sent while draining)", pct(&probe_to_page, 50.0), "s");
    r.target("probe send->page p99 (sent while draining)", pct(&probe_to_page, 99.0), "s", "< 1 s", |v| v < 1.0);
    r.info("pages received / expected", Some(pages_received as f64 / (2 * expected_pages).max(1) as f64), "");
    r.info("pages duplicated", Some(duplicates as f64), "");
    r.info("incidents missing after the drain", Some(missing as f64), "");
    r.info("foreign messages settled (other sessions' events on the shared bus)", Some(foreign), "");
    r.info("messages retried / dead-lettered", Some(drained.retried + drained.dead_lettered), "");
    r.target("daemon peak RSS (VmHWM, burst)", burst_stop.rss_kib.map(|k| k as f64 / 1024.0), "MB", "< 40 MB", |v| {
        v < 40.0
    });
    r.info("daemon CPU (user+sys, burst, whole life)", burst_stop.cpu_secs, "s");
    r.info("daemon CPU per 1000 messages", burst_stop.cpu_secs.map(|c| c * 1000.0 / messages.max(1.0)), "s");
    r.info("host CPU busy during the burst drain (2 cores = 1.0)", drained.host_busy, "");
    r.info("host CPU busy in 1 s before the run (other load)", background_busy, "");
    r.info("daemon: mean messages in flight while draining", Some(drained.in_flight_mean), "");
    r.info("daemon: max messages in flight seen", Some(drained.in_flight_max), "");
    let calls = burst_stop.metrics.by_operation(&counter(AWS_CALLS));
    let total_calls: f64 = calls.values().sum();
    r.info("AWS calls per message (burst, all operations)", Some(total_calls / messages.max(1.0)), "");
    for (op, c) in &calls {
        r.info(format!("  {op} per message (burst)"), Some(c / messages.max(1.0)), "");
    }
    let received = burst_stop.metrics.sum(&counter(MESSAGES_RECEIVED), None);
    let receives = calls.iter().filter(|(k, _)| k.ends_with(".ReceiveMessage")).map(|(_, v)| v).sum::<f64>();
    r.info("messages per ReceiveMessage (burst)", Some(received / receives.max(1.0)), "");
    let low_calls = low_stop.metrics.by_operation(&counter(AWS_CALLS));
    let low_total: f64 = low_calls.values().sum();
    r.target("AWS calls per LOW finding (LOW-only phase)", Some(low_total / low_n as f64), "", "<= 1.3", |v| v <= 1.3);
    for (op, c) in &low_calls {
        r.info(format!("  {op} per LOW finding"), Some(c / low_n as f64), "");
    }
    let seconds = burst_stop.metrics.by_operation(&format!("{}_sum", metric(AWS_CALL_SECONDS)));
    let counts = burst_stop.metrics.by_operation(&format!("{}_count", metric(AWS_CALL_SECONDS)));
    for (op, s) in &seconds {
        if let Some(c) = counts.get(op).filter(|c| **c > 0.0) {
            r.info(format!("  {op} mean latency in the daemon (burst)"), Some(s / c * 1000.0), "ms");
        }
    }
    r.print();

    let report = json!({
        "bench": "throughput",
        "commit": git(&["rev-parse", "HEAD"]),
        "dirty": git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "findings": n,
        "low_phase_findings": low_n,
        "stacks": [main_name, ceil_name],
        "queue_extra": args.queue_extra,
        "urgent": !args.no_urgent,
        "rows": r.json(),
        "ceiling": ceilings.iter().map(|c| json!({
            "write": format!("{:?}", c.write), "loops": c.loops, "messages": c.messages, "secs": c.secs, "msg_per_s": c.rate, "calls": c.calls,
            "put_ms_mean": mean(&c.put_ms), "put_ms_p99": pct(&c.put_ms, 99.0),
            "receive_ms_mean": mean(&c.receive_ms), "delete_ms_mean": mean(&c.delete_ms),
            "conditional_failures": c.conditional_failures, "delete_failures": c.delete_failures,
        })).collect::<Vec<_>>(),
        "daemon_calls_burst": calls,
        "daemon_calls_low": low_calls,
        "low_phase": { "secs": low_drained.secs, "msg_per_s": low_drained.rate, "rss_kib": low_stop.rss_kib,
                       "cpu_secs": low_stop.cpu_secs, "in_flight_mean": low_drained.in_flight_mean },
        "pages": { "oce": oce_pages.len(), "iso": iso_pages.len(), "expected_per_topic": expected_pages },
        "logs": dir.display().to_string(),
    });
    let json_path = if args.json.is_absolute() { args.json.clone() } else { repo().join(&args.json) };
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, text + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
    log(format!("wrote {}", json_path.display()));
    if missing > 0 || duplicates > 0 {
        return Err(format!("{missing} incidents missing, {duplicates} pages duplicated"));
    }
    Ok(!args.check || r.all_met())
}

fn bodies_rate(count: usize, secs: f64) -> f64 {
    count as f64 / secs.max(1e-9)
}
