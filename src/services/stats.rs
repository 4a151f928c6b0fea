//! Gathering the figures of a period ([`crate::domain::stats`]): every incident created since then, read
//! newest first, at most [`MAX_INCIDENTS`], counted a page at a time (a page's incidents are dropped once
//! counted, so the memory it takes does not grow with the period's incidents).

use chrono::{DateTime, Utc};

use crate::adapters::dynamodb::{ListFilter, Store, StoreError};
use crate::domain::stats::{Stats, Tally};

/// Incidents read for one set of figures, at most (the figures say how many they cover).
pub const MAX_INCIDENTS: usize = 20_000;
/// Incidents read at a time (held in memory until counted).
const PAGE: usize = 200;

/// The figures of the incidents created since `since` (confidential reports too when `confidential`), at
/// `now`.
pub async fn gather(
    store: &Store,
    since: DateTime<Utc>,
    confidential: bool,
    now: DateTime<Utc>,
) -> Result<Stats, StoreError> {
    let filter = ListFilter { since: Some(since), confidential, ..ListFilter::default() };
    let mut tally = Tally::new(since, now);
    let (mut read, mut next) = (0, None::<String>);
    loop {
        let page = store.list(&filter, PAGE, next.as_deref()).await?;
        read += page.incidents.len();
        page.incidents.iter().for_each(|i| tally.add(i));
        next = page.next;
        if next.is_none() || read >= MAX_INCIDENTS {
            break;
        }
    }
    Ok(tally.finish())
}
