//! Listing incidents newest first from the sharded `by-listing` index, without a hot partition.
//!
//! Every incident item carries `list_shard`: a number below [`LIST_SHARDS`] taken from its key, or
//! [`STAFF_SHARD`] for a staff report. Writes spread over the shards, so no index partition takes every
//! write (DynamoDB caps one partition at 1,000 write units a second); a listing reads every shard newest
//! first and merges them. The index projects only what a listing filters and searches on, so a listing
//! reads small entries and then the full items of the page alone; "my reports" reads the staff shard only.

use std::collections::{BTreeMap, HashMap, VecDeque};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::codec::{Cursor, Item, string};
use super::incidents::Batch;
use super::{ESCALATION_DUE, INDEX_BY_LISTING, ListFilter, SK_INCIDENT, Store, StoreError};
use crate::domain::incident::Incident;
use crate::domain::lifecycle::STAFF_ACCOUNT;
use crate::domain::timestamp;

/// The `by-listing` index's partition key attribute.
pub(super) const ATTR_LIST_SHARD: &str = "list_shard";
/// How many shards findings' incidents are spread over. Fixed for a table: a listing reads each of them.
pub const LIST_SHARDS: u32 = 8;
/// The shard of staff reports: few, and read alone for "my reports".
pub const STAFF_SHARD: &str = "staff";
/// Index entries read per query of one shard.
const SHARD_PAGE: i32 = 100;
/// Index entries DynamoDB looks through per query of one shard when it filters (at most 1 MB of them).
const FILTERED_PAGE: i32 = 2_000;
/// The lower-cased text a search looks in (see [`search_text`]).
pub(super) const ATTR_SEARCH_TEXT: &str = "search_text";
/// Index entries looked at, at most, for one call (a search that matches little goes on from there).
pub const SCAN_BUDGET: usize = 20_000;
/// Keys one `BatchGetItem` may ask for (DynamoDB's limit).
const BATCH_GET_MAX: usize = 100;
/// Rounds of one `BatchGetItem` for the keys DynamoDB left unprocessed, the first included.
const UNPROCESSED_ROUNDS: u32 = 5;
/// The wait before the second round, doubled before each further one (0.1 + 0.2 + 0.4 + 0.8 s at most).
const UNPROCESSED_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// The shard of an incident item: staff reports have theirs; a finding's is from its partition key (FNV-1a,
/// stable across builds and platforms, unlike the standard library's hasher).
pub(super) fn list_shard(pk: &str, account_id: &str) -> String {
    if account_id == STAFF_ACCOUNT {
        return STAFF_SHARD.to_owned();
    }
    let hash = pk.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    (hash % LIST_SHARDS).to_string()
}

/// The `by-escalation` partition of an incident item: its listing shard's, so that index has no hot
/// partition either.
pub(super) fn escalation_shard(list_shard: &str) -> String {
    format!("{ESCALATION_DUE}#{list_shard}")
}

/// Every `by-escalation` partition: one per listing shard, and the single one of items written before.
pub(super) fn escalation_shards() -> Vec<String> {
    let shards = (0..LIST_SHARDS).map(|n| n.to_string()).chain([STAFF_SHARD.to_owned()]);
    shards.map(|s| escalation_shard(&s)).chain([ESCALATION_DUE.to_owned()]).collect()
}

/// Every shard a listing reads, or the staff shard alone when only reports are wanted.
fn shards(filter: &ListFilter) -> Vec<String> {
    if filter.reporter.is_some() {
        return vec![STAFF_SHARD.to_owned()];
    }
    (0..LIST_SHARDS).map(|n| n.to_string()).chain([STAFF_SHARD.to_owned()]).collect()
}

/// Where a listing goes on in one table: a cursor per shard (a shard not named starts from its newest).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct TablePosition(pub(super) BTreeMap<String, Cursor>);

impl TablePosition {
    /// Nothing more in any shard.
    pub(super) fn ended() -> TablePosition {
        TablePosition(BTreeMap::from([("*".to_owned(), Cursor::End)]))
    }

    /// Whether every shard is done.
    pub(super) fn is_end(&self) -> bool {
        self.0.get("*") == Some(&Cursor::End)
    }

    fn cursor(&self, shard: &str) -> Cursor {
        if self.is_end() {
            return Cursor::End;
        }
        self.0.get(shard).cloned().unwrap_or_default()
    }
}

/// Whether an index entry passes the filter (its projected attributes).
fn wanted(entry: &Item, filter: &ListFilter) -> bool {
    let text = |k: &str| string(entry, k).unwrap_or_default();
    let confidential = matches!(entry.get("confidential"), Some(AttributeValue::Bool(true)));
    (filter.confidential || !confidential)
        && (filter.statuses.is_empty() || filter.statuses.contains(&text("status")))
        && (filter.severities.is_empty() || filter.severities.contains(&text("severity")))
        && filter.reporter.as_ref().is_none_or(|r| text("reported_by").trim().eq_ignore_ascii_case(r.trim()))
        && filter.text.as_ref().is_none_or(|q| matches_text(entry, q))
}

/// A `FilterExpression`: its conditions (joined with AND), attribute names and values.
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

/// The `FilterExpression` of a listing's filter (`reporter` is checked here, the staff shard being small).
fn filter_expression(filter: &ListFilter) -> Filter {
    let Filter { mut conditions, mut names, mut values } = Filter::default();
    for (name, wanted) in [("status", &filter.statuses), ("severity", &filter.severities)] {
        if wanted.is_empty() {
            continue;
        }
        let keys: Vec<String> = (0..wanted.len()).map(|i| format!(":{name}{i}")).collect();
        conditions.push(format!("#{name} IN ({})", keys.join(", ")));
        names.push((format!("#{name}"), name.to_owned()));
        values.extend(keys.into_iter().zip(wanted.iter().map(|v| AttributeValue::S(v.clone()))));
    }
    if !filter.confidential {
        conditions.push("(attribute_not_exists(confidential) OR confidential = :no)".to_owned());
        values.push((":no".to_owned(), AttributeValue::Bool(false)));
    }
    if let Some(text) = filter.text.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
        conditions.push(format!("contains({ATTR_SEARCH_TEXT}, :q)"));
        values.push((":q".to_owned(), AttributeValue::S(text)));
    }
    Filter { conditions, names, values }
}

/// The search: the words, in any case, within the title, id, finding type, resource, account or a person's
/// name (all in `search_text`).
fn matches_text(entry: &Item, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty() || string(entry, ATTR_SEARCH_TEXT).is_some_and(|t| t.contains(&q))
}

/// The attributes of an incident item a search looks in, as `search_text` holds them.
pub(super) const SEARCHED: [&str; 8] =
    ["title", "incident_id", "finding_type", "resource", "account_id", "assignee", "acknowledged_by", "reported_by"];

/// What a search looks in: the [`SEARCHED`] attributes an incident item has, lower-cased, one a line.
pub(super) fn search_text(item: &Item) -> String {
    search_text_of(SEARCHED.map(|k| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }))
}

/// The [`search_text`] of an incident's item, from the incident.
pub(super) fn incident_search_text(i: &Incident) -> String {
    // In the order of SEARCHED.
    search_text_of([
        Some(i.title.as_str()),
        Some(i.incident_id.as_str()),
        Some(i.finding_type.as_str()),
        Some(i.resource.as_str()),
        Some(i.account_id.as_str()),
        i.assignee.as_deref(),
        i.acknowledged_by.as_deref(),
        i.reported_by.as_deref(),
    ])
}

fn search_text_of(fields: [Option<&str>; SEARCHED.len()]) -> String {
    let fields = fields.into_iter().flatten().filter(|f| !f.is_empty());
    fields.map(str::to_lowercase).collect::<Vec<_>>().join("\n")
}

/// One shard being read newest first.
struct Shard {
    name: String,
    /// Where its next query starts; `None`: its newest.
    start: Option<Item>,
    /// Entries read and not yet merged.
    buffer: VecDeque<Item>,
    /// No more to query.
    exhausted: bool,
}

/// The newest entry's position among the shards' heads: by `created_at`, then key, as the index orders them.
fn newest_head(shards: &[Shard]) -> Option<usize> {
    let key = |s: &Shard| s.buffer.front().map(|e| (string(e, "created_at"), string(e, "pk")));
    (0..shards.len()).filter(|i| !shards[*i].buffer.is_empty()).max_by(|a, b| key(&shards[*a]).cmp(&key(&shards[*b])))
}

impl Store {
    /// Reads one more page of a shard into its buffer; returns how many entries DynamoDB looked at. The filter
    /// is DynamoDB's too (a `FilterExpression` on the projected attributes), so a search returns its matches
    /// only, looking through up to [`FILTERED_PAGE`] entries a call.
    async fn fill(&self, table: &str, filter: &ListFilter, shard: &mut Shard) -> Result<usize, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(table)
            .index_name(INDEX_BY_LISTING)
            .scan_index_forward(false)
            .expression_attribute_values(":s", AttributeValue::S(shard.name.clone()))
            .set_exclusive_start_key(shard.start.take());
        q = match filter.since {
            Some(since) => q
                .key_condition_expression("list_shard = :s AND created_at >= :since")
                .expression_attribute_values(":since", AttributeValue::S(timestamp::format(since))),
            None => q.key_condition_expression("list_shard = :s"),
        };
        let Filter { conditions, names, values } = filter_expression(filter);
        for (k, v) in names {
            q = q.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            q = q.expression_attribute_values(k, v);
        }
        q = if conditions.is_empty() {
            q.limit(SHARD_PAGE)
        } else {
            q.filter_expression(conditions.join(" AND ")).limit(FILTERED_PAGE)
        };
        let out = q.send().await.map_err(|e| self.aws_error(table, "Query", e))?;
        let scanned = usize::try_from(out.scanned_count).unwrap_or(0);
        shard.buffer.extend(out.items.unwrap_or_default());
        shard.start = out.last_evaluated_key;
        shard.exhausted = shard.start.is_none();
        Ok(scanned)
    }

    /// Up to `limit` incidents of `table` matching `filter`, newest first, from `from`: each with the
    /// position just after it, and the position after all that was looked at. Looks at no more than
    /// [`SCAN_BUDGET`] entries.
    pub(super) async fn newest(
        &self,
        table: &str,
        filter: &ListFilter,
        limit: usize,
        from: &TablePosition,
    ) -> Result<Batch, StoreError> {
        let mut shards: Vec<Shard> = shards(filter)
            .into_iter()
            .filter_map(|name| match from.cursor(&name) {
                Cursor::End => None,
                Cursor::Start => Some(Shard { name, start: None, buffer: VecDeque::new(), exhausted: false }),
                Cursor::After(key) => Some(Shard { name, start: Some(key), buffer: VecDeque::new(), exhausted: false }),
            })
            .collect();
        let mut position = from.clone();
        let scanned =
            futures_util::future::try_join_all(shards.iter_mut().map(|s| self.fill(table, filter, s))).await?;
        let mut looked: usize = scanned.iter().sum();
        let mut found: Vec<(Item, TablePosition)> = Vec::new();
        loop {
            // Every shard that may hold something newer must show its head before one is taken.
            for shard in shards.iter_mut().filter(|s| s.buffer.is_empty() && !s.exhausted) {
                if looked >= SCAN_BUDGET {
                    break;
                }
                looked += self.fill(table, filter, shard).await?;
            }
            if looked >= SCAN_BUDGET && shards.iter().any(|s| s.buffer.is_empty() && !s.exhausted) {
                break;
            }
            let Some(i) = newest_head(&shards) else {
                break;
            };
            let Some(entry) = shards[i].buffer.pop_front() else {
                break;
            };
            let ended = shards[i].buffer.is_empty() && shards[i].exhausted;
            let cursor = if ended { Cursor::End } else { Cursor::After(listing_key(&entry)) };
            position.0.insert(shards[i].name.clone(), cursor);
            if wanted(&entry, filter) {
                found.push((entry, position.clone()));
            }
            if found.len() >= limit {
                break;
            }
        }
        // A shard read to its end, or past entries that did not match, goes on from there.
        for shard in shards.iter().filter(|s| s.buffer.is_empty()) {
            let cursor = match &shard.start {
                _ if shard.exhausted => Cursor::End,
                Some(key) => Cursor::After(listing_key(key)),
                None => continue,
            };
            position.0.insert(shard.name.clone(), cursor);
        }
        let all_ended = shards.iter().all(|s| s.buffer.is_empty() && s.exhausted);
        let end = if all_ended { TablePosition::ended() } else { position };
        let incidents = self.full_items(table, found).await?;
        Ok(Batch { incidents, end })
    }

    /// The incidents of index entries, read whole (the index holds only what a listing filters on), in the
    /// entries' order: one `BatchGetItem` per [`BATCH_GET_MAX`] entries, so a page of 50 is one call, where 50
    /// `GetItem`s took 1.5 s on a loaded LocalStack. What DynamoDB leaves unprocessed (throttled, or past its
    /// 16 MB a call) is asked for again after a backoff, [`UNPROCESSED_ROUNDS`] times at most.
    async fn full_items(
        &self,
        table: &str,
        entries: Vec<(Item, TablePosition)>,
    ) -> Result<Vec<(Incident, TablePosition)>, StoreError> {
        let pk_of = |entry: &Item| string(entry, "pk").unwrap_or_default();
        let mut found: HashMap<String, Item> = HashMap::with_capacity(entries.len());
        for chunk in entries.chunks(BATCH_GET_MAX) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|(entry, _)| {
                    Item::from([
                        ("pk".to_owned(), AttributeValue::S(pk_of(entry))),
                        ("sk".to_owned(), AttributeValue::S(SK_INCIDENT.into())),
                    ])
                })
                .collect();
            for round in 0.. {
                if keys.is_empty() {
                    break;
                }
                if round == UNPROCESSED_ROUNDS {
                    let source = Unprocessed { left: keys.len(), rounds: UNPROCESSED_ROUNDS };
                    return Err(StoreError::Aws { op: "BatchGetItem", table: table.to_owned(), source: source.into() });
                }
                if round > 0 {
                    tokio::time::sleep(UNPROCESSED_BACKOFF * 2u32.pow(round - 1)).await;
                }
                let wanted = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(|e| StoreError::Aws { op: "BatchGetItem", table: table.to_owned(), source: e.into() })?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(table, wanted)
                    .send()
                    .await
                    .map_err(|e| self.aws_error(table, "BatchGetItem", e))?;
                for item in out.responses.and_then(|mut r| r.remove(table)).unwrap_or_default() {
                    found.insert(pk_of(&item), item);
                }
                keys = out.unprocessed_keys.and_then(|mut u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
            }
        }
        entries
            .into_iter()
            // Listed by the index, gone from the table: nothing deletes incidents but a confidential report's
            // move, which lists it in its new table.
            .filter_map(|(entry, after)| found.remove(&pk_of(&entry)).map(|item| (item, after)))
            .map(|(item, after)| Ok((self.decode_incident(item)?, after)))
            .collect()
    }
}

/// Keys DynamoDB still left unprocessed after every round of a `BatchGetItem`.
#[derive(Debug, thiserror::Error)]
#[error("{left} keys still unprocessed after {rounds} rounds (throttled, or past 16 MB a call)")]
struct Unprocessed {
    left: usize,
    rounds: u32,
}

/// The index key of an entry of `by-listing`, to go on after it.
pub(super) fn listing_key(item: &Item) -> Item {
    LISTING_KEY.into_iter().filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone()))).collect()
}

/// The attributes of a `by-listing` position.
pub(super) const LISTING_KEY: [&str; 4] = ["pk", "sk", ATTR_LIST_SHARD, "created_at"];

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned()))).collect()
    }

    #[test]
    fn findings_spread_over_every_shard_and_staff_reports_keep_to_theirs() {
        let mut seen = std::collections::BTreeMap::new();
        for n in 0..4000 {
            *seen.entry(list_shard(&format!("INC#123456789012#us-east-1#{n:032x}"), "123456789012")).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), LIST_SHARDS as usize, "{seen:?}");
        // No shard takes more than a fair share and a half of the writes.
        assert!(seen.values().all(|c| *c < 4000 / LIST_SHARDS as usize * 3 / 2), "{seen:?}");
        assert_eq!(list_shard("INC#staff#eu-west-1#r-1", STAFF_ACCOUNT), STAFF_SHARD);
        assert_eq!(list_shard("INC#1#r#f", "1"), list_shard("INC#1#r#f", "1"), "stable");
        // The escalation index's partitions follow, and the one partition of before is still read.
        assert_eq!(escalation_shard("3"), "due#3");
        assert!(
            escalation_shards().contains(&"due#staff".to_owned()) && escalation_shards().contains(&"due".to_owned())
        );
        assert_eq!(escalation_shards().len(), LIST_SHARDS as usize + 2);
    }

    #[test]
    fn the_filter_reads_the_projection() {
        let e = entry(&[
            ("status", "open"),
            ("severity", "HIGH"),
            (
                "search_text",
                &search_text(&entry(&[("title", "Backdoor on i-0abc"), ("reported_by", "ann@example.com")])),
            ),
            ("reported_by", " Ann@Example.com"),
        ]);
        let f = |statuses: &[&str], text: Option<&str>, reporter: Option<&str>| ListFilter {
            statuses: statuses.iter().map(|s| (*s).to_owned()).collect(),
            text: text.map(str::to_owned),
            reporter: reporter.map(str::to_owned),
            ..ListFilter::default()
        };
        assert!(wanted(&e, &f(&[], None, None)));
        assert!(wanted(&e, &f(&["open"], Some("BACKDOOR"), Some("ann@example.com"))));
        assert!(!wanted(&e, &f(&["closed"], None, None)));
        assert!(!wanted(&e, &f(&[], Some("bitcoin"), None)));
        assert!(!wanted(&e, &f(&[], None, Some("bob@example.com"))));
        let mut secret = e.clone();
        secret.insert("confidential".into(), AttributeValue::Bool(true));
        assert!(!wanted(&secret, &f(&[], None, None)), "hidden unless the filter includes them");
        assert!(wanted(&secret, &ListFilter { confidential: true, ..ListFilter::default() }));
    }

    #[test]
    fn positions_start_at_the_newest_and_end_everywhere() {
        let p = TablePosition::default();
        assert_eq!(p.cursor("3"), Cursor::Start);
        assert_eq!(TablePosition::ended().cursor("3"), Cursor::End);
        let key = entry(&[("pk", "p"), ("sk", "INCIDENT"), (ATTR_LIST_SHARD, "3"), ("created_at", "t"), ("x", "y")]);
        let mut p = TablePosition::default();
        p.0.insert("3".into(), Cursor::After(listing_key(&key)));
        assert!(matches!(p.cursor("3"), Cursor::After(k) if k.len() == 4));
    }
}
