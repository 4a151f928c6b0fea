//! Containment (seed 000, Response & Containment: "isolating affected systems ... rotating secrets and
//! credentials ... blocking malicious IPs"): the actions that apply to an incident, computed from what its
//! finding names ([`Targets`]), the plan that says what each would change, and the record of each action
//! requested, carried out and undone ([`record`]). Pure: the daemon carries actions out
//! (`services::containment`), under a role of their own.
//!
//! Evidence first (procedure §3.6): snapshots are never deleted, so `snapshot-volumes` has no undo; every
//! other action records what it changed so that `undo` can put it back.

pub mod ip_set;
pub mod record;

use serde::{Deserialize, Serialize};

use crate::domain::finding::targets::{S3Object, Targets};
use crate::domain::severity::Level;

/// The name of the security group an instance is isolated in, one per VPC: no inbound or outbound rules.
pub const QUARANTINE_GROUP: &str = "gd-incidents-quarantine";
/// The inline policy `revoke-sessions` puts on a role.
pub const REVOKE_POLICY: &str = "gd-incidents-revoke-older-sessions";
/// Remote addresses `block-ip` denies, at most (a network ACL holds 20 rules each way by default).
pub const MAX_BLOCKED_IPS: usize = 5;
/// The tag that carries the incident id on what containment made or touched (snapshots, instances).
pub const INCIDENT_TAG: &str = "gd-incidents:incident-id";

/// A containment action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Moves the instance's network interfaces to the quarantine group of their VPC.
    IsolateInstance,
    /// Snapshots every EBS volume attached to the instance, tagged with the incident id.
    SnapshotVolumes,
    /// Sets the IAM user's access key `Inactive`.
    DeactivateAccessKey,
    /// Denies everything to the role's sessions issued before now (the console's "revoke active sessions").
    RevokeSessions,
    /// Denies the finding's remote addresses in the network ACL of the instance's subnet, both ways (and
    /// in the AWS WAF IP sets of `[containment] waf_ip_set_arns`).
    BlockIp,
    /// Tags the S3 object found malicious with the incident id (and copies it to the quarantine bucket of
    /// `[containment] quarantine_bucket`, as evidence).
    QuarantineObject,
}

impl Action {
    /// Every action, in the order a responder usually takes them (evidence before isolation).
    pub const ALL: [Action; 6] = [
        Action::SnapshotVolumes,
        Action::QuarantineObject,
        Action::IsolateInstance,
        Action::BlockIp,
        Action::DeactivateAccessKey,
        Action::RevokeSessions,
    ];

    /// Its name on the command line and in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::IsolateInstance => "isolate-instance",
            Action::SnapshotVolumes => "snapshot-volumes",
            Action::DeactivateAccessKey => "deactivate-access-key",
            Action::RevokeSessions => "revoke-sessions",
            Action::BlockIp => "block-ip",
            Action::QuarantineObject => "quarantine-object",
        }
    }

    /// What it does, in plain words for a customer (a client's notice says what was actually done).
    pub fn in_plain_words(self) -> &'static str {
        match self {
            Action::IsolateInstance => "the affected server was isolated from the network",
            Action::SnapshotVolumes => "copies of the affected server's disks were kept for forensic analysis",
            Action::DeactivateAccessKey => "the exposed access key was deactivated",
            Action::RevokeSessions => "the affected role's active sessions were revoked",
            Action::BlockIp => "the attacker's network addresses were blocked",
            Action::QuarantineObject => "the malicious file was quarantined and a copy kept for analysis",
        }
    }

    /// Whether `undo` can reverse it.
    pub fn undoable(self) -> bool {
        !matches!(self, Action::SnapshotVolumes)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Action, String> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            format!("unknown containment action {s:?}: expected one of {}", names.join(", "))
        })
    }
}

/// What an action would do to an incident's resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The action.
    pub action: Action,
    /// What it acts on: `i-...`, `AKIA...`.
    pub target: String,
    /// What will change, step by step, in words.
    pub steps: Vec<String>,
    /// How `undo` would reverse it, or why it cannot.
    pub undo: String,
}

/// Why an action does not apply to an incident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} does not apply to incident {incident_id}: {why}")]
pub struct NotApplicable {
    /// The action.
    pub action: Action,
    /// The incident.
    pub incident_id: String,
    /// Why, in words.
    pub why: String,
}

/// What containment knows of an incident: its id, its resource and what its finding names.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The incident.
    pub incident_id: &'a str,
    /// One line about its resource.
    pub resource: &'a str,
    /// A confidential staff report (it names no AWS resource).
    pub confidential: bool,
    /// What its finding names.
    pub targets: &'a Targets,
}

/// The plan of `action` on the incident's resource, or why it does not apply.
pub fn plan(incident: Subject, action: Action) -> Result<Plan, NotApplicable> {
    let t = incident.targets;
    let refuse = |why: String| NotApplicable { action, incident_id: incident.incident_id.to_owned(), why };
    if incident.confidential {
        return Err(refuse("a confidential staff report names no AWS resource to act on".into()));
    }
    let id = incident.incident_id;
    match action {
        Action::IsolateInstance => {
            let instance = t.instance_id.as_deref().ok_or_else(|| refuse(no_instance(incident)))?;
            let vpcs: Vec<&str> = t.interfaces.iter().filter_map(|i| i.vpc_id.as_deref()).collect();
            let mut steps = vec![format!(
                "Record the security groups of each network interface of {instance} ({} in the finding).",
                count(t.interfaces.len(), "interface")
            )];
            steps.push(format!(
                "Find or create the security group {QUARANTINE_GROUP} in {} (no inbound or outbound rules).",
                if vpcs.is_empty() { "the instance's VPC".to_owned() } else { vpcs.join(", ") }
            ));
            steps.push(format!(
                "Replace the security groups of every network interface of {instance} with {QUARANTINE_GROUP}: \
                 open connections are cut, no new ones are admitted."
            ));
            steps.push(format!("Tag {instance} with {INCIDENT_TAG}={id}."));
            Ok(Plan {
                action,
                target: instance.to_owned(),
                steps,
                undo: "undo gives every interface back exactly the groups recorded".into(),
            })
        }
        Action::SnapshotVolumes => {
            let instance = t.instance_id.as_deref().ok_or_else(|| refuse(no_instance(incident)))?;
            Ok(Plan {
                action,
                target: instance.to_owned(),
                steps: vec![
                    format!("Find every EBS volume attached to {instance}."),
                    format!(
                        "Create a snapshot of each one that has none for this incident yet, tagged {INCIDENT_TAG}={id}."
                    ),
                    "Record each snapshot on the incident as evidence.".into(),
                ],
                undo: "none: snapshots are evidence and are never deleted (procedure 3.6)".into(),
            })
        }
        Action::DeactivateAccessKey => {
            let key = t
                .access_key_id
                .as_deref()
                .ok_or_else(|| refuse(format!("its resource is {}, not an IAM access key", resource_of(incident))))?;
            let user = match (t.principal_type.as_deref(), t.principal.as_deref()) {
                (Some("IAMUser"), Some(user)) => user,
                (Some(kind), _) => {
                    return Err(refuse(format!(
                        "{key} is the temporary key of a {kind}, which cannot be deactivated: revoke the \
                         role's sessions instead"
                    )));
                }
                _ => return Err(refuse(format!("the finding does not say which IAM user {key} belongs to"))),
            };
            Ok(Plan {
                action,
                target: key.to_owned(),
                steps: vec![
                    format!("Record the status of access key {key} of IAM user {user}."),
                    format!("Set {key} Inactive: every request signed with it is refused from then on."),
                ],
                undo: format!("undo sets {key} Active again"),
            })
        }
        Action::RevokeSessions => {
            let role = match (t.principal_type.as_deref(), t.principal.as_deref()) {
                (Some("AssumedRole" | "Role"), Some(role)) => role,
                _ => {
                    return Err(refuse(format!(
                        "its resource is {}, not the credentials of an IAM role",
                        resource_of(incident)
                    )));
                }
            };
            Ok(Plan {
                action,
                target: role.to_owned(),
                steps: vec![
                    format!(
                        "Put the inline policy {REVOKE_POLICY} on IAM role {role}: deny every action to sessions \
                         issued before now (aws:TokenIssueTime), as the console's \"revoke active sessions\" does."
                    ),
                    "Sessions issued from then on (a redeployed service, a person signing in again) are not affected."
                        .into(),
                ],
                undo: format!(
                    "undo sets the policy's date to 1970, so it denies nothing; {REVOKE_POLICY} stays as a record"
                ),
            })
        }
        Action::BlockIp => {
            let subnet = t.interfaces.iter().find_map(|i| i.subnet_id.as_deref());
            let (Some(subnet), false) = (subnet, t.remote_ips.is_empty()) else {
                return Err(refuse(format!(
                    "it names no remote address with an instance's subnet ({})",
                    resource_of(incident)
                )));
            };
            let ips: Vec<&str> = t.remote_ips.iter().take(MAX_BLOCKED_IPS).map(String::as_str).collect();
            Ok(Plan {
                action,
                target: ips.join(", "),
                steps: vec![
                    format!("Find the network ACL of subnet {subnet}."),
                    format!(
                        "Add a deny entry for each of {} (inbound and outbound, all protocols), with the lowest \
                         free rule numbers, so it is evaluated before the allows.",
                        ips.join(", ")
                    ),
                    "Record the entries added.".into(),
                ],
                undo: "undo removes exactly the entries recorded".into(),
            })
        }
        Action::QuarantineObject => {
            let object = t
                .object
                .as_ref()
                .ok_or_else(|| refuse(format!("its resource is {}, not an S3 object", resource_of(incident))))?;
            let location = object.location();
            Ok(Plan {
                action,
                target: location.clone(),
                steps: vec![
                    format!("Record the tags of {location}."),
                    format!(
                        "Tag it {INCIDENT_TAG}={id}, keeping its other tags: a bucket policy that denies reading \
                         objects with that tag keeps everyone out of it (deploy/README.md)."
                    ),
                ],
                undo: "undo puts back exactly the tags recorded; a quarantine copy stays, as evidence".into(),
            })
        }
    }
}

/// What the daemon's `[containment]` settings add to some plans.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reach<'a> {
    /// The bucket `quarantine-object` copies objects into; empty: none.
    pub quarantine_bucket: &'a str,
    /// The AWS WAF IP sets `block-ip` adds addresses to.
    pub waf_ip_sets: &'a [String],
}

/// `plan` with the steps the settings of `reach` add: the copy into the quarantine bucket, the AWS WAF IP
/// sets.
pub fn with_reach(mut plan: Plan, incident_id: &str, targets: &Targets, reach: Reach) -> Plan {
    match plan.action {
        Action::QuarantineObject if !reach.quarantine_bucket.is_empty() => {
            if let Some(object) = &targets.object {
                let key = quarantine_key(incident_id, object);
                plan.steps.push(format!(
                    "Copy that version into s3://{}/{key}, tagged {INCIDENT_TAG}={incident_id}, and record the \
                     copy's version and ETag as evidence (never deleted).",
                    reach.quarantine_bucket
                ));
            }
        }
        Action::BlockIp => {
            for set in reach.waf_ip_sets {
                plan.steps.push(format!(
                    "Add each address to the AWS WAF IP set {set} (of its address family), recording those added."
                ));
            }
            if !reach.waf_ip_sets.is_empty() {
                plan.undo = "undo removes exactly the entries and the IP set addresses recorded".into();
            }
        }
        _ => {}
    }
    plan
}

/// Where the quarantine bucket keeps the copy of `object`: `<incident>/<bucket>/<key>`, or the key's
/// SHA-256 in place of a key too long for that (S3 keys hold 1,024 bytes).
pub fn quarantine_key(incident_id: &str, object: &S3Object) -> String {
    let key = format!("{incident_id}/{}/{}", object.bucket, object.key);
    if key.len() <= 1024 {
        return key;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(object.key.as_bytes());
    format!("{incident_id}/{}/sha256-{}", object.bucket, crate::domain::evidence::lower_hex(&digest))
}

/// Every action that applies to `incident`, with its plan and what `reach` adds to it.
pub fn applicable(incident: Subject, reach: Reach) -> Vec<Plan> {
    Action::ALL
        .into_iter()
        .filter_map(|a| plan(incident, a).ok())
        .map(|p| with_reach(p, incident.incident_id, incident.targets, reach))
        .collect()
}

/// `[[containment.automatic]]`: an action the daemon asks for itself, before anyone wakes up, when an
/// incident of these types reaches one of these levels (e.g. snapshots of every HIGH or CRITICAL instance:
/// evidence first). Recorded and undoable like a person's request; never repeated once recorded, so an
/// undo stands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRule {
    /// The action.
    pub action: Action,
    /// The levels that trigger it (default HIGH and CRITICAL).
    #[serde(default = "default_auto_levels")]
    pub levels: Vec<Level>,
    /// Finding types, exact or with `*`; empty: any.
    #[serde(default)]
    pub types: Vec<String>,
}

fn default_auto_levels() -> Vec<Level> {
    vec![Level::High, Level::Critical]
}

/// How many different people must ask for `action` on an incident at `level` before the daemon carries it
/// out: two where `second_approver` names the level (`[containment] second_approver_levels`), except for
/// snapshots, which change nothing a workload uses and are evidence best taken at once.
pub fn approvals_needed(second_approver: &[Level], level: Level, action: Action) -> usize {
    if action != Action::SnapshotVolumes && second_approver.contains(&level) { 2 } else { 1 }
}

/// Who the log says asked for an automatic action.
pub const AUTOMATIC_BY: &str = "gd-incidents (policy: containment.automatic)";

/// The actions `rules` ask for on an incident at `level` of `finding_type`: those that apply and that it
/// has no record of yet.
pub fn automatic(
    rules: &[AutoRule],
    incident: Subject,
    level: Level,
    finding_type: &str,
    recorded: &[Action],
) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for rule in rules {
        let typed = rule.types.is_empty() || rule.types.iter().any(|t| crate::domain::policy::matches(t, finding_type));
        if typed
            && rule.levels.contains(&level)
            && !recorded.contains(&rule.action)
            && !out.contains(&rule.action)
            && plan(incident, rule.action).is_ok()
        {
            out.push(rule.action);
        }
    }
    out
}

/// What a responder does by hand where no action applies (EKS and ECS workloads), from the AWS guidance.
pub fn manual_steps(targets: &Targets) -> Vec<&'static str> {
    match targets.cluster.as_deref() {
        Some("EKS") => vec![
            "Isolate the pod: apply a NetworkPolicy that denies all ingress and egress to its labels.",
            "Cordon the node (kubectl cordon) so nothing new is scheduled there; keep it running for forensics.",
            "Revoke the pod's credentials: delete the service account's tokens, or the IRSA role's sessions.",
            "Snapshot the node's EBS volumes before terminating anything (procedure 3.6).",
        ],
        Some("ECS") => vec![
            "Stop new tasks from the compromised task definition: set the service's desired count to 0.",
            "Move the task's ENI to an isolated security group (awsvpc mode) and keep the task for forensics.",
            "Revoke the task role's sessions and rotate the secrets the task could read.",
        ],
        _ => Vec::new(),
    }
}

fn no_instance(incident: Subject<'_>) -> String {
    format!("its resource is {}, not an EC2 instance", resource_of(incident))
}

fn resource_of<'a>(incident: Subject<'a>) -> &'a str {
    if incident.resource.is_empty() { "unknown" } else { incident.resource }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

#[cfg(test)]
mod tests;
