//! Properties of the severity mapping and of what versions of a finding do to its incident, over
//! generated inputs, through the public API only.
//!
//! `cargo test --test properties` runs 256 cases per property. For a longer search:
//!
//!     PROPTEST_CASES=100000 cargo test --release --test properties
//!
//! A failing case is shrunk to a minimal one, printed, and its seed saved in
//! `tests/properties.proptest-regressions`, which is replayed first from then on (commit it with the fix).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use gd_incidents::domain::finding::{Finding, Origin, Resource, Version};
use gd_incidents::domain::incident::{self, Ctx, Incident, PageState, Target, claim, page_plan};
use gd_incidents::domain::policy::Policy;
use gd_incidents::domain::severity::Level;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

// ---------------------------------------------------------------------------------------------------------
// Inputs

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap() + Duration::minutes(i64::from(minute))
}

/// The contract's boundaries and the ends of [0, 10], with their neighbouring floats.
fn boundary_scores() -> Vec<f64> {
    [0.0, 4.0, 7.0, 9.0, 10.0].into_iter().flat_map(|b: f64| [b.next_down(), b, b.next_up()]).collect()
}

/// A GuardDuty severity in [0, 10]: anywhere, in tenths (as GuardDuty writes them), or at a boundary.
fn score() -> impl Strategy<Value = f64> {
    let at_boundaries: Vec<f64> = boundary_scores().into_iter().filter(|s| (0.0..=10.0).contains(s)).collect();
    prop_oneof![0.0..=10.0f64, (0u32..=100).prop_map(|n| f64::from(n) / 10.0), prop::sample::select(at_boundaries),]
}

/// One version of the finding, as GuardDuty sends it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct V {
    /// `updatedAt`, in minutes; absent in a few.
    updated: Option<u32>,
    /// `service.count`.
    count: u64,
    severity: f64,
}

impl V {
    fn version(&self) -> Version {
        Version { updated_at: self.updated.map(t), count: self.count }
    }

    fn level(&self) -> Level {
        Level::from_score(self.severity).unwrap()
    }

    fn tag(&self) -> String {
        format!("{:?}.{}", self.updated, self.count)
    }

    /// Every detail depends on (updatedAt, count) alone, so versions that tie are identical.
    fn finding(&self) -> Finding {
        Finding {
            id: "f1".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            finding_type: format!("Type/{}", self.tag()),
            severity: self.severity,
            level: self.level(),
            title: format!("title {}", self.tag()),
            description: format!("description {}", self.tag()),
            resource: Resource { kind: "Instance".into(), summary: format!("EC2 instance i-{}", self.tag()) },
            targets: Default::default(),
            created_at: Some(t(0)),
            updated_at: self.updated.map(t),
            first_seen: self.updated.map(t),
            last_seen: self.updated.map(t),
            count: self.count,
            detector_id: None,
            arn: None,
            event_id: None,
            origin: Origin::GuardDuty,
            link: None,
            source_closed: false,
            signals: Vec::new(),
            health: None,
        }
    }
}

/// Arrivals of the versions of one finding, in SQS order: a few distinct versions (distinct by updatedAt
/// and count, each with its own severity), each arriving any number of times (redeliveries) in any order.
fn arrivals() -> impl Strategy<Value = Vec<V>> {
    let key = (prop::option::weighted(0.9, 0u32..30), 0u64..4);
    prop::collection::btree_map(key, score(), 1..6).prop_flat_map(|pool| {
        let pool: Vec<V> =
            pool.into_iter().map(|((updated, count), severity)| V { updated, count, severity }).collect();
        prop::collection::vec(prop::sample::select(pool), 1..12)
    })
}

// ---------------------------------------------------------------------------------------------------------
// Driving the pure functions as the daemon does

const CLAIM_FOR: i64 = 60;

fn ctx<'a>(policy: &'a Policy, claimant: &'a str, now: DateTime<Utc>) -> Ctx<'a> {
    Ctx { claimant, claim_for: Duration::seconds(CLAIM_FOR), ..Ctx::defaults(now, policy) }
}

fn create(f: &Finding, c: &Ctx) -> Incident {
    Incident::create("inc-1".into(), f, c).0
}

fn apply(existing: &Incident, f: &Finding, c: &Ctx) -> Option<Incident> {
    incident::apply(existing, f, c).map(|(next, _event)| next)
}

fn mark_sent(existing: &Incident, keys: &[String], now: DateTime<Utc>) -> Option<Incident> {
    let sent: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("msg-{k}"))).collect();
    incident::mark_sent(existing, &sent, now).map(|(next, _event)| next)
}

fn owed_keys(incident: &Incident) -> Vec<String> {
    incident.pages.iter().filter(|(_, p)| p.state == PageState::Owed).map(|(k, _)| k.clone()).collect()
}

/// The incident after all arrivals, and every (target, level) that was made owed along the way, in order.
struct Fed {
    incident: Incident,
    made_owed: Vec<(Target, Level)>,
}

/// Feeds the arrivals one by one; after the i-th, the pages owed are published when `send[i]`. Checks what
/// must hold at every step: the level never goes down, a redelivery writes nothing, only HIGH and CRITICAL
/// page, and a target is owed at most one page at a time.
fn feed(arrivals: &[V], send: &[bool]) -> Result<Fed, TestCaseError> {
    let policy = Policy::default();
    let mut current: Option<Incident> = None;
    let mut made_owed = Vec::new();
    let mut minute = 100;
    for (i, v) in arrivals.iter().enumerate() {
        let f = v.finding();
        minute += 1;
        let c = ctx(&policy, "worker", t(minute));
        let next = match &current {
            None => Some(create(&f, &c)),
            Some(existing) => apply(existing, &f, &c),
        };
        if let Some(next) = next {
            let empty = BTreeMap::new();
            let before = current.as_ref().map_or(&empty, |inc| &inc.pages);
            for (key, page) in &next.pages {
                if page.state == PageState::Owed && before.get(key).is_none_or(|p| p.state != PageState::Owed) {
                    made_owed.push((page.target.clone(), page.level));
                }
            }
            if let Some(prev) = &current {
                prop_assert!(next.severity >= prev.severity, "level lowered {} -> {}", prev.severity, next.severity);
            }
            prop_assert!(next.pages.values().all(|p| p.level.pages()), "a page below HIGH: {:?}", next.pages);
            for target in [Target::Oce, Target::Iso] {
                let owed = next.pages.values().filter(|p| p.target == target && p.state == PageState::Owed).count();
                prop_assert!(owed <= 1, "{owed} pages owed to {target}: {:?}", next.pages);
            }
            current = Some(next);
        }
        let incident = current.as_ref().unwrap();

        // The same message again (SQS redelivers) changes nothing.
        minute += 1;
        prop_assert!(
            apply(incident, &f, &ctx(&policy, "other", t(minute))).is_none(),
            "redelivery of {v:?} wrote again"
        );

        if send.get(i).copied().unwrap_or(false) {
            let keys = owed_keys(incident);
            if !keys.is_empty() {
                minute += 1;
                let sent = mark_sent(incident, &keys, t(minute));
                prop_assert!(sent.is_some(), "sending owed pages {keys:?} wrote nothing");
                current = sent;
            }
        }
    }
    Ok(Fed { incident: current.unwrap(), made_owed })
}

/// The details an incident shows, which must be those of the newest version.
fn details(incident: &Incident) -> (String, String, u64, Option<DateTime<Utc>>, u64) {
    (
        incident.title.clone(),
        incident.finding_type.clone(),
        incident.finding_count,
        incident.finding_updated_at,
        incident.finding_severity.to_bits(),
    )
}

/// The default configuration (256 cases, or `PROPTEST_CASES`), with failures saved next to this file.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Level::from_score

proptest! {
    #![proptest_config(config())]

    #[test]
    fn from_score_is_total_on_0_to_10(score in score()) {
        prop_assert!(Level::from_score(score).is_some(), "{score}");
    }

    #[test]
    fn from_score_is_none_exactly_outside_0_to_10(score in any::<f64>()) {
        let valid = score.is_finite() && (0.0..=10.0).contains(&score);
        prop_assert_eq!(Level::from_score(score).is_some(), valid, "{}", score);
    }

    #[test]
    fn from_score_is_none_for_nan_infinities_and_out_of_range(
        score in prop_oneof![
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (0.0f64).next_down()..-0.0,
            f64::MIN..(0.0f64).next_down(),
            (10.0f64).next_up()..f64::MAX,
        ]
    ) {
        prop_assert_eq!(Level::from_score(score), None, "{}", score);
    }

    #[test]
    fn from_score_is_monotonic(a in score(), b in score()) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(Level::from_score(lo) <= Level::from_score(hi), "{lo} -> {:?}, {hi} -> {:?}",
            Level::from_score(lo), Level::from_score(hi));
    }

    #[test]
    fn from_score_follows_the_contract_bands(score in score()) {
        let want = if score < 4.0 {
            Level::Low
        } else if score < 7.0 {
            Level::Medium
        } else if score < 9.0 {
            Level::High
        } else {
            Level::Critical
        };
        prop_assert_eq!(Level::from_score(score), Some(want), "{}", score);
    }
}

#[test]
fn from_score_boundaries_are_exactly_4_7_and_9() {
    for (boundary, below, at) in
        [(4.0f64, Level::Low, Level::Medium), (7.0, Level::Medium, Level::High), (9.0, Level::High, Level::Critical)]
    {
        assert_eq!(Level::from_score(boundary.next_down()), Some(below), "just below {boundary}");
        assert_eq!(Level::from_score(boundary), Some(at), "at {boundary}");
        assert_eq!(Level::from_score(boundary.next_up()), Some(at), "just above {boundary}");
    }
    assert_eq!(Level::from_score(0.0), Some(Level::Low));
    assert_eq!(Level::from_score(-0.0), Some(Level::Low));
    assert_eq!(Level::from_score(10.0), Some(Level::Critical));
    assert_eq!(Level::from_score((0.0f64).next_down()), None);
    assert_eq!(Level::from_score((10.0f64).next_up()), None);
}

// ---------------------------------------------------------------------------------------------------------
// Versions of one finding

proptest! {
    #![proptest_config(config())]

    /// The level is the highest any version had; the details are the newest version's; redeliveries and
    /// older versions write nothing once seen.
    #[test]
    fn incident_holds_the_max_level_and_the_newest_details(
        arrivals in arrivals(),
        send in prop::collection::vec(any::<bool>(), 12),
    ) {
        let Fed { incident, .. } = feed(&arrivals, &send)?;
        let max_level = arrivals.iter().map(V::level).max().unwrap();
        prop_assert_eq!(incident.severity, max_level);

        let newest = arrivals.iter().max_by_key(|v| v.version()).unwrap();
        let newest_inc = create(&newest.finding(), &ctx(&Policy::default(), "w", t(0)));
        prop_assert_eq!(details(&incident), details(&newest_inc), "newest is {:?}", newest);
        prop_assert_eq!(incident.finding_version(), newest.version());

        // Every version already seen, delivered again at the end, writes nothing.
        let policy = Policy::default();
        for v in &arrivals {
            let c = ctx(&policy, "late", t(1000));
            prop_assert!(apply(&incident, &v.finding(), &c).is_none(), "{:?} wrote again", v);
        }
    }

    /// Per target: one HIGH page when the incident first reaches HIGH, one CRITICAL page when it first
    /// reaches CRITICAL, no HIGH page if it got to CRITICAL without being HIGH first, and nothing else.
    #[test]
    fn pages_follow_the_contract(
        arrivals in arrivals(),
        send in prop::collection::vec(any::<bool>(), 12),
    ) {
        let Fed { incident, made_owed } = feed(&arrivals, &send)?;
        let max_level = arrivals.iter().map(V::level).max().unwrap();
        let first_paging = arrivals.iter().map(V::level).find(|l| l.pages());
        let mut want = BTreeSet::new();
        if first_paging == Some(Level::High) {
            want.insert(Level::High);
        }
        if max_level == Level::Critical {
            want.insert(Level::Critical);
        }
        for target in [Target::Oce, Target::Iso] {
            let levels: Vec<Level> = made_owed.iter().filter(|(tg, _)| *tg == target).map(|(_, l)| *l).collect();
            let distinct: BTreeSet<Level> = levels.iter().copied().collect();
            prop_assert_eq!(levels.len(), distinct.len(), "a level owed twice to {}: {:?}", target, levels);
            prop_assert!(levels.iter().all(|l| l.pages()), "{:?}", levels);
            prop_assert_eq!(&distinct, &want, "pages owed to {}", target);
            if max_level == Level::Critical {
                let critical = incident.pages.values().find(|p| p.target == target && p.level == Level::Critical);
                prop_assert!(
                    critical.is_some_and(|p| p.state != PageState::Superseded),
                    "no live CRITICAL page to {}: {:?}", target, incident.pages
                );
            }
        }
    }

    /// SQS's order does not matter: any order of the same deliveries ends in the same level and details.
    #[test]
    fn every_order_ends_the_same(
        (a, b) in arrivals().prop_flat_map(|v| (Just(v.clone()).prop_shuffle(), Just(v).prop_shuffle())),
    ) {
        let x = feed(&a, &[])?.incident;
        let y = feed(&b, &[])?.incident;
        prop_assert_eq!(x.severity, y.severity, "orders {:?} and {:?}", a, b);
        prop_assert_eq!(details(&x), details(&y), "orders {:?} and {:?}", a, b);
    }

    /// Owed pages are each either mine, claimable or held by someone else; a worker can claim the
    /// claimable ones, which are then its own until the claim runs out.
    #[test]
    fn claims_partition_the_owed_pages(
        arrivals in arrivals(),
        after in 0i64..(3 * CLAIM_FOR),
        me in prop::sample::select(vec!["worker", "other"]),
    ) {
        let incident = feed(&arrivals, &[])?.incident;
        let policy = Policy::default();
        let now = incident.updated_at + Duration::seconds(after);
        let c = ctx(&policy, me, now);
        let plan = page_plan(&incident, &c);
        let owed: BTreeSet<String> = owed_keys(&incident).into_iter().collect();
        let mine: BTreeSet<String> = plan.mine.iter().cloned().collect();
        let free: BTreeSet<String> = plan.claimable.iter().cloned().collect();
        prop_assert!(mine.is_disjoint(&free));
        prop_assert!(mine.is_subset(&owed) && free.is_subset(&owed));
        let held = owed.len() - mine.len() - free.len();
        prop_assert_eq!(held > 0, plan.held_until.is_some(), "{:?}", plan);
        match claim(&incident, &plan.claimable, &c) {
            None => prop_assert!(free.is_empty()),
            Some(claimed) => {
                let replan = page_plan(&claimed, &c);
                let now_mine: BTreeSet<String> = replan.mine.into_iter().collect();
                prop_assert!(now_mine.is_superset(&free) && now_mine.is_superset(&mine));
                prop_assert!(replan.claimable.is_empty());
                // Someone else sees them held until the claim runs out, then free.
                let other = if me == "worker" { "other" } else { "worker" };
                let theirs = page_plan(&claimed, &ctx(&policy, other, now));
                prop_assert!(theirs.held_until.is_some_and(|u| u > now));
                let later = page_plan(&claimed, &ctx(&policy, other, now + Duration::seconds(CLAIM_FOR)));
                prop_assert!(free.iter().all(|k| later.claimable.contains(k)), "{:?}", later);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// `Incident::max_finding_severity` is "the highest numeric severity any version had", whatever the
    /// arrival order (found by this property: an older version at the same level used to be ignored whole).
    #[test]
    fn max_numeric_severity_is_over_all_versions(
        (a, b) in arrivals().prop_flat_map(|v| (Just(v.clone()).prop_shuffle(), Just(v).prop_shuffle())),
    ) {
        let max_severity = a.iter().map(|v| v.severity).fold(f64::MIN, f64::max);
        prop_assert_eq!(feed(&a, &[])?.incident.max_finding_severity, max_severity, "arrivals {:?}", a);
        prop_assert_eq!(feed(&b, &[])?.incident.max_finding_severity, max_severity, "arrivals {:?}", b);
    }
}
