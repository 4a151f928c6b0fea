//! The daemon's `/metrics` read back: every figure about what the daemon did (messages settled, AWS calls by
//! operation, their latency) comes from its own Prometheus counters, not from the bench's guesses.

use std::collections::BTreeMap;
use std::time::Duration;

use gd_incidents::telemetry::metrics::{MESSAGES_SETTLED, PREFIX};
use hyper::Method;

use crate::Result;
use crate::support::http::Http;

/// One scrape of the Prometheus text: (name, labels, value) per sample.
#[derive(Debug, Clone, Default)]
pub struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Parses the text exposition format (comments and malformed lines skipped).
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split("\",")
                        .filter_map(|kv| kv.split_once("=\""))
                        .map(|(k, v)| (k.to_owned(), v.trim_end_matches('"').to_owned()))
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            samples.push((name.to_owned(), labels, value));
        }
        Scrape(samples)
    }

    /// The sum of the samples of `name`, only those with `label` if given.
    pub fn sum(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// `<service>.<operation>` -> value of a family labelled by service and operation.
    pub fn by_operation(&self, name: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (n, l, v) in &self.0 {
            if n == name {
                let key = format!(
                    "{}.{}",
                    l.get("service").map(String::as_str).unwrap_or("?"),
                    l.get("operation").map(String::as_str).unwrap_or("?")
                );
                *out.entry(key).or_insert(0.0) += v;
            }
        }
        out
    }

    /// (label `a`, label `b`) -> value of family `name`.
    pub fn labelled(&self, name: &str, a: &str, b: &str) -> BTreeMap<(String, String), f64> {
        let mut out = BTreeMap::new();
        for (_, l, v) in self.0.iter().filter(|(n, _, _)| n == name) {
            let label = |k: &str| l.get(k).cloned().unwrap_or_else(|| "?".into());
            *out.entry((label(a), label(b))).or_insert(0.0) += v;
        }
        out
    }

    /// Messages settled (processed or dead-lettered; retried ones come back).
    pub fn settled(&self) -> f64 {
        self.sum(&counter(MESSAGES_SETTLED), Some(("kind", "processed")))
            + self.sum(&counter(MESSAGES_SETTLED), Some(("kind", "dead_lettered")))
    }
}

/// The exported name of metric `name`.
pub fn metric(name: &str) -> String {
    format!("{PREFIX}_{name}")
}

/// The exported name of counter `name`.
pub fn counter(name: &str) -> String {
    format!("{PREFIX}_{name}_total")
}

/// `GET /metrics` of the daemon whose `[server]` listens on `port`.
pub async fn scrape(port: u16) -> Result<Scrape> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let answer = Http::default().try_send(Method::GET, &url, &[], None, Duration::from_secs(5)).await?;
    if answer.status != 200 {
        return Err(format!("GET /metrics: {}", answer.status));
    }
    Ok(Scrape::parse(&answer.body))
}
