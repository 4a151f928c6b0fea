//! `gd-incidents run`: wires the clients, the store, the pager and the consumer, and runs until shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::aws::{Clients, describe};
use crate::config::Config;
use crate::consumer::{Consumer, StartError};
use crate::dispatch::Dispatcher;
use crate::guardduty::GuardDuty;
use crate::ingest::Ingest;
use crate::reconcile::Reconciler;
use crate::server::{self, Readiness};
use crate::store::Store;

/// Why the daemon could not start. Everything that can fail at start fails before the first receive.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The queue or its dead-letter queue is not usable.
    #[error(transparent)]
    Queue(#[from] StartError),
    /// The health and metrics endpoint cannot listen.
    #[error("cannot listen on {listen} ([server] listen): {detail}")]
    Listen {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        detail: String,
    },
    /// The incident table is not usable.
    #[error("cannot use incident table {table}: {detail}")]
    Table {
        /// The table name.
        table: String,
        /// The SDK error.
        detail: String,
    },
}

/// Runs the daemon until `shutdown` is cancelled; then stops receiving, finishes or releases in-flight
/// work within `[daemon] shutdown_grace_secs`, and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
    // A start that hangs (an endpoint that never answers) still stops on the signal.
    let (clients, dispatch, ingest, consumer) = tokio::select! {
        _ = shutdown.cancelled() => {
            info!("signal received before the start finished: stopping");
            return Ok(());
        }
        started = start(&config) => started?,
    };
    let ingest_for_reconcile = ingest;
    info!(
        table = %config.incidents.table,
        oce_topic = %config.paging.oce_topic_arn,
        iso_topic = %config.paging.iso_topic_arn,
        "gd-incidents started"
    );
    serve(config, shutdown, (clients, dispatch, ingest_for_reconcile, consumer)).await
}

/// Everything that can fail at start, before the first receive: clients, the table, the queue and its
/// dead-letter queue.
async fn start(config: &Config) -> Result<(Clients, Dispatcher, Ingest, Consumer), DaemonError> {
    let clients = Clients::new(&config.aws).await;
    clients
        .dynamodb
        .describe_table()
        .table_name(&config.incidents.table)
        .send()
        .await
        .map_err(|e| DaemonError::Table { table: config.incidents.table.clone(), detail: describe(&e) })?;
    let store = Store::new(clients.dynamodb.clone(), &config.incidents.table);
    let dispatch = Dispatcher::from_config(store, clients.sns.clone(), config);
    let ingest = Ingest::new(dispatch.clone());
    let consumer = Consumer::new(
        clients.sqs.clone(),
        config.aws.clone(),
        config.queue.clone(),
        ingest.clone(),
        Duration::from_secs(config.daemon.shutdown_grace_secs),
    )
    .await?;
    Ok((clients, dispatch, ingest, consumer))
}

/// The rest of `run`, once started.
async fn serve(
    config: Config,
    shutdown: CancellationToken,
    (clients, dispatch, ingest_for_reconcile, consumer): (Clients, Dispatcher, Ingest, Consumer),
) -> Result<(), DaemonError> {
    let tasks = TaskTracker::new();
    if let Some(listen) = config.server.listen {
        let listener = server::bind(listen).await.map_err(|e| DaemonError::Listen { listen, detail: e.to_string() })?;
        let readiness = Readiness {
            sqs: clients.sqs.clone(),
            dynamodb: clients.dynamodb.clone(),
            queue_url: config.queue.url.clone(),
            table: config.incidents.table.clone(),
        };
        info!(%listen, "serving /healthz, /readyz and /metrics");
        let stop = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = server::serve(listener, readiness, stop).await {
                warn!(error = %e, "the health and metrics endpoint stopped");
            }
        });
    }
    let sweeps = config.guardduty.reconcile_interval_secs > 0;
    if sweeps || config.guardduty.archive_on_close {
        let guardduty = GuardDuty::new(&clients.shared, &config.guardduty_regions());
        let store = Store::new(clients.dynamodb.clone(), &config.incidents.table);
        let reconciler = Reconciler::new(&config, guardduty, store, ingest_for_reconcile);
        let every = Duration::from_secs(if sweeps { config.guardduty.reconcile_interval_secs } else { 60 });
        let holder = uuid::Uuid::new_v4().to_string();
        tasks.spawn(reconciler.run(every, sweeps, holder, shutdown.clone()));
    }
    let every = Duration::from_secs(config.escalation.check_interval_secs);
    tasks.spawn(deliver_periodically(dispatch.clone(), every, shutdown.clone()));
    if config.escalation.ack_timeout_secs > 0 && config.escalation.max_repages > 0 {
        tasks.spawn(escalate_periodically(dispatch, every, shutdown.clone()));
    }
    consumer.run(shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    info!("gd-incidents stopped");
    Ok(())
}

/// Fires at once and then every period, until shutdown: the schedule of the daemon's periodic tasks.
pub(crate) struct Every {
    tick: tokio::time::Interval,
    shutdown: CancellationToken,
}

impl Every {
    /// A schedule of `period` that ends with `shutdown`.
    pub(crate) fn new(period: Duration, shutdown: CancellationToken) -> Every {
        let mut tick = tokio::time::interval(period);
        // A round that overruns delays the next one rather than bunching several.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Every { tick, shutdown }
    }

    /// Waits for the next round; `false` once shutdown has begun.
    pub(crate) async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = self.tick.tick() => true,
        }
    }

    /// Runs one round to its end, unless shutdown has begun and [`ROUND_GRACE`] has passed since: a round
    /// stuck on an unresponsive service (calls bounded only by the SDK's timeouts, up to minutes) must not
    /// hold the exit past the contract's 20 s. `None` if it was abandoned.
    pub(crate) async fn round<F: std::future::Future>(&self, round: F) -> Option<F::Output> {
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
const ROUND_GRACE: Duration = Duration::from_secs(3);

/// Looks for due re-pages every `every` until shutdown.
async fn escalate_periodically(dispatch: Dispatcher, every: Duration, shutdown: CancellationToken) {
    let mut rounds = Every::new(every, shutdown);
    while rounds.next().await {
        match rounds.round(dispatch.escalate_due()).await {
            Some(Ok(0)) | None => {}
            Some(Ok(n)) => info!(incidents = n, "re-paged unacknowledged incidents"),
            Some(Err(e)) => warn!(error = %e, "could not check for due re-pages; will try again"),
        }
    }
}

/// Sends, every `every` until shutdown, what commands and the portal made owed but could not send.
async fn deliver_periodically(dispatch: Dispatcher, every: Duration, shutdown: CancellationToken) {
    let mut rounds = Every::new(every, shutdown);
    while rounds.next().await {
        if let Some(Err(e)) = rounds.round(dispatch.deliver_outbox()).await {
            warn!(error = %e, "could not look for owed pages; will try again");
        }
    }
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT; exits at once on a second one.
pub async fn cancel_on_signal(shutdown: CancellationToken) {
    wait_for_signal().await;
    info!("signal received: shutting down");
    shutdown.cancel();
    wait_for_signal().await;
    warn!("second signal: exiting now");
    std::process::exit(130);
}

/// Waits for SIGTERM or SIGINT.
#[cfg(unix)]
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
pub async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
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
