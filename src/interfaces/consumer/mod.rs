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
//!
//! Here: the receive loops and shutdown. `lanes`: the work lane's yielding to the urgent one. `message`: one
//! message from processing to its settlement. `settlement`: the SQS calls that carry a settlement out.

mod error;
mod lanes;
mod message;
mod settlement;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::Message;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, error, info, info_span, warn};

use self::error::SqsError;
use self::lanes::{Lane, Priority, Settling};
use self::message::handle;
use self::settlement::{Receipt, delete_batches, set_visibility};
use crate::adapters::aws_json::JsonClient;
use crate::adapters::clients::describe;
use crate::adapters::sqs::{StartError, discover_dead_letter_queue, messages};
use crate::config::QueueConfig;
use crate::domain::settle::backoff;
use crate::services::ingest::Ingest;
use crate::telemetry::metrics;

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
    /// The receives and deletes, through the lean client.
    sqs_json: JsonClient,
    queue: QueueConfig,
    dead_letter_url: String,
    ingest: Ingest,
    grace: Duration,
}

/// What each message task needs, shared.
#[derive(Debug)]
pub(super) struct Shared {
    sqs: Client,
    queue_url: String,
    dead_letter_url: String,
    visibility: Duration,
    retry_delay: Duration,
    requeue_after: u32,
    ingest: Ingest,
    deletes: mpsc::Sender<Receipt>,
}

impl Consumer {
    /// Prepares a consumer: checks that the queue can be read and finds its dead-letter queue.
    pub async fn new(
        sqs: Client,
        sqs_json: JsonClient,
        queue: QueueConfig,
        ingest: Ingest,
        grace: Duration,
    ) -> Result<Consumer, StartError> {
        let dead_letter_url = match &queue.dead_letter_url {
            Some(url) => url.clone(),
            None => discover_dead_letter_queue(&sqs, &queue.url).await?,
        };
        Ok(Consumer { sqs, sqs_json, queue, dead_letter_url, ingest, grace })
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
            tracker.spawn(delete_batches(self.sqs_json.clone(), url.clone(), delete_rx));
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
                    error!(queue = %shared.queue_url, error = %describe(&detail), retry_in_secs = pause.as_secs(), "receive failed");
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
        let (client, url, visibility) =
            (self.sqs_json.clone(), queue_url.to_owned(), self.queue.visibility_timeout_secs);
        Box::pin(async move {
            let out = messages::receive(&client, &url, max, wait_secs, visibility)
                .await
                .map_err(|e| SqsError::Receive(Box::new(e)))?;
            metrics::get().last_receive.set(crate::telemetry::heartbeat::now_secs());
            Ok(out)
        })
    }
}

/// A receive in progress: the messages, or why not.
type Receive = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Message>, SqsError>> + Send>>;

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
