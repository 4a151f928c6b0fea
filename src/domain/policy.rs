//! Policy rules from the config: per-finding-type level floors, and suppressions. Pure. With no rules, the
//! contract's plain mapping applies.

use serde::Deserialize;

use crate::domain::severity::Level;

/// `[policy]`: floors and suppressions.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// `[[policy.floors]]`: finding types that are always at least some level.
    #[serde(default)]
    pub floors: Vec<Floor>,
    /// `[[policy.suppress]]`: known-benign findings, recorded as suppressed incidents and never paged.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
    /// `[[policy.keep_closed]]`: finding types whose recurrence after close is recorded without reopening.
    #[serde(default)]
    pub keep_closed: Vec<KeepClosed>,
}

/// Known-benign activity that may recur: a newer version of a closed incident's finding of these types is
/// recorded in the timeline, and the incident stays closed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepClosed {
    /// Finding types, exact or `prefix*`.
    pub types: Vec<String>,
    /// Why, recorded in the timeline.
    pub reason: String,
}

/// A minimum level for some finding types.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// Finding types, exact (`Backdoor:EC2/C&CActivity.B!DNS`) or a prefix ending in `*` (`Backdoor:*`).
    pub types: Vec<String>,
    /// The lowest level such a finding gets.
    pub level: Level,
}

/// Findings that are recorded but never paged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Finding types (exact or `prefix*`); empty means any type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Account ids; empty means any account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Why, recorded on the incident.
    pub reason: String,
}

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

impl Policy {
    /// The level of a finding of `finding_type` whose severity maps to `mapped`: raised to the highest
    /// floor that matches, never lowered.
    pub fn level(&self, finding_type: &str, mapped: Level) -> Level {
        self.floors
            .iter()
            .filter(|f| f.types.iter().any(|t| matches(t, finding_type)))
            .map(|f| f.level)
            .fold(mapped, Level::max)
    }

    /// The reason a finding is suppressed, if a rule matches both its type and its account.
    pub fn suppression(&self, finding_type: &str, account_id: &str) -> Option<&str> {
        self.suppress
            .iter()
            .find(|s| {
                (s.types.is_empty() || s.types.iter().any(|t| matches(t, finding_type)))
                    && (s.accounts.is_empty() || s.accounts.iter().any(|a| a == account_id))
            })
            .map(|s| s.reason.as_str())
    }

    /// The reason a recurrence of `finding_type` after close keeps the incident closed, if a rule says so.
    pub fn keep_closed(&self, finding_type: &str) -> Option<&str> {
        self.keep_closed.iter().find(|k| k.types.iter().any(|t| matches(t, finding_type))).map(|k| k.reason.as_str())
    }

    /// Checks what serde cannot: every rule says what it applies to. Returns the key and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (i, f) in self.floors.iter().enumerate() {
            if f.types.is_empty() || f.types.iter().any(|t| t.trim().is_empty()) {
                return Err((format!("policy.floors[{i}].types"), "must list at least one non-empty type".into()));
            }
        }
        for (i, s) in self.suppress.iter().enumerate() {
            if s.types.is_empty() && s.accounts.is_empty() {
                return Err((
                    format!("policy.suppress[{i}]"),
                    "must name types or accounts (a rule matching everything would silence every page)".into(),
                ));
            }
            if s.reason.trim().is_empty() {
                return Err((format!("policy.suppress[{i}].reason"), "must not be empty".into()));
            }
        }
        for (i, k) in self.keep_closed.iter().enumerate() {
            if k.types.is_empty() || k.types.iter().any(|t| t.trim().is_empty()) {
                return Err((format!("policy.keep_closed[{i}].types"), "must list at least one non-empty type".into()));
            }
            if k.reason.trim().is_empty() {
                return Err((format!("policy.keep_closed[{i}].reason"), "must not be empty".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            floors: vec![
                Floor { types: vec!["Backdoor:*".into(), "Trojan:*".into()], level: Level::High },
                Floor { types: vec!["Exfiltration:S3/ObjectRead.Unusual".into()], level: Level::Critical },
            ],
            suppress: vec![
                Suppression {
                    types: vec!["Recon:EC2/PortProbeUnprotectedPort".into()],
                    accounts: vec![],
                    reason: "scanner".into(),
                },
                Suppression { types: vec![], accounts: vec!["111111111111".into()], reason: "sandbox".into() },
                Suppression {
                    types: vec!["UnauthorizedAccess:*".into()],
                    accounts: vec!["222222222222".into()],
                    reason: "pentest".into(),
                },
            ],
            keep_closed: vec![],
        }
    }

    #[test]
    fn floors_raise_and_never_lower() {
        let p = policy();
        let table = [
            ("Backdoor:EC2/C&CActivity.B!DNS", Level::Low, Level::High),
            ("Backdoor:EC2/C&CActivity.B!DNS", Level::Critical, Level::Critical),
            ("Trojan:EC2/DNSDataExfiltration", Level::Medium, Level::High),
            ("Exfiltration:S3/ObjectRead.Unusual", Level::Medium, Level::Critical),
            ("Exfiltration:S3/ObjectRead.UnusualX", Level::Medium, Level::Medium),
            ("Recon:EC2/Portscan", Level::Low, Level::Low),
        ];
        for (t, mapped, want) in table {
            assert_eq!(p.level(t, mapped), want, "{t} {mapped}");
        }
        assert_eq!(Policy::default().level("Backdoor:EC2/X", Level::Low), Level::Low, "no rules: plain mapping");
    }

    #[test]
    fn suppressions_match_type_and_account() {
        let p = policy();
        let table = [
            ("Recon:EC2/PortProbeUnprotectedPort", "123456789012", Some("scanner")),
            ("Backdoor:EC2/X", "111111111111", Some("sandbox")),
            ("UnauthorizedAccess:EC2/SSHBruteForce", "222222222222", Some("pentest")),
            ("UnauthorizedAccess:EC2/SSHBruteForce", "123456789012", None),
            ("Backdoor:EC2/X", "123456789012", None),
        ];
        for (t, account, want) in table {
            assert_eq!(p.suppression(t, account), want, "{t} {account}");
        }
    }

    #[test]
    fn rules_that_match_everything_are_refused() {
        let mut p = policy();
        assert!(p.validate().is_ok());
        p.suppress.push(Suppression { types: vec![], accounts: vec![], reason: "all".into() });
        assert_eq!(p.validate().unwrap_err().0, "policy.suppress[3]");
        let p = Policy { floors: vec![Floor { types: vec![], level: Level::High }], ..Policy::default() };
        assert_eq!(p.validate().unwrap_err().0, "policy.floors[0].types");
    }
}
