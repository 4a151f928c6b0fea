//! `gd-incidents check`: every resource and permission the daemon needs, tried with harmless calls.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::adapters::clients::{AwsError, Clients, describe};
use crate::adapters::sqs::{StartError, discover_dead_letter_queue};
use crate::config::Config;

/// The indexes the daemon and the commands query (the confidential table's: all but `by-resource`, since
/// confidential reports name no resource).
pub const REQUIRED_INDEXES: [&str; 4] = ["by-incident-id", "by-listing", "by-escalation", "by-resource"];

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailure {
    /// The call failed (missing resource, permission, endpoint...).
    #[error("{}", describe(.0.as_ref()))]
    Call(#[source] AwsError),
    /// The dead-letter queue cannot be found.
    #[error(transparent)]
    NoDeadLetters(#[from] StartError),
    /// The call worked, but what it shows is wrong; the text says what.
    #[error("{0}")]
    Wrong(String),
}

/// The result of one check.
#[derive(Debug)]
pub struct Check {
    /// What was checked, e.g. `queue`.
    pub what: &'static str,
    /// The call and the resource.
    pub how: String,
    /// `Ok(detail)` or `Err(why)`.
    pub result: Result<String, CheckFailure>,
}

/// Runs every check; none changes anything.
pub async fn run(config: &Config, clients: &Clients) -> Vec<Check> {
    let mut checks = Vec::new();
    let queue = &config.queue.url;
    checks.push(queue_depth(clients, "queue", queue).await);
    if let Some(urgent) = &config.queue.urgent_url {
        checks.push(queue_depth(clients, "urgent queue", urgent).await);
    }
    let dlq = match &config.queue.dead_letter_url {
        Some(url) => Ok(url.clone()),
        None => discover_dead_letter_queue(&clients.sqs, queue).await.map_err(CheckFailure::from),
    };
    checks.push(match dlq {
        Ok(url) => Check {
            what: "dead-letter queue",
            how: format!("sqs:GetQueueAttributes {url}"),
            result: clients
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .map(|o| {
                    let depth =
                        o.attributes.and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages));
                    format!("{} dead letter(s)", depth.unwrap_or_else(|| "?".into()))
                })
                .map_err(|e| CheckFailure::Call(e.into())),
        },
        Err(why) => Check { what: "dead-letter queue", how: "redrive policy of the queue".into(), result: Err(why) },
    });
    let table = &config.incidents.table;
    checks.push(table_check(clients, "table", table, &REQUIRED_INDEXES).await);
    if let Some(confidential) = &config.incidents.confidential_table {
        checks.push(table_check(clients, "confidential table", confidential, &REQUIRED_INDEXES[..3]).await);
    }
    // A put whose condition cannot hold: allowed means ConditionalCheckFailed, and nothing is written.
    let probe = clients
        .dynamodb
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S("CHECK#permissions".into()))
        .item("sk", AttributeValue::S("-".into()))
        .item("record_type", AttributeValue::S("check".into()))
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
        .send()
        .await;
    checks.push(Check {
        what: "table writes",
        how: format!("dynamodb:PutItem {table} (a condition that never holds: writes nothing)"),
        result: match probe {
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok("allowed".into())
            }
            Err(e) => Err(CheckFailure::Call(e.into())),
            Ok(_) => Err(CheckFailure::Wrong("the impossible condition held: is this DynamoDB?".into())),
        },
    });
    let mut topics: Vec<(&'static str, String, &str)> = vec![
        ("OCE topic", String::new(), &config.paging.oce_topic_arn),
        ("ISO topic", String::new(), &config.paging.iso_topic_arn),
    ];
    topics.extend(
        config.paging.routes.iter().map(|r| ("route topic", format!("(route {}) ", r.name), r.topic_arn.as_str())),
    );
    topics
        .extend(config.clients.iter().map(|c| ("client topic", format!("(client {}) ", c.name), c.topic_arn.as_str())));
    for (what, whose, arn) in topics {
        checks.push(Check {
            what,
            how: format!("{whose}sns:GetTopicAttributes {arn}"),
            result: clients
                .sns
                .get_topic_attributes()
                .topic_arn(arn)
                .send()
                .await
                .map(|o| {
                    let subs = o.attributes.and_then(|mut a| a.remove("SubscriptionsConfirmed"));
                    format!("{} confirmed subscription(s)", subs.unwrap_or_else(|| "?".into()))
                })
                .map_err(|e| CheckFailure::Call(e.into())),
        });
    }
    checks.extend(super::coverage::run(config, clients).await);
    checks
}

/// Reads a queue's depth: proves it exists and that this role may read it.
async fn queue_depth(clients: &Clients, what: &'static str, queue: &str) -> Check {
    Check {
        what,
        how: format!("sqs:GetQueueAttributes {queue}"),
        result: clients
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(|o| {
                let depth = o.attributes.and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages));
                format!("{} message(s) waiting", depth.unwrap_or_else(|| "?".into()))
            })
            .map_err(|e| CheckFailure::Call(e.into())),
    }
}

/// The table `table` exists with the indexes the program queries.
async fn table_check(clients: &Clients, what: &'static str, table: &str, required: &[&str]) -> Check {
    Check {
        what,
        how: format!("dynamodb:DescribeTable {table}"),
        result: match clients.dynamodb.describe_table().table_name(table).send().await {
            Ok(out) => {
                let t = out.table;
                let indexes: Vec<String> = t
                    .as_ref()
                    .map(|t| {
                        t.global_secondary_indexes().iter().filter_map(|i| i.index_name().map(str::to_owned)).collect()
                    })
                    .unwrap_or_default();
                let missing: Vec<&str> =
                    required.iter().copied().filter(|i| !indexes.iter().any(|have| have == i)).collect();
                if missing.is_empty() {
                    Ok(format!("indexes {}", indexes.join(", ")))
                } else {
                    Err(CheckFailure::Wrong(format!(
                        "missing index(es) {}: deploy the current template",
                        missing.join(", ")
                    )))
                }
            }
            Err(e) => Err(CheckFailure::Call(e.into())),
        },
    }
}
