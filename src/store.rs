//! Incidents in DynamoDB (single-table design): conditional writes only, so that redeliveries and
//! concurrent daemons can never make two incidents of one finding or lose one another's changes.
//!
//! | record   | pk                                     | sk         |
//! |----------|----------------------------------------|------------|
//! | incident | `INC#<account>#<region>#<finding id>`  | `INCIDENT` |

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::aws::describe;
use crate::incident::Incident;

/// The `record_type` of incident items (other records in the table carry their own).
pub const RECORD_INCIDENT: &str = "incident";
const SK_INCIDENT: &str = "INCIDENT";

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

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition failed: someone else wrote first. Carries what is stored now.
    #[error("incident was changed concurrently")]
    Conflict(Box<Option<Incident>>),
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
    /// An item in the table does not decode as an incident.
    #[error("item {pk} in table {table} is not a valid incident: {detail}")]
    Corrupt {
        /// Its partition key.
        pk: String,
        /// The table.
        table: String,
        /// What is wrong.
        detail: String,
    },
}

/// The incident table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

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

    fn decode(&self, item: Item) -> Result<Incident, StoreError> {
        let pk = match item.get("pk") {
            Some(AttributeValue::S(pk)) => pk.clone(),
            _ => String::from("(no pk)"),
        };
        serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
            pk,
            table: self.table.clone(),
            detail: e.to_string(),
        })
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

    /// Writes `incident` if the stored one is still at `expected` version (`None`: if there is none yet),
    /// and returns it as stored, with its version bumped. On a lost race, returns
    /// [`StoreError::Conflict`] with the item that won.
    pub async fn save(&self, incident: &Incident, expected: Option<u64>) -> Result<Incident, StoreError> {
        let mut stored = incident.clone();
        stored.version = expected.map_or(1, |v| v + 1);
        let key = IncidentKey::of(&stored);
        let mut item: Item = serde_dynamo::to_item(&stored).map_err(|e| StoreError::Corrupt {
            pk: key.pk(),
            table: self.table.clone(),
            detail: format!("cannot encode: {e}"),
        })?;
        item.insert("pk".into(), AttributeValue::S(key.pk()));
        item.insert("sk".into(), AttributeValue::S(SK_INCIDENT.into()));
        item.insert("record_type".into(), AttributeValue::S(RECORD_INCIDENT.into()));

        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(stored),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let current = match failed.item.clone() {
                        Some(item) => Some(self.decode(item)?),
                        // Older DynamoDB implementations do not return the item: read it.
                        None => self.load(&key).await?,
                    };
                    Err(StoreError::Conflict(Box::new(current)))
                }
                _ => Err(self.aws_error("PutItem", &err)),
            },
        }
    }
}
