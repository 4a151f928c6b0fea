//! A limit on staff reports per person and hour (`[portal] reports_per_hour`): every report pages people
//! (a CRITICAL one the OCE, the ISO and every route, then again), so one signed-in account must not be
//! able to page without end. Kept in memory by each portal task: with N tasks behind the load balancer a
//! person may file up to N times the limit, which still bounds it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window the limit counts in.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// People tracked at most; beyond, those whose reports are all older than the window are forgotten first.
const PEOPLE_MAX: usize = 10_000;

/// Reports filed per person in the last hour.
#[derive(Debug)]
pub struct ReportLimit {
    per_hour: u32,
    filed: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl ReportLimit {
    /// At most `per_hour` reports per person and hour; 0: no limit.
    pub fn new(per_hour: u32) -> ReportLimit {
        ReportLimit { per_hour, filed: Mutex::new(HashMap::new()) }
    }

    /// The limit per hour (0: none).
    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }

    /// Counts a report by `who` at `now`, if the limit allows it; `false` (nothing counted) if it does not.
    pub fn admit(&self, who: &str, now: Instant) -> bool {
        if self.per_hour == 0 {
            return true;
        }
        let mut filed = self.filed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if filed.len() >= PEOPLE_MAX {
            filed.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let times = filed.entry(who.to_owned()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            times.pop_front();
        }
        if times.len() >= self.per_hour as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_person_files_up_to_the_limit_per_hour() {
        let limit = ReportLimit::new(2);
        let t0 = Instant::now();
        assert!(limit.admit("sam", t0));
        assert!(limit.admit("sam", t0 + Duration::from_secs(1)));
        assert!(!limit.admit("sam", t0 + Duration::from_secs(2)), "the third in the hour");
        assert!(limit.admit("ann", t0 + Duration::from_secs(2)), "each person has their own count");
        assert!(!limit.admit("sam", t0 + WINDOW - Duration::from_secs(1)), "a refusal is not counted, still full");
        assert!(limit.admit("sam", t0 + WINDOW), "the first report left the window");
        assert!(ReportLimit::new(0).admit("sam", t0), "0: no limit");
    }
}
