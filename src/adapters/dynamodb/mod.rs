//! Incidents, their log and their evidence in one DynamoDB table, with conditional writes only, so that
//! redeliveries and concurrent daemons or responders never make two incidents of one finding or lose one
//! another's changes. Nothing here deletes anything.
//!
//! | record   | pk                                    | sk                                  |
//! |----------|---------------------------------------|-------------------------------------|
//! | incident | `INC#<account>#<region>#<finding id>` | `INCIDENT`                          |
//! | event    | same                                  | `EVENT#<rfc3339>#<random>`          |
//! | evidence | same                                  | `EVIDENCE#<updatedAt>#<sha256>`     |
//!
//! A new incident's first log entry and evidence are kept on the incident item itself (the map attributes
//! `inline_event` and `inline_evidence`, each with the `sk` its own item would have), so that creating an
//! incident is one conditional `PutItem` rather than a three-item transaction; readers merge them with the
//! separate items. An incident whose first evidence is too large for that is created the old way. Updates
//! change the incident item in place (`UpdateItem`), so the inline records stay.
//!
//! Indexes: `by-incident-id` (incident_id, sk) finds an incident by its id; `by-created` (record_type,
//! created_at) lists incidents newest first; `by-escalation` (escalation_due, escalate_at) is sparse and
//! holds only the incidents with a re-page scheduled.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::clients::describe;
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident};
use crate::domain::timestamp;

/// The `record_type` of incident items (other records in the table carry their own).
pub const RECORD_INCIDENT: &str = "incident";
/// The `record_type` of log entries.
pub const RECORD_EVENT: &str = "event";
/// The `record_type` of evidence.
pub const RECORD_EVIDENCE: &str = "evidence";
/// The sort key of the incident item itself (its log entries and evidence have their own).
pub const SK_INCIDENT: &str = "INCIDENT";
const INDEX_BY_ID: &str = "by-incident-id";
const INDEX_BY_CREATED: &str = "by-created";
const INDEX_BY_ESCALATION: &str = "by-escalation";
const ESCALATION_DUE: &str = "due";
/// How many lost races one [`Store::modify`] tolerates before giving up for now.
const MAX_CONFLICTS: usize = 16;
/// The incident item's copy of its first log entry.
const ATTR_INLINE_EVENT: &str = "inline_event";
/// The incident item's copy of its first evidence.
const ATTR_INLINE_EVIDENCE: &str = "inline_evidence";
/// Largest incident item, in bytes, that is created with its first records inline. DynamoDB's limit is
/// 400 KB; the rest is left for what the incident gains later (pages, closure notes).
const INLINE_ITEM_MAX: usize = 200 * 1024;

/// Identifies one finding's incident: (account id, region, finding id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    /// Account of the finding.
    pub account_id: String,
    /// Region of the finding.
    pub region: String,
    /// GuardDuty's finding id.
    pub finding_id: String,
}

impl IncidentKey {
    /// The partition key of the incident's records.
    pub fn pk(&self) -> String {
        format!("INC#{}#{}#{}", self.account_id, self.region, self.finding_id)
    }

    /// The key of an existing incident.
    pub fn of(incident: &Incident) -> IncidentKey {
        IncidentKey {
            account_id: incident.account_id.clone(),
            region: incident.region.clone(),
            finding_id: incident.finding_id.clone(),
        }
    }
}

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these statuses (any if empty).
    pub statuses: Vec<String>,
    /// Only these levels (any if empty).
    pub severities: Vec<String>,
    /// Only incidents created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Include confidential incidents (the ISO's view).
    pub confidential: bool,
}

/// A page of a listing.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Newest first.
    pub incidents: Vec<Incident>,
    /// Pass to the next call to continue; `None` at the end.
    pub next: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition failed: someone else wrote first. Carries what is stored now.
    #[error("incident was changed concurrently")]
    Conflict(Box<Option<Incident>>),
    /// The incident to create exists already. Carries what is stored now, and the sort key of the evidence
    /// its item keeps inline (a redelivery of that version needs no record of its own).
    #[error("incident exists already")]
    Exists {
        /// The stored incident (`None` if it could not be read).
        current: Box<Option<Incident>>,
        /// The sort key of its inline first evidence, if it has one.
        inline_evidence: Option<String>,
    },
    /// Others kept winning.
    #[error("lost {MAX_CONFLICTS} races for incident {0}; try again")]
    Contended(String),
    /// DynamoDB did not do it (after the SDK's retries): throttling, an outage, permissions...
    #[error("DynamoDB {op} on table {table} failed: {detail}")]
    Aws {
        /// The operation.
        op: &'static str,
        /// The table.
        table: String,
        /// The SDK error with its causes.
        detail: String,
    },
    /// An item in the table does not decode.
    #[error("item {pk} in table {table} is not valid: {detail}")]
    Corrupt {
        /// Its partition key.
        pk: String,
        /// The table.
        table: String,
        /// What is wrong.
        detail: String,
    },
    /// A pagination token that this program did not make.
    #[error("invalid --next token: {0}")]
    BadToken(String),
}

/// The incident table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn string(item: &Item, key: &str) -> Option<String> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

impl Store {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store { client, table: table.into() }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn aws_error(&self, op: &'static str, err: &(dyn std::error::Error + 'static)) -> StoreError {
        StoreError::Aws { op, table: self.table.clone(), detail: describe(err) }
    }

    fn corrupt(&self, pk: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt { pk: pk.to_owned(), table: self.table.clone(), detail: detail.to_string() }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, item: Item) -> Result<T, StoreError> {
        let pk = string(&item, "pk").unwrap_or_else(|| "(no pk)".into());
        serde_dynamo::from_item(item).map_err(|e| self.corrupt(&pk, e))
    }

    fn encode<T: Serialize>(&self, value: &T, pk: &str, sk: &str, record_type: &str) -> Result<Item, StoreError> {
        let mut item: Item =
            serde_dynamo::to_item(value).map_err(|e| self.corrupt(pk, format!("cannot encode: {e}")))?;
        item.insert("pk".into(), AttributeValue::S(pk.to_owned()));
        item.insert("sk".into(), AttributeValue::S(sk.to_owned()));
        item.insert("record_type".into(), AttributeValue::S(record_type.to_owned()));
        Ok(item)
    }

    fn incident_item(&self, incident: &Incident) -> Result<Item, StoreError> {
        let pk = IncidentKey::of(incident).pk();
        let mut item = self.encode(incident, &pk, SK_INCIDENT, RECORD_INCIDENT)?;
        // The sparse escalation index holds exactly the incidents with a re-page scheduled.
        if incident.escalate_at.is_some() {
            item.insert("escalation_due".into(), AttributeValue::S(ESCALATION_DUE.into()));
        }
        Ok(item)
    }

    /// Reads a finding's incident (strongly consistent).
    pub async fn load(&self, key: &IncidentKey) -> Result<Option<Incident>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.pk()))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error("GetItem", &e))?;
        out.item.map(|item| self.decode(item)).transpose()
    }

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
        let item = self.incident_item(&stored)?;
        let mut extra = Vec::new();
        for event in events {
            let mut record = self.encode(event, &pk, &event_sk(event), RECORD_EVENT)?;
            record.insert("incident_id".into(), AttributeValue::S(stored.incident_id.clone()));
            extra.push(record);
        }
        if let Some(evidence) = evidence {
            extra.push(self.encode(evidence, &pk, &evidence.sk(), RECORD_EVIDENCE)?);
        }

        let Some(previous) = previous else {
            if events.len() <= 1 {
                let mut inline = item.clone();
                let mut records = extra.iter();
                if !events.is_empty()
                    && let Some(event) = records.next()
                {
                    inline.insert(ATTR_INLINE_EVENT.into(), AttributeValue::M(without_key(event)));
                }
                if let Some(evidence) = records.next() {
                    inline.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(without_key(evidence)));
                }
                if item_size(&inline) <= INLINE_ITEM_MAX {
                    return self.create(inline, stored, &key).await;
                }
            }
            return self.transact(Write::Create(item), extra, stored, &key).await;
        };

        let update = update_of(&item, &self.incident_item(previous)?, previous.version);
        if extra.is_empty() {
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk.clone()))
                .key("sk", AttributeValue::S(SK_INCIDENT.into()))
                .update_expression(update.expression)
                .condition_expression(UPDATE_CONDITION)
                .set_expression_attribute_names(Some(update.names))
                .set_expression_attribute_values(Some(update.values))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            return match request.send().await {
                Ok(_) => Ok(stored),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        Err(self.conflict(failed.item.clone(), &key).await?)
                    }
                    _ => Err(self.aws_error("UpdateItem", &err)),
                },
            };
        }
        self.transact(Write::Update(update), extra, stored, &key).await
    }

    /// Creates the incident item with one conditional `PutItem`.
    async fn create(&self, item: Item, stored: Incident, key: &IncidentKey) -> Result<Incident, StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match request.send().await {
            Ok(_) => Ok(stored),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let inline_evidence = failed.item.as_ref().and_then(|i| match i.get(ATTR_INLINE_EVIDENCE) {
                        Some(AttributeValue::M(record)) => string(record, "sk"),
                        _ => None,
                    });
                    match self.conflict(failed.item.clone(), key).await? {
                        StoreError::Conflict(current) => Err(StoreError::Exists { current, inline_evidence }),
                        other => Err(other),
                    }
                }
                _ => Err(self.aws_error("PutItem", &err)),
            },
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
        let first = match incident {
            Write::Create(item) => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(|e| self.corrupt(&pk, e))?,
            ),
            Write::Update(update) => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
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
            let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
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
                        Err(self.aws_error("TransactWriteItems", &err))
                    }
                }
                _ => Err(self.aws_error("TransactWriteItems", &err)),
            },
        }
    }

    /// The conflict error, with the stored incident (read if the failure did not carry it).
    async fn conflict(&self, item: Option<Item>, key: &IncidentKey) -> Result<StoreError, StoreError> {
        let current = match item.filter(|i| !i.is_empty()) {
            Some(item) => Some(self.decode(item)?),
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
        let item = self.encode(evidence, &pk, &evidence.sk(), RECORD_EVIDENCE)?;
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(())
            }
            Err(err) => Err(self.aws_error("PutItem", &err)),
        }
    }

    /// Finds an incident by its `incident_id`.
    pub async fn find(&self, incident_id: &str) -> Result<Option<Incident>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_ID)
            .key_condition_expression("incident_id = :id AND sk = :sk")
            .expression_attribute_values(":id", AttributeValue::S(incident_id.to_owned()))
            .expression_attribute_values(":sk", AttributeValue::S(SK_INCIDENT.into()))
            .send()
            .await
            .map_err(|e| self.aws_error("Query", &e))?;
        let Some(pk) = out.items().first().and_then(|i| string(i, "pk")) else {
            return Ok(None);
        };
        // The index is eventually consistent: read the item itself.
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error("GetItem", &e))?;
        got.item.map(|i| self.decode(i)).transpose()
    }

    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let query = self.client.query().table_name(&self.table);
            let query = if prefix.is_empty() {
                query.key_condition_expression("pk = :pk")
            } else {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let out = query
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.aws_error("Query", &e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// The record an incident item holds inline under `attribute`, if any.
    async fn inline_record(&self, pk: &str, attribute: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .projection_expression("#r")
            .expression_attribute_names("#r", attribute)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error("GetItem", &e))?;
        Ok(out.item.and_then(|mut i| match i.remove(attribute) {
            Some(AttributeValue::M(record)) => Some(record),
            _ => None,
        }))
    }

    /// The records of an incident under `prefix`, separate and inline, in key order.
    async fn records(&self, incident: &Incident, prefix: &str, attribute: &str) -> Result<Vec<Item>, StoreError> {
        let pk = IncidentKey::of(incident).pk();
        let (items, inline) = tokio::try_join!(self.query_prefix(&pk, prefix), self.inline_record(&pk, attribute))?;
        Ok(merge_records(items, inline))
    }

    /// The incident's log, oldest first.
    pub async fn timeline(&self, incident: &Incident) -> Result<Vec<Event>, StoreError> {
        let items = self.records(incident, "EVENT#", ATTR_INLINE_EVENT).await?;
        items.into_iter().map(|i| self.decode(i)).collect()
    }

    /// The incident's evidence, oldest version first.
    pub async fn evidence(&self, incident: &Incident) -> Result<Vec<Evidence>, StoreError> {
        let items = self.records(incident, "EVIDENCE#", ATTR_INLINE_EVIDENCE).await?;
        items.into_iter().map(|i| self.decode(i)).collect()
    }

    /// Up to `limit` incidents matching `filter`, newest first, from where `next` left off.
    pub async fn list(&self, filter: &ListFilter, limit: usize, next: Option<&str>) -> Result<Listing, StoreError> {
        let mut start = match next {
            Some(token) => Some(decode_token(token)?),
            None => None,
        };
        let mut incidents = Vec::new();
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_CREATED)
                .scan_index_forward(false)
                .expression_attribute_values(":rt", AttributeValue::S(RECORD_INCIDENT.into()))
                .limit(((limit - incidents.len()).max(1) * 2).min(1000) as i32)
                .set_exclusive_start_key(start.take());
            q = match filter.since {
                Some(since) => q
                    .key_condition_expression("record_type = :rt AND created_at >= :since")
                    .expression_attribute_values(":since", AttributeValue::S(timestamp::format(since))),
                None => q.key_condition_expression("record_type = :rt"),
            };
            let out = q.send().await.map_err(|e| self.aws_error("Query", &e))?;
            let page_end = out.last_evaluated_key.clone();
            let mut last_key = None;
            for item in out.items.unwrap_or_default() {
                if incidents.len() >= limit {
                    break;
                }
                last_key = Some(item_key(&item));
                let incident: Incident = self.decode(item)?;
                let wanted = (filter.confidential || !incident.confidential)
                    && (filter.statuses.is_empty() || filter.statuses.iter().any(|s| s == incident.status.as_str()))
                    && (filter.severities.is_empty()
                        || filter.severities.iter().any(|s| s == incident.severity.as_str()));
                if wanted {
                    incidents.push(incident);
                }
            }
            if incidents.len() >= limit {
                let more = page_end.is_some() || last_key.is_some();
                return Ok(Listing { incidents, next: if more { last_key.map(|k| encode_token(&k)) } else { None } });
            }
            match page_end {
                Some(key) => start = Some(key),
                None => return Ok(Listing { incidents, next: None }),
            }
        }
    }

    /// Incidents with a re-page due at or before `now`.
    pub async fn escalations_due(&self, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_ESCALATION)
                .key_condition_expression("escalation_due = :due AND escalate_at <= :now")
                .expression_attribute_values(":due", AttributeValue::S(ESCALATION_DUE.into()))
                .expression_attribute_values(":now", AttributeValue::S(timestamp::format(now)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.aws_error("Query", &e))?;
            for item in out.items.unwrap_or_default() {
                if let (Some(account_id), Some(region), Some(finding_id)) =
                    (string(&item, "account_id"), string(&item, "region"), string(&item, "finding_id"))
                {
                    keys.push(IncidentKey { account_id, region, finding_id });
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }
}

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
            Err(e) => Err(self.aws_error("PutItem", &e)),
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
            .map_err(|e| self.aws_error("GetItem", &e))?;
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
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(self.aws_error("UpdateItem", &e)),
        }
    }

    /// Records (or updates) an archive still to be done; `state = "done"` ends it (and lets TTL expire it).
    pub async fn put_pending_archive(&self, archive: &PendingArchive) -> Result<(), StoreError> {
        let mut item = self.encode(archive, PK_ARCHIVES, &archive.incident_id, "archive")?;
        if archive.state == "done" {
            let expires = Utc::now().timestamp() + 7 * 86_400;
            item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.aws_error("PutItem", &e))
    }

    /// Archives still to be done.
    pub async fn pending_archives(&self) -> Result<Vec<PendingArchive>, StoreError> {
        let items = self.query_prefix(PK_ARCHIVES, "").await?;
        let all: Vec<PendingArchive> = items.into_iter().map(|i| self.decode(i)).collect::<Result<_, _>>()?;
        Ok(all.into_iter().filter(|a| a.state == "pending").collect())
    }
}

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
            .map_err(|e| self.aws_error("PutItem", &e))
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
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(self.aws_error("UpdateItem", &e)),
        }
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

/// The condition of every update of an incident: nobody wrote it since it was read.
const UPDATE_CONDITION: &str = "#version = :expected";

/// How the incident item is written in a transaction.
enum Write {
    /// Created (it must not exist).
    Create(Item),
    /// Updated in place (it must still be at the version read).
    Update(UpdateOf),
}

/// An `UpdateItem` that makes the incident item hold `next`'s attributes, if still at `expected` version.
#[derive(Debug, PartialEq)]
struct UpdateOf {
    expression: String,
    names: HashMap<String, String>,
    values: Item,
}

/// The update from the stored attributes of `previous` to those of `next`: every attribute of `next` set,
/// those that `previous` had and `next` has not removed. Keys stay; attributes neither knows (the inline
/// records, anything a newer version added) are kept.
fn update_of(next: &Item, previous: &Item, expected: u64) -> UpdateOf {
    let mut names = HashMap::from([("#version".to_owned(), "version".to_owned())]);
    let mut values = HashMap::from([(":expected".to_owned(), AttributeValue::N(expected.to_string()))]);
    let mut set: Vec<&String> = next.keys().filter(|k| *k != "pk" && *k != "sk").collect();
    set.sort();
    let mut sets = Vec::with_capacity(set.len());
    for (i, name) in set.into_iter().enumerate() {
        names.insert(format!("#s{i}"), name.clone());
        values.insert(format!(":s{i}"), next[name].clone());
        sets.push(format!("#s{i} = :s{i}"));
    }
    let mut gone: Vec<&String> =
        previous.keys().filter(|k| !next.contains_key(*k) && *k != "pk" && *k != "sk").collect();
    gone.sort();
    let mut removes = Vec::with_capacity(gone.len());
    for (i, name) in gone.into_iter().enumerate() {
        names.insert(format!("#r{i}"), name.clone());
        removes.push(format!("#r{i}"));
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    UpdateOf { expression, names, values }
}

/// The sort key of a log entry's own item: by time, then a random suffix.
fn event_sk(event: &Event) -> String {
    format!("EVENT#{}#{}", timestamp::format(event.at), &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A record as kept inline: without the partition key, which is the incident item's.
fn without_key(record: &Item) -> Item {
    record.iter().filter(|(k, _)| *k != "pk").map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Separate records and the inline one merged in key order, as a query of the separate records alone would
/// have listed them had the inline one been separate; a record both inline and separate is listed once.
fn merge_records(mut items: Vec<Item>, inline: Option<Item>) -> Vec<Item> {
    if let Some(record) = inline {
        let sk = string(&record, "sk");
        if sk.is_none() || !items.iter().any(|i| string(i, "sk") == sk) {
            items.push(record);
        }
    }
    items.sort_by_key(|i| string(i, "sk"));
    items
}

/// An item's size as DynamoDB counts it (attribute names plus values), near enough to keep clear of its
/// 400 KB limit.
fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        _ => 0,
    }
}

/// The index key of an item of `by-created`, to continue a listing after it.
fn item_key(item: &Item) -> Item {
    ["pk", "sk", "record_type", "created_at"]
        .into_iter()
        .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect()
}

fn encode_token(key: &Item) -> String {
    let plain: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.as_str(), s.as_str())),
            _ => None,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).unwrap_or_default())
}

fn decode_token(token: &str) -> Result<Item, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|e| StoreError::BadToken(e.to_string()))?;
    let plain: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::BadToken(e.to_string()))?;
    if !["pk", "sk", "record_type", "created_at"].iter().all(|k| plain.contains_key(*k)) {
        return Err(StoreError::BadToken("it does not hold a listing position".into()));
    }
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[cfg(test)]
mod tests {
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

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned()))).collect()
    }

    #[test]
    fn updates_set_what_the_incident_has_and_remove_what_it_lost() {
        let previous = item(&[("pk", "P"), ("sk", "INCIDENT"), ("status", "open"), ("escalate_at", "t")]);
        let next = item(&[("pk", "P"), ("sk", "INCIDENT"), ("status", "acknowledged"), ("assignee", "ann")]);
        let update = update_of(&next, &previous, 4);
        assert_eq!(update.expression, "SET #s0 = :s0, #s1 = :s1 REMOVE #r0");
        assert_eq!(update.names["#s0"], "assignee");
        assert_eq!(update.names["#s1"], "status");
        assert_eq!(update.names["#r0"], "escalate_at");
        assert_eq!(update.names["#version"], "version");
        assert_eq!(update.values[":s1"], AttributeValue::S("acknowledged".into()));
        assert_eq!(update.values[":expected"], AttributeValue::N("4".into()));
        // Keys are never set, and nothing unknown to both (the inline records) is touched.
        assert!(!update.names.values().any(|n| n == "pk" || n == "sk" || n == ATTR_INLINE_EVIDENCE));
        let same = update_of(&next, &next, 1);
        assert!(!same.expression.contains("REMOVE"));
    }

    #[test]
    fn inline_records_merge_in_key_order_once() {
        let separate = vec![item(&[("sk", "EVENT#2026-01-02#b")]), item(&[("sk", "EVENT#2026-01-03#c")])];
        let inline = item(&[("sk", "EVENT#2026-01-01#a")]);
        let merged = merge_records(separate.clone(), Some(inline.clone()));
        let sks: Vec<_> = merged.iter().filter_map(|i| string(i, "sk")).collect();
        assert_eq!(sks, ["EVENT#2026-01-01#a", "EVENT#2026-01-02#b", "EVENT#2026-01-03#c"]);
        // Evidence kept again separately (a redelivery) is listed once.
        let twice = merge_records(vec![inline.clone()], Some(inline));
        assert_eq!(twice.len(), 1);
        assert_eq!(merge_records(separate.clone(), None), separate);
    }

    #[test]
    fn item_size_counts_names_and_values_so_large_evidence_is_not_inlined() {
        let small = item(&[("ab", "cde")]);
        assert_eq!(item_size(&small), 5);
        let mut with_map = small.clone();
        with_map.insert("m".into(), AttributeValue::M(item(&[("x", "yz")])));
        assert_eq!(item_size(&with_map), 5 + 1 + 3 + 1 + 1 + 2);
        let body = "x".repeat(300 * 1024);
        let evidence = Evidence::of("i", None, &body, Utc::now());
        let mut big = small.clone();
        big.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(serde_dynamo::to_item(&evidence).unwrap()));
        assert!(item_size(&big) > INLINE_ITEM_MAX);
        let typical = Evidence::of("i", None, &"x".repeat(8 * 1024), Utc::now());
        let mut ok = small;
        ok.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(serde_dynamo::to_item(&typical).unwrap()));
        assert!(item_size(&ok) <= INLINE_ITEM_MAX);
    }

    #[test]
    fn listing_tokens_round_trip_and_reject_garbage() {
        let key: Item = [("pk", "INC#a#b#c"), ("sk", "INCIDENT"), ("record_type", "incident"), ("created_at", "2026")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
            .collect();
        assert_eq!(decode_token(&encode_token(&key)).unwrap(), key);
        assert!(matches!(decode_token("not a token!"), Err(StoreError::BadToken(_))));
        assert!(matches!(decode_token(&encode_token(&HashMap::new())), Err(StoreError::BadToken(_))));
    }
}
