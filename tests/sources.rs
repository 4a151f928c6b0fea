//! Incidents from the other sources the procedures name, through the real binary against LocalStack, as the
//! stack's EventBridge rules deliver them: GuardDuty Malware Protection scan results (threats found: a HIGH
//! incident per object; anything else: acknowledged, never dead-lettered) and AWS Health events (one incident
//! per event and account, updated as AWS updates it).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn scan_result(id: &str, key: &str, status: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "GuardDuty Malware Protection Object Scan Result",
        "source": "aws.guardduty", "account": "111122223333", "time": "2026-11-20T10:15:30Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "schemaVersion": "1.0", "scanStatus": "COMPLETED", "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {"bucketName": "uploads-prod", "objectKey": key, "versionId": "v1", "s3Throttled": false},
            "scanResultDetails": {"scanResultStatus": status, "threats": [{"name": "EICAR-Test-File (not a virus)"}]}
        }
    })
}

fn health_event(status: &str, updated: &str) -> Value {
    json!({
        "version": "0", "id": format!("health-{status}"), "detail-type": "AWS Health Event", "source": "aws.health",
        "account": "123456789012", "time": "2026-11-20T10:15:30Z", "region": "us-east-1", "resources": [],
        "detail": {
            "eventArn": "arn:aws:health:us-east-1::event/IAM/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_7f35c8ae",
            "service": "IAM", "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED", "eventTypeCategory": "accountNotification",
            "startTime": "Fri, 20 Nov 2026 09:55:00 GMT", "lastUpdatedTime": updated, "statusCode": status,
            "eventRegion": "us-east-1", "affectedAccount": "123456789012",
            "eventDescription": [{"language": "en_US", "latestDescription": "Your access key was found exposed on a public site."}],
            "affectedEntities": [{"entityValue": "AKIAIOSFODNN7EXAMPLE"}]
        }
    })
}

/// Puts `event` on the default bus, as the AWS service would.
async fn put(aws: &Aws, event: &Value) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(event["source"].as_str().unwrap())
        .detail_type(event["detail-type"].as_str().unwrap())
        .detail(event["detail"].to_string())
        .resources("arn:aws:s3:::uploads-prod")
        .build();
    let out = aws.events().await.put_events().entries(entry).send().await.expect("PutEvents");
    assert_eq!(out.failed_entry_count, 0, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malware_scan_results_and_aws_health_events_become_incidents_through_the_stacks_rules() {
    let stack = deploy_stack("sources");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    // This company treats AWS's reports of its own exposed credentials as CRITICAL (a Health level rule).
    let rule = "[[policy.health]]\ncodes = [\"AWS_RISK_*\"]\nlevel = \"CRITICAL\"\n";
    let config = write_config_with(dir.path(), &stack, "", &format!("[escalation]\nack_timeout_secs = 0\n\n{rule}"));
    let _daemon = Daemon::start(&config, "d1");

    // Through EventBridge, as AWS delivers them: the stack's rules route both kinds to the work queue.
    put(&aws, &scan_result("scan-1", "invoices/inv-9.pdf", "THREATS_FOUND")).await;
    put(&aws, &scan_result("scan-2", "invoices/inv-10.pdf", "NO_THREATS_FOUND")).await;
    put(&aws, &health_event("open", "Fri, 20 Nov 2026 10:00:00 GMT")).await;
    let malware = "s3://uploads-prod/invoices/inv-9.pdf?versionId=v1";
    let health =
        "arn:aws:health:us-east-1::event/IAM/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_7f35c8ae";
    let malware_incident = incident_of(&aws, &stack, malware).await;
    let health_incident = incident_of(&aws, &stack, health).await;

    let items = aws.incidents(stack.table()).await;
    let item = |finding: &str| items.iter().find(|i| s(i, "finding_id") == Some(finding)).unwrap().clone();
    let m = item(malware);
    assert_eq!((s(&m, "record_type"), s(&m, "severity")), (Some("incident"), Some("HIGH")));
    // EventBridge stamps the account of the bus (LocalStack's), as AWS does for its services' events.
    let account = stack.queue_url().trim_end_matches('/').rsplit('/').nth(1).unwrap();
    assert_eq!((s(&m, "account_id"), s(&m, "finding_type")), (Some(account), Some("Object:S3/MaliciousFile")));
    let h = item(health);
    assert_eq!((s(&h, "severity"), s(&h, "finding_type")), (Some("CRITICAL"), Some("AWS_RISK_CREDENTIALS_EXPOSED")));
    assert!(s(&h, "raised_by").is_some_and(|r| r.starts_with("policy rule health[0]")), "{h:?}");
    assert_eq!(s(&h, "source"), Some("aws.health"));

    // Both page like findings; the clean scan made no incident and was not dead-lettered.
    let pages = aws.drain(&oce, 2, Duration::from_secs(60), Duration::from_secs(3)).await;
    let mut paged: Vec<&str> = pages.iter().map(|p| p.attributes["incident_id"].as_str()).collect();
    paged.sort();
    let mut want = vec![malware_incident.as_str(), health_incident.as_str()];
    want.sort();
    assert_eq!(paged, want);
    assert!(pages.iter().any(|p| p.body.contains("EICAR-Test-File")), "{pages:?}");
    let level_of = |incident: &str| {
        pages.iter().find(|p| p.attributes["incident_id"] == incident).map(|p| p.attributes["severity"].clone())
    };
    assert_eq!(level_of(&malware_incident).as_deref(), Some("HIGH"));
    assert_eq!(level_of(&health_incident).as_deref(), Some("CRITICAL"), "paged at the rule's level");
    assert!(pages.iter().all(|p| p.attributes["kind"] == "page"));
    eventually("the queue drained", Duration::from_secs(30), || async {
        (aws.queue_depth(stack.queue_url()).await == 0).then_some(())
    })
    .await;
    assert_eq!(aws.incidents(stack.table()).await.len(), 2, "no incident for a scan that found nothing");
    // The malware and AWS's security risk took the urgent lane too (this daemon reads the work queue only).
    let urgent = stack.urgent_queue_url().expect("the stack's urgent queue");
    assert_eq!(aws.queue_depth(urgent).await, 2, "a copy of each urgent event on the urgent queue");
    assert_eq!(aws.queue_depth(stack.dlq_url()).await, 0, "nothing dead-lettered");

    // AWS closes the event: the incident says so and stays open for a person to close; no second page.
    put(&aws, &health_event("closed", "Fri, 20 Nov 2026 12:00:00 GMT")).await;
    let shown = eventually("the update", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &health_incident]);
        shown.to_string().contains("AWS closed the event").then_some(shown)
    })
    .await;
    assert_eq!(shown["incident"]["status"], "open");
    assert!(aws.drain(&oce, 0, Duration::ZERO, Duration::from_secs(2)).await.is_empty(), "no page for the update");
}

/// A finding of the attack sequence fixture's account and region, with `id` and `finding_type`.
fn signal_finding(id: &str, finding_type: &str) -> String {
    FindingEvent::from_fixture("ec2-instance-backdoor", id)
        .account("123456789012")
        .set("region", json!("us-east-1"))
        .finding_type(finding_type)
        .severity(5.0)
        .body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_sequence_links_the_incidents_of_its_findings_whichever_arrives_first() {
    let stack = deploy_stack("sequence");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = support::http::free_addr();
    let tail = format!(
        "[escalation]\nack_timeout_secs = 0\n\n[portal]\nlisten = \"{addr}\"\ndev_user = \"dev@example.com\"\nresponders = [\"dev@example.com\"]\n"
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let _daemon = Daemon::start(&config, "d1");
    let (before, after) = ("f3a1c5e7b9d24f6081a3c5e7b9d1f2a4", "f3a1c5e7b9d24f6081a3c5e7b9d1f2a5");
    // One signal's finding arrives before the sequence, the other after it.
    aws.send(stack.queue_url(), &signal_finding(before, "Discovery:S3/TorIPCaller")).await;
    let first = incident_of(&aws, &stack, before).await;
    let mut sequence = fixture("ec2-critical-attack-sequence");
    let signals = sequence["detail"]["service"]["detection"]["sequence"]["signals"].as_array_mut().unwrap();
    let mut second = signals[0].clone();
    second["uid"] = json!(after);
    second["name"] = json!("Exfiltration:S3/AnomalousBehavior");
    signals.push(second);
    let sequence_id = sequence["detail"]["id"].as_str().unwrap().to_owned();
    aws.send(stack.queue_url(), &sequence.to_string()).await;
    let attack = incident_of(&aws, &stack, &sequence_id).await;
    aws.send(stack.queue_url(), &signal_finding(after, "Exfiltration:S3/AnomalousBehavior")).await;
    let later = incident_of(&aws, &stack, after).await;

    let shown = eventually("both signals' incidents linked", Duration::from_secs(30), || async {
        let shown = gd_json(&config, &["incidents", "show", &attack]);
        (shown["signal_incidents"].as_array().is_some_and(|s| s.len() == 2)).then_some(shown)
    })
    .await;
    let mut linked: Vec<&str> =
        shown["signal_incidents"].as_array().unwrap().iter().map(|s| s["incident_id"].as_str().unwrap()).collect();
    linked.sort();
    let mut want = vec![first.as_str(), later.as_str()];
    want.sort();
    assert_eq!(linked, want, "the sequence names its findings' incidents");
    assert_eq!(shown["incident"]["signals"].as_array().unwrap().len(), 5, "every signal is kept");
    for signal in [&first, &later] {
        let shown = gd_json(&config, &["incidents", "show", signal]);
        assert_eq!(shown["part_of_sequences"][0]["sequence_incident_id"], attack.as_str(), "{shown}");
    }
    let (_, text, _) = gd(&config, &["incidents", "show", &first]);
    assert!(
        text.contains(&format!("Part of:      attack sequence {attack} (AttackSequence:S3/CompromisedData)")),
        "{text}"
    );

    // The portal links them too.
    let portal = support::portal::PortalProcess::start(&config, addr, "sequence").await;
    let http = support::http::Http::default();
    let page = http.get(&format!("{}/incidents/{attack}", portal.url), None).await;
    for signal in [&first, &later] {
        assert!(page.body.contains(&format!("href=\"/incidents/{signal}\"")), "{}", page.body);
    }
    let page = http.get(&format!("{}/incidents/{first}", portal.url), None).await;
    assert!(page.body.contains("Part of attack sequence"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/incidents/{attack}\"")), "{}", page.body);
}

/// Responders see what belongs together: `incidents show` names the other open incidents about the same
/// instance (not those of another instance), and an incident closed drops out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_open_incidents_on_the_same_resource_are_shown_with_an_incident() {
    let stack = deploy_stack("related");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let _daemon = Daemon::start(&config, "d1");
    let on = |instance: &str| json!({"resourceType": "Instance", "instanceDetails": {"instanceId": instance}});
    let findings = [
        ("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "i-0123456789abcdef0", "Recon:EC2/PortProbeUnprotectedPort"),
        ("b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", "i-0123456789abcdef0", "UnauthorizedAccess:EC2/SSHBruteForce"),
        ("c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", "i-0fedcba987654321f", "UnauthorizedAccess:EC2/SSHBruteForce"),
    ];
    let mut ids = Vec::new();
    for (id, instance, finding_type) in findings {
        let body = FindingEvent::version(id, 1, 1, 2.0).finding_type(finding_type).set("resource", on(instance)).body();
        aws.send(stack.queue_url(), &body).await;
        ids.push(incident_of(&aws, &stack, id).await);
    }
    let related = |id: &str| -> Vec<String> {
        let shown = gd_json(&config, &["incidents", "show", id]);
        let list = shown["same_resource"].as_array().cloned().unwrap_or_default();
        list.iter().filter_map(|i| i["incident_id"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(related(&ids[0]), [ids[1].clone()]);
    assert_eq!(related(&ids[1]), [ids[0].clone()]);
    assert!(related(&ids[2]).is_empty(), "another instance's incident is not related");
    let (code, text, err) = gd(&config, &["incidents", "show", &ids[0]]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("Same resource, also open:") && text.contains(&ids[1]), "{text}");

    let (code, _, err) = gd(&config, &["incidents", "close", &ids[1], "--by", "alice", "--notes", "probe blocked"]);
    assert_eq!(code, 0, "{err}");
    assert!(related(&ids[0]).is_empty(), "a closed incident is no longer listed");
}
