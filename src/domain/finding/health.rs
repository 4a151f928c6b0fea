//! AWS Health events: AWS's own platform incidents and account notifications (an access key AWS found
//! exposed: `AWS_RISK_CREDENTIALS_EXPOSED`). One finding per event ARN and affected account, updated as AWS
//! updates the event (by `lastUpdatedTime`), at a level from the event's kind ([`severity`]) unless a
//! `[[policy.health]]` rule of the config sets another; policy floors match its event type code as a finding
//! type.

use super::resource::truncate;
use super::{Finding, Origin, Reject, Resource, any_timestamp, required, wire};
use crate::domain::severity::Level;

/// The severity of an AWS Health event: HIGH (8) for security risks, abuse reports and security
/// notifications; MEDIUM (5) for an open issue (AWS's own incident on a service); LOW (2) for the rest
/// (scheduled changes, other notifications, closed issues).
pub fn severity(event_type_code: &str, category: &str, status: &str, abuse: bool) -> f64 {
    if abuse || event_type_code.starts_with("AWS_RISK_") || event_type_code.contains("SECURITY") {
        8.0
    } else if category == "issue" && status == "open" {
        5.0
    } else {
        2.0
    }
}

/// What level rules (`[[policy.health]]`) read of an AWS Health event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthEvent {
    /// The AWS service, from the event ARN (`EC2`, `IAM`, ...).
    pub service: String,
    /// `issue`, `accountNotification`, `scheduledChange`, `investigation`.
    pub category: String,
    /// `open`, `upcoming`, `closed`.
    pub status: String,
}

/// An AWS Health event (or abuse event).
pub(super) fn event(envelope: wire::Envelope<'_>) -> Result<Finding, Reject> {
    let abuse = envelope.detail_type.as_deref() == Some("AWS Health Abuse Event");
    let detail = envelope.detail.ok_or(Reject::MissingField("detail"))?;
    let arn = required(detail.event_arn, "detail.eventArn")?;
    let code = required(detail.event_type_code, "detail.eventTypeCode")?;
    let non_empty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let account_id =
        non_empty(detail.affected_account).or(non_empty(envelope.account)).ok_or(Reject::MissingField("account"))?;
    let region = non_empty(detail.event_region).or(non_empty(envelope.region)).ok_or(Reject::MissingField("region"))?;
    let category = detail.event_type_category.unwrap_or_default();
    let status = detail.status_code.unwrap_or_default();
    let severity = severity(&code, &category, &status, abuse);
    let service = arn.split("event/").nth(1).and_then(|r| r.split('/').next()).filter(|s| !s.is_empty());
    let service = service.unwrap_or("AWS").to_owned();
    let service_name = service.clone();
    let descriptions = detail.event_description.unwrap_or_default();
    let english = descriptions.iter().find(|d| d.language.as_deref().is_some_and(|l| l.starts_with("en")));
    let description = english
        .or(descriptions.first())
        .and_then(|d| d.latest_description.clone())
        .map(|d| truncate(&d, 4_000))
        .unwrap_or_default();
    let entities: Vec<String> =
        detail.affected_entities.unwrap_or_default().into_iter().filter_map(|e| e.entity_value).take(20).collect();
    let summary = if entities.is_empty() {
        format!("{service} in {region}")
    } else {
        format!("{service}: {}", entities.join(", "))
    };
    let updated_at = any_timestamp(detail.last_updated_time.as_deref()).or(any_timestamp(envelope.time.as_deref()));
    let started = any_timestamp(detail.start_time.as_deref());
    Ok(Finding {
        title: truncate(&format!("AWS Health: {code} ({service}, {status})"), 500),
        description,
        resource: Resource { kind: "AwsHealthEvent".into(), summary: truncate(&summary, 500) },
        targets: Default::default(),
        link: Some(format!("https://health.aws.amazon.com/health/home#/account/event-log?eventID={arn}")),
        id: arn,
        account_id,
        region,
        partition: "aws".into(),
        finding_type: code,
        severity,
        level: Level::from_score(severity).unwrap_or(Level::Low),
        created_at: started,
        updated_at,
        first_seen: started,
        last_seen: any_timestamp(detail.end_time.as_deref()).or(updated_at),
        count: 1,
        detector_id: None,
        arn: None,
        event_id: envelope.id,
        origin: Origin::Health,
        source_closed: status == "closed",
        signals: Vec::new(),
        health: Some(HealthEvent { service: service_name, category, status }),
    })
}
