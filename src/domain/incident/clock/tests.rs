use chrono::{Duration, TimeZone};

use super::*;
use crate::domain::incident::PageState;
use crate::domain::policy::Policy;
use crate::domain::severity::Level;
use crate::domain::sla::{DEFAULT_SLAS, summary};

static NO_RULES: Policy =
    Policy { high_list: false, floors: Vec::new(), suppress: Vec::new(), keep_closed: Vec::new(), health: Vec::new() };

/// 2026-12-04 (a Friday) at 16:00 UTC plus `minutes`.
fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn ctx(now: DateTime<Utc>) -> Ctx<'static> {
    Ctx { claimant: "w", ..Ctx::defaults(now, &NO_RULES) }
}

fn incident(level: Level) -> Incident {
    let mut i = Incident::open(t(0));
    i.incident_id = "inc-1".into();
    i.severity = level;
    i.wind_clock(&ctx(t(0)));
    i
}

#[test]
fn deadlines_run_around_the_clock_for_high_and_critical_and_in_work_hours_below() {
    let hours = WorkHours::default();
    let cases = [
        // (level, goal, due): created Friday 16:00 UTC; work hours Mon-Fri 09-17 UTC.
        (Level::Critical, Goal::Acknowledge, t(15)),
        (Level::Critical, Goal::Contain, t(4 * 60)),
        (Level::Critical, Goal::Resolve, t(24 * 60)),
        (Level::High, Goal::Acknowledge, t(60)),
        // MEDIUM: 4 work hours = Friday 16-17, then Monday 09-12.
        (Level::Medium, Goal::Acknowledge, Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()),
        // LOW: 8 work hours = Friday 16-17, then Monday 09-16.
        (Level::Low, Goal::Acknowledge, Utc.with_ymd_and_hms(2026, 12, 7, 16, 0, 0).unwrap()),
    ];
    for (level, goal, due) in cases {
        assert_eq!(deadline(&DEFAULT_SLAS, &incident(level), goal, &hours), due, "{level} {goal}");
    }
    // Raised to CRITICAL at 16:30: its clock starts then.
    let mut raised = incident(Level::Low);
    raised.severity = Level::Critical;
    raised.level_since = Some(t(30));
    assert_eq!(deadline(&DEFAULT_SLAS, &raised, Goal::Acknowledge, &hours), t(45));
}

#[test]
fn each_breach_is_recorded_once_and_the_next_deadline_is_watched() {
    let hours = WorkHours::default();
    let i = incident(Level::Critical);
    assert_eq!(i.sla_due_at, Some(t(15)), "the acknowledgement is watched first");
    assert!(due_breaches(&i, &DEFAULT_SLAS, &hours, t(14)).is_none(), "not late yet");

    let (late, breaches) = due_breaches(&i, &DEFAULT_SLAS, &hours, t(16)).expect("late");
    assert_eq!(breaches.iter().map(|b| b.goal).collect::<Vec<_>>(), [Goal::Acknowledge]);
    assert_eq!((breaches[0].due, breaches[0].level), (t(15), Level::Critical));
    assert_eq!(late.sla_due_at, Some(t(4 * 60)), "then containment");
    assert!(due_breaches(&late, &DEFAULT_SLAS, &hours, t(17)).is_none(), "recorded once");

    // Met in time: no breach; the clock shows it met.
    let mut done = i.clone();
    done.acknowledged_at = Some(t(5));
    done.contained_at = Some(t(60));
    done.wind_clock(&ctx(t(60)));
    assert_eq!(done.sla_due_at, Some(t(24 * 60)), "only the resolution is left");
    let shown = clock(&done, &DEFAULT_SLAS, &hours, t(90));
    assert_eq!(
        shown.iter().map(|c| (c.goal, c.breached)).collect::<Vec<_>>(),
        [(Goal::Acknowledge, false), (Goal::Contain, false), (Goal::Resolve, false)]
    );
    // Several at once (the daemon was down): all recorded in one go.
    let (all, breaches) = due_breaches(&i, &DEFAULT_SLAS, &hours, t(25 * 60)).expect("late");
    assert_eq!(breaches.len(), 3);
    assert_eq!(all.sla_due_at, None, "nothing left to watch");
    assert!(clock(&all, &DEFAULT_SLAS, &hours, t(25 * 60)).iter().all(|c| c.breached));
}

#[test]
fn suppressed_incidents_have_no_clock_and_a_reopening_starts_it_again() {
    let hours = WorkHours::default();
    let mut quiet = incident(Level::High);
    quiet.status = Status::Suppressed;
    assert!(next_deadline(&quiet, &DEFAULT_SLAS, &hours).is_none());
    assert!(due_breaches(&quiet, &DEFAULT_SLAS, &hours, t(10_000)).is_none());

    let (late, _) = due_breaches(&incident(Level::High), &DEFAULT_SLAS, &hours, t(61)).unwrap();
    let mut reopened = late.clone();
    reopened.status = Status::Closed;
    reopened.resolved_at = Some(t(100));
    reopened.status = Status::Open;
    reopened.note_status(Status::Closed, t(200));
    reopened.reopenings = 1;
    reopened.acknowledged_at = None;
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(next_deadline(&reopened, &DEFAULT_SLAS, &hours), Some(t(260)), "the clock counts from the reopening");
    let (again, b) = due_breaches(&reopened, &DEFAULT_SLAS, &hours, t(261)).expect("a new breach");
    assert_eq!(b[0].reopening, 1);
    assert_eq!(again.breaches.len(), 2);
}

#[test]
fn a_high_breach_notifies_the_iso_and_the_oce_and_a_low_one_waits_for_the_digest() {
    let hours = WorkHours::default();
    let (late, breaches) = due_breaches(&incident(Level::High), &DEFAULT_SLAS, &hours, t(61)).unwrap();
    let (noticed, event) = announce(late, &breaches, &ctx(t(61)));
    let owed: Vec<&String> = noticed.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k).collect();
    assert_eq!(owed, ["HIGH:iso:breach-acknowledge", "HIGH:oce:breach-acknowledge"]);
    assert_eq!(event.action, "sla.breached");
    assert!(event.summary.contains("not acknowledged in time"), "{}", event.summary);

    let mut low = incident(Level::Low);
    low.confidential = false;
    let (late, breaches) = due_breaches(&low, &DEFAULT_SLAS, &hours, t(10 * 24 * 60)).unwrap();
    let (noticed, _) = announce(late, &breaches, &ctx(t(10 * 24 * 60)));
    assert!(noticed.pages.is_empty(), "LOW pages no one");
}

#[test]
fn the_summary_says_what_is_late_or_next() {
    let hours = WorkHours::default();
    let fresh = incident(Level::Critical);
    assert_eq!(summary(&clock(&fresh, &DEFAULT_SLAS, &hours, t(1))), "ack by 2026-12-04 16:15Z");
    assert_eq!(summary(&clock(&fresh, &DEFAULT_SLAS, &hours, t(16))), "LATE ack");
    let mut done = fresh.clone();
    (done.acknowledged_at, done.contained_at, done.resolved_at) = (Some(t(1)), Some(t(2)), Some(t(3)));
    assert_eq!(summary(&clock(&done, &DEFAULT_SLAS, &hours, t(16))), "met");
    let mut quiet = fresh;
    quiet.status = Status::Suppressed;
    assert_eq!(summary(&clock(&quiet, &DEFAULT_SLAS, &hours, t(16))), "-");
}
