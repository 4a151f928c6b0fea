//! What a run reports: one table of rows (metric, value, unit, target, met), printed and written as JSON.
//! Rows with a target say whether it is met; `--check` turns a miss into exit 1. The full run's rows are
//! made here from every phase's results, in the order they are printed.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use gd_incidents::telemetry::metrics::{AWS_CALL_SECONDS, AWS_CALLS, MESSAGES_RECEIVED};
use serde_json::{Value, json};

use crate::Result;
use crate::backlog::Backlog;
use crate::burst::Burst;
use crate::ceiling::{CeilingRun, Write};
use crate::cost::Step;
use crate::low::Low;
use crate::peer::PeerRun;
use crate::queries::AtSize;
use crate::scrape::{counter, metric};
use crate::stats::{mean, pct};
use crate::support::repo;

/// One row of the table.
struct Row {
    /// What is measured.
    metric: String,
    /// Its value (`None`: could not be measured).
    value: Option<f64>,
    /// Its unit, printed after the value.
    unit: &'static str,
    /// The target as printed, and whether the value meets it.
    target: Option<(&'static str, bool)>,
}

/// The table of a run, in order.
#[derive(Default)]
pub struct Report(Vec<Row>);

impl Report {
    /// A row without a target.
    pub fn info(&mut self, metric: impl Into<String>, value: Option<f64>, unit: &'static str) {
        self.0.push(Row { metric: metric.into(), value, unit, target: None });
    }
    /// A row with a target: `ok` says whether `value` meets it.
    pub fn target(
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

    /// Prints the table to stdout.
    pub fn print(&self) {
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

    /// The rows as JSON: metric, value, unit, target, met.
    pub fn json(&self) -> Value {
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

    /// Whether every target is met.
    pub fn all_met(&self) -> bool {
        self.0.iter().all(|r| r.target.is_none_or(|t| t.1))
    }
}

/// `git ARGS` in the repository, trimmed stdout if it succeeds within 10 s.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("timeout").arg("10").arg("git").args(args).current_dir(repo()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit of the tree measured and whether it had uncommitted changes, for every JSON report.
pub fn commit() -> (Option<String>, Option<bool>) {
    (git(&["rev-parse", "HEAD"]), git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()))
}

/// Writes `report` to `path` (relative: to the repository), making its directory.
pub fn write_json(path: &Path, report: &Value) -> Result<()> {
    let path = if path.is_absolute() { path.to_owned() } else { repo().join(path) };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    crate::log(format!("wrote {}", path.display()));
    Ok(())
}

/// Messages per second, with no division by zero.
fn bodies_rate(count: usize, secs: f64) -> f64 {
    count as f64 / secs.max(1e-9)
}

/// KiB as MB (MiB), the unit of every memory row.
pub fn mb(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

/// Everything the full run measured, for its table.
pub struct Full<'a> {
    /// Distinct findings in the burst.
    pub n: usize,
    /// The ceiling runs (none with `--no-ceiling`).
    pub ceilings: &'a [CeilingRun],
    /// The burst.
    pub burst: &'a Burst,
    /// The LOW-only phase.
    pub low: &'a Low,
    /// The peer on the same LOW load.
    pub peer: &'a PeerRun,
    /// What findings cost in DynamoDB capacity units.
    pub cost: &'a [Step],
    /// HIGH findings through EventBridge behind a LOW backlog.
    pub backlog: &'a Backlog,
    /// The list and search at a year's scale.
    pub queries: &'a [AtSize],
    /// Share of the host busy in the second before the run.
    pub background_busy: Option<f64>,
}

/// The full run's table. Rows about a phase come with that phase's rows; new rows go where a reader of the
/// table looks for them (see benches/README.md).
pub fn full(f: &Full) -> Report {
    let (n, burst, low, peer) = (f.n, f.burst, f.low, f.peer);
    let (drained, burst_stop) = (&burst.drained, &burst.stopped);
    let best = f.ceilings.iter().filter(|c| c.write == Write::Put).max_by(|a, b| a.rate.total_cmp(&b.rate));
    let transact = f.ceilings.iter().find(|c| c.write == Write::Transact);
    let mut r = Report::default();
    let messages = drained.messages;
    r.info("burst: distinct findings", Some(n as f64), "");
    r.info("burst: messages (incl. 5% updates, 3% redeliveries, probes)", Some(messages), "");
    r.info("burst: HIGH/CRITICAL findings", Some(burst.paging_findings as f64), "");
    r.info("burst: copies on the urgent queue (0: no priority lane)", Some(burst.urgent_copies as f64), "");
    r.info(
        "load: messages/s into the queue (8 senders, batches of 10)",
        Some(bodies_rate(burst.messages, burst.load_secs)),
        "msg/s",
    );
    for c in f.ceilings.iter().filter(|c| c.write == Write::Put) {
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
    low_rows(&mut r, low, best.map(|c| c.rate));
    peer_rows(&mut r, low, peer);
    cost_rows(&mut r, f.cost);
    let b = f.backlog;
    let queued = format!("{} LOW queued", b.queued);
    r.info(format!("backlog: HIGH probes through EventBridge ({queued})"), Some(b.probes as f64), "");
    r.info(format!("backlog: probes paged ({queued})"), Some(b.send_to_page.len() as f64), "");
    r.info(format!("backlog: probe PutEvents->page p50 ({queued})"), pct(&b.send_to_page, 50.0), "s");
    r.info(format!("backlog: probe PutEvents->page p99 ({queued})"), pct(&b.send_to_page, 99.0), "s");
    // The clock starts at the finding's arrival: on LocalStack, PutEvents itself takes most of a second.
    r.info(format!("backlog: probe arrival on queue->paged p50 ({queued})"), pct(&b.arrival_to_page, 50.0), "s");
    let p99 = pct(&b.arrival_to_page, 99.0).filter(|_| b.arrival_to_page.len() == b.probes);
    r.target(&format!("backlog: probe arrival on queue->paged p99 ({queued})"), p99, "s", "< 1 s", |v| v < 1.0);
    // Where the time went: before the daemon wrote the incident (EventBridge, SQS, the receive), or after.
    r.info(format!("backlog: probe PutEvents->incident written p50 ({queued})"), pct(&b.send_to_incident, 50.0), "s");
    r.info(format!("backlog: probe PutEvents->incident written p99 ({queued})"), pct(&b.send_to_incident, 99.0), "s");
    for q in f.queries {
        let k = q.incidents;
        r.info(format!("list: filled {k} incidents in"), Some(q.fill_secs), "s");
        r.info(format!("list: newest page of 50, median ({k} incidents)"), AtSize::median(&q.first_page), "s");
        r.info(format!("list: tenth page by cursor, median ({k} incidents)"), AtSize::median(&q.tenth_page), "s");
        r.info(format!("search: one match among {k}, to the last page, median"), AtSize::median(&q.search), "s");
        r.target(
            &format!("search: found the one match ({k} incidents)"),
            Some(f64::from(u8::from(q.search_found))),
            "",
            "1",
            |v| v == 1.0,
        );
    }
    let b = burst;
    r.info("send->incident p50 (burst, incl. queue wait)", pct(&b.send_to_incident, 50.0), "s");
    r.info("send->incident p99 (burst, incl. queue wait)", pct(&b.send_to_incident, 99.0), "s");
    r.info("send->incident p99, HIGH/CRITICAL (burst)", pct(&b.send_to_incident_paging, 99.0), "s");
    r.info("send->page p50 (burst HIGH/CRITICAL, incl. queue wait)", pct(&b.page_from_send, 50.0), "s");
    r.info("send->page p99 (burst HIGH/CRITICAL, incl. queue wait)", pct(&b.page_from_send, 99.0), "s");
    r.info("daemon start->page p50 (burst HIGH/CRITICAL)", pct(&b.page_from_start, 50.0), "s");
    r.info("daemon start->page p99 (burst HIGH/CRITICAL)", pct(&b.page_from_start, 99.0), "s");
    r.target(
        "burst drained when a HIGH/CRIT page arrived, median",
        pct(&b.page_drained, 50.0),
        "",
        "~0 (<= 0.05)",
        |v| v <= 0.05,
    );
    r.info("burst drained when a HIGH/CRIT page arrived, p90", pct(&b.page_drained, 90.0), "");
    r.info("probes: HIGH findings sent while draining", Some(drained.probes.len() as f64), "");
    r.info("probe send->page p50 (sent while draining)", pct(&b.probe_to_page, 50.0), "s");
    r.target("probe send->page p99 (sent while draining)", pct(&b.probe_to_page, 99.0), "s", "< 1 s", |v| v < 1.0);
    r.info("pages received / expected", Some(b.pages_received as f64 / (2 * b.expected_pages).max(1) as f64), "");
    r.info("pages duplicated", Some(b.duplicates as f64), "");
    r.info("incidents missing after the drain", Some(b.missing as f64), "");
    r.info("foreign messages settled (other sessions' events on the shared bus)", Some(b.foreign), "");
    r.info("messages retried / dead-lettered", Some(drained.retried + drained.dead_lettered), "");
    r.target("daemon peak RSS (VmHWM, burst)", mb(burst_stop.rss_kib), "MB", "< 40 MB", |v| v < 40.0);
    r.info("daemon CPU (user+sys, burst, whole life)", burst_stop.cpu_secs, "s");
    r.info("daemon CPU per 1000 messages", burst_stop.cpu_secs.map(|c| c * 1000.0 / messages.max(1.0)), "s");
    r.info("host CPU busy during the burst drain (2 cores = 1.0)", drained.host_busy, "");
    r.info("host CPU busy in 1 s before the run (other load)", f.background_busy, "");
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
    let low_calls = low.stopped.metrics.by_operation(&counter(AWS_CALLS));
    let low_total: f64 = low_calls.values().sum();
    let low_n = low.n as f64;
    r.target("AWS calls per LOW finding (LOW-only phase)", Some(low_total / low_n), "", "<= 1.3", |v| v <= 1.3);
    for (op, c) in &low_calls {
        r.info(format!("  {op} per LOW finding"), Some(c / low_n), "");
    }
    let seconds = burst_stop.metrics.by_operation(&format!("{}_sum", metric(AWS_CALL_SECONDS)));
    let counts = burst_stop.metrics.by_operation(&format!("{}_count", metric(AWS_CALL_SECONDS)));
    for (op, s) in &seconds {
        if let Some(c) = counts.get(op).filter(|c| **c > 0.0) {
            r.info(format!("  {op} mean latency in the daemon (burst)"), Some(s / c * 1000.0), "ms");
        }
    }
    r
}

/// The LOW-only phase's daemon: its rate against the ceiling, and its CPU and memory, the peer's comparands.
fn low_rows(r: &mut Report, low: &Low, ceiling: Option<f64>) {
    let d = &low.drained;
    r.info("daemon: msg/s (LOW-only phase)", Some(d.rate), "msg/s");
    r.info("daemon/ceiling throughput (LOW-only phase)", ceiling.map(|c| d.rate / c), "");
    r.info("daemon: CPU s (LOW-only phase, user+sys, whole life)", low.stopped.cpu_secs, "s");
    r.info("daemon: CPU per message (LOW-only phase)", per_message_ms(low.stopped.cpu_secs, d.messages), "ms");
    r.info("daemon: peak RSS (LOW-only phase, VmHWM)", mb(low.stopped.rss_kib), "MB");
    r.info("host CPU busy during the LOW-phase drain (2 cores = 1.0)", d.host_busy, "");
}

/// The peer on the same LOW load, and the daemon's LOW-only phase divided by it.
fn peer_rows(r: &mut Report, low: &Low, peer: &PeerRun) {
    r.info("peer: messages processed", Some(peer.processed), "");
    r.info("peer: msg/s", Some(peer.rate), "msg/s");
    r.info("peer: CPU s", peer.cpu_secs, "s");
    let peer_cpu = per_message_ms(peer.cpu_secs, peer.processed);
    r.info("peer: CPU per message", peer_cpu, "ms");
    r.info("peer: peak RSS", mb(peer.rss_kib), "MB");
    r.info("host CPU busy while the peer ran (2 cores = 1.0)", peer.host_busy, "");
    r.target("daemon/peer throughput", Some(low.drained.rate / peer.rate), "", ">= 1.5", |v| v >= 1.5);
    let daemon_cpu = per_message_ms(low.stopped.cpu_secs, low.drained.messages);
    let cpu = daemon_cpu.zip(peer_cpu).map(|(d, p)| d / p);
    r.target("daemon/peer CPU", cpu, "", "<= 0.10", |v| v <= 0.10);
    let rss = mb(low.stopped.rss_kib).zip(mb(peer.rss_kib)).map(|(d, p)| d / p);
    r.target("daemon/peer peak RSS", rss, "", "<= 0.33", |v| v <= 0.33);
}

/// DynamoDB's capacity units per finding, each step's: writes and reads, then writes by table and index and
/// by operation.
fn cost_rows(r: &mut Report, steps: &[Step]) {
    for (i, step) in steps.iter().enumerate() {
        let what = step.what;
        let writes = Some(step.per_finding(true, None));
        if i == 0 {
            r.target(&format!("write units per {what} (indexes included)"), writes, "WCU", "<= 2", |v| v <= 2.0);
        } else {
            r.info(format!("write units per {what} (indexes included)"), writes, "WCU");
        }
        for target in step.targets() {
            let units = step.per_finding(true, Some(&target));
            if units > 0.0 {
                r.info(format!("  {target}"), Some(units), "WCU");
            }
        }
        for (op, units) in step.writes_by_operation() {
            r.info(format!("  by {op}"), Some(units), "WCU");
        }
        r.info(format!("read units per {what}"), Some(step.per_finding(false, None)), "RCU");
    }
}

/// CPU seconds over `messages`, in ms per message.
pub fn per_message_ms(cpu_secs: Option<f64>, messages: f64) -> Option<f64> {
    cpu_secs.filter(|_| messages > 0.0).map(|c| c * 1000.0 / messages)
}
