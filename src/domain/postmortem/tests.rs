use super::*;
use crate::domain::incident::{Closure, Page, Target};
use chrono::TimeZone;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, minute, 0).unwrap()
}

fn closed_critical() -> (Incident, Vec<Event>, Vec<Evidence>) {
    let mut i = Incident::open(t(0));
    i.incident_id = "inc-1".into();
    i.title = "Exfiltration | of data\nfrom a bucket".into();
    i.severity = Level::Critical;
    i.status = crate::domain::incident::Status::Closed;
    i.resource = "S3 bucket customer-exports".into();
    i.data_loss = true;
    i.pages.insert(
        "CRITICAL:oce".into(),
        Page {
            level: Level::Critical,
            target: Target::Oce,
            state: PageState::Sent,
            owed_at: t(1),
            claimed_by: None,
            claim_until: None,
            sent_at: Some(t(1)),
            message_id: Some("m-1".into()),
            escalation: 0,
            update: None,
            reopening: 0,
            breach: None,
        },
    );
    i.closure = Some(Closure {
        by: "alice".into(),
        at: t(30),
        notes: "keys rotated".into(),
        root_cause: Some("leaked key".into()),
        lessons_learned: Some("scan CI logs".into()),
        mitigations: Some("short-lived credentials".into()),
        cost_estimate: Some("3 person-days".into()),
        legal_counsel: Some(false),
        customers_notified: Some(true),
        authorities_notified: Some(true),
    });
    let mut note = Event::new(t(20), "alice", "note", "attacker listed the bucket");
    note.occurred_at = Some(t(0));
    let events = vec![Event::new(t(1), "guardduty", "finding.created", "CRITICAL incident"), note];
    let evidence = vec![Evidence::of("inc-1", Some(t(0)), "{\"a\":1}", t(1))];
    (i, events, evidence)
}

#[test]
fn the_report_has_every_part_the_procedure_asks_for() {
    let (i, events, evidence) = closed_critical();
    let r = build(&i, &[], &events, &evidence, t(40));
    assert_eq!(r.cause.as_deref(), Some("leaked key"));
    assert_eq!((r.authorities_required, r.authorities_notified), (true, Some(true)));
    assert_eq!(r.timeline[0].action, "note", "ordered by when it happened: the attacker's step first");
    assert_eq!(r.evidence[0].sha256, crate::domain::evidence::sha256_hex("{\"a\":1}"));
    assert!(r.evidence[0].verified);
    assert_eq!((r.pages[0].target.as_str(), r.pages[0].message_id.as_deref()), ("oce", Some("m-1")));
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "summary",
        "timeline",
        "cause",
        "effect",
        "lessons_learned",
        "mitigations",
        "cost",
        "evidence",
        "pages",
        "authorities_notified",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    let md = markdown(&r);
    for needle in [
        "# Post-incident report: Exfiltration \\| of data from a bucket",
        "## Timeline",
        "## Cause\n\nleaked key",
        "- Data loss: yes",
        "## Lessons learned\n\nscan CI logs",
        "## Mitigations\n\nshort-lived credentials",
        "## Cost\n\n3 person-days",
        &format!("`{}`", crate::domain::evidence::sha256_hex("{\"a\":1}")),
        "| CRITICAL:oce | oce | CRITICAL | sent | 2026-11-20T10:01:00.000Z | m-1 |",
        "Authorities notified (required for CRITICAL, procedure 3.7): yes",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
}

#[test]
fn an_open_incident_reports_what_is_not_recorded_yet() {
    let (mut i, events, _) = closed_critical();
    i.closure = None;
    i.severity = Level::High;
    let r = build(&i, &[], &events, &[], t(40));
    assert_eq!((r.cause.clone(), r.authorities_required), (None, false));
    let md = markdown(&r);
    assert!(md.contains("## Cause\n\nnot recorded"), "{md}");
    assert!(md.contains("No finding versions kept"), "{md}");
    assert!(md.contains("not required below CRITICAL"), "{md}");
}

#[test]
fn the_report_gives_the_response_times_and_what_was_late() {
    use crate::domain::incident::clock;
    use crate::domain::sla::DEFAULT_SLAS;
    use crate::domain::work_hours::DEFAULT_HOURS;
    let (mut i, events, evidence) = closed_critical();
    i.acknowledged_at = Some(t(30));
    let (late, _) = clock::due_breaches(&i, &DEFAULT_SLAS, &DEFAULT_HOURS, t(31)).unwrap_or((i.clone(), Vec::new()));
    let clock = clock::clock(&late, &DEFAULT_SLAS, &DEFAULT_HOURS, t(40));
    let r = build(&late, &clock, &events, &evidence, t(40));
    assert_eq!(r.response.len(), 3);
    let md = markdown(&r);
    assert!(md.contains("## Response times (CRITICAL objectives)"), "{md}");
    assert!(md.contains("| acknowledge |") && md.contains("| **no** |"), "acknowledged after 15 minutes: {md}");
}

#[test]
fn the_report_lists_the_follow_up_actions_and_their_state() {
    let (mut i, events, evidence) = closed_critical();
    let action = |n: u32, done: bool| crate::domain::follow_up::FollowUp {
        n,
        text: format!("action {n}"),
        owner: "infra-ops".into(),
        due: t(35),
        added_by: "alice".into(),
        added_at: t(20),
        done_by: done.then(|| "bob".into()),
        done_at: done.then(|| t(30)),
    };
    i.follow_ups = vec![action(1, true), action(2, false)];
    let r = build(&i, &[], &events, &evidence, t(40));
    assert_eq!(r.follow_ups.iter().map(|f| f.state).collect::<Vec<_>>(), ["done", "overdue"]);
    let md = markdown(&r);
    assert!(md.contains("## Follow-up actions") && md.contains("| 2 | action 2 | infra-ops |"), "{md}");
    assert!(md.contains("done by bob at"), "{md}");
}

#[test]
fn the_report_lists_the_containment_actions_with_what_they_did() {
    use crate::domain::containment::{Action, record};
    let (mut i, events, evidence) = closed_critical();
    record::request(&mut i.actions, Action::SnapshotVolumes, "i-0abc", ("olga", "olga"), t(20));
    let outcome = record::Outcome {
        after: serde_json::json!({"snapshots": [{"volume_id": "vol-1", "snapshot_id": "snap-1"}]}),
        request_ids: vec!["req-1".into()],
    };
    record::succeeded(&mut i.actions[0], outcome, t(21));
    let r = build(&i, &[], &events, &evidence, t(59));
    let md = markdown(&r);
    assert!(md.contains("## Containment"), "{md}");
    assert!(
        md.contains("| snapshot-volumes | i-0abc | done | olga |") && md.contains("snapshots snap-1 of vol-1"),
        "{md}"
    );
    let (plain, _, _) = closed_critical();
    assert!(markdown(&build(&plain, &[], &events, &evidence, t(59))).contains("No containment action was carried out"));
}
