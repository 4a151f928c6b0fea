//! Policy rules from the config: per-finding-type level floors, suppressions, and types kept closed. Pure.
//!
//! The procedure's High list (§3.3: "backdoors, malware, and malicious access to business data (e.g.
//! passwords...)") comes as three floors ([`PROCEDURE_FLOORS`]), because GuardDuty rates several of those
//! findings 5 (`Backdoor:EC2/Spambot`, `Trojan:EC2/DropPoint`): MEDIUM by the plain mapping, and nobody
//! would hear of them. `[policy] high_list = true` turns them on; every configuration the project ships sets
//! it. The program's own default stays the contract's plain mapping (CONTRACT.md fixes the levels of a
//! minimal configuration). A `[[policy.floors]]` entry named like one of them changes its types, level or
//! reason, or switches it off (`enabled = false`); entries with other names (or none) add rules. Where a
//! floor raises a level, the incident says which rule did and why ([`Rated::raised_by`]).

use serde::Deserialize;

use crate::domain::severity::Level;

/// `[policy]`: floors, suppressions, and types kept closed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The procedure's High list as floors ([`PROCEDURE_FLOORS`]): on in every shipped configuration; off
    /// when absent, where the contract's plain mapping applies.
    #[serde(default)]
    pub high_list: bool,
    /// `[[policy.floors]]`: changes to the procedure's floors, and more finding types that are always at
    /// least some level.
    #[serde(default)]
    pub floors: Vec<Floor>,
    /// `[[policy.suppress]]`: known-benign findings, recorded as suppressed incidents and never paged.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
    /// `[[policy.keep_closed]]`: finding types whose recurrence after close is recorded without reopening.
    #[serde(default)]
    pub keep_closed: Vec<KeepClosed>,
    /// `[[policy.health]]`: the level of AWS Health events, by event type code, category, service and
    /// status; the first rule that matches decides (floors still apply), none: the event's kind decides
    /// (`domain::finding::health::severity`).
    #[serde(default)]
    pub health: Vec<HealthRule>,
}

/// A level for the AWS Health events it matches: every list it sets must hold the event's value (`*`
/// patterns in `codes`); a list left empty matches anything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthRule {
    /// Event type codes, exact or with `*` (`AWS_RISK_*`, `AWS_EC2_*`).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Event categories: `issue`, `accountNotification`, `scheduledChange`, `investigation`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Services, as the event names them (`EC2`, `RDS`): e.g. those in use.
    #[serde(default)]
    pub services: Vec<String>,
    /// Statuses: `open`, `upcoming`, `closed`.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// The level of the events it matches.
    pub level: Level,
}

impl HealthRule {
    fn matches(&self, code: &str, event: &crate::domain::finding::health::HealthEvent) -> bool {
        let within =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v.eq_ignore_ascii_case(value));
        (self.codes.is_empty() || self.codes.iter().any(|c| matches(c, code)))
            && within(&self.categories, &event.category)
            && within(&self.services, &event.service)
            && within(&self.statuses, &event.status)
    }
}

/// Known-benign activity that may recur: a newer version of a closed incident's finding of these types is
/// recorded in the timeline, and the incident stays closed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepClosed {
    /// Finding types: exact, or patterns with `*` (`Recon:*`, `*MaliciousFile*`).
    pub types: Vec<String>,
    /// Why, recorded in the timeline.
    pub reason: String,
}

/// A minimum level for some finding types, as the config writes it: a rule of its own, or a change to one
/// of [`PROCEDURE_FLOORS`] (same `name`), where what is left out stays as shipped.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// The rule's name, shown where it raised a level; a name of [`PROCEDURE_FLOORS`] changes that rule.
    #[serde(default)]
    pub name: Option<String>,
    /// Finding types: exact (`Backdoor:EC2/C&CActivity.B!DNS`), or patterns with `*` (`Backdoor:*`).
    #[serde(default)]
    pub types: Vec<String>,
    /// The lowest level such a finding gets.
    #[serde(default)]
    pub level: Option<Level>,
    /// `false` switches the rule off.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Why such findings are at least that level, shown where the rule raised one.
    #[serde(default)]
    pub reason: Option<String>,
}

fn enabled() -> bool {
    true
}

/// One of the procedure's floors, on unless the config switches it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcedureFloor {
    /// Its name, for `[[policy.floors]]` entries that change it.
    pub name: &'static str,
    /// Finding types it applies to.
    pub types: &'static [&'static str],
    /// The lowest level it gives them.
    pub level: Level,
    /// Why, citing the procedure.
    pub reason: &'static str,
}

/// The procedure's High list (§3.3), as floors, on with `[policy] high_list = true`.
pub const PROCEDURE_FLOORS: [ProcedureFloor; 3] = [
    ProcedureFloor {
        name: "backdoors",
        types: &["Backdoor:*"],
        level: Level::High,
        reason: "backdoors are High (procedure §3.3)",
    },
    ProcedureFloor {
        name: "malware",
        types: &["Trojan:*", "*MaliciousFile*"],
        level: Level::High,
        reason: "malware is High (procedure §3.3)",
    },
    ProcedureFloor {
        name: "data-theft",
        types: &["CredentialAccess:*", "Exfiltration:*", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration*"],
        level: Level::High,
        reason: "malicious access to business data, passwords included, is High (procedure §3.3)",
    },
];

/// A finding's level under the policy, and the rule that raised it above the plain mapping, if one did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    /// The level.
    pub level: Level,
    /// `policy rule backdoors: backdoors are High (procedure §3.3)`, when a floor raised the level.
    pub raised_by: Option<String>,
}

/// A floor in force: a procedure floor (as the config left or changed it) or one of the config's own.
struct Rule<'a> {
    name: &'a str,
    shipped: &'static [&'static str],
    types: &'a [String],
    level: Level,
    reason: &'a str,
}

impl Rule<'_> {
    fn applies_to(&self, finding_type: &str) -> bool {
        if self.types.is_empty() {
            self.shipped.iter().any(|t| matches(t, finding_type))
        } else {
            self.types.iter().any(|t| matches(t, finding_type))
        }
    }
}

/// Findings that are recorded but never paged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Finding types (exact, or patterns with `*`); empty means any type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Account ids; empty means any account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Why, recorded on the incident.
    pub reason: String,
}

/// Whether `value` matches `pattern`, where `*` stands for any text (none included).
pub(crate) fn matches(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = value.strip_prefix(first) else { return false };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else { return rest.is_empty() };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn is_procedure_floor(name: Option<&str>) -> bool {
    name.is_some_and(|n| PROCEDURE_FLOORS.iter().any(|p| p.name == n))
}

impl Policy {
    /// The floors in force: the procedure's, as the config left or changed them, then the config's own.
    fn rules(&self) -> impl Iterator<Item = Rule<'_>> {
        let named = |name: &str| self.floors.iter().find(|f| f.name.as_deref() == Some(name));
        let on = if self.high_list { PROCEDURE_FLOORS.as_slice() } else { &[] };
        let procedure = on.iter().filter_map(move |p| match named(p.name) {
            None => Some(Rule { name: p.name, shipped: p.types, types: &[], level: p.level, reason: p.reason }),
            Some(f) if !f.enabled => None,
            Some(f) => Some(Rule {
                name: p.name,
                shipped: p.types,
                types: &f.types,
                level: f.level.unwrap_or(p.level),
                reason: f.reason.as_deref().unwrap_or(p.reason),
            }),
        });
        let own = self.floors.iter().filter(|f| f.enabled && !is_procedure_floor(f.name.as_deref())).map(|f| Rule {
            name: f.name.as_deref().unwrap_or("(unnamed)"),
            shipped: &[],
            types: &f.types,
            level: f.level.unwrap_or(Level::Low),
            reason: f.reason.as_deref().unwrap_or("a policy floor of this deployment"),
        });
        procedure.chain(own)
    }

    /// The level of a finding of `finding_type` whose severity maps to `mapped`: raised to the highest
    /// floor that matches, never lowered; with the rule that raised it, if one did.
    pub fn level(&self, finding_type: &str, mapped: Level) -> Rated {
        let top = self.rules().filter(|r| r.applies_to(finding_type)).fold(None::<Rule<'_>>, |top, r| match top {
            Some(t) if t.level >= r.level => Some(t),
            _ => Some(r),
        });
        match top {
            Some(rule) if rule.level > mapped => {
                Rated { level: rule.level, raised_by: Some(format!("policy rule {}: {}", rule.name, rule.reason)) }
            }
            _ => Rated { level: mapped, raised_by: None },
        }
    }

    /// The level of `f` under the policy: an AWS Health event's from the first `[[policy.health]]` rule
    /// that matches it (up or down, and saying so), then raised by any floor ([`Policy::level`]).
    pub fn rate(&self, f: &crate::domain::finding::Finding) -> Rated {
        let ruled = f.health.as_ref().and_then(|event| {
            let (i, rule) = self.health.iter().enumerate().find(|(_, r)| r.matches(&f.finding_type, event))?;
            Some((i, rule.level, event))
        });
        let Some((i, level, event)) = ruled else { return self.level(&f.finding_type, f.level) };
        let rated = self.level(&f.finding_type, level);
        let by = format!(
            "policy rule health[{i}]: {} {} events of {} are {level}",
            f.finding_type, event.status, event.service
        );
        Rated { raised_by: rated.raised_by.or((level != f.level).then_some(by)), level: rated.level }
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
            if f.types.iter().any(|t| t.trim().is_empty()) {
                return Err((format!("policy.floors[{i}].types"), "must not hold an empty type".into()));
            }
            if let Some(name) = &f.name
                && self.floors.iter().filter(|g| g.name.as_ref() == Some(name)).count() > 1
            {
                return Err((format!("policy.floors[{i}].name"), format!("{name:?} is named twice")));
            }
            if is_procedure_floor(f.name.as_deref()) {
                if !self.high_list {
                    let reason =
                        "changes a floor of the procedure's High list, which is off: set policy.high_list = true";
                    return Err((format!("policy.floors[{i}].name"), reason.into()));
                }
                continue;
            }
            if !f.enabled {
                continue;
            }
            if f.types.is_empty() {
                return Err((format!("policy.floors[{i}].types"), "must list at least one type".into()));
            }
            if f.level.is_none() {
                return Err((format!("policy.floors[{i}].level"), "is required for a rule of your own".into()));
            }
        }
        for (i, h) in self.health.iter().enumerate() {
            if [&h.codes, &h.categories, &h.services, &h.statuses].iter().any(|l| l.iter().any(|v| v.trim().is_empty()))
            {
                return Err((format!("policy.health[{i}]"), "must not hold an empty value".into()));
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

    fn floor(name: Option<&str>, types: &[&str], level: Option<Level>) -> Floor {
        Floor {
            name: name.map(str::to_owned),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            level,
            enabled: true,
            reason: None,
        }
    }

    fn policy() -> Policy {
        Policy {
            high_list: true,
            floors: vec![floor(Some("s3-data"), &["Exfiltration:S3/ObjectRead.Unusual"], Some(Level::Critical))],
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
            health: vec![],
        }
    }

    #[test]
    fn the_procedures_high_list_raises_what_it_names_and_says_so() {
        let p = Policy { high_list: true, ..Policy::default() };
        let table = [
            ("Backdoor:EC2/Spambot", Level::Medium, Level::High, Some("backdoors")),
            ("Backdoor:EC2/C&CActivity.B!DNS", Level::Critical, Level::Critical, None),
            ("Trojan:EC2/DropPoint", Level::Medium, Level::High, Some("malware")),
            ("Execution:EC2/MaliciousFile", Level::Low, Level::High, Some("malware")),
            ("Object:S3/MaliciousFile", Level::Medium, Level::High, Some("malware")),
            ("Execution:Runtime/MaliciousFileExecuted", Level::Medium, Level::High, Some("malware")),
            ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", Level::Medium, Level::High, Some("data-theft")),
            ("Exfiltration:S3/AnomalousBehavior", Level::Medium, Level::High, Some("data-theft")),
            (
                "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
                Level::Medium,
                Level::High,
                Some("data-theft"),
            ),
            ("UnauthorizedAccess:IAMUser/TorIPCaller", Level::Medium, Level::Medium, None),
            ("Recon:IAMUser/UserPermissions", Level::Medium, Level::Medium, None),
            ("Execution:EC2/SuspiciousFile", Level::Medium, Level::Medium, None),
        ];
        for (t, mapped, want, rule) in table {
            let plain = Policy::default().level(t, mapped);
            assert_eq!((plain.level, plain.raised_by), (mapped, None), "{t}: without the list, the plain mapping");
            let rated = p.level(t, mapped);
            assert_eq!(rated.level, want, "{t} {mapped}");
            match rule {
                Some(name) => {
                    let why = rated.raised_by.unwrap_or_default();
                    assert!(why.starts_with(&format!("policy rule {name}: ")) && why.contains("§3.3"), "{t}: {why}");
                }
                None => assert_eq!(rated.raised_by, None, "{t}: the plain mapping needs no reason"),
            }
        }
    }

    #[test]
    fn the_config_changes_or_switches_off_each_procedure_floor_and_adds_its_own() {
        let mut off = floor(Some("backdoors"), &[], None);
        off.enabled = false;
        let mut p = policy();
        p.floors.extend([off, floor(Some("malware"), &[], Some(Level::Critical))]);
        p.floors.push(Floor {
            reason: Some("our crown jewels".into()),
            ..floor(Some("data-theft"), &["Exfiltration:*"], None)
        });
        assert!(p.validate().is_ok(), "{:?}", p.validate());
        let table = [
            ("Backdoor:EC2/Spambot", Level::Medium, Level::Medium, None),
            (
                "Trojan:EC2/DropPoint",
                Level::Medium,
                Level::Critical,
                Some("policy rule malware: malware is High (procedure §3.3)"),
            ),
            (
                "Exfiltration:S3/AnomalousBehavior",
                Level::Low,
                Level::High,
                Some("policy rule data-theft: our crown jewels"),
            ),
            ("CredentialAccess:RDS/X", Level::Medium, Level::Medium, None),
            (
                "Exfiltration:S3/ObjectRead.Unusual",
                Level::Medium,
                Level::Critical,
                Some("policy rule s3-data: a policy floor of this deployment"),
            ),
        ];
        for (t, mapped, want, why) in table {
            let rated = p.level(t, mapped);
            assert_eq!((rated.level, rated.raised_by.as_deref()), (want, why), "{t}");
        }
    }

    #[test]
    fn patterns_match_with_stars_anywhere() {
        let table = [
            ("Backdoor:*", "Backdoor:EC2/Spambot", true),
            ("Backdoor:*", "Trojan:EC2/Backdoor:", false),
            ("*MaliciousFile*", "Object:S3/MaliciousFile", true),
            ("*MaliciousFile*", "Execution:Runtime/MaliciousFileExecuted", true),
            ("*MaliciousFile*", "Execution:EC2/SuspiciousFile", false),
            ("Execution:*/MaliciousFile", "Execution:ECS/MaliciousFile", true),
            ("Execution:*/MaliciousFile", "Execution:ECS/MaliciousFileX", false),
            ("Recon:EC2/Portscan", "Recon:EC2/Portscan", true),
            ("Recon:EC2/Portscan", "Recon:EC2/PortscanX", false),
            ("*a*a", "a", false),
        ];
        for (pattern, value, want) in table {
            assert_eq!(matches(pattern, value), want, "{pattern} {value}");
        }
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
    fn rules_that_match_everything_or_say_too_little_are_refused() {
        let mut p = policy();
        assert!(p.validate().is_ok());
        p.suppress.push(Suppression { types: vec![], accounts: vec![], reason: "all".into() });
        assert_eq!(p.validate().unwrap_err().0, "policy.suppress[3]");
        let cases = [
            (vec![floor(None, &[], Some(Level::High))], "policy.floors[0].types"),
            (vec![floor(Some("mine"), &["X:*"], None)], "policy.floors[0].level"),
            (vec![floor(None, &[" "], Some(Level::High))], "policy.floors[0].types"),
            (vec![floor(Some("malware"), &[], None), floor(Some("malware"), &[], None)], "policy.floors[0].name"),
        ];
        for (floors, key) in cases {
            let p = Policy { floors, high_list: true, ..Policy::default() };
            assert_eq!(p.validate().unwrap_err().0, key);
        }
        let list_off = Policy { floors: vec![floor(Some("malware"), &[], None)], ..Policy::default() };
        let (key, reason) = list_off.validate().unwrap_err();
        assert_eq!(key, "policy.floors[0].name");
        assert!(reason.contains("high_list = true"), "{reason}");
    }

    #[test]
    fn health_level_rules_set_the_level_of_the_events_they_match() {
        let rules: Policy = toml::from_str(
            r#"
            [[health]]
            codes = ["AWS_EC2_*"]
            categories = ["issue"]
            services = ["EC2", "RDS"]
            statuses = ["open"]
            level = "HIGH"

            [[health]]
            categories = ["issue"]
            level = "LOW"

            [[health]]
            codes = ["AWS_RISK_*"]
            level = "CRITICAL"
            "#,
        )
        .unwrap();
        let event = |code: &str, service: &str, category: &str, status: &str| {
            let e = serde_json::json!({
                "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "AWS Health Event",
                "source": "aws.health", "account": "123456789012", "time": "2026-11-20T10:15:30Z",
                "region": "us-west-2", "resources": [],
                "detail": {
                    "eventArn": format!("arn:aws:health:us-west-2::event/{service}/{code}/{code}_7f35c8ae"),
                    "eventTypeCode": code, "eventTypeCategory": category, "statusCode": status,
                    "lastUpdatedTime": "Fri, 20 Nov 2026 10:05:00 GMT", "affectedAccount": "123456789012"
                }
            });
            match crate::domain::finding::read(&e.to_string()) {
                Ok(crate::domain::finding::Parsed::Finding(f)) => *f,
                other => panic!("{other:?}"),
            }
        };
        let cases = [
            // An open issue on a service this company runs on: HIGH; elsewhere LOW (the default says MEDIUM).
            (event("AWS_EC2_OPERATIONAL_ISSUE", "EC2", "issue", "open"), Level::High, true),
            (event("AWS_LAMBDA_OPERATIONAL_ISSUE", "LAMBDA", "issue", "open"), Level::Low, true),
            (event("AWS_RISK_CREDENTIALS_EXPOSED", "IAM", "accountNotification", "open"), Level::Critical, true),
            // No rule matches: the event's kind decides, as without rules.
            (event("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "EC2", "scheduledChange", "upcoming"), Level::Low, false),
        ];
        for (finding, level, said) in cases {
            let rated = rules.rate(&finding);
            assert_eq!(rated.level, level, "{}", finding.finding_type);
            assert_eq!(rated.raised_by.is_some(), said, "{}: {rated:?}", finding.finding_type);
        }
        let none = Policy::default();
        assert_eq!(none.rate(&event("AWS_EC2_OPERATIONAL_ISSUE", "EC2", "issue", "open")).level, Level::Medium);
        let bad: Policy = toml::from_str("[[health]]\nservices = [\"\"]\nlevel = \"LOW\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().0, "policy.health[0]");
    }
}
