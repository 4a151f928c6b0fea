//! The responder and staff commands. They use the store, the dispatcher and the pure lifecycle rules; never
//! an SDK client directly.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::output;
use super::{CloseArgs, Command, Common, IncidentsCommand, ReportArgs, ReportFormat, YesNo};
use crate::aws::Clients;
use crate::config::{Config, ConfigError};
use crate::dispatch::Dispatcher;
use crate::incident::{Incident, PageState};
use crate::lifecycle::{self, Action, CloseInput, Refusal, Report};
use crate::store::{ListFilter, Store, StoreError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No such incident.
    #[error("no incident with id {0} (see `gd-incidents incidents list`)")]
    NotFound(String),
    /// The rules refuse the action; nothing changed.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recorded, but a page could not be sent yet.
    #[error("incident {id} is recorded, but its pages are not all sent yet: {reason} (the daemon retries them)")]
    PagesPending {
        /// The incident.
        id: String,
        /// Why.
        reason: String,
    },
    /// An operator check or command failed.
    #[error("{0}")]
    Failed(String),
    /// A stored finding no longer has its recorded hash.
    #[error("evidence of incident {id} does not verify: {bad} of {total} versions do not match their SHA-256")]
    Tampered {
        /// The incident.
        id: String,
        /// Versions that do not match.
        bad: usize,
        /// Versions kept.
        total: usize,
    },
}

/// What a command works with.
pub(super) struct Session {
    /// The configuration.
    pub config: Config,
    /// The clients.
    pub clients: Clients,
    /// Store, pager and rules.
    pub dispatch: Dispatcher,
}

/// Connects to what a command needs.
pub(super) async fn session(common: &Common) -> Result<Session, CommandError> {
    let config = Config::load(&common.config)?;
    let clients = Clients::new(&config.aws).await;
    let store = Store::new(clients.dynamodb.clone(), &config.incidents.table);
    let dispatch = Dispatcher::from_config(store, clients.sns.clone(), &config);
    Ok(Session { config, clients, dispatch })
}

/// Connects to what a command needs.
async fn connect(common: &Common) -> Result<(Config, Dispatcher), CommandError> {
    let s = session(common).await?;
    Ok((s.config, s.dispatch))
}

fn default_by(by: Option<String>) -> String {
    by.filter(|b| !b.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// Runs a command other than `run`, printing its result.
pub async fn execute(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Run { .. } => Ok(()),
        Command::Report(args) => report(args).await,
        Command::Incidents { command } => incidents(command).await,
        Command::Check { common } => super::ops::check(&common).await,
        Command::Health { config, timeout } => super::ops::health(&config, timeout).await,
        Command::Dlq { command } => super::ops::dlq(command).await,
        Command::Portal { config } => Ok(crate::portal::run(&config).await?),
        Command::Reconcile { common, since } => super::ops::reconcile(&common, since).await,
        Command::Sample { common, severity, count, finding_type } => {
            super::ops::sample(&common, severity, count.into(), finding_type).await
        }
        Command::Pages { common, follow, wait } => super::ops::pages(&common, follow, wait).await,
    }
}

async fn incidents(command: IncidentsCommand) -> Result<(), CommandError> {
    match command {
        IncidentsCommand::List { common, status, severity, since, limit, next, confidential } => {
            let (_, dispatch) = connect(&common).await?;
            let filter = ListFilter {
                statuses: status.iter().map(|s| s.as_str().to_owned()).collect(),
                severities: severity.iter().map(|s| s.as_str().to_owned()).collect(),
                since,
                confidential,
            };
            let listing = dispatch.store().list(&filter, limit.into(), next.as_deref()).await?;
            output::listing(&listing, common.json);
            Ok(())
        }
        IncidentsCommand::Show { id, common } => {
            let (_, dispatch) = connect(&common).await?;
            let incident = find(&dispatch, &id).await?;
            let timeline = dispatch.store().timeline(&incident).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            output::incident(&incident, &timeline, evidence.len(), common.json);
            Ok(())
        }
        IncidentsCommand::Ack { id, by, common } => act(&common, &id, &by, Action::Ack).await,
        IncidentsCommand::Assign { id, to, by, common } => {
            act(&common, &id, &default_by(by), Action::Assign { to }).await
        }
        IncidentsCommand::Note { id, text, by, at, common } => {
            act(&common, &id, &by, Action::Note { text, occurred_at: at }).await
        }
        IncidentsCommand::Status { id, status, by, common } => {
            act(&common, &id, &default_by(by), Action::SetStatus(status.into())).await
        }
        IncidentsCommand::Classify { id, level, by, reason, common } => {
            let s = session(&common).await?;
            let stored =
                change_in(&s, &id, |current, ctx| lifecycle::classify(current, level, &reason, &by, ctx)).await?;
            output::changed(&stored, common.json);
            Ok(())
        }
        IncidentsCommand::Mark { id, data_loss, service_impact, by, common } => {
            act(&common, &id, &default_by(by), Action::Mark { data_loss, service_impact }).await
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
            let s = session(&common).await?;
            let (closed, pending) = act_in(&s, &id, &by, Action::Close(input)).await?;
            output::changed(&closed, common.json);
            if s.config.guardduty.archive_on_close {
                let guardduty =
                    crate::guardduty::GuardDuty::new(&s.clients.shared, std::slice::from_ref(&closed.region));
                crate::archive::after_close(&guardduty, s.dispatch.store(), &closed).await.map_err(|why| {
                    CommandError::Failed(format!(
                        "incident {} is closed, but archiving its finding in GuardDuty failed: {why} (the daemon retries it)",
                        closed.incident_id
                    ))
                })?;
            }
            sent_all(&closed, pending)
        }
        IncidentsCommand::Reopen { id, reason, by, common } => {
            act(&common, &id, &default_by(by), Action::Reopen { reason }).await
        }
        IncidentsCommand::Report { id, format, output, common } => {
            let (_, dispatch) = connect(&common).await?;
            let incident = find(&dispatch, &id).await?;
            let timeline = dispatch.store().timeline(&incident).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            let report = crate::postmortem::build(&incident, &timeline, &evidence, Utc::now());
            let text = if common.json || format == ReportFormat::Json {
                let mut v = serde_json::to_string_pretty(&report)
                    .map_err(|e| CommandError::Failed(format!("cannot encode the report: {e}")))?;
                v.push('\n');
                v
            } else {
                crate::postmortem::markdown(&report)
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| CommandError::Failed(format!("cannot write the report to {}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        IncidentsCommand::Evidence { id, print, common } => {
            let (_, dispatch) = connect(&common).await?;
            let incident = find(&dispatch, &id).await?;
            let evidence = dispatch.store().evidence(&incident).await?;
            output::evidence(&incident, &evidence, print, common.json);
            let bad = evidence.iter().filter(|e| !e.verify()).count();
            if bad > 0 {
                return Err(CommandError::Tampered { id, bad, total: evidence.len() });
            }
            Ok(())
        }
    }
}

async fn find(dispatch: &Dispatcher, id: &str) -> Result<Incident, CommandError> {
    dispatch.store().find(id.trim()).await?.ok_or_else(|| CommandError::NotFound(id.to_owned()))
}

/// Applies a responder's action with a conditional write (re-applied if someone else wrote first).
async fn act(common: &Common, id: &str, by: &str, action: Action) -> Result<(), CommandError> {
    let s = session(common).await?;
    let (stored, pending) = act_in(&s, id, by, action).await?;
    output::changed(&stored, common.json);
    sent_all(&stored, pending)
}

async fn act_in(s: &Session, id: &str, by: &str, action: Action) -> Result<(Incident, Option<String>), CommandError> {
    changed_in(s, id, |current, ctx| lifecycle::act(current, &action, by, ctx)).await
}

/// Fails with [`CommandError::PagesPending`] if something the change made owed is not sent yet.
fn sent_all(incident: &Incident, pending: Option<String>) -> Result<(), CommandError> {
    match pending {
        Some(reason) => Err(CommandError::PagesPending { id: incident.incident_id.clone(), reason }),
        None => Ok(()),
    }
}

/// Applies `change` with a conditional write (re-applied on the latest version if someone else wrote first),
/// then sends what the change made owed (the daemon sends what this cannot).
async fn change_in<F>(s: &Session, id: &str, change: F) -> Result<Incident, CommandError>
where
    F: FnMut(&Incident, &crate::incident::Ctx) -> Result<(Incident, crate::incident::Event), Refusal>,
{
    let (incident, pending) = changed_in(s, id, change).await?;
    sent_all(&incident, pending)?;
    Ok(incident)
}

/// Like [`change_in`], returning why some pages are not sent yet instead of failing.
async fn changed_in<F>(s: &Session, id: &str, change: F) -> Result<(Incident, Option<String>), CommandError>
where
    F: FnMut(&Incident, &crate::incident::Ctx) -> Result<(Incident, crate::incident::Event), Refusal>,
{
    let incident = find(&s.dispatch, id).await?;
    let claimant = Uuid::new_v4().to_string();
    let applied = s.dispatch.apply(incident, &claimant, change).await?;
    if let Some(r) = applied.refusal {
        return Err(r.into());
    }
    Ok((applied.incident, applied.pending.map(|e| e.reason)))
}

async fn report(args: ReportArgs) -> Result<(), CommandError> {
    let (_, dispatch) = connect(&args.common).await?;
    let claimant = Uuid::new_v4().to_string();
    let r = Report {
        by: args.by,
        title: args.title,
        description: args.description,
        level: args.severity,
        confidential: args.confidential,
    };
    let (incident, event) = lifecycle::report(Uuid::new_v4().to_string(), &r, &dispatch.rules().ctx(&claimant))?;
    let (stored, pending) = dispatch.create(&incident, event, &claimant).await?;
    sent_all(&stored, pending.map(|e| e.reason))?;
    if args.common.json {
        output::json(&json!({ "incident": stored }));
    } else {
        let paged: Vec<String> =
            stored.pages.iter().filter(|(_, p)| p.state == PageState::Sent).map(|(k, _)| k.clone()).collect();
        println!("reported incident {} ({})", stored.incident_id, stored.severity);
        if paged.is_empty() {
            println!("nobody paged ({} does not page)", stored.severity);
        } else {
            println!("paged: {}", paged.join(", "));
        }
    }
    Ok(())
}
