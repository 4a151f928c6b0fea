//! The procedure's cases the contract adds, through the real binary against LocalStack: confidential reports
//! page the ISO alone at every level (§3.2), recurrences reopen, post-mortems cannot be sidestepped, no page
//! stays owed, and every message carries the contract's `kind`.

mod support;

use std::time::Duration;

use support::*;

fn kinds(pages: &[Received]) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = pages
        .iter()
        .map(|p| {
            let a = |k: &str| p.attributes.get(k).cloned().unwrap_or_default();
            (a("incident_id"), a("severity"), a("kind"))
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_reports_page_the_iso_alone_at_every_level_once_per_level() {
    let stack = deploy_stack("confidential");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &stack, "", "[escalation]\nack_timeout_secs = 0\n");
    let report = |severity: &str, confidential: bool| {
        let mut args = vec![
            "report",
            "--by",
            "dana",
            "--title",
            "Colleague copies data",
            "--description",
            "d",
            "--severity",
            severity,
        ];
        if confidential {
            args.push("--confidential");
        }
        gd_json(&config, &args)["incident"]["incident_id"].as_str().unwrap().to_owned()
    };
    let low = report("LOW", true);
    let medium = report("MEDIUM", true);
    let high = report("HIGH", false);
    let (code, out, err) = gd(&config, &["incidents", "classify", &low, "MEDIUM", "--by", "iso", "--reason", "worse"]);
    assert_eq!(code, 0, "{out}{err}");
    // Down and up again: MEDIUM was already paged, so no second MEDIUM page.
    for level in ["LOW", "MEDIUM"] {
        let (code, out, err) = gd(&config, &["incidents", "classify", &low, level, "--by", "iso", "--reason", "again"]);
        assert_eq!(code, 0, "{out}{err}");
    }

    let iso_pages = aws.drain(&iso, 4, Duration::from_secs(30), Duration::from_secs(3)).await;
    let oce_pages = aws.drain(&oce, 1, Duration::from_secs(10), Duration::from_secs(2)).await;
    let page = |id: &str, level: &str| (id.to_owned(), level.to_owned(), "page".to_owned());
    let mut want = vec![page(&low, "LOW"), page(&low, "MEDIUM"), page(&medium, "MEDIUM"), page(&high, "HIGH")];
    want.sort();
    assert_eq!(kinds(&iso_pages), want, "the ISO: each confidential level once, and the ordinary HIGH report");
    assert_eq!(kinds(&oce_pages), vec![page(&high, "HIGH")], "the OCE never hears of a confidential report");
    let secret = iso_pages.iter().find(|p| p.attributes["incident_id"] == medium).unwrap();
    assert!(
        secret.body.contains("MEDIUM confidential report") && secret.body.contains("CONFIDENTIAL"),
        "{}",
        secret.body
    );
}

fn finding(id: &str, minute: u32, count: u64, severity: f64) -> String {
    let mut v = fixture("ec2-instance-backdoor");
    let d = &mut v["detail"];
    d["id"] = serde_json::json!(id);
    d["updatedAt"] = serde_json::json!(format!("2026-11-20T10:{minute:02}:00.000Z"));
    d["service"]["count"] = serde_json::json!(count);
    d["severity"] = serde_json::json!(severity);
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_that_recurs_after_close_reopens_its_incident_and_pages_once_more() {
    let stack = deploy_stack("recur");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &stack, "", "[escalation]\nack_timeout_secs = 0\n");
    let _daemon = Daemon::start(&config, "d1");
    let id = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c1";
    aws.send(stack.queue_url(), &finding(id, 1, 1, 8.0)).await;
    let first = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attributes.get("kind").map(String::as_str), Some("page"));
    let incident = first[0].attributes["incident_id"].clone();
    aws.drain(&iso, 1, Duration::from_secs(30), Duration::from_secs(1)).await;
    let (code, out, err) = gd(&config, &["incidents", "close", &incident, "--by", "olga", "--notes", "benign"]);
    assert_eq!(code, 0, "{out}{err}");

    // The activity comes back: a newer version (count up).
    aws.send(stack.queue_url(), &finding(id, 7, 5, 8.0)).await;
    let shown = eventually("the incident reopened", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &incident]);
        (shown["incident"]["status"] == "open").then_some(shown)
    })
    .await;
    let timeline = shown.to_string();
    assert!(timeline.contains("\"reopened\"") && timeline.contains("count 5"), "{timeline}");
    // A redelivery of that version reopens nothing more.
    aws.send(stack.queue_url(), &finding(id, 7, 5, 8.0)).await;
    for topic in [&oce, &iso] {
        let pages = aws.drain(topic, 1, Duration::from_secs(60), Duration::from_secs(4)).await;
        assert_eq!(kinds(&pages), vec![(incident.clone(), "HIGH".into(), "reopened".into())]);
        assert!(pages[0].body.contains("REOPENED"), "{}", pages[0].body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_incident_classified_down_still_needs_its_post_mortem() {
    let stack = deploy_stack("postmortem");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &stack, "", "[escalation]\nack_timeout_secs = 0\n");
    let made =
        gd_json(&config, &["report", "--by", "dana", "--title", "t", "--description", "d", "--severity", "CRITICAL"]);
    let id = made["incident"]["incident_id"].as_str().unwrap().to_owned();
    let (code, out, err) =
        gd(&config, &["incidents", "classify", &id, "HIGH", "--by", "olga", "--reason", "contained"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = gd(&config, &["incidents", "close", &id, "--by", "olga", "--notes", "done"]);
    assert_ne!(code, 0, "closed with notes only: {out}{err}");
    assert!(err.contains("post-mortem") && err.contains("CRITICAL") && err.contains("--root-cause"), "{err}");
    let shown = gd_json(&config, &["incidents", "show", &id]);
    assert_ne!(shown["incident"]["status"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_repage_that_sns_refused_goes_out_once_when_sns_is_back() {
    let stack = deploy_stack("owed");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("sns-down");
    // One re-page 3 s after the page; a claim on a page lapses after 5 s.
    let config = write_config_with(
        dir.path(),
        &stack,
        "",
        "[escalation]\nack_timeout_secs = 3\nmax_repages = 1\ncheck_interval_secs = 1\n",
    );
    let fault_env = [
        ("GD_INCIDENTS__AWS__FAULT_INJECTION_FILE", faults.to_str().unwrap()),
        ("GD_INCIDENTS__PAGING__CLAIM_TIMEOUT_SECS", "5"),
    ];
    let _daemon = Daemon::start_with_env(&config, "d1", &fault_env);
    aws.send(stack.queue_url(), &finding("c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c2", 1, 1, 8.0)).await;
    let first = aws.drain(&oce, 1, Duration::from_secs(60), Duration::ZERO).await;
    assert_eq!(first.len(), 1, "the page");
    let incident = first[0].attributes["incident_id"].clone();

    // SNS refuses connections when the (last) re-page falls due.
    std::fs::write(&faults, "SNS http://127.0.0.1:1\n").unwrap();
    let shown = eventually("the re-page owed and not sent", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &incident]);
        let page = &shown["incident"]["pages"]["HIGH:oce:esc1"];
        let failed = shown.to_string().contains("\"escalation\"") && page["state"] == "owed";
        failed.then_some(shown)
    })
    .await;
    assert!(shown["incident"]["escalate_at"].is_null(), "the last re-page scheduled none after it: {shown}");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(aws.drain(&oce, 0, Duration::ZERO, Duration::from_secs(1)).await.is_empty(), "SNS is down");

    std::fs::remove_file(&faults).unwrap();
    let repages = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(8)).await;
    let kinds: Vec<(&str, &str)> =
        repages.iter().map(|p| (p.attributes["kind"].as_str(), p.attributes["escalation"].as_str())).collect();
    assert_eq!(kinds, vec![("repage", "1")], "the owed re-page, once, and nothing after it");
    let shown = gd_json(&config, &["incidents", "show", &incident]);
    assert_eq!(shown["incident"]["pages"]["HIGH:oce:esc1"]["state"], "sent", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backdoors_are_high_by_default_and_say_which_rule_raised_them() {
    let stack = deploy_stack("highlist");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    // The shipped floors, with `malware` switched off by this deployment.
    let policy = "[escalation]\nack_timeout_secs = 0\n\n[policy]\nhigh_list = true\n\n[[policy.floors]]\nname = \"malware\"\nenabled = false\n";
    let config = write_config_with(dir.path(), &stack, "", policy);
    let _daemon = Daemon::start(&config, "d1");
    let typed = |id: &str, finding_type: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&finding(id, 1, 1, 5.0)).unwrap();
        v["detail"]["type"] = serde_json::json!(finding_type);
        v.to_string()
    };
    let (backdoor, trojan) = ("b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b1", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b2");
    aws.send(stack.queue_url(), &typed(backdoor, "Backdoor:EC2/Spambot")).await;
    aws.send(stack.queue_url(), &typed(trojan, "Trojan:EC2/DropPoint")).await;

    let pages = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(4)).await;
    assert_eq!(pages.len(), 1, "the backdoor pages; the trojan, its floor switched off, does not: {pages:?}");
    let page = &pages[0];
    assert_eq!(page.attributes["severity"], "HIGH");
    let why = "policy rule backdoors: backdoors are High (procedure §3.3)";
    assert!(page.body.contains(why) && page.body.contains("GuardDuty severity 5"), "{}", page.body);
    let incident = page.attributes["incident_id"].clone();
    let (code, text, err) = gd(&config, &["incidents", "show", &incident]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains(&format!("Raised by:    {why}")), "{text}");

    let quiet = incident_of(&aws, &stack, trojan).await;
    let shown = gd_json(&config, &["incidents", "show", &quiet]);
    assert_eq!(shown["incident"]["severity"], "MEDIUM", "{shown}");
    assert!(shown["incident"]["raised_by"].is_null());
}
