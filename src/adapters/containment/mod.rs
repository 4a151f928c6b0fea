//! Carrying out containment actions on AWS: EC2 (`ec2`: isolation, snapshots, network ACLs), IAM (`iam`:
//! access keys, sessions), S3 (`s3`: quarantined objects) and AWS WAF (`waf`: IP sets). Each action is
//! three calls from the service: [`Containment::observe`] reads what the resource is now (recorded before anything changes, so a retry after a crash still knows what to put back),
//! [`Containment::carry_out`] changes it, idempotently (a second run finds the quarantine group, the
//! snapshots, the key already inactive), and [`Containment::undo`] puts back what `observe` recorded.
//!
//! The clients are made with the containment role's credentials when one is configured (and a member
//! account's role for resources there), never with a person's.

/// Sends `$request`, classifying a failure by its error code ([`classify`]): `$gone` codes mean the
/// resource no longer exists. The submodules' one way to call AWS (each needs `ProvideErrorMetadata`).
macro_rules! call {
    ($request:expr, $doing:expr, $gone:expr) => {
        $request.send().await.map_err(|e| {
            let code = e.code().map(str::to_owned);
            super::classify($doing, code.as_deref(), &$gone, e)
        })
    };
}

mod ec2;
mod iam;
mod s3;
mod waf;

use serde_json::Value;

use std::collections::HashMap;

use crate::adapters::clients::{AwsError, Clients, ContainmentClients, describe};
use crate::adapters::identity;
use crate::config::ContainmentConfig;
use crate::domain::containment::record::Outcome;
use crate::domain::containment::{Action, MAX_BLOCKED_IPS};
use crate::domain::finding::targets::{S3Object, Targets};

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ContainError {
    /// The resource does not exist (any more): retrying cannot help.
    #[error("{0}")]
    Gone(String),
    /// The finding does not name what the action needs, or AWS refused the request as invalid or denied.
    #[error("{0}")]
    Refused(String),
    /// A call failed after the client's retries (throttling, a fault): the schedule tries again later.
    #[error("{doing}: {}", describe(.source.as_ref()))]
    Aws {
        /// What failed, e.g. `DescribeInstances i-0abc`.
        doing: String,
        /// The SDK error.
        source: AwsError,
    },
}

impl ContainError {
    /// Whether trying again cannot help.
    pub fn permanent(&self) -> bool {
        !matches!(self, ContainError::Aws { .. })
    }
}

/// The error codes that mean the request itself is wrong or forbidden, not that AWS is busy.
const REFUSED_CODES: [&str; 5] =
    ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidParameterValue", "ValidationError"];

/// Classifies an SDK error by its code: `gone` codes are [`ContainError::Gone`], refusals
/// [`ContainError::Refused`], the rest transient.
fn classify<E>(doing: String, code: Option<&str>, gone: &[&str], err: E) -> ContainError
where
    E: Into<AwsError>,
{
    let source: AwsError = err.into();
    match code {
        Some(c) if gone.contains(&c) => ContainError::Gone(format!("{doing}: {c}: the resource no longer exists")),
        Some(c) if REFUSED_CODES.contains(&c) => {
            ContainError::Refused(format!("{doing}: {c}: {}", describe(source.as_ref())))
        }
        _ => ContainError::Aws { doing, source },
    }
}

/// The clients containment acts through: the containment role's in its own account, and a member role's
/// in each other account an incident names (with `[containment] member_role_name`), made when first needed.
#[derive(Debug)]
pub struct Containment {
    clients: Clients,
    cfg: ContainmentConfig,
    home: ContainmentClients,
    own_account: tokio::sync::OnceCell<String>,
    members: tokio::sync::Mutex<HashMap<String, ContainmentClients>>,
}

impl Containment {
    /// Acts as `cfg` says, with clients made from `clients`.
    pub async fn new(clients: Clients, cfg: ContainmentConfig) -> Containment {
        let home = clients.containment(&cfg, None).await;
        Containment { clients, cfg, home, own_account: Default::default(), members: Default::default() }
    }

    /// The clients for resources of `account`.
    async fn clients_for(&self, account: &str) -> Result<ContainmentClients, ContainError> {
        if self.cfg.member_role_name.is_empty() || account.is_empty() {
            return Ok(self.home.clone());
        }
        let own = self
            .own_account
            .get_or_try_init(|| async {
                let caller = identity::caller(&self.home.sts)
                    .await
                    .map_err(|source| ContainError::Aws { doing: "STS GetCallerIdentity".into(), source })?;
                Ok::<_, ContainError>(caller.arn.split(':').nth(4).unwrap_or_default().to_owned())
            })
            .await?;
        if account == own {
            return Ok(self.home.clone());
        }
        if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
            return Err(ContainError::Refused(format!("{account:?} is not an AWS account id")));
        }
        let mut members = self.members.lock().await;
        if let Some(clients) = members.get(account) {
            return Ok(clients.clone());
        }
        let clients = self.clients.containment(&self.cfg, Some(account)).await;
        members.insert(account.to_owned(), clients.clone());
        Ok(clients)
    }

    /// What the resource of `action` is now: the instance's interfaces and groups, its volumes, the key's
    /// status.
    pub async fn observe(&self, action: Action, account: &str, targets: &Targets) -> Result<Value, ContainError> {
        let c = self.clients_for(account).await?;
        match action {
            Action::IsolateInstance => ec2::interfaces(&c.ec2, instance(targets)?).await,
            Action::SnapshotVolumes => ec2::volumes(&c.ec2, instance(targets)?).await,
            Action::DeactivateAccessKey => {
                let (user, key) = access_key(targets)?;
                iam::key_status(&c.iam, user, key).await
            }
            Action::RevokeSessions => iam::role_policy(&c.iam, role(targets)?).await,
            Action::BlockIp => {
                let mut seen = ec2::network_acl(&c.ec2, blocked(targets)?.0).await?;
                let mut sets = Vec::new();
                for set in self.cfg.ip_sets() {
                    let c = self.clients_for(&set.account).await?;
                    sets.push(waf::addresses(&c.waf(&set.region), &set).await?);
                }
                if !sets.is_empty() {
                    seen["waf"] = Value::Array(sets);
                }
                Ok(seen)
            }
            Action::QuarantineObject => s3::tags(&c.s3, object(targets)?).await,
        }
    }

    /// Carries `action` out for incident `incident_id`; `before` is what [`Containment::observe`] found.
    pub async fn carry_out(
        &self,
        action: Action,
        (account, incident_id): (&str, &str),
        targets: &Targets,
        before: &Value,
    ) -> Result<Outcome, ContainError> {
        let c = self.clients_for(account).await?;
        match action {
            Action::IsolateInstance => ec2::isolate(&c.ec2, instance(targets)?, incident_id, before).await,
            Action::SnapshotVolumes => ec2::snapshot(&c.ec2, instance(targets)?, incident_id, before).await,
            Action::DeactivateAccessKey => {
                let (user, key) = access_key(targets)?;
                iam::set_status(&c.iam, user, key, false).await
            }
            Action::RevokeSessions => {
                // The time is the request's, fixed once: a retry revokes the same sessions.
                let at = before["observed_at"].as_str().unwrap_or("1970-01-01T00:00:00Z");
                iam::revoke(&c.iam, role(targets)?, at).await
            }
            Action::BlockIp => {
                let (subnet, ips) = blocked(targets)?;
                let mut outcome = ec2::block(&c.ec2, subnet, &ips, before).await?;
                let mut sets = Vec::new();
                for set in self.cfg.ip_sets() {
                    let had = recorded_for(before, &set.arn, "addresses");
                    let c = self.clients_for(&set.account).await?;
                    let (added, request_id) = waf::add(&c.waf(&set.region), &set, &ips, &had).await?;
                    sets.push(added);
                    outcome.request_ids.extend(request_id);
                }
                if !sets.is_empty() {
                    outcome.after["waf"] = Value::Array(sets);
                }
                Ok(outcome)
            }
            Action::QuarantineObject => {
                s3::quarantine(&c.s3, object(targets)?, incident_id, before, self.cfg.quarantine()).await
            }
        }
    }

    /// Reverses `action`, putting back what `before` recorded (or removing what `after` says was added).
    pub async fn undo(
        &self,
        action: Action,
        account: &str,
        targets: &Targets,
        (before, after): (&Value, &Value),
    ) -> Result<Outcome, ContainError> {
        let c = self.clients_for(account).await?;
        match action {
            Action::IsolateInstance => ec2::restore(&c.ec2, instance(targets)?, before).await,
            Action::SnapshotVolumes => Err(ContainError::Refused("snapshots are evidence: never deleted".into())),
            Action::DeactivateAccessKey => {
                let (user, key) = access_key(targets)?;
                iam::set_status(&c.iam, user, key, true).await
            }
            Action::RevokeSessions => iam::restore(&c.iam, role(targets)?, before).await,
            Action::BlockIp => {
                let mut outcome = ec2::unblock(&c.ec2, after).await?;
                for set in self.cfg.ip_sets() {
                    let added = recorded_for(after, &set.arn, "added");
                    let c = self.clients_for(&set.account).await?;
                    outcome.request_ids.extend(waf::remove(&c.waf(&set.region), &set, &added).await?);
                }
                Ok(outcome)
            }
            Action::QuarantineObject => s3::restore(&c.s3, object(targets)?, before).await,
        }
    }
}

/// The addresses a record (`before` or `after`) keeps under `field` for the IP set `arn`.
fn recorded_for(record: &Value, arn: &str, field: &str) -> Vec<String> {
    let set = record["waf"].as_array().into_iter().flatten().find(|s| s["arn"] == arn);
    set.and_then(|s| serde_json::from_value(s[field].clone()).ok()).unwrap_or_default()
}

fn role(targets: &Targets) -> Result<&str, ContainError> {
    match (targets.principal_type.as_deref(), targets.principal.as_deref()) {
        (Some("AssumedRole" | "Role"), Some(role)) => Ok(role),
        _ => Err(ContainError::Refused("the finding names no IAM role".into())),
    }
}

/// The subnet whose ACL blocks, and the addresses to block.
fn blocked(targets: &Targets) -> Result<(&str, Vec<&str>), ContainError> {
    let subnet = targets.interfaces.iter().find_map(|i| i.subnet_id.as_deref());
    let ips: Vec<&str> = targets.remote_ips.iter().take(MAX_BLOCKED_IPS).map(String::as_str).collect();
    match subnet {
        Some(subnet) if !ips.is_empty() => Ok((subnet, ips)),
        _ => Err(ContainError::Refused("the finding names no remote address with an instance's subnet".into())),
    }
}

fn object(targets: &Targets) -> Result<&S3Object, ContainError> {
    targets.object.as_ref().ok_or_else(|| ContainError::Refused("the finding names no S3 object".into()))
}

fn instance(targets: &Targets) -> Result<&str, ContainError> {
    targets.instance_id.as_deref().ok_or_else(|| ContainError::Refused("the finding names no EC2 instance".into()))
}

fn access_key(targets: &Targets) -> Result<(&str, &str), ContainError> {
    match (targets.principal.as_deref(), targets.access_key_id.as_deref()) {
        (Some(user), Some(key)) => Ok((user, key)),
        _ => Err(ContainError::Refused("the finding names no access key of an IAM user".into())),
    }
}
