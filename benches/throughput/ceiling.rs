//! The ceiling: a bare loop doing only the calls a finding needs (receive 10, one conditional write each,
//! one batch delete). Its rate is what LocalStack allows on this host at the moment, so the daemon is judged
//! against it rather than against an absolute number.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::join_all;
use gd_incidents::adapters::dynamodb::{IncidentKey, RECORD_EVENT, RECORD_EVIDENCE, RECORD_INCIDENT, SK_INCIDENT};
use serde_json::{Value, json};

use crate::Result;
use crate::stats::{mean, pct};
use crate::support::{Aws, Item};

/// What the bare loop writes per message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Write {
    /// One conditional PutItem of the incident with the raw event in it: the necessary minimum.
    #[default]
    Put,
    /// The daemon's create: TransactWriteItems of the incident, a log event and the evidence (3 items).
    Transact,
}

/// One drain of the ceiling queue by the bare loop.
#[derive(Debug, Default)]
pub struct CeilingRun {
    /// What each message cost in writes.
    pub write: Write,
    /// Loops run in parallel.
    pub loops: usize,
    /// Messages taken off the queue.
    pub messages: usize,
    /// From the first receive to the last delete.
    pub secs: f64,
    /// Messages per second.
    pub rate: f64,
    /// Latency of each write, ms.
    pub put_ms: Vec<f64>,
    /// Latency of each non-empty receive, ms.
    pub receive_ms: Vec<f64>,
    /// Latency of each batch delete, ms.
    pub delete_ms: Vec<f64>,
    /// AWS calls made.
    pub calls: usize,
    /// Writes whose condition failed (the item existed).
    pub conditional_failures: usize,
    /// Entries a batch delete refused.
    pub delete_failures: usize,
}

impl CeilingRun {
    /// The run's details for the JSON.
    pub fn json(&self) -> Value {
        json!({
            "write": format!("{:?}", self.write), "loops": self.loops, "messages": self.messages, "secs": self.secs,
            "msg_per_s": self.rate, "calls": self.calls,
            "put_ms_mean": mean(&self.put_ms), "put_ms_p99": pct(&self.put_ms, 99.0),
            "receive_ms_mean": mean(&self.receive_ms), "delete_ms_mean": mean(&self.delete_ms),
            "conditional_failures": self.conditional_failures, "delete_failures": self.delete_failures,
        })
    }
}

/// The item a bare create writes: the incident's own attributes plus the raw event (the evidence), one item.
/// `peer.py` writes the same item: change both together.
pub fn ceiling_item(body: &str) -> Option<Item> {
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
pub async fn ceiling(
    aws: &Aws,
    queue: &str,
    table: &str,
    write: Write,
    loops: usize,
    target: usize,
) -> Result<CeilingRun> {
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
