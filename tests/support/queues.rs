//! Work queues: sending findings one at a time or as a load, and their depth.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, QueueAttributeName, SendMessageBatchRequestEntry};
use futures_util::future::join_all;

use super::localstack::Aws;
use super::now_ms;

/// Messages per SendMessageBatch (SQS's maximum).
const BATCH: usize = 10;

impl Aws {
    pub async fn send(&self, queue_url: &str, body: &str) {
        self.sqs.send_message().queue_url(queue_url).message_body(body).send().await.expect("send to the work queue");
    }

    /// Sends `bodies` in batches of ten from `senders` concurrent callers, retrying the entries a batch
    /// refused; returns each one's send time in epoch ms (the moment its batch call started).
    pub async fn load(&self, queue_url: &str, bodies: &[String], senders: usize) -> Vec<f64> {
        let chunks: Vec<(usize, &[String])> = bodies.chunks(BATCH).enumerate().map(|(i, c)| (i * BATCH, c)).collect();
        let next = AtomicUsize::new(0);
        let sent = Mutex::new(vec![0.0; bodies.len()]);
        let sender = || async {
            while let Some(&(first, chunk)) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                let mut pending: Vec<usize> = (0..chunk.len()).collect();
                for _attempt in 0..5 {
                    let entries: Vec<SendMessageBatchRequestEntry> = pending
                        .iter()
                        .filter_map(|&i| {
                            SendMessageBatchRequestEntry::builder()
                                .id(i.to_string())
                                .message_body(&chunk[i])
                                .build()
                                .ok()
                        })
                        .collect();
                    let at = now_ms();
                    let out = self
                        .sqs
                        .send_message_batch()
                        .queue_url(queue_url)
                        .set_entries(Some(entries))
                        .send()
                        .await
                        .expect("SendMessageBatch");
                    let failed: HashSet<usize> = out.failed.iter().filter_map(|f| f.id.parse().ok()).collect();
                    let mut times = sent.lock().unwrap();
                    for &i in pending.iter().filter(|i| !failed.contains(i)) {
                        times[first + i] = at;
                    }
                    drop(times);
                    pending.retain(|i| failed.contains(i));
                    if pending.is_empty() {
                        break;
                    }
                }
                assert!(pending.is_empty(), "{} messages could not be sent", pending.len());
            }
        };
        join_all((0..senders).map(|_| sender())).await;
        sent.into_inner().unwrap()
    }

    /// Deletes `messages`, received from `queue_url`, in one call; returns how many it could not delete.
    pub async fn delete_batch(&self, queue_url: &str, messages: &[Message]) -> usize {
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return 0;
        }
        let out = self.sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await;
        out.expect("DeleteMessageBatch").failed.len()
    }

    /// Visible plus in-flight (and delayed) messages on a queue.
    pub async fn queue_depth(&self, queue_url: &str) -> u64 {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        attrs.values().filter_map(|v| v.parse::<u64>().ok()).sum()
    }
}
