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
    /// `Containment=true`); empty or `none` (that output without `Containment=true`): the daemon's own
    /// credentials (LocalStack, a trial; on AWS its role may not act, so actions fail with AccessDenied).
    #[serde(default)]
    pub role_arn: String,
    /// The role to assume in an incident's account when it is not the containment role's own (every
    /// member account has it: `deploy/cloudformation/gd-incidents-member.yaml`); empty: act in the own
    /// account only, whatever account a finding names.
    #[serde(default)]
    pub member_role_name: String,
    /// The external id the roles' trust policies require, if any.
    #[serde(default)]
    pub external_id: String,
    /// Levels whose actions (snapshots aside) need a second person's request before the daemon acts:
    /// two people, two verified identities (e.g. `["CRITICAL"]`); empty: one person suffices.
    #[serde(default)]
    pub second_approver_levels: Vec<crate::domain::severity::Level>,
    /// `[[containment.automatic]]`: actions the daemon asks for itself (off: none, the default).
    #[serde(default)]
    pub automatic: Vec<crate::domain::containment::AutoRule>,
}

impl ContainmentConfig {
    /// The role to assume, if one is set.
    pub fn role(&self) -> Option<&str> {
        Some(self.role_arn.trim()).filter(|r| !r.is_empty() && *r != "none")
    }

    /// Why the role is not a role ARN (or the member role's name not an IAM name), if it is not.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let name = &self.member_role_name;
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
            return Err(("containment.member_role_name", format!("{name:?} is not an IAM role name")));
        }
        match self.role() {
            Some(arn) if !(arn.starts_with("arn:") && arn.contains(":iam::") && arn.contains(":role/")) => Err((
                "containment.role_arn",
                format!("{arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>), empty or none"),
            )),
            _ => Ok(()),
        }
    }
}

impl Default for ContainmentConfig {
    fn default() -> Self {
        ContainmentConfig {
            check_interval_secs: default_check_interval_secs(),
            role_arn: String::new(),
            external_id: String::new(),
            member_role_name: String::new(),
            automatic: Vec::new(),
            second_approver_levels: Vec::new(),
        }
    }
}

fn default_check_interval_secs() -> u64 {
    5
}
