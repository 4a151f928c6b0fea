use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::domain::escalation::Escalation;
use crate::domain::finding::{Finding, Resource, timestamp};
use crate::domain::policy::{Floor, Policy, Suppression};
use crate::domain::severity::Level;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, minute, 0).unwrap()
}

fn finding(updated_minute: u32, count: u64, severity: f64) -> Finding {
    Finding {
        id: "f1".into(),
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        finding_type: format!("Type/v{updated_minute}.{count}"),
        severity,
        level: Level::from_score(severity).unwrap(),
        title: format!("title v{updated_minute}.{count}"),
        description: String::new(),
        resource: Resource { kind: "Instance".into(), summary: "EC2 instance i-1".into() },
        targets: Default::default(),
        created_at: Some(t(0)),
        updated_at: Some(t(updated_minute)),
        first_seen: Some(t(updated_minute)),
        last_seen: Some(t(updated_minute)),
        count,
        detector_id: None,
        arn: None,
        event_id: None,
        origin: crate::domain::finding::Origin::GuardDuty,
        link: None,
        source_closed: false,
        signals: Vec::new(),
        health: None,
    }
}

static DEFAULT_POLICY: Policy =
    Policy { high_list: false, floors: Vec::new(), suppress: Vec::new(), keep_closed: Vec::new(), health: Vec::new() };

fn ctx(claimant: &str, minute: u32) -> Ctx<'_> {
    Ctx { claimant, ..Ctx::defaults(t(minute), &DEFAULT_POLICY) }
}

/// Feeds versions in arrival order, as the daemon does, and returns the incident and how many writes.
fn feed(versions: &[(u32, u64, f64)]) -> (Incident, usize) {
    let mut writes = 0;
    let mut incident: Option<Incident> = None;
    for (i, &(minute, count, sev)) in versions.iter().enumerate() {
        let f = finding(minute, count, sev);
        let c = ctx("w", 30 + i as u32);
        let next = match &incident {
            None => Some(Incident::create("inc-1".into(), &f, &c).0),
            Some(existing) => apply(existing, &f, &c).map(|(i, _)| i),
        };
        if let Some(mut next) = next {
            next.version += 1;
            writes += 1;
            incident = Some(next);
        }
    }
    (incident.expect("at least one version"), writes)
}

fn owed(incident: &Incident) -> Vec<String> {
    let mut keys: Vec<String> =
        incident.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k.clone()).collect();
    keys.sort();
    keys
}

/// (name, arrivals as (updatedAt minute, count, severity), final level, pages owed, writes, latest title)
type Case<'a> = (&'a str, &'a [(u32, u64, f64)], Level, &'a [&'a str], usize, &'a str);

#[test]
fn level_and_pages_follow_the_contract() {
    let table: &[Case] = &[
        ("low never pages", &[(1, 1, 2.0)], Level::Low, &[], 1, "title v1.1"),
        ("medium never pages", &[(1, 1, 5.0)], Level::Medium, &[], 1, "title v1.1"),
        ("created high", &[(1, 1, 8.0)], Level::High, &["HIGH:iso", "HIGH:oce"], 1, "title v1.1"),
        (
            "created critical: one critical page",
            &[(1, 1, 9.5)],
            Level::Critical,
            &["CRITICAL:iso", "CRITICAL:oce"],
            1,
            "title v1.1",
        ),
        (
            "low then critical: no high page",
            &[(1, 1, 2.0), (2, 2, 9.0)],
            Level::Critical,
            &["CRITICAL:iso", "CRITICAL:oce"],
            2,
            "title v2.2",
        ),
        (
            "redelivery changes nothing",
            &[(1, 1, 8.0), (1, 1, 8.0), (1, 1, 8.0)],
            Level::High,
            &["HIGH:iso", "HIGH:oce"],
            1,
            "title v1.1",
        ),
        (
            "newer lower version keeps the level",
            &[(1, 1, 8.0), (2, 5, 3.0)],
            Level::High,
            &["HIGH:iso", "HIGH:oce"],
            2,
            "title v2.5",
        ),
        (
            "older version may raise, not overwrite",
            &[(5, 9, 2.0), (1, 1, 8.0)],
            Level::High,
            &["HIGH:iso", "HIGH:oce"],
            2,
            "title v5.9",
        ),
        (
            "older lower version is ignored",
            &[(5, 9, 8.0), (1, 1, 2.0)],
            Level::High,
            &["HIGH:iso", "HIGH:oce"],
            1,
            "title v5.9",
        ),
        ("same updatedAt, higher count is newer", &[(1, 1, 2.0), (1, 2, 2.5)], Level::Low, &[], 2, "title v1.2"),
        ("medium to high pages", &[(1, 1, 5.0), (2, 1, 7.0)], Level::High, &["HIGH:iso", "HIGH:oce"], 2, "title v2.1"),
    ];
    for &(name, versions, level, pages, writes, title) in table {
        let (incident, n) = feed(versions);
        assert_eq!(incident.severity, level, "{name}: level");
        assert_eq!(owed(&incident), pages.to_vec(), "{name}: pages owed");
        assert_eq!(n, writes, "{name}: writes");
        assert_eq!(incident.title, title, "{name}: details of the newest version");
    }
}

#[test]
fn unsent_high_pages_are_superseded_by_critical() {
    let (incident, _) = feed(&[(1, 1, 8.0), (2, 2, 9.0)]);
    assert_eq!(owed(&incident), vec!["CRITICAL:iso", "CRITICAL:oce"]);
    assert_eq!(incident.pages["HIGH:oce"].state, PageState::Superseded);
}

#[test]
fn sent_high_pages_stay_sent_and_critical_pages_again() {
    let (incident, _) = feed(&[(1, 1, 8.0)]);
    let sent = vec![("HIGH:oce".to_string(), "m1".to_string()), ("HIGH:iso".to_string(), "m2".to_string())];
    let (incident, event) = mark_sent(&incident, &sent, t(40)).expect("changed");
    assert_eq!(event.action, "page.sent");
    let (next, event) = apply(&incident, &finding(2, 2, 9.9), &ctx("w2", 41)).expect("raised");
    assert_eq!(event.action, "finding.raised");
    assert_eq!(event.before["severity"], "HIGH");
    assert_eq!(event.after["severity"], "CRITICAL");
    assert_eq!(next.pages["HIGH:oce"].state, PageState::Sent);
    assert_eq!(next.pages["HIGH:oce"].message_id.as_deref(), Some("m1"));
    assert_eq!(owed(&next), vec!["CRITICAL:iso", "CRITICAL:oce"]);
    assert!(mark_sent(&next, &sent, t(42)).is_none(), "already sent: nothing to write");
}

#[test]
fn first_and_last_seen_span_all_versions() {
    let (incident, _) = feed(&[(5, 5, 2.0), (1, 1, 2.0), (9, 9, 2.0)]);
    assert_eq!(incident.first_seen, Some(t(5)), "older version at the same level is ignored entirely");
    assert_eq!(incident.last_seen, Some(t(9)));
    let (incident, _) = feed(&[(5, 5, 2.0), (1, 1, 8.0)]);
    assert_eq!(incident.first_seen, Some(t(1)), "an older version that raises also widens the span");
    assert_eq!(incident.finding_updated_at, timestamp(Some("2026-11-20T10:05:00Z")));
}

#[test]
fn page_plan_separates_mine_free_and_held() {
    let f = finding(1, 1, 8.0);
    let mine = Incident::create("inc".into(), &f, &ctx("a", 0)).0;
    assert_eq!(page_plan(&mine, &ctx("a", 0)).mine, vec!["HIGH:iso", "HIGH:oce"]);

    // Another worker sees the pages held until the claim runs out...
    let plan = page_plan(&mine, &ctx("b", 0));
    assert!(plan.mine.is_empty() && plan.claimable.is_empty());
    assert_eq!(plan.held_until, Some(t(1)));
    // ...and free after it.
    let later = ctx("b", 2);
    let plan = page_plan(&mine, &later);
    assert_eq!(plan.claimable, vec!["HIGH:iso", "HIGH:oce"]);
    let claimed = claim(&mine, &plan.claimable, &later).expect("claimed");
    assert_eq!(page_plan(&claimed, &later).mine, vec!["HIGH:iso", "HIGH:oce"]);
    assert!(page_plan(&claimed, &ctx("a", 2)).held_until.is_some(), "the first worker lost its claim");

    let sent: Vec<(String, String)> = vec![("HIGH:iso".into(), "1".into()), ("HIGH:oce".into(), "2".into())];
    let (done, _) = mark_sent(&claimed, &sent, t(2)).unwrap();
    assert!(page_plan(&done, &ctx("c", 3)).is_done());
}

#[test]
fn serialises_with_the_contract_names() {
    let (incident, _) = feed(&[(1, 3, 8.0)]);
    let v = serde_json::to_value(&incident).unwrap();
    for key in [
        "incident_id",
        "account_id",
        "region",
        "finding_id",
        "finding_type",
        "status",
        "title",
        "created_at",
        "updated_at",
    ] {
        assert!(v[key].is_string(), "{key} is a string");
    }
    assert_eq!(v["severity"], "HIGH");
    assert_eq!(v["status"], "open");
    assert_eq!(v["finding_count"], 3);
    assert_eq!(v["created_at"], "2026-11-20T10:30:00.000Z");
    let back: Incident = serde_json::from_value(v).unwrap();
    assert_eq!(back, incident);
}

fn rules_ctx<'a>(policy: &'a Policy, claimant: &'a str, minute: u32, escalation: &'a Escalation) -> Ctx<'a> {
    Ctx { claimant, escalation, ..Ctx::defaults(t(minute), policy) }
}

/// The default path: the OCE and the ISO every 15 minutes, `times` times.
fn every_15(times: u32) -> Escalation {
    Escalation::new(&[], Some(Duration::minutes(15)), times, &crate::domain::routing::EMPTY).unwrap()
}

#[test]
fn floors_raise_levels_and_suppressions_never_page() {
    let policy = Policy {
        floors: vec![Floor {
            name: Some("ours".into()),
            types: vec!["Type/*".into()],
            level: Some(Level::High),
            enabled: true,
            reason: Some("all of Type are serious".into()),
        }],
        suppress: vec![Suppression { types: vec![], accounts: vec!["999999999999".into()], reason: "sandbox".into() }],
        ..Policy::default()
    };
    let (incident, event) = Incident::create(
        "i".into(),
        &finding(1, 1, 2.0),
        &rules_ctx(&policy, "w", 0, &crate::domain::escalation::NONE),
    );
    assert_eq!(incident.severity, Level::High, "the floor raises a LOW finding");
    assert_eq!(incident.raised_by.as_deref(), Some("policy rule ours: all of Type are serious"));
    assert_eq!(owed(&incident), vec!["HIGH:iso", "HIGH:oce"]);
    assert_eq!(event.action, "finding.created");

    let mut sandbox = finding(1, 1, 9.5);
    sandbox.account_id = "999999999999".into();
    let (incident, event) =
        Incident::create("s".into(), &sandbox, &rules_ctx(&policy, "w", 0, &crate::domain::escalation::NONE));
    assert_eq!(incident.status, Status::Suppressed);
    assert_eq!(incident.suppressed_reason.as_deref(), Some("sandbox"));
    assert!(incident.pages.is_empty(), "suppressed incidents are never paged");
    assert!(event.summary.contains("suppressed: sandbox"));
    let raised = apply(&incident, &finding(2, 2, 10.0), &rules_ctx(&policy, "w", 1, &crate::domain::escalation::NONE));
    assert!(raised.is_some_and(|(i, _)| i.pages.is_empty()), "not even when raised");
}

#[test]
fn escalation_repages_until_acknowledged_or_the_limit() {
    let after = &every_15(2);
    let policy = Policy::default();
    let (mut incident, _) = Incident::create("i".into(), &finding(1, 1, 8.0), &rules_ctx(&policy, "w", 0, after));
    assert_eq!(incident.escalate_at, Some(t(15)));
    incident.pages.values_mut().for_each(|p| p.state = PageState::Sent);

    assert!(escalate(&incident, &rules_ctx(&policy, "w", 14, after)).is_none(), "not due yet");
    let (once, event) = escalate(&incident, &rules_ctx(&policy, "w", 15, after)).expect("due");
    assert_eq!(event.action, "escalation");
    assert_eq!(once.escalations, 1);
    assert_eq!(owed(&once), vec!["HIGH:iso:esc1", "HIGH:oce:esc1"]);
    assert_eq!(once.escalate_at, Some(t(30)));
    let (twice, _) = escalate(&once, &rules_ctx(&policy, "w", 30, after)).expect("due again");
    assert_eq!(twice.escalations, 2);
    assert_eq!(twice.escalate_at, None, "the limit is reached: no more re-pages");
    assert!(escalate(&twice, &rules_ctx(&policy, "w", 45, after)).is_none());

    // An acknowledged incident is not re-paged; the schedule is cleared.
    let mut acked = once.clone();
    acked.acknowledged_at = Some(t(20));
    let (cleared, event) = escalate(&acked, &rules_ctx(&policy, "w", 30, after)).expect("cleanup");
    assert_eq!((cleared.escalate_at, cleared.escalations), (None, 1));
    assert_eq!(event.action, "escalation.stopped");

    // Raising to CRITICAL pages at once and starts the count again.
    let (critical, _) = apply(&once, &finding(2, 2, 9.5), &rules_ctx(&policy, "w", 20, after)).unwrap();
    assert_eq!(critical.escalations, 0);
    assert_eq!(critical.escalate_at, Some(t(35)));
    assert!(owed(&critical).contains(&"CRITICAL:oce".to_string()));
}

#[test]
fn an_owed_page_stays_due_until_sent_whoever_owed_it() {
    let after = &every_15(1);
    let policy = Policy::default();
    let (created, _) = Incident::create("i".into(), &finding(1, 1, 8.0), &rules_ctx(&policy, "w", 0, after));
    let claim_lapses = t(0) + Duration::seconds(60);
    assert_eq!(created.due_at(), Some(claim_lapses), "the first pages: due when the consumer's claim lapses");
    let mut sent = created.clone();
    sent.pages.values_mut().for_each(|p| p.state = PageState::Sent);
    assert_eq!(sent.due_at(), Some(t(15)), "all sent: due when the re-page is");

    // The last re-page clears the re-page schedule in the same write that owes it: the page keeps it due.
    let (last, _) = escalate(&sent, &rules_ctx(&policy, "w", 15, after)).expect("due");
    assert_eq!(last.escalate_at, None, "no re-page after the last");
    assert_eq!(last.due_at(), Some(t(16)), "the last re-page is due again once its sender's claim lapses");
    let keys: Vec<(String, String)> = owed(&last).into_iter().map(|k| (k, "m".to_string())).collect();
    let (done, _) = mark_sent(&last, &keys, t(15)).unwrap();
    assert_eq!(
        done.due_at(),
        Some(t(0) + Duration::hours(1)),
        "sent, no re-page: due when its acknowledgement objective (1 h) is"
    );
    let mut acked = done.clone();
    acked.acknowledged_at = Some(t(20));
    acked.contained_at = Some(t(20));
    acked.resolved_at = Some(t(20));
    acked.wind_clock(&rules_ctx(&policy, "w", 20, after));
    assert_eq!(acked.due_at(), None, "nothing owed, scheduled or watched: out of the index");

    // A page owed and never claimed (a responder's command that cannot reach the topic) is due at once.
    let mut unclaimed = last.clone();
    unclaimed.pages.values_mut().for_each(|p| (p.claimed_by, p.claim_until) = (None, None));
    assert_eq!(unclaimed.due_at(), Some(t(15)));
}

#[test]
fn confidential_incidents_page_the_iso_alone() {
    let (mut incident, _) = Incident::create("i".into(), &finding(1, 1, 2.0), &ctx("w", 0));
    incident.confidential = true;
    let (raised, _) = apply(&incident, &finding(2, 2, 9.0), &ctx("w", 1)).unwrap();
    assert_eq!(owed(&raised), vec!["CRITICAL:iso"]);
}

fn stakeholders() -> crate::domain::routing::Routing {
    use crate::domain::routing::{Client, Route};
    crate::domain::routing::Routing {
        routes: vec![
            Route {
                name: "infra".into(),
                topic_arn: "arn:aws:sns:r:1:infra".into(),
                min_level: Level::High,
                accounts: vec![],
            },
            Route {
                name: "mgmt".into(),
                topic_arn: "arn:aws:sns:r:1:mgmt".into(),
                min_level: Level::Critical,
                accounts: vec![],
            },
            Route {
                name: "other".into(),
                topic_arn: "arn:aws:sns:r:1:other".into(),
                min_level: Level::High,
                accounts: vec!["999999999999".into()],
            },
        ],
        clients: vec![Client {
            name: "acme".into(),
            accounts: vec!["123456789012".into()],
            topic_arn: "arn:aws:sns:r:1:acme".into(),
            min_level: Level::High,
        }],
    }
}

#[test]
fn routes_and_clients_follow_the_once_per_level_rule() {
    let routing = stakeholders();
    let with = |minute: u32| Ctx { routing: &routing, ..ctx("w", minute) };
    let (high, _) = Incident::create("i".into(), &finding(1, 1, 8.0), &with(0));
    assert_eq!(owed(&high), vec!["HIGH:client:acme", "HIGH:iso", "HIGH:oce", "HIGH:route:infra"]);
    let mut sent = high.clone();
    sent.pages.values_mut().for_each(|p| p.state = PageState::Sent);
    let (critical, _) = apply(&sent, &finding(2, 2, 9.5), &with(1)).expect("raised");
    assert_eq!(
        owed(&critical),
        vec!["CRITICAL:client:acme", "CRITICAL:iso", "CRITICAL:oce", "CRITICAL:route:infra", "CRITICAL:route:mgmt"],
        "each level once per target; the CRITICAL-only route joins"
    );
    assert!(apply(&critical, &finding(2, 2, 9.5), &with(2)).is_none(), "a redelivery owes nothing");

    // Straight to CRITICAL with HIGH unsent: one CRITICAL page per target, the HIGH ones superseded.
    let (jump, _) = apply(&high, &finding(2, 2, 9.5), &with(1)).unwrap();
    assert_eq!(jump.pages["HIGH:route:infra"].state, PageState::Superseded);
    assert_eq!(jump.pages["HIGH:client:acme"].state, PageState::Superseded);

    // Confidential: the ISO alone, no route, no client.
    let mut secret = Incident::create("s".into(), &finding(1, 1, 2.0), &with(0)).0;
    secret.confidential = true;
    let (raised, _) = apply(&secret, &finding(2, 2, 9.0), &with(1)).unwrap();
    assert_eq!(owed(&raised), vec!["CRITICAL:iso"]);

    // Re-pages wake the OCE and the ISO only.
    let after = every_15(3);
    let (mut repaged, _) = Incident::create("r".into(), &finding(1, 1, 8.0), &Ctx { escalation: &after, ..with(0) });
    repaged.pages.values_mut().for_each(|p| p.state = PageState::Sent);
    let (once, _) = escalate(&repaged, &Ctx { escalation: &after, ..with(15) }).expect("due");
    assert_eq!(owed(&once), vec!["HIGH:iso:esc1", "HIGH:oce:esc1"]);
}

#[test]
fn targets_are_stored_as_text_and_old_incidents_still_read() {
    for (target, text) in [
        (Target::Oce, "oce"),
        (Target::Iso, "iso"),
        (Target::Route("infra-ops".into()), "route:infra-ops"),
        (Target::Client("acme".into()), "client:acme"),
    ] {
        assert_eq!(serde_json::to_value(&target).unwrap(), text);
        assert_eq!(serde_json::from_value::<Target>(serde_json::json!(text)).unwrap(), target);
    }
    assert!(serde_json::from_value::<Target>(serde_json::json!("pager")).is_err());
    let (incident, _) = feed(&[(1, 1, 8.0)]);
    let mut v = serde_json::to_value(&incident).unwrap();
    v["pages"]["HIGH:oce"].as_object_mut().unwrap().remove("update");
    let back: Incident = serde_json::from_value(v).unwrap();
    assert_eq!(back.pages["HIGH:oce"].target, Target::Oce);
}

/// The incident of a HIGH finding, its pages sent, then closed.
fn closed_high() -> Incident {
    let (mut i, _) = Incident::create("inc-1".into(), &finding(1, 1, 8.0), &ctx("w", 1));
    for p in i.pages.values_mut() {
        p.state = PageState::Sent;
    }
    i.status = Status::Closed;
    i.acknowledged_at = Some(t(2));
    i.acknowledged_by = Some("olga".into());
    i
}

#[test]
fn a_recurrence_after_close_reopens_and_pages_once_more() {
    // (version minute, count, severity, reopens, action)
    let table: [(u32, u64, f64, bool, Option<&str>); 4] = [
        (1, 1, 8.0, false, None),            // a redelivery
        (0, 1, 8.0, false, None),            // an older version
        (5, 9, 8.0, true, Some("reopened")), // newer: the activity came back
        (1, 2, 5.0, true, Some("reopened")), // same time, higher count: newer
    ];
    for (minute, count, sev, reopens, action) in table {
        let i = closed_high();
        let out = apply(&i, &finding(minute, count, sev), &ctx("w", 10));
        assert_eq!(out.as_ref().map(|(_, e)| e.action.as_str()), action, "v{minute}.{count}");
        let Some((next, event)) = out else { continue };
        assert_eq!(next.status == Status::Open, reopens);
        assert!(event.summary.contains(&format!("count {count}")), "{}", event.summary);
        assert_eq!(owed(&next), vec!["HIGH:iso:reopen1", "HIGH:oce:reopen1"]);
        assert!(next.pages.values().filter(|p| p.state == PageState::Owed).all(|p| p.reopening == 1));
        assert!(next.acknowledged_at.is_none() && next.closure.is_none());
    }
    // Closed again and recurring again: a second reopening pages again.
    let (mut once, _) = apply(&closed_high(), &finding(5, 9, 8.0), &ctx("w", 10)).unwrap();
    for p in once.pages.values_mut() {
        p.state = PageState::Sent;
    }
    once.status = Status::Closed;
    let (twice, _) = apply(&once, &finding(9, 12, 8.0), &ctx("w", 20)).unwrap();
    assert_eq!(owed(&twice), vec!["HIGH:iso:reopen2", "HIGH:oce:reopen2"]);
    // An older version with a higher severity raises the level the closure never weighed: reopened, paged
    // at that level (its first page), and a CRITICAL one now owes a post-mortem.
    let (late, event) = apply(&closed_high(), &finding(0, 1, 9.5), &ctx("w", 10)).unwrap();
    assert_eq!((late.status, late.severity), (Status::Open, Level::Critical));
    assert_eq!(owed(&late), vec!["CRITICAL:iso", "CRITICAL:oce"]);
    assert!(event.summary.contains("raised it HIGH -> CRITICAL after close"), "{}", event.summary);
    assert_eq!(late.highest_level(), Level::Critical, "so closing it again needs the post-mortem");
}

#[test]
fn a_keep_closed_rule_records_the_recurrence_without_reopening() {
    let policy = Policy {
        keep_closed: vec![crate::domain::policy::KeepClosed {
            types: vec!["Type/*".into()],
            reason: "nightly scanner".into(),
        }],
        ..Policy::default()
    };
    let (next, event) =
        apply(&closed_high(), &finding(5, 9, 8.0), &rules_ctx(&policy, "w", 10, &crate::domain::escalation::NONE))
            .unwrap();
    assert_eq!((next.status, event.action.as_str()), (Status::Closed, "finding.recurred"));
    assert!(event.summary.contains("kept closed by policy: nightly scanner"), "{}", event.summary);
    assert!(owed(&next).is_empty());
}

#[test]
fn open_incidents_name_what_they_are_about_and_closed_ones_nothing() {
    use crate::domain::finding::targets::{S3Object, Targets};
    let (base, _) = feed(&[(1, 1, 5.0)]);
    let with = |targets: Targets, status: Status| Incident { targets, status, ..base.clone() };
    let account = base.account_id.clone();
    let instance = Targets { instance_id: Some("i-0123456789abcdef0".into()), ..Targets::default() };
    let object = Targets { object: S3Object::new("uploads", "a/b", None), ..Targets::default() };
    let user = Targets { principal: Some("deploy-bot".into()), ..Targets::default() };
    let cases = [
        (with(instance.clone(), Status::Open), Some(format!("{account}/ec2/i-0123456789abcdef0"))),
        (with(instance.clone(), Status::Contained), Some(format!("{account}/ec2/i-0123456789abcdef0"))),
        (with(object, Status::Acknowledged), Some(format!("{account}/s3/uploads"))),
        (with(user, Status::Investigating), Some(format!("{account}/iam/deploy-bot"))),
        (with(Targets::default(), Status::Open), Some(format!("{account}/{}", base.resource))),
        (with(instance.clone(), Status::Closed), None),
        (with(instance.clone(), Status::Suppressed), None),
        (Incident { confidential: true, ..with(instance, Status::Open) }, None),
    ];
    for (incident, want) in cases {
        assert_eq!(incident.open_resource_key(), want, "{:?} {:?}", incident.status, incident.targets);
    }
}
