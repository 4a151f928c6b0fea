//! Valid GuardDuty events (the fixtures) with their contract fields replaced by arbitrary values: checks the
//! verdict of `finding::parse` against what the contract says it must be, field by field.
//!
//! Where `parse_message` mostly explores the JSON grammar, this target spends its time on documents that
//! reach the finding checks: severities at and around the level boundaries, odd number literals, blank and
//! mistyped ids, foreign sources, and so on.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use gd_incidents::domain::finding::{self, Reject};
use gd_incidents::domain::severity::Level;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        [$(include_str!(concat!("../../tests/fixtures/findings/", $name, ".json"))),*]
    };
}

const FIXTURES: [&str; 12] = fixtures![
    "container-runtime-crypto",
    "ec2-critical-attack-sequence",
    "ec2-instance-backdoor",
    "ec2-ssh-bruteforce-low",
    "eks-cluster-anonymous",
    "iam-accesskey-recon",
    "kubernetes-malware-ebs",
    "lambda-crypto",
    "rds-login-anomaly",
    "s3-bucket-exfil",
    "s3-object-malware",
    "unicode-long-title",
];

/// Severities on, just below and just above the level boundaries and the ends of [0, 10].
const BOUNDARIES: [f64; 16] = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    3.9999999999999996,
    4.0,
    6.999999999999999,
    7.0,
    8.999999999999998,
    9.0,
    9.999999999999998,
    10.0,
    10.000000000000002,
    f64::MAX,
    f64::MIN,
    1e-300,
];

/// What to do to one member of the document.
#[derive(Arbitrary, Debug)]
enum Edit {
    Keep,
    Remove,
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// A string of whitespace only (spaces, tabs, newlines, U+3000).
    Blank(u8),
    Array(Vec<String>),
    Object(String, String),
}

impl Edit {
    fn apply(&self, parent: &mut Value, key: &str) {
        let Some(obj) = parent.as_object_mut() else {
            return;
        };
        let value = match self {
            Edit::Keep => return,
            Edit::Remove => {
                obj.remove(key);
                return;
            }
            Edit::Null => Value::Null,
            Edit::Bool(b) => Value::Bool(*b),
            Edit::Int(n) => Value::from(*n),
            Edit::UInt(n) => Value::from(*n),
            Edit::Float(x) => Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Edit::Str(s) => Value::String(s.clone()),
            Edit::Blank(n) => {
                Value::String((0..n % 9).map(|i| [' ', '\t', '\n', '\u{3000}'][usize::from(i % 4)]).collect())
            }
            Edit::Array(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
            Edit::Object(k, v) => {
                let mut m = Map::new();
                m.insert(k.clone(), Value::String(v.clone()));
                Value::Object(m)
            }
        };
        obj.insert(key.to_owned(), value);
    }
}

#[derive(Arbitrary, Debug)]
enum Severity {
    Edit(Edit),
    Boundary(u8),
    /// Hundredths: 0.00 to 655.35.
    Hundredths(u16),
    /// A JSON number written out: `-12.034e-5`, `1e400`, `10.0000000000000000001`...
    Literal {
        negative: bool,
        int: u64,
        frac: Vec<u8>,
        exp: Option<i16>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    fixture: u8,
    source: Edit,
    detail_type: Edit,
    time: Edit,
    /// Replaces `detail` itself (`Keep` leaves the finding in place).
    detail: Edit,
    id: Edit,
    account_id: Edit,
    region: Edit,
    finding_type: Edit,
    severity: Severity,
    title: Edit,
    updated_at: Edit,
    count: Edit,
    resource: Edit,
    resource_type: Edit,
}

/// Stands for the severity's literal in the serialised document.
const PLACEHOLDER: &str = "\u{1}severity-literal\u{1}";

fn literal(negative: bool, int: u64, frac: &[u8], exp: Option<i16>) -> String {
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if !frac.is_empty() {
        s.push('.');
        s.extend(frac.iter().take(40).map(|d| char::from(b'0' + d % 10)));
    }
    if let Some(e) = exp {
        s.push_str(&format!("e{e}"));
    }
    s
}

/// A required string member: `Err` if it has the wrong type (the document is invalid), `Ok(None)` if it
/// is absent, null or blank.
fn required(v: Option<&Value>) -> Result<Option<&str>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.trim().is_empty())),
        Some(_) => Err(()),
    }
}

fuzz_target!(|input: Input| {
    let mut doc: Value = serde_json::from_str(FIXTURES[usize::from(input.fixture) % FIXTURES.len()]).unwrap();
    input.source.apply(&mut doc, "source");
    input.detail_type.apply(&mut doc, "detail-type");
    input.time.apply(&mut doc, "time");
    input.detail.apply(&mut doc, "detail");
    if let Some(detail) = doc.get_mut("detail") {
        input.id.apply(detail, "id");
        input.account_id.apply(detail, "accountId");
        input.region.apply(detail, "region");
        input.finding_type.apply(detail, "type");
        input.title.apply(detail, "title");
        input.updated_at.apply(detail, "updatedAt");
        if let Some(service) = detail.get_mut("service") {
            input.count.apply(service, "count");
        }
        input.resource.apply(detail, "resource");
        if let Some(resource) = detail.get_mut("resource") {
            input.resource_type.apply(resource, "resourceType");
        }
        match &input.severity {
            Severity::Edit(edit) => edit.apply(detail, "severity"),
            Severity::Boundary(i) => {
                let x = BOUNDARIES[usize::from(*i) % BOUNDARIES.len()];
                Edit::Float(x).apply(detail, "severity");
            }
            Severity::Hundredths(n) => Edit::Float(f64::from(*n) / 100.0).apply(detail, "severity"),
            Severity::Literal { .. } => Edit::Str(PLACEHOLDER.into()).apply(detail, "severity"),
        }
    }

    // The body, and the severity as the parser will see it (`Err`: not a JSON number at all).
    let mut body = doc.to_string();
    // Through text, as the parser sees it: serde_json's float parsing may differ from the value by an ulp.
    let mut severity: Option<Result<Value, ()>> = doc
        .get("detail")
        .and_then(|d| d.get("severity"))
        .map(|v| serde_json::from_str::<Value>(&v.to_string()).map_err(|_| ()));
    if let Severity::Literal { negative, int, frac, exp } = &input.severity {
        let placeholder = Value::String(PLACEHOLDER.into()).to_string();
        if body.matches(&placeholder).count() != 1 {
            return; // an arbitrary string happened to contain the placeholder
        }
        let text = literal(*negative, *int, frac, *exp);
        body = body.replacen(&placeholder, &text, 1);
        severity = Some(serde_json::from_str::<Value>(&text).map_err(|_| ()));
    }

    // What the contract says: first, whether the document decodes at all...
    let mut undecodable = BTreeSet::new();
    let mut reasons = BTreeSet::new();
    if let Some(Err(())) = severity {
        undecodable.insert("not_json"); // e.g. 1e400: a number out of range
    }
    let detail = doc.get("detail");
    let mut fields = [None; 4];
    match detail {
        None | Some(Value::Null) => {
            reasons.insert("missing_field");
        }
        Some(Value::Object(d)) => {
            for (i, name) in ["id", "accountId", "region", "type"].into_iter().enumerate() {
                match required(d.get(name)) {
                    Err(()) => {
                        undecodable.insert("invalid_field");
                    }
                    Ok(None) => {
                        reasons.insert("missing_field");
                    }
                    Ok(Some(s)) => fields[i] = Some(s),
                }
            }
            match &severity {
                None | Some(Ok(Value::Null)) => {
                    reasons.insert("missing_field");
                }
                Some(Ok(Value::Number(n))) => {
                    if n.as_f64().and_then(Level::from_score).is_none() {
                        reasons.insert("invalid_severity");
                    }
                }
                Some(Ok(_)) => {
                    reasons.insert("invalid_severity");
                }
                Some(Err(())) => {}
            }
        }
        // An array, a string, a number: not the object a finding is.
        Some(_) => {
            undecodable.insert("invalid_field");
        }
    }
    // ...then whether it is a GuardDuty finding with the required members.
    if doc.get("source").and_then(Value::as_str) != Some(finding::SOURCE)
        || doc.get("detail-type").and_then(Value::as_str) != Some(finding::DETAIL_TYPE)
    {
        reasons.insert("not_guardduty_finding");
    }

    let result = finding::parse(&body);
    let expected = if undecodable.is_empty() { &reasons } else { &undecodable };
    match result {
        Err(reject) => {
            assert!(
                expected.contains(reject.code()),
                "rejected with {reject:?} ({}), expected one of {expected:?}\n{body}",
                reject.code()
            );
            match &reject {
                Reject::MissingField(name) => assert!(!name.is_empty()),
                Reject::InvalidField { path, .. } => assert!(!path.is_empty()),
                _ => {}
            }
        }
        Ok(f) => {
            assert!(expected.is_empty(), "accepted, expected one of {expected:?}: {f:?}\n{body}");
            let detail = detail.unwrap();
            let [id, account, region, finding_type] = fields.map(Option::unwrap);
            assert_eq!(f.id, id);
            assert_eq!(f.account_id, account);
            assert_eq!(f.region, region);
            assert_eq!(f.finding_type, finding_type);
            let Some(Ok(Value::Number(n))) = &severity else { unreachable!("accepted without a number") };
            let score = n.as_f64().unwrap();
            assert_eq!(f.severity.to_bits(), score.to_bits(), "severity of {n}");
            assert_eq!(Some(f.level), Level::from_score(score));
            let title = detail.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty());
            assert_eq!(f.title, title.unwrap_or(finding_type));
            let count = detail.pointer("/service/count").and_then(Value::as_u64);
            assert_eq!(f.count, count.unwrap_or(1));
            let updated_at = finding::timestamp(detail.get("updatedAt").and_then(Value::as_str))
                .or_else(|| finding::timestamp(doc.get("time").and_then(Value::as_str)));
            assert_eq!(f.updated_at, updated_at);
            assert!(!f.resource.kind.trim().is_empty() && !f.resource.summary.trim().is_empty());
            assert!(f.resource.summary.chars().count() <= 300);
        }
    }
});
