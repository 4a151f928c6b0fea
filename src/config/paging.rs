//! `[paging]` and `[escalation]`: who is paged, and paged again while nobody acknowledges.

use serde::Deserialize;

/// `[paging]`: the SNS topics that are paged for HIGH and CRITICAL incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingConfig {
    /// ARN of the on-call engineer's topic.
    pub oce_topic_arn: String,
    /// ARN of the information security officer's topic.
    pub iso_topic_arn: String,
    /// Seconds a worker's claim on a page it is publishing holds; after that another worker may publish it.
    #[serde(default = "default_claim_timeout_secs")]
    pub claim_timeout_secs: u64,
    /// `[[paging.routes]]`: more topics paged by level and account (Infra Operations, management...); none
    /// by default.
    #[serde(default)]
    pub routes: Vec<crate::domain::routing::Route>,
    /// The portal's address as people open it (`https://incidents.example.com`): with `ack_link_key`, every
    /// page carries a link that acknowledges the incident there in one click after sign-in.
    #[serde(default)]
    pub portal_url: Option<String>,
    /// Key of those links (at least 32 characters), the same for the daemon and the portal: set it from a
    /// secret with `GD_INCIDENTS__PAGING__ACK_LINK_KEY`.
    #[serde(default)]
    pub ack_link_key: Option<String>,
}

/// `[escalation]`: a HIGH or CRITICAL incident nobody acknowledges is paged again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Seconds after a page before an unacknowledged incident is paged again; 0 turns re-paging off.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: u64,
    /// Re-pages per level, at most.
    #[serde(default = "default_max_repages")]
    pub max_repages: u32,
    /// Seconds between two looks for due re-pages.
    #[serde(default = "default_check_interval_secs")]
    pub check_interval_secs: u64,
    /// `[[escalation.paths]]`: a level's own tiers (after N minutes unacknowledged, page these targets),
    /// instead of the default path (the OCE and the ISO every `ack_timeout_secs`, `max_repages` times).
    #[serde(default)]
    pub paths: Vec<crate::domain::escalation::PathConfig>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            ack_timeout_secs: default_ack_timeout_secs(),
            max_repages: default_max_repages(),
            check_interval_secs: default_check_interval_secs(),
            paths: Vec::new(),
        }
    }
}

fn default_ack_timeout_secs() -> u64 {
    900
}
fn default_max_repages() -> u32 {
    3
}
fn default_check_interval_secs() -> u64 {
    30
}

fn default_claim_timeout_secs() -> u64 {
    60
}
