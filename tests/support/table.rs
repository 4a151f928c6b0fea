//! The incident table read back: every incident item, and its attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use gd_incidents::adapters::dynamodb::RECORD_INCIDENT;

use std::time::Duration;

use super::eventually;
use super::localstack::Aws;
use super::stack::Stack;

/// One item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

impl Aws {
    /// Every item of the table with `record_type = "incident"`, read consistently.
    pub async fn incidents(&self, table: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(
                out.items.unwrap_or_default().into_iter().filter(|i| s(i, "record_type") == Some(RECORD_INCIDENT)),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items
    }
}

impl Aws {
    /// Every incident of `stack`: its incident table's and its confidential table's.
    pub async fn every_incident(&self, stack: &Stack) -> Vec<Item> {
        let mut items = self.incidents(stack.table()).await;
        items.extend(self.incidents(stack.confidential_table()).await);
        items
    }
}

/// The incident id of a finding, once the daemon has written its incident (within 60 s).
pub async fn incident_of(aws: &Aws, stack: &Stack, finding_id: &str) -> String {
    eventually(&format!("the incident of {finding_id}"), Duration::from_secs(60), || async {
        aws.incidents(stack.table())
            .await
            .iter()
            .find(|i| s(i, "finding_id") == Some(finding_id))
            .and_then(|i| s(i, "incident_id").map(str::to_owned))
    })
    .await
}

/// An attribute as a string, if it is one.
pub fn s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// An attribute as a number, if it is one.
pub fn n(item: &Item, key: &str) -> Option<f64> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}
