//! One finding's way to its incident and pages: parse, create or update the incident with a conditional
//! write, publish the pages it owes, record them as sent. Every step is idempotent, so a message can be
//! processed again after any crash, by any daemon, without a second incident or a second page (but for the
//! narrow window between a publish and its record).

use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::finding::{self, Finding, Reject};
use crate::incident::{self, Ctx, Incident};
use crate::pager::Pager;
use crate::store::{IncidentKey, Store, StoreError};

/// How many lost races with other writers one step tolerates before giving up for now.
const MAX_CONFLICTS: usize = 16;
/// How long a worker waits in-process for pages another worker holds: that worker usually publishes within
/// milliseconds, and an early return would hold the message back for a whole claim period.
const HELD_PATIENCE: Duration = Duration::from_secs(5);

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
    /// Failed for a passing reason (an outage, throttling past the retries, pages held by another worker):
    /// the message must come back, after `after` if given.
    Retry {
        /// Why, for the log.
        reason: String,
        /// When to try again at the earliest.
        after: Option<Duration>,
    },
}

/// A passing failure inside [`Ingest::record`].
#[derive(Debug)]
struct RetryLater {
    reason: String,
    after: Option<Duration>,
}

impl From<StoreError> for RetryLater {
    fn from(e: StoreError) -> Self {
        RetryLater { reason: e.to_string(), after: None }
    }
}

/// Turns findings into incidents and pages.
#[derive(Debug, Clone)]
pub struct Ingest {
    store: Store,
    pager: Pager,
    claim_for: chrono::Duration,
}

impl Ingest {
    /// `claim_for`: how long a worker's claim on a page it is publishing holds.
    pub fn new(store: Store, pager: Pager, claim_for: Duration) -> Ingest {
        Ingest {
            store,
            pager,
            claim_for: chrono::Duration::from_std(claim_for).unwrap_or(chrono::Duration::seconds(60)),
        }
    }

    /// Handles one queue message body.
    pub async fn handle(&self, body: &str) -> Outcome {
        let finding = match finding::parse(body) {
            Ok(f) => f,
            Err(reject) => return Outcome::Rejected(reject),
        };
        match self.record(&finding).await {
            Ok((incident, change, paged)) => Outcome::Done { incident: Box::new(incident), change, paged },
            Err(RetryLater { reason, after }) => Outcome::Retry { reason, after },
        }
    }

    fn ctx<'a>(&self, claimant: &'a str) -> Ctx<'a> {
        Ctx { now: Utc::now(), claimant, claim_for: self.claim_for }
    }

    /// Records a valid finding and sends the pages its incident owes.
    async fn record(&self, finding: &Finding) -> Result<(Incident, Change, Vec<String>), RetryLater> {
        // Each attempt claims pages under its own name, so that two messages of one finding in the same
        // daemon never both think a page is theirs.
        let claimant = Uuid::new_v4().to_string();
        let (incident, change) = self.upsert(finding, &claimant).await?;
        match change {
            Change::Created => info!(
                finding_id = %finding.id, incident_id = %incident.incident_id, severity = %incident.severity,
                finding_type = %incident.finding_type, "incident created"
            ),
            Change::Updated => info!(
                finding_id = %finding.id, incident_id = %incident.incident_id, severity = %incident.severity,
                finding_count = incident.finding_count, "incident updated"
            ),
            Change::Unchanged => debug!(
                finding_id = %finding.id, incident_id = %incident.incident_id, "finding version already recorded"
            ),
        }
        let (incident, paged) = self.send_pages(incident, &claimant).await?;
        Ok((incident, change, paged))
    }

    /// Creates the incident, or applies the finding to the stored one, retrying lost races.
    async fn upsert(&self, finding: &Finding, claimant: &str) -> Result<(Incident, Change), RetryLater> {
        // Most findings are new: try the create first and learn of an existing incident from its failure,
        // which costs one write instead of a read and a write.
        let created = Incident::create(Uuid::new_v4().to_string(), finding, &self.ctx(claimant));
        let existing = match self.store.save(&created, None).await {
            Ok(saved) => return Ok((saved, Change::Created)),
            Err(StoreError::Conflict(current)) => *current,
            Err(e) => return Err(e.into()),
        };
        let Some(existing) = existing else {
            return Err(RetryLater { reason: "the incident exists but could not be read".into(), after: None });
        };
        let before = existing.version;
        let stored = self.modify(existing, |current, ctx| incident::apply(current, finding, ctx), claimant).await?;
        let change = if stored.version == before { Change::Unchanged } else { Change::Updated };
        Ok((stored, change))
    }

    /// Applies `change` to the stored incident with a conditional write, re-reading and re-applying when
    /// another writer got there first. Returns the incident as stored.
    async fn modify(
        &self,
        mut current: Incident,
        change: impl Fn(&Incident, &Ctx) -> Option<Incident>,
        claimant: &str,
    ) -> Result<Incident, RetryLater> {
        for _ in 0..MAX_CONFLICTS {
            let Some(next) = change(&current, &self.ctx(claimant)) else {
                return Ok(current);
            };
            match self.store.save(&next, Some(current.version)).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::Conflict(latest)) => match *latest {
                    Some(latest) => current = latest,
                    None => {
                        return Err(RetryLater {
                            reason: "the incident vanished during an update".into(),
                            after: None,
                        });
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(RetryLater {
            reason: format!("lost {MAX_CONFLICTS} races for incident {}", current.incident_id),
            after: None,
        })
    }

    /// Publishes every page the incident owes that this worker holds or can claim, and records them as sent.
    async fn send_pages(&self, mut incident: Incident, claimant: &str) -> Result<(Incident, Vec<String>), RetryLater> {
        let mut paged = Vec::new();
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(100);
        for _ in 0..MAX_CONFLICTS * 2 {
            let plan = incident::page_plan(&incident, &self.ctx(claimant));
            if !plan.claimable.is_empty() {
                let keys = plan.claimable.clone();
                incident = self.modify(incident, |current, ctx| incident::claim(current, &keys, ctx), claimant).await?;
                continue;
            }
            if !plan.mine.is_empty() {
                let results = join_all(plan.mine.iter().map(|key| {
                    let incident = &incident;
                    async move {
                        let page = incident.pages.get(key).ok_or_else(|| format!("page {key} vanished"))?;
                        self.pager
                            .publish(incident, page)
                            .await
                            .map(|message_id| (key.clone(), message_id))
                            .map_err(|e| e.to_string())
                    }
                }))
                .await;
                let mut sent = Vec::new();
                let mut failure = None;
                for result in results {
                    match result {
                        Ok(done) => sent.push(done),
                        Err(e) => failure = Some(e),
                    }
                }
                for (key, message_id) in &sent {
                    info!(incident_id = %incident.incident_id, page = %key, sns_message_id = %message_id, "page sent");
                }
                paged.extend(sent.iter().map(|(k, _)| k.clone()));
                let now = Utc::now();
                incident =
                    self.modify(incident, |current, _| incident::mark_sent(current, &sent, now), claimant).await?;
                if let Some(reason) = failure {
                    warn!(incident_id = %incident.incident_id, error = %reason, "page not sent; will retry");
                    return Err(RetryLater { reason, after: None });
                }
                continue;
            }
            if let Some(until) = plan.held_until {
                if waited < HELD_PATIENCE {
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(Duration::from_secs(1));
                    incident = self.store.load(&IncidentKey::of(&incident)).await?.ok_or_else(|| RetryLater {
                        reason: format!("incident {} vanished", incident.incident_id),
                        after: None,
                    })?;
                    continue;
                }
                let wait = (until - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
                return Err(RetryLater {
                    reason: format!("pages of incident {} are being sent by another worker", incident.incident_id),
                    after: Some(wait),
                });
            }
            return Ok((incident, paged));
        }
        Err(RetryLater { reason: format!("pages of incident {} kept changing", incident.incident_id), after: None })
    }
}
