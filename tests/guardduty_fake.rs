//! The fake GuardDuty of tests/support/guardduty.rs, driven by the real aws-sdk-guardduty client: every
//! operation the reconciliation uses decodes in the SDK, and what GetFindings returns goes through
//! `gd_incidents::adapters::guardduty::to_body` and `gd_incidents::domain::finding::parse` like a queue message.

mod support;

use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_guardduty::types::{Condition, FindingCriteria, OrderBy, SortCriteria};
use gd_incidents::domain::severity::Level;
use support::guardduty::{FakeGuardDuty, api_finding, with_s3_bucket};

const ACCOUNT: &str = "123456789012";
const DETECTOR: &str = "7ac0b9d4e3f2418a9c6e5d1b0a2f3e4d";

fn client(fake: &FakeGuardDuty) -> Client {
    let config = aws_sdk_guardduty::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(fake.endpoint())
        .build();
    Client::from_conf(config)
}

fn millis(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso).expect("RFC 3339").timestamp_millis()
}

/// `updatedAt` of the i-th finding: minute i past 10:00, with milliseconds.
fn updated(minute: u32) -> String {
    format!("2026-11-20T10:{minute:02}:30.250Z")
}

fn instance(id: &str, minute: u32, severity: f64, count: u64) -> serde_json::Value {
    api_finding(
        id,
        ACCOUNT,
        "us-east-1",
        "Backdoor:EC2/C&CActivity.B!DNS",
        severity,
        &updated(minute),
        count,
        &format!("Finding {id}"),
    )
}

/// The criteria the reconciliation sends: updated since `since`, not archived, oldest first.
fn since(
    client: &Client,
    since: &str,
) -> aws_sdk_guardduty::operation::list_findings::builders::ListFindingsFluentBuilder {
    client
        .list_findings()
        .detector_id(DETECTOR)
        .finding_criteria(
            FindingCriteria::builder()
                .criterion("updatedAt", Condition::builder().greater_than_or_equal(millis(since)).build())
                .criterion("service.archived", Condition::builder().equals("false").build())
                .build(),
        )
        .sort_criteria(SortCriteria::builder().attribute_name("updatedAt").order_by(OrderBy::Asc).build())
}

#[tokio::test]
async fn list_detectors_and_the_error_for_an_unknown_detector() {
    let fake = FakeGuardDuty::start().await;
    let client = client(&fake);
    assert!(client.list_detectors().send().await.expect("ListDetectors").detector_ids().is_empty());

    fake.add_detector(DETECTOR);
    fake.add_detector("second");
    fake.add_detector(DETECTOR);
    let out = client.list_detectors().send().await.expect("ListDetectors");
    assert_eq!(out.detector_ids(), [DETECTOR, "second"]);
    assert_eq!(out.next_token(), None);
    // Paged through the query string.
    let first = client.list_detectors().max_results(1).send().await.expect("ListDetectors page 1");
    assert_eq!(first.detector_ids(), [DETECTOR]);
    let token = first.next_token().expect("a second page").to_owned();
    let second = client.list_detectors().max_results(1).next_token(token).send().await.expect("ListDetectors page 2");
    assert_eq!(second.detector_ids(), ["second"]);
    assert_eq!(second.next_token(), None);

    let err = client.list_findings().detector_id("not-mine").send().await.expect_err("an unknown detector fails");
    let service = err.into_service_error();
    assert!(service.is_bad_request_exception(), "{service:?}");
    assert!(service.meta().message().is_some_and(|m| m.contains("detectorId")), "{service:?}");
    assert_eq!(service.meta().code(), Some("BadRequestException"));

    assert_eq!(
        fake.requests(),
        ["GET /detector", "GET /detector", "GET /detector", "GET /detector", "POST /detector/not-mine/findings",]
    );
    assert_eq!(fake.calls()[2].query.as_deref(), Some("maxResults=1"));
}

#[tokio::test]
async fn list_findings_filters_on_updated_at_and_archived_and_pages() {
    let fake = FakeGuardDuty::start().await;
    let client = client(&fake);
    // Put out of order: two too old, five to find, one archived.
    for (id, minute) in [("f5", 9), ("old1", 1), ("f2", 5), ("f4", 8), ("old2", 2), ("f1", 3), ("gone", 6), ("f3", 7)] {
        fake.put_finding(DETECTOR, instance(id, minute, 8.0, 1));
    }
    client.archive_findings().detector_id(DETECTOR).finding_ids("gone").send().await.expect("ArchiveFindings");

    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = since(&client, &updated(3))
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("ListFindings");
        pages.push(out.finding_ids().to_vec());
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "ListFindings never ends: {pages:?}");
    }
    assert_eq!(pages, [vec!["f1", "f2"], vec!["f3", "f4"], vec!["f5"]]);

    // What went over the wire: the SDK's shapes, epoch milliseconds.
    let listed = fake
        .calls()
        .into_iter()
        .filter(|c| c.request == format!("POST /detector/{DETECTOR}/findings"))
        .collect::<Vec<_>>();
    assert_eq!(listed.len(), 3);
    let body = &listed[1].body;
    assert_eq!(body["findingCriteria"]["criterion"]["updatedAt"]["greaterThanOrEqual"], millis(&updated(3)));
    assert_eq!(body["findingCriteria"]["criterion"]["service.archived"]["equals"], serde_json::json!(["false"]));
    assert_eq!(body["sortCriteria"], serde_json::json!({"attributeName": "updatedAt", "orderBy": "ASC"}));
    assert_eq!(body["maxResults"], 2);
    assert!(body["nextToken"].is_string());

    // The SDK's own paginator agrees.
    let all: Vec<String> = since(&client, &updated(3))
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate ListFindings");
    assert_eq!(all, ["f1", "f2", "f3", "f4", "f5"]);

    // Without the archived criterion the archived finding is listed too; newest first on DESC.
    let out = client
        .list_findings()
        .detector_id(DETECTOR)
        .finding_criteria(
            FindingCriteria::builder()
                .criterion("updatedAt", Condition::builder().greater_than_or_equal(millis(&updated(6))).build())
                .build(),
        )
        .sort_criteria(SortCriteria::builder().attribute_name("updatedAt").order_by(OrderBy::Desc).build())
        .send()
        .await
        .expect("ListFindings");
    assert_eq!(out.finding_ids(), ["f5", "f4", "f3", "gone"]);
    assert_eq!(out.next_token(), None);
    // A strict bound excludes the finding on it.
    let out = client
        .list_findings()
        .detector_id(DETECTOR)
        .finding_criteria(
            FindingCriteria::builder()
                .criterion("updatedAt", Condition::builder().greater_than(millis(&updated(8))).build())
                .build(),
        )
        .send()
        .await
        .expect("ListFindings");
    assert_eq!(out.finding_ids(), ["f5"]);

    // The deprecated operators (`eq`, `gte`: an i32, too small for epoch milliseconds) are honoured too.
    #[allow(deprecated)]
    let old_style = FindingCriteria::builder()
        .criterion("service.archived", Condition::builder().eq("false").build())
        .criterion("severity", Condition::builder().gte(8).build())
        .criterion("type", Condition::builder().neq("Recon:EC2/PortProbeUnprotectedPort").build())
        .build();
    let out =
        client.list_findings().detector_id(DETECTOR).finding_criteria(old_style).send().await.expect("ListFindings");
    assert_eq!(
        out.finding_ids(),
        ["f5", "old1", "f2", "f4", "old2", "f1", "f3"],
        "insertion order without sortCriteria"
    );

    // maxResults outside 1..=50 is the API's error.
    let err = since(&client, &updated(0)).max_results(51).send().await.expect_err("maxResults 51");
    assert!(err.into_service_error().is_bad_request_exception());
}

#[tokio::test]
async fn get_findings_decode_in_the_sdk_and_parse_like_queue_messages() {
    let fake = FakeGuardDuty::start().await;
    let client = client(&fake);
    fake.put_finding(DETECTOR, instance("a1", 1, 8.0, 3));
    fake.put_finding(DETECTOR, instance("a2", 2, 8.5, 1));
    fake.put_finding(DETECTOR, instance("a3", 3, 2.0, 42));
    fake.put_finding(DETECTOR, instance("a4", 4, 9.3, 1));
    let s3 = with_s3_bucket(instance("b1", 5, 5.0, 7), "acme-finance-reports-eu", 1_513_612_691.551);
    fake.put_finding(DETECTOR, s3);

    let ids = client.list_findings().detector_id(DETECTOR).send().await.expect("ListFindings").finding_ids().to_vec();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "b1"]);
    let out = client.get_findings().detector_id(DETECTOR).set_finding_ids(Some(ids)).send().await.expect("GetFindings");
    let findings = out.findings();
    assert_eq!(findings.len(), 5);

    // The SDK decoded every member the conversion needs.
    let a1 = &findings[0];
    assert_eq!(a1.id(), Some("a1"));
    assert_eq!(a1.account_id(), Some(ACCOUNT));
    assert_eq!(a1.r#type(), Some("Backdoor:EC2/C&CActivity.B!DNS"));
    assert_eq!(a1.severity(), Some(8.0));
    assert_eq!(a1.updated_at(), Some("2026-11-20T10:01:30.250Z"));
    assert_eq!(a1.created_at(), Some("2026-11-20T09:59:30.250Z"), "count 3: created two minutes earlier");
    let service = a1.service().expect("service");
    assert_eq!(service.count(), Some(3));
    assert_eq!(service.detector_id(), Some(DETECTOR), "put_finding sets the detector");
    assert_eq!(service.archived(), Some(false));
    assert_eq!(
        service.action().and_then(|a| a.dns_request_action()).and_then(|d| d.domain()),
        Some("update.cdn-telemetry.example")
    );
    assert!(a1.arn().is_some_and(|arn| arn.ends_with(&format!(":detector/{DETECTOR}/finding/a1"))), "{:?}", a1.arn());
    let details = a1.resource().and_then(|r| r.instance_details()).expect("instanceDetails");
    assert!(details.instance_id().is_some_and(|i| i.starts_with("i-") && i.len() == 19), "{:?}", details.instance_id());
    assert_eq!(details.launch_time(), Some("2026-10-02T07:41:19.000Z"));
    assert_eq!(details.tags()[0].value(), Some("web-frontend-01"));
    assert_eq!(findings[1].severity(), Some(8.5));

    let b1 = &findings[4];
    assert_eq!(b1.resource().and_then(|r| r.resource_type()), Some("S3Bucket"));
    let bucket = &b1.resource().expect("resource").s3_bucket_details()[0];
    assert_eq!(bucket.name(), Some("acme-finance-reports-eu"));
    let created = bucket.created_at().expect("s3BucketDetails[0].createdAt decoded from an epoch number");
    assert_eq!(created.secs(), 1_513_612_691);
    assert_eq!(created.subsec_nanos() / 1_000_000, 551);

    // And each converts into an event the queue path accepts, with the same identity and version.
    let expected = [
        ("a1", Level::High, 3, "2026-11-20T10:01:30.250Z"),
        ("a2", Level::High, 1, "2026-11-20T10:02:30.250Z"),
        ("a3", Level::Low, 42, "2026-11-20T10:03:30.250Z"),
        ("a4", Level::Critical, 1, "2026-11-20T10:04:30.250Z"),
        ("b1", Level::Medium, 7, "2026-11-20T10:05:30.250Z"),
    ];
    for (finding, (id, level, count, updated_at)) in findings.iter().zip(expected) {
        let body = gd_incidents::adapters::guardduty::to_body(finding);
        let parsed = gd_incidents::domain::finding::parse(&body).unwrap_or_else(|e| panic!("{id}: {e}\n{body}"));
        assert_eq!(parsed.id, id);
        assert_eq!(parsed.level, level, "{id}");
        assert_eq!(parsed.count, count, "{id}");
        assert_eq!(parsed.updated_at, gd_incidents::domain::finding::timestamp(Some(updated_at)), "{id}");
        assert_eq!(parsed.account_id, ACCOUNT);
        assert_eq!(parsed.detector_id.as_deref(), Some(DETECTOR));
        if id == "b1" {
            assert_eq!(parsed.resource.summary, "S3 bucket acme-finance-reports-eu");
            let event: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(event["detail"]["resource"]["s3BucketDetails"][0]["createdAt"], "2017-12-18T15:58:11.551Z");
        } else {
            assert!(parsed.resource.summary.starts_with("EC2 instance i-"), "{}", parsed.resource.summary);
            assert!(
                parsed.resource.summary.ends_with(r#"(m5.large) "web-frontend-01""#),
                "{}",
                parsed.resource.summary
            );
        }
    }

    // Unknown ids are left out, as GuardDuty does; more than 50 ids is its error.
    let out = client
        .get_findings()
        .detector_id(DETECTOR)
        .finding_ids("a2")
        .finding_ids("nope")
        .send()
        .await
        .expect("GetFindings");
    assert_eq!(out.findings().iter().map(|f| f.id().unwrap_or_default()).collect::<Vec<_>>(), ["a2"]);
    let too_many: Vec<String> = (0..51).map(|i| format!("id{i}")).collect();
    let err = client
        .get_findings()
        .detector_id(DETECTOR)
        .set_finding_ids(Some(too_many))
        .send()
        .await
        .expect_err("51 ids are too many");
    let service = err.into_service_error();
    assert!(service.is_bad_request_exception(), "{service:?}");
}

#[tokio::test]
async fn archive_findings_is_recorded_and_archives() {
    let fake = FakeGuardDuty::start().await;
    let client = client(&fake);
    for (id, minute) in [("x1", 1), ("x2", 2), ("x3", 3)] {
        fake.put_finding(DETECTOR, instance(id, minute, 8.0, 1));
    }
    client
        .archive_findings()
        .detector_id(DETECTOR)
        .finding_ids("x1")
        .finding_ids("x3")
        .send()
        .await
        .expect("ArchiveFindings");
    assert_eq!(fake.archived(), ["x1", "x3"]);
    assert_eq!(fake.archive_calls(), [vec!["x1".to_owned(), "x3".to_owned()]]);
    assert!(fake.requests().contains(&format!("POST /detector/{DETECTOR}/findings/archive")));
    assert_eq!(fake.finding(DETECTOR, "x1").expect("stored")["service"]["archived"], true);

    let out = since(&client, &updated(0)).send().await.expect("ListFindings");
    assert_eq!(out.finding_ids(), ["x2"], "archived findings are filtered out");
    let out = client.get_findings().detector_id(DETECTOR).finding_ids("x3").send().await.expect("GetFindings");
    assert_eq!(out.findings()[0].service().and_then(|s| s.archived()), Some(true));

    let err =
        client.archive_findings().detector_id("other").finding_ids("x2").send().await.expect_err("unknown detector");
    assert!(err.into_service_error().is_bad_request_exception());
    assert_eq!(fake.archived(), ["x1", "x3"], "a rejected call archives nothing");
}

#[tokio::test]
async fn a_new_version_replaces_the_stored_one() {
    let fake = FakeGuardDuty::start().await;
    let client = client(&fake);
    fake.put_finding(DETECTOR, instance("v", 1, 5.0, 1));
    fake.put_finding(DETECTOR, instance("w", 2, 5.0, 1));
    fake.put_finding(DETECTOR, instance("v", 3, 8.0, 2));
    let ids = client.list_findings().detector_id(DETECTOR).send().await.expect("ListFindings").finding_ids().to_vec();
    assert_eq!(ids, ["v", "w"]);
    let out = client.get_findings().detector_id(DETECTOR).finding_ids("v").send().await.expect("GetFindings");
    let v = &out.findings()[0];
    assert_eq!(
        (v.severity(), v.service().and_then(|s| s.count()), v.updated_at()),
        (Some(8.0), Some(2), Some(updated(3).as_str()))
    );
}

#[tokio::test]
async fn put_finding_refuses_an_iso_string_where_the_api_sends_epoch_seconds() {
    let fake = FakeGuardDuty::start().await;
    let mut wrong = with_s3_bucket(instance("s", 1, 8.0, 1), "b", 1.0);
    wrong["resource"]["s3BucketDetails"][0]["createdAt"] = serde_json::json!("2017-12-18T15:58:11.551Z");
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.put_finding(DETECTOR, wrong)));
    let message = refused.expect_err("put_finding panics").downcast::<String>().expect("a message");
    assert!(message.contains("resource.s3BucketDetails[0].createdAt"), "{message}");
    // The finding-level strings are fine.
    fake.put_finding(DETECTOR, instance("ok", 1, 8.0, 1));
}

#[test]
fn the_fake_serves_a_blocking_test_thread_and_stops_when_dropped() {
    // The server has its own runtime: a plain test (or one blocked on a child process) is served too.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let fake = runtime.block_on(FakeGuardDuty::start());
    fake.add_detector(DETECTOR);
    let endpoint = fake.endpoint();
    let address = endpoint.trim_start_matches("http://").to_owned();
    let answer = raw_get(&address).expect("the fake answers");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(DETECTOR), "{answer}");
    drop(fake);
    assert!(raw_get(&address).is_err(), "the port is closed once the fake is dropped");
}

fn raw_get(address: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    stream.write_all(b"GET /detector HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
