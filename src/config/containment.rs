//! `[containment]`: how the daemon carries out containment actions.

use serde::Deserialize;

use crate::domain::containment::Reach;
use crate::domain::containment::ip_set::IpSet;

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
    /// The bucket `quarantine-object` copies malicious objects into, as evidence (the core stack's
    /// `QuarantineBucketName` output, with `QuarantineBucket=true`); empty: objects are tagged, not copied.
    #[serde(default)]
    pub quarantine_bucket: String,
    /// ARNs of AWS WAF IP sets `block-ip` adds the addresses to, besides the subnet's network ACL; empty:
    /// none.
    #[serde(default)]
    pub waf_ip_set_arns: Vec<String>,
}

impl ContainmentConfig {
    /// The role to assume, if one is set.
    pub fn role(&self) -> Option<&str> {
        Some(self.role_arn.trim()).filter(|r| !r.is_empty() && *r != "none")
    }

    /// The AWS WAF IP sets of `waf_ip_set_arns` (those that parse: [`ContainmentConfig::validate`] refuses
    /// the others at start).
    pub fn ip_sets(&self) -> Vec<IpSet> {
        self.waf_ip_set_arns.iter().filter_map(|a| IpSet::parse(a).ok()).collect()
    }

    /// The quarantine bucket, or "" when none is set (`none`: the stack output without `Containment=true`).
    pub fn quarantine(&self) -> &str {
        Some(self.quarantine_bucket.trim()).filter(|b| *b != "none").unwrap_or_default()
    }

    /// What these settings add to plans.
    pub fn reach(&self) -> Reach<'_> {
        Reach { quarantine_bucket: self.quarantine(), waf_ip_sets: &self.waf_ip_set_arns }
    }

    /// Why a setting is wrong (the role not a role ARN, the member role's name not an IAM name, the bucket
    /// not a bucket name, an IP set not an IP set's ARN), if one is.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let name = &self.member_role_name;
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
            return Err(("containment.member_role_name", format!("{name:?} is not an IAM role name")));
        }
        let bucket = self.quarantine();
        if !bucket.is_empty() && crate::domain::finding::targets::S3Object::new(bucket, "k", None).is_none() {
            return Err(("containment.quarantine_bucket", format!("{bucket:?} is not an S3 bucket name")));
        }
        if let Some(Err(why)) = self.waf_ip_set_arns.iter().map(|a| IpSet::parse(a)).find(Result::is_err) {
            return Err(("containment.waf_ip_set_arns", why));
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
            quarantine_bucket: String::new(),
            waf_ip_set_arns: Vec::new(),
        }
    }
}

fn default_check_interval_secs() -> u64 {
    5
}
