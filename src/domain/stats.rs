//! The figures the ISO reports (procedure §5: compliance verified through automated reporting; AWS Security
//! Incident Response reports mean time to resolve): incidents by level and source, how long acknowledging,
//! containing and resolving took (median and 90th percentile per level), objectives missed, open incidents
//! by age, and the most frequent finding types and resources. Pure: computed from incidents at `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::incident::{Incident, Source, Status};
use crate::domain::severity::{LEVELS, Level};
use crate::domain::sla::Goal;
use crate::domain::timestamp;

/// How many finding types and resources the top lists keep.
const TOP: usize = 10;

/// The age buckets of open incidents.
pub const AGE_BUCKETS: [&str; 4] = ["under 1 hour", "1 hour to 1 day", "1 to 7 days", "over 7 days"];

/// Median and 90th percentile of some durations, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// How many there were.
    pub count: usize,
    /// The median, in minutes.
    pub median_mins: i64,
    /// The 90th percentile (nearest rank), in minutes.
    pub p90_mins: i64,
}

/// The figures of one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelFigures {
    /// The level.
    pub level: Level,
    /// Incidents of the level.
    pub incidents: usize,
    /// Of those, not closed (nor suppressed).
    pub open: usize,
    /// Time from creation to acknowledgement, of those acknowledged.
    pub acknowledge: Option<Spread>,
    /// Time from creation to containment, of those contained.
    pub contain: Option<Spread>,
    /// Time from creation to resolution, of those resolved or closed.
    pub resolve: Option<Spread>,
    /// Objectives missed, by goal.
    pub breaches: BTreeMap<Goal, usize>,
}

/// Every figure of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The period's start (incidents created since).
    #[serde(with = "timestamp::required")]
    pub since: DateTime<Utc>,
    /// When the figures were made.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// Incidents in the period.
    pub incidents: usize,
    /// Per level, highest first.
    pub levels: Vec<LevelFigures>,
    /// Incidents by source (`guardduty`, `staff`, `aws.health`, `guardduty-malware-scan`).
    pub by_source: BTreeMap<String, usize>,
    /// Incidents not closed (nor suppressed), by age ([`AGE_BUCKETS`]).
    pub open_by_age: Vec<(String, usize)>,
    /// The most frequent finding types.
    pub top_types: Vec<(String, usize)>,
    /// The most frequent affected resources.
    pub top_resources: Vec<(String, usize)>,
}

fn spread(mut minutes: Vec<i64>) -> Option<Spread> {
    if minutes.is_empty() {
        return None;
    }
    minutes.sort_unstable();
    let rank = |p: usize| minutes[(minutes.len() * p).div_ceil(100).saturating_sub(1).min(minutes.len() - 1)];
    Some(Spread { count: minutes.len(), median_mins: rank(50), p90_mins: rank(90) })
}

fn top(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP);
    v
}

/// The source's name in the figures.
pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::Guardduty => "guardduty",
        Source::Staff => "staff",
        Source::MalwareScan => "guardduty-malware-scan",
        Source::Health => "aws.health",
    }
}

/// The figures of `incidents` (those created since `since`), at `now`.
pub fn compute(incidents: &[Incident], since: DateTime<Utc>, now: DateTime<Utc>) -> Stats {
    let mut tally = Tally::new(since, now);
    incidents.iter().for_each(|i| tally.add(i));
    tally.finish()
}

/// What one level's figures are made of, while incidents are counted.
#[derive(Debug, Default)]
struct LevelTally {
    incidents: usize,
    open: usize,
    acknowledge: Vec<i64>,
    contain: Vec<i64>,
    resolve: Vec<i64>,
    breaches: BTreeMap<Goal, usize>,
}

/// The figures counted one incident at a time, so that a period's incidents need not all be in memory at
/// once: what is kept per incident is a few numbers (its durations), not the incident.
#[derive(Debug)]
pub struct Tally {
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    incidents: usize,
    /// In the order of [`LEVELS`].
    levels: [LevelTally; LEVELS.len()],
    by_source: BTreeMap<String, usize>,
    types: BTreeMap<String, usize>,
    resources: BTreeMap<String, usize>,
    ages: [usize; AGE_BUCKETS.len()],
}

impl Tally {
    /// No incident counted yet, for the period from `since`, at `now`.
    pub fn new(since: DateTime<Utc>, now: DateTime<Utc>) -> Tally {
        Tally {
            since,
            now,
            incidents: 0,
            levels: Default::default(),
            by_source: BTreeMap::new(),
            types: BTreeMap::new(),
            resources: BTreeMap::new(),
            ages: [0; AGE_BUCKETS.len()],
        }
    }

    /// Counts `i`, unless it was created before the period.
    pub fn add(&mut self, i: &Incident) {
        if i.created_at < self.since {
            return;
        }
        self.incidents += 1;
        let open = !matches!(i.status, Status::Closed | Status::Suppressed);
        if let Some(level) = LEVELS.iter().position(|l| *l == i.severity).and_then(|k| self.levels.get_mut(k)) {
            level.incidents += 1;
            level.open += usize::from(open);
            let mins = |to: Option<DateTime<Utc>>| to.map(|t| (t - i.created_at).num_minutes().max(0));
            level.acknowledge.extend(mins(i.acknowledged_at));
            level.contain.extend(mins(i.contained_at));
            level.resolve.extend(mins(i.resolved_at));
            for b in &i.breaches {
                *level.breaches.entry(b.goal).or_default() += 1;
            }
        }
        *self.by_source.entry(source_name(i.source).to_owned()).or_default() += 1;
        *self.types.entry(i.finding_type.clone()).or_default() += 1;
        if !i.resource.is_empty() {
            *self.resources.entry(i.resource.clone()).or_default() += 1;
        }
        if open {
            let age = self.now - i.created_at;
            let bucket = if age < Duration::hours(1) {
                0
            } else if age < Duration::days(1) {
                1
            } else if age < Duration::days(7) {
                2
            } else {
                3
            };
            self.ages[bucket] += 1;
        }
    }

    /// The figures of what was counted.
    pub fn finish(self) -> Stats {
        let levels = LEVELS
            .iter()
            .zip(self.levels)
            .rev()
            .map(|(&level, t)| LevelFigures {
                level,
                incidents: t.incidents,
                open: t.open,
                acknowledge: spread(t.acknowledge),
                contain: spread(t.contain),
                resolve: spread(t.resolve),
                breaches: t.breaches,
            })
            .collect();
        Stats {
            since: self.since,
            at: self.now,
            incidents: self.incidents,
            levels,
            by_source: self.by_source,
            open_by_age: AGE_BUCKETS.iter().zip(self.ages).map(|(b, n)| ((*b).to_owned(), n)).collect(),
            top_types: top(self.types),
            top_resources: top(self.resources),
        }
    }
}

/// The figures as text, for a terminal.
pub fn text(s: &Stats) -> String {
    let fmt = |sp: &Option<Spread>| match sp {
        Some(sp) => format!("{:>6} {:>6} ({})", human(sp.median_mins), human(sp.p90_mins), sp.count),
        None => format!("{:>6} {:>6}    ", "-", "-"),
    };
    let mut out = format!(
        "Incidents created {} to {}: {}\n\n{:<9} {:>5}  {:<20} {:<20} {:<20} {}\n",
        timestamp::format(s.since),
        timestamp::format(s.at),
        s.incidents,
        "LEVEL",
        "N",
        "ACK median p90 (n)",
        "CONTAIN median p90",
        "RESOLVE median p90",
        "MISSED ack/contain/resolve"
    );
    for l in &s.levels {
        let missed = |g: Goal| l.breaches.get(&g).copied().unwrap_or(0);
        out.push_str(&format!(
            "{:<9} {:>5}  {:<20} {:<20} {:<20} {}/{}/{}\n",
            l.level.as_str(),
            l.incidents,
            fmt(&l.acknowledge),
            fmt(&l.contain),
            fmt(&l.resolve),
            missed(Goal::Acknowledge),
            missed(Goal::Contain),
            missed(Goal::Resolve)
        ));
    }
    let list = |title: &str, v: &[(String, usize)]| {
        let mut t = format!("\n{title}:\n");
        for (k, n) in v {
            t.push_str(&format!("  {n:>5}  {k}\n"));
        }
        if v.is_empty() {
            t.push_str("  -\n");
        }
        t
    };
    let sources: Vec<(String, usize)> = s.by_source.iter().map(|(k, v)| (k.clone(), *v)).collect();
    out.push_str(&list("By source", &sources));
    out.push_str(&list("Open, by age", &s.open_by_age));
    out.push_str(&list("Top finding types", &s.top_types));
    out.push_str(&list("Top resources", &s.top_resources));
    out
}

/// Minutes as `45m`, `3.5h` or `2.0d`.
pub fn human(minutes: i64) -> String {
    match minutes {
        m if m < 120 => format!("{m}m"),
        m if m < 48 * 60 => format!("{:.1}h", m as f64 / 60.0),
        m => format!("{:.1}d", m as f64 / 1440.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn incident(level: Level, created: i64, ack: Option<i64>, resolved: Option<i64>) -> Incident {
        let mut i = Incident::open(t(created));
        i.severity = level;
        i.finding_type = format!("Type:{}", level.as_str());
        i.resource = "EC2 instance i-1".into();
        i.acknowledged_at = ack.map(t);
        i.contained_at = resolved.map(t);
        i.resolved_at = resolved.map(t);
        if resolved.is_some() {
            i.status = Status::Closed;
        }
        i
    }

    #[test]
    fn figures_of_a_known_set() {
        let mut incidents = vec![
            incident(Level::Critical, 0, Some(10), Some(300)),
            incident(Level::Critical, 100, Some(120), Some(700)),
            incident(Level::Critical, 200, Some(260), None),
            incident(Level::High, 0, None, None),
            incident(Level::Low, 10_000, None, None),
            incident(Level::Low, -10, Some(0), None), // before the period: not counted
        ];
        incidents[2].breaches.push(crate::domain::sla::Breach {
            goal: Goal::Acknowledge,
            level: Level::Critical,
            due: t(215),
            recorded_at: t(216),
            reopening: 0,
        });
        incidents[4].source = Source::Staff;
        let s = compute(&incidents, t(0), t(10_030));
        assert_eq!(s.incidents, 5);
        let critical = &s.levels[0];
        assert_eq!((critical.level, critical.incidents, critical.open), (Level::Critical, 3, 1));
        // Acknowledged after 10, 20 and 60 minutes: median 20, p90 60.
        assert_eq!(critical.acknowledge, Some(Spread { count: 3, median_mins: 20, p90_mins: 60 }));
        assert_eq!(critical.resolve, Some(Spread { count: 2, median_mins: 300, p90_mins: 600 }));
        assert_eq!(critical.breaches.get(&Goal::Acknowledge), Some(&1));
        assert_eq!(s.levels[1].acknowledge, None, "nobody acknowledged the HIGH one");
        assert_eq!(s.by_source.get("guardduty"), Some(&4));
        assert_eq!(s.by_source.get("staff"), Some(&1));
        // Open: the CRITICAL at 200 and the HIGH at 0 are days old, the LOW at 10,000 half an hour.
        assert_eq!(
            s.open_by_age,
            vec![
                ("under 1 hour".into(), 1),
                ("1 hour to 1 day".into(), 0),
                ("1 to 7 days".into(), 2),
                ("over 7 days".into(), 0)
            ]
        );
        assert_eq!(s.top_types[0], ("Type:CRITICAL".into(), 3));
        assert_eq!(s.top_resources, vec![("EC2 instance i-1".into(), 5)]);
        let shown = text(&s);
        assert!(shown.contains("CRITICAL") && shown.contains("20m") && shown.contains("5.0h"), "{shown}");
        assert_eq!(human(90), "90m");
        assert_eq!(human(2 * 1440), "2.0d");
    }

    #[test]
    fn counting_page_by_page_gives_the_figures_of_the_whole() {
        let incidents: Vec<Incident> = (0..50)
            .map(|k| {
                let level = LEVELS[k % LEVELS.len()];
                incident(level, k as i64 * 7, (k % 3 == 0).then_some(k as i64 * 7 + k as i64), None)
            })
            .collect();
        let whole = compute(&incidents, t(0), t(1_000));
        let mut tally = Tally::new(t(0), t(1_000));
        for page in incidents.chunks(7) {
            page.iter().for_each(|i| tally.add(i));
        }
        assert_eq!(tally.finish(), whole);
        assert_eq!(whole.incidents, 50);
    }
}
