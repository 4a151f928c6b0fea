//! Archiving a closed incident's finding in GuardDuty (`[guardduty] archive_on_close`). A failure is never
//! dropped: it is recorded, reported to whoever closed the incident, and retried by the daemon until it works.

use tracing::{info, warn};

use crate::adapters::dynamodb::{PendingArchive, Store, StoreError};
use crate::adapters::guardduty::{Detector, GuardDuty, GuardDutyError};
use crate::domain::incident::{Event, Incident, Source};

/// Why an archive failed (it is recorded and retried).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The incident does not say which detector reported its finding.
    #[error("the finding names no detector")]
    NoDetector,
    /// GuardDuty did not archive it.
    #[error(transparent)]
    GuardDuty(#[from] GuardDutyError),
    /// The failure could not be recorded for the retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn pending(incident: &Incident) -> PendingArchive {
    PendingArchive {
        incident_id: incident.incident_id.clone(),
        finding_id: incident.finding_id.clone(),
        region: incident.region.clone(),
        detector_id: incident.detector_id.clone().unwrap_or_default(),
        attempts: 0,
        last_error: String::new(),
        state: "pending".into(),
    }
}

/// Archives the finding of a just-closed incident; on failure records it for the daemon to retry and
/// returns why.
pub async fn after_close(guardduty: &GuardDuty, store: &Store, incident: &Incident) -> Result<(), ArchiveError> {
    if incident.source != Source::Guardduty {
        return Ok(());
    }
    attempt(guardduty, store, &mut pending(incident)).await
}

/// Asks the daemon to archive the finding of a just-closed incident (its next round does): for processes
/// whose role may not call GuardDuty, such as the portal.
pub async fn request(store: &Store, incident: &Incident) -> Result<(), StoreError> {
    if incident.source != Source::Guardduty {
        return Ok(());
    }
    store.put_pending_archive(&pending(incident)).await
}

/// Tries every pending archive once.
pub async fn retry_pending(guardduty: &GuardDuty, store: &Store) {
    let pending = match store.pending_archives().await {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot read pending archives; will try again");
            return;
        }
    };
    for mut archive in pending {
        let _ = attempt(guardduty, store, &mut archive).await;
    }
}

async fn attempt(guardduty: &GuardDuty, store: &Store, pending: &mut PendingArchive) -> Result<(), ArchiveError> {
    pending.attempts += 1;
    // In an organization only the GuardDuty administrator archives, with its own detector of the region (a
    // member's finding names the member's detector, which is not the administrator's to use): this
    // account's detector first, the finding's where this account has none.
    let own = guardduty.detectors(&pending.region).await.ok().and_then(|d| d.into_iter().next());
    let id = own.map(|d| d.id).unwrap_or_else(|| pending.detector_id.clone());
    let result = if id.is_empty() {
        Err(ArchiveError::NoDetector)
    } else {
        let detector = Detector { region: pending.region.clone(), id };
        guardduty.archive(&detector, &pending.finding_id).await.map_err(ArchiveError::from)
    };
    let (action, summary) = match &result {
        Ok(()) => ("finding.archived", format!("finding {} archived in GuardDuty", pending.finding_id)),
        Err(why) => (
            "archive.failed",
            format!("archiving finding {} failed (attempt {}): {why}", pending.finding_id, pending.attempts),
        ),
    };
    match &result {
        Ok(()) => {
            info!(incident_id = %pending.incident_id, finding_id = %pending.finding_id, "finding archived");
            pending.state = "done".into();
        }
        Err(why) => {
            warn!(incident_id = %pending.incident_id, error = %why, "archiving failed; will retry");
            pending.last_error = why.to_string();
        }
    }
    // Only a failure, or the end of an earlier one, needs the record.
    if result.is_err() || pending.attempts > 1 {
        store.put_pending_archive(pending).await?;
    }
    if let Ok(Some(incident)) = store.find(&pending.incident_id).await {
        let event = Event::new(chrono::Utc::now(), "gd-incidents", action, summary);
        let _ = store
            .modify(incident, |current| {
                let mut next = current.clone();
                next.updated_at = event.at;
                Some((next, Some(event.clone())))
            })
            .await;
    }
    result
}
