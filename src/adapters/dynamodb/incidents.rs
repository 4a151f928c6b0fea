//! Reading incidents: by key, by id, their log and evidence, listings, and the re-pages due.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{Item, decode_token, encode_token, item_key, merge_records, string};
use super::{
    ATTR_INLINE_EVENT, ATTR_INLINE_EVIDENCE, ESCALATION_DUE, INDEX_BY_CREATED, INDEX_BY_ESCALATION, INDEX_BY_ID,
    RECORD_INCIDENT, SK_INCIDENT, Store, StoreError,
};
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident};
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

impl Store {
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
            .map_err(|e| self.aws_error("GetItem", e))?;
        out.item.map(|item| self.decode_incident(item)).transpose()
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
            .map_err(|e| self.aws_error("Query", e))?;
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
            .map_err(|e| self.aws_error("GetItem", e))?;
        got.item.map(|i| self.decode_incident(i)).transpose()
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
            .map_err(|e| self.aws_error("GetItem", e))?;
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
            let out = q.send().await.map_err(|e| self.aws_error("Query", e))?;
            let page_end = out.last_evaluated_key.clone();
            let mut last_key = None;
            for item in out.items.unwrap_or_default() {
                if incidents.len() >= limit {
                    break;
                }
                last_key = Some(item_key(&item));
                let incident = self.decode_incident(item)?;
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

    /// Incidents due at or before `now` (see [`Incident::due_at`]): a re-page is, or a page owed.
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<IncidentKey>, StoreError> {
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
                .map_err(|e| self.aws_error("Query", e))?;
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
