//! `[guardduty]`: reconciliation with the GuardDuty API, and archiving on close.

use serde::Deserialize;

/// `[guardduty]`: findings missed on the queue are read from the GuardDuty API; closed incidents may
/// archive their finding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDutyConfig {
    /// Regions whose detectors are swept; default: `[aws] region`.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The detectors to sweep; when empty, each region's detectors are found with ListDetectors.
    #[serde(default)]
    pub detectors: Vec<DetectorConfig>,
    /// Seconds between sweeps (the first runs at start); 0 turns reconciliation off.
    #[serde(default = "default_reconcile_interval_secs")]
    pub reconcile_interval_secs: u64,
    /// Days back the first sweep looks, when no watermark is stored yet.
    #[serde(default = "default_initial_lookback_days")]
    pub initial_lookback_days: u32,
    /// Archive the finding in GuardDuty when its incident is closed (retried until it succeeds).
    #[serde(default)]
    pub archive_on_close: bool,
}

/// `[[guardduty.detectors]]`: one detector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// Its region.
    pub region: String,
    /// Its id.
    pub id: String,
}

impl Default for GuardDutyConfig {
    fn default() -> Self {
        GuardDutyConfig {
            regions: Vec::new(),
            detectors: Vec::new(),
            reconcile_interval_secs: default_reconcile_interval_secs(),
            initial_lookback_days: default_initial_lookback_days(),
            archive_on_close: false,
        }
    }
}

fn default_reconcile_interval_secs() -> u64 {
    900
}
fn default_initial_lookback_days() -> u32 {
    30
}
