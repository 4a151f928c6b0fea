//! Moving confidential reports kept in the incident table (filed before the confidential table existed, or
//! while `[incidents] confidential_table` was unset) into the confidential table, where AWS itself keeps
//! responders out. A report is copied whole (its item, log and evidence) under its confidential id, with a
//! log entry saying so, and only then deleted from the incident table: the one deletion this program makes,
//! of records that exist in the other table. A change made to it while it is being moved stops the move,
//! which can be run again.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::codec::{ATTR_EVIDENCE_OF, Item, string};
use super::commit::event_sk;
use super::listing::TablePosition;
use super::{IncidentKey, ListFilter, RECORD_EVENT, SK_INCIDENT, Store, StoreError};
use crate::domain::incident::{Event, Incident};
use crate::domain::lifecycle::confidential_id;

impl Store {
    /// The confidential reports still in the incident table, newest first.
    pub async fn confidential_in_incident_table(&self) -> Result<Vec<Incident>, StoreError> {
        let filter = ListFilter { confidential: true, ..ListFilter::default() };
        let mut found = Vec::new();
        let mut position = TablePosition::default();
        loop {
            let batch = self.newest(&self.table, &filter, 100, &position).await?;
            found.extend(batch.incidents.into_iter().map(|(i, _)| i).filter(|i| i.confidential));
            position = batch.end;
            if position.is_end() {
                return Ok(found);
            }
        }
    }

    /// Moves `incident` (a confidential report in the incident table) into the confidential table under its
    /// confidential id, with `event` in its log; returns it as moved.
    pub async fn move_confidential(&self, incident: &Incident, event: &Event) -> Result<Incident, StoreError> {
        let target = self.confidential.clone().ok_or(StoreError::NoConfidentialTable)?;
        let old_pk = IncidentKey::of(incident).pk();
        let new_id = confidential_id(&incident.incident_id);
        let key = IncidentKey { finding_id: new_id.clone(), ..IncidentKey::of(incident) };
        let new_pk = key.pk();
        let items = self.query_in(&self.table, &old_pk, "").await?;
        let Some(original) = items.iter().find(|i| string(i, "sk").as_deref() == Some(SK_INCIDENT)) else {
            return Err(self.corrupt(&old_pk, "it has no incident item to move"));
        };
        let version = original.get("version").cloned().unwrap_or(AttributeValue::N("0".into()));
        let renamed = |item: &Item| -> Item {
            let mut copy = item.clone();
            copy.insert("pk".into(), AttributeValue::S(new_pk.clone()));
            // The incident's id, and what records of it name it (evidence as `evidence_of`).
            for attribute in ["incident_id", ATTR_EVIDENCE_OF] {
                if copy.contains_key(attribute) {
                    copy.insert(attribute.into(), AttributeValue::S(new_id.clone()));
                }
            }
            if string(&copy, "sk").as_deref() == Some(SK_INCIDENT) {
                copy.insert("finding_id".into(), AttributeValue::S(new_id.clone()));
            }
            copy
        };

        // The incident and the entry saying it moved, together; a copy at this version is there already.
        let mut record = self.encode(event, &new_pk, &event_sk(event), RECORD_EVENT)?;
        record.insert("incident_id".into(), AttributeValue::S(new_id.clone()));
        let copy = Put::builder()
            .table_name(&target)
            .set_item(Some(renamed(original)))
            .condition_expression("attribute_not_exists(pk) OR version < :v")
            .expression_attribute_values(":v", version.clone())
            .build()
            .map_err(|e| self.corrupt(&new_pk, e))?;
        let entry =
            Put::builder().table_name(&target).set_item(Some(record)).build().map_err(|e| self.corrupt(&new_pk, e))?;
        let writes =
            vec![TransactWriteItem::builder().put(copy).build(), TransactWriteItem::builder().put(entry).build()];
        if let Err(err) = self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            let copied = matches!(err.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(c))
                if c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed"));
            if !copied {
                return Err(self.aws_error(&target, "TransactWriteItems", err));
            }
        }
        for item in items.iter().filter(|i| string(i, "sk").as_deref() != Some(SK_INCIDENT)) {
            let put = self
                .client
                .put_item()
                .table_name(&target)
                .set_item(Some(renamed(item)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Err(e) if !matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                    return Err(self.aws_error(&target, "PutItem", e));
                }
                _ => {}
            }
        }

        // Only now, the originals: the records first, the incident last and only if nobody changed it.
        for item in items.iter().filter(|i| string(i, "sk").as_deref() != Some(SK_INCIDENT)) {
            self.delete_original(item, None).await?;
        }
        self.delete_original(original, Some(version)).await?;
        self.load(&key).await?.ok_or_else(|| self.corrupt(&new_pk, "the moved incident cannot be read back"))
    }

    /// Deletes a moved item from the incident table (if still at `version`, when given).
    async fn delete_original(&self, item: &Item, version: Option<AttributeValue>) -> Result<(), StoreError> {
        let pk = string(item, "pk").unwrap_or_default();
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(string(item, "sk").unwrap_or_default()));
        if let Some(version) = version {
            request = request.condition_expression("version = :v").expression_attribute_values(":v", version);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::Contended(pk))
            }
            Err(e) => Err(self.aws_error(&self.table, "DeleteItem", e)),
        }
    }
}
