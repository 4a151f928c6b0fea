//! The schedule of the daemon's periodic tasks: a round at once and then every period, until shutdown, and a
//! round that shutdown abandons once it has had its grace.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::services::digest;
use crate::services::dispatch::Dispatcher;
use crate::telemetry::metrics;

/// Fires at once and then every period, until shutdown: the schedule of the daemon's periodic tasks.
pub struct Every {
    tick: tokio::time::Interval,
    shutdown: CancellationToken,
}

impl Every {
    /// A schedule of `period` that ends with `shutdown`.
    pub fn new(period: Duration, shutdown: CancellationToken) -> Every {
        let mut tick = tokio::time::interval(period);
        // A round that overruns delays the next one rather than bunching several.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Every { tick, shutdown }
    }

    /// Waits for the next round; `false` once shutdown has begun.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = self.tick.tick() => true,
        }
    }

    /// Runs one round to its end, unless shutdown has begun and [`ROUND_GRACE`] has passed since: a round
    /// stuck on an unresponsive service (calls bounded only by the SDK's timeouts, up to minutes) must not
    /// hold the exit past the contract's 20 s. `None` if it was abandoned.
    pub async fn round<F: std::future::Future>(&self, round: F) -> Option<F::Output> {
        let abandon = async {
            self.shutdown.cancelled().await;
            tokio::time::sleep(ROUND_GRACE).await;
        };
        tokio::select! {
            out = round => Some(out),
            _ = abandon => {
                warn!(grace_secs = ROUND_GRACE.as_secs(), "a periodic task did not finish after shutdown: abandoned");
                None
            }
        }
    }
}

/// How long a periodic round may go on once shutdown has begun: enough to record a page just published.
pub const ROUND_GRACE: Duration = Duration::from_secs(3);

/// Every `every` until shutdown, sends what is due: pages left owed (by anyone), re-pages, notices of missed
/// objectives, and the work-hours digest.
pub async fn attend_periodically(dispatch: Dispatcher, every: Duration, shutdown: CancellationToken) {
    let holder = uuid::Uuid::new_v4().to_string();
    let mut rounds = Every::new(every, shutdown);
    while rounds.next().await {
        match rounds.round(dispatch.attend_due()).await {
            Some(Ok(0)) | None => {}
            Some(Ok(n)) => info!(incidents = n, "sent owed pages and due re-pages"),
            Some(Err(e)) => warn!(error = %e, "could not look for owed pages and due re-pages; will try again"),
        }
        if let Some(Err(e)) = rounds.round(digest::send_due(&dispatch, &holder)).await {
            warn!(error = %e, "could not send the work-hours digest; will try again");
        }
    }
}

/// Every `every` until shutdown, carries out the containment actions people asked for (and their undos).
pub async fn contain_periodically(
    dispatch: Dispatcher,
    containment: crate::adapters::containment::Containment,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut rounds = Every::new(every, shutdown);
    while rounds.next().await {
        match rounds.round(crate::services::containment::attend(&dispatch, &containment)).await {
            Some(Ok(0)) | None => {}
            Some(Ok(n)) => info!(actions = n, "carried out containment actions"),
            Some(Err(e)) => warn!(error = %e, "could not look for containment actions; will try again"),
        }
    }
}

/// Every `every` until shutdown, computes the figures of the last 7 days for `/metrics`.
pub async fn figures_periodically(dispatch: Dispatcher, every: Duration, shutdown: CancellationToken) {
    let mut rounds = Every::new(every, shutdown);
    while rounds.next().await {
        let now = dispatch.rules().now();
        let since = now - chrono::Duration::days(7);
        match rounds.round(crate::services::stats::gather(dispatch.store(), since, true, now)).await {
            Some(Ok(figures)) => metrics::figures(&figures),
            Some(Err(e)) => warn!(error = %e, "could not compute the figures; will try again"),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_round_runs_to_its_end_but_a_stuck_one_is_abandoned_after_shutdown() {
        let shutdown = CancellationToken::new();
        let rounds = Every::new(Duration::from_secs(60), shutdown.clone());
        assert_eq!(rounds.round(async { 7 }).await, Some(7));
        // Not yet shutting down: a slow round is waited for.
        let slow = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            8
        };
        assert_eq!(rounds.round(slow).await, Some(8));
        // Shutting down: a round that would never end is given up, so the daemon can exit.
        shutdown.cancel();
        let stuck = tokio::time::timeout(Duration::from_secs(30), rounds.round(std::future::pending::<()>())).await;
        assert_eq!(stuck.expect("abandoned, not waited for"), None);
    }
}
