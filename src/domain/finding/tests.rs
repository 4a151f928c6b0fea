use serde_json::{Value, json};

use super::*;

/// A minimal valid event; tests change one thing at a time.
fn event() -> Value {
    json!({
        "version": "0",
        "id": "c8c4daa7-a20c-2f03-0070-b7393dd542ad",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": "2026-11-20T10:15:30Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "accountId": "123456789012",
            "region": "us-east-1",
            "partition": "aws",
            "id": "a2b3c4d5e6f708192a3b4c5d6e7f8091",
            "type": "Recon:EC2/PortProbeUnprotectedPort",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc", "instanceType": "t3.micro"}},
            "service": {"count": 3, "eventFirstSeen": "2026-11-20T09:00:00Z", "eventLastSeen": "2026-11-20T10:00:00Z", "detectorId": "d1"},
            "severity": 2,
            "createdAt": "2026-11-20T09:00:01.000Z",
            "updatedAt": "2026-11-20T10:00:01.000Z",
            "title": "Unprotected port on EC2 instance i-0abc is being probed.",
            "description": "EC2 instance has an unprotected port which is being probed by a known malicious host."
        }
    })
}

fn with(mut v: Value, pointer: &str, new: Value) -> String {
    *v.pointer_mut(pointer).expect("pointer exists in the test event") = new;
    v.to_string()
}

fn without(mut v: Value, parent: &str, key: &str) -> String {
    v.pointer_mut(parent).and_then(Value::as_object_mut).expect("parent object").remove(key);
    v.to_string()
}

#[test]
fn parses_a_valid_event() {
    let f = parse(&event().to_string()).expect("valid");
    assert_eq!(f.id, "a2b3c4d5e6f708192a3b4c5d6e7f8091");
    assert_eq!(f.account_id, "123456789012");
    assert_eq!(f.region, "us-east-1");
    assert_eq!(f.finding_type, "Recon:EC2/PortProbeUnprotectedPort");
    assert_eq!(f.level, Level::Low);
    assert_eq!(f.count, 3);
    assert_eq!(f.resource.kind, "Instance");
    assert_eq!(f.resource.summary, "EC2 instance i-0abc (t3.micro)");
    assert_eq!(f.detector_id.as_deref(), Some("d1"));
    assert_eq!(f.updated_at, timestamp(Some("2026-11-20T10:00:01Z")));
    assert_eq!(f.first_seen, timestamp(Some("2026-11-20T09:00:00Z")));
    assert!(f.console_url().contains("fId=a2b3c4d5e6f708192a3b4c5d6e7f8091"));
}

#[test]
fn integer_and_decimal_severities_are_both_valid() {
    for (sev, level) in [
        (json!(8), Level::High),
        (json!(8.0), Level::High),
        (json!(3.9), Level::Low),
        (json!(4), Level::Medium),
        (json!(6.9), Level::Medium),
        (json!(7), Level::High),
        (json!(8.9), Level::High),
        (json!(9), Level::Critical),
        (json!(10), Level::Critical),
        (json!(10.0), Level::Critical),
        (json!(0), Level::Low),
    ] {
        let f = parse(&with(event(), "/detail/severity", sev.clone())).expect("valid severity");
        assert_eq!(f.level, level, "severity {sev}");
    }
}

#[test]
fn rejects_bad_messages_with_a_reason() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "empty_body"),
        ("blank", "  \n ".into(), "empty_body"),
        ("not json", "hello".into(), "not_json"),
        ("truncated", "{\"source\": \"aws.guardduty\"".into(), "not_json"),
        ("trailing garbage", format!("{} x", event()), "not_json"),
        ("NaN literal", event().to_string().replace("\"severity\":2", "\"severity\":NaN"), "not_json"),
        ("Infinity literal", event().to_string().replace("\"severity\":2", "\"severity\":Infinity"), "not_json"),
        ("huge exponent", event().to_string().replace("\"severity\":2", "\"severity\":1e400"), "not_json"),
        ("array", "[]".into(), "not_guardduty_finding"),
        (
            "event as an array",
            format!("[\"x\",\"aws.guardduty\",\"GuardDuty Finding\",null,{}]", event()["detail"]),
            "not_guardduty_finding",
        ),
        (
            "detail as an array",
            with(event(), "/detail", json!(["a2b3", "123456789012", "us-east-1", "t", 8])),
            "invalid_field",
        ),
        ("broken array", "[1, 2".into(), "not_json"),
        ("number", "42".into(), "not_guardduty_finding"),
        ("string", "\"GuardDuty Finding\"".into(), "not_guardduty_finding"),
        ("other source", with(event(), "/source", json!("aws.ec2")), "not_guardduty_finding"),
        ("no source", without(event(), "", "source"), "not_guardduty_finding"),
        (
            "other detail-type",
            with(event(), "/detail-type", json!("GuardDuty Runtime Protection Unhealthy")),
            "not_guardduty_finding",
        ),
        ("no detail", without(event(), "", "detail"), "missing_field"),
        ("null detail", with(event(), "/detail", Value::Null), "missing_field"),
        ("no id", without(event(), "/detail", "id"), "missing_field"),
        ("empty id", with(event(), "/detail/id", json!("")), "missing_field"),
        ("no account", without(event(), "/detail", "accountId"), "missing_field"),
        ("no region", without(event(), "/detail", "region"), "missing_field"),
        ("no type", without(event(), "/detail", "type"), "missing_field"),
        ("no severity", without(event(), "/detail", "severity"), "missing_field"),
        ("null severity", with(event(), "/detail/severity", Value::Null), "missing_field"),
        ("numeric id", with(event(), "/detail/id", json!(12)), "invalid_field"),
        ("detail is a string", with(event(), "/detail", json!("x")), "invalid_field"),
        ("string severity", with(event(), "/detail/severity", json!("8")), "invalid_severity"),
        ("bool severity", with(event(), "/detail/severity", json!(true)), "invalid_severity"),
        ("severity 11", with(event(), "/detail/severity", json!(11)), "invalid_severity"),
        ("severity 10.01", with(event(), "/detail/severity", json!(10.01)), "invalid_severity"),
        ("negative severity", with(event(), "/detail/severity", json!(-0.5)), "invalid_severity"),
    ];
    for (name, body, code) in cases {
        match parse(&body) {
            Ok(f) => panic!("{name}: accepted as {f:?}"),
            Err(reject) => {
                assert_eq!(reject.code(), code, "{name}: {reject}");
                assert!(!reject.to_string().is_empty());
            }
        }
    }
}

#[test]
fn the_reason_names_the_missing_or_invalid_field() {
    let r = parse(&without(event(), "/detail", "accountId")).unwrap_err();
    assert_eq!(r.to_string(), "the finding has no `detail.accountId`");
    let r = parse(&with(event(), "/detail/id", json!(12))).unwrap_err();
    assert!(r.to_string().starts_with("`detail.id` is invalid"), "{r}");
}

#[test]
fn deep_nesting_never_overflows_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // Where the finding is read (the resource), nesting past the parser's limit is not a finding...
    let body = with(event(), "/detail/resource", json!("X")).replace("\"X\"", &deep);
    assert_eq!(parse(&body).unwrap_err().code(), "not_json");
    // ...and in members nobody reads, it is skipped without recursion.
    let body = event().to_string().replace("\"severity\":2", &format!("\"severity\":2,\"x\":{deep}"));
    assert_eq!(parse(&body).expect("still a finding").level, Level::Low);
}

#[test]
fn odd_optional_fields_do_not_lose_the_finding() {
    // A real finding must not be dead-lettered because a cosmetic field has a surprising shape.
    let mut v = event();
    v["detail"]["title"] = json!(42);
    v["detail"]["service"]["count"] = json!("many");
    v["detail"]["updatedAt"] = json!("yesterday");
    v["detail"]["resource"] = json!(["not", "an", "object"]);
    v["detail"]["unknownMember"] = json!({"a": 1});
    let f = parse(&v.to_string()).expect("still a finding");
    assert_eq!(f.title, f.finding_type, "title falls back to the type");
    assert_eq!(f.count, 1);
    assert_eq!(f.updated_at, timestamp(Some("2026-11-20T10:15:30Z")), "falls back to the event time");
    assert_eq!(f.resource.kind, "Unknown");
}

#[test]
fn versions_order_by_updated_at_then_count() {
    let v = |t: &str, count| Version { updated_at: timestamp(Some(t)), count };
    assert!(v("2026-11-20T10:00:00Z", 1) < v("2026-11-20T10:00:01Z", 1));
    assert!(v("2026-11-20T10:00:00Z", 1) < v("2026-11-20T10:00:00Z", 2));
    assert!(v("2026-11-20T10:00:00Z", 9) < v("2026-11-20T10:00:01Z", 1));
    assert!(Version { updated_at: None, count: 99 } < v("2000-01-01T00:00:00Z", 1));
}

#[test]
fn summaries_are_truncated_on_character_boundaries() {
    let s = resource::truncate(&"é".repeat(400), 300);
    assert_eq!(s.chars().count(), 300);
    assert!(s.ends_with('…'));
    assert_eq!(resource::truncate("short", 300), "short");
}

/// Real GuardDuty findings of every resource type, as EventBridge delivers them (tests/fixtures/findings).
#[test]
fn parses_real_findings_of_every_resource_type() {
    macro_rules! fixture {
        ($name:literal) => {
            ($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/", $name, ".json")))
        };
    }
    // (file, resource type, level, count, account, region, what the resource summary must say)
    let table = [
        (
            fixture!("ec2-instance-backdoor"),
            "Instance",
            Level::High,
            3,
            "123456789012",
            "us-east-1",
            "EC2 instance i-0a1b2c3d4e5f67890",
        ),
        (
            fixture!("iam-accesskey-recon"),
            "AccessKey",
            Level::Medium,
            17,
            "210987654321",
            "us-east-1",
            "access key AKIAI44QH8DHBEXAMPLE of IAMUser alice",
        ),
        (
            fixture!("s3-bucket-exfil"),
            "S3Bucket",
            Level::High,
            5,
            "123456789012",
            "eu-west-1",
            "S3 bucket acme-finance-reports-eu",
        ),
        (
            fixture!("s3-object-malware"),
            "S3Object",
            Level::High,
            1,
            "210987654321",
            "eu-west-1",
            "s3://customer-uploads-prod/incoming/2026/11/invoice-8841.pdf.exe",
        ),
        (
            fixture!("eks-cluster-anonymous"),
            "EKSCluster",
            Level::High,
            2,
            "210987654321",
            "us-east-1",
            "EKS cluster payments-prod",
        ),
        (
            fixture!("container-runtime-crypto"),
            "Container",
            Level::High,
            9,
            "123456789012",
            "eu-west-1",
            "orders-worker",
        ),
        (
            fixture!("rds-login-anomaly"),
            "RDSDBInstance",
            Level::Medium,
            1,
            "210987654321",
            "eu-west-1",
            "RDS DB instance orders-db-1",
        ),
        (
            fixture!("lambda-crypto"),
            "Lambda",
            Level::High,
            6,
            "123456789012",
            "us-east-1",
            "Lambda function thumbnailer-prod",
        ),
        (
            fixture!("ec2-ssh-bruteforce-low"),
            "Instance",
            Level::Low,
            42,
            "210987654321",
            "us-east-1",
            "EC2 instance i-0fedcba9876543210",
        ),
        (
            fixture!("ec2-critical-attack-sequence"),
            "AttackSequence",
            Level::Critical,
            1,
            "123456789012",
            "us-east-1",
            "acme-payroll-archive",
        ),
        (
            fixture!("unicode-long-title"),
            "Instance",
            Level::High,
            11,
            "123456789012",
            "eu-west-1",
            "EC2 instance i-0c0ffee1234567890",
        ),
        (
            fixture!("kubernetes-malware-ebs"),
            "Instance",
            Level::High,
            1,
            "210987654321",
            "eu-west-1",
            "EC2 instance i-04e7d2b9c1a8f3650",
        ),
    ];
    for ((name, body), kind, level, count, account, region, resource) in table {
        let f = parse(body).unwrap_or_else(|r| panic!("{name}: rejected: {r}"));
        assert_eq!(f.resource.kind, kind, "{name}");
        assert_eq!(f.level, level, "{name}");
        assert_eq!(f.count, count, "{name}");
        assert_eq!(f.account_id, account, "{name}");
        assert_eq!(f.region, region, "{name}");
        assert!(f.resource.summary.contains(resource), "{name}: {:?}", f.resource.summary);
        assert_eq!(f.id.len(), 32, "{name}");
        assert!(f.updated_at.is_some() && f.first_seen.is_some(), "{name}: timestamps");
        assert!(!f.title.is_empty() && f.title != f.finding_type, "{name}: title");
    }
}

#[test]
fn unicode_and_long_titles_are_kept_whole() {
    let body = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/unicode-long-title.json"));
    let f = parse(body).unwrap();
    assert!(f.title.chars().count() > 300);
    assert!(!f.title.is_ascii());
    assert!(f.description.contains("<script>"), "kept as text; escaping is the renderer's job");
}

/// A Malware Protection for S3 scan result, as AWS's documentation shows it, with `status`.
pub(crate) fn scan_result(status: &str) -> Value {
    json!({
        "version": "0",
        "id": "72c7d362-737a-6dce-fc78-9e27a0171419",
        "detail-type": "GuardDuty Malware Protection Object Scan Result",
        "source": "aws.guardduty",
        "account": "111122223333",
        "time": "2026-11-20T10:15:30Z",
        "region": "us-east-1",
        "resources": ["arn:aws:guardduty:us-east-1:111122223333:malware-protection-plan/b4c7f464ab3a4EXAMPLE"],
        "detail": {
            "schemaVersion": "1.0",
            "scanStatus": "COMPLETED",
            "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {
                "bucketName": "uploads-prod",
                "objectKey": "invoices/2026/inv-9.pdf",
                "eTag": "ASIAI4YWSKKRUEXAMPLE",
                "versionId": "d41d8cd98f00b204e9800998ecf8427e",
                "s3Throttled": false
            },
            "scanResultDetails": {"scanResultStatus": status, "threats": [{"name": "EICAR-Test-File (not a virus)"}]}
        }
    })
}

#[test]
fn a_scan_that_found_threats_is_a_high_finding_keyed_by_bucket_object_and_version() {
    for status in ["THREATS_FOUND", "THREAT_FOUND"] {
        let f = parse(&scan_result(status).to_string()).unwrap();
        assert_eq!(f.id, "s3://uploads-prod/invoices/2026/inv-9.pdf?versionId=d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!((f.account_id.as_str(), f.region.as_str()), ("111122223333", "us-east-1"));
        assert_eq!(
            (f.level, f.finding_type.as_str(), f.origin),
            (Level::High, "Object:S3/MaliciousFile", Origin::MalwareScan)
        );
        assert!(f.title.contains("EICAR-Test-File"), "{}", f.title);
        assert_eq!(f.resource.kind, "S3Object");
        assert!(f.console_url().contains("/s3/object/uploads-prod"), "{}", f.console_url());
        assert_eq!(f.updated_at, timestamp(Some("2026-11-20T10:15:30Z")));
    }
    let mut unversioned = scan_result("THREATS_FOUND");
    unversioned["detail"]["s3ObjectDetails"].as_object_mut().unwrap().remove("versionId");
    assert_eq!(parse(&unversioned.to_string()).unwrap().id, "s3://uploads-prod/invoices/2026/inv-9.pdf");
}

#[test]
fn other_scan_results_are_nothing_to_record_and_a_broken_one_is_rejected() {
    for status in ["NO_THREATS_FOUND", "UNSUPPORTED", "ACCESS_DENIED", "FAILED", ""] {
        match read(&scan_result(status).to_string()) {
            Ok(Parsed::Nothing(what)) => assert!(what.contains("s3://uploads-prod/invoices/2026/inv-9.pdf"), "{what}"),
            other => panic!("{status}: {other:?}"),
        }
    }
    let mut no_bucket = scan_result("THREATS_FOUND");
    no_bucket["detail"]["s3ObjectDetails"].as_object_mut().unwrap().remove("bucketName");
    assert_eq!(read(&no_bucket.to_string()), Err(Reject::MissingField("detail.s3ObjectDetails.bucketName")));
    let mut huge = scan_result("THREATS_FOUND");
    huge["detail"]["s3ObjectDetails"]["objectKey"] = json!("k".repeat(2_000));
    assert!(matches!(read(&huge.to_string()), Err(Reject::InvalidField { .. })));
}

/// An AWS Health event, as AWS's documentation shows it.
pub(crate) fn health_event(code: &str, category: &str, status: &str, updated: &str) -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2026-11-20T10:15:30Z",
        "region": "us-west-2",
        "resources": [],
        "detail": {
            "eventArn": format!("arn:aws:health:us-west-2::event/IAM/{code}/{code}_7f35c8ae"),
            "service": "IAM",
            "eventTypeCode": code,
            "eventTypeCategory": category,
            "eventScopeCode": "ACCOUNT_SPECIFIC",
            "communicationId": "1234abc01232a4012345678-1",
            "startTime": "Fri, 20 Nov 2026 09:55:00 GMT",
            "lastUpdatedTime": updated,
            "statusCode": status,
            "eventRegion": "us-west-2",
            "eventDescription": [{"language": "en_US", "latestDescription": "An access key of your account was found exposed."}],
            "affectedEntities": [{"entityValue": "AKIAIOSFODNN7EXAMPLE"}],
            "affectedAccount": "123456789012"
        }
    })
}

#[test]
fn aws_health_events_are_findings_at_a_level_by_their_kind() {
    let f = parse(
        &health_event("AWS_RISK_CREDENTIALS_EXPOSED", "accountNotification", "open", "Wed, 20 Nov 2026 10:00:00 GMT")
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        f.id,
        "arn:aws:health:us-west-2::event/IAM/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_7f35c8ae"
    );
    assert_eq!((f.account_id.as_str(), f.region.as_str(), f.origin), ("123456789012", "us-west-2", Origin::Health));
    assert_eq!((f.finding_type.as_str(), f.level), ("AWS_RISK_CREDENTIALS_EXPOSED", Level::High));
    assert_eq!(f.resource.summary, "IAM: AKIAIOSFODNN7EXAMPLE");
    assert_eq!(f.description, "An access key of your account was found exposed.");
    assert_eq!(f.updated_at, timestamp(Some("2026-11-20T10:00:00Z")), "RFC 2822 times are read");
    assert_eq!(f.first_seen, timestamp(Some("2026-11-20T09:55:00Z")));
    assert!(!f.source_closed);
    // (event type code, category, status, abuse, level)
    let table = [
        ("AWS_RISK_CREDENTIALS_EXPOSED", "accountNotification", "open", false, Level::High),
        ("AWS_SECURITY_NOTIFICATION", "accountNotification", "open", false, Level::High),
        ("AWS_ABUSE_DOS_REPORT", "issue", "open", true, Level::High),
        ("AWS_EC2_OPERATIONAL_ISSUE", "issue", "open", false, Level::Medium),
        ("AWS_EC2_OPERATIONAL_ISSUE", "issue", "closed", false, Level::Low),
        ("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "scheduledChange", "upcoming", false, Level::Low),
    ];
    for (code, category, status, abuse, want) in table {
        assert_eq!(Level::from_score(health::severity(code, category, status, abuse)), Some(want), "{code} {status}");
    }
    let mut abuse = health_event("AWS_ABUSE_DOS_REPORT", "issue", "open", "2026-11-20T10:00:00Z");
    abuse["detail-type"] = json!("AWS Health Abuse Event");
    assert_eq!(parse(&abuse.to_string()).unwrap().level, Level::High);
    let closed =
        parse(&health_event("AWS_EC2_OPERATIONAL_ISSUE", "issue", "closed", "2026-11-20T11:00:00Z").to_string());
    assert!(closed.unwrap().source_closed);
    let mut no_arn = health_event("X", "issue", "open", "2026-11-20T11:00:00Z");
    no_arn["detail"].as_object_mut().unwrap().remove("eventArn");
    assert_eq!(read(&no_arn.to_string()), Err(Reject::MissingField("detail.eventArn")));
    let mut other = health_event("X", "issue", "open", "2026-11-20T11:00:00Z");
    other["detail-type"] = json!("AWS Health Something Else");
    assert!(matches!(read(&other.to_string()), Err(Reject::NotGuardDutyFinding { .. })));
}

#[test]
fn an_attack_sequence_keeps_its_signals() {
    let body =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-critical-attack-sequence.json"));
    let f = parse(body).unwrap();
    let kinds: Vec<(&str, &str, bool)> =
        f.signals.iter().map(|s| (s.kind.as_str(), s.name.as_str(), s.is_finding())).collect();
    assert_eq!(
        kinds,
        [
            ("FINDING", "Discovery:S3/TorIPCaller", true),
            ("CLOUD_TRAIL", "cloudtrail:StopLogging", false),
            ("S3_DATA_EVENTS", "s3:GetObject", false),
            ("S3_DATA_EVENTS", "s3:DeleteObject", false),
        ]
    );
    assert_eq!(f.signals[0].uid, "f3a1c5e7b9d24f6081a3c5e7b9d1f2a4");
    assert!(parse(&event().to_string()).unwrap().signals.is_empty(), "an ordinary finding has none");
}
