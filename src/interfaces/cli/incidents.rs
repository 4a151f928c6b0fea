//! `gd-incidents incidents ...`: the responders' commands. They use the store, the dispatcher and the pure
//! lifecycle rules; never an SDK client directly.

use uuid::Uuid;

use super::{CloseArgs, CommandError, Common, FollowUpCommand, IncidentsCommand, ReportFormat, YesNo, output};
use crate::adapters::dynamodb::ListFilter;
use crate::adapters::identity;
use crate::domain::incident::clock;
use crate::domain::incident::{Event, Incident};
use crate::domain::lifecycle::{self, Action, CloseInput, Refusal};
use crate::services::Context;
use crate::services::dispatch::Dispatcher;

/// Who acts: the identity AWS verifies for the credentials in use, and the display name (`--by`, else that
/// identity's session or user name). A change is refused when the identity cannot be verified.
pub(super) struct Actor {
    name: String,
    pub(super) arn: String,
}

impl Actor {
    pub(super) async fn verified(ctx: &Context, by: Option<String>) -> Result<Actor, CommandError> {
        let caller = identity::caller(&ctx.clients.sts()).await.map_err(CommandError::Identity)?;
        let name =
            by.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()).unwrap_or_else(|| caller.name().to_owned());
        Ok(Actor { name, arn: caller.arn })
    }

    /// The entry of a change, made by this verified identity.
    pub(super) fn sign(&self, event: Event) -> Event {
        event.acted_by(&self.arn)
    }
}

/// Runs an `incidents` command.
pub async fn execute(ctx: &Context, command: IncidentsCommand) -> Result<(), CommandError> {
    match command {
        IncidentsCommand::List { common, status, severity, since, limit, next, confidential } => {
            let dispatch = &ctx.dispatch;
            let filter = ListFilter {
                statuses: status.iter().map(|s| s.as_str().to_owned()).collect(),
                severities: severity.iter().map(|s| s.as_str().to_owned()).collect(),
                since,
                confidential,
                ..ListFilter::default()
            };
            let listing = dispatch.store().list(&filter, limit.into(), next.as_deref()).await?;
            let rules = dispatch.rules();
            let now = rules.now();
            output::listing(&listing, &|i| clock::clock(i, &rules.slas, &rules.hours, now), common.json);
            Ok(())
        }
        IncidentsCommand::Show { id, common } => {
            let dispatch = &ctx.dispatch;
            let incident = find(dispatch, &id).await?;
            let timeline = dispatch.store().timeline(&incident).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            let related = output::Related {
                sequences: dispatch.store().links(&incident).await?,
                signals: dispatch.store().signal_incidents(&incident).await?,
                same_resource: dispatch.store().on_same_resource(&incident).await?,
            };
            let rules = dispatch.rules();
            let clock = clock::clock(&incident, &rules.slas, &rules.hours, rules.now());
            output::incident(&incident, &clock, &timeline, evidence.len(), &related, common.json);
            Ok(())
        }
        IncidentsCommand::Ack { id, by, common } => act(ctx, &common, &id, by, Action::Ack).await,
        IncidentsCommand::Assign { id, to, by, common } => act(ctx, &common, &id, by, Action::Assign { to }).await,
        IncidentsCommand::Note { id, text, by, at, common } => {
            act(ctx, &common, &id, by, Action::Note { text, occurred_at: at }).await
        }
        IncidentsCommand::Status { id, status, by, common } => {
            act(ctx, &common, &id, by, Action::SetStatus(status.into())).await
        }
        IncidentsCommand::Classify { id, level, by, reason, common } => {
            let actor = Actor::verified(ctx, by).await?;
            let stored = change_in(ctx, &id, |current, c| {
                lifecycle::classify(current, level, &reason, &actor.name, c).map(|(i, e)| (i, actor.sign(e)))
            })
            .await?;
            output::changed(&stored, common.json);
            Ok(())
        }
        IncidentsCommand::Mark { id, data_loss, service_impact, by, common } => {
            act(ctx, &common, &id, by, Action::Mark { data_loss, service_impact }).await
        }
        IncidentsCommand::Close(CloseArgs {
            id,
            by,
            notes,
            root_cause,
            lessons_learned,
            mitigations,
            cost_estimate,
            legal_counsel,
            customers_notified,
            authorities_notified,
            common,
        }) => {
            let input = CloseInput {
                notes,
                root_cause,
                lessons_learned,
                mitigations,
                cost_estimate,
                legal_counsel: legal_counsel.map(|v| v == YesNo::Yes),
                customers_notified: customers_notified.map(|v| v == YesNo::Yes),
                authorities_notified: authorities_notified.map(|v| v == YesNo::Yes),
            };
            let s = ctx;
            let actor = Actor::verified(s, by).await?;
            let (closed, pending) = act_in(s, &id, &actor, Action::Close(input)).await?;
            output::changed(&closed, common.json);
            if s.config.guardduty.archive_on_close {
                let guardduty =
                    crate::adapters::guardduty::GuardDuty::new(&s.clients, std::slice::from_ref(&closed.region));
                crate::services::archive::after_close(&guardduty, s.dispatch.store(), &closed)
                    .await
                    .map_err(|source| CommandError::ArchivePending { id: closed.incident_id.clone(), source })?;
            }
            sent_all(&closed, pending)
        }
        IncidentsCommand::Reopen { id, reason, by, common } => {
            act(ctx, &common, &id, by, Action::Reopen { reason }).await
        }
        IncidentsCommand::Report { id, format, output, common } => {
            let dispatch = &ctx.dispatch;
            let incident = find(dispatch, &id).await?;
            let timeline = dispatch.store().timeline(&incident).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            let rules = dispatch.rules();
            let now = rules.now();
            let clock = clock::clock(&incident, &rules.slas, &rules.hours, now);
            let report = crate::domain::postmortem::build(&incident, &clock, &timeline, &evidence, now);
            let text = if common.json || format == ReportFormat::Json {
                let mut v = serde_json::to_string_pretty(&report)
                    .map_err(|e| CommandError::Failed(format!("cannot encode the report: {e}")))?;
                v.push('\n');
                v
            } else {
                crate::domain::postmortem::markdown(&report)
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| CommandError::Failed(format!("cannot write the report to {}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        IncidentsCommand::Evidence { id, print, common } => {
            let dispatch = &ctx.dispatch;
            let incident = find(dispatch, &id).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            output::evidence(&incident, &evidence, print, common.json);
            let bad = evidence.iter().filter(|e| !e.verify()).count();
            if bad > 0 {
                return Err(CommandError::Tampered { id, bad, total: evidence.len() });
            }
            Ok(())
        }
        IncidentsCommand::MoveConfidential { dry_run, by, common } => {
            move_confidential(ctx, dry_run, by, &common).await
        }
        IncidentsCommand::Action { command } => follow_up(ctx, command).await,
        IncidentsCommand::Contain { id, action, dry_run, wait, by, common } => {
            super::contain::contain(ctx, &id, action, dry_run, wait, by, &common).await
        }
        IncidentsCommand::Undo { id, action, wait, by, common } => {
            super::contain::undo(ctx, &id, action, wait, by, &common).await
        }
    }
}

/// `incidents action add|done|list`.
async fn follow_up(ctx: &Context, command: FollowUpCommand) -> Result<(), CommandError> {
    match command {
        FollowUpCommand::Add { id, text, owner, due, by, common } => {
            let due =
                crate::domain::follow_up::parse_due(&due, ctx.dispatch.rules().now()).map_err(CommandError::Failed)?;
            act(ctx, &common, &id, by, Action::AddFollowUp { text, owner, due }).await
        }
        FollowUpCommand::Done { id, n, by, common } => act(ctx, &common, &id, by, Action::FollowUpDone { n }).await,
        FollowUpCommand::List { id, common } => {
            let incident = find(&ctx.dispatch, &id).await?;
            output::follow_ups(&incident, ctx.dispatch.rules().now(), common.json);
            Ok(())
        }
    }
}

/// Moves the confidential reports still in the incident table into the confidential table.
async fn move_confidential(
    ctx: &Context,
    dry_run: bool,
    by: Option<String>,
    common: &Common,
) -> Result<(), CommandError> {
    let store = ctx.dispatch.store();
    let Some(target) = store.confidential_table() else {
        return Err(CommandError::Store(crate::adapters::dynamodb::StoreError::NoConfidentialTable));
    };
    let actor = if dry_run { None } else { Some(Actor::verified(ctx, by).await?) };
    let mut moved = Vec::new();
    for incident in store.confidential_in_incident_table().await? {
        let new_id = lifecycle::confidential_id(&incident.incident_id);
        if let Some(actor) = &actor {
            let summary = format!("moved to the confidential table {target} (id was {})", incident.incident_id);
            let event = actor.sign(Event::new(ctx.dispatch.rules().now(), &actor.name, "moved", summary));
            store.move_confidential(&incident, &event).await?;
        }
        moved.push((incident.incident_id, new_id));
    }
    if common.json {
        let list: Vec<_> = moved.iter().map(|(from, to)| serde_json::json!({ "from": from, "to": to })).collect();
        output::json(&serde_json::json!({ "dry_run": dry_run, "table": target, "moved": list }));
    } else {
        let verb = if dry_run { "would move" } else { "moved" };
        for (from, to) in &moved {
            println!("{verb} {from} -> {to}");
        }
        println!("{} confidential report(s) {verb} to {target}", moved.len());
    }
    Ok(())
}

pub(super) async fn find(dispatch: &Dispatcher, id: &str) -> Result<Incident, CommandError> {
    dispatch.store().find(id.trim()).await?.ok_or_else(|| CommandError::NotFound(id.to_owned()))
}

/// Applies a responder's action with a conditional write (re-applied if someone else wrote first).
async fn act(s: &Context, common: &Common, id: &str, by: Option<String>, action: Action) -> Result<(), CommandError> {
    let actor = Actor::verified(s, by).await?;
    let (stored, pending) = act_in(s, id, &actor, action).await?;
    output::changed(&stored, common.json);
    sent_all(&stored, pending)
}

pub(super) async fn act_in(
    s: &Context,
    id: &str,
    actor: &Actor,
    action: Action,
) -> Result<(Incident, Option<String>), CommandError> {
    changed_in(s, id, |current, ctx| {
        lifecycle::act(current, &action, &actor.name, ctx).map(|(i, e)| (i, actor.sign(e)))
    })
    .await
}

/// Fails with [`CommandError::PagesPending`] if something the change made owed is not sent yet.
pub(super) fn sent_all(incident: &Incident, pending: Option<String>) -> Result<(), CommandError> {
    match pending {
        Some(reason) => Err(CommandError::PagesPending { id: incident.incident_id.clone(), reason }),
        None => Ok(()),
    }
}

/// Applies `change` with a conditional write (re-applied on the latest version if someone else wrote first),
/// then sends what the change made owed (the daemon sends what this cannot).
async fn change_in<F>(s: &Context, id: &str, change: F) -> Result<Incident, CommandError>
where
    F: FnMut(&Incident, &crate::domain::incident::Ctx) -> Result<(Incident, crate::domain::incident::Event), Refusal>,
{
    let (incident, pending) = changed_in(s, id, change).await?;
    sent_all(&incident, pending)?;
    Ok(incident)
}

/// Like [`change_in`], returning why some pages are not sent yet instead of failing.
async fn changed_in<F>(s: &Context, id: &str, change: F) -> Result<(Incident, Option<String>), CommandError>
where
    F: FnMut(&Incident, &crate::domain::incident::Ctx) -> Result<(Incident, crate::domain::incident::Event), Refusal>,
{
    let incident = find(&s.dispatch, id).await?;
    let claimant = Uuid::new_v4().to_string();
    let applied = s.dispatch.apply(incident, &claimant, change).await?;
    if let Some(r) = applied.refusal {
        return Err(r.into());
    }
    Ok((applied.incident, applied.pending.map(|e| e.reason)))
}
