//! The dead-letter queue, for operators: look at what was dead-lettered and why, and send messages back
//! to the work queue once the cause is fixed.

use std::collections::{HashMap, HashSet};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde::Serialize;

use crate::adapters::clients::{AwsError, describe};
use crate::adapters::sqs::{ATTR_REJECT_DETAIL, ATTR_REJECT_REASON};

/// How long a listed message stays hidden while the listing runs.
const PEEK_SECS: i32 = 30;

/// A dead-lettered message.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// SQS's id of the message in the dead-letter queue.
    pub message_id: String,
    /// `reject_reason`, when the daemon dead-lettered it (absent when SQS's redrive policy did).
    pub reason: Option<String>,
    /// `reject_detail`.
    pub detail: Option<String>,
    /// How many times it was received from the dead-letter queue.
    pub receives: u32,
    /// The body as received.
    pub body: String,
    #[serde(skip)]
    receipt: String,
    #[serde(skip)]
    attributes: HashMap<String, aws_sdk_sqs::types::MessageAttributeValue>,
}

/// Why a dead-letter operation failed.
#[derive(Debug, thiserror::Error)]
#[error("SQS {op} on {queue} failed: {}", describe(.source.as_ref()))]
pub struct DlqError {
    op: &'static str,
    queue: String,
    source: AwsError,
}

/// The dead-letter queue and the work queue it drains back into.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    sqs: Client,
    dlq_url: String,
    queue_url: String,
}

impl DeadLetters {
    /// Dead letters of `dlq_url`, redriven to `queue_url`.
    pub fn new(sqs: Client, dlq_url: String, queue_url: String) -> DeadLetters {
        DeadLetters { sqs, dlq_url, queue_url }
    }

    /// The dead-letter queue's URL.
    pub fn url(&self) -> &str {
        &self.dlq_url
    }

    async fn receive(&self, hide_secs: i32) -> Result<Vec<Message>, DlqError> {
        self.sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(hide_secs)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map(|o| o.messages.unwrap_or_default())
            .map_err(|e| DlqError { op: "ReceiveMessage", queue: self.dlq_url.clone(), source: e.into() })
    }

    async fn release(&self, letters: &[DeadLetter]) {
        for l in letters {
            // Best effort: an unreleased message reappears by itself after PEEK_SECS.
            let _ = self
                .sqs
                .change_message_visibility()
                .queue_url(&self.dlq_url)
                .receipt_handle(&l.receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Up to `limit` dead letters, without removing them (they are hidden while the listing runs).
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DlqError> {
        let mut seen = HashSet::new();
        let mut letters = Vec::new();
        while letters.len() < limit {
            let batch = self.receive(PEEK_SECS).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                let letter = to_letter(m);
                if seen.insert(letter.message_id.clone()) {
                    letters.push(letter);
                }
            }
        }
        self.release(&letters).await;
        letters.truncate(limit);
        Ok(letters)
    }

    /// Sends dead letters back to the work queue (without the reject attributes) and deletes them from the
    /// dead-letter queue: the given message ids, or every one when `ids` is empty, at most `limit`.
    /// Returns the ids sent back.
    pub async fn redrive(&self, ids: &[String], limit: usize) -> Result<Vec<String>, DlqError> {
        let mut moved = Vec::new();
        let mut skipped = Vec::new();
        let mut seen = HashSet::new();
        while moved.len() < limit {
            let batch = self.receive(60).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                let letter = to_letter(m);
                if !seen.insert(letter.message_id.clone()) {
                    continue;
                }
                if moved.len() >= limit || !(ids.is_empty() || ids.contains(&letter.message_id)) {
                    skipped.push(letter);
                    continue;
                }
                let mut attributes = letter.attributes.clone();
                for ours in [ATTR_REJECT_REASON, ATTR_REJECT_DETAIL, "source_queue", "original_message_id"] {
                    attributes.remove(ours);
                }
                // Send first, delete after: a crash in between leaves a duplicate, never a loss.
                self.sqs
                    .send_message()
                    .queue_url(&self.queue_url)
                    .message_body(&letter.body)
                    .set_message_attributes((!attributes.is_empty()).then_some(attributes))
                    .send()
                    .await
                    .map_err(|e| DlqError { op: "SendMessage", queue: self.queue_url.clone(), source: e.into() })?;
                self.sqs
                    .delete_message()
                    .queue_url(&self.dlq_url)
                    .receipt_handle(&letter.receipt)
                    .send()
                    .await
                    .map_err(|e| DlqError { op: "DeleteMessage", queue: self.dlq_url.clone(), source: e.into() })?;
                moved.push(letter.message_id);
            }
            if !ids.is_empty() && ids.iter().all(|id| moved.contains(id)) {
                break;
            }
        }
        self.release(&skipped).await;
        Ok(moved)
    }
}

fn to_letter(m: Message) -> DeadLetter {
    let attributes = m.message_attributes.clone().unwrap_or_default();
    let text = |name: &str| attributes.get(name).and_then(|v| v.string_value.clone());
    DeadLetter {
        message_id: m.message_id.clone().unwrap_or_default(),
        reason: text(ATTR_REJECT_REASON),
        detail: text(ATTR_REJECT_DETAIL),
        receives: m
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        body: m.body.clone().unwrap_or_default(),
        receipt: m.receipt_handle.clone().unwrap_or_default(),
        attributes,
    }
}
