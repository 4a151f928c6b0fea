//! Publishing pages on SNS to the OCE and ISO topics and to the routes' and clients' topics. What a page
//! says is `domain::page_text`.

use std::sync::Arc;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::adapters::clients::{AwsError, describe};
use crate::domain::ack_link;
use crate::domain::incident::{Incident, Page, Target};
use crate::domain::page_text::{Message, formats, render_with_link};
use crate::domain::routing::Routing;

/// Why a page was not published.
#[derive(Debug, thiserror::Error)]
pub enum PagerError {
    /// The page's target has no topic (any more).
    #[error("SNS Publish to (none) failed: {target} is not configured any more")]
    Unconfigured {
        /// The target.
        target: String,
    },
    /// SNS did not take it.
    #[error("SNS Publish to {topic} failed: {}", describe(.source.as_ref()))]
    Publish {
        /// The topic ARN.
        topic: String,
        /// The SDK error.
        source: AwsError,
    },
}

/// Publishes pages to the two topics, the routes' and the clients'.
#[derive(Debug, Clone)]
pub struct Pager {
    client: Client,
    /// Publish's own timeouts ([`crate::adapters::clients::publish_timeouts`]).
    timeouts: aws_config::timeout::TimeoutConfig,
    oce_topic_arn: String,
    iso_topic_arn: String,
    routing: Arc<Routing>,
    ack_links: Option<AckLinks>,
}

/// Where the portal is and the key of its acknowledgement links.
#[derive(Clone)]
pub struct AckLinks {
    /// The portal's address, without a trailing slash.
    pub base: String,
    /// The key.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for AckLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AckLinks {{ base: {}, key: (secret) }}", self.base)
    }
}

impl Pager {
    /// A pager for the OCE and ISO topics and the topics of `routing`'s routes and clients, whose pages are
    /// claimed for `claim` while sent.
    pub fn new(
        client: Client,
        oce_topic_arn: impl Into<String>,
        iso_topic_arn: impl Into<String>,
        routing: Arc<Routing>,
        claim: std::time::Duration,
    ) -> Pager {
        Pager {
            client,
            timeouts: crate::adapters::clients::publish_timeouts(claim),
            oce_topic_arn: oce_topic_arn.into(),
            iso_topic_arn: iso_topic_arn.into(),
            routing,
            ack_links: None,
        }
    }

    /// This pager, putting a link that acknowledges the incident in the portal into every page.
    pub fn with_ack_links(self, links: Option<AckLinks>) -> Pager {
        Pager { ack_links: links, ..self }
    }

    /// The topic of a target; `None` for a route or client no longer configured.
    pub fn topic(&self, target: &Target) -> Option<&str> {
        match target {
            Target::Oce => Some(&self.oce_topic_arn),
            Target::Iso => Some(&self.iso_topic_arn),
            other => self.routing.topic(other),
        }
    }

    /// Publishes one page and returns SNS's message id.
    pub async fn publish(&self, incident: &Incident, page: &Page) -> Result<String, PagerError> {
        let link = self.ack_links.as_ref().filter(|_| page.breach.is_none() && !page.target.is_client()).map(|l| {
            let token = ack_link::sign(&l.key, &incident.incident_id, page.level, chrono::Utc::now());
            format!("{}/ack/{token}", l.base)
        });
        self.publish_message(&page.target, render_with_link(incident, page, link.as_deref())).await
    }

    /// Publishes `message` to `target`'s topic, one text per kind of subscriber (`formats::envelope`), and
    /// returns SNS's message id.
    pub async fn publish_message(&self, target: &Target, message: Message) -> Result<String, PagerError> {
        let topic = self.topic(target).ok_or_else(|| PagerError::Unconfigured { target: target.to_string() })?;
        let mut request = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(&message.subject)
            .message_structure("json")
            .message(formats::envelope(&message));
        for (name, value) in message.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PagerError::Publish { topic: topic.to_owned(), source: e.into() })?;
            request = request.message_attributes(name, attr);
        }
        let request = request
            .customize()
            .config_override(aws_sdk_sns::config::Builder::default().timeout_config(self.timeouts.clone()));
        let out =
            request.send().await.map_err(|e| PagerError::Publish { topic: topic.to_owned(), source: e.into() })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
