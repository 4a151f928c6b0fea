//! SQS: the work queue's dead-letter queue, found from its redrive policy, and read by operators; the
//! consumer's receive and delete (`messages`).

pub mod dead_letters;
pub mod messages;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::adapters::clients::{AwsError, describe};

/// The message attribute that says why a message was dead-lettered.
pub const ATTR_REJECT_REASON: &str = "reject_reason";
/// The message attribute with the full explanation.
pub const ATTR_REJECT_DETAIL: &str = "reject_detail";
/// The message attribute counting how often a message was re-sent after passing failures.
pub const ATTR_REQUEUES: &str = "gd_requeues";
/// Why the consumer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The work queue cannot be read.
    #[error("cannot read the attributes of queue {url}: {}", describe(.source.as_ref()))]
    Queue {
        /// The queue URL.
        url: String,
        /// The SDK error.
        source: AwsError,
    },
    /// No dead-letter queue is configured or discoverable.
    #[error("queue {url} has no usable redrive policy ({detail}); give it one, or set [queue] dead_letter_url")]
    NoDeadLetterQueue {
        /// The queue URL.
        url: String,
        /// What is missing.
        detail: String,
    },
    /// The redrive policy names a dead-letter queue whose URL cannot be found.
    #[error(
        "queue {url} has no usable redrive policy (cannot resolve {arn}: {}); give it one, or set [queue] dead_letter_url",
        describe(.source.as_ref())
    )]
    Unresolvable {
        /// The queue URL.
        url: String,
        /// The dead-letter queue's ARN.
        arn: String,
        /// The SDK error.
        source: AwsError,
    },
}

/// Reads the work queue's redrive policy and returns its dead-letter queue's URL.
pub async fn discover_dead_letter_queue(sqs: &Client, url: &str) -> Result<String, StartError> {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| StartError::Queue { url: url.to_owned(), source: e.into() })?;
    let no_dlq = |detail: &str| StartError::NoDeadLetterQueue { url: url.to_owned(), detail: detail.to_owned() };
    let policy = attrs
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::RedrivePolicy))
        .ok_or_else(|| no_dlq("no RedrivePolicy attribute"))?;
    let policy: serde_json::Value =
        serde_json::from_str(&policy).map_err(|e| no_dlq(&format!("RedrivePolicy is not JSON: {e}")))?;
    let arn =
        policy.get("deadLetterTargetArn").and_then(|v| v.as_str()).ok_or_else(|| no_dlq("no deadLetterTargetArn"))?;
    // arn:<partition>:sqs:<region>:<account>:<name>
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, _, _, account, name] = parts[..] else {
        return Err(no_dlq(&format!("deadLetterTargetArn `{arn}` is not a queue ARN")));
    };
    let out = sqs
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(|e| StartError::Unresolvable { url: url.to_owned(), arn: arn.to_owned(), source: e.into() })?;
    out.queue_url.ok_or_else(|| no_dlq(&format!("no URL for {arn}")))
}
