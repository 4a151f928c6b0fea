//! The response clock through the real binary against LocalStack, with a clock the test moves forward
//! (`[test_hooks] clock_offset_file`) instead of sleeping: a missed objective recorded once and told to
//! the ISO and the OCE, shown by `incidents show`, `incidents list` and the post-incident report; and an
//! unacknowledged CRITICAL incident climbing its escalation path to infra operations, then management; and
//! the work-hours digest of what waits (LOW and MEDIUM incidents, overdue follow-up actions).

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

    // The figures: one CRITICAL incident, acknowledged and contained after 30 minutes, one objective missed.
    let figures = gd_json(&config, &["stats", "--since", "1d"]);
    let critical = &figures["levels"][0];
    assert_eq!((critical["level"].as_str(), critical["incidents"].as_u64()), (Some("CRITICAL"), Some(1)), "{figures}");
    assert_eq!(critical["acknowledge"]["count"], 1);
    assert!((29..=31).contains(&critical["acknowledge"]["median_mins"].as_i64().unwrap()), "{figures}");
    assert_eq!(critical["breaches"]["acknowledge"], 1);
    assert_eq!(figures["by_source"]["guardduty"], 1);
    let (code, text, err) = gd(&config, &["stats"]);
    assert!(code == 0 && text.contains("ACK median p90") && text.contains("CRITICAL"), "{text}{err}");
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

/// Sets the clock of every process of the test to `at` (from now on, it runs on from there).
fn set_clock(offset_file: &Path, at: chrono::DateTime<chrono::Utc>) {
    std::fs::write(offset_file, (at - chrono::Utc::now()).num_seconds().to_string()).unwrap();
}

/// Next Monday (at least a day ahead) at `hh:mm` UTC, plus `days`.
fn monday(days: i64, hh: u32, mm: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, TimeZone};
    let today = chrono::Utc::now().date_naive();
    let ahead = 7 - i64::from(today.weekday().num_days_from_monday());
    let day = today + chrono::Duration::days(ahead + days);
    chrono::Utc.from_utc_datetime(&day.and_hms_opt(hh, mm, 0).unwrap())
}

fn digests(messages: &[Received]) -> Vec<&Received> {
    messages.iter().filter(|m| m.attributes.get("kind").map(String::as_str) == Some("digest")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_and_medium_incidents_wait_for_the_work_hours_digest() {
    let stack = deploy_stack("digest");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock-offset");
    set_clock(&clock, monday(0, 8, 0));
    let tail = format!(
        "[escalation]\nack_timeout_secs = 0\ncheck_interval_secs = 1\n\n[test_hooks]\nclock_offset_file = \"{}\"\n\n\
         [work_hours]\ndigest = true\ntime_zone = \"UTC\"\nstart = \"09:00\"\nend = \"17:00\"\ndigest_every_mins = 120\n",
        clock.display()
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let _daemon = Daemon::start(&config, "d1");
    let (low, medium, high) =
        ("d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1", "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2", "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3");
    for (id, severity) in [(low, 2.0), (medium, 5.0), (high, 8.0)] {
        aws.send(stack.queue_url(), &FindingEvent::version(id, 1, 1, severity).body()).await;
    }
    let (low, medium) = (incident_of(&aws, &stack, low).await, incident_of(&aws, &stack, medium).await);
    let high = incident_of(&aws, &stack, high).await;
    // A follow-up action on the HIGH one, due within the hour: overdue by 09:00.
    let add = ["incidents", "action", "add", &high, "rotate the exposed key", "--owner", "infra-ops", "--due", "30m"];
    let (code, out, err) = gd(&config, &[&add[..], &["--by", "olga"]].concat());
    assert_eq!(code, 0, "{out}{err}");

    // Monday 08:00, before work: the HIGH one pages; of the others, nothing.
    let before = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(3)).await;
    assert_eq!(kinds(&before).iter().map(|k| k.0.as_str()).collect::<Vec<_>>(), ["page"], "{before:?}");

    // 09:00: the digest, once, with the two that wait; not the HIGH one (it paged).
    set_clock(&clock, monday(0, 9, 0));
    let at_nine = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(4)).await;
    let sent = digests(&at_nine);
    assert_eq!(sent.len(), 1, "{at_nine:?}");
    assert_eq!(sent[0].attributes.get("count").map(String::as_str), Some("2"));
    assert!(!sent[0].attributes.contains_key("incident_id"), "a digest is not a page");
    assert!(sent[0].body.contains(&low) && sent[0].body.contains(&medium), "{}", sent[0].body);
    assert_eq!(sent[0].attributes.get("overdue").map(String::as_str), Some("1"), "the follow-up action");
    assert!(sent[0].body.contains(&format!("{high} #1")) && sent[0].body.contains("rotate the exposed key"));

    // The LOW one is taken; at 11:00 (every 2 hours) the digest lists the MEDIUM one alone.
    let (code, out, err) = gd(&config, &["incidents", "ack", &low, "--by", "olga"]);
    assert_eq!(code, 0, "{out}{err}");
    set_clock(&clock, monday(0, 10, 30));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(digests(&aws.drain(&oce, 0, Duration::ZERO, Duration::from_secs(1)).await).is_empty(), "not before 11:00");
    set_clock(&clock, monday(0, 11, 0));
    let at_eleven = aws.drain(&oce, 1, Duration::from_secs(60), Duration::from_secs(3)).await;
    let sent = digests(&at_eleven);
    assert_eq!(sent.len(), 1, "{at_eleven:?}");
    assert_eq!(sent[0].attributes.get("count").map(String::as_str), Some("1"));
    assert!(sent[0].body.contains(&medium) && !sent[0].body.contains(&low), "{}", sent[0].body);

    // After work, and at the weekend: nothing.
    for at in [monday(0, 18, 0), monday(5, 11, 0)] {
        set_clock(&clock, at);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let quiet = aws.drain(&oce, 0, Duration::ZERO, Duration::from_secs(1)).await;
        assert!(digests(&quiet).is_empty(), "{at}: {quiet:?}");
    }
}
