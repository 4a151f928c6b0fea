//! Follow-up actions (procedure §3.1: corrective and preventive actions "tracked to closure"; seed 000:
//! "follow-up actions"): what someone owns and must do by when, after or beside the incident's own work.
//! Added and completed through the lifecycle (`Action::AddFollowUp`, `Action::FollowUpDone`), listed by the
//! post-incident report, overdue ones in the work-hours digest; closing an incident that was CRITICAL needs
//! at least one. Pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::timestamp;

/// One follow-up action of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Its number within the incident, from 1.
    pub n: u32,
    /// What is to be done.
    pub text: String,
    /// Who owns it.
    pub owner: String,
    /// By when.
    #[serde(with = "timestamp::required")]
    pub due: DateTime<Utc>,
    /// Who added it.
    pub added_by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub added_at: DateTime<Utc>,
    /// Who marked it done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub done_at: Option<DateTime<Utc>>,
}

impl FollowUp {
    /// Not done, and past its due time at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.done_at.is_none() && self.due < now
    }

    /// `open`, `overdue` or `done`, at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        match self.done_at {
            Some(_) => "done",
            None if self.due < now => "overdue",
            None => "open",
        }
    }
}

/// When a follow-up action is due: RFC 3339, a date (`2026-12-31`, the end of that day UTC), or a time from
/// now (`30m`, `8h`, `14d`).
pub fn parse_due(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = timestamp::parse(s) {
        return Ok(t);
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return day.and_hms_opt(23, 59, 59).map(|t| t.and_utc()).ok_or_else(|| format!("`{s}` is not a date"));
    }
    // An age read backwards is a time ahead.
    let ago = timestamp::parse_time_or_age(s, now).map_err(|_| {
        format!("`{s}` is not a due time: expected RFC 3339, a date (2026-12-31) or a time from now (8h, 14d)")
    })?;
    Ok(now + (now - ago))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_read_as_dates_instants_or_time_ahead() {
        let now = timestamp::parse("2026-12-01T10:00:00Z").unwrap();
        let cases = [
            ("2026-12-31", "2026-12-31T23:59:59.000Z"),
            ("2026-12-02T08:00:00Z", "2026-12-02T08:00:00.000Z"),
            ("14d", "2026-12-15T10:00:00.000Z"),
            ("8h", "2026-12-01T18:00:00.000Z"),
        ];
        for (text, want) in cases {
            assert_eq!(timestamp::format(parse_due(text, now).unwrap()), want, "{text}");
        }
        assert!(parse_due("next week", now).unwrap_err().contains("not a due time"));
    }

    #[test]
    fn an_action_is_overdue_until_done() {
        let now = timestamp::parse("2026-12-01T10:00:00Z").unwrap();
        let mut f = FollowUp {
            n: 1,
            text: "rotate the CI keys".into(),
            owner: "infra-ops".into(),
            due: now - chrono::Duration::hours(1),
            added_by: "olga".into(),
            added_at: now - chrono::Duration::days(2),
            done_by: None,
            done_at: None,
        };
        assert_eq!((f.overdue(now), f.state(now)), (true, "overdue"));
        assert_eq!(f.state(now - chrono::Duration::hours(2)), "open");
        f.done_at = Some(now);
        assert_eq!((f.overdue(now), f.state(now)), (false, "done"));
    }
}
