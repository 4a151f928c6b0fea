//! The response objectives (seed 000: an incident's severity "dictates response SLAs"): per level, how long
//! until an incident must be acknowledged, contained and resolved, counted from when it reached its level;
//! LOW and MEDIUM in work hours (procedure §3.3), HIGH and CRITICAL around the clock; what a missed one is
//! recorded as, and how a clock is said. Pure. An incident's own clock (its deadlines, the breaches due,
//! the notices they owe) is `domain::incident::clock`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::severity::Level;

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
mod tests {
    use super::*;

    #[test]
    fn objectives_are_checked() {
        let mut slas = Slas::default();
        assert!(slas.validate().is_ok());
        slas.high.contain_mins = 10;
        assert!(slas.validate().unwrap_err().contains("sla.high"));
        slas = Slas::default();
        slas.low.acknowledge_mins = 0;
        assert!(slas.validate().unwrap_err().contains("sla.low.acknowledge_mins"));
        let parsed: Slas =
            toml::from_str("[critical]\nacknowledge_mins = 5\ncontain_mins = 60\nresolve_mins = 600\n").unwrap();
        assert_eq!(parsed.critical.acknowledge_mins, 5);
        assert_eq!(parsed.high, Slas::default().high, "what is left out keeps its default");
    }
}
