//! Carrying out the containment actions people asked for (`incidents contain`, `incidents undo`): the
//! daemon finds their incidents in the index of what is due, claims each action with a conditional write
//! (so one daemon acts however many run), records what the resource was before changing anything, acts
//! through `adapters::containment` under the containment role, and records the outcome with AWS's request
//! ids. A failure is recorded and retried with backoff; a resource that is gone fails at once, with the
//! reason; nothing is left changed without a record, since `before` is stored first and every step is
//! idempotent.

use chrono::Duration;
use serde_json::Value;
use tracing::{info, warn};
use uuid::Uuid;

use crate::adapters::containment::{ContainError, Containment};
use crate::adapters::dynamodb::StoreError;
use crate::domain::containment::record::{self, ActionRecord, Outcome, State};
use crate::domain::containment::{self, Action};
use crate::domain::incident::{Event, Incident};
use crate::services::dispatch::Dispatcher;

/// How long a daemon holds an action while carrying it out; another takes over after that.
const CLAIM: Duration = Duration::seconds(120);
/// Who the log says carried an action out.
const BY: &str = "gd-incidents (containment)";

/// Carries out every owed action of every due incident. Returns how many actions were carried out or
/// undone.
pub async fn attend(dispatch: &Dispatcher, containment: &Containment) -> Result<usize, StoreError> {
    let claimant = Uuid::new_v4().to_string();
    let mut carried = 0;
    for key in dispatch.store().due(dispatch.rules().now()).await? {
        let Some(incident) = dispatch.store().load(&key).await? else { continue };
        let now = dispatch.rules().now();
        let second = &dispatch.rules().containment.second_approver_levels;
        let owed: Vec<Action> = incident
            .actions
            .iter()
            .filter(|r| r.claimable(&claimant, now))
            .filter(|r| r.approved(containment::approvals_needed(second, incident.severity, r.action)))
            .map(|r| r.action)
            .collect();
        let mut current = incident;
        for action in owed {
            let (stored, done) = carry_out(dispatch, containment, current, action, &claimant).await?;
            current = stored;
            carried += usize::from(done);
        }
    }
    Ok(carried)
}

fn record_of(incident: &Incident, action: Action) -> Option<&ActionRecord> {
    incident.actions.iter().find(|r| r.action == action)
}

/// Claims `action` of `incident` and carries it out (or its undo). Returns the incident as stored and
/// whether the action was completed.
async fn carry_out(
    dispatch: &Dispatcher,
    containment: &Containment,
    incident: Incident,
    action: Action,
    claimant: &str,
) -> Result<(Incident, bool), StoreError> {
    let store = dispatch.store();
    let now = dispatch.rules().now();
    let stored = store
        .modify(incident, |c| {
            let mut next = c.clone();
            record::claim(&mut next.actions, action, claimant, now, now + CLAIM)?;
            Some((next, None))
        })
        .await?;
    let Some(record) = record_of(&stored, action).filter(|r| r.claimed_by.as_deref() == Some(claimant)) else {
        return Ok((stored, false)); // another daemon has it
    };
    let undoing = record.state == State::UndoRequested;
    let targets = stored.targets.clone();
    let incident_id = stored.incident_id.clone();
    let account = stored.account_id.clone();

    // What the resource is before anything changes, stored first: a retry after a crash puts back the truth.
    let mut before = record.before.clone();
    let mut stored = stored;
    if before.is_null() {
        match containment.observe(action, &account, &targets).await {
            Ok(mut seen) => {
                // When it was seen: a revoke denies the sessions issued before it, on every retry alike.
                seen["observed_at"] = serde_json::json!(crate::domain::timestamp::format(now));
                before = seen.clone();
                stored = store
                    .modify(stored, |c| {
                        let mut next = c.clone();
                        let r = next.actions.iter_mut().find(|r| r.action == action)?;
                        r.before.is_null().then(|| r.before = seen.clone())?;
                        Some((next, None))
                    })
                    .await?;
                if let Some(r) = record_of(&stored, action) {
                    before = r.before.clone();
                }
            }
            Err(e) => return record_failure(dispatch, stored, action, &e, undoing).await.map(|s| (s, false)),
        }
    }
    let after = record_of(&stored, action).map(|r| r.after.clone()).unwrap_or_default();
    let result = if undoing {
        containment.undo(action, &account, &targets, (&before, &after)).await
    } else {
        containment.carry_out(action, (&account, &incident_id), &targets, &before).await
    };
    match result {
        Ok(outcome) => record_success(dispatch, stored, action, before, outcome, undoing).await.map(|s| (s, true)),
        Err(e) => record_failure(dispatch, stored, action, &e, undoing).await.map(|s| (s, false)),
    }
}

async fn record_success(
    dispatch: &Dispatcher,
    incident: Incident,
    action: Action,
    before: Value,
    outcome: Outcome,
    undoing: bool,
) -> Result<Incident, StoreError> {
    let now = dispatch.rules().now();
    let (name, verb) = if undoing { ("containment.undone", "undone") } else { ("containment.done", "done") };
    let stored = dispatch
        .store()
        .modify(incident, |c| {
            let mut next = c.clone();
            let r = next.actions.iter_mut().find(|r| r.action == action && r.owed())?;
            let ids = outcome.request_ids.join(", ");
            let target = r.target.clone();
            record::succeeded(r, outcome.clone(), now);
            next.updated_at = now;
            let mut event = Event::new(now, BY, name, format!("{action} of {target} {verb} (AWS request ids: {ids})"));
            event.before = before.clone();
            event.after = outcome.after.clone();
            Some((next, Some(event)))
        })
        .await?;
    info!(incident_id = %stored.incident_id, action = %action, undo = undoing, "containment action carried out");
    Ok(stored)
}

async fn record_failure(
    dispatch: &Dispatcher,
    incident: Incident,
    action: Action,
    error: &ContainError,
    undoing: bool,
) -> Result<Incident, StoreError> {
    let now = dispatch.rules().now();
    let message = error.to_string();
    let mut gave_up = false;
    let stored = dispatch
        .store()
        .modify(incident, |c| {
            let mut next = c.clone();
            let r = next.actions.iter_mut().find(|r| r.action == action && r.owed())?;
            let target = r.target.clone();
            gave_up = record::failed(r, &message, error.permanent(), now);
            let attempts = r.attempts;
            next.updated_at = now;
            let what = if undoing { format!("undo of {action}") } else { action.to_string() };
            let (name, summary) = if gave_up {
                ("containment.failed", format!("{what} of {target} failed after {attempts} attempt(s): {message}"))
            } else {
                (
                    "containment.retrying",
                    format!("{what} of {target} failed (attempt {attempts}), will retry: {message}"),
                )
            };
            Some((next, Some(Event::new(now, BY, name, summary))))
        })
        .await?;
    warn!(incident_id = %stored.incident_id, action = %action, undo = undoing, gave_up, error = %message, "containment action failed");
    Ok(stored)
}
