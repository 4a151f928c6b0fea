//! `gd-incidents pages`: what the on-call engineer and the security officer receive, on screen. A temporary
//! queue is subscribed to both topics; pages are printed as they arrive; the queue and the subscriptions are
//! removed on exit.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::adapters::clients::{AwsError, Clients, describe};

/// A page as a subscriber received it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// `OCE` or `ISO`.
    pub topic: String,
    /// The page's `severity` attribute.
    pub severity: String,
    /// The page's `incident_id` attribute.
    pub incident_id: String,
    /// The re-page number (0 for the first page).
    pub escalation: String,
    /// The incident's title, from the body.
    pub title: String,
    /// The whole text.
    pub body: String,
}

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {}", describe(.source.as_ref()))]
pub struct WatchError {
    /// What failed, e.g. `cannot subscribe to <topic>`.
    pub doing: String,
    /// The SDK error.
    pub source: AwsError,
}

impl WatchError {
    fn new(doing: impl Into<String>) -> impl FnOnce(AwsError) -> WatchError {
        let doing = doing.into();
        move |source| WatchError { doing, source }
    }
}

/// A temporary subscription of one queue to both topics.
pub struct Watch {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    queue_url: String,
    subscriptions: Vec<String>,
}

impl Watch {
    /// Creates the queue and subscribes it to `topics` (name, ARN), with raw delivery so that a page's
    /// attributes arrive as message attributes.
    pub async fn start(clients: &Clients, topics: &[(&str, &str)]) -> Result<Watch, WatchError> {
        let name = format!("gd-incidents-pages-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let queue_url = clients
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::MessageRetentionPeriod, "3600")
            .send()
            .await
            .map_err(|e| WatchError::new("cannot create a queue to watch pages")(e.into()))?
            .queue_url
            .unwrap_or_default();
        let mut watch =
            Watch { sqs: clients.sqs.clone(), sns: clients.sns.clone(), queue_url, subscriptions: Vec::new() };
        if let Err(e) = watch.subscribe(topics).await {
            watch.stop().await;
            return Err(e);
        }
        Ok(watch)
    }

    async fn subscribe(&mut self, topics: &[(&str, &str)]) -> Result<(), WatchError> {
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| WatchError::new("cannot read the watch queue's ARN")(e.into()))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap_or_default();
        // On AWS, SNS may deliver to the queue only if the queue's policy lets these topics send.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topics.iter().map(|(_, t)| *t).collect::<Vec<_>>()}}
            }]
        });
        self.sqs
            .set_queue_attributes()
            .queue_url(&self.queue_url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .map_err(|e| WatchError::new("cannot set the watch queue's policy")(e.into()))?;
        for (_, topic) in topics {
            let sub = self
                .sns
                .subscribe()
                .topic_arn(*topic)
                .protocol("sqs")
                .endpoint(&arn)
                .attributes("RawMessageDelivery", "true")
                .return_subscription_arn(true)
                .send()
                .await
                .map_err(|e| WatchError::new(format!("cannot subscribe to {topic}"))(e.into()))?;
            if let Some(s) = sub.subscription_arn {
                self.subscriptions.push(s);
            }
        }
        Ok(())
    }

    /// The pages that arrive within one long poll (at most `wait`).
    pub async fn next(&self, wait: Duration) -> Result<Vec<Received>, WatchError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| WatchError::new("cannot receive pages")(e.into()))?;
        let mut pages = Vec::new();
        for m in out.messages.unwrap_or_default() {
            if let Some(receipt) = &m.receipt_handle {
                let _ = self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(receipt).send().await;
            }
            let attr = |name: &str| {
                m.message_attributes
                    .as_ref()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value.clone())
                    .unwrap_or_default()
            };
            // Queues receive the structured message (`page_text::formats::machine`); its text is the page.
            let raw = m.body.clone().unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&raw).ok();
            let field = |name: &str| message.as_ref().and_then(|j| j.get(name)).and_then(|v| v.as_str());
            let body = field("text").map_or_else(|| raw.clone(), str::to_owned);
            let title = field("title")
                .map(str::to_owned)
                .or_else(|| body.lines().find_map(|l| l.strip_prefix("Title:")).map(|t| t.trim().to_owned()))
                .unwrap_or_default();
            let topic = if body.contains("Sent to the information security officer") { "ISO" } else { "OCE" };
            pages.push(Received {
                topic: topic.to_owned(),
                severity: attr("severity"),
                incident_id: attr("incident_id"),
                escalation: attr("escalation"),
                title,
                body,
            });
        }
        Ok(pages)
    }

    /// Prints pages until `stop` is cancelled (or, with `until`, until that much time has passed).
    pub async fn print(
        &self,
        stop: &CancellationToken,
        until: Option<Duration>,
        json: bool,
    ) -> Result<usize, WatchError> {
        let deadline = until.map(|d| tokio::time::Instant::now() + d);
        let mut seen = 0;
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Ok(seen);
            }
            let pages = tokio::select! {
                _ = stop.cancelled() => return Ok(seen),
                p = self.next(Duration::from_secs(2)) => p?,
            };
            for p in pages {
                seen += 1;
                if json {
                    println!("{}", serde_json::json!(p));
                } else {
                    let repage = if p.escalation.is_empty() || p.escalation == "0" {
                        String::new()
                    } else {
                        format!(" RE-PAGE {}", p.escalation)
                    };
                    println!("[{}] {:<8} {}{}  {}", p.topic, p.severity, p.incident_id, repage, p.title);
                }
            }
        }
    }

    /// Unsubscribes and deletes the queue.
    pub async fn stop(self) {
        for s in &self.subscriptions {
            let _ = self.sns.unsubscribe().subscription_arn(s).send().await;
        }
        let _ = self.sqs.delete_queue().queue_url(&self.queue_url).send().await;
    }

    /// The temporary queue.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}
