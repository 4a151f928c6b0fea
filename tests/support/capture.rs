//! Capture queues: an SQS queue subscribed to a paging topic with raw delivery, so that a page's attributes
//! arrive as message attributes, as a subscriber of the topic receives them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use super::localstack::Aws;
use super::now_ms;

/// A message taken off a queue.
#[derive(Debug, Clone)]
pub struct Received {
    /// The text a person reads: the `text` of the program's structured message, else the body as it came.
    pub body: String,
    /// The body as it came (for the program's messages: the JSON SNS delivers to queues).
    pub raw: String,
    /// The body as JSON, when it is.
    pub json: Option<serde_json::Value>,
    pub attributes: HashMap<String, String>,
    /// SQS's `SentTimestamp`, in epoch ms: when the page reached the queue.
    pub sent_ms: f64,
}

impl Aws {
    /// A topic of the test's own (a route's or a client's), `<stack>-<name>`, with a capture queue subscribed
    /// to it: (topic ARN, queue URL).
    pub async fn own_topic(&self, stack: &super::stack::Stack, name: &str) -> (String, String) {
        let arn = self
            .sns
            .create_topic()
            .name(format!("{}-{name}", stack.name))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue = self.capture(&arn, &format!("{}-{name}-capture", stack.name)).await;
        (arn, queue)
    }

    /// A queue `name` subscribed to `topic` with raw delivery; returns its URL.
    pub async fn capture(&self, topic: &str, name: &str) -> String {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create capture queue")
            .queue_url
            .expect("queue url");
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("capture queue arn")
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .expect("arn");
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .expect("subscribe capture queue");
        url
    }

    /// Receives everything currently on `queue_url` (deleting it), waiting up to `wait` for at least
    /// `at_least` messages, then `quiet` more for stragglers (a duplicate would show up there).
    pub async fn drain(&self, queue_url: &str, at_least: usize, wait: Duration, quiet: Duration) -> Vec<Received> {
        let mut got = Vec::new();
        let deadline = Instant::now() + wait;
        let mut quiet_until: Option<Instant> = None;
        loop {
            if got.len() >= at_least && quiet_until.is_none() {
                quiet_until = Some(Instant::now() + quiet);
            }
            if let Some(q) = quiet_until {
                if Instant::now() >= q {
                    break;
                }
            } else if Instant::now() >= deadline {
                break;
            }
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            self.delete_batch(queue_url, &messages).await;
            for m in messages {
                let sent_ms = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(now_ms);
                let raw = m.body.unwrap_or_default();
                let json = serde_json::from_str::<serde_json::Value>(&raw).ok();
                let body = json
                    .as_ref()
                    .and_then(|j| j.get("text"))
                    .and_then(|t| t.as_str())
                    .map_or_else(|| raw.clone(), str::to_owned);
                got.push(Received {
                    body,
                    raw,
                    json,
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                        .collect(),
                    sent_ms,
                });
            }
        }
        got
    }
}
