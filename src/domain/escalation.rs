//! Escalation paths (seed 000: severity "dictates ... escalation paths"): for each level, ordered tiers,
//! each "after N minutes unacknowledged, page these targets", so a CRITICAL incident nobody acknowledges
//! reaches infra operations and then management. A level without a path of its own re-pages the OCE and
//! the ISO every `[escalation] ack_timeout_secs`, `max_repages` times: the default path. Pure.

use chrono::Duration;
use serde::Deserialize;

use crate::domain::routing::{Routing, Target};
use crate::domain::severity::Level;

/// Tiers of one path, at most.
pub const MAX_TIERS: usize = 20;

/// One step of a path: after this long unacknowledged (since the first page at the level), page these.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Time since the first page at the level.
    pub after: Duration,
    /// Who is paged.
    pub targets: Vec<Target>,
}

/// `[[escalation.paths]]` as written: a level and its tiers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// The level the path is for: HIGH or CRITICAL (LOW and MEDIUM page no one).
    pub level: Level,
    /// Its tiers, in order.
    pub tiers: Vec<TierConfig>,
}

/// One tier as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Minutes since the first page at the level.
    pub after_mins: u32,
    /// `oce`, `iso`, or the name of a `[[paging.routes]]` entry.
    pub targets: Vec<String>,
}

/// No re-pages at any level.
pub static NONE: Escalation = Escalation { high: Vec::new(), critical: Vec::new() };

/// The escalation path of every level.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Escalation {
    high: Vec<Tier>,
    critical: Vec<Tier>,
}

impl Escalation {
    /// Paths from the configuration: `paths` where given, else the default path (the OCE and the ISO
    /// every `every`, `times` times; none when `every` is `None`). Refuses a target that is neither `oce`,
    /// `iso` nor a route of `routing`, tiers out of order, a path for LOW or MEDIUM, or two for one level.
    pub fn new(
        paths: &[PathConfig],
        every: Option<Duration>,
        times: u32,
        routing: &Routing,
    ) -> Result<Escalation, String> {
        let default: Vec<Tier> = match every {
            Some(every) => (1..=times)
                .map(|n| Tier {
                    after: every * i32::try_from(n).unwrap_or(i32::MAX),
                    targets: vec![Target::Oce, Target::Iso],
                })
                .collect(),
            None => Vec::new(),
        };
        let mut escalation = Escalation { high: default.clone(), critical: default };
        let mut seen = Vec::new();
        for path in paths {
            if !path.level.pages() {
                return Err(format!("a path for {} (LOW and MEDIUM page no one; use HIGH or CRITICAL)", path.level));
            }
            if seen.contains(&path.level) {
                return Err(format!("two paths for {}", path.level));
            }
            seen.push(path.level);
            if path.tiers.is_empty() || path.tiers.len() > MAX_TIERS {
                return Err(format!("the {} path needs 1 to {MAX_TIERS} tiers", path.level));
            }
            let mut tiers = Vec::new();
            let mut previous = 0;
            for tier in &path.tiers {
                if tier.after_mins <= previous || tier.after_mins > 7 * 24 * 60 {
                    return Err(format!(
                        "the {} path: after_mins must grow from tier to tier, from 1 to 10080 (got {} after {previous})",
                        path.level, tier.after_mins
                    ));
                }
                previous = tier.after_mins;
                if tier.targets.is_empty() {
                    return Err(format!("the {} path: a tier with no targets", path.level));
                }
                let targets = tier
                    .targets
                    .iter()
                    .map(|name| match name.as_str() {
                        "oce" => Ok(Target::Oce),
                        "iso" => Ok(Target::Iso),
                        route if routing.routes.iter().any(|r| r.name == route) => Ok(Target::Route(route.to_owned())),
                        other => Err(format!(
                            "the {} path: target `{other}` is not oce, iso or a [[paging.routes]] name",
                            path.level
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                tiers.push(Tier { after: Duration::minutes(i64::from(tier.after_mins)), targets });
            }
            match path.level {
                Level::Critical => escalation.critical = tiers,
                _ => escalation.high = tiers,
            }
        }
        Ok(escalation)
    }

    /// The tiers of `level` (none below HIGH).
    pub fn tiers(&self, level: Level) -> &[Tier] {
        match level {
            Level::Critical => &self.critical,
            Level::High => &self.high,
            _ => &[],
        }
    }

    /// Tier `n` (1 for the first re-page) of `level`, if the path has it.
    pub fn tier(&self, level: Level, n: u32) -> Option<&Tier> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.tiers(level).get(index)
    }

    /// How long after tier `n - 1` (or the first page, for `n` = 1) tier `n` of `level` falls due.
    pub fn wait_before(&self, level: Level, n: u32) -> Option<Duration> {
        let tier = self.tier(level, n)?;
        let before =
            if n <= 1 { Duration::zero() } else { self.tier(level, n - 1).map_or(Duration::zero(), |t| t.after) };
        Some(tier.after - before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing() -> Routing {
        let routes: Vec<crate::domain::routing::Route> = toml::from_str::<RoutesFile>(
            "[[routes]]\nname = \"infra-ops\"\ntopic_arn = \"arn:aws:sns:us-east-1:1:infra\"\nmin_level = \"HIGH\"\n\
             [[routes]]\nname = \"management\"\ntopic_arn = \"arn:aws:sns:us-east-1:1:mgmt\"\nmin_level = \"CRITICAL\"\n",
        )
        .unwrap()
        .routes;
        Routing { routes, clients: Vec::new() }
    }

    #[derive(Deserialize)]
    struct RoutesFile {
        routes: Vec<crate::domain::routing::Route>,
    }

    #[derive(Deserialize)]
    struct PathsFile {
        paths: Vec<PathConfig>,
    }

    fn paths(text: &str) -> Vec<PathConfig> {
        toml::from_str::<PathsFile>(text).unwrap().paths
    }

    #[test]
    fn the_default_path_repages_the_oce_and_the_iso_at_each_timeout() {
        let e = Escalation::new(&[], Some(Duration::minutes(15)), 3, &routing()).unwrap();
        for level in [Level::High, Level::Critical] {
            let afters: Vec<i64> = e.tiers(level).iter().map(|t| t.after.num_minutes()).collect();
            assert_eq!(afters, [15, 30, 45]);
            assert!(e.tiers(level).iter().all(|t| t.targets == [Target::Oce, Target::Iso]));
            assert_eq!(e.wait_before(level, 2), Some(Duration::minutes(15)));
        }
        assert!(e.tiers(Level::Medium).is_empty());
        assert!(Escalation::new(&[], None, 3, &routing()).unwrap().tiers(Level::High).is_empty());
    }

    #[test]
    fn a_critical_path_reaches_infra_operations_then_management() {
        let p = paths(
            "[[paths]]\nlevel = \"CRITICAL\"\ntiers = [\n\
               { after_mins = 15, targets = [\"oce\", \"iso\"] },\n\
               { after_mins = 30, targets = [\"infra-ops\"] },\n\
               { after_mins = 60, targets = [\"management\", \"iso\"] },\n]\n",
        );
        let e = Escalation::new(&p, Some(Duration::minutes(10)), 1, &routing()).unwrap();
        assert_eq!(e.tier(Level::Critical, 2).unwrap().targets, [Target::Route("infra-ops".into())]);
        assert_eq!(e.wait_before(Level::Critical, 1), Some(Duration::minutes(15)));
        assert_eq!(e.wait_before(Level::Critical, 3), Some(Duration::minutes(30)));
        assert_eq!(e.tier(Level::Critical, 4), None);
        assert_eq!(e.tier(Level::Critical, 0), None);
        // HIGH keeps the default path.
        assert_eq!(e.tiers(Level::High).len(), 1);
    }

    #[test]
    fn a_wrong_path_says_what_is_wrong() {
        let bad = |text: &str| Escalation::new(&paths(text), None, 0, &routing()).unwrap_err();
        assert!(bad("[[paths]]\nlevel = \"LOW\"\ntiers = [{ after_mins = 5, targets = [\"oce\"] }]").contains("LOW"));
        assert!(
            bad("[[paths]]\nlevel = \"HIGH\"\ntiers = [{ after_mins = 5, targets = [\"ops\"] }]").contains("`ops`")
        );
        assert!(bad("[[paths]]\nlevel = \"HIGH\"\ntiers = [{ after_mins = 5, targets = [\"oce\"] }, { after_mins = 5, targets = [\"iso\"] }]")
            .contains("must grow"));
        assert!(bad("[[paths]]\nlevel = \"HIGH\"\ntiers = []").contains("1 to 20 tiers"));
        assert!(bad("[[paths]]\nlevel = \"HIGH\"\ntiers = [{ after_mins = 5, targets = [] }]").contains("no targets"));
        let twice = "[[paths]]\nlevel = \"HIGH\"\ntiers = [{ after_mins = 5, targets = [\"oce\"] }]\n";
        assert!(bad(&format!("{twice}{twice}")).contains("two paths"));
    }
}
