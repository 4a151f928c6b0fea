//! One message to the end: processed (its visibility extended while that runs long), judged by
//! [`crate::domain::settle`], and the judgement carried out.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::settlement::{Receipt, carry_out, set_visibility};
use super::{RELEASE_TIMEOUT, Shared};
use crate::adapters::clients::describe;
use crate::adapters::sqs::ATTR_REQUEUES;
use crate::domain::settle::{Delivery, Processing, Settings, settle};
use crate::services::ingest::{Change, Outcome};
use crate::telemetry::metrics;

/// Handles one message to the end: processes it (extending its visibility while that runs long), then
/// settles it by the poison-message policy.
pub(super) async fn handle(shared: &Shared, message: Message, abort: &CancellationToken) {
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
                    warn!(error = %describe(&e), "could not extend the visibility of a long-running message");
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
            if !paged.is_empty() {
                // The response clock as the on-call engineer feels it: from the finding's arrival on the queue
                // (SQS's SentTimestamp) to its last page published, backlog and retries included (a message the
                // daemon requeued counts from its requeue). The pages' `sent_at` is on the rules' clock, which
                // a test may move: the time since, on that clock, comes off the wall-clock wait.
                let published = paged.iter().filter_map(|key| incident.pages.get(key)?.sent_at).max();
                let since_published = published.map_or(0, |at| (shared.ingest.now() - at).num_milliseconds().max(0));
                let waited_ms = arrival_ms(&message)
                    .map(|sent| (chrono::Utc::now().timestamp_millis() - sent - since_published).max(0));
                if let Some(ms) = waited_ms {
                    metrics::page_delay(ms);
                }
                info!(finding_id = %incident.finding_id, incident_id = %incident.incident_id, ?change, ?paged, arrival_to_page_ms = waited_ms, "paged");
            } else if *change != Change::Unchanged {
                debug!(finding_id = %incident.finding_id, incident_id = %incident.incident_id, ?change, "processed");
            }
            metrics::count(&metrics::get().settled, "processed");
            Processing::Processed
        }
        Outcome::Ignored(what) => {
            info!(%what, "nothing to record: acknowledged");
            metrics::count(&metrics::get().settled, "ignored");
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
    carry_out(shared, &message, Receipt { message_id, handle: receipt }, settlement, reason, delivery.receives).await;
}

/// When SQS took the message (epoch milliseconds), if it said.
fn arrival_ms(message: &Message) -> Option<i64> {
    message.attributes.as_ref()?.get(&MessageSystemAttributeName::SentTimestamp)?.parse().ok()
}
