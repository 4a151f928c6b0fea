//! What responders do to an incident (procedure §3.2-3.6): acknowledge, assign, note, move through the
//! statuses, close with notes (and the post-mortem where required), reopen; and staff reports. Pure: each
//! action is checked and turns an incident into its next version plus the log entry that records it.

use chrono::{DateTime, Utc};

use crate::domain::containment::{self, record, record::Requested};
use crate::domain::incident::{Classification, Closure, Ctx, Event, Incident, Source, Status};
use crate::domain::severity::Level;

/// A responder's action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Take the incident; stops re-paging.
    Ack,
    /// Hand it to a person or team.
    Assign {
        /// Who.
        to: String,
    },
    /// A timeline entry.
    Note {
        /// What.
        text: String,
        /// When what is described happened (what the attacker did, and when), if not now.
        occurred_at: Option<DateTime<Utc>>,
    },
    /// `investigating`, `contained` or `resolved`.
    SetStatus(Status),
    /// Record data loss or service impact (either makes the post-mortem required at closure).
    Mark {
        /// Data was lost.
        data_loss: bool,
        /// Services were impacted.
        service_impact: bool,
    },
    /// Close with notes and, where required, the post-mortem.
    Close(CloseInput),
    /// Reopen a closed incident.
    Reopen {
        /// Why.
        reason: Option<String>,
    },
    /// Add a follow-up action (procedure §3.1), also after close.
    AddFollowUp {
        /// What is to be done.
        text: String,
        /// Who owns it.
        owner: String,
        /// By when.
        due: DateTime<Utc>,
    },
    /// Mark follow-up action `n` done, also after close.
    FollowUpDone {
        /// Its number.
        n: u32,
    },
    /// Ask the daemon to carry out a containment action on the incident's resource (or approve another
    /// person's request, as the second approver).
    Contain {
        /// The action.
        action: containment::Action,
        /// The verified identity asking (an ARN from STS); `None`: the name acting is verified (the portal's
        /// signed-in address, the daemon's policy).
        identity: Option<String>,
    },
    /// Ask the daemon to reverse a containment action carried out.
    Undo(containment::Action),
}

/// What a responder gives when closing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloseInput {
    /// The investigation and the corrective actions taken (always required).
    pub notes: String,
    /// What caused it.
    pub root_cause: Option<String>,
    /// What was learned.
    pub lessons_learned: Option<String>,
    /// Long-term mitigations recommended.
    pub mitigations: Option<String>,
    /// The estimated cost.
    pub cost_estimate: Option<String>,
    /// Whether a lawyer is involved.
    pub legal_counsel: Option<bool>,
    /// Whether affected customers were, or must be, notified.
    pub customers_notified: Option<bool>,
    /// Whether the appropriate authorities were notified (procedure §3.7); required for CRITICAL.
    pub authorities_notified: Option<bool>,
}

/// Why an action was refused. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The incident is closed.
    #[error("incident {0} is closed: reopen it first (gd-incidents incidents reopen {0})")]
    Closed(String),
    /// Reopen of an incident that is not closed.
    #[error("incident {0} is not closed")]
    NotClosed(String),
    /// Acknowledged already.
    #[error("incident {id} was already acknowledged by {by}")]
    AlreadyAcknowledged {
        /// The incident.
        id: String,
        /// Who acknowledged it.
        by: String,
    },
    /// `status` takes only the working statuses.
    #[error(
        "status `{0}` cannot be set directly: use investigating, contained or resolved (ack, close and reopen are commands)"
    )]
    NotASettableStatus(Status),
    /// A required value is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// Closing without the post-mortem where the procedure requires it.
    #[error("closing incident {id} requires the post-mortem ({why}); missing: {}", missing.join(", "))]
    MissingPostMortem {
        /// The incident.
        id: String,
        /// Why it is required.
        why: String,
        /// The missing fields, as command-line flags.
        missing: Vec<&'static str>,
    },
    /// Nothing would change.
    #[error("nothing to change")]
    NoChange,
    /// No follow-up action of that number.
    #[error("incident {id} has no follow-up action {n} (see gd-incidents incidents action list {id})")]
    NoSuchFollowUp {
        /// The incident.
        id: String,
        /// The number asked for.
        n: u32,
    },
    /// A follow-up action due before it was added.
    #[error("the due time {0} has passed: give a time ahead (a date, or 14d)")]
    DueInThePast(String),
    /// Too many follow-up actions on one incident.
    #[error("incident {0} has {MAX_FOLLOW_UPS} follow-up actions already")]
    TooManyFollowUps(String),
    /// The containment action does not apply to the incident's resource.
    #[error(transparent)]
    NotApplicable(#[from] containment::NotApplicable),
    /// The undo is not possible.
    #[error(transparent)]
    NoUndo(#[from] containment::record::Refused),
    /// The action (or its undo) was asked for already: nothing changed.
    #[error("{action} is {state} already on incident {id}")]
    AlreadyAsked {
        /// The incident.
        id: String,
        /// The action.
        action: containment::Action,
        /// Where it stands.
        state: &'static str,
    },
}

/// Follow-up actions one incident may have, at most (each lives on the incident item).
pub const MAX_FOLLOW_UPS: usize = 50;

/// The flag that stands for "add a follow-up action" where closing needs one.
pub const FOLLOW_UP_NEEDED: &str = "a follow-up action (incidents action add)";

/// Whether closing `incident` requires the post-mortem, and why.
pub fn post_mortem_required(incident: &Incident) -> Option<String> {
    let mut why = Vec::new();
    if incident.highest_level() == Level::Critical {
        why.push("CRITICAL");
    }
    if incident.data_loss {
        why.push("data loss");
    }
    if incident.service_impact {
        why.push("service impact");
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// The post-mortem fields missing from `input`, as the flags that give them.
pub fn missing_post_mortem(input: &CloseInput) -> Vec<&'static str> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let mut missing = Vec::new();
    if blank(&input.root_cause) {
        missing.push("--root-cause");
    }
    if blank(&input.lessons_learned) {
        missing.push("--lessons-learned");
    }
    if blank(&input.mitigations) {
        missing.push("--mitigations");
    }
    if blank(&input.cost_estimate) {
        missing.push("--cost-estimate");
    }
    if input.legal_counsel.is_none() {
        missing.push("--legal-counsel");
    }
    if input.customers_notified.is_none() {
        missing.push("--customers-notified");
    }
    missing
}

/// The flag that answers whether the authorities were notified, required to close a CRITICAL incident.
pub const AUTHORITIES_FLAG: &str = "--authorities-notified";

/// Every field missing to close `incident` with `input`: the post-mortem where it is required, and for a
/// CRITICAL incident whether the authorities were notified (procedure §3.5, §3.7).
pub fn missing_at_close(incident: &Incident, input: &CloseInput) -> Option<(String, Vec<&'static str>)> {
    let why = post_mortem_required(incident)?;
    let mut missing = missing_post_mortem(input);
    if incident.highest_level() == Level::Critical && input.authorities_notified.is_none() {
        missing.push(AUTHORITIES_FLAG);
    }
    // A CRITICAL incident's corrective and preventive actions are tracked to closure (§3.1).
    if incident.highest_level() == Level::Critical && incident.follow_ups.is_empty() {
        missing.push(FOLLOW_UP_NEEDED);
    }
    (!missing.is_empty()).then_some((why, missing))
}

/// Applies `action` by `by` at `now`: the next version of the incident and its log entry, or why not.
pub fn perform(
    incident: &Incident,
    action: &Action,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(Incident, Event), Refusal> {
    if by.trim().is_empty() {
        return Err(Refusal::Empty("--by"));
    }
    let id = &incident.incident_id;
    let closed = incident.status == Status::Closed;
    let after_close = matches!(
        action,
        Action::Reopen { .. } | Action::Note { .. } | Action::AddFollowUp { .. } | Action::FollowUpDone { .. }
    );
    if closed && !after_close {
        return Err(Refusal::Closed(id.clone()));
    }
    let mut next = incident.clone();
    next.updated_at = now;
    let (name, summary, occurred_at) = match action {
        Action::Ack => {
            if let Some(who) = &incident.acknowledged_by {
                return Err(Refusal::AlreadyAcknowledged { id: id.clone(), by: who.clone() });
            }
            next.acknowledged_by = Some(by.to_owned());
            next.acknowledged_at = Some(now);
            next.escalate_at = None;
            if matches!(incident.status, Status::Open | Status::Suppressed) {
                next.status = Status::Acknowledged;
            }
            ("ack", format!("acknowledged by {by}"), None)
        }
        Action::Assign { to } => {
            if to.trim().is_empty() {
                return Err(Refusal::Empty("--to"));
            }
            if incident.assignee.as_deref() == Some(to.as_str()) {
                return Err(Refusal::NoChange);
            }
            next.assignee = Some(to.clone());
            ("assign", format!("assigned to {to}"), None)
        }
        Action::Note { text, occurred_at } => {
            if text.trim().is_empty() {
                return Err(Refusal::Empty("the note"));
            }
            ("note", text.clone(), *occurred_at)
        }
        Action::SetStatus(status) => {
            if !matches!(status, Status::Investigating | Status::Contained | Status::Resolved) {
                return Err(Refusal::NotASettableStatus(*status));
            }
            if incident.status == *status {
                return Err(Refusal::NoChange);
            }
            next.status = *status;
            // Working on it is taking it: no more re-pages.
            next.escalate_at = None;
            ("status", format!("status {} -> {status}", incident.status), None)
        }
        Action::Mark { data_loss, service_impact } => {
            next.data_loss |= *data_loss;
            next.service_impact |= *service_impact;
            if next.data_loss == incident.data_loss && next.service_impact == incident.service_impact {
                return Err(Refusal::NoChange);
            }
            let mut what = Vec::new();
            if *data_loss {
                what.push("data loss");
            }
            if *service_impact {
                what.push("service impact");
            }
            ("mark", format!("marked with {}", what.join(" and ")), None)
        }
        Action::Close(input) => {
            if input.notes.trim().is_empty() {
                return Err(Refusal::Empty("--notes (closure notes)"));
            }
            if let Some((why, missing)) = missing_at_close(incident, input) {
                return Err(Refusal::MissingPostMortem { id: id.clone(), why, missing });
            }
            next.status = Status::Closed;
            next.escalate_at = None;
            next.closure = Some(Closure {
                by: by.to_owned(),
                at: now,
                notes: input.notes.clone(),
                root_cause: input.root_cause.clone(),
                lessons_learned: input.lessons_learned.clone(),
                mitigations: input.mitigations.clone(),
                cost_estimate: input.cost_estimate.clone(),
                legal_counsel: input.legal_counsel,
                customers_notified: input.customers_notified,
                authorities_notified: input.authorities_notified,
            });
            ("close", format!("closed by {by}: {}", input.notes), None)
        }
        Action::Reopen { reason } => {
            if !closed {
                return Err(Refusal::NotClosed(id.clone()));
            }
            next.status = if incident.acknowledged_at.is_some() { Status::Investigating } else { Status::Open };
            next.closure = None;
            let why = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            ("reopen", format!("reopened by {by}{why}"), None)
        }
        Action::AddFollowUp { text, owner, due } => {
            for (value, name) in [(text, "the action"), (owner, "--owner")] {
                if value.trim().is_empty() {
                    return Err(Refusal::Empty(name));
                }
            }
            if *due <= now {
                return Err(Refusal::DueInThePast(crate::domain::timestamp::format(*due)));
            }
            if incident.follow_ups.len() >= MAX_FOLLOW_UPS {
                return Err(Refusal::TooManyFollowUps(id.clone()));
            }
            let n = incident.follow_ups.iter().map(|f| f.n).max().unwrap_or(0) + 1;
            next.follow_ups.push(crate::domain::follow_up::FollowUp {
                n,
                text: text.trim().to_owned(),
                owner: owner.trim().to_owned(),
                due: *due,
                added_by: by.to_owned(),
                added_at: now,
                done_by: None,
                done_at: None,
            });
            let due = crate::domain::timestamp::format(*due);
            ("follow-up", format!("follow-up action {n} for {} by {due}: {}", owner.trim(), text.trim()), None)
        }
        Action::FollowUpDone { n } => {
            let Some(f) = next.follow_ups.iter_mut().find(|f| f.n == *n) else {
                return Err(Refusal::NoSuchFollowUp { id: id.clone(), n: *n });
            };
            if f.done_at.is_some() {
                return Err(Refusal::NoChange);
            }
            f.done_at = Some(now);
            f.done_by = Some(by.to_owned());
            ("follow-up.done", format!("follow-up action {n} done: {}", f.text), None)
        }
        Action::Contain { action, identity } => {
            let plan = containment::plan(incident.subject(), *action)?;
            let who = (by, identity.as_deref().unwrap_or(by));
            match record::request(&mut next.actions, *action, &plan.target, who, now) {
                Requested::Already(state) => {
                    return Err(Refusal::AlreadyAsked { id: id.clone(), action: *action, state: state.as_str() });
                }
                Requested::Approved => (
                    "containment.approved",
                    format!("{action} of {} approved by {by}, the second person", plan.target),
                    None,
                ),
                Requested::New => (
                    "containment.requested",
                    format!("{action} of {} requested: {}", plan.target, plan.steps.join(" ")),
                    None,
                ),
            }
        }
        Action::Undo(action) => match record::request_undo(&mut next.actions, *action, by, now)? {
            Requested::Already(state) => {
                return Err(Refusal::AlreadyAsked { id: id.clone(), action: *action, state: state.as_str() });
            }
            Requested::New | Requested::Approved => {
                ("containment.undo-requested", format!("undo of {action} requested"), None)
            }
        },
    };
    next.note_status(incident.status, now);
    let mut event = Event::new(now, by, name, summary).with_diff(incident, &next);
    event.occurred_at = occurred_at;
    Ok((next, event))
}

/// A person sets the incident's level (procedure §3.3: the OCE identifies the severity), with the reason, at
/// `ctx.now`. Raising owes pages as reaching a level by a finding does (each level pages once, so a level
/// already paged is not paged again); lowering pages no one and, below HIGH, stops re-paging. The finding's
/// severity at this moment is kept: later versions raise the level again only above it.
pub fn classify(
    incident: &Incident,
    level: Level,
    reason: &str,
    by: &str,
    ctx: &Ctx,
) -> Result<(Incident, Event), Refusal> {
    if by.trim().is_empty() {
        return Err(Refusal::Empty("--by"));
    }
    if reason.trim().is_empty() {
        return Err(Refusal::Empty("--reason"));
    }
    if incident.status == Status::Closed {
        return Err(Refusal::Closed(incident.incident_id.clone()));
    }
    let previous = incident.severity;
    if previous == level && incident.classification.as_ref().is_some_and(|c| c.level == level) {
        return Err(Refusal::NoChange);
    }
    let mut next = incident.clone();
    next.updated_at = ctx.now;
    next.severity = level;
    // The person's decision, with its reason, now explains the level, not a policy rule.
    next.raised_by = None;
    next.highest_severity = Some(incident.highest_level().max(level));
    next.classification = Some(Classification {
        by: by.to_owned(),
        at: ctx.now,
        level,
        previous,
        reason: reason.trim().to_owned(),
        finding_severity: incident.max_finding_severity,
    });
    if level != previous {
        next.level_since = Some(ctx.now);
    }
    if level > previous {
        next.owe_pages(level, 0, ctx);
    } else if !level.pages() {
        next.escalate_at = None;
    }
    next.wind_clock(ctx);
    let verb = match level.cmp(&previous) {
        std::cmp::Ordering::Greater => "raised",
        std::cmp::Ordering::Less => "lowered",
        std::cmp::Ordering::Equal => "confirmed",
    };
    let summary = format!("{verb} {previous} -> {level} by {by}: {}", reason.trim());
    Ok((next.clone(), Event::new(ctx.now, by, "classify", summary).with_diff(incident, &next)))
}

/// [`perform`] at `ctx.now`, and the client update notices the new status owes (contained, resolved,
/// closed): what the command line and the portal apply.
pub fn act(incident: &Incident, action: &Action, by: &str, ctx: &Ctx) -> Result<(Incident, Event), Refusal> {
    let (mut next, event) = perform(incident, action, by, ctx.now)?;
    next.owe_updates(incident.status, ctx);
    next.wind_clock(ctx);
    Ok((next, event))
}

/// What a member of staff reports (procedure §3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Who reports.
    pub by: String,
    /// One line.
    pub title: String,
    /// What was observed.
    pub description: String,
    /// The reporter's classification; the OCE may revise it.
    pub level: Level,
    /// Insider misconduct: the ISO alone is paged and sees it in lists.
    pub confidential: bool,
}

/// The account id recorded on staff reports, which are about no AWS account.
pub const STAFF_ACCOUNT: &str = "staff";
/// The region recorded on staff reports.
pub const STAFF_REGION: &str = "global";

/// How the id of a confidential report begins, so that the store knows from the id alone that it belongs in
/// the confidential table (which only the ISO, the daemon and the portal may read).
pub const CONFIDENTIAL_ID_PREFIX: &str = "confidential-";

/// Whether `incident_id` is a confidential report's (see [`CONFIDENTIAL_ID_PREFIX`]).
pub fn is_confidential_id(incident_id: &str) -> bool {
    incident_id.starts_with(CONFIDENTIAL_ID_PREFIX)
}

/// The id of a moved confidential report that had `incident_id` before the confidential table existed.
pub fn confidential_id(incident_id: &str) -> String {
    if is_confidential_id(incident_id) {
        incident_id.to_owned()
    } else {
        format!("{CONFIDENTIAL_ID_PREFIX}{incident_id}")
    }
}

/// The incident a staff report becomes (paged like a finding of its level), and its log entry. `fresh` is a
/// new unique id; a confidential report's id carries [`CONFIDENTIAL_ID_PREFIX`] before it.
pub fn report(fresh: String, r: &Report, ctx: &Ctx) -> Result<(Incident, Event), Refusal> {
    for (value, name) in [(&r.by, "--by"), (&r.title, "--title"), (&r.description, "--description")] {
        if value.trim().is_empty() {
            return Err(Refusal::Empty(name));
        }
    }
    let incident_id = if r.confidential { confidential_id(&fresh) } else { fresh };
    let mut incident = Incident {
        account_id: STAFF_ACCOUNT.into(),
        region: STAFF_REGION.into(),
        finding_id: incident_id.clone(),
        incident_id,
        finding_type: if r.confidential { "StaffReport:Confidential".into() } else { "StaffReport".into() },
        severity: r.level,
        title: r.title.clone(),
        description: r.description.clone(),
        finding_count: 1,
        finding_updated_at: Some(ctx.now),
        first_seen: Some(ctx.now),
        last_seen: Some(ctx.now),
        resource_type: "StaffReport".into(),
        resource: format!("reported by {}", r.by),
        source: Source::Staff,
        confidential: r.confidential,
        reported_by: Some(r.by.clone()),
        ..Incident::open(ctx.now)
    };
    incident.owe_pages(r.level, 0, ctx);
    incident.wind_clock(ctx);
    let kind = if r.confidential { "confidential report" } else { "report" };
    let event = Event::new(ctx.now, &r.by, "report", format!("{} {kind} by {}: {}", r.level, r.by, r.title));
    Ok((incident, event))
}

#[cfg(test)]
mod tests;
