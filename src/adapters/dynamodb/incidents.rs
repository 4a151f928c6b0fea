//! Reading incidents: by key, by id, their log and evidence, listings, and the re-pages due.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{Item, Position, decode_token, encode_token, merge_records, string};
use super::listing::{TablePosition, escalation_shards};
use super::{
    ATTR_INLINE_EVENT, ATTR_INLINE_EVIDENCE, ATTR_PENDING_EVENT, INDEX_BY_ESCALATION, INDEX_BY_ID, SK_INCIDENT, Store,
    StoreError,
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
    /// Only incidents with these words (any case) in the title, id, finding type, resource, account or a
    /// person's name.
    pub text: Option<String>,
    /// Only staff reports by this person (their email, any case).
    pub reporter: Option<String>,
}

/// Incidents of one table for a listing, each with the position just after it.
pub(super) struct Batch {
    pub(super) incidents: Vec<(Incident, TablePosition)>,
    /// The position after all that was looked at.
    pub(super) end: TablePosition,
}

impl Batch {
    fn ended() -> Batch {
        Batch { incidents: Vec::new(), end: TablePosition::ended() }
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

    /// The records an incident item holds inline under `attributes`.
    async fn inline_records(&self, pk: &str, attributes: &[&str]) -> Result<Vec<Item>, StoreError> {
        let table = self.table_of(pk);
        let names = (0..attributes.len()).map(|i| format!("#r{i}")).collect::<Vec<_>>();
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(SK_INCIDENT.into()))
            .projection_expression(names.join(", "))
            .set_expression_attribute_names(Some(
                names.iter().zip(attributes).map(|(n, a)| (n.clone(), (*a).to_owned())).collect(),
            ))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws_error(table, "GetItem", e))?;
        let mut item = out.item.unwrap_or_default();
        Ok(attributes
            .iter()
            .filter_map(|a| match item.remove(*a) {
                Some(AttributeValue::M(record)) => Some(record),
                _ => None,
            })
            .collect())
    }

    /// The records of an incident under `prefix`, separate and inline, in key order.
    async fn records(&self, incident: &Incident, prefix: &str, attributes: &[&str]) -> Result<Vec<Item>, StoreError> {
        let pk = IncidentKey::of(incident).pk();
        let (items, inline) = tokio::try_join!(self.query_prefix(&pk, prefix), self.inline_records(&pk, attributes))?;
        Ok(merge_records(items, inline))
    }

    /// The incident's log, oldest first.
    pub async fn timeline(&self, incident: &Incident) -> Result<Vec<Event>, StoreError> {
        let items = self.records(incident, "EVENT#", &[ATTR_INLINE_EVENT, ATTR_PENDING_EVENT]).await?;
        items.into_iter().map(|i| self.decode(i)).collect()
    }

    /// The incident's evidence, oldest version first.
    pub async fn evidence(&self, incident: &Incident) -> Result<Vec<Evidence>, StoreError> {
        let items = self.records(incident, "EVIDENCE#", &[ATTR_INLINE_EVIDENCE]).await?;
        items.into_iter().map(|i| self.decode_evidence(i)).collect()
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
        // position after the last taken from each, where that table's listing goes on.
        let (main_end, secret_end) = (main.end, secret.end);
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
            if let Some((incident, after)) = source.next() {
                incidents.push(incident);
                *last = Some(after);
            }
        }
        // A table whose batch was all taken goes on after everything it looked at; else after the last taken.
        let left =
            |last: Option<TablePosition>, rest_empty: bool, end: TablePosition, before: &TablePosition| match last {
                _ if rest_empty => end,
                Some(after) => after,
                None => before.clone(),
            };
        let after = Position {
            main: left(last_a, a.peek().is_none(), main_end, &position.main),
            confidential: match confidential {
                Some(_) => left(last_b, b.peek().is_none(), secret_end, &position.confidential),
                None => TablePosition::ended(),
            },
        };
        let ended = after.main.is_end() && after.confidential.is_end();
        Ok(Listing { incidents, next: (!ended).then(|| encode_token(&after)) })
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

    /// The due incidents of `table`, from every shard of `by-escalation` (and the one key items written
    /// before it was sharded still have, until their next change).
    async fn due_in(&self, table: &str, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
        let shards = escalation_shards().into_iter().map(|due| self.due_in_shard(table, due, now));
        let found = futures_util::future::try_join_all(shards).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn due_in_shard(&self, table: &str, due: String, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(table)
                .index_name(INDEX_BY_ESCALATION)
                .key_condition_expression("escalation_due = :due AND escalate_at <= :now")
                .expression_attribute_values(":due", AttributeValue::S(due.clone()))
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
