//! Sending the work-hours digest: once per slot of [`WorkHours::digest_slot`] (the start of work hours, then
//! every `digest_every_mins`), to the OCE topic, listing the LOW and MEDIUM incidents nobody acknowledged
//! and the follow-up actions overdue (of the newest [`MAX_READ`] incidents). Several daemons may try at
//! once: a lease lets one of them send, and a watermark records the slot sent, so each slot is sent once.
//! Nothing is sent outside work hours, nor when nothing waits, nor unless `[work_hours] digest` is on.
//!
//! [`WorkHours::digest_slot`]: crate::domain::work_hours::WorkHours::digest_slot

use chrono::Duration;
use tracing::info;

use crate::adapters::dynamodb::{ListFilter, StoreError};
use crate::adapters::sns::PagerError;
use crate::domain::incident::clock;
use crate::domain::incident::{Status, Target};
use crate::domain::{digest, sla};
use crate::services::dispatch::Dispatcher;

/// The lease and watermark of the digest.
const NAME: &str = "digest";
/// Incidents read for one digest, at most (newest first).
pub const MAX_READ: usize = 500;
/// How long one daemon holds the digest while it sends it.
const LEASE: Duration = Duration::minutes(2);

/// Why a digest was not sent.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SNS did not take it.
    #[error(transparent)]
    Publish(#[from] PagerError),
}

/// Sends the digest of the current slot if it is due and not sent yet; returns how many incidents and
/// overdue follow-up actions it listed (`None`: none was due, or another daemon holds it, or nothing waits).
pub async fn send_due(dispatch: &Dispatcher, holder: &str) -> Result<Option<usize>, DigestError> {
    let rules = dispatch.rules();
    if !rules.hours.digest {
        return Ok(None);
    }
    let now = rules.now();
    let Some(slot) = rules.hours.digest_slot(now) else { return Ok(None) };
    let store = dispatch.store();
    if store.watermark(NAME).await?.is_some_and(|sent| sent >= slot.timestamp_millis()) {
        return Ok(None);
    }
    if !store.acquire_lease(NAME, holder, now + LEASE, now).await? {
        return Ok(None);
    }
    // Read again under the lease: another daemon may have sent it just before.
    if store.watermark(NAME).await?.is_some_and(|sent| sent >= slot.timestamp_millis()) {
        return Ok(None);
    }
    // The newest incidents, read once: those that wait, and the follow-up actions overdue on any of them.
    let listing = store.list(&ListFilter::default(), MAX_READ, None).await?;
    let mut waiting = Vec::new();
    let mut overdue = Vec::new();
    for i in listing.incidents.into_iter().filter(|i| !i.confidential) {
        overdue.extend(i.overdue_follow_ups(now).into_iter().map(|f| (i.incident_id.clone(), f.clone())));
        let waits = i.status == Status::Open && i.acknowledged_at.is_none() && !i.severity.pages();
        if waits {
            let clock = sla::summary(&clock::clock(&i, &rules.slas, &rules.hours, now));
            waiting.push((i, clock));
        }
    }
    let listed = waiting.len() + overdue.len();
    if listed > 0 {
        let message = digest::render(&waiting, &overdue, slot);
        let id = dispatch.pager().publish_message(&Target::Oce, message).await?;
        info!(incidents = waiting.len(), overdue = overdue.len(), sns_message_id = %id, "work-hours digest sent");
    }
    store.advance_watermark(NAME, slot.timestamp_millis()).await?;
    Ok((listed > 0).then_some(listed))
}
