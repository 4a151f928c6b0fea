//! Responders work incidents with the binary alone: from page to closed post-mortem, staff reports,
//! re-paging of what nobody acknowledges, evidence, policy rules, and bad input that changes nothing.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn finding(id: &str, minute: u32, count: u64, severity: f64, finding_type: &str) -> String {
    FindingEvent::version(id, minute, count, severity).finding_type(finding_type).body()
}

fn actions(shown: &Value) -> Vec<String> {
    shown["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_takes_an_incident_from_page_to_closed_post_mortem() {
    let stack = deploy_stack("walk");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    // Re-page after 3 s, at most twice; two daemons, so the test also shows one re-page per due time.
    let config = write_config_with(
        dir.path(),
        &stack,
        "",
        "[escalation]\nack_timeout_secs = 3\nmax_repages = 2\ncheck_interval_secs = 1\n",
    );
    let _daemons = [Daemon::start(&config, "d1"), Daemon::start(&config, "d2")];
    let id = "c0ffee00c0ffee00c0ffee00c0ffee01";
    aws.send(stack.queue_url(), &finding(id, 1, 1, 9.5, "Backdoor:EC2/C&CActivity.B!DNS")).await;
    let incident = incident_of(&aws, &stack, id).await;

    // The first page, then two re-pages (and no more), each marked as escalation.
    let pages = aws.drain(&oce, 3, Duration::from_secs(60), Duration::from_secs(6)).await;
    let escalations: Vec<&str> = pages.iter().map(|p| p.attributes["escalation"].as_str()).collect();
    assert_eq!(escalations, vec!["0", "1", "2"], "one page, then one re-page per due time, up to the limit");
    assert!(pages[1].body.contains("RE-PAGE 1"), "{}", pages[1].body);
    assert!(pages.iter().all(|p| p.attributes["incident_id"] == incident && p.attributes["severity"] == "CRITICAL"));

    let listed = gd_json(&config, &["incidents", "list", "--severity", "CRITICAL"]);
    assert_eq!(listed["incidents"][0]["incident_id"], incident.as_str());
    let cfg = &config;
    gd_json(cfg, &["incidents", "ack", &incident, "--by", "alice"]);
    gd_json(cfg, &["incidents", "assign", &incident, "--to", "infra-team", "--by", "olga"]);
    gd_json(
        cfg,
        &["incidents", "note", &incident, "--by", "alice", "--at", "2026-11-20T09:55:00Z", "attacker opened a shell"],
    );
    gd_json(cfg, &["incidents", "status", &incident, "investigating", "--by", "alice"]);
    gd_json(cfg, &["incidents", "status", &incident, "contained", "--by", "alice"]);

    // CRITICAL: notes alone are refused, naming what is missing, and nothing changes.
    let before = gd_json(cfg, &["incidents", "show", &incident]);
    let (code, _, err) = gd(cfg, &["incidents", "close", &incident, "--by", "alice", "--notes", "rebuilt the host"]);
    assert_eq!(code, 1, "{err}");
    for flag in [
        "--root-cause",
        "--lessons-learned",
        "--mitigations",
        "--cost-estimate",
        "--legal-counsel",
        "--customers-notified",
        "--authorities-notified",
        "a follow-up action (incidents action add)",
    ] {
        assert!(err.contains(flag), "the refusal lists {flag}: {err}");
    }
    let after = gd_json(cfg, &["incidents", "show", &incident]);
    assert_eq!(before["incident"]["version"], after["incident"]["version"], "a refusal changes nothing");

    // Follow-up actions (procedure 3.1): added, listed, one done; a due time in the past is refused.
    let add = |text: &str, due: &str| {
        gd(cfg, &["incidents", "action", "add", &incident, text, "--owner", "infra-ops", "--due", due, "--by", "alice"])
    };
    assert_eq!(add("rotate the CI keys", "14d").0, 0);
    assert_eq!(add("mask secrets in CI logs", "2099-01-31").0, 0);
    let (code, _, err) = add("too late", "2020-01-01");
    assert!(code == 1 && err.contains("has passed"), "{err}");
    let (code, _, err) = add("when?", "next week");
    assert!(code == 2 && err.contains("not a due time"), "{err}");
    assert_eq!(gd(cfg, &["incidents", "action", "done", &incident, "1", "--by", "olga"]).0, 0);
    let (code, _, err) = gd(cfg, &["incidents", "action", "done", &incident, "7"]);
    assert!(code == 1 && err.contains("no follow-up action 7"), "{err}");
    let listed = gd_json(cfg, &["incidents", "action", "list", &incident]);
    let states: Vec<(&str, &str)> = listed["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["action"]["text"].as_str().unwrap(), f["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("rotate the CI keys", "done"), ("mask secrets in CI logs", "open")]);

    let closed = gd_json(
        cfg,
        &[
            "incidents",
            "close",
            &incident,
            "--by",
            "alice",
            "--notes",
            "rebuilt the host",
            "--root-cause",
            "leaked key",
            "--lessons-learned",
            "scan CI logs",
            "--mitigations",
            "short-lived credentials",
            "--cost-estimate",
            "3 person-days",
            "--legal-counsel",
            "no",
            "--customers-notified",
            "yes",
            "--authorities-notified",
            "yes",
        ],
    );
    assert_eq!(closed["incident"]["status"], "closed");
    assert_eq!(closed["incident"]["closure"]["customers_notified"], true);
    assert_eq!(closed["incident"]["closure"]["authorities_notified"], true);

    let shown = gd_json(cfg, &["incidents", "show", &incident]);
    let timeline = actions(&shown);
    for (a, b) in [
        ("finding.created", "escalation"),
        ("escalation", "ack"),
        ("ack", "assign"),
        ("note", "status"),
        ("status", "close"),
    ] {
        let (ia, ib) = (timeline.iter().position(|x| x == a), timeline.iter().rposition(|x| x == b));
        assert!(ia.is_some() && ib.is_some() && ia < ib, "{a} before {b} in {timeline:?}");
    }
    let note = shown["timeline"].as_array().unwrap().iter().find(|e| e["action"] == "note").unwrap();
    assert_eq!(note["occurred_at"], "2026-11-20T09:55:00.000Z");
    assert_eq!(note["by"], "alice");
    let assign = shown["timeline"].as_array().unwrap().iter().find(|e| e["action"] == "assign").unwrap();
    assert_eq!(
        (assign["before"]["assignee"].clone(), assign["after"]["assignee"].clone()),
        (Value::Null, json!("infra-team"))
    );

    // Human output shows the same walk.
    let (code, text, _) = gd(cfg, &["incidents", "show", &incident]);
    assert_eq!(code, 0);
    assert!(
        text.contains("Closed by alice") && text.contains("Root cause: leaked key") && text.contains("Timeline:"),
        "{text}"
    );

    // Acknowledged: no re-page after the ack, even past the due time.
    let late = aws.drain(&oce, 0, Duration::from_secs(1), Duration::from_secs(4)).await;
    assert!(late.is_empty(), "re-paged after the limit or the ack: {late:?}");

    let reopened = gd_json(cfg, &["incidents", "reopen", &incident, "--by", "alice", "--reason", "new activity"]);
    assert_eq!(reopened["incident"]["status"], "investigating");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reports_page_like_findings_and_confidential_ones_reach_the_iso_alone() {
    let stack = deploy_stack("report");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let report = |severity: &str, title: &str, confidential: bool| {
        let mut args = vec![
            "report",
            "--by",
            "dana",
            "--title",
            title,
            "--description",
            "seen on my laptop",
            "--severity",
            severity,
        ];
        if confidential {
            args.push("--confidential");
        }
        gd_json(&config, &args)["incident"]["incident_id"].as_str().unwrap().to_owned()
    };
    let high = report("HIGH", "Phishing mail with credential form", false);
    let low = report("low", "Odd pop-up", false);
    let secret = report("HIGH", "Colleague copying customer data", true);

    let oce_pages = aws.drain(&oce, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    let iso_pages = aws.drain(&iso, 2, Duration::from_secs(30), Duration::from_secs(2)).await;
    let ids = |pages: &[Received]| -> Vec<String> {
        let mut v: Vec<String> = pages.iter().map(|p| p.attributes["incident_id"].clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&oce_pages), vec![high.clone()], "the OCE gets the HIGH report, never the confidential one");
    let mut want = vec![high.clone(), secret.clone()];
    want.sort();
    assert_eq!(ids(&iso_pages), want, "the ISO gets both");
    let secret_page = iso_pages.iter().find(|p| p.attributes["incident_id"] == secret).unwrap();
    assert!(secret_page.body.contains("CONFIDENTIAL"));

    let listed: Vec<String> = gd_json(&config, &["incidents", "list"])["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(listed.contains(&high) && listed.contains(&low), "{listed:?}");
    assert!(!listed.contains(&secret), "confidential reports are left out of the list");
    let with_secret = gd_json(&config, &["incidents", "list", "--confidential"]);
    assert!(with_secret["incidents"].as_array().unwrap().iter().any(|i| i["incident_id"] == secret.as_str()));
    assert_eq!(listed.first(), Some(&low), "newest first");

    // Paginated: one at a time, the token leads to the next.
    let first = gd_json(&config, &["incidents", "list", "--limit", "1"]);
    let token = first["next"].as_str().expect("a next token").to_owned();
    let second = gd_json(&config, &["incidents", "list", "--limit", "1", "--next", &token]);
    assert_ne!(first["incidents"][0]["incident_id"], second["incidents"][0]["incident_id"]);
    let filtered = gd_json(&config, &["incidents", "list", "--severity", "LOW", "--status", "open", "--since", "1h"]);
    assert_eq!(filtered["incidents"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_keeps_every_version_and_policy_rules_apply() {
    let stack = deploy_stack("evidence");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = r#"
[[policy.floors]]
types = ["Backdoor:*"]
level = "HIGH"

[[policy.suppress]]
types = ["Recon:EC2/PortProbeUnprotectedPort"]
reason = "our own scanner"
"#;
    let config = write_config_with(dir.path(), &stack, "", policy);
    let _daemon = Daemon::start(&config, "d1");

    // Three versions of a LOW backdoor finding (one of them twice): the floor makes it HIGH.
    let id = "e71de2ce00000000000000000000000a";
    let v1 = finding(id, 1, 1, 2.0, "Backdoor:EC2/DenialOfService.Tcp");
    let v2 = finding(id, 2, 5, 2.0, "Backdoor:EC2/DenialOfService.Tcp");
    let v0 = finding(id, 0, 1, 2.0, "Backdoor:EC2/DenialOfService.Tcp");
    for body in [&v1, &v2, &v2, &v0] {
        aws.send(stack.queue_url(), body).await;
    }
    let suppressed = "5bb5bb5bb5bb5bb5bb5bb5bb5bb5bb50";
    aws.send(stack.queue_url(), &finding(suppressed, 1, 1, 8.0, "Recon:EC2/PortProbeUnprotectedPort")).await;

    let incident = incident_of(&aws, &stack, id).await;
    let quiet = incident_of(&aws, &stack, suppressed).await;
    let evidence = eventually("three versions kept", Duration::from_secs(30), || async {
        let e = gd_json(&config, &["incidents", "evidence", &incident, "--print"]);
        (e["evidence"].as_array().unwrap().len() >= 3).then_some(e)
    })
    .await;
    let versions = evidence["evidence"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "each distinct version once, the redelivery not again");
    for v in versions {
        assert_eq!(v["verified"], true);
        let body = v["body"].as_str().unwrap();
        assert!([&v0, &v1, &v2].iter().any(|b| b.as_str() == body), "kept byte for byte");
    }
    let (code, text, _) = gd(&config, &["incidents", "evidence", &incident]);
    assert_eq!(code, 0);
    assert_eq!(text.matches("verified").count(), 3, "{text}");

    let shown = gd_json(&config, &["incidents", "show", &incident]);
    assert_eq!(shown["incident"]["severity"], "HIGH", "the floor raised a LOW backdoor");
    assert_eq!(shown["incident"]["finding_count"], 5);
    let quiet_shown = gd_json(&config, &["incidents", "show", &quiet]);
    assert_eq!(quiet_shown["incident"]["status"], "suppressed");
    assert_eq!(quiet_shown["incident"]["suppressed_reason"], "our own scanner");

    let pages = aws.drain(&oce, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    let paged: Vec<&str> = pages.iter().map(|p| p.attributes["incident_id"].as_str()).collect();
    assert_eq!(paged, vec![incident.as_str()], "the suppressed HIGH finding pages no one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_unknown_ids_get_a_clear_message_and_change_nothing() {
    let stack = deploy_stack("badargs");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let made = gd_json(&config, &["report", "--by", "dana", "--title", "t", "--description", "d", "--severity", "LOW"]);
    let id = made["incident"]["incident_id"].as_str().unwrap().to_owned();
    let version = || async { aws.incidents(stack.table()).await[0].get("version").cloned() };
    let before = version().await;

    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["incidents", "ack", "no-such-id", "--by", "a"], 1, "no incident with id no-such-id"),
        (vec!["incidents", "show", "no-such-id"], 1, "no incident with id"),
        (vec!["incidents", "status", &id, "bogus"], 2, "invalid value 'bogus'"),
        (vec!["incidents", "status", &id, "closed"], 2, "possible values: investigating, contained, resolved"),
        (vec!["incidents", "close", &id, "--by", "a"], 2, "--notes <NOTES>"),
        (vec!["incidents", "close", &id, "--by", "a", "--notes", " "], 1, "--notes (closure notes) must not be empty"),
        (vec!["incidents", "note", &id, "--by", "a", "--at", "yesterday", "x"], 2, "expected RFC 3339"),
        (vec!["incidents", "list", "--severity", "SEVERE"], 2, "not a level"),
        (vec!["incidents", "list", "--next", "garbage!"], 1, "invalid --next token"),
        (vec!["incidents", "reopen", &id], 1, "is not closed"),
        (
            vec!["report", "--by", "d", "--title", "t", "--description", "d", "--severity", "URGENT"],
            2,
            "expected LOW, MEDIUM, HIGH or CRITICAL",
        ),
    ];
    for (args, code, says) in cases {
        let (got, out, err) = gd(&config, &args);
        assert_eq!(got, code, "{args:?}: {err}{out}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    }
    assert_eq!(version().await, before, "nothing changed");
    assert_eq!(aws.incidents(stack.table()).await.len(), 1, "no incident was made by a bad report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_records_the_identity_aws_verified_beside_the_name_given() {
    let stack = deploy_stack("actors");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let made = gd_json(&config, &["report", "--by", "dana", "--title", "t", "--description", "d", "--severity", "LOW"]);
    let id = made["incident"]["incident_id"].as_str().unwrap().to_owned();
    gd_json(&config, &["incidents", "ack", &id]);
    gd_json(&config, &["incidents", "note", &id, "--by", "alice", "looked at it"]);
    let caller = aws.sts().await.get_caller_identity().send().await.unwrap().arn.unwrap();

    let shown = gd_json(&config, &["incidents", "show", &id]);
    let timeline = shown["timeline"].as_array().unwrap();
    let entry = |action: &str| timeline.iter().find(|e| e["action"] == action).unwrap().clone();
    let name = caller.rsplit('/').next().unwrap().rsplit(':').next().unwrap();
    assert_eq!((entry("ack")["by"].as_str(), entry("ack")["actor"].as_str()), (Some(name), Some(caller.as_str())));
    assert_eq!(shown["incident"]["acknowledged_by"], name, "no --by: the verified identity's name, not $USER");
    let note = entry("note");
    assert_eq!((note["by"].as_str(), note["actor"].as_str()), (Some("alice"), Some(caller.as_str())));
    assert_eq!(entry("report")["actor"].as_str(), Some(caller.as_str()), "a staff report too");
    let (_, text, _) = gd(&config, &["incidents", "show", &id]);
    assert!(text.contains(&format!("alice [{caller}]")), "{text}");

    // STS unreachable: the identity cannot be verified, and nothing changes.
    let version = shown["incident"]["version"].clone();
    let faults = dir.path().join("sts-down");
    std::fs::write(&faults, "STS http://127.0.0.1:1\n").unwrap();
    let env = [
        ("GD_INCIDENTS__AWS__FAULT_INJECTION_FILE", faults.to_str().unwrap()),
        ("GD_INCIDENTS__AWS__MAX_ATTEMPTS", "1"),
    ];
    let (code, _, err) = gd_env(&config, &["incidents", "close", &id, "--by", "mallory", "--notes", "n"], &env);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot verify who you are"), "{err}");
    assert_eq!(gd_json(&config, &["incidents", "show", &id])["incident"]["version"], version, "nothing changed");
}
