//! Sending the pages an incident owes: claim, publish, record as sent. Shared by the daemon (findings and
//! re-pages) and the command line (staff reports), so a page is sent the same way whoever made it owed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tracing::{info, warn};
use uuid::Uuid;

use crate::adapters::dynamodb::{IncidentKey, Store, StoreError};
use crate::adapters::sns::{AckLinks, Pager};
use crate::domain::escalation::Escalation;
use crate::domain::incident::{self, Ctx, Event, Incident};
use crate::domain::lifecycle::Refusal;
use crate::domain::policy::Policy;
use crate::domain::sla::Slas;
use crate::domain::work_hours::WorkHours;
use crate::services::clock::Clock;
use crate::telemetry::metrics;

/// How long a worker waits in-process for pages another worker holds: that worker usually publishes within
/// milliseconds, and giving up early would hold a message back for a whole claim period.
const HELD_PATIENCE: Duration = Duration::from_secs(5);
/// Bound on claim/publish rounds for one incident.
const MAX_ROUNDS: usize = 32;

/// The rules every writer of incidents applies.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How long a claim on a page holds.
    pub claim_for: chrono::Duration,
    /// Floors and suppressions.
    pub policy: Arc<Policy>,
    /// Who is re-paged, and when, while nobody acknowledges.
    pub escalation: Arc<Escalation>,
    /// The response objectives of each level.
    pub slas: Arc<Slas>,
    /// Work hours.
    pub hours: Arc<WorkHours>,
    /// Stakeholder routes and clients.
    pub routing: Arc<crate::domain::routing::Routing>,
    /// The time.
    pub clock: Clock,
    /// `[containment]`: automatic actions, second approvers, what plans reach (quarantine bucket, IP sets).
    pub containment: Arc<crate::config::ContainmentConfig>,
}

impl Rules {
    /// The rules a configuration sets (validated when it was loaded).
    pub fn from_config(config: &crate::config::Config) -> Rules {
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Rules {
            claim_for: secs(config.paging.claim_timeout_secs),
            policy: Arc::new(config.policy.clone()),
            escalation: Arc::new(config.escalation_paths().unwrap_or_default()),
            slas: Arc::new(config.sla.clone()),
            hours: Arc::new(config.work_hours.clone()),
            routing: Arc::new(config.routing()),
            clock: Clock::from_config(config),
            containment: Arc::new(config.containment.clone()),
        }
    }

    /// The context for the pure functions, now, for `claimant`.
    pub fn ctx<'a>(&'a self, claimant: &'a str) -> Ctx<'a> {
        Ctx {
            now: self.clock.now(),
            claimant,
            claim_for: self.claim_for,
            policy: &self.policy,
            escalation: &self.escalation,
            slas: &self.slas,
            hours: &self.hours,
            routing: &self.routing,
        }
    }

    /// The time now, as [`Rules::clock`] tells it.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }
}

/// The result of [`Dispatcher::apply`].
#[derive(Debug)]
pub struct Applied {
    /// The incident as stored.
    pub incident: Incident,
    /// Why the rules refused the change (nothing was written), if they did.
    pub refusal: Option<Refusal>,
    /// Why some pages or notices are not sent yet (the daemon sends them), if any are not.
    pub pending: Option<NotSent>,
}

/// A page that could not be sent now.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct NotSent {
    /// Why.
    pub reason: String,
    /// When to try again at the earliest, if known.
    pub after: Option<Duration>,
}

impl From<StoreError> for NotSent {
    fn from(e: StoreError) -> Self {
        NotSent { reason: e.to_string(), after: None }
    }
}

/// Sends owed pages.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: Store,
    pager: Pager,
    rules: Rules,
    drops_unroutable: bool,
}

impl Dispatcher {
    /// A dispatcher writing to `store` and publishing through `pager`.
    pub fn new(store: Store, pager: Pager, rules: Rules) -> Dispatcher {
        Dispatcher { store, pager, rules, drops_unroutable: false }
    }

    /// The daemon's dispatcher: pages owed to a route or client its configuration lacks are given up (and
    /// recorded so), where any other process leaves them owed for the daemon.
    pub fn dropping_unroutable(self) -> Dispatcher {
        Dispatcher { drops_unroutable: true, ..self }
    }

    /// The dispatcher a configuration sets: its rules, and a pager for its two topics and for the routes and
    /// clients those rules owe pages to (one routing table for both).
    pub fn from_config(store: Store, sns: aws_sdk_sns::Client, config: &crate::config::Config) -> Dispatcher {
        let rules = Rules::from_config(config);
        let links = match (&config.paging.portal_url, &config.paging.ack_link_key) {
            (Some(base), Some(key)) => {
                Some(AckLinks { base: base.trim_end_matches('/').to_owned(), key: key.as_bytes().to_vec() })
            }
            _ => None,
        };
        let claim = std::time::Duration::from_secs(config.paging.claim_timeout_secs);
        let pager = Pager::new(
            sns,
            &config.paging.oce_topic_arn,
            &config.paging.iso_topic_arn,
            Arc::clone(&rules.routing),
            claim,
        )
        .with_ack_links(links);
        Dispatcher::new(store, pager, rules)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The pager.
    pub fn pager(&self) -> &Pager {
        &self.pager
    }

    /// Publishes every page `incident` owes that `claimant` holds or can claim, and records them as sent.
    /// Returns the incident as stored and the keys of the pages this call published.
    pub async fn send_pages(&self, mut incident: Incident, claimant: &str) -> Result<(Incident, Vec<String>), NotSent> {
        let mut paged = Vec::new();
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(100);
        for _ in 0..MAX_ROUNDS {
            let plan = incident::page_plan(&incident, &self.rules.ctx(claimant));
            let routable = |k: &String| incident.pages.get(k).is_some_and(|p| self.pager.topic(&p.target).is_some());
            let (claimable, unroutable): (Vec<String>, Vec<String>) =
                plan.claimable.iter().cloned().partition(routable);
            if !claimable.is_empty() {
                incident = self
                    .store
                    .modify(incident, |current| {
                        incident::claim(current, &claimable, &self.rules.ctx(claimant)).map(|next| (next, None))
                    })
                    .await?;
                continue;
            }
            // A responder's command may lack a route or client the daemon has: it leaves those pages owed (and
            // due) for the daemon. Only the daemon, whose configuration is the deployment's, gives them up.
            if !unroutable.is_empty() && self.drops_unroutable {
                warn!(incident_id = %incident.incident_id, pages = ?unroutable, "pages to a route or client no longer configured: dropped");
                let now = self.rules.now();
                incident = self
                    .store
                    .modify(incident, |current| {
                        incident::drop_pages(current, &unroutable, now).map(|(i, e)| (i, Some(e)))
                    })
                    .await?;
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
                    if let Some(page) = incident.pages.get(key) {
                        let labels = metrics::PageLabels {
                            target: page.target.as_str().into(),
                            severity: page.level.as_str().into(),
                        };
                        metrics::get().pages_sent.get_or_create(&labels).inc();
                    }
                }
                paged.extend(sent.iter().map(|(k, _)| k.clone()));
                let now = self.rules.now();
                incident = self
                    .store
                    .modify(incident, |current| incident::mark_sent(current, &sent, now).map(|(i, e)| (i, Some(e))))
                    .await?;
                if let Some(reason) = failure {
                    metrics::get().pages_failed.inc();
                    warn!(incident_id = %incident.incident_id, error = %reason, "page not sent; will retry");
                    return Err(NotSent { reason, after: None });
                }
                continue;
            }
            if let Some(until) = plan.held_until {
                if waited < HELD_PATIENCE {
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(Duration::from_secs(1));
                    incident = self.store.load(&IncidentKey::of(&incident)).await?.ok_or_else(|| NotSent {
                        reason: format!("incident {} vanished", incident.incident_id),
                        after: None,
                    })?;
                    continue;
                }
                let wait = (until - self.rules.now()).to_std().unwrap_or_default() + Duration::from_secs(1);
                return Err(NotSent {
                    reason: format!("pages of incident {} are being sent by another worker", incident.incident_id),
                    after: Some(wait),
                });
            }
            return Ok((incident, paged));
        }
        Err(NotSent { reason: format!("pages of incident {} kept changing", incident.incident_id), after: None })
    }

    /// Applies a person's change to `incident` (a conditional write, re-applied on the latest version when
    /// another writer got there first) and sends the pages and notices it made owed. What this process
    /// cannot send (it crashed, SNS failed, it has no topic for that route) stays owed on the incident, in
    /// the index of what is due, and the daemon sends it once this process's claim has lapsed.
    pub async fn apply<F>(&self, incident: Incident, claimant: &str, mut change: F) -> Result<Applied, StoreError>
    where
        F: FnMut(&Incident, &Ctx) -> Result<(Incident, Event), Refusal>,
    {
        let mut refusal = None;
        let stored = self
            .store
            .modify(incident, |current| {
                refusal = None;
                match change(current, &self.rules.ctx(claimant)) {
                    Ok((next, event)) => Some((next, Some(event))),
                    Err(r) => {
                        refusal = Some(r);
                        None
                    }
                }
            })
            .await?;
        if let Some(refusal) = refusal {
            return Ok(Applied { incident: stored, refusal: Some(refusal), pending: None });
        }
        match self.send_pages(stored.clone(), claimant).await {
            Ok((stored, _)) => Ok(Applied { incident: stored, refusal: None, pending: None }),
            Err(e) => Ok(Applied { incident: stored, refusal: None, pending: Some(e) }),
        }
    }

    /// Records a new incident (a staff report) and sends the pages it owes. Returns the incident as stored,
    /// and why its pages are not all sent, if they are not (the daemon then sends them).
    pub async fn create(
        &self,
        incident: &Incident,
        event: Event,
        claimant: &str,
    ) -> Result<(Incident, Option<NotSent>), StoreError> {
        let stored = self.store.commit(incident, None, &[event], None).await?;
        match self.send_pages(stored.clone(), claimant).await {
            Ok((stored, _)) => Ok((stored, None)),
            Err(e) => Ok((stored, Some(e))),
        }
    }

    /// Looks at every incident that is due (see [`Incident::due_at`]): sends the pages it still owes whose
    /// claim has lapsed, whoever owed them (a finding whose publish failed, a command or the portal that
    /// could not reach SNS, a re-page that failed or whose sender stopped), then the re-page that is due, if
    /// one is. Several daemons may run this at once: claims and conditional writes let one of them send each
    /// page. Returns how many incidents had something sent or re-paged.
    pub async fn attend_due(&self) -> Result<usize, StoreError> {
        let mut attended = 0;
        for key in self.store.due(self.rules.now()).await? {
            let Some(mut current) = self.store.load(&key).await? else { continue };
            let claimant = Uuid::new_v4().to_string();
            let plan = incident::page_plan(&current, &self.rules.ctx(&claimant));
            if !plan.is_done() {
                if plan.claimable.is_empty() && plan.mine.is_empty() {
                    // Another worker holds them and is sending: look again next round, without waiting.
                    continue;
                }
                match self.send_pages(current, &claimant).await {
                    Ok((stored, paged)) => {
                        if !paged.is_empty() {
                            attended += 1;
                            info!(incident_id = %stored.incident_id, pages = ?paged, "sent pages left owed");
                        }
                        current = stored;
                    }
                    Err(e) => {
                        // Still owed under a fresh claim: due again when it lapses.
                        warn!(finding_id = %key.finding_id, error = %e, "owed pages not sent yet; will try again");
                        continue;
                    }
                }
            }
            current = self.record_breaches(current, &claimant).await?;
            if current.escalate_at.is_none_or(|at| at > self.rules.now()) {
                continue;
            }
            let before = current.escalations;
            let stored = self
                .store
                .modify(current, |c| incident::escalate(c, &self.rules.ctx(&claimant)).map(|(i, e)| (i, Some(e))))
                .await?;
            if stored.escalations > before {
                attended += 1;
                metrics::get().escalations.inc();
                info!(incident_id = %stored.incident_id, escalation = stored.escalations, "re-paging: not acknowledged");
            }
            let incident_id = stored.incident_id.clone();
            if let Err(e) = self.send_pages(stored, &claimant).await {
                // Still owed under this claim: the next round after it lapses sends it.
                warn!(%incident_id, error = %e, "re-page not sent yet; will try again");
            }
        }
        Ok(attended)
    }

    /// Records the response objectives `incident` has missed by now, once each, and sends the notices they
    /// owe (the ISO and the OCE hear of a HIGH or CRITICAL incident's breach at once; LOW and MEDIUM ones
    /// wait for the work-hours digest). Returns the incident as stored.
    async fn record_breaches(&self, incident: Incident, claimant: &str) -> Result<Incident, StoreError> {
        let rules = &self.rules;
        let mut found = Vec::new();
        let stored = self
            .store
            .modify(incident, |c| {
                let ctx = rules.ctx(claimant);
                let (next, breaches) =
                    crate::domain::incident::clock::due_breaches(c, &rules.slas, &rules.hours, ctx.now)?;
                let (next, event) = crate::domain::incident::clock::announce(next, &breaches, &ctx);
                found = breaches;
                Some((next, Some(event)))
            })
            .await?;
        for breach in &found {
            metrics::get().sla_breaches.inc();
            warn!(incident_id = %stored.incident_id, goal = %breach.goal, level = %breach.level, "response objective missed");
        }
        if found.is_empty() {
            return Ok(stored);
        }
        match self.send_pages(stored.clone(), claimant).await {
            Ok((stored, _)) => Ok(stored),
            Err(e) => {
                warn!(incident_id = %stored.incident_id, error = %e, "breach notice not sent yet; will try again");
                Ok(stored)
            }
        }
    }
}
