//! Writing incidents: created with one conditional put (their first records inline) or a transaction,
//! updated in place only while still at the version read, re-applied on a lost race.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Capacity, ConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::attrs::Attrs;
use super::codec::{Item, UpdateOf, item_size, string, update_of, without_key};
use super::json;
use super::{
    ATTR_INLINE_EVENT, ATTR_INLINE_EVIDENCE, ATTR_PENDING_EVENT, INLINE_ITEM_MAX, IncidentKey, MAX_CONFLICTS,
    RECORD_EVENT, SK_INCIDENT, Store, StoreError,
};
use crate::adapters::aws_json::CallError;
use crate::adapters::capacity;
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident};
use crate::domain::timestamp;

/// The condition of every update of an incident: nobody wrote it since it was read.
const UPDATE_CONDITION: &str = "#version = :expected";

/// How the incident item is written in a transaction.
enum Write {
    /// Created (it must not exist).
    Create(Item),
    /// Updated in place (it must still be at the version read).
    Update(UpdateOf),
}

impl Store {
    /// Writes `incident` if the stored one is still `previous` (by version; `None`: if there is none yet),
    /// together with its log entries and evidence, all or nothing. Returns the incident as stored, its
    /// version bumped; on a lost race, [`StoreError::Conflict`] with the item that won.
    ///
    /// A new incident with at most one log entry and a small enough evidence is one conditional `PutItem`
    /// holding them inline; an existing one is updated in place, keeping what else its item holds.
    pub async fn commit(
        &self,
        incident: &Incident,
        previous: Option<&Incident>,
        events: &[Event],
        evidence: Option<&Evidence>,
    ) -> Result<Incident, StoreError> {
        let mut stored = incident.clone();
        stored.version = previous.map_or(1, |p| p.version + 1);
        let key = IncidentKey::of(&stored);
        let pk = key.pk();

        let Some(previous) = previous else {
            if events.len() <= 1
                && let Some(item) = self.inline_item(&stored, &pk, events.first(), evidence)?
            {
                return self.create(&item, stored, &key).await;
            }
            let extra = self.own_items(&pk, events, evidence)?;
            return self.transact(Write::Create(self.incident_item(&stored)?), extra, stored, &key).await;
        };

        let item = self.incident_item(&stored)?;
        if events.len() > 1 {
            let update = update_of(&item, &self.incident_item(previous)?, previous.version);
            let extra = self.own_items(&pk, events, evidence)?;
            return self.transact(Write::Update(update), extra, stored, &key).await;
        }
        // One log entry at most, and no transaction (DynamoDB bills each item of one twice): the evidence
        // first (idempotent, and evidence of what was received whatever becomes of this write), then the
        // incident holding its log entry as `pending_event`, then that entry's own item. Readers merge the
        // pending entry, so the log is whole even if the last put never happens; the next update, which
        // overwrites it, puts it again first (see `ATTR_PENDING_EVENT`).
        if let Some(evidence) = evidence {
            self.keep_evidence(&key, evidence).await?;
        }
        let event = events.first().map(|e| self.encode(e, &pk, &event_sk(e), RECORD_EVENT)).transpose()?;
        let mut next = item;
        if let Some(event) = &event {
            next.insert(ATTR_PENDING_EVENT.into(), AttributeValue::M(without_key(event)));
        }
        let update = update_of(&next, &self.incident_item(previous)?, previous.version);
        let table = self.table_of(&pk);
        let request = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .update_expression(update.expression)
            .condition_expression(UPDATE_CONDITION)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .set_return_values(event.is_some().then_some(ReturnValue::UpdatedOld))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let old = match request.send().await {
            Ok(out) => out.attributes.and_then(|mut a| a.remove(ATTR_PENDING_EVENT)),
            Err(err) => {
                return match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        Err(self.conflict(failed.item.clone(), &key).await?)
                    }
                    _ => Err(self.aws_error(table, "UpdateItem", err)),
                };
            }
        };
        if let Some(event) = event {
            if let Some(AttributeValue::M(mut earlier)) = old {
                earlier.insert("pk".into(), AttributeValue::S(pk.clone()));
                self.put_event_once(table, earlier).await?;
            }
            self.put_event_once(table, event).await?;
        }
        Ok(stored)
    }

    /// A new incident's item with its first log entry and evidence inline (as their own items, less the
    /// partition key, which is the incident's); `None` if they would make it larger than [`INLINE_ITEM_MAX`].
    pub(super) fn inline_item(
        &self,
        incident: &Incident,
        pk: &str,
        event: Option<&Event>,
        evidence: Option<&Evidence>,
    ) -> Result<Option<Attrs>, StoreError> {
        let event = event.map(|e| self.record_attrs(e, None, &event_sk(e), RECORD_EVENT, &[], 1024)).transpose()?;
        let evidence = evidence.map(|e| self.evidence_attrs(e, None)).transpose()?;
        let records = [(ATTR_INLINE_EVENT, event), (ATTR_INLINE_EVIDENCE, evidence)];
        let records = records.iter().filter_map(|(name, record)| Some((*name, record.as_ref()?)));
        let mut item = self.incident_attrs(incident, pk)?;
        // A map attribute counts 3 bytes, and 1 more each of its names.
        let size = item.size() + records.clone().map(|(n, r)| n.len() + 3 + r.count() + r.size()).sum::<usize>();
        if size > INLINE_ITEM_MAX {
            return Ok(None);
        }
        for (name, record) in records {
            item.map(name, record);
        }
        Ok(Some(item))
    }

    /// The own items of `events` and `evidence`, in partition `pk`. No `incident_id` on them: `by-incident-id`
    /// indexes incidents alone, and every attribute it keys on would be another write unit.
    fn own_items(&self, pk: &str, events: &[Event], evidence: Option<&Evidence>) -> Result<Vec<Item>, StoreError> {
        let mut records = Vec::with_capacity(events.len() + 1);
        for event in events {
            records.push(self.encode(event, pk, &event_sk(event), RECORD_EVENT)?);
        }
        if let Some(evidence) = evidence {
            records.push(self.evidence_item(evidence, pk)?);
        }
        Ok(records)
    }

    /// Puts a log entry's own item unless it is there already (entries are never written over).
    async fn put_event_once(&self, table: &str, event: Item) -> Result<(), StoreError> {
        self.put_new(table, NewItem::Built(&event), false).await.map(|_| ())
    }

    /// Creates the incident item with one conditional `PutItem`.
    async fn create(&self, item: &Attrs, stored: Incident, key: &IncidentKey) -> Result<Incident, StoreError> {
        let table = self.table_of(&key.pk());
        match self.put_new(table, NewItem::Written(item), true).await? {
            Put::Done => Ok(stored),
            Put::Refused(current) => {
                let inline_evidence = current.as_ref().and_then(|i| match i.get(ATTR_INLINE_EVIDENCE) {
                    Some(AttributeValue::M(record)) => string(record, "sk"),
                    _ => None,
                });
                match self.conflict(current, key).await? {
                    StoreError::Conflict(current) => Err(StoreError::Exists { current, inline_evidence }),
                    other => Err(other),
                }
            }
        }
    }

    /// Puts `item` unless an item with its key exists (`attribute_not_exists(pk)`), with the lean client: the
    /// one call of every new finding. A refusal carries the item there when `return_old` asks for it.
    async fn put_new(&self, table: &str, item: NewItem<'_>, return_old: bool) -> Result<Put, StoreError> {
        let room = match item {
            NewItem::Built(item) => 2 * item_size(item),
            NewItem::Written(attrs) => attrs.json_len(),
        };
        let mut body = Vec::with_capacity(room + 256);
        body.extend_from_slice(b"{\"TableName\":");
        json::write_str(table, &mut body);
        body.extend_from_slice(b",\"Item\":");
        match item {
            NewItem::Built(item) => json::write_item(item, &mut body),
            NewItem::Written(attrs) => attrs.write_object(&mut body),
        }
        body.extend_from_slice(b",\"ConditionExpression\":\"attribute_not_exists(pk)\"");
        body.extend_from_slice(b",\"ReturnConsumedCapacity\":\"INDEXES\"");
        if return_old {
            body.extend_from_slice(b",\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"");
        }
        body.push(b'}');
        match self.json.call("PutItem", body).await {
            Ok(answer) => {
                if let Ok(PutAnswer { consumed_capacity: Some(consumed) }) = serde_json::from_slice(&answer) {
                    capacity::record("PutItem", &consumed.into());
                }
                Ok(Put::Done)
            }
            Err(CallError::Service { meta, body, .. }) if meta.code() == Some("ConditionalCheckFailedException") => {
                let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                Ok(Put::Refused(answer.get("Item").and_then(json::read_item)))
            }
            Err(err) => Err(self.aws_error(table, "PutItem", err)),
        }
    }

    /// Writes the incident item (created, or updated if still at its version) with its separate log entries
    /// and evidence in one transaction.
    async fn transact(
        &self,
        incident: Write,
        records: Vec<Item>,
        stored: Incident,
        key: &IncidentKey,
    ) -> Result<Incident, StoreError> {
        let pk = key.pk();
        let table = self.table_of(&pk);
        let first = match incident {
            Write::Create(item) => TransactWriteItem::builder().put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(|e| self.corrupt(&pk, e))?,
            ),
            Write::Update(update) => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(table)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .key("sk", AttributeValue::S(SK_INCIDENT.into()))
                    .update_expression(update.expression)
                    .condition_expression(UPDATE_CONDITION)
                    .set_expression_attribute_names(Some(update.names))
                    .set_expression_attribute_values(Some(update.values))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(|e| self.corrupt(&pk, e))?,
            ),
        };
        let mut writes = vec![first.build()];
        for item in records {
            // Events are append-only, never written over. Evidence keys hold the body's SHA-256, so a put
            // can only ever write the same bytes again.
            let is_event = matches!(item.get("record_type"), Some(AttributeValue::S(t)) if t == RECORD_EVENT);
            let mut put = aws_sdk_dynamodb::types::Put::builder().table_name(table).set_item(Some(item));
            if is_event {
                put = put.condition_expression("attribute_not_exists(pk)");
            }
            writes.push(TransactWriteItem::builder().put(put.build().map_err(|e| self.corrupt(&pk, e))?).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(stored),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons = cancelled.cancellation_reasons();
                    let first = reasons.first();
                    let code = first.and_then(|r| r.code()).unwrap_or_default();
                    if code == "ConditionalCheckFailed" || code == "TransactionConflict" {
                        Err(self.conflict(first.and_then(|r| r.item.clone()), key).await?)
                    } else {
                        Err(self.aws_error(table, "TransactWriteItems", err))
                    }
                }
                _ => Err(self.aws_error(table, "TransactWriteItems", err)),
            },
        }
    }

    /// The conflict error, with the stored incident (read if the failure did not carry it).
    async fn conflict(&self, item: Option<Item>, key: &IncidentKey) -> Result<StoreError, StoreError> {
        let current = match item.filter(|i| !i.is_empty()) {
            Some(item) => Some(self.decode_incident(item)?),
            None => self.load(key).await?,
        };
        Ok(StoreError::Conflict(Box::new(current)))
    }

    /// Applies `change` to the stored incident with a conditional write, re-reading and re-applying when
    /// another writer got there first. `change` returns `None` when there is nothing to write. Returns the
    /// incident as stored (unchanged if `change` had nothing to do).
    pub async fn modify<F>(&self, mut current: Incident, mut change: F) -> Result<Incident, StoreError>
    where
        F: FnMut(&Incident) -> Option<(Incident, Option<Event>)>,
    {
        for _ in 0..MAX_CONFLICTS {
            let Some((next, event)) = change(&current) else {
                return Ok(current);
            };
            match self.commit(&next, Some(&current), event.as_slice(), None).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::Conflict(latest)) => match *latest {
                    Some(latest) => current = latest,
                    None => return Err(self.corrupt(&IncidentKey::of(&current).pk(), "the incident vanished")),
                },
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Contended(current.incident_id))
    }

    /// Keeps a version of a finding that changed nothing, unless it is already kept.
    pub async fn keep_evidence(&self, key: &IncidentKey, evidence: &Evidence) -> Result<(), StoreError> {
        let pk = key.pk();
        let item = self.evidence_attrs(evidence, Some(&pk))?;
        self.put_new(self.table_of(&pk), NewItem::Written(&item), false).await.map(|_| ())
    }
}

/// An item to put, as DynamoDB JSON.
#[derive(Clone, Copy)]
enum NewItem<'a> {
    /// Built as attribute values.
    Built(&'a Item),
    /// Written already.
    Written(&'a Attrs),
}

/// What a conditional put did.
enum Put {
    /// The item was written.
    Done,
    /// An item with its key was there: that item, when asked for and readable.
    Refused(Option<Item>),
}

/// The part of `PutItem`'s answer read: what it consumed.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutAnswer {
    consumed_capacity: Option<Consumed>,
}

/// DynamoDB's `ConsumedCapacity`, as its JSON has it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Consumed {
    capacity_units: Option<f64>,
    table: Option<Units>,
    global_secondary_indexes: Option<HashMap<String, Units>>,
}

/// The units of the table or of one index.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Units {
    capacity_units: Option<f64>,
}

impl From<Consumed> for ConsumedCapacity {
    fn from(c: Consumed) -> ConsumedCapacity {
        let units = |u: Units| Capacity::builder().set_capacity_units(u.capacity_units).build();
        ConsumedCapacity::builder()
            .set_capacity_units(c.capacity_units)
            .set_table(c.table.map(units))
            .set_global_secondary_indexes(
                c.global_secondary_indexes.map(|m| m.into_iter().map(|(k, u)| (k, units(u))).collect()),
            )
            .build()
    }
}

/// The sort key of a log entry's own item: by time, then a random suffix.
pub(super) fn event_sk(event: &Event) -> String {
    format!("EVENT#{}#{}", timestamp::format(event.at), &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn evidence_hash_is_sha256_and_verifies() {
        let e = Evidence::of("i", None, "abc", Utc::now());
        assert_eq!(e.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(e.verify());
        let tampered = Evidence { body: "abd".into(), ..e.clone() };
        assert!(!tampered.verify());
        assert_eq!(e.sk(), format!("EVIDENCE#unknown#{}", e.sha256));
    }
}
