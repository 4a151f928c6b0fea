//! Work hours (procedure §3.3: LOW and MEDIUM incidents "do not require someone to be paged or woken up
//! beyond normal work hours"): a time zone, the working days, a daily start and end, and holidays. Used to
//! count LOW and MEDIUM response times in work time and to time the work-hours digest. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// Days looked ahead for the next working period, at most (a calendar of holidays alone ends somewhere).
const MAX_DAYS_AHEAD: i64 = 3 * 366;

/// The default work hours, for callers that have no configuration.
pub static DEFAULT_HOURS: std::sync::LazyLock<WorkHours> = std::sync::LazyLock::new(WorkHours::default);

/// `[work_hours]`: when people work. Default: Monday to Friday, 09:00 to 17:00 UTC, no holidays.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "WorkHoursFile")]
pub struct WorkHours {
    /// The IANA time zone the hours are in.
    pub time_zone: Tz,
    /// The working days, Monday first.
    pub days: [bool; 7],
    /// When a working day starts, local time.
    pub start: NaiveTime,
    /// When it ends, local time (after `start`).
    pub end: NaiveTime,
    /// Days off, local dates.
    pub holidays: BTreeSet<NaiveDate>,
    /// Send the work-hours digest of LOW and MEDIUM incidents to the OCE topic. Off when absent (a
    /// contract's minimal configuration sends nothing on a LOW or MEDIUM incident); every shipped
    /// configuration turns it on.
    pub digest: bool,
    /// Minutes between two work-hours digests after the one at the start of work hours; 0: that one only.
    pub digest_every_mins: u32,
}

/// `[work_hours]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkHoursFile {
    #[serde(default = "default_zone")]
    time_zone: String,
    #[serde(default = "default_days")]
    days: Vec<String>,
    #[serde(default = "default_start")]
    start: String,
    #[serde(default = "default_end")]
    end: String,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    digest: bool,
    #[serde(default = "default_digest_every_mins")]
    digest_every_mins: u32,
}

fn default_zone() -> String {
    "UTC".into()
}
fn default_days() -> Vec<String> {
    ["Mon", "Tue", "Wed", "Thu", "Fri"].map(String::from).to_vec()
}
fn default_start() -> String {
    "09:00".into()
}
fn default_end() -> String {
    "17:00".into()
}
fn default_digest_every_mins() -> u32 {
    120
}

impl TryFrom<WorkHoursFile> for WorkHours {
    type Error = String;

    fn try_from(f: WorkHoursFile) -> Result<WorkHours, String> {
        let time_zone: Tz =
            f.time_zone.parse().map_err(|_| format!("time_zone `{}` is not an IANA time zone", f.time_zone))?;
        let mut days = [false; 7];
        for d in &f.days {
            let day = d.parse::<Weekday>().map_err(|_| format!("days: `{d}` is not a day (Mon, Tue, ... Sun)"))?;
            days[day.num_days_from_monday() as usize] = true;
        }
        if !days.contains(&true) {
            return Err("days: name at least one working day".into());
        }
        let time = |what: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| format!("{what} `{v}` is not a time HH:MM"))
        };
        let (start, end) = (time("start", &f.start)?, time("end", &f.end)?);
        if end <= start {
            return Err(format!("end {} must be after start {}", f.end, f.start));
        }
        let holidays = f
            .holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("holidays: `{d}` is not a date YYYY-MM-DD"))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        if f.digest_every_mins > 24 * 60 {
            return Err(format!("digest_every_mins {} is out of range: expected 0 to 1440", f.digest_every_mins));
        }
        Ok(WorkHours {
            time_zone,
            days,
            start,
            end,
            holidays,
            digest: f.digest,
            digest_every_mins: f.digest_every_mins,
        })
    }
}

impl Default for WorkHours {
    fn default() -> WorkHours {
        let file = WorkHoursFile {
            time_zone: default_zone(),
            days: default_days(),
            start: default_start(),
            end: default_end(),
            holidays: Vec::new(),
            digest: false,
            digest_every_mins: default_digest_every_mins(),
        };
        // The defaults are valid by construction.
        WorkHours::try_from(file).unwrap_or(WorkHours {
            time_zone: Tz::UTC,
            days: [true; 7],
            start: NaiveTime::MIN,
            end: NaiveTime::MIN,
            holidays: BTreeSet::new(),
            digest: false,
            digest_every_mins: 0,
        })
    }
}

impl WorkHours {
    /// The working period of local date `day`, in UTC, if it is a working day.
    fn period(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days[day.weekday().num_days_from_monday() as usize] || self.holidays.contains(&day) {
            return None;
        }
        // A start or end in a daylight-saving gap moves to the hour after it.
        let at = |t: NaiveTime| {
            let local = day.and_time(t);
            self.time_zone
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| self.time_zone.from_local_datetime(&(local + Duration::hours(1))).earliest())
                .map(|d| d.with_timezone(&Utc))
        };
        Some((at(self.start)?, at(self.end)?))
    }

    /// The working periods that end after `t`, in order (at most [`MAX_DAYS_AHEAD`] days ahead).
    fn periods_from(&self, t: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first = t.with_timezone(&self.time_zone).date_naive() - Duration::days(1);
        (0..MAX_DAYS_AHEAD).filter_map(move |n| self.period(first + Duration::days(n))).filter(move |(_, end)| *end > t)
    }

    /// Whether `t` is within work hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.periods_from(t).next().is_some_and(|(start, _)| start <= t)
    }

    /// When the working period around or after `t` began or begins.
    pub fn period_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.periods_from(t).next().map(|(start, _)| start)
    }

    /// The moment `work` of working time after `from` has passed (work done outside work hours counts
    /// from the next working period).
    pub fn add(&self, from: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let mut left = work;
        let mut last = from;
        for (start, end) in self.periods_from(from) {
            let begin = start.max(from);
            let available = end - begin;
            if left <= available {
                return begin + left;
            }
            left -= available;
            last = end;
        }
        // No working period for years: count the rest as clock time rather than never.
        last + left
    }

    /// The digest slot `now` falls in: the start of the current working period, or the latest multiple of
    /// `digest_every_mins` after it; `None` outside work hours (nothing is sent then).
    pub fn digest_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = self.period_start(now).filter(|start| *start <= now)?;
        if self.digest_every_mins == 0 {
            return Some(start);
        }
        let every = Duration::minutes(i64::from(self.digest_every_mins));
        let n = (now - start).num_seconds() / every.num_seconds();
        Some(start + every * i32::try_from(n).unwrap_or(0))
    }

    /// The working time between `from` and `to`.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        for (start, end) in self.periods_from(from) {
            if start >= to {
                break;
            }
            total += end.min(to) - start.max(from);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(text: &str) -> WorkHours {
        toml::from_str(text).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn defaults_are_weekdays_nine_to_five_utc() {
        let w = WorkHours::default();
        assert_eq!(w, hours(""));
        // 2026-12-04 is a Friday.
        assert!(w.is_open(at("2026-12-04T09:00:00Z")));
        assert!(w.is_open(at("2026-12-04T16:59:59Z")));
        assert!(!w.is_open(at("2026-12-04T17:00:00Z")));
        assert!(!w.is_open(at("2026-12-05T12:00:00Z")), "Saturday");
        assert!(!w.is_open(at("2026-12-07T08:59:00Z")));
    }

    #[test]
    fn work_time_skips_nights_weekends_and_holidays_in_the_local_zone() {
        let w = hours(
            "time_zone = \"Europe/Berlin\"\ndays = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]\n\
             start = \"09:00\"\nend = \"17:00\"\nholidays = [\"2026-12-24\", \"2026-12-25\"]\n",
        );
        // (from, work, then): Berlin is UTC+1 in winter, UTC+2 in summer.
        let cases = [
            ("2026-12-01T09:00:00Z", 60, "2026-12-01T10:00:00Z"),
            ("2026-12-01T15:30:00Z", 60, "2026-12-02T08:30:00Z"), // 30 min left today, 30 min tomorrow
            ("2026-12-04T20:00:00Z", 240, "2026-12-07T12:00:00Z"), // Friday night: Monday 09:00 + 4 h local
            ("2026-12-23T15:00:00Z", 120, "2026-12-28T09:00:00Z"), // 1 h on the 23rd, holidays, then Monday
            ("2026-07-01T06:00:00Z", 30, "2026-07-01T07:30:00Z"), // summer: 09:00 local is 07:00 UTC
        ];
        for (from, mins, then) in cases {
            assert_eq!(w.add(at(from), Duration::minutes(mins)), at(then), "{from} + {mins} min");
        }
        assert_eq!(w.between(at("2026-12-04T15:00:00Z"), at("2026-12-07T09:00:00Z")), Duration::hours(2));
        assert_eq!(w.period_start(at("2026-12-05T10:00:00Z")), Some(at("2026-12-07T08:00:00Z")));
        assert_eq!(w.period_start(at("2026-12-07T10:00:00Z")), Some(at("2026-12-07T08:00:00Z")));
    }

    #[test]
    fn digests_go_out_at_the_start_of_work_hours_and_then_at_their_cadence_only_then() {
        let w = WorkHours::default();
        assert_eq!(w.digest_slot(at("2026-12-07T08:59:00Z")), None, "before work");
        assert_eq!(w.digest_slot(at("2026-12-07T09:00:10Z")), Some(at("2026-12-07T09:00:00Z")));
        assert_eq!(w.digest_slot(at("2026-12-07T10:59:00Z")), Some(at("2026-12-07T09:00:00Z")));
        assert_eq!(w.digest_slot(at("2026-12-07T11:00:00Z")), Some(at("2026-12-07T11:00:00Z")), "every 2 h");
        assert_eq!(w.digest_slot(at("2026-12-07T17:30:00Z")), None, "after work");
        assert_eq!(w.digest_slot(at("2026-12-05T10:00:00Z")), None, "Saturday");
        let once = hours("digest_every_mins = 0");
        assert_eq!(once.digest_slot(at("2026-12-07T16:00:00Z")), Some(at("2026-12-07T09:00:00Z")));
    }

    #[test]
    fn a_bad_calendar_says_what_is_wrong() {
        let bad = |text: &str| toml::from_str::<WorkHours>(text).unwrap_err().to_string();
        assert!(bad("time_zone = \"Mars/Olympus\"").contains("not an IANA time zone"));
        assert!(bad("days = [\"Funday\"]").contains("`Funday` is not a day"));
        assert!(bad("days = []").contains("at least one"));
        assert!(bad("start = \"9am\"").contains("not a time HH:MM"));
        assert!(bad("start = \"18:00\"").contains("must be after start"));
        assert!(bad("holidays = [\"24.12.2026\"]").contains("not a date"));
        assert!(bad("hours = 8").contains("unknown field"));
        assert!(bad("digest_every_mins = 2000").contains("0 to 1440"));
    }
}
