//! The outbox: markers of incidents that may owe pages, written before the change that makes them owed.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::string;
use super::{IncidentKey, Store, StoreError};
use crate::domain::timestamp;

/// The partition of outbox markers: incidents that may owe pages or notices made owed by a person's action
/// (command line, portal), for the daemon to send if that process could not.
const PK_OUTBOX: &str = "OUTBOX#pending";

/// An incident marked in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The incident.
    pub key: IncidentKey,
    /// Its id.
    pub incident_id: String,
    /// When it was (last) marked: clearing the marker is conditional on it.
    pub marked_at: DateTime<Utc>,
}

impl Store {
    /// Marks the incident as possibly owing pages. Written before the change that makes them owed, so a
    /// crash between the two leaves a harmless marker, never an unnoticed page.
    pub async fn mark_outbox(
        &self,
        key: &IncidentKey,
        incident_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(PK_OUTBOX.into()))
            .item("sk", AttributeValue::S(key.pk()))
            .item("record_type", AttributeValue::S("outbox".into()))
            .item("incident_id", AttributeValue::S(incident_id.to_owned()))
            .item("account_id", AttributeValue::S(key.account_id.clone()))
            .item("region", AttributeValue::S(key.region.clone()))
            .item("finding_id", AttributeValue::S(key.finding_id.clone()))
            .item("state", AttributeValue::S("pending".into()))
            .item("marked_at", AttributeValue::S(timestamp::format(now)))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.aws_error("PutItem", e))
    }

    /// Clears a marker, unless it was marked again since `entry` was read (that change may still be
    /// sending). A cleared marker expires by TTL after a week (nothing here deletes).
    pub async fn clear_outbox(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let expires = Utc::now().timestamp() + 7 * 86_400;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PK_OUTBOX.into()))
            .key("sk", AttributeValue::S(entry.key.pk()))
            .update_expression("SET #state = :done, expires_at = :exp")
            .condition_expression("marked_at = :marked")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires.to_string()))
            .expression_attribute_values(":marked", AttributeValue::S(timestamp::format(entry.marked_at)))
            .send()
            .await;
        self.updated_or_already(result)
    }

    /// The incidents marked as possibly owing pages.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let items = self.query_prefix(PK_OUTBOX, "").await?;
        Ok(items
            .iter()
            .filter(|i| string(i, "state").as_deref() == Some("pending"))
            .filter_map(|i| {
                Some(OutboxEntry {
                    key: IncidentKey {
                        account_id: string(i, "account_id")?,
                        region: string(i, "region")?,
                        finding_id: string(i, "finding_id")?,
                    },
                    incident_id: string(i, "incident_id")?,
                    marked_at: string(i, "marked_at").and_then(|t| timestamp::parse(&t).ok())?,
                })
            })
            .collect())
    }
}
