//! What a finding costs on AWS, from DynamoDB itself: one daemon on a stack of its own takes N new LOW
//! findings, then a second version of each (an update), then H new HIGH findings (created, their pages
//! claimed, sent and marked sent); after each, its `gd_incidents_dynamodb_capacity_units_total` (every call
//! asks for `ReturnConsumedCapacity=INDEXES`) is read, and the difference divided by the findings of that
//! step gives the units per finding, for the table and each index.

use std::collections::BTreeMap;

use crate::daemon::{Setup, drain, start_daemon, stop};
use crate::findings::{Findings, Level};
use crate::scrape::{Scrape, counter, scrape};
use crate::support::Aws;
use crate::{Result, SENDERS, log};

/// The metric the daemon counts DynamoDB's consumed capacity in.
const CAPACITY: &str = "dynamodb_capacity_units";
/// DynamoDB operations that write (the rest read).
const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem", "BatchWriteItem"];

/// Capacity units by (operation, table or index).
pub type Units = BTreeMap<(String, String), f64>;

/// One step's findings and the units they cost.
pub struct Step {
    /// What the step did.
    pub what: &'static str,
    /// Findings in it.
    pub findings: usize,
    /// Units consumed during it, by (operation, target).
    pub units: Units,
}

impl Step {
    /// Write (or read) units per finding, over every target or only `target`.
    pub fn per_finding(&self, writes: bool, target: Option<&str>) -> f64 {
        let total: f64 = self
            .units
            .iter()
            .filter(|((op, t), _)| WRITES.contains(&op.as_str()) == writes && target.is_none_or(|x| x == t))
            .map(|(_, u)| u)
            .sum();
        total / self.findings.max(1) as f64
    }

    /// Write units per finding by operation.
    pub fn writes_by_operation(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for ((op, _), u) in self.units.iter().filter(|((op, _), _)| WRITES.contains(&op.as_str())) {
            *out.entry(op.clone()).or_insert(0.0) += u / self.findings.max(1) as f64;
        }
        out
    }

    /// The tables and indexes written in this step.
    pub fn targets(&self) -> Vec<String> {
        let mut t: Vec<String> = self.units.keys().map(|(_, t)| t.clone()).collect();
        t.sort();
        t.dedup();
        t
    }
}

/// The units a scrape holds, by (operation, target).
fn units(s: &Scrape) -> Units {
    s.labelled(&counter(CAPACITY), "operation", "target")
}

/// `after - before`, per key.
fn minus(after: &Units, before: &Units) -> Units {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Runs the three steps on `setup.stack` (idle, its table empty): `n` LOW findings, their updates, `high`
/// HIGH findings.
pub async fn run(aws: &Aws, setup: &Setup, findings: &Findings, id: &str, n: usize, high: usize) -> Result<Vec<Step>> {
    let queue = setup.stack.queue_url().to_owned();
    let mut daemon = start_daemon(setup, "cost").await?;
    let queues = vec![queue.clone()];
    let mut before = units(&scrape(daemon.port).await?);
    let mut settled = 0;
    let mut steps = Vec::new();
    let plan: [(&'static str, usize, Level, u32, &str); 3] = [
        ("LOW finding created", n, Level::Low, 0, "low"),
        ("LOW finding updated (a newer version)", n, Level::Low, 1, "low"),
        ("HIGH finding (created, paged, marked sent)", high, Level::High, 0, "high"),
    ];
    for (what, count, level, version, name) in plan {
        let bodies: Vec<String> =
            (0..count).map(|i| findings.body(&format!("k-{id}-{name}-{i:06}"), level, version)).collect();
        aws.load(&queue, &bodies, SENDERS).await;
        settled += count;
        drain(aws, &mut daemon, &queues, settled, None).await?;
        let after = units(&scrape(daemon.port).await?);
        steps.push(Step { what, findings: count, units: minus(&after, &before) });
        log(format!("cost: {what}: {:.2} write units each", steps[steps.len() - 1].per_finding(true, None)));
        before = after;
    }
    stop(&mut daemon).await?;
    Ok(steps)
}
