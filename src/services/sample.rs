//! `gd-incidents sample`: realistic GuardDuty findings, delivered the way AWS delivers them, so a new user
//! sees the whole path work. On LocalStack (an endpoint is configured) they are put on the default
//! EventBridge bus as `aws.guardduty` events, so the stack's rule routes them to the queue; on real AWS,
//! where `aws.*` sources are reserved, GuardDuty's own CreateSampleFindings makes them.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::adapters::clients::{AwsError, describe};
use crate::adapters::guardduty::GuardDutyError;
use crate::adapters::guardduty::{Detector, GuardDuty};
use crate::domain::finding::{DETAIL_TYPE, SOURCE};
use crate::domain::severity::Level;

/// A finding type typical of each level, used when `--type` is not given.
pub fn default_type(level: Level) -> &'static str {
    match level {
        Level::Low => "Recon:EC2/PortProbeUnprotectedPort",
        Level::Medium => "Recon:IAMUser/MaliciousIPCaller.Custom",
        Level::High => "Backdoor:EC2/C&CActivity.B!DNS",
        Level::Critical => "AttackSequence:S3/CompromisedData",
    }
}

/// A GuardDuty severity inside the range of each level.
pub fn severity_of(level: Level) -> f64 {
    match level {
        Level::Low => 2.0,
        Level::Medium => 5.0,
        Level::High => 8.0,
        Level::Critical => 9.5,
    }
}

/// The `detail` of a sample finding (a new id each time), in GuardDuty's EventBridge form.
pub fn sample_finding(account: &str, region: &str, level: Level, finding_type: &str) -> Value {
    let id = Uuid::new_v4().simple().to_string();
    let now = crate::domain::timestamp::format(Utc::now());
    let instance = format!("i-0{}", &Uuid::new_v4().simple().to_string()[..16]);
    json!({
        "schemaVersion": "2.0",
        "accountId": account,
        "region": region,
        "partition": "aws",
        "id": id,
        "arn": format!("arn:aws:guardduty:{region}:{account}:detector/sample/finding/{id}"),
        "type": finding_type,
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": instance,
                "instanceType": "t3.medium",
                "imageId": "ami-0abcdef1234567890",
                "tags": [{"key": "Name", "value": "sample-web-01"}],
                "instanceState": "running",
                "availabilityZone": format!("{region}a"),
            }
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": "sample",
            "action": {"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "sample-c2.example.com", "protocol": "UDP", "blocked": false}},
            "resourceRole": "TARGET",
            "additionalInfo": {"sample": true},
            "eventFirstSeen": now,
            "eventLastSeen": now,
            "archived": false,
            "count": 1
        },
        "severity": severity_of(level),
        "createdAt": now,
        "updatedAt": now,
        "title": format!("[SAMPLE] {finding_type} on EC2 instance {instance}"),
        "description": "A sample finding made by `gd-incidents sample`; no real threat."
    })
}

/// Why samples could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// EventBridge did not take the call.
    #[error("EventBridge PutEvents failed: {}", describe(.0.as_ref()))]
    PutEvents(#[source] AwsError),
    /// EventBridge took the call but refused some events.
    #[error("EventBridge refused {count} event(s): {why}")]
    Refused {
        /// How many it refused.
        count: i32,
        /// Its reasons, joined.
        why: String,
    },
    /// GuardDuty did not make the samples.
    #[error(transparent)]
    GuardDuty(#[from] GuardDutyError),
}

/// Puts `count` sample findings on the default EventBridge bus; returns their finding ids.
pub async fn put_events(
    events: &aws_sdk_eventbridge::Client,
    account: &str,
    region: &str,
    level: Level,
    finding_type: &str,
    count: usize,
) -> Result<Vec<String>, SampleError> {
    let mut ids = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..count {
        let detail = sample_finding(account, region, level, finding_type);
        ids.push(detail["id"].as_str().unwrap_or_default().to_owned());
        entries.push(
            PutEventsRequestEntry::builder()
                .source(SOURCE)
                .detail_type(DETAIL_TYPE)
                .detail(detail.to_string())
                .event_bus_name("default")
                .build(),
        );
    }
    // PutEvents takes ten entries a call. A retry after a timeout may put an event twice: harmless, as the
    // same finding version makes the same incident.
    for chunk in entries.chunks(10) {
        let out = events
            .put_events()
            .set_entries(Some(chunk.to_vec()))
            .customize()
            .config_override(aws_sdk_eventbridge::config::Builder::default().timeout_config(put_events_timeouts()))
            .send()
            .await
            .map_err(|e| SampleError::PutEvents(e.into()))?;
        if out.failed_entry_count > 0 {
            let why: Vec<String> = out.entries().iter().filter_map(|e| e.error_message().map(str::to_owned)).collect();
            return Err(SampleError::Refused { count: out.failed_entry_count, why: why.join("; ") });
        }
    }
    Ok(ids)
}

/// Asks GuardDuty itself for sample findings of `finding_type` on `detector` (real AWS).
pub async fn create_sample_findings(
    guardduty: &GuardDuty,
    detector: &Detector,
    finding_type: &str,
    count: usize,
) -> Result<(), SampleError> {
    guardduty
        .create_sample_findings(detector, &vec![finding_type.to_owned(); count.min(10)])
        .await
        .map_err(SampleError::from)
}

/// PutEvents matches every rule of the bus before it answers, which a busy endpoint (LocalStack with hundreds
/// of rules) can take longer than the usual 5 s attempt timeout to do; a longer wait beats a duplicate put.
fn put_events_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .operation_attempt_timeout(std::time::Duration::from_secs(20))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_findings_of_the_asked_level() {
        for level in crate::domain::severity::LEVELS {
            let detail = sample_finding("123456789012", "us-east-1", level, default_type(level));
            let event = json!({"version": "0", "id": "e", "detail-type": DETAIL_TYPE, "source": SOURCE,
                "account": "123456789012", "time": "2026-11-20T10:00:00Z", "region": "us-east-1", "resources": [],
                "detail": detail});
            let f = crate::domain::finding::parse(&event.to_string()).expect("a valid finding");
            assert_eq!(f.level, level);
            assert_eq!(f.finding_type, default_type(level));
            assert!(f.title.starts_with("[SAMPLE]"));
            assert!(f.resource.summary.starts_with("EC2 instance i-0"));
        }
        let a = sample_finding("1", "r", Level::Low, "t");
        let b = sample_finding("1", "r", Level::Low, "t");
        assert_ne!(a["id"], b["id"], "each sample is a new finding");
    }
}
