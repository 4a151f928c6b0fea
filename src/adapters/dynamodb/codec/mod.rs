//! Records as DynamoDB items and back: attribute encoding, item sizes, update expressions, the merging of
//! inline records, and listing tokens.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::Serialize;

use super::attrs::{Attrs, Rename};
use super::deflate::{deflate, inflate};
use super::listing::{
    ATTR_LIST_SHARD, ATTR_SEARCH_TEXT, LISTING_KEY, TablePosition, escalation_shard, incident_search_text, list_shard,
};
use super::{RECORD_EVIDENCE, RECORD_INCIDENT, SK_INCIDENT, Store, StoreError};
use crate::domain::evidence::Evidence;
use crate::domain::incident::Incident;
use crate::domain::timestamp;

/// The sort key of the `by-escalation` index: when the daemon must next look at the incident.
const ATTR_DUE_AT: &str = "escalate_at";
/// The `by-escalation` index's partition key: a shard of the incidents the daemon must look at.
const ATTR_ESCALATION_DUE: &str = "escalation_due";
/// The incident's re-page time, on items whose `escalate_at` holds the index's key.
const ATTR_REPAGE_AT: &str = "repage_at";
/// The `by-resource` index's partition key: [`Incident::open_resource_key`], on open incidents only.
pub(super) const ATTR_OPEN_RESOURCE: &str = "open_resource";

/// Evidence bodies longer than this (bytes) are kept deflated.
const DEFLATE_ABOVE: usize = 512;
/// The attribute naming the incident of a piece of evidence.
pub(super) const ATTR_EVIDENCE_OF: &str = "evidence_of";
/// The attribute of a deflated evidence body.
const ATTR_BODY_DEFLATE: &str = "body_deflate";
/// The largest body an evidence item inflates to: SQS's largest message (1 MiB), with room.
const INFLATE_LIMIT: usize = 2 * 1024 * 1024;

/// One DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// The string attribute `key` of `item`, if it has one.
pub(super) fn string(item: &Item, key: &str) -> Option<String> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

impl Store {
    /// The record an item holds; an item that does not decode is [`StoreError::Corrupt`].
    pub(super) fn decode<T: serde::de::DeserializeOwned>(&self, item: Item) -> Result<T, StoreError> {
        let pk = string(&item, "pk").unwrap_or_else(|| "(no pk)".into());
        serde_dynamo::from_item(item).map_err(|e| self.corrupt(&pk, e))
    }

    /// The incident an incident item holds: as [`Store::decode`], with the re-page time read back from
    /// `repage_at` where the item has it (see [`Store::incident_item`]).
    pub(super) fn decode_incident(&self, mut item: Item) -> Result<Incident, StoreError> {
        if let Some(repage) = item.remove(ATTR_REPAGE_AT) {
            match repage {
                AttributeValue::S(_) => item.insert(ATTR_DUE_AT.into(), repage),
                _ => item.remove(ATTR_DUE_AT),
            };
        }
        self.decode(item)
    }

    /// The item of an incident. The incidents the daemon must look at carry the sparse `by-escalation`
    /// index's keys: `escalation_due`, and as sort key `escalate_at` = [`Incident::due_at`] (a re-page due,
    /// or an owed page whose claim lapses); the re-page time itself is then kept in `repage_at` (NULL when
    /// none). Items written before owed pages were indexed have `escalate_at` alone, the re-page time, which
    /// reads back the same.
    pub(super) fn incident_item(&self, incident: &Incident) -> Result<Item, StoreError> {
        let pk = super::IncidentKey::of(incident).pk();
        let mut item = self.encode(incident, &pk, SK_INCIDENT, RECORD_INCIDENT)?;
        let keys = IndexKeys::of(incident, &pk);
        if let Some(key) = keys.open_resource {
            item.insert(ATTR_OPEN_RESOURCE.into(), AttributeValue::S(key));
        }
        if let Some(due) = keys.due {
            item.insert(ATTR_ESCALATION_DUE.into(), AttributeValue::S(due.shard));
            item.insert(ATTR_DUE_AT.into(), AttributeValue::S(due.at));
            item.insert(ATTR_REPAGE_AT.into(), due.repage_at.map_or(AttributeValue::Null(true), AttributeValue::S));
        }
        item.insert(ATTR_LIST_SHARD.into(), AttributeValue::S(keys.list_shard));
        item.insert(ATTR_SEARCH_TEXT.into(), AttributeValue::S(keys.search_text));
        Ok(item)
    }

    /// [`Store::incident_item`] written as DynamoDB JSON.
    pub(super) fn incident_attrs(&self, incident: &Incident, pk: &str) -> Result<Attrs, StoreError> {
        let keys = IndexKeys::of(incident, pk);
        // `escalate_at` is the index's key when the incident is due: then not the incident's own field.
        let renames: &[Rename] = if keys.due.is_some() { &[(ATTR_DUE_AT, None)] } else { &[] };
        let mut item = self.record_attrs(incident, Some(pk), SK_INCIDENT, RECORD_INCIDENT, renames, 4096)?;
        if let Some(key) = &keys.open_resource {
            item.string(ATTR_OPEN_RESOURCE, key);
        }
        if let Some(due) = &keys.due {
            item.string(ATTR_ESCALATION_DUE, &due.shard);
            item.string(ATTR_DUE_AT, &due.at);
            item.string_or_null(ATTR_REPAGE_AT, due.repage_at.as_deref());
        }
        item.string(ATTR_LIST_SHARD, &keys.list_shard);
        item.string(ATTR_SEARCH_TEXT, &keys.search_text);
        Ok(item)
    }

    /// The item of one piece of evidence: its body deflated into `body_deflate` when that saves room (see
    /// `deflate`); its hash is of the body as received, so [`Evidence::verify`] still proves it whole once
    /// inflated.
    pub(super) fn evidence_item(&self, evidence: &Evidence, pk: &str) -> Result<Item, StoreError> {
        let mut item = self.encode(evidence, pk, &evidence.sk(), RECORD_EVIDENCE)?;
        // Not under `incident_id`, which would put every piece of evidence in `by-incident-id` too.
        if let Some(id) = item.remove("incident_id") {
            item.insert(ATTR_EVIDENCE_OF.into(), id);
        }
        if let Some(deflated) = deflated_body(evidence) {
            item.remove("body");
            item.insert(ATTR_BODY_DEFLATE.into(), AttributeValue::B(Blob::new(deflated)));
        }
        Ok(item)
    }

    /// [`Store::evidence_item`] written as DynamoDB JSON; without `pk` when it is kept inline.
    pub(super) fn evidence_attrs(&self, evidence: &Evidence, pk: Option<&str>) -> Result<Attrs, StoreError> {
        let deflated = deflated_body(evidence);
        let renames: &[Rename] = match deflated {
            Some(_) => &[("incident_id", Some(ATTR_EVIDENCE_OF)), ("body", None)],
            None => &[("incident_id", Some(ATTR_EVIDENCE_OF))],
        };
        let capacity = 512 + deflated.as_ref().map_or(evidence.body.len() * 11 / 10, |d| d.len() * 4 / 3);
        let mut item = self.record_attrs(evidence, pk, &evidence.sk(), RECORD_EVIDENCE, renames, capacity)?;
        if let Some(deflated) = &deflated {
            item.binary(ATTR_BODY_DEFLATE, deflated);
        }
        Ok(item)
    }

    /// The evidence an item holds, its body inflated if it was deflated.
    pub(super) fn decode_evidence(&self, mut item: Item) -> Result<Evidence, StoreError> {
        if let Some(id) = item.remove(ATTR_EVIDENCE_OF) {
            item.insert("incident_id".into(), id);
        }
        if let Some(AttributeValue::B(deflated)) = item.remove(ATTR_BODY_DEFLATE) {
            let pk = string(&item, "pk").unwrap_or_else(|| "(no pk)".into());
            let body = inflate(deflated.as_ref(), INFLATE_LIMIT)
                .map_err(|e| self.corrupt(&pk, format!("evidence body does not inflate: {e}")))?;
            let body = String::from_utf8(body).map_err(|e| self.corrupt(&pk, format!("evidence body: {e}")))?;
            item.insert("body".into(), AttributeValue::S(body));
        }
        self.decode(item)
    }

    /// The item of a record, with its keys and `record_type`.
    pub(super) fn encode<T: Serialize>(
        &self,
        value: &T,
        pk: &str,
        sk: &str,
        record_type: &str,
    ) -> Result<Item, StoreError> {
        let mut item: Item =
            serde_dynamo::to_item(value).map_err(|e| self.corrupt(pk, format!("cannot encode: {e}")))?;
        item.insert("pk".into(), AttributeValue::S(pk.to_owned()));
        item.insert("sk".into(), AttributeValue::S(sk.to_owned()));
        item.insert("record_type".into(), AttributeValue::S(record_type.to_owned()));
        Ok(item)
    }

    /// [`Store::encode`] written as DynamoDB JSON, with `renames` of the record's fields; without `pk` when the
    /// record is kept inline. `capacity`: the bytes of JSON expected.
    pub(super) fn record_attrs<T: Serialize>(
        &self,
        value: &T,
        pk: Option<&str>,
        sk: &str,
        record_type: &str,
        renames: &[Rename],
        capacity: usize,
    ) -> Result<Attrs, StoreError> {
        let mut item = Attrs::with_capacity(capacity);
        let corrupt = |e| self.corrupt(pk.unwrap_or(sk), format!("cannot encode: {e}"));
        item.fields(value, renames).map_err(corrupt)?;
        if let Some(pk) = pk {
            item.string("pk", pk);
        }
        item.string("sk", sk);
        item.string("record_type", record_type);
        Ok(item)
    }
}

/// The attributes of an incident item that are not the incident's fields: the keys of its indexes.
struct IndexKeys {
    /// The sharded `by-listing` index: every incident, newest first.
    list_shard: String,
    /// The sparse `by-resource` index: open incidents by what they are about.
    open_resource: Option<String>,
    /// The sparse `by-escalation` index, when the daemon must look at the incident.
    due: Option<Due>,
    /// What a search looks in.
    search_text: String,
}

/// The `by-escalation` attributes of an incident that is due.
struct Due {
    /// `escalation_due`: its shard.
    shard: String,
    /// `escalate_at`: when it is due ([`Incident::due_at`]).
    at: String,
    /// `repage_at`: its own re-page time ([`Incident::escalate_at`]).
    repage_at: Option<String>,
}

impl IndexKeys {
    fn of(incident: &Incident, pk: &str) -> IndexKeys {
        let list_shard = list_shard(pk, &incident.account_id);
        let due = incident.due_at().map(|at| Due {
            shard: escalation_shard(&list_shard),
            at: timestamp::format(at),
            repage_at: incident.escalate_at.map(timestamp::format),
        });
        IndexKeys {
            open_resource: incident.open_resource_key(),
            due,
            search_text: incident_search_text(incident),
            list_shard,
        }
    }
}

/// The evidence's body deflated, when it is kept so: longer than [`DEFLATE_ABOVE`] and smaller deflated.
fn deflated_body(evidence: &Evidence) -> Option<Vec<u8>> {
    if evidence.body.len() <= DEFLATE_ABOVE {
        return None;
    }
    deflate(evidence.body.as_bytes()).filter(|d| d.len() < evidence.body.len())
}

/// An `UpdateItem` that makes the incident item hold `next`'s attributes, if still at `expected` version.
#[derive(Debug, PartialEq)]
pub(super) struct UpdateOf {
    pub(super) expression: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
}

/// The update from the stored attributes of `previous` to those of `next`: every attribute of `next` set,
/// those that `previous` had and `next` has not removed. Keys stay; attributes neither knows (the inline
/// records, anything a newer version added) are kept.
pub(super) fn update_of(next: &Item, previous: &Item, expected: u64) -> UpdateOf {
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

/// A record as kept inline: without the partition key, which is the incident item's.
pub(super) fn without_key(record: &Item) -> Item {
    record.iter().filter(|(k, _)| *k != "pk").map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Separate records and inline ones merged in key order, as a query of the separate records alone would have
/// listed them had the inline ones been separate; a record both inline and separate is listed once.
pub(super) fn merge_records(mut items: Vec<Item>, inline: Vec<Item>) -> Vec<Item> {
    for record in inline {
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
pub(super) fn item_size(item: &Item) -> usize {
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

/// Where a listing goes on in one shard of a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) enum Cursor {
    /// From the newest.
    #[default]
    Start,
    /// After this index key.
    After(Item),
    /// Nothing more.
    End,
}

/// Where a listing goes on in the incident table and in the confidential table.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Position {
    /// In the incident table.
    pub main: TablePosition,
    /// In the confidential table.
    pub confidential: TablePosition,
}

fn cursor_json(cursor: &Cursor) -> Option<serde_json::Value> {
    match cursor {
        Cursor::Start => None,
        Cursor::End => Some(serde_json::Value::from("end")),
        Cursor::After(key) => Some(
            key.iter()
                .filter_map(|(k, v)| match v {
                    AttributeValue::S(s) => Some((k.clone(), serde_json::Value::from(s.as_str()))),
                    _ => None,
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        ),
    }
}

fn cursor_of(value: &serde_json::Value) -> Result<Cursor, StoreError> {
    let bad = || StoreError::BadToken("it does not hold a listing position".into());
    match value {
        serde_json::Value::String(s) if s == "end" => Ok(Cursor::End),
        serde_json::Value::Object(map) => {
            let mut key = Item::new();
            for k in LISTING_KEY {
                let v = map.get(k).and_then(|v| v.as_str()).ok_or_else(bad)?;
                key.insert(k.to_owned(), AttributeValue::S(v.to_owned()));
            }
            Ok(Cursor::After(key))
        }
        _ => Err(bad()),
    }
}

fn position_json(position: &TablePosition) -> serde_json::Value {
    position
        .0
        .iter()
        .filter_map(|(shard, c)| Some((shard.clone(), cursor_json(c)?)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn position_of(value: Option<&serde_json::Value>) -> Result<TablePosition, StoreError> {
    match value {
        None => Ok(TablePosition::default()),
        Some(serde_json::Value::Object(map)) => {
            map.iter().map(|(shard, c)| Ok((shard.clone(), cursor_of(c)?))).collect::<Result<_, _>>().map(TablePosition)
        }
        Some(_) => Err(StoreError::BadToken("it does not hold a listing position".into())),
    }
}

pub(super) fn encode_token(position: &Position) -> String {
    let map = serde_json::json!({ "main": position_json(&position.main), "confidential": position_json(&position.confidential) });
    let bytes = serde_json::to_vec(&map).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn decode_token(token: &str) -> Result<Position, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|e| StoreError::BadToken(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| StoreError::BadToken(e.to_string()))?;
    if !value.is_object() {
        return Err(StoreError::BadToken("it does not hold a listing position".into()));
    }
    Ok(Position { main: position_of(value.get("main"))?, confidential: position_of(value.get("confidential"))? })
}

#[cfg(test)]
mod tests;
