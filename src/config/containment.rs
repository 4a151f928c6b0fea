//! `[containment]`: how the daemon carries out containment actions.

use serde::Deserialize;

/// `[containment]`: the role the daemon acts under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainmentConfig {
    /// Seconds between two looks for actions to carry out; 0: this daemon carries out none.
    #[serde(default = "default_check_interval_secs")]
    pub check_interval_secs: u64,
    /// The containment role the daemon assumes to act (the core stack's `ContainmentRoleArn` output, with
    /// `Containment=true`); empty: the daemon's own credentials (LocalStack, a trial).
    #[serde(default)]
    pub role_arn: String,
    /// The external id the role's trust policy requires, if any.
    #[serde(default)]
    pub external_id: String,
}

impl Default for ContainmentConfig {
    fn default() -> Self {
        ContainmentConfig {
            check_interval_secs: default_check_interval_secs(),
            role_arn: String::new(),
            external_id: String::new(),
        }
    }
}

fn default_check_interval_secs() -> u64 {
    5
}
