//! The incident table through `Store` on LocalStack: a new incident's first log entry and evidence, kept
//! inline on the incident item when they fit and as separate records when they do not, read back the same
//! way, in order, once, and kept through later updates. Confidential reports in a table of their own: kept
//! there and nowhere else, listed with the rest newest first, and moved there from the incident table.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use gd_incidents::adapters::dynamodb::{IncidentKey, ListFilter, Store, StoreError};
use gd_incidents::domain::evidence::Evidence;
use gd_incidents::domain::finding;
use gd_incidents::domain::incident::{self, Ctx, Event, Incident};
use gd_incidents::domain::lifecycle::{self, Report};
use gd_incidents::domain::policy::Policy;
use gd_incidents::domain::severity::Level;
use serde_json::json;
use support::*;

fn ctx<'a>(policy: &'a Policy) -> Ctx<'a> {
    Ctx { claimant: "test", claim_for: chrono::Duration::minutes(5), ..Ctx::defaults(Utc::now(), policy) }
}

/// A LOW finding `id` at version `minute`, padded with `pad` random hex digits that only the evidence keeps
/// (random, so that deflating the evidence cannot make it small).
fn body(id: &str, minute: u32, pad: usize) -> String {
    let mut v = FindingEvent::from_fixture("ec2-ssh-bruteforce-low", id).minute(minute).count(u64::from(minute));
    let padding: String = (0..pad.div_ceil(32)).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
    v.0["detail"]["service"]["additionalInfo"] = json!({ "padding": &padding[..pad] });
    v.body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_records_inline_or_separate_read_back_alike_and_survive_updates() {
    let stack = deploy_stack("store");
    let aws = Aws::new().await;
    let store = aws.store(stack.table(), None);
    let policy = Policy::default();
    // 2 KB fits inline; 600 KB (EventBridge allows 256 KB, SQS 1 MiB), deflated to about 330 KB, must not:
    // DynamoDB's item limit is 400 KB.
    for (id, pad, inline) in
        [("5a11000000000000000000000000000a", 2048, true), ("1a26e000000000000000000000000000", 600 * 1024, false)]
    {
        let first = body(id, 1, pad);
        let f1 = finding::parse(&first).unwrap();
        let (created, created_event) = Incident::create(uuid::Uuid::new_v4().to_string(), &f1, &ctx(&policy));
        let e1 = Evidence::of(&created.incident_id, f1.updated_at, &first, Utc::now());
        let v1 = store.commit(&created, None, std::slice::from_ref(&created_event), Some(&e1)).await.unwrap();
        assert_eq!(v1.version, 1);
        // Created again (a redelivery): what is stored, and whether this evidence is already kept inline.
        let again = Incident { incident_id: uuid::Uuid::new_v4().to_string(), ..created.clone() };
        match store.commit(&again, None, std::slice::from_ref(&created_event), Some(&e1)).await {
            Err(StoreError::Exists { current, inline_evidence }) => {
                assert_eq!(current.map(|c| c.incident_id), Some(v1.incident_id.clone()), "{id}");
                assert_eq!(inline_evidence, inline.then(|| e1.sk()), "{id}");
            }
            Err(StoreError::Conflict(current)) if !inline => {
                assert_eq!(current.map(|c| c.incident_id), Some(v1.incident_id.clone()), "{id}");
            }
            other => panic!("{id}: a second create must fail with what is stored: {other:?}"),
        }

        // A newer version, then a redelivery of the first: two log entries, two pieces of evidence.
        let second = body(id, 2, pad);
        let f2 = finding::parse(&second).unwrap();
        let (next, updated_event) = incident::apply(&v1, &f2, &ctx(&policy)).unwrap();
        let e2 = Evidence::of(&v1.incident_id, f2.updated_at, &second, Utc::now());
        let v2 = store.commit(&next, Some(&v1), std::slice::from_ref(&updated_event), Some(&e2)).await.unwrap();
        assert!(incident::apply(&v2, &f1, &ctx(&policy)).is_none(), "the first version changes nothing now");
        store
            .keep_evidence(&IncidentKey::of(&v2), &Evidence { incident_id: v2.incident_id.clone(), ..e1.clone() })
            .await
            .unwrap();

        let loaded = store.load(&IncidentKey::of(&v2)).await.unwrap().unwrap();
        assert_eq!((loaded.version, loaded.finding_count, &loaded.incident_id), (2, 2, &v1.incident_id));
        let timeline = store.timeline(&loaded).await.unwrap();
        let actions: Vec<(&str, &str)> = timeline.iter().map(|e| (e.action.as_str(), e.summary.as_str())).collect();
        assert_eq!(
            actions,
            [
                (created_event.action.as_str(), created_event.summary.as_str()),
                (updated_event.action.as_str(), updated_event.summary.as_str())
            ],
            "{id}: the log, oldest first"
        );
        let evidence = store.evidence(&loaded).await.unwrap();
        let bodies: Vec<&str> = evidence.iter().map(|e| e.body.as_str()).collect();
        assert_eq!(bodies, [first.as_str(), second.as_str()], "{id}: every version once, oldest first");
        assert!(evidence.iter().all(Evidence::verify));

        // Where the first records are: on the incident item when they fit, and still there after the update.
        let item = aws
            .dynamodb
            .get_item()
            .table_name(stack.table())
            .key("pk", AttributeValue::S(IncidentKey::of(&v2).pk()))
            .key("sk", AttributeValue::S("INCIDENT".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item.contains_key("inline_evidence"), inline, "{id}");
        assert_eq!(item.contains_key("inline_event"), inline, "{id}");
        assert_eq!(item.get("record_type"), Some(&AttributeValue::S("incident".into())));
    }
}

/// A staff report filed at `minute` past the hour.
fn report(title: &str, confidential: bool, minute: i64, policy: &Policy) -> (Incident, Event) {
    let r =
        Report { by: "dana".into(), title: title.into(), description: "d".into(), level: Level::High, confidential };
    let at = Utc::now() - chrono::Duration::hours(1) + chrono::Duration::minutes(minute);
    lifecycle::report(uuid::Uuid::new_v4().to_string(), &r, &Ctx { now: at, ..ctx(policy) }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_reports_are_kept_in_their_own_table_listed_with_the_rest_and_moved_there() {
    let stack = deploy_stack("store-confidential");
    let aws = Aws::new().await;
    let store = aws.store(stack.table(), Some(stack.confidential_table().to_owned()));
    let policy = Policy::default();
    let mut filed = Vec::new();
    for minute in 0..6 {
        let (incident, event) = report(&format!("report {minute}"), minute % 2 == 1, minute, &policy);
        filed.push(store.commit(&incident, None, &[event], None).await.unwrap());
    }
    let ids = |items: Vec<_>| -> Vec<String> {
        let mut ids: Vec<String> = items.iter().filter_map(|i| s(i, "incident_id").map(str::to_owned)).collect();
        ids.sort();
        ids
    };
    let of = |confidential: bool| -> Vec<String> {
        let mut ids: Vec<String> =
            filed.iter().filter(|i| i.confidential == confidential).map(|i| i.incident_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(aws.incidents(stack.table()).await), of(false), "no confidential report in the incident table");
    assert_eq!(ids(aws.incidents(stack.confidential_table()).await), of(true), "and all of them in theirs");

    // Listed newest first across both tables, two at a time, each once; without them for responders.
    let newest_first: Vec<String> = filed.iter().rev().map(|i| i.incident_id.clone()).collect();
    let all = ListFilter { confidential: true, ..ListFilter::default() };
    let (mut listed, mut next) = (Vec::new(), None);
    loop {
        let page = store.list(&all, 2, next.as_deref()).await.unwrap();
        assert!(page.incidents.len() <= 2);
        listed.extend(page.incidents.into_iter().map(|i| i.incident_id));
        next = page.next;
        if next.is_none() {
            break;
        }
        assert!(listed.len() < 10, "the listing ends");
    }
    assert_eq!(listed, newest_first);
    let plain = store.list(&ListFilter::default(), 50, None).await.unwrap();
    let plain: Vec<String> = plain.incidents.into_iter().map(|i| i.incident_id).collect();
    let expected: Vec<String> = newest_first.iter().filter(|id| !id.starts_with("confidential-")).cloned().collect();
    assert_eq!(plain, expected);

    // Found by id, its log read, and due to the daemon (its ISO page is owed) from its own table.
    let secret = filed.iter().find(|i| i.confidential).unwrap();
    let found = store.find(&secret.incident_id).await.unwrap().expect("found by id");
    assert_eq!(store.timeline(&found).await.unwrap().len(), 1);
    let due = store.due(Utc::now() + chrono::Duration::hours(1)).await.unwrap();
    assert!(due.contains(&IncidentKey::of(secret)), "{due:?}");

    // A report filed before the confidential table existed (in the incident table, a plain id) is moved.
    let legacy = aws.store(stack.table(), None);
    let (mut old, event) = report("before the table", true, 7, &policy);
    old.incident_id = uuid::Uuid::new_v4().to_string();
    old.finding_id = old.incident_id.clone();
    let old = legacy.commit(&old, None, &[event], None).await.unwrap();
    let waiting = store.confidential_in_incident_table().await.unwrap();
    assert_eq!(waiting.iter().map(|i| &i.incident_id).collect::<Vec<_>>(), [&old.incident_id]);
    let moved_event = Event::new(Utc::now(), "ivy", "moved", "moved to the confidential table");
    let moved = store.move_confidential(&old, &moved_event).await.unwrap();
    assert_eq!(moved.incident_id, format!("confidential-{}", old.incident_id));
    assert_eq!((moved.title.as_str(), moved.version), ("before the table", old.version));
    let log: Vec<String> = store.timeline(&moved).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(log, ["report", "moved"]);
    assert!(!ids(aws.incidents(stack.table()).await).contains(&old.incident_id), "gone from the incident table");
    let left = aws
        .dynamodb
        .query()
        .table_name(stack.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(IncidentKey::of(&old).pk()))
        .send()
        .await
        .unwrap();
    assert_eq!(left.count, 0, "none of its records is left there");
    assert!(store.confidential_in_incident_table().await.unwrap().is_empty());
    assert_eq!(store.find(&moved.incident_id).await.unwrap().map(|i| i.incident_id), Some(moved.incident_id));
}

/// A finding's incident created `minute` minutes ago with `title`.
fn created(store: &Store, n: usize, title: &str, policy: &Policy) -> impl std::future::Future<Output = Incident> {
    let id = format!("{n:032x}");
    let mut event = FindingEvent::from_fixture("ec2-ssh-bruteforce-low", &id);
    event.0["detail"]["title"] = json!(title);
    let f = finding::parse(&event.body()).unwrap();
    let at = Utc::now() - chrono::Duration::minutes(100) + chrono::Duration::seconds(n as i64);
    let (incident, first) = Incident::create(uuid::Uuid::new_v4().to_string(), &f, &Ctx { now: at, ..ctx(policy) });
    let store = store.clone();
    async move { store.commit(&incident, None, &[first], None).await.unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_merge_every_shard_newest_first_search_all_and_take_in_older_incidents() {
    let stack = deploy_stack("store-listing");
    let aws = Aws::new().await;
    let store = aws.store(stack.table(), None);
    let policy = Policy::default();
    let mut made = Vec::new();
    for n in 0..40 {
        let title = if n == 17 { "Bitcoin mining from i-0feed" } else { "SSH brute force" };
        made.push(created(&store, n, title, &policy).await);
    }
    // Spread over the shards (no index partition takes every write).
    let shards: std::collections::BTreeSet<String> =
        aws.incidents(stack.table()).await.iter().filter_map(|i| s(i, "list_shard").map(str::to_owned)).collect();
    assert!(shards.len() >= 4, "{shards:?}");

    // Two incidents written before the index: their items lack `list_shard`, so no listing shows them yet.
    let mut older = Vec::new();
    for n in 40..42 {
        let incident = created(&store, n, "Written by an older version", &policy).await;
        aws.dynamodb
            .update_item()
            .table_name(stack.table())
            .key("pk", AttributeValue::S(IncidentKey::of(&incident).pk()))
            .key("sk", AttributeValue::S("INCIDENT".into()))
            .update_expression("REMOVE list_shard, search_text")
            .send()
            .await
            .unwrap();
        older.push(incident);
    }
    let everything = |store: Store, filter: ListFilter, page: usize| async move {
        let (mut listed, mut next) = (Vec::new(), None::<String>);
        loop {
            let got = store.list(&filter, page, next.as_deref()).await.unwrap();
            assert!(got.incidents.len() <= page);
            listed.extend(got.incidents.into_iter().map(|i| i.incident_id));
            next = got.next;
            if next.is_none() || listed.len() > 100 {
                return listed;
            }
        }
    };
    let newest_first: Vec<String> = made.iter().rev().map(|i| i.incident_id.clone()).collect();
    assert_eq!(everything(store.clone(), ListFilter::default(), 7).await, newest_first, "paged 7 at a time");

    assert_eq!(store.backfill_listing().await.unwrap(), 2, "the two older incidents join the index");
    assert_eq!(store.backfill_listing().await.unwrap(), 0, "once");
    let all: Vec<String> = made.iter().chain(&older).rev().map(|i| i.incident_id.clone()).collect();
    assert_eq!(everything(store.clone(), ListFilter::default(), 50).await, all);

    // A search looks through every incident, whatever its age, and pages on.
    let search = ListFilter { text: Some("bitcoin".into()), ..ListFilter::default() };
    assert_eq!(everything(store.clone(), search, 5).await, std::slice::from_ref(&made[17].incident_id));
    let none = ListFilter { text: Some("nothing like it".into()), ..ListFilter::default() };
    assert!(everything(store.clone(), none, 5).await.is_empty());

    // Staff reports are listed with the rest, and alone by their reporter.
    let (report, event) = report("laptop stolen", false, 0, &policy);
    let report = store.commit(&report, None, &[event], None).await.unwrap();
    let mine = ListFilter { reporter: Some("DANA".into()), ..ListFilter::default() };
    assert_eq!(everything(store.clone(), mine, 10).await, std::slice::from_ref(&report.incident_id));
    let theirs = ListFilter { reporter: Some("eve".into()), ..ListFilter::default() };
    assert!(everything(store.clone(), theirs, 10).await.is_empty());
    assert!(everything(store.clone(), ListFilter::default(), 100).await.contains(&report.incident_id));
}

/// The separate items of an incident's log entries, by sort key.
async fn event_items(aws: &Aws, table: &str, incident: &Incident) -> Vec<String> {
    let out = aws
        .dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :e)")
        .expression_attribute_values(":pk", AttributeValue::S(IncidentKey::of(incident).pk()))
        .expression_attribute_values(":e", AttributeValue::S("EVENT#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().iter().filter_map(|i| s(i, "sk").map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_writes_its_log_entry_without_a_transaction_and_loses_none_if_its_put_never_happens() {
    let stack = deploy_stack("store-pending");
    let aws = Aws::new().await;
    let store = aws.store(stack.table(), None);
    let policy = Policy::default();
    let id = "9e2d0000000000000000000000000001";
    let f1 = finding::parse(&body(id, 1, 0)).unwrap();
    let (created, first) = Incident::create(uuid::Uuid::new_v4().to_string(), &f1, &ctx(&policy));
    let v1 = store.commit(&created, None, std::slice::from_ref(&first), None).await.unwrap();
    let update = |v: &Incident, minute: u32| {
        let text = body(id, minute, 0);
        let f = finding::parse(&text).unwrap();
        let (next, event) = incident::apply(v, &f, &ctx(&policy)).unwrap();
        (next, event, Evidence::of(&v.incident_id, f.updated_at, &text, Utc::now()))
    };
    let (next, second, e2) = update(&v1, 2);
    let v2 = store.commit(&next, Some(&v1), std::slice::from_ref(&second), Some(&e2)).await.unwrap();
    assert_eq!(event_items(&aws, stack.table(), &v2).await.len(), 1, "the update's entry has its own item");

    // The process dies between the update and the entry's put: its item is missing, the log is not.
    let sk = event_items(&aws, stack.table(), &v2).await.remove(0);
    aws.dynamodb
        .delete_item()
        .table_name(stack.table())
        .key("pk", AttributeValue::S(IncidentKey::of(&v2).pk()))
        .key("sk", AttributeValue::S(sk.clone()))
        .send()
        .await
        .unwrap();
    let summaries = |log: Vec<Event>| log.into_iter().map(|e| e.summary).collect::<Vec<_>>();
    let log = summaries(store.timeline(&v2).await.unwrap());
    assert_eq!(log, [first.summary.clone(), second.summary.clone()]);

    // The next update puts it again before its own.
    let (next, third, e3) = update(&v2, 3);
    let v3 = store.commit(&next, Some(&v2), std::slice::from_ref(&third), Some(&e3)).await.unwrap();
    let items = event_items(&aws, stack.table(), &v3).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.contains(&sk), "the lost entry is back under its own key");
    let log = summaries(store.timeline(&v3).await.unwrap());
    assert_eq!(log, [first.summary, second.summary, third.summary], "each once, oldest first");
    assert_eq!(store.evidence(&v3).await.unwrap().len(), 2, "each update's evidence");
}

/// DynamoDB answers a `BatchGetItem` with what it could read and leaves the rest as `UnprocessedKeys` when
/// throttled or past 16 MB. A list asks again for what was left, and fails saying so when keys stay left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_asks_again_for_keys_dynamodb_left_unprocessed() {
    let stack = deploy_stack("unprocessed");
    let aws = Aws::new().await;
    let store = aws.store(stack.table(), None);
    let policy = Policy::default();
    let mut made = Vec::new();
    for n in 0..3 {
        made.push(created(&store, n, "SSH brute force", &policy).await);
    }
    let newest_first: Vec<String> = made.iter().rev().map(|i| i.incident_id.clone()).collect();

    // Each BatchGetItem answer keeps `keep` of the items it read; the others' keys go back unprocessed.
    let (calls, keep) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(1)));
    let (c, k, table) = (Arc::clone(&calls), Arc::clone(&keep), stack.table().to_owned());
    let edit: support::http::Edit = Arc::new(move |headers, answer| {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !target.ends_with(".BatchGetItem") {
            return answer;
        }
        c.fetch_add(1, Ordering::SeqCst);
        let mut v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let items = v["Responses"][&table].as_array().cloned().unwrap_or_default();
        let (kept, left) = items.split_at(k.load(Ordering::SeqCst).min(items.len()));
        let keys: Vec<serde_json::Value> = left.iter().map(|i| json!({"pk": i["pk"], "sk": i["sk"]})).collect();
        v["Responses"][&table] = json!(kept);
        if !keys.is_empty() {
            v["UnprocessedKeys"] = json!({ &table: { "Keys": keys } });
        }
        v.to_string()
    });
    let proxy = support::http::editing_proxy(support::localstack::endpoint(), edit);
    let proxied =
        aws_sdk_dynamodb::Client::from_conf(aws.dynamodb.config().to_builder().endpoint_url(proxy.url()).build());
    let through_proxy =
        Store::new(proxied, localstack::dynamodb_json(&proxy.url(), Default::default()), stack.table(), None);

    let listed = through_proxy.list(&ListFilter::default(), 50, None).await.unwrap();
    let ids: Vec<String> = listed.incidents.into_iter().map(|i| i.incident_id).collect();
    assert_eq!(ids, newest_first, "every incident, in order, one more read per key left");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Nothing read at all, round after round: the list fails and says why, after 5 tries.
    keep.store(0, Ordering::SeqCst);
    calls.store(0, Ordering::SeqCst);
    let err = through_proxy.list(&ListFilter::default(), 50, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Aws { op: "BatchGetItem", .. }), "{err:?}");
    assert!(err.to_string().contains("3 keys still unprocessed after 5 rounds"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_incident_is_put_through_faults_and_a_lasting_one_is_reported_without_a_write() {
    let stack = deploy_stack("store-faults");
    let aws = Aws::new().await;
    let policy = Policy::default();
    let refusals = Arc::new(AtomicUsize::new(2));
    let proxy = support::http::failing_proxy(
        localstack::endpoint(),
        r#""ConditionExpression":"attribute_not_exists(pk)""#,
        Arc::clone(&refusals),
    );
    let log = tempfile::NamedTempFile::new().unwrap();
    let hooks = gd_incidents::adapters::aws_json::Hooks { faults: None, call_log: Some(log.path().to_owned()) };
    let store = Store::new(aws.dynamodb.clone(), localstack::dynamodb_json(&proxy.url(), hooks), stack.table(), None);

    // Two 503s, then the put goes through: the incident is there, once.
    let first = created(&store, 1, "SSH brute force", &policy).await;
    assert_eq!(refusals.load(Ordering::SeqCst), 0, "both refusals were met, then retried past");
    let key = IncidentKey::of(&first);
    assert_eq!(store.load(&key).await.unwrap().map(|i| i.incident_id), Some(first.incident_id.clone()));
    // Every attempt is in the call log, as the permission test reads it.
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(log.path()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert_eq!((line["service"].as_str(), line["operation"].as_str()), (Some("DynamoDB"), Some("PutItem")));
        let body: serde_json::Value = serde_json::from_str(line["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["TableName"], stack.table());
    }

    // Refused for good: the commit fails after the configured 5 attempts, saying what and where, and
    // nothing is written.
    refusals.store(usize::MAX, Ordering::SeqCst);
    let finding = finding::parse(&body("5a11000000000000000000000000000f", 1, 0)).unwrap();
    let (incident, event) = Incident::create(uuid::Uuid::new_v4().to_string(), &finding, &ctx(&policy));
    let err = store.commit(&incident, None, std::slice::from_ref(&event), None).await.unwrap_err();
    assert_eq!(usize::MAX - refusals.load(Ordering::SeqCst), 5);
    assert!(matches!(err, StoreError::Aws { op: "PutItem", .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("DynamoDB PutItem on table {} failed", stack.table())), "{err}");
    assert_eq!(aws.store(stack.table(), None).load(&IncidentKey::of(&incident)).await.unwrap(), None);
}
