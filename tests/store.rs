//! The incident table through `Store` on LocalStack: a new incident's first log entry and evidence, kept
//! inline on the incident item when they fit and as separate records when they do not, read back the same
//! way, in order, once, and kept through later updates.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use gd_incidents::adapters::dynamodb::{IncidentKey, Store, StoreError};
use gd_incidents::domain::evidence::Evidence;
use gd_incidents::domain::finding;
use gd_incidents::domain::incident::{self, Ctx, Incident};
use gd_incidents::domain::policy::Policy;
use serde_json::json;
use support::*;

fn ctx<'a>(policy: &'a Policy) -> Ctx<'a> {
    Ctx {
        now: Utc::now(),
        claimant: "test",
        claim_for: chrono::Duration::minutes(5),
        policy,
        escalate_after: None,
        routing: &gd_incidents::domain::routing::EMPTY,
    }
}

/// A LOW finding `id` at version `minute`, padded with `pad` bytes that only the evidence keeps.
fn body(id: &str, minute: u32, pad: usize) -> String {
    let mut v = FindingEvent::from_fixture("ec2-ssh-bruteforce-low", id).minute(minute).count(u64::from(minute));
    v.0["detail"]["service"]["additionalInfo"] = json!({ "padding": "x".repeat(pad) });
    v.body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_records_inline_or_separate_read_back_alike_and_survive_updates() {
    let stack = deploy_stack("store");
    let aws = Aws::new().await;
    let store = Store::new(aws.dynamodb.clone(), stack.table());
    let policy = Policy::default();
    // 2 KB fits inline; 300 KB (EventBridge allows 256 KB, SQS 1 MiB) must not: DynamoDB's item limit is 400 KB.
    for (id, pad, inline) in
        [("5a11000000000000000000000000000a", 2048, true), ("1a26e000000000000000000000000000", 300 * 1024, false)]
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
