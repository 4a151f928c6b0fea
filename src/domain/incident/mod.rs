//! What an incident becomes when a version of its finding arrives, and which pages it then owes. Pure:
//! no I/O and no clock; the caller passes `now` and the ids.
//!
//! The paging rule (CONTRACT.md): each time an incident first reaches HIGH, and again when it first reaches
//! CRITICAL, one page goes to each target. Because a level never goes down, "first reaches" is simply "is
//! raised to". A page is recorded as *owed* in the same conditional write that raises the level, *claimed*
//! by the worker that will publish it, and marked *sent* after the publish. A worker that finds a page owed
//! and unclaimed (or whose claim ran out, because its claimant died) claims it and publishes it; a page
//! claimed by someone else is left to them, and the message waits until the claim runs out.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::finding::Finding;
use crate::domain::policy::Policy;
pub use crate::domain::routing::{PAGE_TARGETS, Routing, Target};
use crate::domain::severity::Level;
use crate::domain::timestamp;

/// Where an incident is in its lifecycle (procedure §3.3-3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created; nobody has acknowledged it yet.
    Open,
    /// A responder has taken it (stops escalation).
    Acknowledged,
    /// Being investigated.
    Investigating,
    /// The exploitation is contained.
    Contained,
    /// Remediated; awaiting closure notes.
    Resolved,
    /// Closed with notes (and, where required, the post-mortem).
    Closed,
    /// Recorded but never paged: a suppression rule matched.
    Suppressed,
}

/// Every status, in lifecycle order.
pub const STATUSES: [Status; 7] = [
    Status::Open,
    Status::Acknowledged,
    Status::Investigating,
    Status::Contained,
    Status::Resolved,
    Status::Closed,
    Status::Suppressed,
];

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Investigating => "investigating",
            Status::Contained => "contained",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Suppressed => "suppressed",
        }
    }

    /// Whether responders still work it (not closed, not suppressed).
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Closed | Status::Suppressed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        STATUSES.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            let all: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).collect();
            format!("`{s}` is not a status: expected one of {}", all.join(", "))
        })
    }
}

/// Where an incident came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A GuardDuty finding.
    #[default]
    Guardduty,
    /// Reported by a member of staff (procedure §3.2).
    Staff,
}

/// The state of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageState {
    /// Due, not yet published (or published and not yet recorded).
    Owed,
    /// Published.
    Sent,
    /// Never published: a higher level's page to the same target replaced it before it went out.
    Superseded,
}

/// One page an incident owes or has sent, stored on the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The level the page announces.
    pub level: Level,
    /// Who receives it.
    pub target: Target,
    /// Owed, sent or superseded.
    pub state: PageState,
    /// When it became owed.
    #[serde(with = "timestamp::required")]
    pub owed_at: DateTime<Utc>,
    /// The worker that will publish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// Until when that claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub claim_until: Option<DateTime<Utc>>,
    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub sent_at: Option<DateTime<Utc>>,
    /// SNS's message id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// 0 for the page of reaching the level; n for the n-th re-page of an unacknowledged incident.
    #[serde(default)]
    pub escalation: u32,
    /// For a client's update notice: the status it announces (`contained`, `resolved`, `closed`); `None`
    /// for the page or notice of reaching the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Status>,
}

impl Page {
    /// A page owed now, claimed by `ctx.claimant` for `ctx.claim_for`.
    fn owed(level: Level, target: Target, escalation: u32, update: Option<Status>, ctx: &Ctx) -> Page {
        Page {
            level,
            target,
            state: PageState::Owed,
            owed_at: ctx.now,
            claimed_by: Some(ctx.claimant.to_owned()),
            claim_until: Some(ctx.now + ctx.claim_for),
            sent_at: None,
            message_id: None,
            escalation,
            update,
        }
    }
}

/// The key of a page in [`Incident::pages`]: `HIGH:oce`, `HIGH:route:infra-ops`, or `HIGH:oce:esc2` for the
/// second re-page.
pub fn page_key(level: Level, target: &Target, escalation: u32) -> String {
    match escalation {
        0 => format!("{level}:{target}"),
        n => format!("{level}:{target}:esc{n}"),
    }
}

/// The post-mortem and closure of an incident (procedure §3.4-3.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    /// Who closed it.
    pub by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// The investigation and the corrective actions taken.
    pub notes: String,
    /// What caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// What was learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lessons_learned: Option<String>,
    /// Long-term mitigations recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigations: Option<String>,
    /// What it cost, as the responders estimate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_estimate: Option<String>,
    /// Whether a lawyer is involved (attorney-client privilege).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_counsel: Option<bool>,
    /// Whether affected customers were, or must be, notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers_notified: Option<bool>,
    /// Whether the appropriate authorities were notified (procedure §3.7); required for CRITICAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities_notified: Option<bool>,
}

/// A person's decision on an incident's level (procedure §3.3: the OCE identifies the severity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Who decided.
    pub by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// The level decided.
    pub level: Level,
    /// The level before the decision.
    pub previous: Level,
    /// Why, in the person's words.
    pub reason: String,
    /// The highest numeric severity of the finding when the person decided: a later version raises the level
    /// again only with a severity above this.
    pub finding_severity: f64,
}

/// A tracked security incident: the contract's attributes and what a responder needs to see.
///
/// Serialised with the contract's attribute names; the store adds its keys and `record_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Never changes once created.
    pub incident_id: String,
    /// Account of the finding.
    pub account_id: String,
    /// Region of the finding.
    pub region: String,
    /// GuardDuty's finding id.
    pub finding_id: String,
    /// Type of the latest version.
    pub finding_type: String,
    /// The highest level any version had (never lowered by a finding).
    pub severity: Level,
    /// Lifecycle state.
    pub status: Status,
    /// Title of the latest version.
    pub title: String,
    /// Description of the latest version.
    #[serde(default)]
    pub description: String,
    /// When the incident was created.
    #[serde(with = "timestamp::required")]
    pub created_at: DateTime<Utc>,
    /// When the incident was last changed.
    #[serde(with = "timestamp::required")]
    pub updated_at: DateTime<Utc>,
    /// GuardDuty's `service.count` of the latest version.
    pub finding_count: u64,
    /// GuardDuty's numeric severity of the latest version.
    pub finding_severity: f64,
    /// The highest numeric severity any version had.
    pub max_finding_severity: f64,
    /// `updatedAt` of the latest version: with `finding_count`, orders versions.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub finding_updated_at: Option<DateTime<Utc>>,
    /// When the activity was first seen (earliest over versions).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the activity was last seen (latest over versions).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub last_seen: Option<DateTime<Utc>>,
    /// GuardDuty's resource type (`Instance`, `AccessKey`, ...).
    pub resource_type: String,
    /// One line about the affected resource.
    pub resource: String,
    /// The finding in the GuardDuty console.
    pub console_url: String,
    /// The detector that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_id: Option<String>,
    /// Pages owed and sent, by [`page_key`].
    #[serde(default)]
    pub pages: BTreeMap<String, Page>,
    /// A finding, or a person.
    #[serde(default)]
    pub source: Source,
    /// Insider misconduct (procedure §3.2): pages the ISO only, hidden from ordinary lists.
    #[serde(default)]
    pub confidential: bool,
    /// Who reported it, for staff reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
    /// Why it is suppressed, when a rule matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_reason: Option<String>,
    /// Who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The person or team handling it (procedure §3.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Data was lost: closing requires the post-mortem.
    #[serde(default)]
    pub data_loss: bool,
    /// Services were impacted: closing requires the post-mortem.
    #[serde(default)]
    pub service_impact: bool,
    /// Set when closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<Closure>,
    /// The latest manual classification, if a person set the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Re-pages sent at the current level because nobody acknowledged.
    #[serde(default)]
    pub escalations: u32,
    /// When the next re-page is due, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub escalate_at: Option<DateTime<Utc>>,
    /// Bumped by every write; writes are conditional on it (optimistic concurrency).
    pub version: u64,
}

/// One entry of an incident's append-only log: who did what, when, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it was recorded.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// Who: a person's name, `guardduty`, or `gd-incidents` for the daemon.
    pub by: String,
    /// What, e.g. `finding.created`, `ack`, `note`, `close`.
    pub action: String,
    /// One line for people.
    pub summary: String,
    /// For timeline notes: when what is described happened (e.g. what the attacker did, and when).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The changed fields before.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub before: serde_json::Value,
    /// The changed fields after.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub after: serde_json::Value,
}

impl Event {
    /// An event with no field changes recorded.
    pub fn new(at: DateTime<Utc>, by: &str, action: &str, summary: impl Into<String>) -> Event {
        Event {
            at,
            by: by.to_owned(),
            action: action.to_owned(),
            summary: summary.into(),
            occurred_at: None,
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
        }
    }

    /// Records the fields that differ between two versions of an incident.
    pub fn with_diff(mut self, before: &Incident, after: &Incident) -> Event {
        let (b, a) = diff(before, after);
        self.before = b;
        self.after = a;
        self
    }
}

/// The fields that differ between two incidents (bookkeeping fields left out), as two JSON objects.
pub fn diff(before: &Incident, after: &Incident) -> (serde_json::Value, serde_json::Value) {
    const SKIP: [&str; 4] = ["version", "updated_at", "pages", "escalate_at"];
    let (Ok(serde_json::Value::Object(b)), Ok(serde_json::Value::Object(a))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return (serde_json::Value::Null, serde_json::Value::Null);
    };
    let mut was = serde_json::Map::new();
    let mut now = serde_json::Map::new();
    for key in a.keys().chain(b.keys()) {
        if SKIP.contains(&key.as_str()) || was.contains_key(key) || now.contains_key(key) {
            continue;
        }
        let (old, new) = (b.get(key), a.get(key));
        if old != new {
            was.insert(key.clone(), old.cloned().unwrap_or(serde_json::Value::Null));
            now.insert(key.clone(), new.cloned().unwrap_or(serde_json::Value::Null));
        }
    }
    (serde_json::Value::Object(was), serde_json::Value::Object(now))
}

/// What the caller supplies to the pure functions: the time, and who is acting.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The current time.
    pub now: DateTime<Utc>,
    /// A unique id of this processing attempt: it claims the pages it will publish.
    pub claimant: &'a str,
    /// How long a claim holds before another worker may take over the page.
    pub claim_for: Duration,
    /// Floors and suppressions.
    pub policy: &'a Policy,
    /// Re-page an unacknowledged HIGH or CRITICAL incident after this long; `None`: never.
    pub escalate_after: Option<Duration>,
    /// Stakeholder routes and clients, besides the OCE and the ISO.
    pub routing: &'a Routing,
}

impl Incident {
    /// An open incident created at `now` with nothing known yet: the base that findings and staff reports fill.
    pub fn open(now: DateTime<Utc>) -> Incident {
        Incident {
            incident_id: String::new(),
            account_id: String::new(),
            region: String::new(),
            finding_id: String::new(),
            finding_type: String::new(),
            severity: Level::Low,
            status: Status::Open,
            title: String::new(),
            description: String::new(),
            created_at: now,
            updated_at: now,
            finding_count: 0,
            finding_severity: 0.0,
            max_finding_severity: 0.0,
            finding_updated_at: None,
            first_seen: None,
            last_seen: None,
            resource_type: String::new(),
            resource: String::new(),
            console_url: String::new(),
            detector_id: None,
            pages: BTreeMap::new(),
            source: Source::Guardduty,
            confidential: false,
            reported_by: None,
            suppressed_reason: None,
            acknowledged_by: None,
            acknowledged_at: None,
            assignee: None,
            data_loss: false,
            service_impact: false,
            closure: None,
            classification: None,
            escalations: 0,
            escalate_at: None,
            version: 0,
        }
    }

    /// The incident a finding seen for the first time becomes, owing its pages, and the log entry.
    pub fn create(incident_id: String, f: &Finding, ctx: &Ctx) -> (Incident, Event) {
        let level = ctx.policy.level(&f.finding_type, f.level);
        let suppressed = ctx.policy.suppression(&f.finding_type, &f.account_id).map(str::to_owned);
        let mut incident = Incident {
            incident_id,
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            finding_id: f.id.clone(),
            finding_type: f.finding_type.clone(),
            severity: level,
            status: if suppressed.is_some() { Status::Suppressed } else { Status::Open },
            title: f.title.clone(),
            description: f.description.clone(),
            finding_count: f.count,
            finding_severity: f.severity,
            max_finding_severity: f.severity,
            finding_updated_at: f.updated_at,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            resource_type: f.resource.kind.clone(),
            resource: f.resource.summary.clone(),
            console_url: f.console_url(),
            detector_id: f.detector_id.clone(),
            suppressed_reason: suppressed,
            ..Incident::open(ctx.now)
        };
        incident.owe_pages(level, 0, ctx);
        let mut summary =
            format!("{level} incident from GuardDuty finding {} (severity {})", f.finding_type, f.severity);
        if let Some(reason) = &incident.suppressed_reason {
            summary.push_str(&format!("; suppressed: {reason}"));
        }
        let event = Event::new(ctx.now, "guardduty", "finding.created", summary);
        (incident, event)
    }

    /// The order key of the version last applied.
    pub fn finding_version(&self) -> crate::domain::finding::Version {
        crate::domain::finding::Version { updated_at: self.finding_updated_at, count: self.finding_count }
    }

    /// Who is paged at `level`: the ISO alone for confidential incidents (insider misconduct: no route, no
    /// client), else the OCE, the ISO, and the routes and client `routing` gives for the account and level.
    pub fn page_targets(&self, level: Level, routing: &Routing) -> Vec<Target> {
        if self.confidential {
            return vec![Target::Iso];
        }
        let mut targets = PAGE_TARGETS.to_vec();
        targets.extend(routing.targets(&self.account_id, level));
        targets
    }

    /// Records the pages owed for reaching `level` (or for its `escalation`-th re-page), claimed by
    /// `ctx.claimant`; unsent pages of lower levels to the same target are superseded (one page announces
    /// the level actually reached). Schedules the next re-page while nobody has acknowledged.
    pub(crate) fn owe_pages(&mut self, level: Level, escalation: u32, ctx: &Ctx) {
        if !level.pages() || self.status == Status::Suppressed {
            return;
        }
        // Re-pages wake the OCE and the ISO again; stakeholders and clients are told once per level.
        let targets = match escalation {
            0 => self.page_targets(level, ctx.routing),
            _ => self.page_targets(level, &Routing::NONE),
        };
        for target in targets {
            if escalation == 0 {
                for page in self.pages.values_mut() {
                    let level_page = page.update.is_none();
                    if page.target == target && level_page && page.level < level && page.state == PageState::Owed {
                        page.state = PageState::Superseded;
                        page.claimed_by = None;
                        page.claim_until = None;
                    }
                }
            }
            self.pages
                .entry(page_key(level, &target, escalation))
                .or_insert_with(|| Page::owed(level, target, escalation, None, ctx));
        }
        if escalation == 0 {
            self.escalations = 0;
        }
        self.escalate_at = match ctx.escalate_after {
            Some(after) if self.acknowledged_at.is_none() && self.status.is_active() => Some(ctx.now + after),
            _ => None,
        };
    }
}

impl Incident {
    /// After a person moved the incident from `before` to its current status: the update notices owed to
    /// the clients already told of it (the client procedure's "regular updates as investigations
    /// progress"), when it became contained, resolved or closed. Each status is announced once per client
    /// and level. Confidential incidents never reach a client.
    pub fn owe_updates(&mut self, before: Status, ctx: &Ctx) {
        let status = self.status;
        if status == before
            || self.confidential
            || !matches!(status, Status::Contained | Status::Resolved | Status::Closed)
        {
            return;
        }
        let told: std::collections::BTreeSet<Target> = self
            .pages
            .values()
            .filter(|p| p.target.is_client() && p.update.is_none() && p.state != PageState::Superseded)
            .map(|p| p.target.clone())
            .collect();
        let level = self.severity;
        for target in told {
            let key = format!("{}:{status}", page_key(level, &target, 0));
            self.pages.entry(key).or_insert_with(|| Page::owed(level, target, 0, Some(status), ctx));
        }
    }

    /// Whether `next` owes a page or notice that this version did not.
    pub fn owes_more(&self, next: &Incident) -> bool {
        next.pages
            .iter()
            .any(|(k, p)| p.state == PageState::Owed && self.pages.get(k).is_none_or(|o| o.state != PageState::Owed))
    }
}

/// What a version of a finding does to its incident: `None` when nothing changes (a redelivery, or an
/// older version at the same or a lower level), else the incident to write and its log entry.
///
/// A newer version (by `updatedAt`, then `service.count`) replaces the details; any version may raise the
/// level, and raising to HIGH or CRITICAL makes pages owed. A level is never lowered. After a person
/// classified the incident, only a version whose severity is above the finding's severity at that time may
/// raise it: the person's decision stands against the evidence they already weighed.
pub fn apply(existing: &Incident, f: &Finding, ctx: &Ctx) -> Option<(Incident, Event)> {
    let level = ctx.policy.level(&f.finding_type, f.level);
    let newer = f.version() > existing.finding_version();
    let beyond_decision = existing.classification.as_ref().is_none_or(|c| f.severity > c.finding_severity);
    let raised = level > existing.severity && beyond_decision;
    // An older version may still carry a higher numeric severity than any seen: keep the maximum exact.
    let higher_score = f.severity > existing.max_finding_severity;
    if !newer && !raised && !higher_score {
        return None;
    }
    let mut next = existing.clone();
    if newer {
        next.finding_type = f.finding_type.clone();
        next.title = f.title.clone();
        next.description = f.description.clone();
        next.finding_count = f.count;
        next.finding_severity = f.severity;
        next.finding_updated_at = f.updated_at;
        next.resource_type = f.resource.kind.clone();
        next.resource = f.resource.summary.clone();
        if f.detector_id.is_some() {
            next.detector_id = f.detector_id.clone();
        }
    }
    next.max_finding_severity = next.max_finding_severity.max(f.severity);
    next.first_seen = earliest(next.first_seen, f.first_seen);
    next.last_seen = latest(next.last_seen, f.last_seen);
    let summary = if raised {
        next.severity = level;
        next.owe_pages(level, 0, ctx);
        format!("raised {} -> {level} by a version with severity {} (count {})", existing.severity, f.severity, f.count)
    } else if newer {
        format!("newer version: severity {}, count {}", f.severity, f.count)
    } else {
        format!("an older version with a higher severity ({}) arrived late", f.severity)
    };
    next.updated_at = ctx.now;
    let action = if raised { "finding.raised" } else { "finding.updated" };
    let event = Event::new(ctx.now, "guardduty", action, summary).with_diff(existing, &next);
    Some((next, event))
}

/// The re-page due now for an incident nobody acknowledged: `None` if none is due. At most `max` re-pages
/// per level; a later raise starts the count again. Only one writer wins the conditional write of the
/// result, so several daemons send one re-page per due time.
pub fn escalate(incident: &Incident, max: u32, ctx: &Ctx) -> Option<(Incident, Event)> {
    let due = incident.escalate_at.filter(|at| *at <= ctx.now)?;
    let mut next = incident.clone();
    next.updated_at = ctx.now;
    if incident.acknowledged_at.is_some() || !incident.status.is_active() || incident.escalations >= max {
        next.escalate_at = None;
        let event = Event::new(ctx.now, "gd-incidents", "escalation.stopped", "no further re-pages");
        return Some((next, event));
    }
    next.escalations += 1;
    let n = next.escalations;
    next.owe_pages(incident.severity, n, ctx);
    if n >= max {
        next.escalate_at = None;
    }
    let summary = format!(
        "not acknowledged since {}: re-page {n} of {max} at {}",
        crate::domain::timestamp::format(due),
        incident.severity
    );
    Some((next, Event::new(ctx.now, "gd-incidents", "escalation", summary)))
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// Which owed pages a worker may publish now, which it must claim first, and until when others hold theirs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PagePlan {
    /// Claimed by this worker and still within the claim: publish them.
    pub mine: Vec<String>,
    /// Owed and free (never claimed, or the claim ran out): claim them, then publish.
    pub claimable: Vec<String>,
    /// The earliest time a page claimed by another worker is freed, if any is.
    pub held_until: Option<DateTime<Utc>>,
}

impl PagePlan {
    /// Nothing owed at all.
    pub fn is_done(&self) -> bool {
        self.mine.is_empty() && self.claimable.is_empty() && self.held_until.is_none()
    }
}

/// Sorts the owed pages of `incident` for the worker `ctx.claimant`.
pub fn page_plan(incident: &Incident, ctx: &Ctx) -> PagePlan {
    let mut plan = PagePlan::default();
    for (key, page) in &incident.pages {
        if page.state != PageState::Owed {
            continue;
        }
        let live_claim = page.claim_until.filter(|until| *until > ctx.now);
        match (page.claimed_by.as_deref(), live_claim) {
            (Some(who), Some(_)) if who == ctx.claimant => plan.mine.push(key.clone()),
            (Some(_), Some(until)) => {
                plan.held_until = Some(plan.held_until.map_or(until, |h| h.min(until)));
            }
            _ => plan.claimable.push(key.clone()),
        }
    }
    plan
}

/// Claims the given owed pages for `ctx.claimant`; `None` if none of them is still claimable.
pub fn claim(incident: &Incident, keys: &[String], ctx: &Ctx) -> Option<Incident> {
    let claimable = page_plan(incident, ctx).claimable;
    let mut next = incident.clone();
    let mut changed = false;
    for key in keys.iter().filter(|k| claimable.contains(k)) {
        if let Some(page) = next.pages.get_mut(key) {
            page.claimed_by = Some(ctx.claimant.to_owned());
            page.claim_until = Some(ctx.now + ctx.claim_for);
            changed = true;
        }
    }
    changed.then_some(next)
}

/// Gives up pages whose route or client is no longer configured (nobody to send them to), so they do not
/// hold the message back for ever; `None` if none of them is still owed.
pub fn drop_pages(incident: &Incident, keys: &[String], now: DateTime<Utc>) -> Option<(Incident, Event)> {
    let mut next = incident.clone();
    let mut dropped = Vec::new();
    for key in keys {
        if let Some(page) = next.pages.get_mut(key).filter(|p| p.state == PageState::Owed) {
            page.state = PageState::Superseded;
            page.claimed_by = None;
            page.claim_until = None;
            dropped.push(key.as_str());
        }
    }
    (!dropped.is_empty()).then(|| {
        next.updated_at = now;
        let summary = format!("not sent, its route or client is no longer configured: {}", dropped.join(", "));
        let event = Event::new(now, "gd-incidents", "page.dropped", summary);
        (next, event)
    })
}

/// Records pages as sent, with SNS's message ids; `None` if they all already are.
pub fn mark_sent(incident: &Incident, sent: &[(String, String)], now: DateTime<Utc>) -> Option<(Incident, Event)> {
    let mut next = incident.clone();
    let mut changed = false;
    for (key, message_id) in sent {
        // A page superseded while it was being published was still published: record the truth.
        if let Some(page) = next.pages.get_mut(key).filter(|p| p.state != PageState::Sent) {
            page.state = PageState::Sent;
            page.sent_at = Some(now);
            page.message_id = Some(message_id.clone());
            page.claim_until = None;
            changed = true;
        }
    }
    changed.then(|| {
        next.updated_at = now;
        let keys: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
        let event = Event::new(now, "gd-incidents", "page.sent", format!("paged {}", keys.join(", ")));
        (next, event)
    })
}

#[cfg(test)]
mod tests;
