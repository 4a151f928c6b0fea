//! One finding's way to its incident and pages: parse, create or update the incident with a conditional
//! write (with its log entry and the finding's raw JSON as evidence), then send the pages it owes. Every
//! step is idempotent, so a message can be processed again after any crash, by any daemon, without a second
//! incident or a second page (but for the narrow window between a publish and its record).

use std::time::Duration;

use chrono::Utc;
use tracing::{debug, info};
use uuid::Uuid;

use crate::domain::containment::{self, Action as ContainAction};
use crate::domain::lifecycle;

use crate::adapters::dynamodb::{IncidentKey, StoreError, signal_key};
use crate::domain::evidence::Evidence;
use crate::domain::finding::{self, Finding, Parsed, Reject};
use crate::domain::incident::{self, Incident};
use crate::services::dispatch::{Dispatcher, NotSent};
use crate::telemetry::metrics;

/// What happened to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The finding was new.
    Created,
    /// A newer version, or a higher level.
    Updated,
    /// A redelivery, or an older version that changes nothing.
    Unchanged,
}

/// The result of handling one message.
#[derive(Debug)]
pub enum Outcome {
    /// Recorded, and every page it owed is sent: the message can be deleted.
    Done {
        /// The incident.
        incident: Box<Incident>,
        /// What changed.
        change: Change,
        /// Keys of the pages this attempt published.
        paged: Vec<String>,
    },
    /// Not a finding: the message goes to the dead-letter queue.
    Rejected(Reject),
    /// An event that calls for no incident (a malware scan that found nothing): the message is deleted.
    /// Says what it was.
    Ignored(String),
    /// Failed for a passing reason (an outage, throttling past the retries, pages held by another worker):
    /// the message must come back, after `after` if given.
    Retry {
        /// Why, for the log.
        reason: String,
        /// When to try again at the earliest.
        after: Option<Duration>,
    },
}

/// Turns findings into incidents and pages.
#[derive(Debug, Clone)]
pub struct Ingest {
    dispatch: Dispatcher,
}

impl Ingest {
    /// Ingests through `dispatch`'s store, pager and rules.
    pub fn new(dispatch: Dispatcher) -> Ingest {
        Ingest { dispatch }
    }

    /// The time now on the clock the incidents' times are taken by.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.dispatch.rules().now()
    }

    /// Handles one queue message body.
    pub async fn handle(&self, body: &str) -> Outcome {
        let finding = match finding::read(body) {
            Ok(Parsed::Finding(f)) => *f,
            Ok(Parsed::Nothing(what)) => return Outcome::Ignored(what),
            Err(reject) => return Outcome::Rejected(reject),
        };
        match self.record(&finding, body).await {
            Ok((incident, change, paged)) => Outcome::Done { incident: Box::new(incident), change, paged },
            Err(NotSent { reason, after }) => Outcome::Retry { reason, after },
        }
    }

    /// Records a valid finding and sends the pages its incident owes.
    pub async fn record(&self, finding: &Finding, body: &str) -> Result<(Incident, Change, Vec<String>), NotSent> {
        // Each attempt claims pages under its own name, so that two messages of one finding in the same
        // daemon never both think a page is theirs.
        let claimant = Uuid::new_v4().to_string();
        let span = tracing::Span::current();
        span.record("finding_id", finding.id.as_str());
        let (incident, change) = self.upsert(finding, body, &claimant).await?;
        span.record("incident_id", incident.incident_id.as_str());
        // An attack sequence links the incidents of the findings it was built from, now or when they come.
        if change != Change::Unchanged {
            for signal in incident.signals.iter().filter(|s| s.is_finding()) {
                self.dispatch.store().put_link(&signal_key(&incident, &signal.uid), &incident).await?;
            }
        }
        if change != Change::Unchanged {
            let change = if change == Change::Created { "created" } else { "updated" };
            let labels = metrics::IncidentLabels { change: change.into(), severity: incident.severity.as_str().into() };
            metrics::get().incidents.get_or_create(&labels).inc();
        }
        match change {
            Change::Created => info!(
                finding_id = %finding.id, incident_id = %incident.incident_id, severity = %incident.severity,
                finding_type = %incident.finding_type, "incident created"
            ),
            Change::Updated => info!(
                finding_id = %finding.id, incident_id = %incident.incident_id, severity = %incident.severity,
                finding_count = incident.finding_count, "incident updated"
            ),
            Change::Unchanged => {
                debug!(finding_id = %finding.id, incident_id = %incident.incident_id, "finding version already recorded")
            }
        }
        let incident =
            if change == Change::Unchanged { incident } else { self.contain_automatically(incident).await? };
        let (incident, paged) = self.dispatch.send_pages(incident, &claimant).await?;
        Ok((incident, change, paged))
    }

    /// Asks for the containment actions `[[containment.automatic]]` wants on `incident` at its level now
    /// (each once: a record, even of an undo, stops it). The daemon's containment round carries them out.
    async fn contain_automatically(&self, incident: Incident) -> Result<Incident, StoreError> {
        let rules = &self.dispatch.rules().containment.automatic;
        let recorded: Vec<ContainAction> = incident.actions.iter().map(|a| a.action).collect();
        let wanted =
            containment::automatic(rules, incident.subject(), incident.severity, &incident.finding_type, &recorded);
        let mut incident = incident;
        for action in wanted {
            let claimant = Uuid::new_v4().to_string();
            incident = self
                .dispatch
                .store()
                .modify(incident, |c| {
                    let ctx = self.dispatch.rules().ctx(&claimant);
                    lifecycle::act(
                        c,
                        &lifecycle::Action::Contain { action, identity: None },
                        containment::AUTOMATIC_BY,
                        &ctx,
                    )
                    .ok()
                    .map(|(i, e)| (i, Some(e)))
                })
                .await?;
            info!(incident_id = %incident.incident_id, action = %action, "containment asked for by policy");
        }
        Ok(incident)
    }

    /// Creates the incident, or applies the finding to the stored one, retrying lost races; keeps the
    /// message as evidence either way.
    async fn upsert(&self, finding: &Finding, body: &str, claimant: &str) -> Result<(Incident, Change), StoreError> {
        let store = self.dispatch.store();
        let rules = self.dispatch.rules();
        // Most findings are new: try the create first and learn of an existing incident from its failure,
        // which costs one write instead of a read and a write.
        let (created, event) = Incident::create(Uuid::new_v4().to_string(), finding, &rules.ctx(claimant));
        let evidence = Evidence::of(&created.incident_id, finding.updated_at, body, Utc::now());
        let (existing, inline_evidence) = match store.commit(&created, None, &[event], Some(&evidence)).await {
            Ok(saved) => return Ok((saved, Change::Created)),
            Err(StoreError::Conflict(current)) => (*current, None),
            Err(StoreError::Exists { current, inline_evidence }) => (*current, inline_evidence),
            Err(e) => return Err(e),
        };
        let key = IncidentKey::of(&created);
        let Some(mut current) = existing else {
            return Err(StoreError::Contended(created.incident_id));
        };
        for _ in 0..16 {
            let Some((next, event)) = incident::apply(&current, finding, &rules.ctx(claimant)) else {
                let evidence = Evidence { incident_id: current.incident_id.clone(), ..evidence };
                // A redelivery of the first version (or its copy from the urgent queue) is kept already.
                if inline_evidence.as_deref() != Some(evidence.sk().as_str()) {
                    store.keep_evidence(&key, &evidence).await?;
                }
                return Ok((current, Change::Unchanged));
            };
            let evidence = Evidence { incident_id: current.incident_id.clone(), ..evidence.clone() };
            match store.commit(&next, Some(&current), &[event], Some(&evidence)).await {
                Ok(saved) => return Ok((saved, Change::Updated)),
                Err(StoreError::Conflict(latest)) => match *latest {
                    Some(latest) => current = latest,
                    None => return Err(StoreError::Contended(current.incident_id)),
                },
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Contended(current.incident_id))
    }
}
