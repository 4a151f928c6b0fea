//! Containment end to end on LocalStack's EC2 and IAM: a responder asks (`incidents contain`, `undo`), two
//! daemons race to carry it out, and what AWS reports afterwards is what the plan said.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

fn finding(id: &str, resource: serde_json::Value, finding_type: &str, severity: f64) -> String {
    FindingEvent::version(id, 1, 1, severity)
        .finding_type(finding_type)
        .title(&format!("{finding_type} on the test estate"))
        .set("resource", resource)
        .body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_isolates_snapshots_and_undoes_and_aws_shows_it() {
    let stack = deploy_stack_with("contain", "Containment=true");
    let aws = Aws::new().await;
    let estate = aws.estate(&stack.name).await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    // The daemons act under the containment role, which they assume (STS on LocalStack hands out its keys).
    let role = stack.output("ContainmentRoleArn");
    assert!(role.ends_with("-containment"), "{role}");
    let containment = format!("[containment]\ncheck_interval_secs = 1\nrole_arn = \"{role}\"\n");
    let config = write_config_with(dir.path(), &stack, "", &containment);
    // Two daemons: each action is claimed by one of them and carried out once.
    let mut d1 = Daemon::start(&config, "d1");
    let mut d2 = Daemon::start(&config, "d2");

    let backdoor = "c0de0c0de0c0de0c0de0c0de0c0de0c1";
    let stolen_key = "c0de0c0de0c0de0c0de0c0de0c0de0c2";
    let ghost = "c0de0c0de0c0de0c0de0c0de0c0de0c3";
    let app_role = "c0de0c0de0c0de0c0de0c0de0c0de0c4";
    let connection = json!({"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
        "connectionDirection": "OUTBOUND", "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}});
    let mut body: serde_json::Value =
        serde_json::from_str(&finding(backdoor, estate.instance_resource(), "Backdoor:EC2/C&CActivity.B", 9.5))
            .unwrap();
    body["detail"]["service"]["action"] = connection;
    aws.send(stack.queue_url(), &body.to_string()).await;
    let role_finding = finding(app_role, estate.role_resource(), "UnauthorizedAccess:IAMUser/MaliciousIPCaller", 8.0);
    aws.send(stack.queue_url(), &role_finding).await;
    aws.send(
        stack.queue_url(),
        &finding(
            stolen_key,
            estate.key_resource(),
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            8.0,
        ),
    )
    .await;
    let mut gone = estate.instance_resource();
    gone["instanceDetails"]["instanceId"] = json!("i-0000000000000dead");
    aws.send(stack.queue_url(), &finding(ghost, gone, "Backdoor:EC2/Spambot", 8.0)).await;
    let incident = incident_of(&aws, &stack, backdoor).await;
    let key_incident = incident_of(&aws, &stack, stolen_key).await;
    let ghost_incident = incident_of(&aws, &stack, ghost).await;
    let role_incident = incident_of(&aws, &stack, app_role).await;
    let pages = aws.drain(&oce, 4, Duration::from_secs(60), Duration::from_secs(1)).await;
    assert!(pages.iter().any(|p| p.attributes.get("incident_id") == Some(&incident)), "the CRITICAL one paged");

    // What applies, and the plan: nothing changes on a dry run.
    let listed = gd_json(&config, &["incidents", "contain", &incident]);
    let names: Vec<&str> = listed["actions"].as_array().unwrap().iter().filter_map(|p| p["action"].as_str()).collect();
    assert_eq!(names, ["snapshot-volumes", "isolate-instance", "block-ip"], "{listed}");
    let (code, plan, err) =
        gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(plan.contains("dry run: nothing is changed") && plan.contains(&estate.vpc_id), "{plan}");
    assert_eq!(estate.groups().await, std::slice::from_ref(&estate.web_group), "a dry run changes nothing");
    let (code, _, err) = gd(&config, &["incidents", "contain", &key_incident, "--action", "isolate-instance"]);
    assert_ne!(code, 0);
    assert!(err.contains("isolate-instance does not apply") && err.contains("not an EC2 instance"), "{err}");
    let (code, _, err) = gd(&config, &["incidents", "contain", &incident, "--action", "isolate"]);
    assert_eq!(code, 2, "a bad action name is a usage error: {err}");
    assert!(
        err.contains(
            "expected one of snapshot-volumes, quarantine-object, isolate-instance, block-ip, \
             deactivate-access-key, revoke-sessions"
        ),
        "{err}"
    );

    // Evidence first: a snapshot of every volume, tagged with the incident, once even with two daemons.
    let (code, out, err) =
        gd(&config, &["incidents", "contain", &incident, "--action", "snapshot-volumes", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("snapshot-volumes of ") && out.contains(": done"), "{out}");
    let volumes = estate.volumes().await;
    assert!(!volumes.is_empty(), "the instance has a volume");
    let mut snapshotted: Vec<String> = estate.snapshots_of(&incident).await.into_iter().map(|(v, _)| v).collect();
    snapshotted.sort();
    let mut want = volumes.clone();
    want.sort();
    assert_eq!(snapshotted, want, "one snapshot per volume");

    // Isolation: one group, no inbound rule; the former groups recorded; asking again changes nothing.
    let (code, out, err) =
        gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let groups = estate.groups().await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_ne!(groups[0], estate.web_group);
    assert_eq!(estate.inbound_rules(&groups[0]).await, 0, "the quarantine group admits nothing");
    let (code, out, _) = gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance"]);
    assert_eq!(code, 0);
    assert!(out.contains("is done already"), "{out}");
    let shown = gd_json(&config, &["incidents", "show", &incident]);
    let actions = shown["incident"]["actions"].as_array().cloned().unwrap_or_default();
    let isolate = actions.iter().find(|a| a["action"] == "isolate-instance").expect("the isolation's record");
    assert_eq!(isolate["state"], "done");
    assert_eq!(isolate["before"]["interfaces"][0]["groups"], json!([estate.web_group]), "{isolate}");
    let timeline = shown["timeline"].as_array().cloned().unwrap_or_default();
    let asked = timeline.iter().find(|e| e["action"] == "containment.requested").expect("the request in the log");
    assert!(asked["actor"].as_str().unwrap_or_default().starts_with("arn:aws:"), "a verified actor: {asked}");
    let done: Vec<&serde_json::Value> = timeline.iter().filter(|e| e["action"] == "containment.done").collect();
    assert_eq!(done.len(), 2, "each action carried out once, by one of the two daemons: {timeline:?}");

    let (code, text, err) = gd(&config, &["incidents", "show", &incident]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("Containment:") && text.contains("quarantine group sg-"), "{text}");
    assert!(text.contains(&format!("former groups {}", estate.web_group)), "{text}");

    // Undo puts back exactly the former groups; snapshots have no undo.
    let (code, out, err) = gd(&config, &["incidents", "undo", &incident, "isolate-instance", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(estate.groups().await, std::slice::from_ref(&estate.web_group));
    let (code, _, err) = gd(&config, &["incidents", "undo", &incident, "snapshot-volumes"]);
    assert_ne!(code, 0);
    assert!(err.contains("never deleted"), "{err}");
    assert_eq!(estate.snapshots_of(&incident).await.len(), volumes.len(), "evidence stays");

    // The access key: inactive, then active again.
    let (code, out, err) =
        gd(&config, &["incidents", "contain", &key_incident, "--action", "deactivate-access-key", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(estate.key_status().await, "Inactive");
    let (code, out, err) = gd(&config, &["incidents", "undo", &key_incident, "deactivate-access-key", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(estate.key_status().await, "Active");

    // The remote address: denied both ways in the subnet's network ACL, then the entries removed.
    let (code, out, err) = gd(&config, &["incidents", "contain", &incident, "--action", "block-ip", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut denied = estate.denied().await;
    denied.sort();
    assert_eq!(denied, [("198.51.100.23/32".to_owned(), false), ("198.51.100.23/32".to_owned(), true)]);
    let (code, out, err) = gd(&config, &["incidents", "undo", &incident, "block-ip", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(estate.denied().await, [], "undo removes exactly what was added");

    // The role's sessions: an inline deny on tokens issued before the request; undo makes it deny nothing.
    let (code, out, err) =
        gd(&config, &["incidents", "contain", &role_incident, "--action", "revoke-sessions", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let policy = estate.revoke_policy().await.expect("the revoke policy");
    let before = policy["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert!(before.starts_with("20"), "{policy}");
    let (code, out, err) = gd(&config, &["incidents", "undo", &role_incident, "revoke-sessions", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let policy = estate.revoke_policy().await.expect("the policy stays as a record");
    assert_eq!(policy["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], "1970-01-01T00:00:00Z");

    // An instance that no longer exists: a clear error, at once, not retried for ever.
    let (code, out, err) =
        gd(&config, &["incidents", "contain", &ghost_incident, "--action", "isolate-instance", "--wait", "60"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("i-0000000000000dead") && err.contains("no longer exists"), "{err}");

    // The walk ends: contained; the post-incident report says what was done, by whom, when.
    let (code, _, err) = gd(&config, &["incidents", "status", &incident, "contained"]);
    assert_eq!(code, 0, "{err}");
    let (code, report, err) = gd(&config, &["incidents", "report", &incident]);
    assert_eq!(code, 0, "{err}");
    assert!(report.contains("## Containment"), "{report}");
    assert!(report.contains(&format!("| isolate-instance | {} | undone |", estate.instance_id)), "{report}");
    assert!(report.contains(&format!("| snapshot-volumes | {} | done |", estate.instance_id)), "{report}");
    // ...and closes, with the post-mortem a CRITICAL incident owes and a follow-up action.
    let (code, _, err) =
        gd(&config, &["incidents", "action", "add", &incident, "rebuild web-1", "--owner", "infra-ops", "--due", "7d"]);
    assert_eq!(code, 0, "{err}");
    let close = [
        "incidents",
        "close",
        &incident,
        "--notes",
        "instance rebuilt from the image; volumes kept",
        "--root-cause",
        "exposed SSH",
        "--lessons-learned",
        "no public SSH",
        "--mitigations",
        "SSM only",
        "--cost-estimate",
        "2 person-days",
        "--legal-counsel",
        "no",
        "--customers-notified",
        "no",
        "--authorities-notified",
        "no",
    ];
    let closed = gd_json(&config, &close);
    assert_eq!(closed["incident"]["status"], "closed", "{closed}");
    assert_eq!(estate.snapshots_of(&incident).await.len(), volumes.len(), "closing keeps the evidence");
    for daemon in [&mut d1, &mut d2] {
        let (status, _) = daemon.terminate(Duration::from_secs(20));
        assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
        assert!(!daemon.log().contains("AccessDenied"), "{}", daemon.log());
    }
}

/// The tags of an object (that version), sorted.
async fn tags_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, version: &str) -> Vec<(String, String)> {
    let out = s3.get_object_tagging().bucket(bucket).key(key).version_id(version).send().await.unwrap();
    let mut tags: Vec<(String, String)> =
        out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    tags.sort();
    tags
}

/// Malware in an S3 object: tagged for the incident and copied into the stack's quarantine bucket as
/// evidence; undo gives the object back its own tags and keeps the copy. And `block-ip` reaches the AWS WAF
/// IP set of the config as well as the subnet's network ACL, and its undo takes out only what it added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malicious_object_is_quarantined_and_an_attacker_blocked_in_waf_too() {
    let waf = support::waf::FakeWaf::start("blocked-by-gd", &["192.0.2.1/32"], "000000000000", "us-east-1");
    let ip_set = waf.arn("blocked-by-gd");
    let stack = deploy_stack_with("quarantine", &format!("Containment=true WafIpSetArns={ip_set}"));
    let aws = Aws::new().await;
    let estate = aws.estate(&stack.name).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&support::sdk().await).force_path_style(true).build(),
    );
    let uploads = format!("{}-uploads", stack.name.to_lowercase());
    s3.create_bucket().bucket(&uploads).send().await.unwrap();
    let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning().bucket(&uploads).versioning_configuration(versioning).send().await.unwrap();
    let (key, body) = ("in/invoice 7.pdf", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    let put = s3.put_object().bucket(&uploads).key(key).body(body.as_bytes().to_vec().into()).tagging("owner=finance");
    let version = put.send().await.unwrap().version_id().expect("a versioned bucket").to_owned();

    let quarantine = stack.output("QuarantineBucketName");
    let tail = format!(
        "[containment]\ncheck_interval_secs = 1\nrole_arn = \"{}\"\nquarantine_bucket = \"{quarantine}\"\n\
         waf_ip_set_arns = [\"{ip_set}\"]\n",
        stack.output("ContainmentRoleArn")
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let mut daemon = Daemon::start_with_env(&config, "d1", &[("AWS_ENDPOINT_URL_WAFV2", waf.url().as_str())]);

    let scan = json!({
        "version": "0", "id": "5ca11e55-0000-4000-8000-000000000001",
        "detail-type": "GuardDuty Malware Protection Object Scan Result", "source": "aws.guardduty",
        "account": "000000000000", "time": "2026-11-20T10:15:30Z", "region": "us-east-1", "resources": [],
        "detail": {
            "schemaVersion": "1.0", "scanStatus": "COMPLETED", "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {"bucketName": uploads, "objectKey": key, "versionId": version},
            "scanResultDetails": {"scanResultStatus": "THREATS_FOUND", "threats": [{"name": "EICAR-Test-File (not a virus)"}]}
        }
    });
    aws.send(stack.queue_url(), &scan.to_string()).await;
    let incident = incident_of(&aws, &stack, &format!("s3://{uploads}/{key}?versionId={version}")).await;

    // The plan names the object, the tag and where the copy goes.
    let listed = gd_json(&config, &["incidents", "contain", &incident]);
    let plan = &listed["actions"][0];
    assert_eq!(plan["action"], "quarantine-object", "{listed}");
    let copy_key = format!("{incident}/{uploads}/{key}");
    let steps = plan["steps"].to_string();
    assert!(steps.contains(&format!("s3://{quarantine}/{copy_key}")), "{listed}");

    let (code, out, err) =
        gd(&config, &["incidents", "contain", &incident, "--action", "quarantine-object", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let tagged = [("gd-incidents:incident-id".to_owned(), incident.clone()), ("owner".into(), "finance".into())];
    assert_eq!(tags_of(&s3, &uploads, key, &version).await, tagged, "its own tags kept, the incident's added");
    let copy = s3.get_object().bucket(quarantine).key(&copy_key).send().await.expect("the evidence copy");
    let copied = copy.body.collect().await.unwrap().into_bytes();
    assert_eq!(copied.as_ref(), body.as_bytes(), "the copy is the object");
    let (code, shown, err) = gd(&config, &["incidents", "show", &incident]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains(&format!("evidence copy s3://{quarantine}/{copy_key}")), "{shown}");

    let (code, out, err) = gd(&config, &["incidents", "undo", &incident, "quarantine-object", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tags_of(&s3, &uploads, key, &version).await, [("owner".to_owned(), "finance".to_owned())]);
    assert!(s3.head_object().bucket(quarantine).key(&copy_key).send().await.is_ok(), "the copy stays, as evidence");

    // block-ip: the subnet's ACL and the IP set; undo leaves the set as it was.
    let attack = "c0de0c0de0c0de0c0de0c0de0c0de0d1";
    let mut finding: serde_json::Value =
        serde_json::from_str(&finding(attack, estate.instance_resource(), "Backdoor:EC2/C&CActivity.B", 8.0)).unwrap();
    finding["detail"]["service"]["action"] = json!({"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
        "connectionDirection": "OUTBOUND", "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}});
    aws.send(stack.queue_url(), &finding.to_string()).await;
    let attacked = incident_of(&aws, &stack, attack).await;
    let (code, out, err) = gd(&config, &["incidents", "contain", &attacked, "--action", "block-ip", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(waf.addresses("blocked-by-gd"), ["192.0.2.1/32", "198.51.100.23/32"]);
    assert_eq!(estate.denied().await.len(), 2, "inbound and outbound in the network ACL");
    let (code, out, err) = gd(&config, &["incidents", "undo", &attacked, "block-ip", "--wait", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(waf.addresses("blocked-by-gd"), ["192.0.2.1/32"], "only what block-ip added is taken out");
    assert_eq!(estate.denied().await, []);
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_in_the_middle_of_an_isolation_is_retried_to_the_same_end() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stack = deploy_stack("contain-fault");
    let aws = Aws::new().await;
    let estate = aws.estate(&stack.name).await;
    let dir = tempfile::tempdir().unwrap();
    // EC2 answers everything but the change itself: the quarantine group is made, then the move fails.
    let refuse = Arc::new(AtomicUsize::new(usize::MAX));
    let proxy = support::http::failing_proxy(endpoint(), "Action=ModifyInstanceAttribute", Arc::clone(&refuse));
    let (faults, clock) = (dir.path().join("faults"), dir.path().join("clock"));
    std::fs::write(&faults, format!("EC2 {}\n", proxy.url())).unwrap();
    std::fs::write(&clock, "0").unwrap();
    // And evidence first, before anyone wakes up: snapshots of every CRITICAL instance, by policy.
    let tail = format!(
        "[containment]\ncheck_interval_secs = 1\n\n[[containment.automatic]]\naction = \"snapshot-volumes\"\n\
         levels = [\"CRITICAL\"]\n\n[test_hooks]\nclock_offset_file = \"{}\"\n",
        clock.display()
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_attempts = 3\n", &format!("max_attempts = 2\nfault_injection_file = \"{}\"\n", faults.display()));
    std::fs::write(&config, text).unwrap();
    let mut daemon = Daemon::start(&config, "d1");
    let id = "fa17fa17fa17fa17fa17fa17fa17fa17";
    aws.send(stack.queue_url(), &finding(id, estate.instance_resource(), "Backdoor:EC2/C&CActivity.B", 9.5)).await;
    let incident = incident_of(&aws, &stack, id).await;
    let volumes = estate.volumes().await;
    let automatic = eventually("the snapshots the policy asks for", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &incident]);
        let record = shown["incident"]["actions"][0].clone();
        (record["state"] == "done").then_some(record)
    })
    .await;
    assert_eq!(automatic["action"], "snapshot-volumes");
    assert!(automatic["requested_by"].as_str().unwrap_or_default().contains("containment.automatic"), "{automatic}");
    assert_eq!(estate.snapshots_of(&incident).await.len(), volumes.len());

    let (code, _, err) = gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance"]);
    assert_eq!(code, 0, "{err}");
    let state = |shown: &serde_json::Value| {
        let actions = shown["incident"]["actions"].as_array().cloned().unwrap_or_default();
        actions.into_iter().find(|a| a["action"] == "isolate-instance").unwrap_or_default()
    };
    let failed_once = eventually("the failed attempt recorded", Duration::from_secs(60), || async {
        let record = state(&gd_json(&config, &["incidents", "show", &incident]));
        (record["attempts"] == 1).then_some(record)
    })
    .await;
    assert_eq!(failed_once["state"], "requested", "retried, not given up: {failed_once}");
    assert!(failed_once["error"].as_str().unwrap_or_default().contains("ModifyInstanceAttribute"), "{failed_once}");
    assert_eq!(estate.groups().await, std::slice::from_ref(&estate.web_group), "nothing moved yet");

    // EC2 recovers; the retry is due (the clock moves past it) and ends where one clean run would.
    refuse.store(0, Ordering::SeqCst);
    std::fs::write(&clock, "120").unwrap();
    let done = eventually("the isolation, retried", Duration::from_secs(60), || async {
        let record = state(&gd_json(&config, &["incidents", "show", &incident]));
        (record["state"] == "done").then_some(record)
    })
    .await;
    assert_eq!(
        done["before"]["interfaces"][0]["groups"],
        json!([estate.web_group]),
        "the groups before any change: {done}"
    );
    let groups = estate.groups().await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0], done["after"]["quarantine_group"].as_str().unwrap_or_default(), "{done}");
    let timeline =
        gd_json(&config, &["incidents", "show", &incident])["timeline"].as_array().cloned().unwrap_or_default();
    let steps: Vec<&str> =
        timeline.iter().filter_map(|e| e["action"].as_str()).filter(|a| a.starts_with("containment")).collect();
    assert_eq!(
        steps,
        [
            "containment.requested",
            "containment.done",
            "containment.requested",
            "containment.retrying",
            "containment.done"
        ]
    );
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_isolation_waits_for_a_second_person() {
    let stack = deploy_stack("contain-two");
    let aws = Aws::new().await;
    let estate = aws.estate(&stack.name).await;
    // A second responder, with credentials of their own (LocalStack's STS names their IAM user).
    let second = aws.iam().await;
    let name = format!("{}-second-responder", stack.name);
    second.create_user().user_name(&name).send().await.unwrap();
    let key = second.create_access_key().user_name(&name).send().await.unwrap().access_key.unwrap();
    let env =
        [("AWS_ACCESS_KEY_ID", key.access_key_id.as_str()), ("AWS_SECRET_ACCESS_KEY", key.secret_access_key.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let tail = "[containment]\ncheck_interval_secs = 1\nsecond_approver_levels = [\"CRITICAL\"]\n";
    let config = write_config_with(dir.path(), &stack, "", tail);
    let mut daemon = Daemon::start(&config, "d1");
    let id = "2b0d2b0d2b0d2b0d2b0d2b0d2b0d2b0d";
    aws.send(stack.queue_url(), &finding(id, estate.instance_resource(), "Backdoor:EC2/C&CActivity.B", 9.5)).await;
    let incident = incident_of(&aws, &stack, id).await;

    let (code, out, err) =
        gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance", "--wait", "3"]);
    assert_ne!(code, 0, "one person is not enough for a CRITICAL incident: {out}");
    assert!(err.contains("waits for a second person"), "{err}");
    let (code, out, _) = gd(&config, &["incidents", "contain", &incident, "--action", "isolate-instance"]);
    assert_eq!(code, 0);
    assert!(out.contains("requested already"), "the same person twice is still one: {out}");
    assert_eq!(estate.groups().await, std::slice::from_ref(&estate.web_group), "nothing moved");

    let args = ["incidents", "contain", &incident, "--action", "isolate-instance", "--wait", "60"];
    let (code, out, err) = gd_env(&config, &args, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": done"), "{out}");
    assert_ne!(estate.groups().await, std::slice::from_ref(&estate.web_group), "isolated once two people asked");
    let shown = gd_json(&config, &["incidents", "show", &incident]);
    let approvals = shown["incident"]["actions"][0]["approvals"].as_array().cloned().unwrap_or_default();
    assert_eq!(approvals.len(), 2, "{shown}");
    assert!(approvals[1].as_str().unwrap_or_default().ends_with(&format!("user/{name}")), "{approvals:?}");
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_in_a_member_account_is_contained_through_that_accounts_role() {
    let stack = deploy_stack_with("contain-member", "Containment=true");
    let aws = Aws::new().await;
    let member = "111111111111";
    let estate = aws.estate_in(&stack.name, Some(member)).await;
    // The member account's role (deploy/cloudformation/gd-incidents-member.yaml makes it on AWS).
    let role_name = format!("{}-member", stack.name);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": stack.output("ContainmentRoleArn")}, "Action": "sts:AssumeRole"}]});
    estate.iam.create_role().role_name(&role_name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        "[containment]\ncheck_interval_secs = 1\nrole_arn = \"{}\"\nmember_role_name = \"{role_name}\"\n",
        stack.output("ContainmentRoleArn")
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let mut daemon = Daemon::start(&config, "d1");
    let id = "ac0ac0ac0ac0ac0ac0ac0ac0ac0ac0a1";
    let body = FindingEvent::version(id, 1, 1, 8.5)
        .account(member)
        .finding_type("Backdoor:EC2/C&CActivity.B")
        .set("resource", estate.instance_resource())
        .body();
    aws.send(stack.queue_url(), &body).await;
    let incident = incident_of(&aws, &stack, id).await;

    let args = ["incidents", "contain", &incident, "--action", "isolate-instance", "--wait", "60"];
    let (code, out, err) = gd(&config, &args);
    assert_eq!(code, 0, "{out}{err}\n{}", daemon.log());
    let groups = estate.groups().await;
    assert_eq!(groups.len(), 1, "isolated in account {member}: {groups:?}");
    assert_ne!(groups[0], estate.web_group);
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "{}", daemon.log());
}

/// The containment role may do what the actions need and nothing that destroys evidence or tags with
/// keys of its own choosing; the daemon's own role may change no instance; without `Containment=true`
/// there is no role to assume. (Every call the daemons made is checked against the role after the suite.)
#[test]
fn the_containment_role_changes_what_containment_needs_and_deletes_nothing() {
    use support::iam::{Ask, StackSpec, check};
    let (account, region) = ("111122223333", "eu-west-1");
    let core = |containment: &str| StackSpec {
        template: "gd-incidents.yaml",
        name: "gd".into(),
        parameters: json!({ "Containment": containment }),
    };
    let ec2 = |kind: &str, id: &str| format!("arn:aws:ec2:{region}:{account}:{kind}/{id}");
    let snapshot = format!("arn:aws:ec2:{region}::snapshot/snap-0123456789abcdef0");
    let user = format!("arn:aws:iam::{account}:user/deploy-bot");
    let (instance, group, volume) =
        (ec2("instance", "i-0abc0abc0abc0abc0"), ec2("security-group", "sg-0abc"), ec2("volume", "vol-0abc"));
    let tagged = |keys: &[&str], resource: &str| Ask {
        action: "ec2:CreateTags".into(),
        resource: resource.into(),
        tag_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..Ask::default()
    };
    let allowed = [
        Ask::from(("ec2:ModifyInstanceAttribute", instance.as_str())),
        Ask::from(("ec2:CreateSnapshot", volume.as_str())),
        Ask::from(("iam:UpdateAccessKey", user.as_str())),
        tagged(&["gd-incidents:incident-id"], &instance),
    ];
    let made = check(account, region, &[core("true")], (0, "ContainmentRole"), None, &allowed);
    assert!(made.iter().all(|d| d.allowed()), "{made:#?}");
    let refused = [
        Ask::from(("ec2:TerminateInstances", instance.as_str())),
        Ask::from(("ec2:StopInstances", instance.as_str())),
        Ask::from(("ec2:DeleteSnapshot", snapshot.as_str())),
        Ask::from(("ec2:DeleteVolume", volume.as_str())),
        Ask::from(("ec2:DeleteSecurityGroup", group.as_str())),
        Ask::from(("ec2:AuthorizeSecurityGroupIngress", group.as_str())),
        Ask::from(("iam:DeleteAccessKey", user.as_str())),
        Ask::from(("iam:CreateAccessKey", user.as_str())),
        Ask::from(("dynamodb:GetItem", format!("arn:aws:dynamodb:{region}:{account}:table/gd-incidents").as_str())),
        tagged(&["gd-incidents:incident-id", "Owner"], &instance),
        // Reading an object it has not tagged for an incident, writing or deleting outside its bucket.
        Ask::from(("s3:GetObject", "arn:aws:s3:::payroll/2026/salaries.csv")),
        Ask::from(("s3:PutObject", "arn:aws:s3:::payroll/2026/salaries.csv")),
        Ask::from(("s3:DeleteObject", "arn:aws:s3:::gd-quarantinebucket/x")),
        Ask::from(("wafv2:UpdateIPSet", "arn:aws:wafv2:eu-west-1:111122223333:regional/ipset/other/1")),
    ];
    let made = check(account, region, &[core("true")], (0, "ContainmentRole"), None, &refused);
    assert_eq!(made.len(), refused.len());
    assert!(made.iter().all(|d| !d.allowed()), "the containment role allows: {made:#?}");

    let role = format!("arn:aws:iam::{account}:role/gd-{region}-containment");
    let daemon_asks = [("ec2:ModifyInstanceAttribute", instance.as_str()), ("iam:UpdateAccessKey", user.as_str())];
    let made = check(account, region, &[core("true")], (0, "DaemonRole"), None, &daemon_asks);
    assert!(made.iter().all(|d| !d.allowed()), "the daemon acts only through the containment role: {made:#?}");
    let assume = [("sts:AssumeRole", role.as_str())];
    // revoke-sessions may put its deny on an application's role, never on this stack's own.
    let own = format!("arn:aws:iam::{account}:role/gd-{region}-daemon");
    let app = format!("arn:aws:iam::{account}:role/web-app");
    let puts = [
        ("iam:PutRolePolicy", app.as_str()),
        ("iam:PutRolePolicy", own.as_str()),
        ("iam:PutRolePolicy", role.as_str()),
    ];
    let made = check(account, region, &[core("true")], (0, "ContainmentRole"), None, &puts);
    assert_eq!(made.iter().map(|d| d.allowed()).collect::<Vec<_>>(), [true, false, false], "{made:#?}");
    let with = check(account, region, &[core("true")], (0, "DaemonRole"), None, &assume);
    assert!(with.iter().all(|d| d.allowed()), "{with:#?}");
    let without = check(account, region, &[core("false")], (0, "DaemonRole"), None, &assume);
    assert!(without.iter().all(|d| !d.allowed()), "{without:#?}");

    // Member accounts: only the role named MemberRoleName, and only when it is named.
    let member = |name: &str| StackSpec {
        template: "gd-incidents.yaml",
        name: "gd".into(),
        parameters: json!({ "Containment": "true", "MemberRoleName": name }),
    };
    let there = [
        ("sts:AssumeRole", "arn:aws:iam::444455556666:role/gd-member"),
        ("sts:AssumeRole", "arn:aws:iam::444455556666:role/admin"),
    ];
    let made = check(account, region, &[member("gd-member")], (0, "ContainmentRole"), None, &there);
    assert_eq!(made.iter().map(|d| d.allowed()).collect::<Vec<_>>(), [true, false], "{made:#?}");
    let made = check(account, region, &[member("")], (0, "ContainmentRole"), None, &there[..1]);
    assert!(!made[0].allowed(), "{made:#?}");
}
