//! Records that coordinate the daemons: leases (one holder of a periodic job at a time), watermarks (how
//! far a sweep got), and the GuardDuty archives still to be done.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::domain::timestamp;

/// A finding whose GuardDuty archive is still to be done (closing archived it, and that failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingArchive {
    /// The incident.
    pub incident_id: String,
    /// Its finding.
    pub finding_id: String,
    /// The finding's region.
    pub region: String,
    /// The detector that reported it.
    pub detector_id: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: String,
    /// `pending` or `done`.
    pub state: String,
}

const PK_ARCHIVES: &str = "ARCHIVE#pending";

impl Store {
    /// Takes (or renews) the lease `name` for `holder` until `until`, unless someone else holds it now.
    /// Returns whether this holder has it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("LEASE#{name}")))
            .item("sk", AttributeValue::S("-".into()))
            .item("record_type", AttributeValue::S("lease".into()))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("lease_until", AttributeValue::S(timestamp::format(until)))
            .condition_expression("attribute_not_exists(pk) OR lease_until < :now OR holder = :me")
            .expression_attribute_values(":now", AttributeValue::S(timestamp::format(now)))
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(self.aws_error(&self.table, "PutItem", e)),
        }
    }

    /// The watermark `name` (epoch milliseconds), if set.
    pub async fn watermark(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("WATERMARK#{name}")))
            .key("sk", AttributeValue::S("-".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error(&self.table, "GetItem", e))?;
        Ok(out.item.and_then(|i| match i.get("updated_at_ms") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }))
    }

    /// Moves the watermark `name` forward to `ms` (never back: concurrent sweeps cannot undo each other).
    pub async fn advance_watermark(&self, name: &str, ms: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("WATERMARK#{name}")))
            .key("sk", AttributeValue::S("-".into()))
            .update_expression("SET updated_at_ms = :ms, record_type = :rt")
            .condition_expression("attribute_not_exists(updated_at_ms) OR updated_at_ms < :ms")
            .expression_attribute_values(":ms", AttributeValue::N(ms.to_string()))
            .expression_attribute_values(":rt", AttributeValue::S("watermark".into()))
            .send()
            .await;
        self.updated_or_already(result)
    }

    /// Records (or updates) an archive still to be done; `state = "done"` ends it (and lets TTL expire it).
    pub async fn put_pending_archive(&self, archive: &PendingArchive) -> Result<(), StoreError> {
        let mut item = self.encode(archive, PK_ARCHIVES, &archive.incident_id, "archive")?;
        if archive.state == "done" {
            let expires = Utc::now().timestamp() + 7 * 86_400;
            item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        }
        self.put(item).await
    }

    /// Archives still to be done.
    pub async fn pending_archives(&self) -> Result<Vec<PendingArchive>, StoreError> {
        let items = self.query_prefix(PK_ARCHIVES, "").await?;
        let all: Vec<PendingArchive> = items.into_iter().map(|i| self.decode(i)).collect::<Result<_, _>>()?;
        Ok(all.into_iter().filter(|a| a.state == "pending").collect())
    }
}
