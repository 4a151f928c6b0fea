//! Findings read from the GuardDuty API, turned back into the EventBridge event GuardDuty would have sent for
//! them, so that reconciliation feeds them through exactly the path of a queue message ([`crate::domain::finding::parse`]).
//! Pure: no I/O.
//!
//! The SDK's [`Finding`] is not serde, so this writes the finding's camelCase JSON form member by member. It is
//! faithful rather than exhaustive: every member the parser reads is there (ids, type, severity, timestamps,
//! `service.count`/`detectorId`/`eventFirstSeen`/`eventLastSeen`, the resource details it summarises and
//! `service.detection.sequence` of attack sequences), along with the usual neighbours a person reading a stored
//! event would expect (action, evidence, additional info). Members the SDK models as `DateTime` (all nested in
//! resource and detection details) are written as ISO-8601 strings; finding-level `createdAt`/`updatedAt` and
//! `service.eventFirstSeen`/`eventLastSeen` are strings in the API already and are copied as given.

mod json;
mod resource;
mod service;

use aws_sdk_guardduty::types::Finding;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::finding::{DETAIL_TYPE, SOURCE};
use json::Obj;
use resource::resource;
use service::service;

/// The EventBridge `GuardDuty Finding` event GuardDuty would have delivered for `finding`.
///
/// The event id is derived from the finding id and `updatedAt` (a UUID-shaped digest), so converting the same
/// version of a finding twice gives the same event; `time` is `updatedAt` at EventBridge's second precision.
pub fn to_event(finding: &Finding) -> Value {
    let updated_at = non_empty(finding.updated_at());
    let mut event = Obj::new()
        .str("version", Some("0"))
        .str("id", Some(&event_id(finding.id().unwrap_or_default(), updated_at.unwrap_or_default())))
        .str("detail-type", Some(DETAIL_TYPE))
        .str("source", Some(SOURCE))
        .str("account", finding.account_id());
    if let Some(time) = updated_at.or_else(|| non_empty(finding.created_at())) {
        event = event.string("time", event_time(time));
    }
    event
        .str("region", finding.region())
        .value("resources", Some(Value::Array(Vec::new())))
        .value("detail", Some(detail(finding)))
        .build()
}

/// [`to_event`] as JSON text: a queue message body.
pub fn to_body(finding: &Finding) -> String {
    to_event(finding).to_string()
}

/// A UUID-shaped (version 8, "custom") digest of the finding id and `updatedAt`.
fn event_id(finding_id: &str, updated_at: &str) -> String {
    let digest = Sha256::new().chain_update(finding_id).chain_update([0]).chain_update(updated_at).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// EventBridge's `time` has no fractional seconds; a value that is not RFC 3339 is kept as it is.
fn event_time(updated_at: &str) -> String {
    match crate::domain::finding::timestamp(Some(updated_at)) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => updated_at.to_owned(),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

fn detail(f: &Finding) -> Value {
    Obj::new()
        .str("schemaVersion", f.schema_version())
        .str("accountId", f.account_id())
        .str("region", f.region())
        .str("partition", f.partition())
        .str("id", f.id())
        .str("arn", f.arn())
        .str("type", f.r#type())
        .value("resource", f.resource().map(resource))
        .value("service", f.service().map(service))
        .float("severity", f.severity())
        .float("confidence", f.confidence())
        .str("createdAt", f.created_at())
        .str("updatedAt", f.updated_at())
        .str("title", f.title())
        .str("description", f.description())
        .str("associatedAttackSequenceArn", f.associated_attack_sequence_arn())
        .str("customDetectionRuleName", f.custom_detection_rule_name())
        .build()
}

#[cfg(test)]
mod tests;
