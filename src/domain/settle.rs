//! What becomes of a queue message once it has been processed: the poison-message policy, as a function.
//!
//! # Poison-message policy
//! - **Processed** (incident recorded, pages sent): deleted, in batches.
//! - **Not a finding** (not JSON, not a GuardDuty finding event, a required member missing, a severity that
//!   is not a number in [0, 10]): sent at once to the dead-letter queue with the message attributes
//!   `reject_reason` (a code) and `reject_detail` (the text), then deleted. If the dead-letter send fails,
//!   the message is left to come back and be judged again: it is never deleted unsaved.
//! - **Failed for a passing reason** (throttling or an outage past the SDK's retries, a page held by another
//!   worker): left on the queue, hidden for a backoff that doubles with each receive (from
//!   `retry_delay_secs`, at most 15 minutes). Once it has been received `requeue_after_receives` times, it is
//!   sent again as a fresh message and the old one deleted, so that the queue's redrive policy (which counts
//!   receives, not reasons) never dead-letters a good finding during an outage.
//! - **Crashing or hanging the daemon**: never deleted, so it comes back; after the redrive policy's
//!   `maxReceiveCount` receives SQS itself moves it to the dead-letter queue.
//!
//! [`settle`] decides; the consumer (`interfaces::consumer`) only carries the decision out.

use std::time::Duration;

use crate::domain::finding::truncate;

/// Longest `reject_detail` kept.
pub const MAX_DETAIL: usize = 1000;
/// Longest backoff for a retried message (SQS's maximum delay).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// What processing a message gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processing<'a> {
    /// Recorded, and every page it owed is sent.
    Processed,
    /// Not a finding: `code` names the reason (`not_json`...), `detail` says it in words.
    Rejected {
        /// The reason's code.
        code: &'a str,
        /// The reason in words, any length.
        detail: &'a str,
    },
    /// Failed for a passing reason (an outage, throttling, a page held by another worker); `after`, when
    /// given, is the earliest moment worth trying again (e.g. when another worker's claim runs out).
    Failed {
        /// When to try again at the earliest.
        after: Option<Duration>,
    },
}

/// How often a message has been round the queue, from its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Receives of this copy, this one included (SQS's `ApproximateReceiveCount`).
    pub receives: u32,
    /// Times the message was sent again as a fresh copy (our `requeues` attribute).
    pub requeues: u64,
}

impl Delivery {
    /// Reads the attributes' text: a missing or unreadable receive count is a first receive, a missing or
    /// unreadable requeue count is none.
    pub fn from_attributes(receive_count: Option<&str>, requeues: Option<&str>) -> Delivery {
        Delivery {
            receives: receive_count.and_then(|c| c.parse().ok()).unwrap_or(1),
            requeues: requeues.and_then(|c| c.parse().ok()).unwrap_or(0),
        }
    }
}

/// The queue settings the policy depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Hidden this long after the first failure, doubled on each further receive.
    pub retry_delay: Duration,
    /// From this many receives on, a failed message is sent again as a fresh one.
    pub requeue_after_receives: u32,
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Delete it: done.
    Delete,
    /// Copy it to the dead-letter queue with the reason, then delete it (only once the copy is sent).
    DeadLetter {
        /// The `reject_reason` attribute.
        code: String,
        /// The `reject_detail` attribute, at most [`MAX_DETAIL`] characters.
        detail: String,
    },
    /// Leave it on the queue, hidden for this long.
    Hide {
        /// Until it comes back.
        hidden_for: Duration,
    },
    /// Send it again as a fresh message, delayed, with `requeues` as its requeue count, then delete it; if
    /// the send fails, hide it for `delay` instead.
    Requeue {
        /// Until the fresh copy is delivered.
        delay: Duration,
        /// The fresh copy's requeue count (one more than this copy's).
        requeues: u64,
    },
}

/// Decides what becomes of a message by the poison-message policy.
pub fn settle(processing: &Processing<'_>, delivery: Delivery, settings: Settings) -> Settlement {
    match processing {
        Processing::Processed => Settlement::Delete,
        Processing::Rejected { code, detail } => {
            Settlement::DeadLetter { code: (*code).to_owned(), detail: truncate(detail, MAX_DETAIL) }
        }
        Processing::Failed { after } => {
            let delay =
                after.unwrap_or_else(|| backoff(settings.retry_delay, delivery.receives, MAX_DELAY)).min(MAX_DELAY);
            if delivery.receives >= settings.requeue_after_receives {
                Settlement::Requeue { delay, requeues: delivery.requeues.saturating_add(1) }
            } else {
                Settlement::Hide { hidden_for: delay }
            }
        }
    }
}

/// `base` doubled for each attempt after the first, at most `cap`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16))).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings { retry_delay: Duration::from_secs(15), requeue_after_receives: 5 };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn delivery(receives: u32, requeues: u64) -> Delivery {
        Delivery { receives, requeues }
    }

    #[test]
    fn every_outcome_settles_by_the_policy() {
        let long = "x".repeat(5000);
        let cut = format!("{}…", "x".repeat(MAX_DETAIL - 1));
        let failed = Processing::Failed { after: None };
        let table: Vec<(&str, Processing<'_>, Delivery, Settlement)> = vec![
            ("processed", Processing::Processed, delivery(1, 0), Settlement::Delete),
            ("processed late", Processing::Processed, delivery(9, 3), Settlement::Delete),
            (
                "rejected",
                Processing::Rejected { code: "not_json", detail: "expected value at line 1" },
                delivery(1, 0),
                Settlement::DeadLetter { code: "not_json".into(), detail: "expected value at line 1".into() },
            ),
            (
                "rejected, long detail",
                Processing::Rejected { code: "missing_field", detail: &long },
                delivery(7, 2),
                Settlement::DeadLetter { code: "missing_field".into(), detail: cut.clone() },
            ),
            ("failed once", failed.clone(), delivery(1, 0), Settlement::Hide { hidden_for: secs(15) }),
            ("failed twice", failed.clone(), delivery(2, 0), Settlement::Hide { hidden_for: secs(30) }),
            // Requeue threshold: one below, at, above.
            ("below requeue", failed.clone(), delivery(4, 0), Settlement::Hide { hidden_for: secs(120) }),
            ("at requeue", failed.clone(), delivery(5, 0), Settlement::Requeue { delay: secs(240), requeues: 1 }),
            ("above requeue", failed.clone(), delivery(6, 2), Settlement::Requeue { delay: secs(480), requeues: 3 }),
            (
                "held by another worker",
                Processing::Failed { after: Some(secs(42)) },
                delivery(1, 0),
                Settlement::Hide { hidden_for: secs(42) },
            ),
            (
                "held past the cap",
                Processing::Failed { after: Some(secs(5000)) },
                delivery(2, 0),
                Settlement::Hide { hidden_for: MAX_DELAY },
            ),
            (
                "held, at requeue",
                Processing::Failed { after: Some(secs(7)) },
                delivery(5, 0),
                Settlement::Requeue { delay: secs(7), requeues: 1 },
            ),
            (
                "requeue count saturates",
                failed.clone(),
                delivery(u32::MAX, u64::MAX),
                Settlement::Requeue { delay: MAX_DELAY, requeues: u64::MAX },
            ),
        ];
        for (name, processing, delivery, expected) in table {
            assert_eq!(settle(&processing, delivery, SETTINGS), expected, "{name}");
        }
    }

    #[test]
    fn the_requeue_threshold_follows_the_setting() {
        let settings = Settings { requeue_after_receives: 1, ..SETTINGS };
        let failed = Processing::Failed { after: None };
        assert_eq!(settle(&failed, delivery(1, 0), settings), Settlement::Requeue { delay: secs(15), requeues: 1 });
        let settings = Settings { requeue_after_receives: 1000, ..SETTINGS };
        assert_eq!(settle(&failed, delivery(999, 0), settings), Settlement::Hide { hidden_for: MAX_DELAY });
    }

    #[test]
    fn retry_backoff_doubles_up_to_the_cap() {
        let base = secs(15);
        let table = [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 480), (7, 900), (50, 900), (0, 15)];
        for (attempt, expected) in table {
            assert_eq!(backoff(base, attempt, MAX_DELAY), secs(expected), "attempt {attempt}");
        }
        // No overflow however large the base or the count.
        assert_eq!(backoff(Duration::MAX, u32::MAX, MAX_DELAY), MAX_DELAY);
        assert_eq!(backoff(secs(u64::MAX / 2), 3, Duration::MAX), Duration::MAX);
        assert_eq!(backoff(Duration::ZERO, 5, MAX_DELAY), Duration::ZERO);
        // A zero retry delay retries at once, whatever the receive count.
        let settings = Settings { retry_delay: Duration::ZERO, ..SETTINGS };
        let failed = Processing::Failed { after: None };
        assert_eq!(settle(&failed, delivery(3, 0), settings), Settlement::Hide { hidden_for: Duration::ZERO });
    }

    #[test]
    fn attributes_read_with_safe_defaults() {
        assert_eq!(Delivery::from_attributes(Some("3"), Some("2")), delivery(3, 2));
        assert_eq!(Delivery::from_attributes(None, None), delivery(1, 0));
        assert_eq!(Delivery::from_attributes(Some("many"), Some("-1")), delivery(1, 0));
    }
}
