//! The daemon's heartbeat for CloudWatch: a log line in CloudWatch's embedded metric format (EMF), which
//! CloudWatch Logs turns into the metric `gd-incidents/Heartbeat` (dimension `Table`) with no agent and no
//! Prometheus. It is written only while the consumer polls the queue: a daemon that stopped, hangs or lost
//! its queue stops beating, and the stack's alarm on the missing metric pages the OCE and the ISO. A beat
//! after pages were sent also carries `PageDelaySeconds`: the longest wait since the last beat from a finding's
//! arrival on a queue to its pages.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

/// The CloudWatch namespace of the heartbeat.
pub const NAMESPACE: &str = "gd-incidents";
/// The metric's name.
pub const METRIC: &str = "Heartbeat";

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The metric of the longest page delay since the last beat (seconds).
pub const PAGE_DELAY: &str = "PageDelaySeconds";

/// The EMF line of one beat of the daemon on `table` at `now_ms`, with the messages in flight and the
/// longest page delay since the last beat (none when nothing paged: the metric is left out, not zero).
pub fn line(table: &str, now_ms: i64, in_flight: i64, slowest_page_ms: Option<u64>) -> String {
    let mut metrics =
        vec![json!({"Name": METRIC, "Unit": "Count"}), json!({"Name": "MessagesInFlight", "Unit": "Count"})];
    let mut doc = json!({
        "Table": table,
        METRIC: 1,
        "MessagesInFlight": in_flight,
        "message": "heartbeat"
    });
    if let Some(ms) = slowest_page_ms {
        metrics.push(json!({"Name": PAGE_DELAY, "Unit": "Seconds"}));
        doc[PAGE_DELAY] = json!(ms as f64 / 1000.0);
    }
    doc["_aws"] = json!({
        "Timestamp": now_ms,
        "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Table"]], "Metrics": metrics}]
    });
    doc.to_string()
}

/// Whether the consumer polled recently enough to beat: its last completed receive (Unix seconds) is
/// within `stale_secs` of `now`.
pub fn alive(last_receive: i64, now: i64, stale_secs: i64) -> bool {
    last_receive > 0 && now - last_receive <= stale_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_is_an_emf_document_cloudwatch_reads() {
        for slowest in [None, Some(1_250)] {
            let v: serde_json::Value =
                serde_json::from_str(&line("t-incidents", 1_700_000_000_000, 3, slowest)).unwrap();
            let directive = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
            assert_eq!(
                (directive["Namespace"].as_str(), directive["Dimensions"][0][0].as_str()),
                (Some(NAMESPACE), Some("Table"))
            );
            // Every metric and dimension the directive names is a top-level member with its value.
            let names: Vec<&str> =
                directive["Metrics"].as_array().unwrap().iter().filter_map(|m| m["Name"].as_str()).collect();
            for name in &names {
                assert!(v[name].is_number(), "{name}");
            }
            assert_eq!((v["Table"].as_str(), v[METRIC].as_i64()), (Some("t-incidents"), Some(1)));
            // The page delay is named only when something paged, in seconds.
            assert_eq!(names.contains(&PAGE_DELAY), slowest.is_some(), "{v}");
            assert_eq!(v[PAGE_DELAY].as_f64(), slowest.map(|ms| ms as f64 / 1000.0));
        }
    }

    #[test]
    fn only_a_consumer_that_polled_lately_beats() {
        assert!(alive(1_000, 1_030, 60));
        assert!(!alive(1_000, 1_100, 60), "stuck for longer than a poll can take");
        assert!(!alive(0, 1_000, 60), "never polled");
    }
}
