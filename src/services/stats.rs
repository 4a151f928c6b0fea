//! Gathering the figures of a period ([`crate::domain::stats`]): every incident created since then, read
//! newest first, at most [`MAX_INCIDENTS`].

use chrono::{DateTime, Utc};

use crate::adapters::dynamodb::{ListFilter, Store, StoreError};
use crate::domain::stats::{Stats, compute};

/// Incidents read for one set of figures, at most (the figures say how many they cover).
pub const MAX_INCIDENTS: usize = 20_000;

/// The figures of the incidents created since `since` (confidential reports too when `confidential`), at
/// `now`.
pub async fn gather(
    store: &Store,
    since: DateTime<Utc>,
    confidential: bool,
    now: DateTime<Utc>,
) -> Result<Stats, StoreError> {
    let filter = ListFilter { since: Some(since), confidential, ..ListFilter::default() };
    let mut incidents = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = store.list(&filter, 1000, next.as_deref()).await?;
        incidents.extend(page.incidents);
        next = page.next;
        if next.is_none() || incidents.len() >= MAX_INCIDENTS {
            break;
        }
    }
    Ok(compute(&incidents, since, now))
}
