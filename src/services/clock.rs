//! The time every decision is taken at. In production the system clock; a test may move it forward with
//! `[test_hooks] clock_offset_file` (never set in production): a file holding a number of seconds added to
//! the system clock, read at every use, so a test drives SLA breaches, escalation tiers and work hours by
//! writing the file instead of sleeping.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

/// The time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_file: Option<PathBuf>,
}

impl Clock {
    /// The clock a configuration sets.
    pub fn from_config(config: &crate::config::Config) -> Clock {
        Clock { offset_file: config.test_hooks.clock_offset_file.clone() }
    }

    /// Now: the system clock, plus the test's offset if there is one (a missing or unreadable file is none).
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        let Some(file) = &self.offset_file else { return now };
        let offset = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse::<i64>().ok()).unwrap_or(0);
        now + Duration::seconds(offset.clamp(-10 * 366 * 86_400, 10 * 366 * 86_400))
    }
}
