//! Who gets told, through the real binary against LocalStack: stakeholder routes by level and account,
//! client notices and their updates (none for a confidential incident), the OCE's own classification up and
//! down followed by finding updates, and the post-incident report.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const ACCOUNT: &str = "123456789012";
const PROD: &str = "111111111111";

fn finding(id: &str, account: &str, minute: u32, count: u64, severity: f64) -> String {
    FindingEvent::version(id, minute, count, severity).account(account).body()
}

/// (incident id, severity) of each message, sorted.
fn seen(pages: &[Received]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        pages.iter().map(|p| (p.attributes["incident_id"].clone(), p.attributes["severity"].clone())).collect();
    v.sort();
    v
}

fn pair(id: &str, level: &str) -> (String, String) {
    (id.to_owned(), level.to_owned())
}

/// Waits until the incident has no page owed (all sent), and returns it as `incidents show --json` prints it.
async fn settled(config: &std::path::Path, id: &str) -> Value {
    eventually(&format!("the pages of {id} sent"), Duration::from_secs(60), || async {
        let shown = gd_json(config, &["incidents", "show", id]);
        let pages = shown["incident"]["pages"].as_object().cloned().unwrap_or_default();
        pages.values().all(|p| p["state"] != "owed").then_some(shown)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_page_by_level_and_account_and_the_oce_classifies_up_and_down() {
    let stack = deploy_stack("routes");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let (infra_arn, infra) = aws.own_topic(&stack, "infra").await;
    let (mgmt_arn, mgmt) = aws.own_topic(&stack, "mgmt").await;
    let (prod_arn, prod) = aws.own_topic(&stack, "prod").await;
    let dir = tempfile::tempdir().unwrap();
    let routes = format!(
        r#"[escalation]
ack_timeout_secs = 0

[[paging.routes]]
name = "infra-ops"
topic_arn = "{infra_arn}"
min_level = "HIGH"

[[paging.routes]]
name = "management"
topic_arn = "{mgmt_arn}"
min_level = "CRITICAL"

[[paging.routes]]
name = "prod-team"
topic_arn = "{prod_arn}"
min_level = "HIGH"
accounts = ["{PROD}"]
"#
    );
    // `[[paging.routes]]` must follow `[paging]`'s keys: the helper's tail comes after every section.
    let config = write_config_with(dir.path(), &stack, "", &routes);
    let (code, out, err) = gd(&config, &["check"]);
    assert!(out.contains("route topic") && out.contains("(route management)"), "check covers routes: {out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    let _daemon = Daemon::start(&config, "d1");

    // A: HIGH, then CRITICAL, then a redelivery. B: HIGH in the production account.
    let a = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a1";
    let b = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b1";
    aws.send(stack.queue_url(), &finding(a, ACCOUNT, 1, 1, 8.0)).await;
    aws.send(stack.queue_url(), &finding(b, PROD, 1, 1, 7.5)).await;
    let inc_a = incident_of(&aws, &stack, a).await;
    let inc_b = incident_of(&aws, &stack, b).await;
    settled(&config, &inc_a).await;
    aws.send(stack.queue_url(), &finding(a, ACCOUNT, 2, 2, 9.5)).await;
    eventually("A raised to CRITICAL", Duration::from_secs(60), || async {
        (gd_json(&config, &["incidents", "show", &inc_a])["incident"]["severity"] == "CRITICAL").then_some(())
    })
    .await;
    aws.send(stack.queue_url(), &finding(a, ACCOUNT, 2, 2, 9.5)).await;

    let infra_pages = aws.drain(&infra, 3, Duration::from_secs(60), Duration::from_secs(4)).await;
    let mgmt_pages = aws.drain(&mgmt, 1, Duration::from_secs(30), Duration::from_secs(2)).await;
    let prod_pages = aws.drain(&prod, 1, Duration::from_secs(30), Duration::from_secs(2)).await;
    let mut want = vec![pair(&inc_a, "HIGH"), pair(&inc_a, "CRITICAL"), pair(&inc_b, "HIGH")];
    want.sort();
    assert_eq!(seen(&infra_pages), want, "a HIGH route gets HIGH and CRITICAL, once each");
    assert_eq!(seen(&mgmt_pages), vec![pair(&inc_a, "CRITICAL")], "a CRITICAL route gets CRITICAL only");
    assert_eq!(seen(&prod_pages), vec![pair(&inc_b, "HIGH")], "an account route ignores other accounts");
    for p in infra_pages.iter().chain(&mgmt_pages).chain(&prod_pages) {
        for attr in ["severity", "incident_id", "finding_type", "account_id", "escalation"] {
            assert!(p.attributes.contains_key(attr), "route pages carry {attr}: {:?}", p.attributes);
        }
        assert!(p.body.contains("Sent to the stakeholders of route"), "{}", p.body);
    }
    let oce_pages = aws.drain(&oce, 3, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(seen(&oce_pages).len(), 3, "the contract's topics are paged as before");

    // Recorded on the incident like the OCE's and the ISO's pages.
    let shown = settled(&config, &inc_a).await;
    let pages = shown["incident"]["pages"].as_object().unwrap();
    for key in ["HIGH:route:infra-ops", "CRITICAL:route:infra-ops", "CRITICAL:route:management", "CRITICAL:oce"] {
        assert_eq!(pages[key]["state"], "sent", "{key}: {shown}");
        assert!(pages[key]["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{key}");
    }
    assert!(!pages.contains_key("HIGH:route:management") && !pages.contains_key("HIGH:route:prod-team"));

    // Classification: C is HIGH (paged); the OCE lowers it (no page), a same-severity update keeps it low,
    // a higher one raises it back (HIGH was paged: no page again), the OCE raises it to CRITICAL (pages).
    let c = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c1";
    aws.send(stack.queue_url(), &finding(c, ACCOUNT, 1, 1, 8.0)).await;
    let inc_c = incident_of(&aws, &stack, c).await;
    settled(&config, &inc_c).await;
    let high = aws.drain(&oce, 1, Duration::from_secs(30), Duration::from_secs(1)).await;
    assert_eq!(seen(&high), vec![pair(&inc_c, "HIGH")]);
    aws.drain(&infra, 1, Duration::from_secs(30), Duration::from_secs(1)).await;

    let lowered = gd_json(&config, &["incidents", "classify", &inc_c, "LOW", "--by", "olga", "--reason", "pentest"]);
    assert_eq!(lowered["incident"]["severity"], "LOW");
    assert_eq!(lowered["incident"]["classification"]["finding_severity"], 8.0);
    aws.send(stack.queue_url(), &finding(c, ACCOUNT, 2, 2, 8.0)).await;
    let updated = eventually("the same-severity version applied", Duration::from_secs(60), || async {
        let i = gd_json(&config, &["incidents", "show", &inc_c])["incident"].clone();
        (i["finding_count"] == 2).then_some(i)
    })
    .await;
    assert_eq!(updated["severity"], "LOW", "the decision stands against the severity it weighed");
    aws.send(stack.queue_url(), &finding(c, ACCOUNT, 3, 3, 8.5)).await;
    eventually("a higher severity raises it again", Duration::from_secs(60), || async {
        (gd_json(&config, &["incidents", "show", &inc_c])["incident"]["severity"] == "HIGH").then_some(())
    })
    .await;
    let raised =
        gd_json(&config, &["incidents", "classify", &inc_c, "critical", "--by", "olga", "--reason", "data was read"]);
    assert_eq!(raised["incident"]["severity"], "CRITICAL");
    assert_eq!(raised["incident"]["pages"]["CRITICAL:oce"]["state"], "sent", "the command sends what it owes");
    let after = aws.drain(&oce, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    assert_eq!(seen(&after), vec![pair(&inc_c, "CRITICAL")], "lowering and re-raising to HIGH paged no one");
    let timeline = gd_json(&config, &["incidents", "show", &inc_c])["timeline"].clone();
    let classify: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "classify")
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(classify.len(), 2, "{timeline}");
    assert!(classify[0].contains("lowered HIGH -> LOW by olga: pentest"), "{classify:?}");
    assert!(classify[1].contains("raised HIGH -> CRITICAL by olga: data was read"), "{classify:?}");
    let (code, _, err) = gd(&config, &["incidents", "classify", &inc_c, "SEVERE", "--by", "o", "--reason", "r"]);
    assert!(code == 2 && err.contains("expected LOW, MEDIUM, HIGH or CRITICAL"), "{err}");
}

fn notices(pages: &[Received]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        pages.iter().map(|p| (p.attributes["incident_id"].clone(), p.attributes["notice"].clone())).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_get_a_notice_at_their_level_and_updates_and_never_anything_else() {
    let stack = deploy_stack("clients");
    let aws = Aws::new().await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let (acme_arn, acme) = aws.own_topic(&stack, "acme").await;
    let (globex_arn, globex) = aws.own_topic(&stack, "globex").await;
    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        r#"[escalation]
ack_timeout_secs = 0
check_interval_secs = 1

[[clients]]
name = "acme"
accounts = ["{ACCOUNT}", "333333333333"]
topic_arn = "{acme_arn}"

[[clients]]
name = "globex"
accounts = ["{PROD}"]
topic_arn = "{globex_arn}"
min_level = "CRITICAL"
"#
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    // Claims run out quickly, so that the daemon takes over a notice a command could not send.
    let env = [("GD_INCIDENTS__PAGING__CLAIM_TIMEOUT_SECS", "5")];
    let _daemon = Daemon::start_with_env(&config, "d1", &env);

    let x = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d1"; // acme, HIGH: a notice
    let y = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d2"; // acme, MEDIUM: none
    let z = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d3"; // globex, HIGH: below globex's level, none
    let w = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d4"; // globex, CRITICAL: a notice
    aws.send(stack.queue_url(), &finding(x, ACCOUNT, 1, 1, 8.0)).await;
    aws.send(stack.queue_url(), &finding(y, ACCOUNT, 1, 1, 5.0)).await;
    aws.send(stack.queue_url(), &finding(z, PROD, 1, 1, 8.0)).await;
    aws.send(stack.queue_url(), &finding(w, PROD, 1, 1, 9.5)).await;
    let secret = gd_json(
        &config,
        &[
            "report",
            "--by",
            "dana",
            "--title",
            "Colleague",
            "--description",
            "d",
            "--severity",
            "HIGH",
            "--confidential",
        ],
    )["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (inc_x, inc_w) = (incident_of(&aws, &stack, x).await, incident_of(&aws, &stack, w).await);
    incident_of(&aws, &stack, y).await;
    incident_of(&aws, &stack, z).await;

    let to_acme = aws.drain(&acme, 1, Duration::from_secs(60), Duration::from_secs(4)).await;
    let to_globex = aws.drain(&globex, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(notices(&to_acme), vec![pair(&inc_x, "incident")], "acme: its HIGH incident only");
    assert_eq!(notices(&to_globex), vec![pair(&inc_w, "incident")], "globex: CRITICAL and up only");
    let notice = &to_acme[0];
    assert_eq!(notice.attributes["severity"], "HIGH");
    assert!(notice.body.contains("Security incident notice for acme"), "{}", notice.body);
    assert!(notice.body.contains(&format!("your AWS account {ACCOUNT}")), "{}", notice.body);
    let shown = gd_json(&config, &["incidents", "show", &inc_x])["incident"].clone();
    for internal in
        [shown["title"].as_str().unwrap(), shown["description"].as_str().unwrap(), "Backdoor:", "globex", PROD]
    {
        assert!(!notice.body.contains(internal), "{internal:?} reached the client:\n{}", notice.body);
    }
    let iso_pages = aws.drain(&iso, 3, Duration::from_secs(30), Duration::from_secs(1)).await;
    assert!(iso_pages.iter().any(|p| p.attributes["incident_id"] == secret), "the confidential report reached the ISO");

    // Updates as the work progresses: contained (sent by the daemon: the command could not reach SNS),
    // resolved, closed. Internal notes, the assignee and the closure notes never reach the client.
    let cfg = &config;
    gd_json(cfg, &["incidents", "ack", &inc_x, "--by", "alice"]);
    gd_json(cfg, &["incidents", "assign", &inc_x, "--to", "infra-team-zeta", "--by", "olga"]);
    gd_json(cfg, &["incidents", "note", &inc_x, "--by", "alice", "suspect is the contractor Bob"]);
    let faults = dir.path().join("sns-down");
    std::fs::write(&faults, "SNS http://127.0.0.1:1\n").unwrap();
    let fault_env = [("GD_INCIDENTS__AWS__FAULT_INJECTION_FILE", faults.to_str().unwrap()), env[0]];
    let (code, out, err) = gd_env(cfg, &["incidents", "status", &inc_x, "contained", "--by", "alice"], &fault_env);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("is recorded, but its pages are not all sent yet"), "{err}");
    let contained = aws.drain(&acme, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(notices(&contained), vec![pair(&inc_x, "contained")], "the daemon sent what the command could not");
    gd_json(cfg, &["incidents", "status", &inc_x, "resolved", "--by", "alice"]);
    gd_json(cfg, &["incidents", "close", &inc_x, "--by", "alice", "--notes", "closure notes: keys of Bob revoked"]);
    let later = aws.drain(&acme, 2, Duration::from_secs(60), Duration::from_secs(4)).await;
    assert_eq!(notices(&later), vec![pair(&inc_x, "closed"), pair(&inc_x, "resolved")]);
    for m in contained.iter().chain(&later) {
        for internal in ["Bob", "infra-team-zeta", "alice", "closure notes"] {
            assert!(!m.body.contains(internal), "{internal:?} reached the client:\n{}", m.body);
        }
    }
    assert!(later.iter().any(|m| m.body.contains("The incident is closed")), "{later:?}");
    assert!(aws.drain(&globex, 0, Duration::from_secs(1), Duration::from_secs(2)).await.is_empty());

    // Recorded on the incident and in its timeline, like pages.
    let shown = settled(cfg, &inc_x).await;
    let pages = shown["incident"]["pages"].as_object().unwrap();
    for key in
        ["HIGH:client:acme", "HIGH:client:acme:contained", "HIGH:client:acme:resolved", "HIGH:client:acme:closed"]
    {
        assert_eq!(pages[key]["state"], "sent", "{key}: {shown}");
        assert!(pages[key]["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{key}");
    }
    let sent: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "page.sent")
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(sent.iter().any(|s| s.contains("HIGH:client:acme:contained")), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_post_incident_report_holds_what_the_procedure_asks_for() {
    let stack = deploy_stack("postmortem");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &stack, "", "[escalation]\nack_timeout_secs = 0\n");
    let _daemon = Daemon::start(&config, "d1");
    let f = "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e1";
    aws.send(stack.queue_url(), &finding(f, ACCOUNT, 1, 1, 9.5)).await;
    let id = incident_of(&aws, &stack, f).await;
    let shown = settled(&config, &id).await;
    let cfg = &config;
    gd_json(cfg, &["incidents", "ack", &id, "--by", "alice"]);
    gd_json(
        cfg,
        &["incidents", "note", &id, "--by", "alice", "--at", "2026-11-20T09:55:00Z", "attacker opened a shell"],
    );
    gd_json(cfg, &["incidents", "mark", &id, "--data-loss", "--by", "alice"]);

    // CRITICAL: the close asks whether the authorities were notified, and a refusal changes nothing.
    let post_mortem = [
        "--root-cause",
        "leaked deploy key",
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
    ];
    let mut close = vec!["incidents", "close", &id, "--by", "alice", "--notes", "host rebuilt"];
    close.extend(post_mortem);
    let (code, _, err) = gd(cfg, &close);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("missing: --authorities-notified"), "the refusal names the flag: {err}");
    assert!(err.contains("a follow-up action (incidents action add)"), "and the follow-up action: {err}");
    let add = ["incidents", "action", "add", &id, "rotate every deploy key", "--owner", "infra-ops", "--due", "14d"];
    gd_json(cfg, &[&add[..], &["--by", "alice"]].concat());
    let (code, _, err) = gd(cfg, &[close.clone(), vec!["--authorities-notified", "perhaps"]].concat());
    assert!(code == 2 && err.contains("[possible values: yes, no]"), "{err}");
    close.extend(["--authorities-notified", "yes"]);
    let closed = gd_json(cfg, &close);
    assert_eq!(closed["incident"]["closure"]["authorities_notified"], true);

    let report = gd_json(cfg, &["incidents", "report", &id, "--format", "json"]);
    let evidence = gd_json(cfg, &["incidents", "evidence", &id]);
    let summary = &report["summary"];
    assert_eq!(summary["incident_id"], id.as_str());
    assert_eq!(summary["level"], "CRITICAL");
    assert_eq!(summary["status"], "closed");
    assert_eq!(summary["account_id"], ACCOUNT);
    assert_eq!(summary["title"], shown["incident"]["title"]);
    assert_eq!(summary["acknowledged_by"], "alice");
    assert_eq!(summary["closed_by"], "alice");
    assert_eq!(summary["closure_notes"], "host rebuilt");
    assert_eq!(report["cause"], "leaked deploy key");
    assert_eq!(report["effect"]["data_loss"], true);
    assert_eq!(report["effect"]["service_impact"], false);
    assert_eq!(report["effect"]["affected_resource"], shown["incident"]["resource"]);
    assert_eq!(report["lessons_learned"], "scan CI logs");
    assert_eq!(report["mitigations"], "short-lived credentials");
    assert_eq!(report["cost"], "3 person-days");
    assert_eq!(report["follow_ups"][0]["text"], "rotate every deploy key");
    assert_eq!(
        (report["follow_ups"][0]["owner"].as_str(), report["follow_ups"][0]["state"].as_str()),
        (Some("infra-ops"), Some("open"))
    );
    assert_eq!((report["legal_counsel"].clone(), report["customers_notified"].clone()), (json!(false), json!(true)));
    assert_eq!(
        (report["authorities_required"].clone(), report["authorities_notified"].clone()),
        (json!(true), json!(true))
    );
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline[0]["action"], "note", "the attacker's step, which happened first, leads: {timeline:?}");
    assert_eq!(timeline[0]["at"], "2026-11-20T09:55:00.000Z");
    let actions: Vec<&str> = timeline.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["finding.created", "page.sent", "ack", "mark", "close"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let kept = &evidence["evidence"][0];
    assert_eq!(report["evidence"][0]["sha256"], kept["sha256"]);
    assert_eq!(report["evidence"][0]["verified"], true);
    assert_eq!(report["evidence"].as_array().unwrap().len(), evidence["evidence"].as_array().unwrap().len());
    let pages = report["pages"].as_array().unwrap();
    let oce = pages.iter().find(|p| p["key"] == "CRITICAL:oce").expect("the OCE's page");
    assert_eq!(
        (oce["target"].clone(), oce["level"].clone(), oce["state"].clone()),
        (json!("oce"), json!("CRITICAL"), json!("sent"))
    );
    assert_eq!(oce["message_id"], shown["incident"]["pages"]["CRITICAL:oce"]["message_id"]);
    assert!(oce["sent_at"].is_string());

    // The same document in Markdown, to a file.
    let path = dir.path().join("report.md");
    let (code, _, err) = gd(cfg, &["incidents", "report", &id, "--output", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(&path).unwrap();
    for needle in [
        format!("# Post-incident report: {}", shown["incident"]["title"].as_str().unwrap()),
        format!("Incident `{id}`"),
        "| Level | CRITICAL |".into(),
        "## Timeline".into(),
        "| 2026-11-20T09:55:00.000Z |".into(),
        "attacker opened a shell".into(),
        "## Cause\n\nleaked deploy key".into(),
        "- Data loss: yes".into(),
        "## Lessons learned\n\nscan CI logs".into(),
        "## Mitigations\n\nshort-lived credentials".into(),
        "## Cost\n\n3 person-days".into(),
        format!("`{}` | yes |", kept["sha256"].as_str().unwrap()),
        "| CRITICAL:oce | oce | CRITICAL | sent |".into(),
        "- Authorities notified (required for CRITICAL, procedure 3.7): yes".into(),
        "- Affected customers notified: yes".into(),
        "- Legal counsel involved: no".into(),
    ] {
        assert!(md.contains(&needle), "missing {needle:?} in\n{md}");
    }
    let (code, _, err) = gd(cfg, &["incidents", "report", &id, "--format", "pdf"]);
    assert!(code == 2 && err.contains("[possible values: markdown, json]"), "{err}");
}
