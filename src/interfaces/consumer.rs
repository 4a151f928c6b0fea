//! The SQS consumer: long-polls the work queue, handles messages concurrently up to a bound, and settles each
//! one as [`crate::domain::settle`] decides.
//!
//! # Queues
//! The work queue, and when `[queue] urgent_url` is set the urgent queue (copies of the HIGH and CRITICAL
//! findings), each drained by its own loop with its own bound on messages in flight. A loop receives only
//! when a whole batch fits under its bound, so receives come back full. The work loop takes no new messages
//! while urgent ones are in flight (for at most a second at a time), so a burst's pages go out before its
//! LOW findings are written. Processed messages are deleted ten at a time, within half a second.
//!
//! Work that runs long keeps its message hidden by extending the visibility timeout every half period.
//! On shutdown the consumer stops receiving, lets in-flight work finish for the grace period, then releases
//! what is left (visibility 0) so that another daemon takes it at once. A receive that shutdown cut off gets
//! two more seconds to come back, and what it took is released too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::adapters::clients::{describe, long_poll_timeouts};
use crate::adapters::sqs::{
    ATTR_REJECT_DETAIL, ATTR_REJECT_REASON, ATTR_REQUEUES, StartError, discover_dead_letter_queue,
};
use crate::config::{AwsConfig, QueueConfig};
use crate::domain::settle::{Delivery, Processing, Settings, Settlement, backoff, settle};
use crate::services::ingest::{Change, Ingest, Outcome};
use crate::telemetry::metrics;

/// SQS allows at most this many message attributes.
const MAX_ATTRIBUTES: usize = 10;
/// How long a processed message may wait for nine others to be deleted with it. Long enough that a steady
/// flow fills whole `DeleteMessageBatch`es (one call per ten messages), far below any visibility timeout;
/// shutdown flushes at once.
const DELETE_LINGER: Duration = Duration::from_millis(500);
/// Longest the work queue holds back its next receive while urgent messages are in flight: enough for an
/// urgent message's writes and pages, short enough that a flood of urgent findings never stops the rest.
const YIELD_MAX: Duration = Duration::from_secs(1);
/// How long a receive cut off by shutdown may still take to come back with what it took, which is then
/// released at once. Runs alongside the grace period; an idle daemon's exit waits for it.
const CUT_OFF_POLL: Duration = Duration::from_secs(2);
/// How long the final release of unfinished messages may take at shutdown.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(3);

/// The queue consumer.
#[derive(Debug)]
pub struct Consumer {
    sqs: Client,
    aws: AwsConfig,
    queue: QueueConfig,
    dead_letter_url: String,
    ingest: Ingest,
    grace: Duration,
}

/// What each message task needs, shared.
#[derive(Debug)]
struct Shared {
    sqs: Client,
    queue_url: String,
    dead_letter_url: String,
    visibility: Duration,
    retry_delay: Duration,
    requeue_after: u32,
    ingest: Ingest,
    deletes: mpsc::Sender<Receipt>,
}

/// A message to delete.
#[derive(Debug)]
struct Receipt {
    message_id: String,
    handle: String,
}

impl Consumer {
    /// Prepares a consumer: checks that the queue can be read and finds its dead-letter queue.
    pub async fn new(
        sqs: Client,
        aws: AwsConfig,
        queue: QueueConfig,
        ingest: Ingest,
        grace: Duration,
    ) -> Result<Consumer, StartError> {
        let dead_letter_url = match &queue.dead_letter_url {
            Some(url) => url.clone(),
            None => discover_dead_letter_queue(&sqs, &queue.url).await?,
        };
        Ok(Consumer { sqs, aws, queue, dead_letter_url, ingest, grace })
    }

    /// The dead-letter queue in use.
    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    /// Consumes until `shutdown` is cancelled, then finishes or releases in-flight work and returns.
    ///
    /// The work queue and, when configured, the urgent queue are drained by separate loops, each with its
    /// own bound on messages in flight, so that a backlog on the work queue never delays the urgent one.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        // Cancelled when the grace period is over: in-flight work then releases its message.
        let abort = CancellationToken::new();
        // Until the urgent lane's first receive returns, and while its messages are in flight, the work lane
        // takes no new messages: HIGH and CRITICAL findings are paged before the LOW ones of a burst are written.
        let priority = self.queue.urgent_url.as_ref().map(|_| Arc::new(Priority::new(1)));
        let mut lanes = vec![(self.queue.url.clone(), self.queue.max_in_flight, Lane::Work(priority.clone()))];
        if let (Some(url), Some(priority)) = (&self.queue.urgent_url, &priority) {
            lanes.push((url.clone(), self.queue.urgent_max_in_flight, Lane::Urgent(priority.clone())));
        }
        let mut loops = Vec::with_capacity(lanes.len());
        for (url, max_in_flight, lane) in lanes {
            let (deletes, delete_rx) = mpsc::channel(1024);
            tracker.spawn(delete_batches(self.sqs.clone(), url.clone(), delete_rx));
            let shared = Arc::new(Shared {
                sqs: self.sqs.clone(),
                queue_url: url,
                dead_letter_url: self.dead_letter_url.clone(),
                visibility: Duration::from_secs(self.queue.visibility_timeout_secs.into()),
                retry_delay: Duration::from_secs(self.queue.retry_delay_secs.into()),
                requeue_after: self.queue.requeue_after_receives,
                ingest: self.ingest.clone(),
                deletes,
            });
            info!(queue = %shared.queue_url, dead_letter_queue = %self.dead_letter_url, max_in_flight, "consuming");
            loops.push(self.consume(shared, max_in_flight, lane, &tracker, &abort, &shutdown));
        }
        futures_util::future::join_all(loops).await;

        info!("shutting down: no new messages; finishing in-flight work");
        // Only the message tasks and the deleters hold a sender now; each deleter ends when they are done.
        tracker.close();
        if timeout(self.grace, tracker.wait()).await.is_err() {
            warn!(grace_secs = self.grace.as_secs(), "grace period over: releasing unfinished messages");
            abort.cancel();
            if timeout(RELEASE_TIMEOUT * 2, tracker.wait()).await.is_err() {
                warn!("some tasks did not stop in time; their messages come back after the visibility timeout");
            }
        }
        info!("consumer stopped");
    }

    /// Receives from one queue and hands each message to a task, at most `max_in_flight` at once, until
    /// `shutdown`.
    async fn consume(
        &self,
        shared: Arc<Shared>,
        max_in_flight: usize,
        lane: Lane,
        tracker: &TaskTracker,
        abort: &CancellationToken,
        shutdown: &CancellationToken,
    ) {
        let batch = (self.queue.batch_size as usize).clamp(1, max_in_flight.max(1));
        let in_flight = Arc::new(Semaphore::new(max_in_flight.max(1)));
        let mut failures = 0u32;
        // The urgent lane's first receive does not long-poll: the work lane waits for it.
        let mut first = matches!(lane, Lane::Urgent(_));
        loop {
            // Wait for room for a whole batch, so that every receive can come back full: fewer calls per
            // message, and no receive for one message as soon as one slot frees.
            let mut permits = tokio::select! {
                _ = shutdown.cancelled() => break,
                permits = in_flight.clone().acquire_many_owned(batch as u32) => match permits {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            if let Lane::Work(Some(priority)) = &lane {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = priority.wait_idle(YIELD_MAX) => {}
                }
            }
            let wait = if first { 0 } else { self.queue.wait_time_secs };
            let mut receive = self.receive(&shared.queue_url, batch, wait);
            let received = tokio::select! {
                _ = shutdown.cancelled() => None,
                r = &mut receive => Some(r),
            };
            let Some(received) = received else {
                // Alongside the grace period: the poll may already have taken messages.
                tracker.spawn(release_cut_off(shared.clone(), receive));
                break;
            };
            let urgent = match &lane {
                Lane::Urgent(priority) => {
                    if let Ok(messages) = &received {
                        priority.enter(messages.len());
                    }
                    if std::mem::take(&mut first) {
                        priority.leave(1);
                    }
                    Some(priority.clone())
                }
                Lane::Work(_) => None,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    metrics::get().received.inc_by(messages.len() as u64);
                    for message in messages {
                        // Each message holds one permit until it is settled; the unused rest are freed below.
                        let permit = permits.split(1);
                        let shared = shared.clone();
                        let abort = abort.clone();
                        // Counted out when the task ends, however it ends.
                        let urgent = urgent.clone().map(Settling);
                        let span = info_span!(
                            "message",
                            message_id = message.message_id.as_deref().unwrap_or(""),
                            finding_id = tracing::field::Empty,
                            incident_id = tracing::field::Empty,
                        );
                        tracker.spawn(
                            async move {
                                let in_flight = &metrics::get().in_flight;
                                in_flight.inc();
                                handle(&shared, message, &abort).await;
                                in_flight.dec();
                                drop(permit);
                                drop(urgent);
                            }
                            .instrument(span),
                        );
                    }
                    drop(permits);
                }
                Err(detail) => {
                    drop(permits);
                    failures = failures.saturating_add(1);
                    let pause = backoff(Duration::from_secs(1), failures, Duration::from_secs(60));
                    error!(queue = %shared.queue_url, error = %detail, retry_in_secs = pause.as_secs(), "receive failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// A receive of up to `max` messages, long-polling `wait_secs`; owned, so that it can outlive the loop.
    fn receive(&self, queue_url: &str, max: usize, wait_secs: u32) -> Receive {
        let wait = Duration::from_secs(wait_secs.into());
        let request = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait_secs as i32)
            .visibility_timeout(self.queue.visibility_timeout_secs as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::default().timeout_config(long_poll_timeouts(&self.aws, wait)),
            );
        Box::pin(
            async move { request.send().await.map(|out| out.messages.unwrap_or_default()).map_err(|e| describe(&e)) },
        )
    }
}

/// A receive in progress: the messages, or why not.
type Receive = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Message>, String>> + Send>>;

/// Lets a receive cut off by shutdown come back for a moment and makes what it took visible again at once,
/// rather than hidden for the visibility timeout (SQS may hand messages to a poll whose caller is gone).
async fn release_cut_off(shared: Arc<Shared>, receive: Receive) {
    let Ok(Ok(messages)) = timeout(CUT_OFF_POLL, receive).await else { return };
    if messages.is_empty() {
        return;
    }
    let releases = messages
        .iter()
        .filter_map(|m| m.receipt_handle.as_deref())
        .map(|handle| timeout(RELEASE_TIMEOUT, set_visibility(&shared, handle, Duration::ZERO)));
    let released =
        futures_util::future::join_all(releases).await.into_iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    info!(queue = %shared.queue_url, received = messages.len(), released, "released messages received while shutting down");
}

/// Which queue a receive loop drains.
#[derive(Debug)]
enum Lane {
    /// The work queue: every finding. Yields to the urgent lane when there is one.
    Work(Option<Arc<Priority>>),
    /// The urgent queue: copies of the HIGH and CRITICAL findings.
    Urgent(Arc<Priority>),
}

/// What the urgent lane has in flight, for the work lane to yield to.
#[derive(Debug)]
struct Priority {
    /// Urgent messages in flight (plus one until the urgent lane's first receive has returned).
    busy: AtomicUsize,
    /// Told when `busy` drops to zero.
    idle: Notify,
}

impl Priority {
    fn new(busy: usize) -> Priority {
        Priority { busy: AtomicUsize::new(busy), idle: Notify::new() }
    }

    fn enter(&self, n: usize) {
        self.busy.fetch_add(n, Ordering::SeqCst);
    }

    fn leave(&self, n: usize) {
        let before = self.busy.fetch_sub(n, Ordering::SeqCst);
        if before <= n {
            self.idle.notify_waiters();
        }
    }

    fn is_idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    /// Returns when nothing urgent is in flight, or after `limit` at the latest.
    async fn wait_idle(&self, limit: Duration) {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                // Registered before the check, so a `leave` in between is not missed.
                notified.as_mut().enable();
                if self.is_idle() {
                    return;
                }
                notified.await;
            }
        };
        let _ = timeout(limit, wait).await;
    }
}

/// One urgent message in flight: leaves the [`Priority`] count when dropped.
struct Settling(Arc<Priority>);

impl Drop for Settling {
    fn drop(&mut self) {
        self.0.leave(1);
    }
}

/// Handles one message to the end: processes it (extending its visibility while that runs long), then
/// settles it by the poison-message policy.
async fn handle(shared: &Shared, message: Message, abort: &CancellationToken) {
    let (Some(message_id), Some(receipt)) = (message.message_id.clone(), message.receipt_handle.clone()) else {
        warn!("received a message without id or receipt handle; ignoring it");
        return;
    };
    let body = message.body.as_deref().unwrap_or_default();

    let work = shared.ingest.handle(body);
    tokio::pin!(work);
    let half = shared.visibility / 2;
    let mut heartbeat = interval_at(Instant::now() + half, half.max(Duration::from_secs(1)));
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = heartbeat.tick() => {
                if let Err(e) = set_visibility(shared, &receipt, shared.visibility).await {
                    warn!(error = %e, "could not extend the visibility of a long-running message");
                }
            }
            _ = abort.cancelled() => {
                // Shutting down: hand the message to another daemon now rather than after the timeout.
                let _ = timeout(RELEASE_TIMEOUT, set_visibility(shared, &receipt, Duration::ZERO)).await;
                info!("released unfinished message");
                return;
            }
        }
    };

    let detail: String;
    let processing = match &outcome {
        Outcome::Done { incident, change, paged } => {
            if *change != Change::Unchanged || !paged.is_empty() {
                debug!(finding_id = %incident.finding_id, incident_id = %incident.incident_id, ?change, ?paged, "processed");
            }
            metrics::count(&metrics::get().settled, "processed");
            Processing::Processed
        }
        Outcome::Rejected(reject) => {
            warn!(reason = reject.code(), detail = %reject, "not a GuardDuty finding: dead-lettering");
            metrics::count(&metrics::get().settled, "dead_lettered");
            metrics::count(&metrics::get().dead_lettered, reject.code());
            detail = reject.to_string();
            Processing::Rejected { code: reject.code(), detail: &detail }
        }
        Outcome::Retry { after, .. } => {
            metrics::count(&metrics::get().settled, "retried");
            Processing::Failed { after: *after }
        }
    };
    let delivery = Delivery::from_attributes(
        message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str),
        message.message_attributes.as_ref().and_then(|a| a.get(ATTR_REQUEUES)).and_then(|v| v.string_value.as_deref()),
    );
    let settings = Settings { retry_delay: shared.retry_delay, requeue_after_receives: shared.requeue_after };
    let settlement = settle(&processing, delivery, settings);
    let reason = match &outcome {
        Outcome::Retry { reason, .. } => reason.as_str(),
        _ => "",
    };
    let receives = delivery.receives;
    match settlement {
        Settlement::Delete => {
            let receipt = Receipt { message_id, handle: receipt };
            if shared.deletes.send(receipt).await.is_err() {
                warn!("delete queue closed; the message will be redelivered and recognised as done");
            }
        }
        Settlement::DeadLetter { code, detail } => match dead_letter(shared, &message, &code, &detail).await {
            Ok(()) => {
                if let Err(e) = delete_now(shared, &receipt).await {
                    warn!(error = %e, "dead-lettered but not deleted; the copy will be dead-lettered again");
                }
            }
            Err(e) => {
                error!(error = %e, "could not dead-letter; the message stays on the queue")
            }
        },
        Settlement::Requeue { delay, requeues } => {
            warn!(%reason, receives, retry_in_secs = delay.as_secs(), "failed again for a passing reason: re-sending as a fresh message");
            if let Err(e) = requeue(shared, &message, delay, requeues).await {
                error!(error = %e, "could not re-send; the message stays on the queue");
                let _ = set_visibility(shared, &receipt, delay).await;
                return;
            }
            if let Err(e) = delete_now(shared, &receipt).await {
                warn!(error = %e, "re-sent but not deleted; both copies will be processed, harmlessly");
            }
        }
        Settlement::Hide { hidden_for } => {
            warn!(%reason, receives, retry_in_secs = hidden_for.as_secs(), "failed for a passing reason: will retry");
            if let Err(e) = set_visibility(shared, &receipt, hidden_for).await {
                warn!(error = %e, "could not delay the retry; it comes back after the visibility timeout");
            }
        }
    }
}

async fn set_visibility(shared: &Shared, receipt: &str, hidden_for: Duration) -> Result<(), String> {
    shared
        .sqs
        .change_message_visibility()
        .queue_url(&shared.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(hidden_for.as_secs().min(43_200) as i32)
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

async fn delete_now(shared: &Shared, receipt: &str) -> Result<(), String> {
    shared
        .sqs
        .delete_message()
        .queue_url(&shared.queue_url)
        .receipt_handle(receipt)
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

fn string_attr(value: impl Into<String>) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().ok()
}

/// The message's own attributes, with `ours` first, within SQS's limit of ten.
fn merged_attributes(
    message: &Message,
    ours: Vec<(&str, MessageAttributeValue)>,
) -> HashMap<String, MessageAttributeValue> {
    let mut attrs: HashMap<String, MessageAttributeValue> = ours.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if let Some(original) = &message.message_attributes {
        for (name, value) in original {
            if attrs.len() >= MAX_ATTRIBUTES {
                break;
            }
            attrs.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    attrs
}

/// Copies the message to the dead-letter queue with the reason it was rejected.
async fn dead_letter(shared: &Shared, message: &Message, code: &str, detail: &str) -> Result<(), String> {
    let ours: Vec<(&str, MessageAttributeValue)> = [
        (ATTR_REJECT_REASON, string_attr(code)),
        (ATTR_REJECT_DETAIL, string_attr(detail)),
        ("source_queue", string_attr(shared.queue_url.clone())),
        ("original_message_id", message.message_id.clone().and_then(string_attr)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let body = match message.body.as_deref() {
        Some(b) if !b.is_empty() => b,
        // SQS refuses an empty body; the reason attribute says it was empty.
        _ => "(empty)",
    };
    shared
        .sqs
        .send_message()
        .queue_url(&shared.dead_letter_url)
        .message_body(body)
        .set_message_attributes(Some(merged_attributes(message, ours)))
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

/// Sends the message again as a new one (resetting its receive count) with `requeues` as its requeue
/// count, delayed by `delay`.
async fn requeue(shared: &Shared, message: &Message, delay: Duration, requeues: u64) -> Result<(), String> {
    let ours: Vec<(&str, MessageAttributeValue)> =
        string_attr(requeues.to_string()).map(|v| vec![(ATTR_REQUEUES, v)]).unwrap_or_default();
    shared
        .sqs
        .send_message()
        .queue_url(&shared.queue_url)
        .message_body(message.body.clone().unwrap_or_default())
        .delay_seconds(delay.as_secs().min(900) as i32)
        .set_message_attributes(Some(merged_attributes(message, ours)))
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

/// Deletes processed messages in batches of up to ten, at most [`DELETE_LINGER`] after the first arrives;
/// ends when every sender is gone, after flushing.
async fn delete_batches(sqs: Client, queue_url: String, mut rx: mpsc::Receiver<Receipt>) {
    let mut batch: Vec<Receipt> = Vec::with_capacity(10);
    loop {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let deadline = Instant::now() + DELETE_LINGER;
        while batch.len() < 10 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        delete_batch(&sqs, &queue_url, std::mem::take(&mut batch)).await;
    }
}

async fn delete_batch(sqs: &Client, queue_url: &str, batch: Vec<Receipt>) {
    let entries: Vec<DeleteMessageBatchRequestEntry> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(&r.handle).build().ok()
        })
        .collect();
    match sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
        Ok(out) => {
            for failed in out.failed {
                let id = failed.id.parse::<usize>().ok().and_then(|i| batch.get(i));
                warn!(
                    message_id = id.map(|r| r.message_id.as_str()).unwrap_or(""),
                    code = %failed.code, "delete failed; the message will be redelivered and recognised as done"
                );
            }
        }
        Err(e) => {
            warn!(error = %describe(&e), count = batch.len(), "batch delete failed; the messages will be redelivered and recognised as done")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_lane_waits_for_urgent_work_but_not_forever() {
        // Busy until the urgent lane's first receive: the wait still ends, at its limit.
        let priority = Arc::new(Priority::new(1));
        assert!(!priority.is_idle());
        priority.wait_idle(Duration::from_millis(20)).await;
        priority.enter(2);
        let waiter = tokio::spawn({
            let priority = priority.clone();
            async move { priority.wait_idle(Duration::from_secs(3600)).await }
        });
        priority.leave(1);
        priority.leave(1);
        assert!(!priority.is_idle());
        assert!(!waiter.is_finished());
        // The last urgent message settled: the waiter is woken, not left to its hour-long limit.
        priority.leave(1);
        assert!(priority.is_idle());
        timeout(Duration::from_secs(30), waiter).await.expect("woken when idle").unwrap();
        // Idle: no wait at all.
        timeout(Duration::from_secs(30), priority.wait_idle(Duration::from_secs(3600))).await.expect("idle");
    }

    #[test]
    fn dead_letter_attributes_keep_ours_within_the_limit() {
        let mut original = HashMap::new();
        for i in 0..12 {
            original.insert(format!("a{i}"), string_attr("x").unwrap());
        }
        original.insert(ATTR_REJECT_REASON.into(), string_attr("forged").unwrap());
        let message = Message::builder().set_message_attributes(Some(original)).build();
        let merged = merged_attributes(&message, vec![(ATTR_REJECT_REASON, string_attr("not_json").unwrap())]);
        assert_eq!(merged.len(), MAX_ATTRIBUTES);
        assert_eq!(merged[ATTR_REJECT_REASON].string_value.as_deref(), Some("not_json"));
    }
}
