//! Adds incidents written before the sharded `by-listing` index to it: a table that already holds incidents
//! (deploy/README.md, "Upgrading") has items without `list_shard` and `search_text`, which no listing would show
//! or search. The daemon
//! does it once at start, in the background: one scan for incident items without it, one conditional update
//! each, then a marker record so that later starts skip the scan.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::string;
use super::listing::{ATTR_LIST_SHARD, ATTR_SEARCH_TEXT, SEARCHED, list_shard, search_text};
use super::{RECORD_INCIDENT, SK_INCIDENT, Store, StoreError};

/// The marker's partition key: the backfill of `by-listing` is done in this table.
const MARKER_PK: &str = "MIGRATION#by-listing";
/// The marker's `record_type`.
const RECORD_MIGRATION: &str = "migration";

impl Store {
    /// Gives every incident item of the incident table and of the confidential table its `list_shard`,
    /// unless done before. Returns how many it changed.
    pub async fn backfill_listing(&self) -> Result<usize, StoreError> {
        let mut changed = self.backfill_in(&self.table).await?;
        if let Some(confidential) = self.confidential.clone() {
            changed += self.backfill_in(&confidential).await?;
        }
        Ok(changed)
    }

    async fn backfill_in(&self, table: &str) -> Result<usize, StoreError> {
        let marker = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(MARKER_PK.into()))
            .key("sk", AttributeValue::S("-".into()))
            .send()
            .await
            .map_err(|e| self.aws_error(table, "GetItem", e))?;
        if marker.item.is_some() {
            return Ok(0);
        }
        let mut changed = 0;
        let mut start = None;
        // By placeholder: `resource` is one of DynamoDB's reserved words.
        let projected: Vec<(String, String)> = ["pk"]
            .into_iter()
            .chain(SEARCHED)
            .enumerate()
            .map(|(i, name)| (format!("#p{i}"), name.to_owned()))
            .collect();
        loop {
            let out = self
                .client
                .scan()
                .table_name(table)
                .filter_expression(
                    "record_type = :incident AND (attribute_not_exists(list_shard) OR attribute_not_exists(search_text))",
                )
                .projection_expression(projected.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "))
                .set_expression_attribute_names(Some(projected.iter().cloned().collect()))
                .expression_attribute_values(":incident", AttributeValue::S(RECORD_INCIDENT.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.aws_error(table, "Scan", e))?;
            for item in out.items.unwrap_or_default() {
                let (Some(pk), Some(account)) = (string(&item, "pk"), string(&item, "account_id")) else {
                    continue;
                };
                let text = search_text(&item);
                let result = self
                    .client
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .key("sk", AttributeValue::S(SK_INCIDENT.into()))
                    .update_expression("SET #shard = :shard, #text = :text")
                    .condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(#shard) OR attribute_not_exists(#text))",
                    )
                    .expression_attribute_names("#shard", ATTR_LIST_SHARD)
                    .expression_attribute_names("#text", ATTR_SEARCH_TEXT)
                    .expression_attribute_values(":shard", AttributeValue::S(list_shard(&pk, &account)))
                    .expression_attribute_values(":text", AttributeValue::S(text))
                    .send()
                    .await;
                match result {
                    Ok(_) => changed += 1,
                    // Written meanwhile by this version, which sets it.
                    Err(e)
                        if matches!(
                            e.as_service_error(),
                            Some(UpdateItemError::ConditionalCheckFailedException(_))
                        ) => {}
                    Err(e) => return Err(self.aws_error(table, "UpdateItem", e)),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let marker = [
            ("pk", AttributeValue::S(MARKER_PK.into())),
            ("sk", AttributeValue::S("-".into())),
            ("record_type", AttributeValue::S(RECORD_MIGRATION.into())),
            ("changed", AttributeValue::N(changed.to_string())),
        ];
        let item = marker.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.aws_error(table, "PutItem", e))?;
        Ok(changed)
    }
}
