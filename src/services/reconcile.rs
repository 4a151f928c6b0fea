//! Reconciliation: findings EventBridge never delivered (a rule disabled, a queue purged, the daemon down
//! past the retention period, findings from before the deployment) are read from the GuardDuty API and fed
//! through exactly the path of a queue message, so a finding seen both ways is still one incident, paged once.
//!
//! Each sweep lists, per detector, the unarchived findings updated since a watermark kept in DynamoDB (minus
//! an overlap, for findings updated while the last sweep ran), reads them 50 at a time, and ingests each.
//! The watermark moves forward only when every finding of the sweep was recorded. A lease in DynamoDB that
//! lasts one interval lets a single daemon sweep per interval however many run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::adapters::dynamodb::{Store, StoreError};
use crate::adapters::guardduty::{Detector, GET_BATCH, GuardDuty, GuardDutyError, to_body};
use crate::config::Config;
use crate::services::ingest::{Change, Ingest, Outcome};
use crate::telemetry::metrics;

/// Findings updated this long before the watermark are listed again: GuardDuty may update a finding while a
/// sweep runs, with an `updatedAt` just before the newest one that sweep saw.
const OVERLAP_MS: i64 = 5 * 60 * 1000;

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// GuardDuty did not answer.
    #[error(transparent)]
    GuardDuty(#[from] GuardDutyError),
    /// The table did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one sweep of one detector found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DetectorReport {
    /// The detector's region.
    pub region: String,
    /// The detector.
    pub detector_id: String,
    /// Findings updated at or after this time were listed.
    pub since: String,
    /// Findings listed.
    pub listed: usize,
    /// New incidents.
    pub created: usize,
    /// Incidents a finding changed (newer version, higher level).
    pub updated: usize,
    /// Findings already recorded as they are.
    pub unchanged: usize,
    /// Findings the parser rejected (should not happen for API findings).
    pub rejected: usize,
    /// Findings not recorded for a passing reason (retried by the next sweep).
    pub failed: usize,
    /// Pages this sweep sent.
    pub pages: usize,
}

/// Sweeps detectors.
#[derive(Debug, Clone)]
pub struct Reconciler {
    guardduty: GuardDuty,
    store: Store,
    ingest: Ingest,
    config: crate::config::GuardDutyConfig,
    regions: Vec<String>,
}

impl Reconciler {
    /// A reconciler for the configured detectors or regions.
    pub fn new(config: &Config, guardduty: GuardDuty, store: Store, ingest: Ingest) -> Reconciler {
        Reconciler { guardduty, store, ingest, config: config.guardduty.clone(), regions: config.guardduty_regions() }
    }

    /// The detectors to sweep: configured, or found in each region.
    pub async fn detectors(&self) -> Result<Vec<Detector>, ReconcileError> {
        if !self.config.detectors.is_empty() {
            return Ok(self
                .config
                .detectors
                .iter()
                .map(|d| Detector { region: d.region.clone(), id: d.id.clone() })
                .collect());
        }
        let mut all = Vec::new();
        for region in &self.regions {
            all.extend(self.guardduty.detectors(region).await?);
        }
        Ok(all)
    }

    /// One sweep of every detector: from the watermark, or from `since` (a sweep by hand, which leaves the
    /// watermark alone).
    pub async fn sweep(&self, since: Option<DateTime<Utc>>) -> Result<Vec<DetectorReport>, ReconcileError> {
        let mut reports = Vec::new();
        for detector in self.detectors().await? {
            reports.push(self.sweep_detector(&detector, since).await?);
        }
        Ok(reports)
    }

    async fn sweep_detector(
        &self,
        detector: &Detector,
        since: Option<DateTime<Utc>>,
    ) -> Result<DetectorReport, ReconcileError> {
        let mark = format!("{}#{}", detector.region, detector.id);
        let since_ms = match since {
            Some(t) => t.timestamp_millis(),
            None => match self.store.watermark(&mark).await? {
                Some(ms) => ms - OVERLAP_MS,
                None => Utc::now().timestamp_millis() - i64::from(self.config.initial_lookback_days) * 86_400_000,
            },
        };
        let mut report = DetectorReport {
            region: detector.region.clone(),
            detector_id: detector.id.clone(),
            since: DateTime::from_timestamp_millis(since_ms).map(crate::domain::timestamp::format).unwrap_or_default(),
            ..Default::default()
        };
        let ids = self.guardduty.finding_ids_since(detector, since_ms).await?;
        report.listed = ids.len();
        let mut newest_ms = None;
        for chunk in ids.chunks(GET_BATCH) {
            for finding in self.guardduty.findings(detector, chunk).await? {
                let updated_ms = finding
                    .updated_at
                    .as_deref()
                    .and_then(|t| crate::domain::timestamp::parse(t).ok())
                    .map(|t| t.timestamp_millis());
                newest_ms = newest_ms.max(updated_ms);
                let kind = match self.ingest.handle(&to_body(&finding)).await {
                    Outcome::Done { change, paged, .. } => {
                        report.pages += paged.len();
                        match change {
                            Change::Created => {
                                report.created += 1;
                                "created"
                            }
                            Change::Updated => {
                                report.updated += 1;
                                "updated"
                            }
                            Change::Unchanged => {
                                report.unchanged += 1;
                                "unchanged"
                            }
                        }
                    }
                    Outcome::Ignored(what) => {
                        warn!(finding_id = ?finding.id, %what, "GuardDuty returned a finding that makes no incident");
                        report.rejected += 1;
                        "rejected"
                    }
                    Outcome::Rejected(reject) => {
                        warn!(finding_id = ?finding.id, reason = %reject, "GuardDuty returned a finding the parser rejects");
                        report.rejected += 1;
                        "rejected"
                    }
                    Outcome::Retry { reason, .. } => {
                        warn!(finding_id = ?finding.id, %reason, "finding not recorded; the next sweep retries it");
                        report.failed += 1;
                        "failed"
                    }
                };
                metrics::count(&metrics::get().reconciled, kind);
            }
        }
        if since.is_none()
            && report.failed == 0
            && let Some(ms) = newest_ms
        {
            self.store.advance_watermark(&mark, ms).await?;
        }
        Ok(report)
    }

    /// Sweeps at start and every `every` (when `sweeps` is on), while holding the lease, until `shutdown`;
    /// also retries pending archives. Every call of a round, the lease included, is inside the round, so a
    /// hung service never holds the exit past the round's grace.
    pub async fn run(self, every: Duration, sweeps: bool, holder: String, shutdown: CancellationToken) {
        let mut rounds = crate::services::schedule::Every::new(every, shutdown.clone());
        while rounds.next().await {
            rounds.round(self.round(every, sweeps, &holder, &shutdown)).await;
        }
    }

    /// One round of [`Reconciler::run`].
    async fn round(&self, every: Duration, sweeps: bool, holder: &str, shutdown: &CancellationToken) {
        crate::services::archive::retry_pending(&self.guardduty, &self.store).await;
        if !sweeps {
            return;
        }
        let now = Utc::now();
        // Held for most of an interval, renewed by the same holder: one sweep per interval in all.
        let until = now + chrono::Duration::from_std(every.mul_f64(0.9)).unwrap_or(chrono::Duration::minutes(10));
        match self.store.acquire_lease("reconcile", holder, until, now).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warn!(error = %e, "cannot take the reconciliation lease; will try again");
                return;
            }
        }
        let sweep = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = self.sweep(None) => r,
        };
        match sweep {
            Ok(reports) => {
                for r in reports {
                    info!(
                        region = %r.region, detector = %r.detector_id, listed = r.listed, created = r.created,
                        updated = r.updated, failed = r.failed, "reconciled"
                    );
                }
            }
            Err(e) => warn!(error = %e, "reconciliation failed; will try again"),
        }
    }
}
