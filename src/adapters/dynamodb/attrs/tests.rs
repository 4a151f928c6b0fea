//! The attributes written straight as DynamoDB JSON are the items `serde_dynamo` builds, attribute for
//! attribute, and sized the same.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::adapters::dynamodb::codec::{Item, item_size};
use crate::adapters::dynamodb::json::read_item;
use crate::adapters::dynamodb::{ATTR_INLINE_EVENT, ATTR_INLINE_EVIDENCE, IncidentKey, RECORD_EVENT, Store};
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Classification, Closure, Ctx, Event, Incident};
use crate::domain::severity::Level;

/// `attrs` hold exactly `built`: each attribute once, each value alike, the size alike.
fn assert_same(attrs: &Attrs, built: &Item) {
    let mut json = Vec::new();
    attrs.write_object(&mut json);
    let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    assert_eq!(read_item(&value).as_ref(), Some(built));
    assert_eq!(attrs.count(), built.len(), "an attribute written twice");
    assert_eq!(attrs.size(), item_size(built));
    assert_eq!(attrs.json_len() + 2, json.len());
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/findings/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The incident a fixture's finding creates, its log entry, and its message kept as evidence.
fn created(name: &str) -> (Incident, Event, Evidence) {
    let body = fixture(name);
    let finding = crate::domain::finding::parse(&body).unwrap();
    let policy = crate::domain::policy::Policy::default();
    let ctx = Ctx::defaults(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(), &policy);
    let (incident, event) = Incident::create("0d9c6f3e-1111-4a4a-9b9b-222233334444".into(), &finding, &ctx);
    let evidence = Evidence::of(&incident.incident_id, finding.updated_at, &body, ctx.now);
    (incident, event, evidence)
}

#[test]
fn incidents_are_written_as_the_item_serde_dynamo_builds() {
    let store = Store::offline();
    let fixtures = ["ec2-ssh-bruteforce-low.json", "ec2-instance-backdoor.json", "ec2-critical-attack-sequence.json"];
    let more = ["s3-object-malware.json", "unicode-long-title.json", "container-runtime-crypto.json"];
    for name in fixtures.into_iter().chain(more) {
        let (mut incident, _, _) = created(name);
        let pk = IncidentKey::of(&incident).pk();
        assert_same(&store.incident_attrs(&incident, &pk).unwrap(), &store.incident_item(&incident).unwrap());

        // Closed by a person, with the decisions of a Critical one and a classification: nested maps,
        // booleans, numbers, text that needs escaping.
        incident.assignee = Some("Ann \"the\" Responder\\é\u{1}".into());
        incident.acknowledged_by = Some("ann".into());
        incident.escalate_at = None;
        incident.closure = Some(Closure {
            by: "ann".into(),
            at: Utc::now(),
            notes: "line one\nline two\ttabbed".into(),
            legal_counsel: Some(false),
            customers_notified: Some(true),
            cost_estimate: Some("1.5e3 EUR".into()),
            ..Closure::default()
        });
        incident.classification = Some(Classification {
            by: "oce".into(),
            at: Utc::now(),
            level: Level::Medium,
            previous: Level::High,
            reason: "known scanner".into(),
            finding_severity: 7.25,
        });
        assert_same(&store.incident_attrs(&incident, &pk).unwrap(), &store.incident_item(&incident).unwrap());
    }
}

#[test]
fn log_entries_and_evidence_are_written_as_their_items() {
    let store = Store::offline();
    let (_, mut event, evidence) = created("ec2-instance-backdoor.json");
    let pk = "INC#a#r#f";
    let sk = "EVENT#2026-12-01T10:00:00Z#abc";
    // JSON values of every shape, as a log entry's before and after hold them.
    event.before = json!({"level": "HIGH", "n": [1, -2, 2.5, null, true, "x"], "deep": {"e": {}, "l": []}});
    event.after = json!(null);
    let built = store.encode(&event, pk, sk, RECORD_EVENT).unwrap();
    assert_same(&store.record_attrs(&event, Some(pk), sk, RECORD_EVENT, &[], 0).unwrap(), &built);

    // A finding's body is kept deflated; a short one as it is.
    assert_same(&store.evidence_attrs(&evidence, Some(pk)).unwrap(), &store.evidence_item(&evidence, pk).unwrap());
    let short = Evidence::of("i", None, "{\"a\":1}", Utc::now());
    assert_same(&store.evidence_attrs(&short, Some(pk)).unwrap(), &store.evidence_item(&short, pk).unwrap());
    // Inline, without the partition key.
    let mut inline = store.evidence_item(&evidence, pk).unwrap();
    inline.remove("pk");
    assert_same(&store.evidence_attrs(&evidence, None).unwrap(), &inline);
}

#[test]
fn a_new_incident_holds_its_first_records_inline_unless_they_are_too_large() {
    let store = Store::offline();
    let (incident, event, evidence) = created("ec2-instance-backdoor.json");
    let pk = IncidentKey::of(&incident).pk();
    let attrs = store.inline_item(&incident, &pk, Some(&event), Some(&evidence)).unwrap().expect("inline");
    let mut json = Vec::new();
    attrs.write_object(&mut json);
    let written: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // The log entry's key ends in a random suffix: the one written.
    let sk = written[ATTR_INLINE_EVENT]["M"]["sk"]["S"].as_str().expect("the entry's key");
    let mut built = store.incident_item(&incident).unwrap();
    let mut entry = store.encode(&event, &pk, sk, RECORD_EVENT).unwrap();
    let mut kept = store.evidence_item(&evidence, &pk).unwrap();
    entry.remove("pk");
    kept.remove("pk");
    built.insert(ATTR_INLINE_EVENT.into(), AttributeValue::M(entry));
    built.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(kept));
    assert_same(&attrs, &built);

    // Evidence that does not deflate below DynamoDB's item limit goes in its own item.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: String = (0..400_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 94) as u8)
        })
        .collect();
    let large = Evidence::of(&incident.incident_id, None, &noise, Utc::now());
    assert!(store.inline_item(&incident, &pk, Some(&event), Some(&large)).unwrap().is_none());
}

#[test]
fn renames_rename_or_leave_out_fields_and_non_records_are_refused() {
    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(u8, char),
        Struct { a: Option<u8> },
    }
    #[derive(Serialize)]
    struct Record {
        keep: &'static str,
        rename: u64,
        drop: bool,
        shapes: Vec<Shape>,
        bytes: serde_bytes_like::Bytes,
        unit: (),
    }
    mod serde_bytes_like {
        /// Serialized as bytes (a `B` attribute).
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }
    let record = Record {
        keep: "k",
        rename: 7,
        drop: true,
        shapes: vec![Shape::Unit, Shape::Newtype(3), Shape::Tuple(1, 'é'), Shape::Struct { a: None }],
        bytes: serde_bytes_like::Bytes(vec![0, 255, 10]),
        unit: (),
    };
    let mut attrs = Attrs::default();
    attrs.fields(&record, &[("rename", Some("renamed")), ("drop", None)]).unwrap();
    let mut built: Item = serde_dynamo::to_item(&record).unwrap();
    let renamed = built.remove("rename").unwrap();
    built.insert("renamed".into(), renamed);
    built.remove("drop");
    assert_same(&attrs, &built);

    for not_a_record in [json!("text"), json!([1]), json!(null)] {
        assert!(Attrs::default().fields(&not_a_record, &[]).is_err(), "{not_a_record}");
    }
    // Map keys must be text (numbers are written as text, as serde_dynamo does).
    let mut keyed = Attrs::default();
    let map = std::collections::BTreeMap::from([(1u8, "one")]);
    #[derive(Serialize)]
    struct Keyed<'a> {
        map: &'a std::collections::BTreeMap<u8, &'static str>,
    }
    keyed.fields(&Keyed { map: &map }, &[]).unwrap();
    assert_same(&keyed, &serde_dynamo::to_item(Keyed { map: &map }).unwrap());
    let bad = std::collections::BTreeMap::from([((1u8, 2u8), "pair")]);
    #[derive(Serialize)]
    struct BadKeys<'a> {
        map: &'a std::collections::BTreeMap<(u8, u8), &'static str>,
    }
    assert!(Attrs::default().fields(&BadKeys { map: &bad }, &[]).is_err());
}
