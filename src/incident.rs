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

use crate::finding::Finding;
use crate::severity::Level;
use crate::timestamp;

/// Where an incident is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created; nobody has acknowledged it yet.
    Open,
}

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who receives a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The on-call engineer's topic.
    Oce,
    /// The information security officer's topic.
    Iso,
}

impl Target {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Oce => "oce",
            Target::Iso => "iso",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is paged when an incident reaches a paging level.
pub const PAGE_TARGETS: [Target; 2] = [Target::Oce, Target::Iso];

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
}

/// The key of a page in [`Incident::pages`]: `HIGH:oce`.
pub fn page_key(level: Level, target: Target) -> String {
    format!("{level}:{target}")
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
    /// Bumped by every write; writes are conditional on it (optimistic concurrency).
    pub version: u64,
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
}

impl Incident {
    /// The incident a finding seen for the first time becomes, owing its pages.
    pub fn create(incident_id: String, f: &Finding, ctx: &Ctx) -> Incident {
        let mut incident = Incident {
            incident_id,
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            finding_id: f.id.clone(),
            finding_type: f.finding_type.clone(),
            severity: f.level,
            status: Status::Open,
            title: f.title.clone(),
            description: f.description.clone(),
            created_at: ctx.now,
            updated_at: ctx.now,
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
            pages: BTreeMap::new(),
            version: 0,
        };
        incident.owe_pages(f.level, ctx);
        incident
    }

    /// The order key of the version last applied.
    pub fn finding_version(&self) -> crate::finding::Version {
        crate::finding::Version { updated_at: self.finding_updated_at, count: self.finding_count }
    }

    /// Records the pages owed for reaching `level`, claimed by `ctx.claimant`; unsent pages of lower
    /// levels to the same target are superseded (one page announces the level actually reached).
    fn owe_pages(&mut self, level: Level, ctx: &Ctx) {
        if !level.pages() {
            return;
        }
        for target in PAGE_TARGETS {
            for page in self.pages.values_mut() {
                if page.target == target && page.level < level && page.state == PageState::Owed {
                    page.state = PageState::Superseded;
                    page.claimed_by = None;
                    page.claim_until = None;
                }
            }
            self.pages.entry(page_key(level, target)).or_insert_with(|| Page {
                level,
                target,
                state: PageState::Owed,
                owed_at: ctx.now,
                claimed_by: Some(ctx.claimant.to_owned()),
                claim_until: Some(ctx.now + ctx.claim_for),
                sent_at: None,
                message_id: None,
            });
        }
    }
}

/// What a version of a finding does to its incident: `None` when nothing changes (a redelivery, or an
/// older version at the same or a lower level), else the incident to write.
///
/// A newer version (by `updatedAt`, then `service.count`) replaces the details; any version may raise the
/// level, and raising to HIGH or CRITICAL makes pages owed. A level is never lowered.
pub fn apply(existing: &Incident, f: &Finding, ctx: &Ctx) -> Option<Incident> {
    let newer = f.version() > existing.finding_version();
    let raised = f.level > existing.severity;
    if !newer && !raised {
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
    if raised {
        next.severity = f.level;
        next.owe_pages(f.level, ctx);
    }
    next.updated_at = ctx.now;
    Some(next)
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

/// Records pages as sent, with SNS's message ids; `None` if they all already are.
pub fn mark_sent(incident: &Incident, sent: &[(String, String)], now: DateTime<Utc>) -> Option<Incident> {
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
        next
    })
}

#[cfg(test)]
mod tests;
