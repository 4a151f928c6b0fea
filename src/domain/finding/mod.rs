//! Parsing a queue message into a finding, or the reason it is not one. No I/O.
//!
//! Three kinds of event make incidents: GuardDuty findings; GuardDuty Malware Protection scan results that
//! found threats ([`malware`]: standalone Malware Protection for S3 writes no finding at all); and AWS
//! Health events ([`health`]). Each becomes a [`Finding`] with its own [`Origin`], so that incidents,
//! pages and the lifecycle treat them alike. A scan result that found nothing is [`Parsed::Nothing`]:
//! acknowledged and counted, never dead-lettered.

pub mod health;
pub mod malware;
mod resource;
pub mod targets;
mod tree;
mod wire;

use chrono::{DateTime, Utc};
use serde_json::error::Category;

use crate::domain::severity::Level;
pub use resource::{summarize as summarize_resource, truncate};
use tree::Node;

/// The EventBridge `source` of GuardDuty events.
pub const SOURCE: &str = "aws.guardduty";
/// The EventBridge `detail-type` of GuardDuty findings.
pub const DETAIL_TYPE: &str = "GuardDuty Finding";
/// The EventBridge `detail-type` of GuardDuty Malware Protection scan results (source [`SOURCE`]).
pub const SCAN_RESULT_DETAIL_TYPE: &str = "GuardDuty Malware Protection Object Scan Result";
/// The EventBridge `source` of AWS Health events.
pub const HEALTH_SOURCE: &str = "aws.health";
/// The EventBridge `detail-type`s of AWS Health events.
pub const HEALTH_DETAIL_TYPES: [&str; 2] = ["AWS Health Event", "AWS Health Abuse Event"];

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// A GuardDuty finding.
    #[default]
    GuardDuty,
    /// A GuardDuty Malware Protection scan result that found threats.
    MalwareScan,
    /// An AWS Health event.
    Health,
}

/// What a queue message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A finding: it makes or updates an incident.
    Finding(Box<Finding>),
    /// An event of a kind the program reads that calls for no incident (a scan that found no threat):
    /// acknowledged and counted. Says what it was, for the log.
    Nothing(String),
}

/// A valid GuardDuty finding, reduced to what the incident needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// GuardDuty's finding id.
    pub id: String,
    /// The account the finding is about.
    pub account_id: String,
    /// The region the finding is about.
    pub region: String,
    /// `aws` unless the finding says otherwise.
    pub partition: String,
    /// e.g. `Backdoor:EC2/C&CActivity.B!DNS`.
    pub finding_type: String,
    /// GuardDuty's numeric severity, in [0, 10].
    pub severity: f64,
    /// The procedure's level for `severity`.
    pub level: Level,
    /// GuardDuty's title (the finding type when it has none).
    pub title: String,
    /// GuardDuty's description (may be empty).
    pub description: String,
    /// The affected resource.
    pub resource: Resource,
    /// What containment can act on.
    pub targets: targets::Targets,
    /// When GuardDuty created the finding.
    pub created_at: Option<DateTime<Utc>>,
    /// When GuardDuty last updated it.
    pub updated_at: Option<DateTime<Utc>>,
    /// First time the activity was seen.
    pub first_seen: Option<DateTime<Utc>>,
    /// Last time the activity was seen.
    pub last_seen: Option<DateTime<Utc>>,
    /// GuardDuty's `service.count`: how often the activity was seen.
    pub count: u64,
    /// The detector that produced it, when the finding says.
    pub detector_id: Option<String>,
    /// The finding's ARN, when it says.
    pub arn: Option<String>,
    /// EventBridge's event id, for logs.
    pub event_id: Option<String>,
    /// Where it comes from.
    pub origin: Origin,
    /// A link for people, when not the GuardDuty console's finding page.
    pub link: Option<String>,
    /// The source itself says it is over (an AWS Health event AWS closed).
    pub source_closed: bool,
    /// For an attack sequence (Extended Threat Detection): the signals it was built from.
    pub signals: Vec<Signal>,
    /// For an AWS Health event: what its level rules read ([`health::HealthEvent`]).
    pub health: Option<health::HealthEvent>,
}

/// One signal of an attack sequence: an earlier GuardDuty finding (`kind` = `FINDING`, `uid` its finding
/// id), or an API activity GuardDuty saw (`CLOUD_TRAIL`, `S3_DATA_EVENTS`, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signal {
    /// The finding id of a `FINDING` signal, else GuardDuty's id of the activity.
    pub uid: String,
    /// `FINDING`, `CLOUD_TRAIL`, `S3_DATA_EVENTS`, ...
    pub kind: String,
    /// The finding type or the API name.
    pub name: String,
}

impl Signal {
    /// Whether it is an earlier GuardDuty finding (an incident of its own here).
    pub fn is_finding(&self) -> bool {
        self.kind == "FINDING"
    }
}

/// The signals of an attack sequence's `service.detection`, at most 100, each part bounded.
fn signals(detection: &Node) -> Vec<Signal> {
    let Some(all) = detection.at("/sequence/signals").and_then(Node::as_array) else { return Vec::new() };
    all.iter()
        .filter_map(|s| {
            let text = |k: &str| s.get(k).and_then(Node::as_str).map(|v| truncate(v, 256));
            Some(Signal {
                uid: text("uid")?,
                kind: text("type").unwrap_or_default(),
                name: text("name").unwrap_or_default(),
            })
        })
        .filter(|s| !s.uid.trim().is_empty())
        .take(100)
        .collect()
}

/// The affected resource, summarised for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// GuardDuty's `resourceType` (`Instance`, `AccessKey`, `S3Bucket`, ...).
    pub kind: String,
    /// One line a responder can act on, e.g. `EC2 instance i-0abc (t3.micro)`.
    pub summary: String,
}

/// Which version of a finding is newer: by `updatedAt`, then by `service.count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// `updatedAt`; a version without one is older than any that has one.
    pub updated_at: Option<DateTime<Utc>>,
    /// `service.count`.
    pub count: u64,
}

impl Finding {
    /// This finding's place in the order of its versions.
    pub fn version(&self) -> Version {
        Version { updated_at: self.updated_at, count: self.count }
    }

    /// A link to the finding in the console: GuardDuty's finding page, or the source's own.
    pub fn console_url(&self) -> String {
        self.link.clone().unwrap_or_else(|| console_url(&self.partition, &self.region, &self.id))
    }
}

/// A link to a finding in the GuardDuty console of its partition and region.
pub fn console_url(partition: &str, region: &str, finding_id: &str) -> String {
    let host = match partition {
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => "console.aws.amazon.com",
    };
    format!("https://{host}/guardduty/home?region={region}#/findings?macros=current&fId={finding_id}")
}

/// Why a message is not a finding. Each is final: the message is dead-lettered with `code()` and the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reject {
    /// The body is empty.
    #[error("the message has no body")]
    EmptyBody,
    /// The body is not JSON (or is nested deeper than the parser allows).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but a member has the wrong type (e.g. `detail.id` is a number).
    #[error("`{path}` is invalid: {reason}")]
    InvalidField {
        /// Where in the document, e.g. `detail.id`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An event, but not a GuardDuty finding.
    #[error("not a GuardDuty finding event (source {event_source:?}, detail-type {detail_type:?})")]
    NotGuardDutyFinding {
        /// The event's `source`, if any.
        event_source: Option<String>,
        /// The event's `detail-type`, if any.
        detail_type: Option<String>,
    },
    /// A required member is absent or empty.
    #[error("the finding has no `{0}`")]
    MissingField(&'static str),
    /// The severity is not a number in [0, 10].
    #[error("severity {0} is not a number in [0, 10]")]
    InvalidSeverity(String),
}

impl Reject {
    /// A short, stable reason code for the dead-letter queue's `reject_reason` attribute and for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::EmptyBody => "empty_body",
            Reject::NotJson(_) => "not_json",
            Reject::InvalidField { .. } => "invalid_field",
            Reject::NotGuardDutyFinding { .. } => "not_guardduty_finding",
            Reject::MissingField(_) => "missing_field",
            Reject::InvalidSeverity(_) => "invalid_severity",
        }
    }
}

/// Parses a queue message body that must be a finding (a reconciliation's, a test's): [`read`], with a
/// message that calls for no incident refused as not a finding.
pub fn parse(body: &str) -> Result<Finding, Reject> {
    match read(body)? {
        Parsed::Finding(f) => Ok(*f),
        Parsed::Nothing(_) => Err(Reject::NotGuardDutyFinding {
            event_source: Some(SOURCE.into()),
            detail_type: Some(SCAN_RESULT_DETAIL_TYPE.into()),
        }),
    }
}

/// Reads a queue message body (an EventBridge event): a finding of any [`Origin`], nothing to record, or
/// the reason it is neither.
pub fn read(body: &str) -> Result<Parsed, Reject> {
    if body.trim().is_empty() {
        return Err(Reject::EmptyBody);
    }
    // Serde would also read a struct from an array by position: an event is a JSON object.
    if !body.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(body) {
            Ok(_) => Reject::NotGuardDutyFinding { event_source: None, detail_type: None },
            Err(e) => Reject::NotJson(e.to_string()),
        });
    }
    let envelope = envelope(body)?;
    let kind = (envelope.source.as_deref(), envelope.detail_type.as_deref());
    match kind {
        (Some(SOURCE), Some(DETAIL_TYPE)) => guardduty(envelope).map(|f| Parsed::Finding(Box::new(f))),
        (Some(SOURCE), Some(SCAN_RESULT_DETAIL_TYPE)) => malware::scan_result(envelope),
        (Some(HEALTH_SOURCE), Some(t)) if HEALTH_DETAIL_TYPES.contains(&t) => {
            health::event(envelope).map(|f| Parsed::Finding(Box::new(f)))
        }
        _ => Err(Reject::NotGuardDutyFinding { event_source: envelope.source, detail_type: envelope.detail_type }),
    }
}

/// The event in `body`. Most bodies are valid: they are read without tracking where the reader is, and a
/// bad one is read again with it, for a rejection that names the field (tracking costs on every value).
fn envelope(body: &str) -> Result<wire::Envelope<'_>, Reject> {
    let fast = match serde_json::from_str(body) {
        Ok(envelope) => return Ok(envelope),
        Err(err) => err,
    };
    let mut de = serde_json::Deserializer::from_str(body);
    let _: wire::Envelope<'_> = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let at_root = err.path().iter().next().is_none();
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            // JSON, but not an object at all: not an event.
            Category::Data if at_root => Reject::NotGuardDutyFinding { event_source: None, detail_type: None },
            Category::Data => Reject::InvalidField { path, reason: inner.to_string() },
            Category::Io | Category::Syntax | Category::Eof => Reject::NotJson(inner.to_string()),
        }
    })?;
    de.end().map_err(|err| Reject::NotJson(err.to_string()))?;
    // Both readers take the same bodies; were they ever to differ, the first one's error stands.
    Err(Reject::NotJson(fast.to_string()))
}

/// A GuardDuty finding event.
fn guardduty(envelope: wire::Envelope<'_>) -> Result<Finding, Reject> {
    let detail = envelope.detail.ok_or(Reject::MissingField("detail"))?;
    let id = required(detail.id, "detail.id")?;
    let account_id = required(detail.account_id, "detail.accountId")?;
    let region = required(detail.region, "detail.region")?;
    let finding_type = required(detail.finding_type, "detail.type")?;
    let severity = match detail.severity {
        None | Some(serde_json::Value::Null) => {
            return Err(Reject::MissingField("detail.severity"));
        }
        Some(serde_json::Value::Number(n)) => n.as_f64().ok_or_else(|| Reject::InvalidSeverity(n.to_string()))?,
        Some(other) => return Err(Reject::InvalidSeverity(other.to_string())),
    };
    let level = Level::from_score(severity).ok_or_else(|| Reject::InvalidSeverity(severity.to_string()))?;

    let service = detail.service.unwrap_or_default();
    let title = detail.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| finding_type.clone());
    Ok(Finding {
        resource: resource::summarize(&detail.resource, &service.detection),
        targets: targets::read(&detail.resource, &service.action),
        signals: signals(&service.detection),
        health: None,
        id,
        account_id,
        region,
        partition: detail.partition.filter(|p| !p.is_empty()).unwrap_or_else(|| "aws".into()),
        finding_type,
        severity,
        level,
        title,
        description: detail.description.unwrap_or_default(),
        created_at: timestamp(detail.created_at.as_deref()),
        updated_at: timestamp(detail.updated_at.as_deref()).or_else(|| timestamp(envelope.time.as_deref())),
        first_seen: timestamp(service.event_first_seen.as_deref()),
        last_seen: timestamp(service.event_last_seen.as_deref()),
        count: service.count.unwrap_or(1),
        detector_id: service.detector_id,
        arn: detail.arn,
        event_id: envelope.id,
        origin: Origin::GuardDuty,
        link: None,
        source_closed: false,
    })
}

fn required(value: Option<String>, name: &'static str) -> Result<String, Reject> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(Reject::MissingField(name)),
    }
}

/// Parses an RFC 3339 timestamp; anything else is treated as absent.
pub fn timestamp(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Parses an RFC 3339 or an RFC 2822 timestamp (AWS Health writes `Wed, 31 Jan 2024 02:11:00 GMT`).
pub fn any_timestamp(text: Option<&str>) -> Option<DateTime<Utc>> {
    let rfc2822 = |t: &str| DateTime::parse_from_rfc2822(t.trim()).ok().map(|t| t.with_timezone(&Utc));
    // A wrong day name (which chrono refuses) does not make the date itself wrong.
    let without_day = |t: &str| t.split_once(", ").and_then(|(_, rest)| rfc2822(rest));
    timestamp(text).or_else(|| text.and_then(|t| rfc2822(t).or_else(|| without_day(t))))
}

#[cfg(test)]
mod tests;
