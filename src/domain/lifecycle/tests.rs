use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::domain::incident::PageState;
use crate::domain::policy::Policy;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 11, minute, 0).unwrap()
}

static NO_RULES: Policy =
    Policy { high_list: false, floors: Vec::new(), suppress: Vec::new(), keep_closed: Vec::new(), health: Vec::new() };

static REPAGE_EVERY_15: std::sync::LazyLock<crate::domain::escalation::Escalation> = std::sync::LazyLock::new(|| {
    let every = Some(Duration::minutes(15));
    crate::domain::escalation::Escalation::new(&[], every, 3, &crate::domain::routing::EMPTY).unwrap()
});

fn ctx(minute: u32) -> crate::domain::incident::Ctx<'static> {
    crate::domain::incident::Ctx {
        claimant: "cli",
        escalation: &REPAGE_EVERY_15,
        ..crate::domain::incident::Ctx::defaults(t(minute), &NO_RULES)
    }
}

fn reported(level: Level, confidential: bool) -> Incident {
    let r = Report {
        by: "dana".into(),
        title: "Laptop shows unknown admin account".into(),
        description: "Seen at 09:12".into(),
        level,
        confidential,
    };
    report("inc-1".into(), &r, &ctx(0)).expect("valid report").0
}

/// `incident` with one follow-up action, due tomorrow.
fn with_follow_up(incident: &Incident) -> Incident {
    let add =
        Action::AddFollowUp { text: "rotate keys".into(), owner: "infra-ops".into(), due: t(0) + Duration::days(1) };
    perform(incident, &add, "olga", t(1)).expect("added").0
}

fn full_post_mortem() -> CloseInput {
    CloseInput {
        notes: "Rotated keys, rebuilt host".into(),
        root_cause: Some("Leaked key in CI logs".into()),
        lessons_learned: Some("Mask secrets".into()),
        mitigations: Some("Short-lived credentials".into()),
        cost_estimate: Some("3 person-days".into()),
        legal_counsel: Some(false),
        customers_notified: Some(true),
        authorities_notified: Some(true),
    }
}

#[test]
fn a_walk_from_report_to_closed() {
    let i = reported(Level::High, false);
    assert_eq!((i.status, i.source, i.account_id.as_str()), (Status::Open, Source::Staff, STAFF_ACCOUNT));
    assert_eq!(i.escalate_at, Some(t(15)), "unacknowledged HIGH is scheduled for a re-page");
    let steps = [
        (Action::Ack, Status::Acknowledged, "ack"),
        (Action::Assign { to: "infra-team".into() }, Status::Acknowledged, "assign"),
        (Action::Note { text: "attacker logged in".into(), occurred_at: Some(t(1)) }, Status::Acknowledged, "note"),
        (Action::SetStatus(Status::Investigating), Status::Investigating, "status"),
        (Action::SetStatus(Status::Contained), Status::Contained, "status"),
        (Action::SetStatus(Status::Resolved), Status::Resolved, "status"),
        (Action::Close(CloseInput { notes: "done".into(), ..Default::default() }), Status::Closed, "close"),
        (Action::Reopen { reason: Some("came back".into()) }, Status::Investigating, "reopen"),
    ];
    let mut current = i;
    for (n, (action, status, name)) in steps.into_iter().enumerate() {
        let (next, event) =
            perform(&current, &action, "alice", t(2 + n as u32)).unwrap_or_else(|r| panic!("{action:?}: {r}"));
        assert_eq!(next.status, status, "{action:?}");
        assert_eq!(event.action, name);
        assert_eq!(event.by, "alice");
        assert_eq!(event.at, t(2 + n as u32));
        current = next;
    }
    assert_eq!(current.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(current.assignee.as_deref(), Some("infra-team"));
    assert_eq!(current.escalate_at, None, "acknowledging stops re-paging");
    assert!(current.closure.is_none(), "reopening clears the closure (the log keeps it)");
}

#[test]
fn events_record_before_and_after() {
    let i = reported(Level::Medium, false);
    let (_, event) = perform(&i, &Action::Assign { to: "bob".into() }, "alice", t(1)).unwrap();
    assert_eq!(event.before["assignee"], serde_json::Value::Null);
    assert_eq!(event.after["assignee"], "bob");
    let (_, note) = perform(&i, &Action::Note { text: "x".into(), occurred_at: Some(t(0)) }, "alice", t(1)).unwrap();
    assert_eq!(note.occurred_at, Some(t(0)));
}

#[test]
fn critical_or_impact_requires_the_post_mortem() {
    let notes_only = CloseInput { notes: "done".into(), ..Default::default() };
    let all = [
        "--root-cause",
        "--lessons-learned",
        "--mitigations",
        "--cost-estimate",
        "--legal-counsel",
        "--customers-notified",
    ];
    for (name, incident) in [
        ("critical", reported(Level::Critical, false)),
        ("data loss", {
            let i = reported(Level::Low, false);
            perform(&i, &Action::Mark { data_loss: true, service_impact: false }, "a", t(1)).unwrap().0
        }),
        ("service impact", {
            let i = reported(Level::Medium, false);
            perform(&i, &Action::Mark { data_loss: false, service_impact: true }, "a", t(1)).unwrap().0
        }),
    ] {
        match perform(&incident, &Action::Close(notes_only.clone()), "a", t(2)) {
            Err(Refusal::MissingPostMortem { missing, why, .. }) => {
                let mut all = all.to_vec();
                if name == "critical" {
                    all.extend(["--authorities-notified", FOLLOW_UP_NEEDED]);
                }
                assert_eq!(missing, all, "{name}: only CRITICAL asks whether the authorities were notified");
                assert!(why.contains(name.split(' ').next().unwrap()) || name == "critical", "{name}: {why}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let partial = CloseInput { root_cause: Some("x".into()), legal_counsel: Some(true), ..notes_only.clone() };
        let Err(Refusal::MissingPostMortem { missing, .. }) = perform(&incident, &Action::Close(partial), "a", t(2))
        else {
            panic!("{name}: partial post-mortem accepted");
        };
        let mut want = vec!["--lessons-learned", "--mitigations", "--cost-estimate", "--customers-notified"];
        if name == "critical" {
            want.extend(["--authorities-notified", FOLLOW_UP_NEEDED]);
        }
        assert_eq!(missing, want, "{name}");
        let incident = with_follow_up(&incident);
        let (closed, _) = perform(&incident, &Action::Close(full_post_mortem()), "a", t(3)).expect(name);
        let closure = closed.closure.expect("closure kept");
        assert_eq!(closure.customers_notified, Some(true));
        assert_eq!(closure.legal_counsel, Some(false));
        assert_eq!(closure.authorities_notified, Some(true));
    }
    let low = reported(Level::Low, false);
    assert!(perform(&low, &Action::Close(notes_only), "a", t(1)).is_ok(), "LOW closes with notes alone");
}

#[test]
fn refusals_change_nothing_and_say_why() {
    let i = reported(Level::High, false);
    let (acked, _) = perform(&i, &Action::Ack, "alice", t(1)).unwrap();
    let (closed, _) =
        perform(&i, &Action::Close(CloseInput { notes: "n".into(), ..Default::default() }), "a", t(1)).unwrap();
    let cases: Vec<(&str, &Incident, Action, &str)> = vec![
        ("double ack", &acked, Action::Ack, "already acknowledged by alice"),
        ("no notes", &i, Action::Close(CloseInput::default()), "--notes"),
        ("blank note", &i, Action::Note { text: " ".into(), occurred_at: None }, "the note must not be empty"),
        ("status closed", &i, Action::SetStatus(Status::Closed), "cannot be set directly"),
        ("same status", &i, Action::SetStatus(Status::Open), "cannot be set directly"),
        ("act on closed", &closed, Action::Ack, "is closed: reopen it first"),
        ("reopen open", &i, Action::Reopen { reason: None }, "is not closed"),
        ("assign nobody", &i, Action::Assign { to: "".into() }, "--to must not be empty"),
        ("mark nothing", &i, Action::Mark { data_loss: false, service_impact: false }, "nothing to change"),
    ];
    for (name, incident, action, says) in cases {
        let err = perform(incident, &action, "alice", t(2)).expect_err(name);
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
    assert!(perform(&i, &Action::Ack, " ", t(2)).unwrap_err().to_string().contains("--by"));
}

#[test]
fn reports_page_like_findings_and_confidential_ones_the_iso_alone() {
    let owed = |i: &Incident| -> Vec<String> {
        i.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(owed(&reported(Level::Low, false)), Vec::<String>::new());
    assert_eq!(owed(&reported(Level::High, false)), vec!["HIGH:iso", "HIGH:oce"]);
    assert_eq!(owed(&reported(Level::Critical, false)), vec!["CRITICAL:iso", "CRITICAL:oce"]);
    let confidential = reported(Level::High, true);
    assert_eq!(owed(&confidential), vec!["HIGH:iso"]);
    assert!(confidential.confidential);
    // The id says where it is kept: the confidential table, which responders cannot read.
    assert!(is_confidential_id(&confidential.incident_id), "{}", confidential.incident_id);
    assert_eq!(confidential.finding_id, confidential.incident_id);
    assert!(!is_confidential_id(&reported(Level::High, false).incident_id));
    assert_eq!(confidential_id("abc"), "confidential-abc");
    assert_eq!(confidential_id("confidential-abc"), "confidential-abc", "moving twice keeps the id");
    let blank =
        Report { by: "x".into(), title: " ".into(), description: "d".into(), level: Level::Low, confidential: false };
    assert_eq!(report("i".into(), &blank, &ctx(0)).unwrap_err(), Refusal::Empty("--title"));
}

#[test]
fn classification_raises_with_pages_lowers_without_and_pins_the_level() {
    use crate::domain::incident::apply;
    let finding = |minute: u32, severity: f64| {
        let body =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-instance-backdoor.json"));
        let mut f = crate::domain::finding::parse(body).unwrap();
        f.severity = severity;
        f.level = Level::from_score(severity).unwrap();
        // A type no procedure floor raises: the levels here are the person's and GuardDuty's alone.
        f.finding_type = "Recon:EC2/PortProbeUnprotectedPort".into();
        f.updated_at = Some(t(minute));
        f.count = u64::from(minute);
        f
    };
    let owed = |i: &Incident| -> Vec<String> {
        i.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k.clone()).collect()
    };
    let (created, _) = Incident::create("inc".into(), &finding(1, 5.0), &ctx(1));
    assert!(owed(&created).is_empty(), "MEDIUM pages no one");

    // (name, from, to level, finding severity after, want level after the update, want pages owed after classify)
    type Case<'a> = (&'a str, Level, Level, f64, Level, &'a [&'a str]);
    let table: &[Case] = &[
        ("raise MEDIUM -> HIGH pages", Level::Medium, Level::High, 5.5, Level::High, &["HIGH:iso", "HIGH:oce"]),
        (
            "raise MEDIUM -> CRITICAL: one CRITICAL page",
            Level::Medium,
            Level::Critical,
            6.0,
            Level::Critical,
            &["CRITICAL:iso", "CRITICAL:oce"],
        ),
        ("lower: the same severity does not raise again", Level::Medium, Level::Low, 5.0, Level::Low, &[]),
        (
            "lower: a higher but same-level severity raises to MEDIUM",
            Level::Medium,
            Level::Low,
            5.5,
            Level::Medium,
            &[],
        ),
        ("lower: a rise above the decision raises and pages", Level::Medium, Level::Low, 8.0, Level::High, &[]),
    ];
    for &(name, from, to, later, want, pages) in table {
        assert_eq!(created.severity, from);
        let (classified, event) = classify(&created, to, "reviewed the flow logs", "olga", &ctx(2)).expect(name);
        assert_eq!(classified.severity, to, "{name}");
        assert_eq!(owed(&classified), pages.to_vec(), "{name}: pages owed by the decision");
        assert_eq!(event.action, "classify");
        assert!(event.summary.contains("reviewed the flow logs") && event.summary.contains("olga"), "{name}");
        let c = classified.classification.clone().expect("recorded");
        assert_eq!((c.level, c.previous, c.finding_severity), (to, from, 5.0), "{name}");
        let got = apply(&classified, &finding(3, later), &ctx(3)).map(|(i, _)| i).unwrap_or(classified.clone());
        assert_eq!(got.severity, want.max(to), "{name}: level after a version of severity {later}");
    }

    // Raised by a finding after a lowering: the level's pages go out (once: the key is per level).
    let (lowered, _) = classify(&created, Level::Low, "false positive", "olga", &ctx(2)).unwrap();
    let (raised, event) = apply(&lowered, &finding(3, 8.0), &ctx(3)).expect("raised");
    assert_eq!(event.action, "finding.raised");
    assert_eq!(owed(&raised), vec!["HIGH:iso", "HIGH:oce"]);
    // Lowering never pages, and a level already paged is not paged again when raised back.
    let mut sent = raised.clone();
    sent.pages.values_mut().for_each(|p| p.state = PageState::Sent);
    let (down, _) = classify(&sent, Level::Medium, "contained", "olga", &ctx(4)).unwrap();
    assert!(owed(&down).is_empty() && down.escalate_at.is_none(), "lowering pages no one and stops re-pages");
    let (up, _) = classify(&down, Level::High, "it came back", "olga", &ctx(5)).unwrap();
    assert!(owed(&up).is_empty(), "HIGH was paged already");

    // Refusals change nothing.
    assert_eq!(classify(&created, Level::High, " ", "olga", &ctx(2)).unwrap_err(), Refusal::Empty("--reason"));
    assert_eq!(classify(&created, Level::High, "r", "", &ctx(2)).unwrap_err(), Refusal::Empty("--by"));
    let (pinned, _) = classify(&created, Level::Medium, "confirmed", "olga", &ctx(2)).unwrap();
    assert_eq!(classify(&pinned, Level::Medium, "again", "olga", &ctx(3)).unwrap_err(), Refusal::NoChange);
    let closed = Incident { status: Status::Closed, ..created.clone() };
    assert!(matches!(classify(&closed, Level::High, "r", "olga", &ctx(2)), Err(Refusal::Closed(_))));
}

#[test]
fn clients_told_of_an_incident_get_an_update_when_it_is_contained_resolved_and_closed() {
    use crate::domain::routing::{Client, Routing};
    let routing = Routing {
        routes: vec![],
        clients: vec![Client {
            name: "acme".into(),
            accounts: vec!["123456789012".into()],
            topic_arn: "arn:aws:sns:r:1:acme".into(),
            min_level: Level::High,
        }],
    };
    let with = |minute: u32| crate::domain::incident::Ctx { routing: &routing, ..ctx(minute) };
    let body = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-instance-backdoor.json"));
    let f = crate::domain::finding::parse(body).unwrap();
    assert_eq!(f.account_id, "123456789012");
    let owed = |i: &Incident| -> Vec<String> {
        i.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k.clone()).collect()
    };
    let (mut told, _) = Incident::create("inc".into(), &f, &with(0));
    assert!(owed(&told).contains(&"HIGH:client:acme".to_string()), "{:?}", owed(&told));
    told.pages.values_mut().for_each(|p| p.state = PageState::Sent);

    let mut current = told.clone();
    let steps = [
        (Action::Ack, vec![]),
        (Action::SetStatus(Status::Investigating), vec![]),
        (Action::SetStatus(Status::Contained), vec!["HIGH:client:acme:contained"]),
        (Action::SetStatus(Status::Resolved), vec!["HIGH:client:acme:resolved"]),
        (
            Action::Close(CloseInput { notes: "internal: it was Bob".into(), ..Default::default() }),
            vec!["HIGH:client:acme:closed"],
        ),
    ];
    for (n, (action, want)) in steps.into_iter().enumerate() {
        let (mut next, _) = act(&current, &action, "alice", &with(1 + n as u32)).expect("allowed");
        assert_eq!(owed(&next), want, "{action:?}");
        if let Some(update) = want.first() {
            assert_eq!(next.pages[*update].update, Some(next.status));
        }
        next.pages.values_mut().for_each(|p| p.state = PageState::Sent);
        current = next;
    }
    // Reopened and closed again: each status is announced once.
    let (reopened, _) = act(&current, &Action::Reopen { reason: None }, "alice", &with(9)).unwrap();
    let close = Action::Close(CloseInput { notes: "again".into(), ..Default::default() });
    assert!(owed(&act(&reopened, &close, "alice", &with(10)).unwrap().0).is_empty());

    // Never told (another account, or confidential): no update.
    let mut elsewhere = told.clone();
    elsewhere.pages.retain(|_, p| !p.target.is_client());
    let contained = Action::SetStatus(Status::Contained);
    assert!(owed(&act(&elsewhere, &contained, "a", &with(1)).unwrap().0).is_empty());
    let mut secret = Incident::create("s".into(), &f, &with(0)).0;
    secret.confidential = true;
    secret.pages.clear();
    assert!(owed(&act(&secret, &contained, "a", &with(1)).unwrap().0).is_empty());
}

#[test]
fn a_confidential_report_pages_the_iso_alone_once_per_level_it_reaches() {
    let owed = |i: &Incident| -> Vec<String> {
        i.pages.iter().filter(|(_, p)| p.state != PageState::Superseded).map(|(k, _)| k.clone()).collect()
    };
    let table = [
        (Level::Low, vec!["LOW:iso"]),
        (Level::Medium, vec!["MEDIUM:iso"]),
        (Level::High, vec!["HIGH:iso"]),
        (Level::Critical, vec!["CRITICAL:iso"]),
    ];
    for (level, want) in table {
        let i = reported(level, true);
        assert_eq!(owed(&i), want, "{level}");
        assert_eq!(i.escalate_at.is_some(), level.pages(), "{level}: re-pages only where a level pages");
    }
    // Classified up, it pages the ISO at the new level; back down and up again, no page twice.
    let low = reported(Level::Low, true);
    let (medium, _) = classify(&low, Level::Medium, "more than a hunch", "olga", &ctx(1)).unwrap();
    let (low_again, _) = classify(&medium, Level::Low, "less", "olga", &ctx(2)).unwrap();
    let (medium_again, _) = classify(&low_again, Level::Medium, "more", "olga", &ctx(3)).unwrap();
    let keys: Vec<String> = medium_again.pages.keys().cloned().collect();
    assert_eq!(keys, vec!["LOW:iso", "MEDIUM:iso"]);
    assert!(medium_again.pages.values().all(|p| p.target == crate::domain::incident::Target::Iso));
}

#[test]
fn the_post_mortem_follows_the_highest_level_in_history_not_the_current_one() {
    let close = Action::Close(CloseInput { notes: "done".into(), ..Default::default() });
    let critical = reported(Level::Critical, false);
    let (high, _) = classify(&critical, Level::High, "less than feared", "olga", &ctx(1)).unwrap();
    let (medium, _) = classify(&high, Level::Medium, "even less", "olga", &ctx(2)).unwrap();
    for (name, i) in [("critical", &critical), ("down to HIGH", &high), ("down to MEDIUM", &medium)] {
        assert_eq!(post_mortem_required(i).as_deref(), Some("CRITICAL"), "{name}");
        let err = perform(i, &close, "olga", t(3)).expect_err(name);
        assert!(matches!(err, Refusal::MissingPostMortem { .. }), "{name}: {err}");
    }
    assert!(perform(&with_follow_up(&medium), &Action::Close(full_post_mortem()), "olga", t(3)).is_ok());
    assert_eq!(post_mortem_required(&reported(Level::High, false)), None, "never CRITICAL: notes only");
}

#[test]
fn follow_up_actions_are_added_done_and_kept_after_close() {
    let i = reported(Level::Critical, false);
    let due = t(0) + Duration::days(7);
    let add = |text: &str| Action::AddFollowUp { text: text.into(), owner: "infra-ops".into(), due };
    let (one, event) = perform(&i, &add("rotate the CI keys"), "olga", t(1)).unwrap();
    assert_eq!(event.action, "follow-up");
    assert!(event.summary.contains("follow-up action 1 for infra-ops"), "{}", event.summary);
    let (two, _) = perform(&one, &add("mask secrets in CI logs"), "olga", t(2)).unwrap();
    assert_eq!(two.follow_ups.iter().map(|f| f.n).collect::<Vec<_>>(), [1, 2]);
    let (done, event) = perform(&two, &Action::FollowUpDone { n: 1 }, "ivan", t(3)).unwrap();
    assert_eq!(event.action, "follow-up.done");
    assert_eq!((done.follow_ups[0].done_by.as_deref(), done.follow_ups[0].done_at), (Some("ivan"), Some(t(3))));
    assert_eq!(perform(&done, &Action::FollowUpDone { n: 1 }, "ivan", t(4)).unwrap_err(), Refusal::NoChange);
    assert!(matches!(
        perform(&done, &Action::FollowUpDone { n: 9 }, "ivan", t(4)),
        Err(Refusal::NoSuchFollowUp { n: 9, .. })
    ));
    let past = Action::AddFollowUp { text: "x".into(), owner: "y".into(), due: t(0) };
    assert!(matches!(perform(&done, &past, "olga", t(5)), Err(Refusal::DueInThePast(_))));
    let no_owner = Action::AddFollowUp { text: "x".into(), owner: " ".into(), due };
    assert_eq!(perform(&done, &no_owner, "olga", t(5)).unwrap_err(), Refusal::Empty("--owner"));
    // Tracked to closure: added and done after the incident is closed too.
    let (closed, _) = perform(&done, &Action::Close(full_post_mortem()), "olga", t(6)).unwrap();
    let (later, _) = perform(&closed, &add("review the EDR exclusions"), "olga", t(7)).unwrap();
    let (later, _) = perform(&later, &Action::FollowUpDone { n: 2 }, "olga", t(8)).unwrap();
    assert_eq!((later.status, later.follow_ups.len()), (Status::Closed, 3));
    assert!(matches!(perform(&later, &Action::Ack, "olga", t(9)), Err(Refusal::Closed(_))));
}
