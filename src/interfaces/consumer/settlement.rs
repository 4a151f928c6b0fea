//! Carrying out a settlement: deletes (batched for processed messages), copies to the dead-letter queue,
//! fresh copies of messages that keep failing, visibility changes.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, warn};

use super::Shared;
use super::error::SqsError;
use crate::adapters::aws_json::JsonClient;
use crate::adapters::clients::describe;
use crate::adapters::sqs::{ATTR_REJECT_DETAIL, ATTR_REJECT_REASON, ATTR_REQUEUES, messages};
use crate::domain::settle::Settlement;

/// SQS allows at most this many message attributes.
const MAX_ATTRIBUTES: usize = 10;
/// How long a processed message may wait for nine others to be deleted with it. Long enough that a steady
/// flow fills whole `DeleteMessageBatch`es (one call per ten messages), far below any visibility timeout;
/// shutdown flushes at once.
const DELETE_LINGER: Duration = Duration::from_millis(500);

/// A message to delete.
#[derive(Debug)]
pub(super) struct Receipt {
    /// Its id, for the log.
    pub(super) message_id: String,
    /// Its receipt handle.
    pub(super) handle: String,
}

/// Carries out what [`settle`](crate::domain::settle::settle) decided for a message; `reason` and `receives`
/// are for the log.
pub(super) async fn carry_out(
    shared: &Shared,
    message: &Message,
    receipt: Receipt,
    settlement: Settlement,
    reason: &str,
    receives: u32,
) {
    match settlement {
        Settlement::Delete => {
            if shared.deletes.send(receipt).await.is_err() {
                warn!("delete queue closed; the message will be redelivered and recognised as done");
            }
        }
        Settlement::DeadLetter { code, detail } => match dead_letter(shared, message, &code, &detail).await {
            Ok(()) => {
                if let Err(e) = delete_now(shared, &receipt.handle).await {
                    warn!(error = %describe(&e), "dead-lettered but not deleted; the copy will be dead-lettered again");
                }
            }
            Err(e) => {
                error!(error = %describe(&e), "could not dead-letter; the message stays on the queue")
            }
        },
        Settlement::Requeue { delay, requeues } => {
            warn!(%reason, receives, retry_in_secs = delay.as_secs(), "failed again for a passing reason: re-sending as a fresh message");
            if let Err(e) = requeue(shared, message, delay, requeues).await {
                error!(error = %describe(&e), "could not re-send; the message stays on the queue");
                let _ = set_visibility(shared, &receipt.handle, delay).await;
                return;
            }
            if let Err(e) = delete_now(shared, &receipt.handle).await {
                warn!(error = %describe(&e), "re-sent but not deleted; both copies will be processed, harmlessly");
            }
        }
        Settlement::Hide { hidden_for } => {
            warn!(%reason, receives, retry_in_secs = hidden_for.as_secs(), "failed for a passing reason: will retry");
            if let Err(e) = set_visibility(shared, &receipt.handle, hidden_for).await {
                warn!(error = %describe(&e), "could not delay the retry; it comes back after the visibility timeout");
            }
        }
    }
}

/// Hides the message for `hidden_for` (0: visible again at once).
pub(super) async fn set_visibility(shared: &Shared, receipt: &str, hidden_for: Duration) -> Result<(), SqsError> {
    shared
        .sqs
        .change_message_visibility()
        .queue_url(&shared.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(hidden_for.as_secs().min(43_200) as i32)
        .send()
        .await
        .map(drop)
        .map_err(|e| SqsError::Visibility(Box::new(e)))
}

/// Deletes one message at once.
async fn delete_now(shared: &Shared, receipt: &str) -> Result<(), SqsError> {
    shared
        .sqs
        .delete_message()
        .queue_url(&shared.queue_url)
        .receipt_handle(receipt)
        .send()
        .await
        .map(drop)
        .map_err(|e| SqsError::Delete(Box::new(e)))
}

/// A `String` message attribute.
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
async fn dead_letter(shared: &Shared, message: &Message, code: &str, detail: &str) -> Result<(), SqsError> {
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
        .map_err(|e| SqsError::DeadLetter(Box::new(e)))
}

/// Sends the message again as a new one (resetting its receive count) with `requeues` as its requeue
/// count, delayed by `delay`.
async fn requeue(shared: &Shared, message: &Message, delay: Duration, requeues: u64) -> Result<(), SqsError> {
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
        .map_err(|e| SqsError::Requeue(Box::new(e)))
}

/// Deletes processed messages in batches of up to ten, at most [`DELETE_LINGER`] after the first arrives;
/// ends when every sender is gone, after flushing.
pub(super) async fn delete_batches(sqs: JsonClient, queue_url: String, mut rx: mpsc::Receiver<Receipt>) {
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

/// Deletes one batch; what fails comes back and is recognised as done.
async fn delete_batch(sqs: &JsonClient, queue_url: &str, batch: Vec<Receipt>) {
    let handles: Vec<&str> = batch.iter().map(|r| r.handle.as_str()).collect();
    match messages::delete_batch(sqs, queue_url, &handles).await {
        Ok(failed) => {
            for failed in failed {
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
