//! The two lanes, work and urgent, and how the work lane yields to the urgent one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::timeout;

/// Which queue a receive loop drains.
#[derive(Debug)]
pub(super) enum Lane {
    /// The work queue: every finding. Yields to the urgent lane when there is one.
    Work(Option<Arc<Priority>>),
    /// The urgent queue: copies of the HIGH and CRITICAL findings.
    Urgent(Arc<Priority>),
}

/// What the urgent lane has in flight, for the work lane to yield to.
#[derive(Debug)]
pub(super) struct Priority {
    /// Urgent messages in flight (plus one until the urgent lane's first receive has returned).
    busy: AtomicUsize,
    /// Told when `busy` drops to zero.
    idle: Notify,
}

impl Priority {
    pub(super) fn new(busy: usize) -> Priority {
        Priority { busy: AtomicUsize::new(busy), idle: Notify::new() }
    }

    pub(super) fn enter(&self, n: usize) {
        self.busy.fetch_add(n, Ordering::SeqCst);
    }

    pub(super) fn leave(&self, n: usize) {
        let before = self.busy.fetch_sub(n, Ordering::SeqCst);
        if before <= n {
            self.idle.notify_waiters();
        }
    }

    pub(super) fn is_idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    /// Returns when nothing urgent is in flight, or after `limit` at the latest.
    pub(super) async fn wait_idle(&self, limit: Duration) {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                // Registered before the check, so a `leave` in between is not missed.
                notified.as_mut().enable();
                if self.is_idle() {
                    return;
                }
                notified.await;
            }
        };
        let _ = timeout(limit, wait).await;
    }
}

/// One urgent message in flight: leaves the [`Priority`] count when dropped.
pub(super) struct Settling(pub(super) Arc<Priority>);

impl Drop for Settling {
    fn drop(&mut self) {
        self.0.leave(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_lane_waits_for_urgent_work_but_not_forever() {
        // Busy until the urgent lane's first receive: the wait still ends, at its limit.
        let priority = Arc::new(Priority::new(1));
        assert!(!priority.is_idle());
        priority.wait_idle(Duration::from_millis(20)).await;
        priority.enter(2);
        let waiter = tokio::spawn({
            let priority = priority.clone();
            async move { priority.wait_idle(Duration::from_secs(3600)).await }
        });
        priority.leave(1);
        priority.leave(1);
        assert!(!priority.is_idle());
        assert!(!waiter.is_finished());
        // The last urgent message settled: the waiter is woken, not left to its hour-long limit.
        priority.leave(1);
        assert!(priority.is_idle());
        timeout(Duration::from_secs(30), waiter).await.expect("woken when idle").unwrap();
        // Idle: no wait at all.
        timeout(Duration::from_secs(30), priority.wait_idle(Duration::from_secs(3600))).await.expect("idle");
    }
}
