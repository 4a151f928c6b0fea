//! One line about the affected resource, for every resource type GuardDuty reports.

use super::Resource;
use super::tree::Node;

/// Longest summary kept: a page must stay readable on a phone.
const MAX_SUMMARY_CHARS: usize = 300;

/// Summarises a finding's `resource` member (and, for attack sequences, the resources listed in
/// `service.detection`). Never fails: an unknown or odd shape gives the resource type.
pub fn summarize(resource: &Node, detection: &Node) -> Resource {
    let kind = resource.text("/resourceType").unwrap_or("Unknown").to_owned();
    let summary = match kind.as_str() {
        "Instance" => instance(resource),
        "AccessKey" => access_key(resource),
        "S3Bucket" => s3_buckets(resource),
        "S3Object" => s3_object(resource),
        "EKSCluster" => labelled("EKS cluster", resource, &["/eksClusterDetails/name"]).map(|s| {
            match kubernetes_workload(resource) {
                Some(w) => format!("{s}, {w}"),
                None => s,
            }
        }),
        "Container" => container(resource),
        "ECSCluster" => labelled("ECS cluster", resource, &["/ecsClusterDetails/name", "/ecsClusterDetails/arn"]),
        "RDSDBInstance" => labelled(
            "RDS DB instance",
            resource,
            &["/rdsDbInstanceDetails/dbInstanceIdentifier", "/rdsDbInstanceDetails/dbInstanceArn"],
        )
        .map(|s| match resource.text("/rdsDbInstanceDetails/engine") {
            Some(engine) => format!("{s} ({engine})"),
            None => s,
        }),
        "RDSLimitlessDB" => labelled(
            "RDS Limitless database",
            resource,
            &["/rdsLimitlessDbDetails/dbShardGroupIdentifier", "/rdsLimitlessDbDetails/dbClusterIdentifier"],
        ),
        "Lambda" => {
            labelled("Lambda function", resource, &["/lambdaDetails/functionName", "/lambdaDetails/functionArn"])
        }
        "EBSVolume" => labelled(
            "EBS volume",
            resource,
            &[
                "/ebsVolumeDetails/scannedVolumeDetails/0/volumeArn",
                "/ebsVolumeDetails/skippedVolumeDetails/0/volumeArn",
            ],
        ),
        "AttackSequence" => attack_sequence(detection),
        _ => None,
    }
    .or_else(|| generic(resource))
    .unwrap_or_else(|| kind.clone());
    Resource { summary: truncate(&summary, MAX_SUMMARY_CHARS), kind }
}

fn labelled(label: &str, v: &Node, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|p| v.text(p)).map(|id| format!("{label} {id}"))
}

fn instance(v: &Node) -> Option<String> {
    let id = v.text("/instanceDetails/instanceId")?;
    let mut s = format!("EC2 instance {id}");
    if let Some(t) = v.text("/instanceDetails/instanceType") {
        s.push_str(&format!(" ({t})"));
    }
    if let Some(name) = tag(v.at("/instanceDetails/tags"), "Name") {
        s.push_str(&format!(" \"{name}\""));
    }
    Some(s)
}

fn access_key(v: &Node) -> Option<String> {
    let key = v.text("/accessKeyDetails/accessKeyId");
    let user = v.text("/accessKeyDetails/userName");
    let user_type = v.text("/accessKeyDetails/userType").unwrap_or("principal");
    match (key, user) {
        (Some(k), Some(u)) => Some(format!("access key {k} of {user_type} {u}")),
        (Some(k), None) => Some(format!("access key {k}")),
        (None, Some(u)) => Some(format!("{user_type} {u}")),
        (None, None) => None,
    }
}

fn bucket_names<'n>(v: &'n Node<'_>) -> Vec<&'n str> {
    v.at("/s3BucketDetails")
        .and_then(Node::as_array)
        .map(|buckets| buckets.iter().filter_map(|b| b.text("/name").or_else(|| b.text("/arn"))).collect())
        .unwrap_or_default()
}

fn s3_buckets(v: &Node) -> Option<String> {
    let names = bucket_names(v);
    match names.len() {
        0 => None,
        1 => Some(format!("S3 bucket {}", names[0])),
        _ => Some(format!("S3 buckets {}", names.join(", "))),
    }
}

fn s3_object(v: &Node) -> Option<String> {
    let bucket = bucket_names(v).into_iter().next();
    let key = v.text("/s3BucketDetails/0/s3ObjectDetails/0/key");
    match (bucket, key) {
        (Some(b), Some(k)) => Some(format!("S3 object s3://{b}/{k}")),
        (Some(b), None) => Some(format!("S3 object in bucket {b}")),
        _ => None,
    }
}

fn kubernetes_workload(v: &Node) -> Option<String> {
    let name = v.text("/kubernetesDetails/kubernetesWorkloadDetails/name")?;
    let kind = v.text("/kubernetesDetails/kubernetesWorkloadDetails/type").unwrap_or("workload");
    match v.text("/kubernetesDetails/kubernetesWorkloadDetails/namespace") {
        Some(ns) => Some(format!("{kind} {ns}/{name}")),
        None => Some(format!("{kind} {name}")),
    }
}

fn container(v: &Node) -> Option<String> {
    let name = v.text("/containerDetails/name").or_else(|| v.text("/ecsClusterDetails/taskDetails/containers/0/name"));
    let image =
        v.text("/containerDetails/image").or_else(|| v.text("/ecsClusterDetails/taskDetails/containers/0/image"));
    let cluster = v
        .text("/ecsClusterDetails/name")
        .map(|c| format!("ECS cluster {c}"))
        .or_else(|| v.text("/eksClusterDetails/name").map(|c| format!("EKS cluster {c}")));
    let mut s = match (name, image) {
        (Some(n), Some(i)) => format!("container {n} ({i})"),
        (Some(n), None) => format!("container {n}"),
        (None, Some(i)) => format!("container of image {i}"),
        (None, None) => return cluster,
    };
    if let Some(c) = cluster {
        s.push_str(&format!(" in {c}"));
    }
    Some(s)
}

/// Extended Threat Detection lists the resources of the sequence under `service.detection.sequence`.
fn attack_sequence(detection: &Node) -> Option<String> {
    let resources = detection.at("/sequence/resources")?.as_array()?;
    let named: Vec<String> = resources
        .iter()
        .filter_map(|r| {
            let id = r.text("/name").or_else(|| r.text("/uid"))?;
            Some(match r.text("/resourceType") {
                Some(kind) => format!("{kind} {id}"),
                None => id.to_owned(),
            })
        })
        .collect();
    (!named.is_empty()).then(|| format!("attack sequence over {}", named.join(", ")))
}

/// For types this module does not know yet: the first identifier-looking string in the resource.
fn generic(v: &Node) -> Option<String> {
    let kind = v.text("/resourceType").unwrap_or("resource");
    let obj = v.as_object()?;
    for (key, details) in obj {
        if key == "resourceType" {
            continue;
        }
        for field in ["name", "arn", "id", "identifier"] {
            if let Some(found) = details
                .as_object()
                .and_then(|d| d.iter().find(|(k, _)| k.to_ascii_lowercase().ends_with(field)))
                .and_then(|(_, val)| val.as_str())
                .filter(|s| !s.trim().is_empty())
            {
                return Some(format!("{kind} {found}"));
            }
        }
    }
    None
}

fn tag<'n>(tags: Option<&'n Node<'_>>, key: &str) -> Option<&'n str> {
    tags?.as_array()?.iter().find_map(|t| {
        (t.text("/key").or_else(|| t.text("/Key")) == Some(key))
            .then(|| t.text("/value").or_else(|| t.text("/Value")))
            .flatten()
    })
}

/// Cuts `s` to at most `max` characters, marking the cut; never splits a character.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
