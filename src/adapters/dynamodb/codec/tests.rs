//! Items of records, their sizes, updates and inline records.

use chrono::Utc;

use super::*;
use crate::adapters::dynamodb::{ATTR_INLINE_EVIDENCE, INLINE_ITEM_MAX};

fn item(pairs: &[(&str, &str)]) -> Item {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned()))).collect()
}

#[test]
fn updates_set_what_the_incident_has_and_remove_what_it_lost() {
    let previous = item(&[("pk", "P"), ("sk", "INCIDENT"), ("status", "open"), ("escalate_at", "t")]);
    let next = item(&[("pk", "P"), ("sk", "INCIDENT"), ("status", "acknowledged"), ("assignee", "ann")]);
    let update = update_of(&next, &previous, 4);
    assert_eq!(update.expression, "SET #s0 = :s0, #s1 = :s1 REMOVE #r0");
    assert_eq!(update.names["#s0"], "assignee");
    assert_eq!(update.names["#s1"], "status");
    assert_eq!(update.names["#r0"], "escalate_at");
    assert_eq!(update.names["#version"], "version");
    assert_eq!(update.values[":s1"], AttributeValue::S("acknowledged".into()));
    assert_eq!(update.values[":expected"], AttributeValue::N("4".into()));
    // Keys are never set, and nothing unknown to both (the inline records) is touched.
    assert!(!update.names.values().any(|n| n == "pk" || n == "sk" || n == ATTR_INLINE_EVIDENCE));
    let same = update_of(&next, &next, 1);
    assert!(!same.expression.contains("REMOVE"));
}

#[test]
fn the_escalation_index_holds_owed_pages_and_the_repage_time_reads_back() {
    use crate::domain::incident::{Page, PageState};
    use crate::domain::routing::Target;
    use crate::domain::severity::Level;
    let store = Store::offline();
    let now = Utc::now();
    let at = |m: i64| now + chrono::Duration::minutes(m);
    let mut incident = Incident::open(at(0));
    (incident.account_id, incident.region, incident.finding_id) = ("a".into(), "r".into(), "f".into());
    let indexed = |item: &Item| (string(item, "escalation_due"), string(item, ATTR_DUE_AT));

    let plain = store.incident_item(&incident).unwrap();
    assert_eq!(indexed(&plain), (None, None), "nothing owed or scheduled: not in the index");
    assert!(!plain.contains_key(ATTR_REPAGE_AT));

    incident.escalate_at = Some(at(15));
    let page = Page {
        level: Level::High,
        target: Target::Oce,
        state: PageState::Owed,
        owed_at: at(0),
        claimed_by: Some("w".into()),
        claim_until: Some(at(1)),
        sent_at: None,
        message_id: None,
        escalation: 0,
        update: None,
        reopening: 0,
        breach: None,
    };
    incident.pages.insert("HIGH:oce".into(), page);
    let owing = store.incident_item(&incident).unwrap();
    let shard = escalation_shard(&list_shard("INC#a#r#f", "a"));
    assert_eq!(indexed(&owing), (Some(shard), Some(timestamp::format(at(1)))), "due when the claim lapses");
    assert_eq!(
        store.decode_incident(owing).unwrap().escalate_at,
        incident.escalate_at.map(|t| timestamp::parse(&timestamp::format(t)).unwrap())
    );

    incident.escalate_at = None;
    let last = store.incident_item(&incident).unwrap();
    assert_eq!(last[ATTR_REPAGE_AT], AttributeValue::Null(true));
    assert_eq!(store.decode_incident(last).unwrap().escalate_at, None, "no re-page scheduled");

    // An item written before owed pages were indexed: `escalate_at` is the re-page time.
    let mut legacy = plain.clone();
    legacy.insert(ATTR_DUE_AT.into(), AttributeValue::S(timestamp::format(at(15))));
    assert!(store.decode_incident(legacy).unwrap().escalate_at.is_some());
}

#[test]
fn inline_records_merge_in_key_order_once() {
    let separate = vec![item(&[("sk", "EVENT#2026-01-02#b")]), item(&[("sk", "EVENT#2026-01-03#c")])];
    let inline = item(&[("sk", "EVENT#2026-01-01#a")]);
    let merged = merge_records(separate.clone(), vec![inline.clone()]);
    let sks: Vec<_> = merged.iter().filter_map(|i| string(i, "sk")).collect();
    assert_eq!(sks, ["EVENT#2026-01-01#a", "EVENT#2026-01-02#b", "EVENT#2026-01-03#c"]);
    // Evidence kept again separately (a redelivery) is listed once.
    let twice = merge_records(vec![inline.clone()], vec![inline]);
    assert_eq!(twice.len(), 1);
    assert_eq!(merge_records(separate.clone(), Vec::new()), separate);
}

#[test]
fn item_size_counts_names_and_values_so_large_evidence_is_not_inlined() {
    let small = item(&[("ab", "cde")]);
    assert_eq!(item_size(&small), 5);
    let mut with_map = small.clone();
    with_map.insert("m".into(), AttributeValue::M(item(&[("x", "yz")])));
    assert_eq!(item_size(&with_map), 5 + 1 + 3 + 1 + 1 + 2);
    let body = "x".repeat(300 * 1024);
    let evidence = Evidence::of("i", None, &body, Utc::now());
    let mut big = small.clone();
    big.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(serde_dynamo::to_item(&evidence).unwrap()));
    assert!(item_size(&big) > INLINE_ITEM_MAX);
    let typical = Evidence::of("i", None, &"x".repeat(8 * 1024), Utc::now());
    let mut ok = small;
    ok.insert(ATTR_INLINE_EVIDENCE.into(), AttributeValue::M(serde_dynamo::to_item(&typical).unwrap()));
    assert!(item_size(&ok) <= INLINE_ITEM_MAX);
}

#[test]
fn evidence_is_kept_deflated_and_reads_back_whole() {
    let store = Store::offline();
    let body = std::fs::read_to_string("tests/fixtures/findings/ec2-instance-backdoor.json").unwrap();
    let evidence = Evidence::of("i", None, &body, Utc::now());
    let item = store.evidence_item(&evidence, "INC#a#b#c").unwrap();
    assert!(!item.contains_key("body"));
    assert!(!item.contains_key("incident_id"), "evidence stays out of by-incident-id");
    assert!(item_size(&item) < body.len() / 2, "{} of {}", item_size(&item), body.len());
    let back = store.decode_evidence(item).unwrap();
    assert_eq!(
        (&back.body, &back.sha256, &back.incident_id),
        (&evidence.body, &evidence.sha256, &evidence.incident_id)
    );
    assert!(back.verify());
    // Short bodies, and items written before deflating, are kept as they are.
    let short = Evidence::of("i", None, "{}", Utc::now());
    let item = store.evidence_item(&short, "INC#a#b#c").unwrap();
    assert_eq!(string(&item, "body").as_deref(), Some("{}"));
    assert_eq!(store.decode_evidence(item).unwrap().body, short.body);
    // A body that does not inflate is a corrupt item, not a panic.
    let mut bad = store.evidence_item(&evidence, "INC#a#b#c").unwrap();
    bad.insert("body_deflate".into(), AttributeValue::B(Blob::new(vec![1, 2, 3])));
    assert!(matches!(store.decode_evidence(bad), Err(StoreError::Corrupt { .. })));
}

#[test]
fn listing_tokens_round_trip_and_reject_garbage() {
    let key: Item = [("pk", "INC#a#b#c"), ("sk", "INCIDENT"), ("list_shard", "3"), ("created_at", "2026")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect();
    let at = |shard: &str, c: Cursor| TablePosition([(shard.to_owned(), c)].into_iter().collect());
    for position in [
        Position { main: at("3", Cursor::After(key.clone())), confidential: TablePosition::default() },
        Position { main: TablePosition::ended(), confidential: at("staff", Cursor::After(key.clone())) },
        Position::default(),
    ] {
        assert_eq!(decode_token(&encode_token(&position)).unwrap(), position);
    }
    assert!(matches!(decode_token("not a token!"), Err(StoreError::BadToken(_))));
    let wrong = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"main":{"3":{"pk":"x"}}}"#);
    assert!(matches!(decode_token(&wrong), Err(StoreError::BadToken(_))));
    let wrong = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"[1]");
    assert!(matches!(decode_token(&wrong), Err(StoreError::BadToken(_))));
}
