//! The procedure's four severity levels and the mapping from GuardDuty's numeric severity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An incident's level, as the incident-management procedure defines it (§3.3).
///
/// Ordered: `Low < Medium < High < Critical`, so "the highest level any version had" is `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// No immediate remediation needed; nobody is paged.
    Low,
    /// Like low (suspicious email, unusual laptop activity); nobody is paged.
    Medium,
    /// An attack is likely (backdoor, malware, malicious access to data): page the OCE and the ISO.
    High,
    /// An attack succeeded and something important was lost: page the OCE and the ISO.
    Critical,
}

/// Every level, lowest first.
pub const LEVELS: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::Critical];

impl Level {
    /// Maps GuardDuty's numeric severity: LOW below 4.0, MEDIUM below 7.0, HIGH below 9.0,
    /// CRITICAL from 9.0 to 10.0. Returns `None` for anything that is not a number in [0, 10].
    pub fn from_score(score: f64) -> Option<Level> {
        if !score.is_finite() || !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(if score < 4.0 {
            Level::Low
        } else if score < 7.0 {
            Level::Medium
        } else if score < 9.0 {
            Level::High
        } else {
            Level::Critical
        })
    }

    /// Whether reaching this level pages people (the procedure: only High and Critical).
    pub fn pages(self) -> bool {
        self >= Level::High
    }

    /// The contract's spelling: `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
            Level::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a level: expected LOW, MEDIUM, HIGH or CRITICAL")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LEVELS.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_boundary() {
        let table: &[(f64, Option<Level>)] = &[
            (0.0, Some(Level::Low)),
            (1.0, Some(Level::Low)),
            (3.9, Some(Level::Low)),
            (3.999_999, Some(Level::Low)),
            (4.0, Some(Level::Medium)),
            (4.0, Some(Level::Medium)),
            (5.5, Some(Level::Medium)),
            (6.9, Some(Level::Medium)),
            (7.0, Some(Level::High)),
            (8.0, Some(Level::High)),
            (8.9, Some(Level::High)),
            (9.0, Some(Level::Critical)),
            (9.3, Some(Level::Critical)),
            (10.0, Some(Level::Critical)),
            (10.000_001, None),
            (11.0, None),
            (-0.1, None),
            (-1.0, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
        ];
        for &(score, want) in table {
            assert_eq!(Level::from_score(score), want, "score {score}");
        }
    }

    #[test]
    fn only_high_and_critical_page() {
        assert!(!Level::Low.pages());
        assert!(!Level::Medium.pages());
        assert!(Level::High.pages());
        assert!(Level::Critical.pages());
    }

    #[test]
    fn levels_are_ordered_and_round_trip() {
        assert!(Level::Low < Level::Medium && Level::Medium < Level::High && Level::High < Level::Critical);
        for level in LEVELS {
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            assert_eq!(level.as_str().to_lowercase().parse::<Level>(), Ok(level));
        }
        assert!("SEVERE".parse::<Level>().is_err());
    }
}
