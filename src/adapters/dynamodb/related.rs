//! Other open incidents about the same resource (procedure: responders see what belongs together): open
//! incidents carry `open_resource` ([`Incident::open_resource_key`]), the key of the sparse `by-resource`
//! index; closing an incident drops it from the index.

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{ATTR_OPEN_RESOURCE, string};
use super::{INDEX_BY_RESOURCE, IncidentKey, Store, StoreError};
use crate::domain::incident::Incident;

/// Other open incidents on one resource, at most (the newest).
const RELATED_MAX: i32 = 20;

impl Store {
    /// The other open incidents about the same resource as `incident` (the newest 20), from the
    /// sparse `by-resource` index: none when it is closed or names no resource.
    pub async fn on_same_resource(&self, incident: &Incident) -> Result<Vec<Incident>, StoreError> {
        let Some(key) = incident.open_resource_key() else { return Ok(Vec::new()) };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_RESOURCE)
            .key_condition_expression("#r = :r")
            .expression_attribute_names("#r", ATTR_OPEN_RESOURCE)
            .expression_attribute_values(":r", AttributeValue::S(key))
            .scan_index_forward(false)
            .limit(RELATED_MAX + 1)
            .send()
            .await
            .map_err(|e| self.aws_error(&self.table, "Query", e))?;
        let mut related = Vec::new();
        for item in out.items.unwrap_or_default() {
            let (Some(account_id), Some(region), Some(finding_id)) =
                (string(&item, "account_id"), string(&item, "region"), string(&item, "finding_id"))
            else {
                continue;
            };
            if finding_id == incident.finding_id && account_id == incident.account_id && region == incident.region {
                continue;
            }
            // The index lags the table a moment: what closed since is left out.
            if let Some(other) = self.load(&IncidentKey { account_id, region, finding_id }).await?
                && other.open_resource_key().is_some()
                && related.len() < RELATED_MAX as usize
            {
                related.push(other);
            }
        }
        Ok(related)
    }
}
