//! `gd-incidents incidents contain` and `incidents undo`: a responder asks; the daemon carries it out under
//! its containment role (`services::containment`). The command never touches the resource itself.

use std::time::Duration;

use serde_json::json;

use super::incidents::{Actor, act_in, find};
use super::{CommandError, Common, output};
use crate::domain::containment::record::State;
use crate::domain::containment::{self, Action as ContainAction, Plan};
use crate::domain::incident::Incident;
use crate::domain::lifecycle::{Action, Refusal};
use crate::services::Context;

/// How often `--wait` looks at the incident.
const POLL: Duration = Duration::from_secs(1);

/// `incidents contain ID [--action A] [--dry-run] [--wait S]`.
pub(super) async fn contain(
    ctx: &Context,
    id: &str,
    action: Option<ContainAction>,
    dry_run: bool,
    wait: u64,
    by: Option<String>,
    common: &Common,
) -> Result<(), CommandError> {
    let incident = find(&ctx.dispatch, id).await?;
    let Some(action) = action else {
        let plans = containment::applicable(incident.subject(), ctx.config.containment.reach());
        let manual = containment::manual_steps(&incident.targets);
        if common.json {
            output::json(&json!({ "incident_id": incident.incident_id, "actions": plans, "manual_steps": manual }));
        } else {
            if plans.is_empty() && manual.is_empty() {
                println!("no containment action applies to incident {} ({})", incident.incident_id, incident.resource);
            }
            plans.iter().for_each(print_plan);
            if !manual.is_empty() {
                println!("by hand (not run by gd-incidents):");
                manual.iter().for_each(|s| println!("  - {s}"));
            }
        }
        return Ok(());
    };
    let plan = containment::plan(incident.subject(), action).map_err(Refusal::from)?;
    let plan = containment::with_reach(plan, &incident.incident_id, &incident.targets, ctx.config.containment.reach());
    if dry_run {
        if common.json {
            output::json(&json!({ "dry_run": true, "plan": plan }));
        } else {
            println!("dry run: nothing is changed");
            print_plan(&plan);
        }
        return Ok(());
    }
    let actor = Actor::verified(ctx, by).await?;
    requested(
        ctx,
        &incident,
        act_in(ctx, id, &actor, Action::Contain { action, identity: Some(actor.arn.clone()) }).await,
        action,
        wait,
        common,
    )
    .await
}

/// `incidents undo ID ACTION [--wait S]`.
pub(super) async fn undo(
    ctx: &Context,
    id: &str,
    action: ContainAction,
    wait: u64,
    by: Option<String>,
    common: &Common,
) -> Result<(), CommandError> {
    let incident = find(&ctx.dispatch, id).await?;
    let actor = Actor::verified(ctx, by).await?;
    requested(ctx, &incident, act_in(ctx, id, &actor, Action::Undo(action)).await, action, wait, common).await
}

/// Reports a request (or that it was made already), then waits for the daemon when asked to.
async fn requested(
    ctx: &Context,
    incident: &Incident,
    result: Result<(Incident, Option<String>), CommandError>,
    action: ContainAction,
    wait: u64,
    common: &Common,
) -> Result<(), CommandError> {
    let id = &incident.incident_id;
    match result {
        Ok(_) => {
            if !common.json {
                println!("{action} requested on incident {id}: the daemon carries it out under its containment role");
            }
        }
        Err(CommandError::Refused(Refusal::AlreadyAsked { state, .. })) => {
            if !common.json {
                println!("{action} is {state} already on incident {id}: nothing changed");
            }
        }
        Err(e) => return Err(e),
    }
    let mut current = find(&ctx.dispatch, id).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    while wait > 0 && record(&current, action).is_some_and(|r| r.owed()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        current = find(&ctx.dispatch, id).await?;
    }
    let Some(r) = record(&current, action) else { return Ok(()) };
    let second = &ctx.config.containment.second_approver_levels;
    let needed = containment::approvals_needed(second, current.severity, action);
    if common.json {
        output::json(&json!({ "incident_id": id, "action": r }));
    } else if wait > 0 {
        println!(
            "{action} of {}: {}{}",
            r.target,
            r.state.as_str(),
            r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
    match r.state {
        State::Failed => Err(CommandError::Failed(format!(
            "{action} of {} failed: {}",
            r.target,
            r.error.as_deref().unwrap_or("unknown error")
        ))),
        _ if !r.approved(needed) => {
            let why = format!(
                "{action} waits for a second person ([containment] second_approver_levels has {}): another \
                 responder runs the same command with their own credentials",
                current.severity
            );
            if wait > 0 {
                return Err(CommandError::Failed(why));
            }
            if !common.json {
                println!("{why}");
            }
            Ok(())
        }
        _ if wait > 0 && r.owed() => Err(CommandError::Failed(format!(
            "{action} is still {} after {wait} s: is the daemon running?",
            r.state.as_str()
        ))),
        _ => Ok(()),
    }
}

fn record(incident: &Incident, action: ContainAction) -> Option<&containment::record::ActionRecord> {
    incident.actions.iter().find(|r| r.action == action)
}

fn print_plan(plan: &Plan) {
    println!("{} on {}:", plan.action, plan.target);
    for (i, step) in plan.steps.iter().enumerate() {
        println!("  {}. {step}", i + 1);
    }
    println!("  undo: {}", plan.undo);
}
