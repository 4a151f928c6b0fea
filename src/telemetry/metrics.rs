//! The daemon's metrics, in Prometheus text format: messages, incidents, pages, AWS calls by operation.
//! One process-wide registry, so that any layer (and the SDK interceptor) records without plumbing.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The prefix of every metric's exported name (`gd_incidents_<name>`, counters with `_total`).
pub const PREFIX: &str = "gd_incidents";
/// Messages received from the work queue (a counter).
pub const MESSAGES_RECEIVED: &str = "messages_received";
/// Messages settled, labelled `kind` = processed, dead_lettered or retried (a counter).
pub const MESSAGES_SETTLED: &str = "messages_settled";
/// Messages being processed now (a gauge).
pub const MESSAGES_IN_FLIGHT: &str = "messages_in_flight";
/// AWS operations called, labelled `service` and `operation` (a counter).
pub const AWS_CALLS: &str = "aws_calls";
/// Seconds per AWS operation, labelled `service` and `operation` (a histogram).
pub const AWS_CALL_SECONDS: &str = "aws_call_seconds";

/// Labels: one word.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    /// The value.
    pub kind: String,
}

/// Labels of incident changes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IncidentLabels {
    /// created, updated.
    pub change: String,
    /// The incident's level.
    pub severity: String,
}

/// Labels of pages.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PageLabels {
    /// oce, iso.
    pub target: String,
    /// HIGH, CRITICAL.
    pub severity: String,
}

/// Labels of the figures: a level.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LevelLabels {
    /// LOW, MEDIUM, HIGH, CRITICAL.
    pub severity: String,
}

/// Labels of AWS calls.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// e.g. SQS, DynamoDB.
    pub service: String,
    /// e.g. ReceiveMessage.
    pub operation: String,
}

/// Labels of DynamoDB's consumed capacity.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CapacityLabels {
    /// e.g. PutItem.
    pub operation: String,
    /// `table`, or the index's name.
    pub target: String,
}

/// Every metric the daemon exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Messages received from the work queue.
    pub received: Counter,
    /// Messages settled, by outcome (processed, dead_lettered, retried).
    pub settled: Family<Kind, Counter>,
    /// Messages dead-lettered, by reason.
    pub dead_lettered: Family<Kind, Counter>,
    /// Incidents created or updated, by level.
    pub incidents: Family<IncidentLabels, Counter>,
    /// Pages published.
    pub pages_sent: Family<PageLabels, Counter>,
    /// Pages that failed to publish (retried later).
    pub pages_failed: Counter,
    /// Re-pages of unacknowledged incidents scheduled.
    pub escalations: Counter,
    /// Response objectives (SLAs) missed, recorded.
    pub sla_breaches: Counter,
    /// The figures (`daemon.figures_interval_secs`): incidents not closed, by level.
    pub open_incidents: Family<LevelLabels, Gauge>,
    /// The figures: median seconds to acknowledge, by level (incidents of the last 7 days).
    pub acknowledge_median_seconds: Family<LevelLabels, Gauge>,
    /// The figures: 90th percentile of seconds to resolve, by level (incidents of the last 7 days).
    pub resolve_p90_seconds: Family<LevelLabels, Gauge>,
    /// Messages being processed now.
    pub in_flight: Gauge,
    /// When the consumer's last receive completed (Unix seconds): the heartbeat beats only while it is recent.
    pub last_receive: Gauge,
    /// AWS operations called (each may take several attempts).
    pub aws_calls: Family<CallLabels, Counter>,
    /// AWS attempts (retries included).
    pub aws_attempts: Family<CallLabels, Counter>,
    /// AWS operations that failed after their retries.
    pub aws_errors: Family<CallLabels, Counter>,
    /// Seconds an AWS operation took, retries included.
    pub aws_seconds: Family<CallLabels, Histogram, fn() -> Histogram>,
    /// Findings seen by reconciliation, by what became of them.
    pub reconciled: Family<Kind, Counter>,
    /// DynamoDB capacity units consumed, by operation and by table or index (as DynamoDB reports them).
    pub dynamodb_capacity: Family<CapacityLabels, Counter<f64, AtomicU64>>,
    /// Seconds from a finding's arrival on a queue to its pages sent, for each message that paged.
    pub page_delay: Histogram,
    /// The longest of those delays since the heartbeat last took it (milliseconds; 0: no page).
    slowest_page_ms: AtomicU64,
}

fn latency_histogram() -> Histogram {
    Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let m = Metrics {
            received: Counter::default(),
            settled: Family::default(),
            dead_lettered: Family::default(),
            incidents: Family::default(),
            pages_sent: Family::default(),
            pages_failed: Counter::default(),
            escalations: Counter::default(),
            sla_breaches: Counter::default(),
            open_incidents: Family::default(),
            acknowledge_median_seconds: Family::default(),
            resolve_p90_seconds: Family::default(),
            in_flight: Gauge::default(),
            last_receive: Gauge::default(),
            aws_calls: Family::default(),
            aws_attempts: Family::default(),
            aws_errors: Family::default(),
            aws_seconds: Family::new_with_constructor(latency_histogram),
            reconciled: Family::default(),
            dynamodb_capacity: Family::default(),
            page_delay: Histogram::new([0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0]),
            slowest_page_ms: AtomicU64::new(0),
            registry: Registry::default(),
        };
        registry.register(MESSAGES_RECEIVED, "Messages received from the work queue", m.received.clone());
        registry.register(MESSAGES_SETTLED, "Messages settled, by outcome", m.settled.clone());
        registry.register(
            "messages_dead_lettered",
            "Messages moved to the dead-letter queue, by reason",
            m.dead_lettered.clone(),
        );
        registry.register("incidents", "Incidents created or updated, by level", m.incidents.clone());
        registry.register("pages_sent", "Pages published, by target and level", m.pages_sent.clone());
        registry.register("pages_failed", "Page publishes that failed (retried)", m.pages_failed.clone());
        registry.register("escalations", "Re-pages of unacknowledged incidents", m.escalations.clone());
        registry.register("sla_breaches", "Response objectives missed (each recorded once)", m.sla_breaches.clone());
        registry.register(
            "open_incidents",
            "Incidents of the last 7 days not closed, by level",
            m.open_incidents.clone(),
        );
        registry.register(
            "acknowledge_median_seconds",
            "Median time to acknowledge, incidents of the last 7 days",
            m.acknowledge_median_seconds.clone(),
        );
        registry.register(
            "resolve_p90_seconds",
            "90th percentile of the time to resolve, incidents of the last 7 days",
            m.resolve_p90_seconds.clone(),
        );
        registry.register(MESSAGES_IN_FLIGHT, "Messages being processed now", m.in_flight.clone());
        registry.register(
            "last_receive_seconds",
            "When the last receive from the queue completed (Unix seconds)",
            m.last_receive.clone(),
        );
        registry.register(AWS_CALLS, "AWS operations called", m.aws_calls.clone());
        registry.register("aws_attempts", "AWS attempts, retries included", m.aws_attempts.clone());
        registry.register("aws_errors", "AWS operations that failed after retries", m.aws_errors.clone());
        registry.register(AWS_CALL_SECONDS, "Seconds per AWS operation, retries included", m.aws_seconds.clone());
        registry.register("reconciled_findings", "Findings seen by reconciliation, by result", m.reconciled.clone());
        registry.register(
            "dynamodb_capacity_units",
            "DynamoDB capacity units consumed, by operation and by table or index",
            m.dynamodb_capacity.clone(),
        );
        registry.register(
            "page_delay_seconds",
            "Seconds from a finding's arrival on a queue to its pages sent",
            m.page_delay.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The longest page delay (milliseconds) since the last call, if any message paged since.
    pub fn take_slowest_page_ms(&self) -> Option<u64> {
        Some(self.slowest_page_ms.swap(0, Ordering::Relaxed)).filter(|&ms| ms > 0)
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Records that a message paged `ms` milliseconds after its arrival on the queue.
pub fn page_delay(ms: i64) {
    let m = get();
    let ms = u64::try_from(ms).unwrap_or(0);
    m.page_delay.observe(ms as f64 / 1000.0);
    // At least 1, so that a page sent within the millisecond still counts as a page.
    m.slowest_page_ms.fetch_max(ms.max(1), Ordering::Relaxed);
}

/// Counts one of a labelled counter.
pub fn count(family: &Family<Kind, Counter>, kind: &str) {
    family.get_or_create(&Kind { kind: kind.to_owned() }).inc();
}

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// An SDK interceptor that counts every AWS operation and attempt and times it.
#[derive(Debug, Default)]
pub struct CallMetrics;

fn labels(cfg: &ConfigBag) -> CallLabels {
    match cfg.load::<Metadata>() {
        Some(m) => CallLabels { service: m.service().to_owned(), operation: m.name().to_owned() },
        None => CallLabels { service: "unknown".into(), operation: "unknown".into() },
    }
}

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "CallMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        get().aws_attempts.get_or_create(&labels(cfg)).inc();
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let m = get();
        let labels = labels(cfg);
        m.aws_calls.get_or_create(&labels).inc();
        if let Some(Started(at)) = cfg.load::<Started>() {
            m.aws_seconds.get_or_create(&labels).observe(at.elapsed().as_secs_f64());
        }
        if !matches!(context.output_or_error(), Some(Ok(_))) {
            m.aws_errors.get_or_create(&labels).inc();
        }
        Ok(())
    }
}

/// Sets the gauges of the figures.
pub fn figures(stats: &crate::domain::stats::Stats) {
    let m = get();
    for l in &stats.levels {
        let labels = LevelLabels { severity: l.level.as_str().to_owned() };
        m.open_incidents.get_or_create(&labels).set(i64::try_from(l.open).unwrap_or(i64::MAX));
        m.acknowledge_median_seconds.get_or_create(&labels).set(l.acknowledge.map_or(0, |s| s.median_mins * 60));
        m.resolve_p90_seconds.get_or_create(&labels).set(l.resolve.map_or(0, |s| s.p90_mins * 60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = get();
        m.received.inc();
        count(&m.dead_lettered, "not_json");
        m.aws_calls.get_or_create(&CallLabels { service: "SQS".into(), operation: "ReceiveMessage".into() }).inc();
        let text = m.encode();
        for name in [
            "gd_incidents_messages_received_total",
            "gd_incidents_messages_dead_lettered_total{kind=\"not_json\"}",
            "gd_incidents_aws_calls_total{service=\"SQS\",operation=\"ReceiveMessage\"}",
            "# TYPE gd_incidents_messages_in_flight gauge",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }

    #[test]
    fn the_heartbeat_takes_the_slowest_page_since_it_last_beat() {
        let m = get();
        page_delay(1_500);
        page_delay(300);
        page_delay(0);
        assert_eq!(m.take_slowest_page_ms(), Some(1_500));
        assert_eq!(m.take_slowest_page_ms(), None, "nothing paged since");
        page_delay(0);
        assert_eq!(m.take_slowest_page_ms(), Some(1), "a page within the millisecond is still a page");
        assert!(m.encode().contains("gd_incidents_page_delay_seconds_bucket{le=\"2.0\"}"), "{}", m.encode());
    }

    #[test]
    fn the_figures_are_gauges_by_level() {
        use crate::domain::incident::Incident;
        use crate::domain::severity::Level;
        let now = chrono::Utc::now();
        let mut i = Incident::open(now - chrono::Duration::hours(2));
        i.severity = Level::Critical;
        i.acknowledged_at = Some(now - chrono::Duration::minutes(110));
        figures(&crate::domain::stats::compute(&[i], now - chrono::Duration::days(7), now));
        let text = get().encode();
        for line in [
            "gd_incidents_open_incidents{severity=\"CRITICAL\"} 1",
            "gd_incidents_acknowledge_median_seconds{severity=\"CRITICAL\"} 600",
            "gd_incidents_open_incidents{severity=\"LOW\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
