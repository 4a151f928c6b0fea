//! The consumer's calls for every message, through the lean client (`adapters::aws_json`): a long-poll
//! receive, and the batched delete of what was handled. The messages come back as the SDK's `Message`, so
//! everything downstream reads them as before.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::adapters::aws_json::{CallError, JsonClient};

/// A receive of up to `max` (1 to 10) messages of `queue_url`, long-polling `wait_secs`, hidden for
/// `visibility_secs`, with their receive count, sent time and message attributes.
pub async fn receive(
    client: &JsonClient,
    queue_url: &str,
    max: usize,
    wait_secs: u32,
    visibility_secs: u32,
) -> Result<Vec<Message>, CallError> {
    let request = ReceiveRequest {
        queue_url,
        max_number_of_messages: max.clamp(1, 10),
        wait_time_seconds: wait_secs,
        visibility_timeout: visibility_secs,
        message_system_attribute_names: ["ApproximateReceiveCount", "SentTimestamp"],
        message_attribute_names: ["All"],
    };
    let body = serde_json::to_vec(&request).map_err(CallError::Request)?;
    let answer = client.call_waiting("ReceiveMessage", body, Duration::from_secs(wait_secs.into())).await?;
    let answer: ReceiveAnswer = serde_json::from_slice(&answer).map_err(CallError::Answer)?;
    Ok(answer.messages.unwrap_or_default().into_iter().map(Message::from).collect())
}

/// One message that a batch delete did not delete: its entry id and why.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotDeleted {
    /// The entry's id in the batch.
    pub id: String,
    /// SQS's error code.
    #[serde(default)]
    pub code: String,
}

/// Deletes up to 10 messages of `queue_url` by their receipt handles, the entries numbered from 0; the
/// entries SQS did not delete.
pub async fn delete_batch(
    client: &JsonClient,
    queue_url: &str,
    handles: &[&str],
) -> Result<Vec<NotDeleted>, CallError> {
    let ids: Vec<String> = (0..handles.len()).map(|i| i.to_string()).collect();
    let entries = ids.iter().zip(handles).map(|(id, handle)| Entry { id, receipt_handle: handle }).collect();
    let body = serde_json::to_vec(&DeleteRequest { queue_url, entries }).map_err(CallError::Request)?;
    let answer = client.call("DeleteMessageBatch", body).await?;
    let answer: DeleteAnswer = serde_json::from_slice(&answer).map_err(CallError::Answer)?;
    Ok(answer.failed.unwrap_or_default())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveRequest<'a> {
    queue_url: &'a str,
    max_number_of_messages: usize,
    wait_time_seconds: u32,
    visibility_timeout: u32,
    message_system_attribute_names: [&'static str; 2],
    message_attribute_names: [&'static str; 1],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveAnswer {
    messages: Option<Vec<Received>>,
}

/// A message as SQS's JSON gives it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Received {
    message_id: Option<String>,
    receipt_handle: Option<String>,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: Option<String>,
    body: Option<String>,
    #[serde(default)]
    attributes: HashMap<String, String>,
    #[serde(default)]
    message_attributes: HashMap<String, Attribute>,
}

/// A message attribute as SQS's JSON gives it (a binary value in base64).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    data_type: String,
    string_value: Option<String>,
    binary_value: Option<String>,
}

impl From<Received> for Message {
    fn from(m: Received) -> Message {
        let attributes =
            m.attributes.into_iter().map(|(k, v)| (MessageSystemAttributeName::from(k.as_str()), v)).collect();
        let message_attributes = m
            .message_attributes
            .into_iter()
            .filter_map(|(name, a)| {
                let binary = a.binary_value.and_then(|b| STANDARD.decode(b).ok()).map(Blob::new);
                let value = MessageAttributeValue::builder()
                    .data_type(a.data_type)
                    .set_string_value(a.string_value)
                    .set_binary_value(binary)
                    .build()
                    .ok()?;
                Some((name, value))
            })
            .collect();
        Message::builder()
            .set_message_id(m.message_id)
            .set_receipt_handle(m.receipt_handle)
            .set_md5_of_body(m.md5_of_body)
            .set_body(m.body)
            .set_attributes(Some(attributes))
            .set_message_attributes(Some(message_attributes))
            .build()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteRequest<'a> {
    queue_url: &'a str,
    entries: Vec<Entry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry<'a> {
    id: &'a str,
    receipt_handle: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAnswer {
    failed: Option<Vec<NotDeleted>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_message_reads_as_the_sdk_would_give_it() {
        let answer = r#"{"Messages":[{"MessageId":"m-1","ReceiptHandle":"r-1","MD5OfBody":"d41d8","Body":"{\"a\":\"\u00e9\"}",
            "Attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1796169007000"},
            "MessageAttributes":{"gd_requeues":{"DataType":"Number","StringValue":"2"},
                                 "blob":{"DataType":"Binary","BinaryValue":"AP8="}}}]}"#;
        let answer: ReceiveAnswer = serde_json::from_str(answer).unwrap();
        let m: Vec<Message> = answer.messages.unwrap().into_iter().map(Message::from).collect();
        let m = &m[0];
        assert_eq!((m.message_id(), m.receipt_handle(), m.body()), (Some("m-1"), Some("r-1"), Some(r#"{"a":"é"}"#)));
        let attributes = m.attributes().unwrap();
        assert_eq!(attributes[&MessageSystemAttributeName::ApproximateReceiveCount], "3");
        assert_eq!(attributes[&MessageSystemAttributeName::SentTimestamp], "1796169007000");
        let custom = m.message_attributes().unwrap();
        assert_eq!(custom["gd_requeues"].string_value(), Some("2"));
        assert_eq!(custom["gd_requeues"].data_type(), "Number");
        assert_eq!(custom["blob"].binary_value().map(|b| b.as_ref().to_vec()), Some(vec![0, 255]));
        let empty: ReceiveAnswer = serde_json::from_str("{}").unwrap();
        assert!(empty.messages.is_none(), "a long poll that found nothing");
    }

    #[test]
    fn requests_are_sqs_json() {
        let request = ReceiveRequest {
            queue_url: "https://sqs/q",
            max_number_of_messages: 10,
            wait_time_seconds: 20,
            visibility_timeout: 300,
            message_system_attribute_names: ["ApproximateReceiveCount", "SentTimestamp"],
            message_attribute_names: ["All"],
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"QueueUrl": "https://sqs/q", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20,
                "VisibilityTimeout": 300, "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
                "MessageAttributeNames": ["All"]})
        );
        let failed: DeleteAnswer = serde_json::from_str(
            r#"{"Successful":[{"Id":"0"}],"Failed":[{"Id":"1","SenderFault":true,"Code":"ReceiptHandleIsInvalid"}]}"#,
        )
        .unwrap();
        assert_eq!(failed.failed.unwrap(), [NotDeleted { id: "1".into(), code: "ReceiptHandleIsInvalid".into() }]);
    }
}
