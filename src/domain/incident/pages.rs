//! Which pages an incident owes and to whom, and the bookkeeping of sending them: claim, drop, mark sent,
//! and the re-page of an unacknowledged incident.

use chrono::{DateTime, Utc};

use super::{Ctx, Event, Incident, Page, PageState, Status};
use crate::domain::routing::{PAGE_TARGETS, Routing, Target};
use crate::domain::severity::Level;

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
            reopening: 0,
            breach: None,
        }
    }

    /// A notice owed now that `incident` missed `goal` at `level`.
    pub(crate) fn breach_notice(level: Level, target: Target, goal: crate::domain::sla::Goal, ctx: &Ctx) -> Page {
        Page { breach: Some(goal), ..Page::owed(level, target, 0, None, ctx) }
    }
}

/// The key of a page in [`Incident::pages`]: `HIGH:oce`, `HIGH:route:infra-ops`, `HIGH:oce:esc2` for the
/// second re-page, `HIGH:oce:reopen1` for the page of the first reopening (and `HIGH:oce:reopen1:esc1` for
/// its re-page), so a reopening pages again at a level already paged.
pub fn page_key(level: Level, target: &Target, escalation: u32, reopening: u32) -> String {
    let mut key = format!("{level}:{target}");
    if reopening > 0 {
        key.push_str(&format!(":reopen{reopening}"));
    }
    if escalation > 0 {
        key.push_str(&format!(":esc{escalation}"));
    }
    key
}

impl Incident {
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
        // A confidential report goes to the ISO at every level (procedure 3.2); anything else pages from HIGH.
        if !(level.pages() || self.confidential) || self.status == Status::Suppressed {
            return;
        }
        // Re-pages go to the targets of the escalation path's tier (the ISO alone for a confidential incident);
        // stakeholders and clients are told once per level.
        let targets = match escalation {
            0 => self.page_targets(level, ctx.routing),
            _ if self.confidential => vec![Target::Iso],
            n => ctx.escalation.tier(level, n).map(|t| t.targets.clone()).unwrap_or_default(),
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
            // Re-pages count within the current reopening, so those of an earlier one do not hide them.
            let reopening = if escalation > 0 { self.reopenings } else { 0 };
            self.pages
                .entry(page_key(level, &target, escalation, reopening))
                .or_insert_with(|| Page { reopening, ..Page::owed(level, target, escalation, None, ctx) });
        }
        if escalation == 0 {
            self.escalations = 0;
            self.escalate_at = self.first_escalation(level, ctx);
        }
    }

    /// When the first tier of `level`'s escalation path falls due, if the incident is to be re-paged.
    fn first_escalation(&self, level: Level, ctx: &Ctx) -> Option<DateTime<Utc>> {
        let unacknowledged = self.acknowledged_at.is_none() && self.status.is_active() && level.pages();
        unacknowledged.then(|| ctx.escalation.wait_before(level, 1)).flatten().map(|wait| ctx.now + wait)
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
            let key = format!("{}:{status}", page_key(level, &target, 0, 0));
            self.pages.entry(key).or_insert_with(|| Page::owed(level, target, 0, Some(status), ctx));
        }
    }

    /// After the finding recurred on a closed incident (the `reopenings`-th time): the pages of that
    /// reopening, `kind` = `reopened`. The OCE and the ISO at HIGH or CRITICAL (the ISO alone for a
    /// confidential incident, at any level), and every route and client told of the incident before (a client
    /// gets an update notice). Schedules re-pages as reaching a level does.
    pub(crate) fn owe_reopening(&mut self, ctx: &Ctx) {
        if self.status == Status::Suppressed {
            return;
        }
        let (level, n) = (self.severity, self.reopenings);
        let mut targets: Vec<Target> =
            if level.pages() || self.confidential { self.page_targets(level, &Routing::NONE) } else { Vec::new() };
        let told: std::collections::BTreeSet<Target> = self
            .pages
            .values()
            .filter(|p| !matches!(p.target, Target::Oce | Target::Iso) && p.state != PageState::Superseded)
            .map(|p| p.target.clone())
            .collect();
        if !self.confidential {
            targets.extend(told);
        }
        for target in targets {
            let update = target.is_client().then_some(Status::Open);
            let mut key = page_key(level, &target, 0, n);
            if update.is_some() {
                key.push_str(":open");
            }
            self.pages.entry(key).or_insert_with(|| Page { reopening: n, ..Page::owed(level, target, 0, update, ctx) });
        }
        self.escalations = 0;
        self.escalate_at = self.first_escalation(level, ctx);
    }

    /// When the daemon must next look at the incident: a re-page falls due, or the claim on a page still owed
    /// lapses (a page never claimed is due at once). `None` when nothing is owed or scheduled. Stored as the
    /// key of a sparse index, so that no owed page is forgotten, whoever owed it and whatever became of them.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        let owed =
            self.pages.values().filter(|p| p.state == PageState::Owed).map(|p| p.claim_until.unwrap_or(p.owed_at));
        let actions = self.actions.iter().filter_map(|a| a.due_at());
        owed.chain(actions).chain(self.escalate_at).chain(self.sla_due_at).min()
    }
}

/// The re-page due now for an incident nobody acknowledged: the next tier of its level's escalation path
/// (see [`crate::domain::escalation`]); `None` if none is due. A later raise starts the path again. Only one
/// writer wins the conditional write of the result, so several daemons send one re-page per due time.
pub fn escalate(incident: &Incident, ctx: &Ctx) -> Option<(Incident, Event)> {
    let due = incident.escalate_at.filter(|at| *at <= ctx.now)?;
    let mut next = incident.clone();
    next.updated_at = ctx.now;
    let (level, n) = (incident.severity, incident.escalations + 1);
    let tiers = ctx.escalation.tiers(level).len();
    let tier = ctx.escalation.tier(level, n);
    if incident.acknowledged_at.is_some() || !incident.status.is_active() || tier.is_none() {
        next.escalate_at = None;
        let event = Event::new(ctx.now, "gd-incidents", "escalation.stopped", "no further re-pages");
        return Some((next, event));
    }
    next.escalations = n;
    next.owe_pages(level, n, ctx);
    // Each tier counts from when the one before fell due, so a late round does not push the path back.
    next.escalate_at = ctx.escalation.wait_before(level, n + 1).map(|wait| due + wait);
    next.wind_clock(ctx);
    let whom: Vec<String> = match tier {
        Some(t) if !incident.confidential => t.targets.iter().map(ToString::to_string).collect(),
        _ => vec![Target::Iso.to_string()],
    };
    let summary = format!(
        "not acknowledged since {}: re-page {n} of {tiers} at {level}, to {}",
        crate::domain::timestamp::format(
            due - ctx.escalation.tier(level, n).map_or(chrono::Duration::zero(), |t| t.after)
        ),
        whom.join(", ")
    );
    Some((next, Event::new(ctx.now, "gd-incidents", "escalation", summary)))
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
