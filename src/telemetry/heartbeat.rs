//! The daemon's heartbeat for CloudWatch: a log line in CloudWatch's embedded metric format (EMF), which
//! CloudWatch Logs turns into the metric `gd-incidents/Heartbeat` (dimension `Table`) with no agent and no
//! Prometheus. It is written only while the consumer polls the queue: a daemon that stopped, hangs or lost
//! its queue stops beating, and the stack's alarm on the missing metric pages the OCE and the ISO.

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

/// The EMF line of one beat of the daemon on `table` at `now_ms`, with the messages in flight.
pub fn line(table: &str, now_ms: i64, in_flight: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Table"]],
                "Metrics": [{"Name": METRIC, "Unit": "Count"}, {"Name": "MessagesInFlight", "Unit": "Count"}]
            }]
        },
        "Table": table,
        METRIC: 1,
        "MessagesInFlight": in_flight,
        "message": "heartbeat"
    })
    .to_string()
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
        let v: serde_json::Value = serde_json::from_str(&line("t-incidents", 1_700_000_000_000, 3)).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(
            (directive["Namespace"].as_str(), directive["Dimensions"][0][0].as_str()),
            (Some(NAMESPACE), Some("Table"))
        );
        // Every metric and dimension the directive names is a top-level member with its value.
        for m in directive["Metrics"].as_array().unwrap() {
            assert!(v[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert_eq!((v["Table"].as_str(), v[METRIC].as_i64()), (Some("t-incidents"), Some(1)));
    }

    #[test]
    fn only_a_consumer_that_polled_lately_beats() {
        assert!(alive(1_000, 1_030, 60));
        assert!(!alive(1_000, 1_100, 60), "stuck for longer than a poll can take");
        assert!(!alive(0, 1_000, 60), "never polled");
    }
}
