//! Incidents, their log and their evidence in one DynamoDB table, with conditional writes only, so that
//! redeliveries and concurrent daemons or responders never make two incidents of one finding or lose one
//! another's changes. Nothing here deletes anything.
//!
//! | record          | pk                                    | sk                              | file              |
//! |-----------------|---------------------------------------|---------------------------------|-------------------|
//! | incident        | `INC#<account>#<region>#<finding id>` | `INCIDENT`                      | `incidents`       |
//! | event           | same                                  | `EVENT#<rfc3339>#<random>`      | `incidents`       |
//! | evidence        | same                                  | `EVIDENCE#<updatedAt>#<sha256>` | `incidents`       |
//! | sequence link   | a signal's incident pk                | `LINK#<sequence incident id>`   | `links`           |
//! | lease           | `LEASE#<name>`                        | `-`                             | `coordination`    |
//! | watermark       | `WATERMARK#<name>`                    | `-`                             | `coordination`    |
//! | pending archive | `ARCHIVE#pending`                     | the incident id                 | `coordination`    |
//!
//! An incident's records share its partition, so one consistent query reads its log or its evidence, and
//! one transaction can write it with them. The pending archives share one partition, so that the daemon
//! reads all of them with one query, without a scan; there are few at any time (one is cleared once done). Leases and watermarks are
//! single items read and written by name.
//!
//! A new incident's first log entry and evidence are kept on the incident item itself (the map attributes
//! `inline_event` and `inline_evidence`, each with the `sk` its own item would have), so that creating an
//! incident is one conditional `PutItem` rather than a three-item transaction; readers merge them with the
//! separate items. An incident whose first evidence is too large for that is created the old way. Updates
//! change the incident item in place (`UpdateItem`), so the inline records stay; an update's log entry rides
//! on the item as `pending_event` and is put as its own item right after (`commit`), so no update needs a
//! transaction, which DynamoDB bills twice. Evidence bodies are kept deflated when that is smaller
//! (`body_deflate`), and evidence and log entries carry no `incident_id`, so `by-incident-id` holds incidents
//! alone.
//!
//! Indexes: `by-incident-id` (incident_id, sk) finds an incident by its id; `by-listing` (list_shard,
//! created_at) lists incidents newest first over shards, with what lists filter and search on (`listing`);
//! `by-escalation` (escalation_due, escalate_at) is sparse and sharded like `by-listing`, and holds only the
//! incidents the daemon must look at, by when: a re-page scheduled, or a page still owed
//! (see `Store::incident_item`); `by-resource` (open_resource, created_at) is sparse too and holds the open
//! incidents by what they are about (`related`). Incidents written before an index existed join it at their
//! next change, or, for `by-listing`, at the daemon's next start (`backfill`). DynamoDB's account of what each
//! call consumed is counted by `adapters::capacity`.
//!
//! Confidential staff reports (insider misconduct, for the ISO alone) are kept in a table of their own when
//! `[incidents] confidential_table` is set: the same layout, encrypted with a key only the ISO, the daemon and
//! the portal may use, so that AWS itself keeps responders out. Their ids begin `confidential-`, so every
//! read and write finds its table from the id or key alone (`Store::table_of`); listings that include
//! them merge both tables newest first, and the daemon looks for due pages in both.
//!
//! Files: `incidents` reads incidents, `listing` lists and searches them, `commit` writes them, `links` and
//! `related` find what belongs together, `backfill` adds older incidents to `by-listing`, `coordination`
//! keeps the other records, `confidential` moves old confidential reports to their table, `deflate` packs
//! evidence bodies, `codec` turns records into items and back, `json` writes and reads items as DynamoDB's
//! JSON for the lean client, and `attrs` writes a new incident's item as that JSON straight from the records.

mod attrs;
mod backfill;
mod codec;
mod commit;
mod confidential;
mod coordination;
mod deflate;
mod incidents;
mod json;
mod links;
mod listing;
mod related;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::aws_json::JsonClient;
use crate::adapters::clients::{AwsError, describe};
use crate::domain::incident::Incident;

use codec::Item;
pub use coordination::PendingArchive;
pub use incidents::{IncidentKey, ListFilter, Listing};
pub use links::{SequenceLink, signal_key};
pub use listing::{LIST_SHARDS, SCAN_BUDGET, STAFF_SHARD};

/// The `record_type` of incident items (other records in the table carry their own).
pub const RECORD_INCIDENT: &str = "incident";
/// The `record_type` of log entries.
pub const RECORD_EVENT: &str = "event";
/// The `record_type` of evidence.
pub const RECORD_EVIDENCE: &str = "evidence";
/// The sort key of the incident item itself (its log entries and evidence have their own).
pub const SK_INCIDENT: &str = "INCIDENT";
const INDEX_BY_ID: &str = "by-incident-id";
/// Every incident newest first, over shards (`list_shard`, `created_at`): see `listing`.
const INDEX_BY_LISTING: &str = "by-listing";
const INDEX_BY_ESCALATION: &str = "by-escalation";
/// Sparse: open incidents by what they are about (`open_resource`, `created_at`).
const INDEX_BY_RESOURCE: &str = "by-resource";
const ESCALATION_DUE: &str = "due";
/// How many lost races one [`Store::modify`] tolerates before giving up for now.
const MAX_CONFLICTS: usize = 16;
/// The incident item's copy of its first log entry.
const ATTR_INLINE_EVENT: &str = "inline_event";
/// The incident item's copy of the log entry of its latest change (after the first): written with the change,
/// so an update needs no transaction, and put as the entry's own item right after. Readers merge it with the
/// separate entries (once, by its `sk`); the next change overwrites it and puts it again first, in case the
/// put after it never happened.
const ATTR_PENDING_EVENT: &str = "pending_event";
/// The incident item's copy of its first evidence.
const ATTR_INLINE_EVIDENCE: &str = "inline_evidence";
/// Largest incident item, in bytes, that is created with its first records inline. DynamoDB's limit is
/// 400 KB; the rest is left for what the incident gains later (pages, closure notes).
const INLINE_ITEM_MAX: usize = 200 * 1024;

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
    #[error("DynamoDB {op} on table {table} failed: {}", describe(.source.as_ref()))]
    Aws {
        /// The operation.
        op: &'static str,
        /// The table.
        table: String,
        /// The SDK error.
        source: AwsError,
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
    /// AWS refused access to the confidential table: the caller is not the ISO (or the daemon or portal).
    #[error(
        "only the information security officer may read confidential reports (staff file them through the \
         portal): DynamoDB denied {op} on table {table}"
    )]
    Confidential {
        /// The operation.
        op: &'static str,
        /// The confidential table.
        table: String,
        /// The SDK error.
        source: AwsError,
    },
    /// Moving confidential reports needs a confidential table to move them to.
    #[error("[incidents] confidential_table is not set: there is no confidential table to move reports to")]
    NoConfidentialTable,
}

/// The incident table, and the confidential table when there is one.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    /// The same table through the lean client, for the per-finding puts (`commit`).
    json: JsonClient,
    table: String,
    /// Confidential reports' table (their partitions, and nothing else); `None`: they are in `table`.
    confidential: Option<String>,
}

impl Store {
    /// A store on `table`, with confidential reports in `confidential` when given, through `client` and,
    /// for the puts of every new finding, `json` (see `adapters::aws_json`).
    pub fn new(client: Client, json: JsonClient, table: impl Into<String>, confidential: Option<String>) -> Store {
        Store { client, json, table: table.into(), confidential }
    }

    /// The incident table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The confidential table's name, if confidential reports have a table of their own.
    pub fn confidential_table(&self) -> Option<&str> {
        self.confidential.as_deref()
    }

    /// The table that holds partition `pk`: a confidential report's is in the confidential table.
    fn table_of(&self, pk: &str) -> &str {
        match &self.confidential {
            Some(confidential) if IncidentKey::pk_is_confidential(pk) => confidential,
            _ => &self.table,
        }
    }

    /// The table that holds the incident `incident_id`.
    fn table_of_id(&self, incident_id: &str) -> &str {
        match &self.confidential {
            Some(confidential) if crate::domain::lifecycle::is_confidential_id(incident_id) => confidential,
            _ => &self.table,
        }
    }

    /// The error of a failed call on `table`; a refusal on the confidential table says whose it is.
    fn aws_error<E>(&self, table: &str, op: &'static str, err: E) -> StoreError
    where
        E: ProvideErrorMetadata + Into<AwsError>,
    {
        let denied = matches!(err.code(), Some("AccessDeniedException" | "AccessDenied"));
        if denied && self.confidential.as_deref() == Some(table) {
            return StoreError::Confidential { op, table: table.to_owned(), source: err.into() };
        }
        StoreError::Aws { op, table: table.to_owned(), source: err.into() }
    }

    /// The result of an `UpdateItem` whose failed condition means "already done": nothing to do then.
    fn updated_or_already(
        &self,
        result: Result<
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
            aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>,
        >,
    ) -> Result<(), StoreError> {
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(self.aws_error(&self.table, "UpdateItem", e)),
        }
    }

    fn corrupt(&self, pk: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt { pk: pk.to_owned(), table: self.table_of(pk).to_owned(), detail: detail.to_string() }
    }

    /// Writes a record that may replace an earlier one of the same key (never an incident, its log or its
    /// evidence: those writes are conditional).
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.aws_error(&self.table, "PutItem", e))
    }

    /// Every item of partition `pk` whose sort key begins with `prefix` (all of them if it is empty).
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.query_in(self.table_of(pk), pk, prefix).await
    }

    /// [`Store::query_prefix`] in `table`.
    async fn query_in(&self, table: &str, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let query = self.client.query().table_name(table);
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
                .map_err(|e| self.aws_error(table, "Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

#[cfg(test)]
impl Store {
    /// A store whose clients reach nothing: for tests of what it builds.
    pub(super) fn offline() -> Store {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let policy = crate::adapters::aws_json::Policy {
            max_attempts: 1,
            initial_backoff: std::time::Duration::ZERO,
            max_backoff: std::time::Duration::ZERO,
            attempt_timeout: std::time::Duration::from_secs(1),
            operation_timeout: std::time::Duration::from_secs(1),
        };
        let json = crate::adapters::aws_json::JsonClient::new(
            crate::adapters::aws_json::DYNAMODB,
            "http://127.0.0.1:1",
            "us-east-1",
            None,
            policy,
            Default::default(),
        );
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), json, "t", None)
    }
}
