//! The response clock (seed 000: an incident's severity "dictates response SLAs"): per level, how long
//! until an incident must be acknowledged, contained and resolved, counted from when it reached its level;
//! LOW and MEDIUM in work hours (procedure §3.3), HIGH and CRITICAL around the clock. Pure: the daemon asks
//! [`due_breaches`] and records each breach once; [`Incident::sla_due_at`] keeps the next deadline in the
//! index of what is due.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::incident::{Ctx, Event, Incident, Page, Status, Target};
use crate::domain::severity::Level;
use crate::domain::timestamp;
use crate::domain::work_hours::WorkHours;

/// What the clock times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Someone acknowledged it.
    Acknowledge,
    /// It is contained (or resolved, or closed).
    Contain,
    /// It is resolved (or closed).
    Resolve,
}

impl Goal {
    /// Every goal, in the order they are met.
    pub const ALL: [Goal; 3] = [Goal::Acknowledge, Goal::Contain, Goal::Resolve];

    /// Its name: `acknowledge`, `contain`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Acknowledge => "acknowledge",
            Goal::Contain => "contain",
            Goal::Resolve => "resolve",
        }
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The times of one level, as `[sla.<level>]` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Minutes until it must be acknowledged.
    pub acknowledge_mins: u32,
    /// Minutes until it must be contained.
    pub contain_mins: u32,
    /// Minutes until it must be resolved.
    pub resolve_mins: u32,
    /// Count the minutes in work hours (`[work_hours]`) rather than around the clock.
    #[serde(default)]
    pub work_hours: bool,
}

impl Objective {
    /// The time allowed for `goal`.
    pub fn allowed(&self, goal: Goal) -> Duration {
        Duration::minutes(i64::from(match goal {
            Goal::Acknowledge => self.acknowledge_mins,
            Goal::Contain => self.contain_mins,
            Goal::Resolve => self.resolve_mins,
        }))
    }
}

/// `[sla]`: the objectives of each level; what is left out keeps its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slas {
    /// CRITICAL: 15 minutes, 4 hours, 24 hours, around the clock.
    #[serde(default = "critical")]
    pub critical: Objective,
    /// HIGH: 1 hour, 12 hours, 3 days, around the clock.
    #[serde(default = "high")]
    pub high: Objective,
    /// MEDIUM: 4, 16 and 80 work hours (half a day, two days, two weeks).
    #[serde(default = "medium")]
    pub medium: Objective,
    /// LOW: 8, 40 and 160 work hours (a day, a week, four weeks).
    #[serde(default = "low")]
    pub low: Objective,
}

fn critical() -> Objective {
    Objective { acknowledge_mins: 15, contain_mins: 4 * 60, resolve_mins: 24 * 60, work_hours: false }
}
fn high() -> Objective {
    Objective { acknowledge_mins: 60, contain_mins: 12 * 60, resolve_mins: 3 * 24 * 60, work_hours: false }
}
fn medium() -> Objective {
    Objective { acknowledge_mins: 4 * 60, contain_mins: 16 * 60, resolve_mins: 80 * 60, work_hours: true }
}
fn low() -> Objective {
    Objective { acknowledge_mins: 8 * 60, contain_mins: 40 * 60, resolve_mins: 160 * 60, work_hours: true }
}

impl Default for Slas {
    fn default() -> Slas {
        Slas { critical: critical(), high: high(), medium: medium(), low: low() }
    }
}

/// The default objectives, for callers that have no configuration.
pub static DEFAULT_SLAS: std::sync::LazyLock<Slas> = std::sync::LazyLock::new(Slas::default);

/// A breach of an objective, recorded once per goal (and per reopening).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// What was not done in time.
    pub goal: Goal,
    /// The level whose objective it was.
    pub level: Level,
    /// When it was due.
    #[serde(with = "crate::domain::timestamp::required")]
    pub due: DateTime<Utc>,
    /// When the breach was recorded.
    #[serde(with = "crate::domain::timestamp::required")]
    pub recorded_at: DateTime<Utc>,
    /// The reopening it belongs to (0: before any).
    #[serde(default)]
    pub reopening: u32,
}

/// The clock of one goal, for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalClock {
    /// The goal.
    pub goal: Goal,
    /// When it is due.
    #[serde(with = "crate::domain::timestamp::required")]
    pub due: DateTime<Utc>,
    /// When it was met, if it was.
    #[serde(with = "crate::domain::timestamp::optional")]
    pub met: Option<DateTime<Utc>>,
    /// Whether it was (or is now) late.
    pub breached: bool,
}

impl Slas {
    /// The objective of `level`.
    pub fn of(&self, level: Level) -> &Objective {
        match level {
            Level::Critical => &self.critical,
            Level::High => &self.high,
            Level::Medium => &self.medium,
            Level::Low => &self.low,
        }
    }

    /// Every minute count in range (a year at most), or which is not.
    pub fn validate(&self) -> Result<(), String> {
        for level in [Level::Critical, Level::High, Level::Medium, Level::Low] {
            let o = self.of(level);
            let name = level.as_str().to_ascii_lowercase();
            for (goal, mins) in
                [("acknowledge", o.acknowledge_mins), ("contain", o.contain_mins), ("resolve", o.resolve_mins)]
            {
                if mins == 0 || mins > 366 * 24 * 60 {
                    return Err(format!("sla.{name}.{goal}_mins: {mins} is out of range: expected 1 to 527040"));
                }
            }
            if !(o.acknowledge_mins <= o.contain_mins && o.contain_mins <= o.resolve_mins) {
                return Err(format!(
                    "sla.{name}: acknowledge_mins <= contain_mins <= resolve_mins must hold (an incident is acknowledged \
                     before it is contained, and contained before it is resolved)"
                ));
            }
        }
        Ok(())
    }

    /// When `goal` is due for `incident` at its current level.
    pub fn deadline(&self, incident: &Incident, goal: Goal, hours: &WorkHours) -> DateTime<Utc> {
        let objective = self.of(incident.severity);
        let since = incident.level_since.unwrap_or(incident.created_at);
        if objective.work_hours { hours.add(since, objective.allowed(goal)) } else { since + objective.allowed(goal) }
    }
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
            let due = slas.deadline(incident, goal, hours);
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
        .map(|&goal| slas.deadline(incident, goal, hours))
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
            let due = slas.deadline(incident, goal, hours);
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

/// The clock in a few words, for lists: the first objective missed (`LATE contain`), else the next one due
/// (`ack by 2026-12-04 16:15Z`), else `met`; `-` without a clock (suppressed).
pub fn summary(clocks: &[GoalClock]) -> String {
    let short = |g: Goal| match g {
        Goal::Acknowledge => "ack",
        Goal::Contain => "contain",
        Goal::Resolve => "resolve",
    };
    if clocks.is_empty() {
        return "-".into();
    }
    if let Some(late) = clocks.iter().find(|c| c.breached) {
        return format!("LATE {}", short(late.goal));
    }
    match clocks.iter().find(|c| c.met.is_none()) {
        Some(next) => format!("{} by {}", short(next.goal), next.due.format("%Y-%m-%d %H:%MZ")),
        None => "met".into(),
    }
}

/// What was not done, in words.
pub fn missed(goal: Goal) -> &'static str {
    match goal {
        Goal::Acknowledge => "not acknowledged in time",
        Goal::Contain => "not contained in time",
        Goal::Resolve => "not resolved in time",
    }
}

#[cfg(test)]
mod tests;
