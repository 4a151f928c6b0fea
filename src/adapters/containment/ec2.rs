//! Isolating an instance in its VPC's quarantine group, putting its groups back, and snapshotting its
//! volumes.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::operation::RequestId;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use serde_json::{Value, json};

use super::{ContainError, classify};
use crate::domain::containment::ip_set::cidr;
use crate::domain::containment::record::Outcome;
use crate::domain::containment::{INCIDENT_TAG, QUARANTINE_GROUP};

const INSTANCE_GONE: [&str; 2] = ["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"];
const GROUP_GONE: [&str; 2] = ["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];
const VOLUME_GONE: [&str; 1] = ["InvalidVolume.NotFound"];

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// The instance's VPC and its network interfaces with their groups:
/// `{"instance_id", "vpc_id", "interfaces": [{"id", "device_index", "groups": [...]}]}`.
pub(super) async fn interfaces(ec2: &Client, instance_id: &str) -> Result<Value, ContainError> {
    let out = call!(
        ec2.describe_instances().instance_ids(instance_id),
        format!("DescribeInstances {instance_id}"),
        INSTANCE_GONE
    )?;
    let instance = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id))
        .ok_or_else(|| ContainError::Gone(format!("instance {instance_id} does not exist (any more)")))?;
    let interfaces: Vec<Value> = instance
        .network_interfaces()
        .iter()
        .map(|eni| {
            json!({
                "id": eni.network_interface_id(),
                "device_index": eni.attachment().and_then(|a| a.device_index()).unwrap_or(0),
                "groups": eni.groups().iter().filter_map(|g| g.group_id()).collect::<Vec<_>>(),
            })
        })
        .collect();
    // An instance without interface details (a stopped one, some emulators): its groups are the primary's.
    let interfaces = if interfaces.is_empty() {
        vec![json!({
            "id": Value::Null,
            "device_index": 0,
            "groups": instance.security_groups().iter().filter_map(|g| g.group_id()).collect::<Vec<_>>(),
        })]
    } else {
        interfaces
    };
    Ok(json!({ "instance_id": instance_id, "vpc_id": instance.vpc_id(), "interfaces": interfaces }))
}

/// The quarantine group of `vpc_id`: found, or created with no rules at all (the default egress rule
/// revoked). Two daemons creating it at once: the loser finds the winner's.
async fn quarantine_group(ec2: &Client, vpc_id: &str, request_ids: &mut Vec<String>) -> Result<String, ContainError> {
    let find = || async {
        let out = call!(
            ec2.describe_security_groups()
                .filters(filter("group-name", QUARANTINE_GROUP))
                .filters(filter("vpc-id", vpc_id)),
            format!("DescribeSecurityGroups {QUARANTINE_GROUP} in {vpc_id}"),
            []
        )?;
        Ok::<_, ContainError>(out.security_groups().iter().find_map(|g| g.group_id()).map(str::to_owned))
    };
    if let Some(id) = find().await? {
        return Ok(id);
    }
    let created = ec2
        .create_security_group()
        .group_name(QUARANTINE_GROUP)
        .description("gd-incidents: isolates an instance under investigation; no inbound or outbound rules")
        .vpc_id(vpc_id)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(tag("gd-incidents:purpose", "quarantine"))
                .build(),
        )
        .send()
        .await;
    let group_id = match created {
        Ok(out) => {
            request_ids.extend(out.request_id().map(str::to_owned));
            out.group_id().map(str::to_owned).unwrap_or_default()
        }
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
            return find().await?.ok_or_else(|| ContainError::Gone(format!("{QUARANTINE_GROUP} vanished")));
        }
        Err(e) => {
            let code = e.code().map(str::to_owned);
            return Err(classify(format!("CreateSecurityGroup in {vpc_id}"), code.as_deref(), &[], e));
        }
    };
    let everything =
        IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build());
    let revoked =
        ec2.revoke_security_group_egress().group_id(&group_id).ip_permissions(everything.build()).send().await;
    match revoked {
        Ok(out) => request_ids.extend(out.request_id().map(str::to_owned)),
        // Already without the rule: what we want.
        Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
        Err(e) => {
            let code = e.code().map(str::to_owned);
            return Err(classify(format!("RevokeSecurityGroupEgress {group_id}"), code.as_deref(), &GROUP_GONE, e));
        }
    }
    Ok(group_id)
}

/// Sets the groups of the instance's interface `eni` (the primary one through the instance, as AWS does
/// for it and as emulators do consistently).
async fn set_groups(
    ec2: &Client,
    instance_id: &str,
    eni: &Value,
    groups: &[String],
    request_ids: &mut Vec<String>,
) -> Result<(), ContainError> {
    let primary = eni["device_index"].as_i64().unwrap_or(0) == 0;
    let id = if primary { None } else { eni["id"].as_str() };
    let request_id = match id {
        None => {
            let mut req = ec2.modify_instance_attribute().instance_id(instance_id);
            for g in groups {
                req = req.groups(g);
            }
            call!(req, format!("ModifyInstanceAttribute {instance_id}"), [INSTANCE_GONE, GROUP_GONE].concat())?
                .request_id()
                .map(str::to_owned)
        }
        Some(eni_id) => {
            let mut req = ec2.modify_network_interface_attribute().network_interface_id(eni_id);
            for g in groups {
                req = req.groups(g);
            }
            call!(req, format!("ModifyNetworkInterfaceAttribute {eni_id}"), ["InvalidNetworkInterfaceID.NotFound"])?
                .request_id()
                .map(str::to_owned)
        }
    };
    request_ids.extend(request_id);
    Ok(())
}

/// Moves every interface of the instance to the quarantine group and tags the instance.
pub(super) async fn isolate(
    ec2: &Client,
    instance_id: &str,
    incident_id: &str,
    before: &Value,
) -> Result<Outcome, ContainError> {
    let vpc_id = before["vpc_id"]
        .as_str()
        .ok_or_else(|| ContainError::Refused(format!("instance {instance_id} is in no VPC: it cannot be isolated")))?;
    let mut request_ids = Vec::new();
    let group = quarantine_group(ec2, vpc_id, &mut request_ids).await?;
    for eni in before["interfaces"].as_array().into_iter().flatten() {
        set_groups(ec2, instance_id, eni, std::slice::from_ref(&group), &mut request_ids).await?;
    }
    let tagged = call!(
        ec2.create_tags().resources(instance_id).tags(tag(INCIDENT_TAG, incident_id)),
        format!("CreateTags {instance_id}"),
        INSTANCE_GONE
    )?;
    request_ids.extend(tagged.request_id().map(str::to_owned));
    let mut after = interfaces(ec2, instance_id).await?;
    after["quarantine_group"] = json!(group);
    Ok(Outcome { after, request_ids })
}

/// Gives every interface back the groups `before` recorded.
pub(super) async fn restore(ec2: &Client, instance_id: &str, before: &Value) -> Result<Outcome, ContainError> {
    let mut request_ids = Vec::new();
    for eni in before["interfaces"].as_array().into_iter().flatten() {
        let groups: Vec<String> =
            eni["groups"].as_array().into_iter().flatten().filter_map(|g| g.as_str().map(str::to_owned)).collect();
        if groups.is_empty() {
            continue;
        }
        set_groups(ec2, instance_id, eni, &groups, &mut request_ids).await?;
    }
    Ok(Outcome { after: interfaces(ec2, instance_id).await?, request_ids })
}

/// The EBS volumes attached to the instance: `{"instance_id", "volumes": [{"id", "size_gib"}]}`.
pub(super) async fn volumes(ec2: &Client, instance_id: &str) -> Result<Value, ContainError> {
    // The instance must exist: no volume attached to a missing instance is not "nothing to snapshot".
    interfaces(ec2, instance_id).await?;
    let out = call!(
        ec2.describe_volumes().filters(filter("attachment.instance-id", instance_id)),
        format!("DescribeVolumes of {instance_id}"),
        []
    )?;
    let volumes: Vec<Value> =
        out.volumes().iter().map(|v| json!({ "id": v.volume_id(), "size_gib": v.size() })).collect();
    Ok(json!({ "instance_id": instance_id, "volumes": volumes }))
}

/// A snapshot of each volume in `before` that has none for this incident yet, tagged with it.
pub(super) async fn snapshot(
    ec2: &Client,
    instance_id: &str,
    incident_id: &str,
    before: &Value,
) -> Result<Outcome, ContainError> {
    let existing = call!(
        ec2.describe_snapshots().owner_ids("self").filters(filter(&format!("tag:{INCIDENT_TAG}"), incident_id)),
        format!("DescribeSnapshots of incident {incident_id}"),
        []
    )?;
    let mut snapshots: Vec<Value> = existing
        .snapshots()
        .iter()
        .map(|s| json!({ "volume_id": s.volume_id(), "snapshot_id": s.snapshot_id() }))
        .collect();
    let mut request_ids = Vec::new();
    for volume in before["volumes"].as_array().into_iter().flatten() {
        let Some(volume_id) = volume["id"].as_str() else { continue };
        if snapshots.iter().any(|s| s["volume_id"] == volume_id) {
            continue;
        }
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Snapshot)
            .tags(tag(INCIDENT_TAG, incident_id))
            .tags(tag("gd-incidents:instance-id", instance_id))
            .build();
        let out = call!(
            ec2.create_snapshot()
                .volume_id(volume_id)
                .description(format!("gd-incidents evidence: incident {incident_id}, instance {instance_id}"))
                .tag_specifications(tags),
            format!("CreateSnapshot of {volume_id}"),
            VOLUME_GONE
        )?;
        request_ids.extend(out.request_id().map(str::to_owned));
        snapshots.push(json!({ "volume_id": volume_id, "snapshot_id": out.snapshot_id() }));
    }
    Ok(Outcome { after: json!({ "instance_id": instance_id, "snapshots": snapshots }), request_ids })
}

/// The network ACL of `subnet_id` and its entries:
/// `{"network_acl_id", "subnet_id", "entries": [{"rule_number", "egress", "cidr", "rule_action"}]}`.
pub(super) async fn network_acl(ec2: &Client, subnet_id: &str) -> Result<Value, ContainError> {
    let out = call!(
        ec2.describe_network_acls().filters(filter("association.subnet-id", subnet_id)),
        format!("DescribeNetworkAcls of {subnet_id}"),
        []
    )?;
    let acl = out
        .network_acls()
        .first()
        .ok_or_else(|| ContainError::Gone(format!("subnet {subnet_id} has no network ACL (it no longer exists?)")))?;
    let entries: Vec<Value> = acl
        .entries()
        .iter()
        .map(|e| {
            json!({
                "rule_number": e.rule_number(),
                "egress": e.egress(),
                "cidr": e.cidr_block().or(e.ipv6_cidr_block()),
                "rule_action": e.rule_action().map(|a| a.as_str()),
            })
        })
        .collect();
    Ok(json!({ "network_acl_id": acl.network_acl_id(), "subnet_id": subnet_id, "entries": entries }))
}

/// Adds a deny entry for each of `ips`, both ways, unless one is there; the entries this action added are
/// those the ACL has now and `before` did not.
pub(super) async fn block(
    ec2: &Client,
    subnet_id: &str,
    ips: &[&str],
    before: &Value,
) -> Result<Outcome, ContainError> {
    let now = network_acl(ec2, subnet_id).await?;
    let acl_id = now["network_acl_id"].as_str().unwrap_or_default().to_owned();
    let mut entries: Vec<Value> = now["entries"].as_array().cloned().unwrap_or_default();
    let mut request_ids = Vec::new();
    for ip in ips {
        for egress in [false, true] {
            let block = cidr(ip);
            let present = entries
                .iter()
                .any(|e| e["egress"] == egress && e["cidr"] == block.as_str() && e["rule_action"] == "deny");
            if present {
                continue;
            }
            let used: Vec<i64> =
                entries.iter().filter(|e| e["egress"] == egress).filter_map(|e| e["rule_number"].as_i64()).collect();
            let rule = (1..32_766).find(|n| !used.contains(n)).unwrap_or(32_765);
            let mut req = ec2
                .create_network_acl_entry()
                .network_acl_id(&acl_id)
                .rule_number(rule as i32)
                .protocol("-1")
                .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
                .egress(egress);
            req = if ip.contains(':') { req.ipv6_cidr_block(&block) } else { req.cidr_block(&block) };
            let out =
                call!(req, format!("CreateNetworkAclEntry {block} in {acl_id}"), ["InvalidNetworkAclID.NotFound"])?;
            request_ids.extend(out.request_id().map(str::to_owned));
            entries.push(json!({ "rule_number": rule, "egress": egress, "cidr": block, "rule_action": "deny" }));
        }
    }
    let had = before["entries"].as_array().cloned().unwrap_or_default();
    let added: Vec<Value> = entries.into_iter().filter(|e| e["rule_action"] == "deny" && !had.contains(e)).collect();
    Ok(Outcome { after: json!({ "network_acl_id": acl_id, "subnet_id": subnet_id, "added": added }), request_ids })
}

/// Removes the entries `after` recorded as added.
pub(super) async fn unblock(ec2: &Client, after: &Value) -> Result<Outcome, ContainError> {
    let acl_id = after["network_acl_id"].as_str().unwrap_or_default();
    let mut request_ids = Vec::new();
    for entry in after["added"].as_array().into_iter().flatten() {
        let (Some(rule), Some(egress)) = (entry["rule_number"].as_i64(), entry["egress"].as_bool()) else { continue };
        let removed =
            ec2.delete_network_acl_entry().network_acl_id(acl_id).rule_number(rule as i32).egress(egress).send().await;
        match removed {
            Ok(out) => request_ids.extend(out.request_id().map(str::to_owned)),
            // Already gone: what undo wants.
            Err(e) if e.code() == Some("InvalidNetworkAclEntry.NotFound") => {}
            Err(e) => {
                let code = e.code().map(str::to_owned);
                return Err(classify(
                    format!("DeleteNetworkAclEntry {rule} of {acl_id}"),
                    code.as_deref(),
                    &["InvalidNetworkAclID.NotFound"],
                    e,
                ));
            }
        }
    }
    Ok(Outcome { after: json!({ "network_acl_id": acl_id, "removed": after["added"] }), request_ids })
}
