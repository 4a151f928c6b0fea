//! Reading incidents: by key, by id, their log and evidence, listings, and the re-pages due.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{Cursor, Item, Position, decode_token, encode_token, item_key, merge_records, string};
use super::{
    ATTR_INLINE_EVENT, ATTR_INLINE_EVIDENCE, ESCALATION_DUE, INDEX_BY_CREATED, INDEX_BY_ESCALATION, INDEX_BY_ID,
    RECORD_INCIDENT, SK_INCIDENT, Store, StoreError,
};
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident};
use crate::domain::lifecycle;
use crate::domain::timestamp;

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

    /// Whether partition `pk` is a confidential report's (see [`lifecycle::is_confidential_id`]).
    pub fn pk_is_confidential(pk: &str) -> bool {
        pk.strip_prefix("INC#")
            .and_then(|rest| rest.strip_prefix(lifecycle::STAFF_ACCOUNT))
            .and_then(|rest| rest.strip_prefix('#'))
            .and_then(|rest| rest.split_once('#'))
            .is_some_and(|(_region, id)| lifecycle::is_confidential_id(id))
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

/// Incidents of one table for a listing, each with its index key.
pub(super) struct Batch {
    pub(super) incidents: Vec<(Incident, Item)>,
    /// The table may hold more after the last.
    pub(super) more: bool,
}

impl Batch {
    fn ended() -> Batch {
        Batch { incidents: Vec::new(), more: false }
    }
}

/// A page of a listing.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Newest first.
    pub incidents: Vec<Incident>,
    /// Pass to the next call to continue; `None` at the end.
    pub next: Option<String>,
}

impl Store {
    /// Reads a finding's incident (strongly consistent).
    pub async fn load(&self, key: &IncidentKey) -> Result<Option<Incident>, StoreError> {
        let pk = key.pk();
        let table = self.table_of(&pk);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error(table, "GetItem", e))?;
        out.item.map(|item| self.decode_incident(item)).transpose()
    }

    /// Finds an incident by its `incident_id`.
    pub async fn find(&self, incident_id: &str) -> Result<Option<Incident>, StoreError> {
        let table = self.table_of_id(incident_id);
        let out = self
            .client
            .query()
            .table_name(table)
            .index_name(INDEX_BY_ID)
            .key_condition_expression("incident_id = :id AND sk = :sk")
            .expression_attribute_values(":id", AttributeValue::S(incident_id.to_owned()))
            .expression_attribute_values(":sk", AttributeValue::S(SK_INCIDENT.into()))
            .send()
            .await
            .map_err(|e| self.aws_error(table, "Query", e))?;
        let Some(pk) = out.items().first().and_then(|i| string(i, "pk")) else {
            return Ok(None);
        };
        // The index is eventually consistent: read the item itself.
        let got = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error(table, "GetItem", e))?;
        got.item.map(|i| self.decode_incident(i)).transpose()
    }

    /// The record an incident item holds inline under `attribute`, if any.
    async fn inline_record(&self, pk: &str, attribute: &str) -> Result<Option<Item>, StoreError> {
        let table = self.table_of(pk);
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .projection_expression("#r")
            .expression_attribute_names("#r", attribute)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error(table, "GetItem", e))?;
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

    /// Up to `limit` incidents matching `filter`, newest first, from where `next` left off: the incident
    /// table's and, when the filter includes them and they have a table of their own, the confidential
    /// table's, merged.
    pub async fn list(&self, filter: &ListFilter, limit: usize, next: Option<&str>) -> Result<Listing, StoreError> {
        let position = match next {
            Some(token) => decode_token(token)?,
            None => Position::default(),
        };
        let confidential = self.confidential.as_deref().filter(|_| filter.confidential);
        let (main, secret) = match confidential {
            Some(table) => tokio::try_join!(
                self.newest(&self.table, filter, limit, &position.main),
                self.newest(table, filter, limit, &position.confidential),
            )?,
            None => (self.newest(&self.table, filter, limit, &position.main).await?, Batch::ended()),
        };
        // Both batches are newest first: take the newest of either until the page is full, noting the
        // last key taken from each, where that table's listing goes on.
        let (mut a, mut b) = (main.incidents.into_iter().peekable(), secret.incidents.into_iter().peekable());
        let (mut last_a, mut last_b) = (None, None);
        let mut incidents = Vec::new();
        while incidents.len() < limit {
            let from_a = match (a.peek(), b.peek()) {
                (Some((x, _)), Some((y, _))) => x.created_at >= y.created_at,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (source, last) = if from_a { (&mut a, &mut last_a) } else { (&mut b, &mut last_b) };
            if let Some((incident, key)) = source.next() {
                incidents.push(incident);
                *last = Some(key);
            }
        }
        let left = |last: Option<Item>, rest_empty: bool, more: bool, before: &Cursor| match last {
            _ if rest_empty && !more => Cursor::End,
            Some(key) => Cursor::After(key),
            None => before.clone(),
        };
        let after = Position {
            main: left(last_a, a.peek().is_none(), main.more, &position.main),
            confidential: match confidential {
                Some(_) => left(last_b, b.peek().is_none(), secret.more, &position.confidential),
                None => Cursor::End,
            },
        };
        let ended = after.main == Cursor::End && after.confidential == Cursor::End;
        Ok(Listing { incidents, next: (!ended).then(|| encode_token(&after)) })
    }

    /// Up to `limit` incidents of `table` matching `filter`, newest first, after `cursor`, each with its
    /// index key (to go on after it), and whether the table may hold more after the last.
    pub(super) async fn newest(
        &self,
        table: &str,
        filter: &ListFilter,
        limit: usize,
        cursor: &Cursor,
    ) -> Result<Batch, StoreError> {
        let mut start = match cursor {
            Cursor::End => return Ok(Batch::ended()),
            Cursor::Start => None,
            Cursor::After(key) => Some(key.clone()),
        };
        let mut incidents = Vec::new();
        loop {
            let mut q = self
                .client
                .query()
                .table_name(table)
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
            let out = q.send().await.map_err(|e| self.aws_error(table, "Query", e))?;
            let page_end = out.last_evaluated_key.clone();
            let items = out.items.unwrap_or_default();
            let count = items.len();
            for (n, item) in items.into_iter().enumerate() {
                let key = item_key(&item);
                let incident = self.decode_incident(item)?;
                let wanted = (filter.confidential || !incident.confidential)
                    && (filter.statuses.is_empty() || filter.statuses.iter().any(|s| s == incident.status.as_str()))
                    && (filter.severities.is_empty()
                        || filter.severities.iter().any(|s| s == incident.severity.as_str()));
                if wanted {
                    incidents.push((incident, key));
                }
                if incidents.len() >= limit {
                    return Ok(Batch { incidents, more: page_end.is_some() || n + 1 < count });
                }
            }
            match page_end {
                Some(key) => start = Some(key),
                None => return Ok(Batch { incidents, more: false }),
            }
        }
    }

    /// Incidents due at or before `now` (see [`Incident::due_at`]): a re-page is, or a page owed; in the
    /// incident table and the confidential table.
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
        let mut keys = self.due_in(&self.table, now).await?;
        if let Some(confidential) = &self.confidential {
            keys.extend(self.due_in(confidential, now).await?);
        }
        Ok(keys)
    }

    async fn due_in(&self, table: &str, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(table)
                .index_name(INDEX_BY_ESCALATION)
                .key_condition_expression("escalation_due = :due AND escalate_at <= :now")
                .expression_attribute_values(":due", AttributeValue::S(ESCALATION_DUE.into()))
                .expression_attribute_values(":now", AttributeValue::S(timestamp::format(now)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.aws_error(table, "Query", e))?;
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
