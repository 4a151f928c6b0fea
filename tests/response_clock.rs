//! The response clock through the real binary against LocalStack, with a clock the test moves forward
//! (`[test_hooks] clock_offset_file`) instead of sleeping: a missed objective recorded once and told to
//! the ISO and the OCE, shown by `incidents show`, `incidents list` and the post-incident report; and an
//! unacknowledged CRITICAL incident climbing its escalation path to infra operations, then management.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// Moves the clock of every process of the test `minutes` ahead of the system clock.
fn advance(offset_file: &Path, minutes: i64) {
    std::fs::write(offset_file, (minutes * 60).to_string()).unwrap();
}

fn show(config: &Path, id: &str) -> Value {
    gd_json(config, &["incidents", "show", id])
}

/// (kind, escalation, notice) of each message, in arrival order.
fn kinds(messages: &[Received]) -> Vec<(String, String, String)> {
    messages
        .iter()
        .map(|m| {
            let a = |k: &str| m.attributes.get(k).cloned().unwrap_or_default();
            (a("kind"), a("escalation"), a("notice"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_objective_is_recorded_once_told_and_shown() {
    let stack = deploy_stack("sla");
    let aws = Aws::new().await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock-offset");
    let tail = format!(
        "[escalation]\nack_timeout_secs = 0\ncheck_interval_secs = 1\n\n[test_hooks]\nclock_offset_file = \"{}\"\n",
        clock.display()
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let _daemon = Daemon::start(&config, "d1");
    aws.send(stack.queue_url(), &FindingEvent::version("5c1a5c1a5c1a5c1a5c1a5c1a5c1a5c1a", 1, 1, 9.5).body()).await;
    let page = aws.drain(&iso, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(kinds(&page), [("page".into(), "0".into(), String::new())]);
    let id = page[0].attributes["incident_id"].clone();
    let shown = show(&config, &id);
    assert_eq!(shown["clock"][0]["goal"], "acknowledge", "{shown}");
    assert_eq!(shown["clock"][0]["breached"], false);

    // 16 minutes later nobody has acknowledged the CRITICAL incident (15 minutes allowed).
    advance(&clock, 16);
    let notice = aws.drain(&iso, 1, Duration::from_secs(60), Duration::from_secs(3)).await;
    assert_eq!(kinds(&notice), [("notice".into(), String::new(), "sla-acknowledge".into())]);
    assert!(!notice[0].attributes.contains_key("incident_id"), "not a page of the incident (CONTRACT.md)");
    assert!(notice[0].body.contains("RESPONSE OBJECTIVE MISSED") && notice[0].body.contains(&id), "{}", notice[0].body);
    // A later look records nothing more.
    advance(&clock, 20);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(aws.drain(&iso, 0, Duration::ZERO, Duration::from_secs(1)).await.is_empty(), "told once");
    let shown = show(&config, &id);
    let breaches = shown["incident"]["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1, "{shown}");
    assert_eq!((breaches[0]["goal"].as_str(), breaches[0]["level"].as_str()), (Some("acknowledge"), Some("CRITICAL")));
    assert_eq!(shown["clock"][0]["breached"], true);
    let logged = shown["timeline"].as_array().unwrap().iter().filter(|e| e["action"] == "sla.breached").count();
    assert_eq!(logged, 1);

    // People see it: in the list's clock column, in `show`, and in the post-incident report.
    let (code, listed, err) = gd(&config, &["incidents", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(listed.contains("SLA") && listed.contains("LATE ack"), "{listed}");
    let (_, text, _) = gd(&config, &["incidents", "show", &id]);
    assert!(
        text.contains("Response clock (CRITICAL objectives") && text.contains("not acknowledged in time"),
        "{text}"
    );
    let (code, report, err) = gd(&config, &["incidents", "report", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(report.contains("## Response times (CRITICAL objectives)") && report.contains("**no**"), "{report}");

    // Acknowledged and contained at minute 30: the containment objective (4 hours) is met in time.
    advance(&clock, 30);
    let (code, out, err) = gd(&config, &["incidents", "ack", &id, "--by", "olga"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = gd(&config, &["incidents", "status", &id, "contained", "--by", "olga"]);
    assert_eq!(code, 0, "{out}{err}");
    let shown = show(&config, &id);
    assert_eq!(shown["clock"][1]["goal"], "contain");
    assert_eq!(shown["clock"][1]["breached"], false, "{shown}");
    assert!(shown["clock"][1]["met"].is_string());
    assert_eq!(shown["incident"]["breaches"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_critical_incident_climbs_its_escalation_path() {
    let stack = deploy_stack("tiers");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let (infra_arn, infra) = aws.own_topic(&stack, "infra").await;
    let (mgmt_arn, mgmt) = aws.own_topic(&stack, "mgmt").await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock-offset");
    // The routes page no account at the first page (theirs is another): only the path reaches them.
    let tail = format!(
        r#"[test_hooks]
clock_offset_file = "{clock}"

[escalation]
check_interval_secs = 1

[[escalation.paths]]
level = "CRITICAL"
tiers = [
  {{ after_mins = 15, targets = ["oce", "iso"] }},
  {{ after_mins = 30, targets = ["infra-ops"] }},
  {{ after_mins = 60, targets = ["management"] }},
]

[[paging.routes]]
name = "infra-ops"
topic_arn = "{infra_arn}"
min_level = "HIGH"
accounts = ["999999999999"]

[[paging.routes]]
name = "management"
topic_arn = "{mgmt_arn}"
min_level = "CRITICAL"
accounts = ["999999999999"]
"#,
        clock = clock.display()
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let _daemon = Daemon::start(&config, "d1");
    aws.send(stack.queue_url(), &FindingEvent::version("7e257e257e257e257e257e257e257e25", 1, 1, 9.5).body()).await;
    let first = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    let id = first[0].attributes["incident_id"].clone();

    // Tier 1 at 15 minutes: the OCE again (and the ISO), with the acknowledgement objective's notice.
    advance(&clock, 15);
    let mut got = kinds(&aws.drain(&oce, 2, Duration::from_secs(60), Duration::from_secs(2)).await);
    got.sort();
    assert_eq!(
        got,
        [("notice".into(), String::new(), "sla-acknowledge".into()), ("repage".into(), "1".into(), String::new())]
    );
    assert!(aws.drain(&infra, 0, Duration::ZERO, Duration::from_secs(1)).await.is_empty(), "not yet infra operations");

    // Tier 2 at 30 minutes: infra operations; tier 3 at 60: management.
    advance(&clock, 30);
    let tier2 = aws.drain(&infra, 1, Duration::from_secs(60), Duration::from_secs(2)).await;
    assert_eq!(kinds(&tier2), [("repage".into(), "2".into(), String::new())]);
    assert_eq!(tier2[0].attributes["incident_id"], id);
    assert!(aws.drain(&mgmt, 0, Duration::ZERO, Duration::from_secs(1)).await.is_empty(), "not yet management");
    advance(&clock, 60);
    let tier3 = aws.drain(&mgmt, 1, Duration::from_secs(60), Duration::from_secs(2)).await;
    assert_eq!(kinds(&tier3), [("repage".into(), "3".into(), String::new())]);
    let shown = show(&config, &id);
    assert!(shown["incident"]["escalate_at"].is_null(), "the path ends: {shown}");
    let log = shown["timeline"].to_string();
    assert!(log.contains("re-page 2 of 3 at CRITICAL, to route:infra-ops"), "{log}");
    assert!(log.contains("re-page 3 of 3 at CRITICAL, to route:management"), "{log}");

    // A second incident acknowledged before its first tier is not re-paged at all.
    aws.send(stack.queue_url(), &FindingEvent::version("7e257e257e257e257e257e257e257e26", 1, 1, 9.5).body()).await;
    let first = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(1)).await;
    let quiet = first.iter().find(|m| m.attributes.get("kind").map(String::as_str) == Some("page")).unwrap();
    let quiet_id = quiet.attributes["incident_id"].clone();
    let (code, out, err) = gd(&config, &["incidents", "ack", &quiet_id, "--by", "olga"]);
    assert_eq!(code, 0, "{out}{err}");
    advance(&clock, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = aws.drain(&oce, 0, Duration::ZERO, Duration::from_secs(2)).await;
    assert!(later.iter().all(|m| m.attributes.get("incident_id") != Some(&quiet_id)), "{later:?}");
}
