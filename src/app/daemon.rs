//! `gd-incidents run`: connects, checks the table and the queues, then runs the consumer, the periodic tasks
//! and the ops endpoint until shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::adapters::clients::{AwsError, describe};
use crate::adapters::containment::Containment;
use crate::adapters::dynamodb::Store;
use crate::adapters::guardduty::GuardDuty;
use crate::adapters::sqs::StartError;
use crate::config::Config;
use crate::interfaces::consumer::Consumer;
use crate::interfaces::http::{self, Readiness};
use crate::services::Context;
use crate::services::ingest::Ingest;
use crate::services::reconcile::Reconciler;
use crate::services::schedule;
use crate::telemetry;

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
    #[error("cannot use incident table {table}: {}", describe(.source.as_ref()))]
    Table {
        /// The table name.
        table: String,
        /// The SDK error.
        source: AwsError,
    },
}

/// Runs the daemon until `shutdown` is cancelled; then stops receiving, finishes or releases in-flight
/// work within `[daemon] shutdown_grace_secs`, and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
    // A start that hangs (an endpoint that never answers) still stops on the signal.
    let (ctx, ingest, consumer) = tokio::select! {
        _ = shutdown.cancelled() => {
            info!("signal received before the start finished: stopping");
            return Ok(());
        }
        started = start(config) => started?,
    };
    info!(
        table = %ctx.config.incidents.table,
        oce_topic = %ctx.config.paging.oce_topic_arn,
        iso_topic = %ctx.config.paging.iso_topic_arn,
        "gd-incidents started"
    );
    serve(ctx, ingest, consumer, shutdown).await
}

/// Everything that can fail at start, before the first receive: clients, the table, the queue and its
/// dead-letter queue.
async fn start(config: Config) -> Result<(Context, Ingest, Consumer), DaemonError> {
    let ctx = super::connect(config).await;
    let ctx = Context { dispatch: ctx.dispatch.dropping_unroutable(), ..ctx };
    let incidents = &ctx.config.incidents;
    for table in std::iter::once(&incidents.table).chain(&incidents.confidential_table) {
        ctx.clients
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| DaemonError::Table { table: table.clone(), source: e.into() })?;
    }
    let ingest = Ingest::new(ctx.dispatch.clone());
    let consumer = Consumer::new(
        ctx.clients.sqs.clone(),
        ctx.clients.sqs_json.clone(),
        ctx.config.queue.clone(),
        ingest.clone(),
        Duration::from_secs(ctx.config.daemon.shutdown_grace_secs),
    )
    .await?;
    Ok((ctx, ingest, consumer))
}

/// The rest of `run`, once started: the ops endpoint, the periodic tasks and the consumer, every task
/// tracked and watching `shutdown`.
async fn serve(
    ctx: Context,
    ingest: Ingest,
    consumer: Consumer,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let Context { config, clients, dispatch } = ctx;
    let tasks = TaskTracker::new();
    if let Some(listen) = config.server.listen {
        let listener = http::bind(listen).await.map_err(|e| DaemonError::Listen { listen, detail: e.to_string() })?;
        let readiness = Readiness {
            sqs: clients.sqs.clone(),
            dynamodb: clients.dynamodb.clone(),
            queue_url: config.queue.url.clone(),
            table: config.incidents.table.clone(),
        };
        info!(%listen, "serving /healthz, /readyz and /metrics");
        let stop = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = http::serve(listener, readiness, stop).await {
                warn!(error = %e, "the health and metrics endpoint stopped");
            }
        });
    }
    let sweeps = config.guardduty.reconcile_interval_secs > 0;
    if sweeps || config.guardduty.archive_on_close {
        let guardduty = GuardDuty::new(&clients, &config.guardduty_regions());
        let reconciler = Reconciler::new(&config, guardduty, dispatch.store().clone(), ingest);
        let every = Duration::from_secs(if sweeps { config.guardduty.reconcile_interval_secs } else { 60 });
        let holder = uuid::Uuid::new_v4().to_string();
        tasks.spawn(reconciler.run(every, sweeps, holder, shutdown.clone()));
    }
    if config.daemon.heartbeat_secs > 0 && telemetry::logs::is_json(&config.log) {
        tasks.spawn(beat(config.clone(), shutdown.clone()));
    }
    if config.daemon.figures_interval_secs > 0 {
        let every = Duration::from_secs(config.daemon.figures_interval_secs);
        tasks.spawn(schedule::figures_periodically(dispatch.clone(), every, shutdown.clone()));
    }
    if config.containment.check_interval_secs > 0 {
        let containment = Containment::new(clients.clone(), config.containment.clone()).await;
        let every = Duration::from_secs(config.containment.check_interval_secs);
        tasks.spawn(schedule::contain_periodically(dispatch.clone(), containment, every, shutdown.clone()));
    }
    tasks.spawn(backfill(dispatch.store().clone(), shutdown.clone()));
    let every = Duration::from_secs(config.escalation.check_interval_secs);
    tasks.spawn(schedule::attend_periodically(dispatch, every, shutdown.clone()));
    consumer.run(shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    info!("gd-incidents stopped");
    Ok(())
}

/// Adds incidents written before the `by-listing` index to it, once per table (see
/// [`Store::backfill_listing`]); stopped by `shutdown`, it starts again at the next start.
async fn backfill(store: Store, shutdown: CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        done = store.backfill_listing() => match done {
            Ok(0) => {}
            Ok(n) => info!(incidents = n, "older incidents added to the by-listing index"),
            Err(e) => warn!(error = %e, "older incidents not yet added to the by-listing index; the next start goes on"),
        }
    }
}

/// Writes the CloudWatch heartbeat every `[daemon] heartbeat_secs` while the consumer polls, until shutdown.
async fn beat(config: Config, shutdown: CancellationToken) {
    let every = Duration::from_secs(config.daemon.heartbeat_secs);
    // A poll takes at most its wait and an attempt timeout; a consumer silent for longer is stuck.
    let stale =
        i64::from(config.queue.wait_time_secs) + config.aws.attempt_timeout_secs as i64 + every.as_secs() as i64;
    let mut rounds = schedule::Every::new(every, shutdown);
    while rounds.next().await {
        let now = telemetry::heartbeat::now_secs();
        let m = telemetry::metrics::get();
        if telemetry::heartbeat::alive(m.last_receive.get(), now, stale) {
            // One write of one line: CloudWatch Logs reads it as an embedded metric.
            let slowest = m.take_slowest_page_ms();
            eprintln!(
                "{}",
                telemetry::heartbeat::line(&config.incidents.table, now * 1000, m.in_flight.get(), slowest)
            );
        }
    }
}
