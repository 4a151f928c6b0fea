//! Serde types of the EventBridge envelope and the GuardDuty finding inside it, and nothing else.
//!
//! The fields the contract requires (id, account, region, type, severity) are typed strictly: a wrong type
//! there makes the message invalid. Every other field is read leniently (a value of an unexpected shape is
//! dropped, not fatal), because losing a real finding to the dead-letter queue over a cosmetic field would be
//! worse than showing it without that field.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::tree::Node;

/// An EventBridge event as the rule delivers it to SQS.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// EventBridge's own event id.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// `aws.guardduty` for GuardDuty.
    #[serde(default, deserialize_with = "lenient")]
    pub source: Option<String>,
    /// `GuardDuty Finding` for findings.
    #[serde(rename = "detail-type", default, deserialize_with = "lenient")]
    pub detail_type: Option<String>,
    /// When EventBridge received the event.
    #[serde(default, deserialize_with = "lenient")]
    pub time: Option<String>,
    /// The account of the event (AWS Health, Malware Protection scan results).
    #[serde(default, deserialize_with = "lenient")]
    pub account: Option<String>,
    /// The region of the event.
    #[serde(default, deserialize_with = "lenient")]
    pub region: Option<String>,
    /// The finding (a JSON object: serde would otherwise also read a struct from an array by position).
    #[serde(default, borrow, deserialize_with = "object")]
    pub detail: Option<Detail<'a>>,
}

/// A GuardDuty finding in its EventBridge form (`schemaVersion` 2.0).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail<'a> {
    /// The finding id, unique per detector.
    pub id: Option<String>,
    /// The account the finding is about.
    pub account_id: Option<String>,
    /// The region the finding is about.
    pub region: Option<String>,
    /// e.g. `Backdoor:EC2/C&CActivity.B!DNS`.
    #[serde(rename = "type")]
    pub finding_type: Option<String>,
    /// A JSON number in [0, 10]; kept raw so that the reason for a bad one can be given.
    pub severity: Option<Value>,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    #[serde(default, deserialize_with = "lenient")]
    pub partition: Option<String>,
    /// The finding's ARN.
    #[serde(default, deserialize_with = "lenient")]
    pub arn: Option<String>,
    /// One-line summary.
    #[serde(default, deserialize_with = "lenient")]
    pub title: Option<String>,
    /// Longer explanation.
    #[serde(default, deserialize_with = "lenient")]
    pub description: Option<String>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "lenient")]
    pub created_at: Option<String>,
    /// RFC 3339; orders the versions of a finding.
    #[serde(default, deserialize_with = "lenient")]
    pub updated_at: Option<String>,
    /// The affected resource; its shape depends on `resourceType`.
    #[serde(default, borrow)]
    pub resource: Node<'a>,
    /// What GuardDuty saw.
    #[serde(default, borrow, deserialize_with = "lenient")]
    pub service: Option<Service<'a>>,

    /// Malware Protection scan results: the object scanned.
    #[serde(default, deserialize_with = "lenient")]
    pub s3_object_details: Option<S3ObjectDetails>,
    /// Malware Protection scan results: what the scan found.
    #[serde(default, deserialize_with = "lenient")]
    pub scan_result_details: Option<ScanResultDetails>,

    /// AWS Health: the event's ARN (its `service` is a string, which the lenient `service` above drops).
    #[serde(default, deserialize_with = "lenient")]
    pub event_arn: Option<String>,
    /// AWS Health: e.g. `AWS_RISK_CREDENTIALS_EXPOSED`.
    #[serde(default, deserialize_with = "lenient")]
    pub event_type_code: Option<String>,
    /// AWS Health: `issue`, `accountNotification`, `scheduledChange`, `investigation`.
    #[serde(default, deserialize_with = "lenient")]
    pub event_type_category: Option<String>,
    /// AWS Health: `open`, `upcoming` or `closed`.
    #[serde(default, deserialize_with = "lenient")]
    pub status_code: Option<String>,
    /// AWS Health: when it began.
    #[serde(default, deserialize_with = "lenient")]
    pub start_time: Option<String>,
    /// AWS Health: when it ended, if it has.
    #[serde(default, deserialize_with = "lenient")]
    pub end_time: Option<String>,
    /// AWS Health: when AWS last updated it.
    #[serde(default, deserialize_with = "lenient")]
    pub last_updated_time: Option<String>,
    /// AWS Health: the account it affects.
    #[serde(default, deserialize_with = "lenient")]
    pub affected_account: Option<String>,
    /// AWS Health: the region it affects.
    #[serde(default, deserialize_with = "lenient")]
    pub event_region: Option<String>,
    /// AWS Health: the description, per language.
    #[serde(default, deserialize_with = "lenient")]
    pub event_description: Option<Vec<HealthDescription>>,
    /// AWS Health: the resources it affects.
    #[serde(default, deserialize_with = "lenient")]
    pub affected_entities: Option<Vec<HealthEntity>>,
}

/// The object a Malware Protection scan result is about.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3ObjectDetails {
    /// The bucket.
    #[serde(default, deserialize_with = "lenient")]
    pub bucket_name: Option<String>,
    /// The object key.
    #[serde(default, deserialize_with = "lenient")]
    pub object_key: Option<String>,
    /// The object version, in a versioned bucket.
    #[serde(default, deserialize_with = "lenient")]
    pub version_id: Option<String>,
}

/// What a Malware Protection scan found.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResultDetails {
    /// `THREATS_FOUND` (some published types say `THREAT_FOUND`), `NO_THREATS_FOUND`, `UNSUPPORTED`, ...
    #[serde(default, deserialize_with = "lenient")]
    pub scan_result_status: Option<String>,
    /// The threats, by name.
    #[serde(default, deserialize_with = "lenient")]
    pub threats: Option<Vec<Threat>>,
}

/// One threat a scan found.
#[derive(Debug, Default, Deserialize)]
pub struct Threat {
    /// Its name, e.g. `EICAR-Test-File (not a virus)`.
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
}

/// An AWS Health event's description in one language.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthDescription {
    /// e.g. `en_US`.
    #[serde(default, deserialize_with = "lenient")]
    pub language: Option<String>,
    /// The text.
    #[serde(default, deserialize_with = "lenient")]
    pub latest_description: Option<String>,
}

/// A resource an AWS Health event affects.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthEntity {
    /// e.g. an instance id or an access key id.
    #[serde(default, deserialize_with = "lenient")]
    pub entity_value: Option<String>,
}

/// The `service` member of a finding.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service<'a> {
    /// How many times GuardDuty has seen the activity; orders versions with the same `updatedAt`.
    #[serde(default, deserialize_with = "lenient")]
    pub count: Option<u64>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "lenient")]
    pub event_first_seen: Option<String>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "lenient")]
    pub event_last_seen: Option<String>,
    /// The detector that produced the finding.
    #[serde(default, deserialize_with = "lenient")]
    pub detector_id: Option<String>,
    /// Extended Threat Detection's account of an attack sequence, when there is one.
    #[serde(default, borrow)]
    pub detection: Node<'a>,
    /// What was done: the connection, probe, API call or login, with its remote address.
    #[serde(default, borrow)]
    pub action: Node<'a>,
}

/// Reads an optional struct only from a JSON object (or null).
fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Visitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    deserializer.deserialize_any(Visitor(std::marker::PhantomData))
}

/// Accepts any JSON value and keeps it only if it has the expected shape. The value is taken as the text it
/// is (borrowed, not built as a `Value` tree) and read again as `T`: a `service` of many kilobytes allocates
/// only what `Service` keeps.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}
