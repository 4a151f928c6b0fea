//! An incident's response clock: when each objective of its level ([`Slas`]) falls due, which are met,
//! which it missed by now (each recorded once per goal and reopening), and the notices a missed one owes.
//! [`Incident::sla_due_at`] keeps the next deadline in the index of what is due, so the daemon looks then.

use chrono::{DateTime, Utc};

use super::{Ctx, Event, Incident, Page, Status, Target};
use crate::domain::sla::{Breach, Goal, GoalClock, Slas, missed};
use crate::domain::timestamp;
use crate::domain::work_hours::WorkHours;

/// When `goal` is due for `incident` at its current level.
pub fn deadline(slas: &Slas, incident: &Incident, goal: Goal, hours: &WorkHours) -> DateTime<Utc> {
    let objective = slas.of(incident.severity);
    let since = incident.level_since.unwrap_or(incident.created_at);
    if objective.work_hours { hours.add(since, objective.allowed(goal)) } else { since + objective.allowed(goal) }
}

/// When `goal` was met, if it was.
pub fn met_at(incident: &Incident, goal: Goal) -> Option<DateTime<Utc>> {
    match goal {
        Goal::Acknowledge => incident.acknowledged_at,
        Goal::Contain => incident.contained_at,
        Goal::Resolve => incident.resolved_at,
    }
}

/// Whether the clock runs for `incident`: not for suppressed incidents.
fn runs(incident: &Incident) -> bool {
    incident.status != Status::Suppressed
}

fn recorded(incident: &Incident, goal: Goal) -> bool {
    incident.breaches.iter().any(|b| b.goal == goal && b.reopening == incident.reopenings)
}

/// The clock of each goal, for `incident` shown at `now`.
pub fn clock(incident: &Incident, slas: &Slas, hours: &WorkHours, now: DateTime<Utc>) -> Vec<GoalClock> {
    if !runs(incident) {
        return Vec::new();
    }
    Goal::ALL
        .iter()
        .map(|&goal| {
            let due = deadline(slas, incident, goal, hours);
            let met = met_at(incident, goal);
            let breached = recorded(incident, goal) || met.map_or(now > due, |m| m > due);
            GoalClock { goal, due, met, breached }
        })
        .collect()
}

/// The earliest deadline still to watch: not met, not yet recorded as breached.
pub fn next_deadline(incident: &Incident, slas: &Slas, hours: &WorkHours) -> Option<DateTime<Utc>> {
    if !runs(incident) {
        return None;
    }
    Goal::ALL
        .iter()
        .filter(|&&goal| met_at(incident, goal).is_none() && !recorded(incident, goal))
        .map(|&goal| deadline(slas, incident, goal, hours))
        .min()
}

/// The breaches due at `now` and not yet recorded: the incident with them recorded (and its next deadline),
/// and a log entry; `None` if there are none.
pub fn due_breaches(
    incident: &Incident,
    slas: &Slas,
    hours: &WorkHours,
    now: DateTime<Utc>,
) -> Option<(Incident, Vec<Breach>)> {
    if !runs(incident) {
        return None;
    }
    let breaches: Vec<Breach> = Goal::ALL
        .iter()
        .filter(|&&goal| met_at(incident, goal).is_none() && !recorded(incident, goal))
        .filter_map(|&goal| {
            let due = deadline(slas, incident, goal, hours);
            (due <= now).then_some(Breach {
                goal,
                level: incident.severity,
                due,
                recorded_at: now,
                reopening: incident.reopenings,
            })
        })
        .collect();
    if breaches.is_empty() {
        return None;
    }
    let mut next = incident.clone();
    next.breaches.extend(breaches.iter().cloned());
    next.updated_at = now;
    next.sla_due_at = next_deadline(&next, slas, hours);
    Some((next, breaches))
}

/// What recording `breaches` owes: for a HIGH or CRITICAL incident, a notice to the ISO and the OCE for
/// each (the ISO alone for a confidential one); LOW and MEDIUM ones wait for the work-hours digest. Returns
/// the incident with those notices owed, and the log entry.
pub fn announce(mut incident: Incident, breaches: &[Breach], ctx: &Ctx) -> (Incident, Event) {
    for b in breaches.iter().filter(|b| b.level.pages()) {
        let targets = if incident.confidential { vec![Target::Iso] } else { vec![Target::Iso, Target::Oce] };
        for target in targets {
            let mut key = format!("{}:{target}:breach-{}", b.level, b.goal);
            if b.reopening > 0 {
                key.push_str(&format!(":reopen{}", b.reopening));
            }
            incident.pages.entry(key).or_insert_with(|| Page::breach_notice(b.level, target, b.goal, ctx));
        }
    }
    let what: Vec<String> =
        breaches.iter().map(|b| format!("{} (due {})", missed(b.goal), timestamp::format(b.due))).collect();
    let level = breaches.first().map_or(incident.severity, |b| b.level);
    let summary = format!("{level} response objective missed: {}", what.join("; "));
    (incident, Event::new(ctx.now, "gd-incidents", "sla.breached", summary))
}

#[cfg(test)]
mod tests;
