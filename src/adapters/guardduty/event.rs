//! Findings read from the GuardDuty API, turned back into the EventBridge event GuardDuty would have sent for
//! them, so that reconciliation feeds them through exactly the path of a queue message ([`crate::domain::finding::parse`]).
//! Pure: no I/O.
//!
//! The SDK's [`Finding`] is not serde, so this writes the finding's camelCase JSON form member by member. It is
//! faithful rather than exhaustive: every member the parser reads is there (ids, type, severity, timestamps,
//! `service.count`/`detectorId`/`eventFirstSeen`/`eventLastSeen`, the resource details it summarises and
//! `service.detection.sequence` of attack sequences), along with the usual neighbours a person reading a stored
//! event would expect (action, evidence, additional info). Members the SDK models as `DateTime` (all nested in
//! resource and detection details) are written as ISO-8601 strings; finding-level `createdAt`/`updatedAt` and
//! `service.eventFirstSeen`/`eventLastSeen` are strings in the API already and are copied as given.

use aws_sdk_guardduty::primitives::{DateTime, DateTimeFormat};
use aws_sdk_guardduty::types::{
    AccessKeyDetails, Action, Actor, Container, Detection, EbsVolumeDetails, EcsClusterDetails, EcsTaskDetails,
    EksClusterDetails, Evidence, Finding, InstanceDetails, KubernetesDetails, LambdaDetails, LocalIpDetails,
    LocalPortDetails, NetworkInterface, RdsDbInstanceDetails, RdsDbUserDetails, RdsLimitlessDbDetails, RemoteIpDetails,
    RemotePortDetails, Resource, ResourceV2, S3BucketDetail, S3ObjectDetail, Sequence, Service, Signal, Tag,
    VolumeDetail,
};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::domain::finding::{DETAIL_TYPE, SOURCE};

/// The EventBridge `GuardDuty Finding` event GuardDuty would have delivered for `finding`.
///
/// The event id is derived from the finding id and `updatedAt` (a UUID-shaped digest), so converting the same
/// version of a finding twice gives the same event; `time` is `updatedAt` at EventBridge's second precision.
pub fn to_event(finding: &Finding) -> Value {
    let updated_at = non_empty(finding.updated_at());
    let mut event = Obj::new()
        .str("version", Some("0"))
        .str("id", Some(&event_id(finding.id().unwrap_or_default(), updated_at.unwrap_or_default())))
        .str("detail-type", Some(DETAIL_TYPE))
        .str("source", Some(SOURCE))
        .str("account", finding.account_id());
    if let Some(time) = updated_at.or_else(|| non_empty(finding.created_at())) {
        event = event.string("time", event_time(time));
    }
    event
        .str("region", finding.region())
        .value("resources", Some(Value::Array(Vec::new())))
        .value("detail", Some(detail(finding)))
        .build()
}

/// [`to_event`] as JSON text: a queue message body.
pub fn to_body(finding: &Finding) -> String {
    to_event(finding).to_string()
}

/// A UUID-shaped (version 8, "custom") digest of the finding id and `updatedAt`.
fn event_id(finding_id: &str, updated_at: &str) -> String {
    let digest = Sha256::new().chain_update(finding_id).chain_update([0]).chain_update(updated_at).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// EventBridge's `time` has no fractional seconds; a value that is not RFC 3339 is kept as it is.
fn event_time(updated_at: &str) -> String {
    match crate::domain::finding::timestamp(Some(updated_at)) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => updated_at.to_owned(),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

fn detail(f: &Finding) -> Value {
    Obj::new()
        .str("schemaVersion", f.schema_version())
        .str("accountId", f.account_id())
        .str("region", f.region())
        .str("partition", f.partition())
        .str("id", f.id())
        .str("arn", f.arn())
        .str("type", f.r#type())
        .value("resource", f.resource().map(resource))
        .value("service", f.service().map(service))
        .float("severity", f.severity())
        .float("confidence", f.confidence())
        .str("createdAt", f.created_at())
        .str("updatedAt", f.updated_at())
        .str("title", f.title())
        .str("description", f.description())
        .str("associatedAttackSequenceArn", f.associated_attack_sequence_arn())
        .str("customDetectionRuleName", f.custom_detection_rule_name())
        .build()
}

// ---- service ------------------------------------------------------------------------------------------------

fn service(s: &Service) -> Value {
    let mut additional_info = None;
    if let Some(info) = s.additional_info() {
        // EventBridge spreads the members of the JSON-encoded `value` beside `value` and `type`.
        let mut spread = match info.value().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(members))) => members,
            _ => Map::new(),
        };
        if let Some(v) = info.value() {
            spread.insert("value".into(), Value::String(v.to_owned()));
        }
        if let Some(t) = info.r#type() {
            spread.insert("type".into(), Value::String(t.to_owned()));
        }
        additional_info = Some(Value::Object(spread));
    }
    Obj::new()
        .str("serviceName", s.service_name())
        .str("detectorId", s.detector_id())
        .value("action", s.action().map(action))
        .str("resourceRole", s.resource_role())
        .value("additionalInfo", additional_info)
        .value("evidence", s.evidence().map(evidence))
        .str("featureName", s.feature_name())
        .value("detection", s.detection().map(detection))
        .str("eventFirstSeen", s.event_first_seen())
        .str("eventLastSeen", s.event_last_seen())
        .bool("archived", s.archived())
        .int("count", s.count())
        .str("userFeedback", s.user_feedback())
        .build()
}

fn evidence(e: &Evidence) -> Value {
    Obj::new()
        .list("threatIntelligenceDetails", e.threat_intelligence_details.as_deref(), |t| {
            Obj::new()
                .str("threatListName", t.threat_list_name())
                .strs("threatNames", t.threat_names.as_deref())
                .str("threatFileSha256", t.threat_file_sha256())
                .build()
        })
        .build()
}

fn action(a: &Action) -> Value {
    Obj::new()
        .str("actionType", a.action_type())
        .value(
            "dnsRequestAction",
            a.dns_request_action().map(|d| {
                Obj::new()
                    .str("domain", d.domain())
                    .str("protocol", d.protocol())
                    .bool("blocked", d.blocked())
                    .str("domainWithSuffix", d.domain_with_suffix())
                    .str("vpcOwnerAccountId", d.vpc_owner_account_id())
                    .build()
            }),
        )
        .value(
            "awsApiCallAction",
            a.aws_api_call_action().map(|c| {
                Obj::new()
                    .str("api", c.api())
                    .str("serviceName", c.service_name())
                    .str("callerType", c.caller_type())
                    .str("errorCode", c.error_code())
                    .str("userAgent", c.user_agent())
                    .value("remoteIpDetails", c.remote_ip_details().map(remote_ip))
                    .value("domainDetails", c.domain_details().map(|d| Obj::new().str("domain", d.domain()).build()))
                    .value(
                        "remoteAccountDetails",
                        c.remote_account_details().map(|r| {
                            Obj::new()
                                .str("accountId", r.account_id())
                                .bool("affiliated", r.affiliated())
                                .str("awsServiceName", r.aws_service_name())
                                .build()
                        }),
                    )
                    .value(
                        "affectedResources",
                        c.affected_resources().map(|m| {
                            let mut sorted: Vec<_> = m.iter().collect();
                            sorted.sort();
                            Value::Object(
                                sorted.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect(),
                            )
                        }),
                    )
                    .build()
            }),
        )
        .value(
            "networkConnectionAction",
            a.network_connection_action().map(|n| {
                Obj::new()
                    .bool("blocked", n.blocked())
                    .str("connectionDirection", n.connection_direction())
                    .str("protocol", n.protocol())
                    .value("localPortDetails", n.local_port_details().map(local_port))
                    .value("localIpDetails", n.local_ip_details().map(local_ip))
                    .str("localNetworkInterface", n.local_network_interface())
                    .value("remoteIpDetails", n.remote_ip_details().map(remote_ip))
                    .value("remotePortDetails", n.remote_port_details().map(remote_port))
                    .build()
            }),
        )
        .value(
            "portProbeAction",
            a.port_probe_action().map(|p| {
                Obj::new()
                    .bool("blocked", p.blocked())
                    .list("portProbeDetails", p.port_probe_details.as_deref(), |d| {
                        Obj::new()
                            .value("localPortDetails", d.local_port_details().map(local_port))
                            .value("localIpDetails", d.local_ip_details().map(local_ip))
                            .value("remoteIpDetails", d.remote_ip_details().map(remote_ip))
                            .build()
                    })
                    .build()
            }),
        )
        .value(
            "kubernetesApiCallAction",
            a.kubernetes_api_call_action().map(|k| {
                Obj::new()
                    .str("requestUri", k.request_uri())
                    .str("verb", k.verb())
                    .str("resource", k.resource())
                    .str("subresource", k.subresource())
                    .str("namespace", k.namespace())
                    .str("resourceName", k.resource_name())
                    .strs("sourceIps", k.source_ips.as_deref())
                    .str("userAgent", k.user_agent())
                    .value("remoteIpDetails", k.remote_ip_details().map(remote_ip))
                    .int("statusCode", k.status_code())
                    .str("parameters", k.parameters())
                    .build()
            }),
        )
        .value(
            "kubernetesPermissionCheckedDetails",
            a.kubernetes_permission_checked_details().map(|k| {
                Obj::new()
                    .str("verb", k.verb())
                    .str("resource", k.resource())
                    .str("namespace", k.namespace())
                    .bool("allowed", k.allowed())
                    .build()
            }),
        )
        .value(
            "kubernetesRoleBindingDetails",
            a.kubernetes_role_binding_details().map(|k| {
                Obj::new()
                    .str("kind", k.kind())
                    .str("name", k.name())
                    .str("uid", k.uid())
                    .str("roleRefName", k.role_ref_name())
                    .str("roleRefKind", k.role_ref_kind())
                    .build()
            }),
        )
        .value(
            "kubernetesRoleDetails",
            a.kubernetes_role_details()
                .map(|k| Obj::new().str("kind", k.kind()).str("name", k.name()).str("uid", k.uid()).build()),
        )
        .value(
            "rdsLoginAttemptAction",
            a.rds_login_attempt_action().map(|r| {
                Obj::new()
                    .value("remoteIpDetails", r.remote_ip_details().map(remote_ip))
                    // PascalCase in the API and in EventBridge alike.
                    .list("LoginAttributes", r.login_attributes.as_deref(), |l| {
                        Obj::new()
                            .str("user", l.user())
                            .str("application", l.application())
                            .int("failedLoginAttempts", l.failed_login_attempts())
                            .int("successfulLoginAttempts", l.successful_login_attempts())
                            .build()
                    })
                    .build()
            }),
        )
        .build()
}

fn remote_ip(r: &RemoteIpDetails) -> Value {
    Obj::new()
        .str("ipAddressV4", r.ip_address_v4())
        .str("ipAddressV6", r.ip_address_v6())
        .value(
            "organization",
            r.organization().map(|o| {
                Obj::new()
                    .str("asn", o.asn())
                    .str("asnOrg", o.asn_org())
                    .str("isp", o.isp())
                    .str("org", o.org())
                    .build()
            }),
        )
        .value(
            "country",
            r.country()
                .map(|c| Obj::new().str("countryCode", c.country_code()).str("countryName", c.country_name()).build()),
        )
        .value("city", r.city().map(|c| Obj::new().str("cityName", c.city_name()).build()))
        .value("geoLocation", r.geo_location().map(|g| Obj::new().float("lat", g.lat()).float("lon", g.lon()).build()))
        .build()
}

fn local_ip(l: &LocalIpDetails) -> Value {
    Obj::new().str("ipAddressV4", l.ip_address_v4()).str("ipAddressV6", l.ip_address_v6()).build()
}

fn local_port(p: &LocalPortDetails) -> Value {
    Obj::new().int("port", p.port()).str("portName", p.port_name()).build()
}

fn remote_port(p: &RemotePortDetails) -> Value {
    Obj::new().int("port", p.port()).str("portName", p.port_name()).build()
}

/// Extended Threat Detection's attack sequence: what the parser lists (`sequence.resources[]`) and its context.
fn detection(d: &Detection) -> Value {
    Obj::new().value("sequence", d.sequence().map(sequence)).build()
}

fn sequence(s: &Sequence) -> Value {
    Obj::new()
        .str("uid", s.uid())
        .str("description", s.description())
        .list("actors", s.actors.as_deref(), actor)
        .list("resources", s.resources.as_deref(), resource_v2)
        .list("signals", s.signals.as_deref(), signal)
        .strs("additionalSequenceTypes", s.additional_sequence_types.as_deref())
        .build()
}

fn actor(a: &Actor) -> Value {
    Obj::new()
        .str("id", a.id())
        .value(
            "user",
            a.user().map(|u| {
                Obj::new()
                    .str("name", u.name())
                    .str("uid", u.uid())
                    .str("type", u.r#type())
                    .str("credentialUid", u.credential_uid())
                    // The API names the account's name `account`.
                    .value(
                        "account",
                        u.account().map(|a| Obj::new().str("uid", a.uid()).str("account", a.name()).build()),
                    )
                    .build()
            }),
        )
        .build()
}

fn resource_v2(r: &ResourceV2) -> Value {
    Obj::new()
        .str("uid", r.uid())
        .str("name", r.name())
        .str("accountId", r.account_id())
        .str("resourceType", r.resource_type().map(|t| t.as_str()))
        .str("region", r.region())
        .str("service", r.service())
        .str("cloudPartition", r.cloud_partition())
        .tags("tags", r.tags.as_deref())
        .build()
}

fn signal(s: &Signal) -> Value {
    Obj::new()
        .str("uid", s.uid())
        .str("type", s.r#type().map(|t| t.as_str()))
        .str("description", s.description())
        .str("name", s.name())
        .time("createdAt", s.created_at())
        .time("updatedAt", s.updated_at())
        .time("firstSeenAt", s.first_seen_at())
        .time("lastSeenAt", s.last_seen_at())
        .float("severity", s.severity())
        .int("count", s.count())
        .strs("resourceUids", s.resource_uids.as_deref())
        .strs("actorIds", s.actor_ids.as_deref())
        .strs("endpointIds", s.endpoint_ids.as_deref())
        .build()
}

// ---- resource -----------------------------------------------------------------------------------------------

fn resource(r: &Resource) -> Value {
    Obj::new()
        .str("resourceType", r.resource_type())
        .value("accessKeyDetails", r.access_key_details().map(access_key))
        .list("s3BucketDetails", r.s3_bucket_details.as_deref(), s3_bucket)
        .value("instanceDetails", r.instance_details().map(instance))
        .value("eksClusterDetails", r.eks_cluster_details().map(eks_cluster))
        .value("kubernetesDetails", r.kubernetes_details().map(kubernetes))
        .value("ebsVolumeDetails", r.ebs_volume_details().map(ebs_volumes))
        .value("ecsClusterDetails", r.ecs_cluster_details().map(ecs_cluster))
        .value("containerDetails", r.container_details().map(container))
        .value("rdsDbInstanceDetails", r.rds_db_instance_details().map(rds_db_instance))
        .value("rdsLimitlessDbDetails", r.rds_limitless_db_details().map(rds_limitless_db))
        .value("rdsDbUserDetails", r.rds_db_user_details().map(rds_db_user))
        .value("lambdaDetails", r.lambda_details().map(lambda))
        .build()
}

fn instance(i: &InstanceDetails) -> Value {
    Obj::new()
        .str("instanceId", i.instance_id())
        .str("instanceType", i.instance_type())
        .str("outpostArn", i.outpost_arn())
        // A string in the API (unlike the other nested timestamps).
        .str("launchTime", i.launch_time())
        .str("platform", i.platform())
        .list("productCodes", i.product_codes.as_deref(), |p| {
            Obj::new().str("productCodeId", p.code()).str("productCodeType", p.product_type()).build()
        })
        .value(
            "iamInstanceProfile",
            i.iam_instance_profile().map(|p| Obj::new().str("arn", p.arn()).str("id", p.id()).build()),
        )
        .list("networkInterfaces", i.network_interfaces.as_deref(), network_interface)
        .tags("tags", i.tags.as_deref())
        .str("instanceState", i.instance_state())
        .str("availabilityZone", i.availability_zone())
        .str("imageId", i.image_id())
        .str("imageDescription", i.image_description())
        .build()
}

fn network_interface(n: &NetworkInterface) -> Value {
    Obj::new()
        .strs("ipv6Addresses", n.ipv6_addresses.as_deref())
        .str("networkInterfaceId", n.network_interface_id())
        .str("privateDnsName", n.private_dns_name())
        .str("privateIpAddress", n.private_ip_address())
        .list("privateIpAddresses", n.private_ip_addresses.as_deref(), |p| {
            Obj::new()
                .str("privateDnsName", p.private_dns_name())
                .str("privateIpAddress", p.private_ip_address())
                .build()
        })
        .str("publicDnsName", n.public_dns_name())
        .str("publicIp", n.public_ip())
        .list("securityGroups", n.security_groups.as_deref(), |g| {
            Obj::new().str("groupName", g.group_name()).str("groupId", g.group_id()).build()
        })
        .str("subnetId", n.subnet_id())
        .str("vpcId", n.vpc_id())
        .build()
}

fn access_key(a: &AccessKeyDetails) -> Value {
    Obj::new()
        .str("accessKeyId", a.access_key_id())
        .str("principalId", a.principal_id())
        .str("userName", a.user_name())
        .str("userType", a.user_type())
        .build()
}

fn s3_bucket(b: &S3BucketDetail) -> Value {
    Obj::new()
        .str("arn", b.arn())
        .str("name", b.name())
        .str("type", b.r#type())
        .time("createdAt", b.created_at())
        .value("owner", b.owner().map(|o| Obj::new().str("id", o.id()).build()))
        .tags("tags", b.tags.as_deref())
        .value(
            "defaultServerSideEncryption",
            b.default_server_side_encryption().map(|e| {
                Obj::new()
                    .str("encryptionType", e.encryption_type())
                    .str("kmsMasterKeyArn", e.kms_master_key_arn())
                    .build()
            }),
        )
        .value(
            "publicAccess",
            b.public_access().map(|p| Obj::new().str("effectivePermission", p.effective_permission()).build()),
        )
        .list("s3ObjectDetails", b.s3_object_details.as_deref(), s3_object)
        .build()
}

fn s3_object(o: &S3ObjectDetail) -> Value {
    Obj::new()
        .str("objectArn", o.object_arn())
        .str("key", o.key())
        .str("eTag", o.e_tag())
        .str("hash", o.hash())
        .str("versionId", o.version_id())
        .build()
}

fn eks_cluster(e: &EksClusterDetails) -> Value {
    Obj::new()
        .str("name", e.name())
        .str("arn", e.arn())
        .str("vpcId", e.vpc_id())
        .str("status", e.status())
        .tags("tags", e.tags.as_deref())
        .time("createdAt", e.created_at())
        .build()
}

fn kubernetes(k: &KubernetesDetails) -> Value {
    Obj::new()
        .value(
            "kubernetesUserDetails",
            k.kubernetes_user_details().map(|u| {
                Obj::new()
                    .str("username", u.username())
                    .str("uid", u.uid())
                    .strs("groups", u.groups.as_deref())
                    .strs("sessionName", u.session_name.as_deref())
                    .build()
            }),
        )
        .value(
            "kubernetesWorkloadDetails",
            k.kubernetes_workload_details().map(|w| {
                Obj::new()
                    .str("name", w.name())
                    .str("type", w.r#type())
                    .str("uid", w.uid())
                    .str("namespace", w.namespace())
                    .bool("hostNetwork", w.host_network())
                    .str("serviceAccountName", w.service_account_name())
                    .list("containers", w.containers.as_deref(), container)
                    .build()
            }),
        )
        .build()
}

fn container(c: &Container) -> Value {
    Obj::new()
        .str("containerRuntime", c.container_runtime())
        .str("id", c.id())
        .str("name", c.name())
        .str("image", c.image())
        .str("imagePrefix", c.image_prefix())
        .value(
            "securityContext",
            c.security_context().map(|s| {
                Obj::new()
                    .bool("privileged", s.privileged())
                    .bool("allowPrivilegeEscalation", s.allow_privilege_escalation())
                    .build()
            }),
        )
        .build()
}

fn ecs_cluster(e: &EcsClusterDetails) -> Value {
    Obj::new()
        .str("name", e.name())
        .str("arn", e.arn())
        .str("status", e.status())
        .int("activeServicesCount", e.active_services_count())
        .int("registeredContainerInstancesCount", e.registered_container_instances_count())
        .int("runningTasksCount", e.running_tasks_count())
        .tags("tags", e.tags.as_deref())
        .value("taskDetails", e.task_details().map(ecs_task))
        .build()
}

fn ecs_task(t: &EcsTaskDetails) -> Value {
    Obj::new()
        .str("arn", t.arn())
        .str("definitionArn", t.definition_arn())
        .str("version", t.version())
        // `taskCreatedAt` in the SDK, `createdAt` on the wire.
        .time("createdAt", t.task_created_at())
        .time("startedAt", t.started_at())
        .str("startedBy", t.started_by())
        .tags("tags", t.tags.as_deref())
        .list("containers", t.containers.as_deref(), container)
        .str("group", t.group())
        .str("launchType", t.launch_type())
        .build()
}

fn rds_db_instance(r: &RdsDbInstanceDetails) -> Value {
    Obj::new()
        .str("dbInstanceIdentifier", r.db_instance_identifier())
        .str("engine", r.engine())
        .str("engineVersion", r.engine_version())
        .str("dbClusterIdentifier", r.db_cluster_identifier())
        .str("dbInstanceArn", r.db_instance_arn())
        .str("dbiResourceId", r.dbi_resource_id())
        .tags("tags", r.tags.as_deref())
        .build()
}

fn rds_limitless_db(r: &RdsLimitlessDbDetails) -> Value {
    Obj::new()
        .str("dbShardGroupIdentifier", r.db_shard_group_identifier())
        .str("dbShardGroupResourceId", r.db_shard_group_resource_id())
        .str("dbShardGroupArn", r.db_shard_group_arn())
        .str("engine", r.engine())
        .str("engineVersion", r.engine_version())
        .str("dbClusterIdentifier", r.db_cluster_identifier())
        .tags("tags", r.tags.as_deref())
        .build()
}

fn rds_db_user(u: &RdsDbUserDetails) -> Value {
    Obj::new()
        .str("user", u.user())
        .str("application", u.application())
        .str("database", u.database())
        .str("ssl", u.ssl())
        .str("authMethod", u.auth_method())
        .build()
}

fn lambda(l: &LambdaDetails) -> Value {
    Obj::new()
        .str("functionArn", l.function_arn())
        .str("functionName", l.function_name())
        .str("description", l.description())
        .time("lastModifiedAt", l.last_modified_at())
        .str("revisionId", l.revision_id())
        .str("functionVersion", l.function_version())
        .str("role", l.role())
        .value(
            "vpcConfig",
            l.vpc_config().map(|v| {
                Obj::new()
                    .strs("subnetIds", v.subnet_ids.as_deref())
                    .str("vpcId", v.vpc_id())
                    .list("securityGroups", v.security_groups.as_deref(), |g| {
                        Obj::new().str("groupName", g.group_name()).str("groupId", g.group_id()).build()
                    })
                    .build()
            }),
        )
        .tags("tags", l.tags.as_deref())
        .build()
}

fn ebs_volumes(e: &EbsVolumeDetails) -> Value {
    Obj::new()
        .list("scannedVolumeDetails", e.scanned_volume_details.as_deref(), volume)
        .list("skippedVolumeDetails", e.skipped_volume_details.as_deref(), volume)
        .build()
}

fn volume(v: &VolumeDetail) -> Value {
    Obj::new()
        .str("volumeArn", v.volume_arn())
        .str("volumeType", v.volume_type())
        .str("deviceName", v.device_name())
        .int("volumeSizeInGB", v.volume_size_in_gb())
        .str("encryptionType", v.encryption_type())
        .str("snapshotArn", v.snapshot_arn())
        .str("kmsKeyArn", v.kms_key_arn())
        .build()
}

// ---- JSON writing -------------------------------------------------------------------------------------------

/// A JSON object under construction; absent members are left out rather than written as `null`.
struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Self {
        Obj(Map::new())
    }

    fn value(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), v);
        }
        self
    }

    fn string(self, key: &str, value: String) -> Self {
        self.value(key, Some(Value::String(value)))
    }

    fn str(self, key: &str, value: Option<&str>) -> Self {
        self.value(key, value.map(|s| Value::String(s.to_owned())))
    }

    fn bool(self, key: &str, value: Option<bool>) -> Self {
        self.value(key, value.map(Value::Bool))
    }

    fn int(self, key: &str, value: Option<i32>) -> Self {
        self.value(key, value.map(Value::from))
    }

    /// A JSON number; NaN and infinities have no JSON form and are left out.
    fn float(self, key: &str, value: Option<f64>) -> Self {
        self.value(key, value.and_then(Number::from_f64).map(Value::Number))
    }

    /// An ISO-8601 (RFC 3339, UTC) string; a date beyond what RFC 3339 can write is left out.
    fn time(self, key: &str, value: Option<&DateTime>) -> Self {
        self.value(key, value.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).map(Value::String))
    }

    fn strs(self, key: &str, values: Option<&[String]>) -> Self {
        self.value(key, values.map(|v| v.iter().map(|s| Value::String(s.clone())).collect()))
    }

    fn list<T>(self, key: &str, items: Option<&[T]>, each: impl Fn(&T) -> Value) -> Self {
        self.value(key, items.map(|items| items.iter().map(each).collect()))
    }

    /// Tags as GuardDuty writes them: an array of `{"key", "value"}`.
    fn tags(self, key: &str, tags: Option<&[Tag]>) -> Self {
        self.list(key, tags, |t| Obj::new().str("key", t.key()).str("value", t.value()).build())
    }

    fn build(self) -> Value {
        Value::Object(self.0)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_guardduty::types::builders::FindingBuilder;
    use aws_sdk_guardduty::types::{
        DnsRequestAction, FindingResourceType, IamInstanceProfile, KubernetesUserDetails, KubernetesWorkloadDetails,
        Owner, ServiceAdditionalInfo, ThreatIntelligenceDetail, User,
    };
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::finding::{self, Finding as Parsed};
    use crate::domain::severity::Level;

    const ACCOUNT: &str = "123456789012";
    const DETECTOR: &str = "7ac0b9d4e3f2418a9c6e5d1b0a2f3e4d";
    const UPDATED: &str = "2026-11-20T10:15:30.123Z";

    fn tag(key: &str, value: &str) -> Tag {
        Tag::builder().key(key).value(value).build()
    }

    /// A finding as GetFindings returns it, without its resource.
    fn base(id: &str, kind: &str, severity: f64, count: i32) -> FindingBuilder {
        Finding::builder()
            .schema_version("2.0")
            .account_id(ACCOUNT)
            .region("us-east-1")
            .partition("aws")
            .id(id)
            .arn(format!("arn:aws:guardduty:us-east-1:{ACCOUNT}:detector/{DETECTOR}/finding/{id}"))
            .r#type(kind)
            .severity(severity)
            .created_at("2026-11-20T09:58:10.456Z")
            .updated_at(UPDATED)
            .title(format!("{kind} title"))
            .description(format!("{kind} description"))
            .service(
                Service::builder()
                    .service_name("guardduty")
                    .detector_id(DETECTOR)
                    .count(count)
                    .event_first_seen("2026-11-20T09:58:02.000Z")
                    .event_last_seen("2026-11-20T10:14:47.000Z")
                    .archived(false)
                    .resource_role("TARGET")
                    .build(),
            )
    }

    fn parse(f: &Finding) -> Parsed {
        let body = to_body(f);
        finding::parse(&body).unwrap_or_else(|e| panic!("to_body does not parse: {e}\n{body}"))
    }

    fn at(text: &str) -> chrono::DateTime<Utc> {
        finding::timestamp(Some(text)).expect("a valid timestamp")
    }

    fn assert_common(p: &Parsed, id: &str, kind: &str, level: Level, count: u64) {
        assert_eq!(p.id, id);
        assert_eq!(p.account_id, ACCOUNT);
        assert_eq!(p.region, "us-east-1");
        assert_eq!(p.partition, "aws");
        assert_eq!(p.finding_type, kind);
        assert_eq!(p.level, level);
        assert_eq!(p.count, count);
        assert_eq!(
            p.updated_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 30).unwrap() + chrono::Duration::milliseconds(123))
        );
        assert_eq!(p.created_at, Some(at("2026-11-20T09:58:10.456Z")));
        assert_eq!(p.first_seen, Some(at("2026-11-20T09:58:02Z")));
        assert_eq!(p.last_seen, Some(at("2026-11-20T10:14:47Z")));
        assert_eq!(p.detector_id.as_deref(), Some(DETECTOR));
        assert_eq!(p.title, format!("{kind} title"));
        assert_eq!(p.description, format!("{kind} description"));
        assert!(p.arn.as_deref().is_some_and(|a| a.ends_with(&format!("/finding/{id}"))));
    }

    fn instance_finding(severity: f64) -> Finding {
        base("4cc7a1e2b9d04f6f8a3e5b21d7c9f0a4", "Backdoor:EC2/C&CActivity.B!DNS", severity, 3)
            .resource(
                Resource::builder()
                    .resource_type("Instance")
                    .instance_details(
                        InstanceDetails::builder()
                            .instance_id("i-0a1b2c3d4e5f67890")
                            .instance_type("m5.large")
                            .launch_time("2026-10-02T07:41:19.000Z")
                            .image_id("ami-0c7217cdde317cfec")
                            .iam_instance_profile(
                                IamInstanceProfile::builder()
                                    .arn(format!("arn:aws:iam::{ACCOUNT}:instance-profile/web"))
                                    .id("AIPAQZBSMEXAMPLE7T2XQ")
                                    .build(),
                            )
                            .network_interfaces(
                                NetworkInterface::builder()
                                    .network_interface_id("eni-0f1e2d3c4b5a69788")
                                    .private_ip_address("10.20.1.37")
                                    .subnet_id("subnet-0a9b8c7d6e5f40312")
                                    .vpc_id("vpc-0123456789abcdef0")
                                    .build(),
                            )
                            .tags(tag("env", "prod"))
                            .tags(tag("Name", "web-frontend-01"))
                            .build(),
                    )
                    .build(),
            )
            .service(
                Service::builder()
                    .service_name("guardduty")
                    .detector_id(DETECTOR)
                    .count(3)
                    .event_first_seen("2026-11-20T09:58:02.000Z")
                    .event_last_seen("2026-11-20T10:14:47.000Z")
                    .archived(false)
                    .resource_role("TARGET")
                    .action(
                        Action::builder()
                            .action_type("DNS_REQUEST")
                            .dns_request_action(
                                DnsRequestAction::builder()
                                    .domain("update.cdn-telemetry.example")
                                    .protocol("UDP")
                                    .blocked(false)
                                    .build(),
                            )
                            .build(),
                    )
                    .additional_info(
                        ServiceAdditionalInfo::builder()
                            .value(r#"{"threatListName":"ProofPoint","threatName":"Backdoor"}"#)
                            .r#type("default")
                            .build(),
                    )
                    .evidence(
                        Evidence::builder()
                            .threat_intelligence_details(
                                ThreatIntelligenceDetail::builder()
                                    .threat_list_name("ProofPoint")
                                    .threat_names("Backdoor")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[test]
    fn instance_finding_parses_like_the_event_guardduty_sends() {
        let f = instance_finding(8.0);
        let p = parse(&f);
        assert_common(&p, "4cc7a1e2b9d04f6f8a3e5b21d7c9f0a4", "Backdoor:EC2/C&CActivity.B!DNS", Level::High, 3);
        assert_eq!(p.severity, 8.0);
        assert_eq!(p.resource.kind, "Instance");
        assert_eq!(p.resource.summary, r#"EC2 instance i-0a1b2c3d4e5f67890 (m5.large) "web-frontend-01""#);

        let event = to_event(&f);
        assert_eq!(event["version"], "0");
        assert_eq!(event["detail-type"], "GuardDuty Finding");
        assert_eq!(event["source"], "aws.guardduty");
        assert_eq!(event["account"], ACCOUNT);
        assert_eq!(event["region"], "us-east-1");
        assert_eq!(event["resources"], serde_json::json!([]));
        // EventBridge's `time` has second precision.
        assert_eq!(event["time"], "2026-11-20T10:15:30Z");
        let d = &event["detail"];
        assert_eq!(d["schemaVersion"], "2.0");
        assert_eq!(d["createdAt"], "2026-11-20T09:58:10.456Z");
        assert_eq!(d["updatedAt"], UPDATED);
        assert_eq!(d["service"]["serviceName"], "guardduty");
        assert_eq!(d["service"]["archived"], false);
        assert_eq!(d["service"]["resourceRole"], "TARGET");
        assert_eq!(d["service"]["action"]["actionType"], "DNS_REQUEST");
        assert_eq!(d["service"]["action"]["dnsRequestAction"]["domain"], "update.cdn-telemetry.example");
        assert_eq!(d["service"]["evidence"]["threatIntelligenceDetails"][0]["threatNames"][0], "Backdoor");
        // The members of `additionalInfo.value` are spread beside it, as EventBridge does.
        assert_eq!(d["service"]["additionalInfo"]["threatListName"], "ProofPoint");
        assert_eq!(d["service"]["additionalInfo"]["type"], "default");
        let i = &d["resource"]["instanceDetails"];
        assert_eq!(i["launchTime"], "2026-10-02T07:41:19.000Z");
        assert_eq!(i["imageId"], "ami-0c7217cdde317cfec");
        assert_eq!(i["tags"][1], serde_json::json!({"key": "Name", "value": "web-frontend-01"}));
        assert_eq!(i["networkInterfaces"][0]["networkInterfaceId"], "eni-0f1e2d3c4b5a69788");
        assert_eq!(i["iamInstanceProfile"]["id"], "AIPAQZBSMEXAMPLE7T2XQ");
        // Absent members are left out, not written as null.
        assert!(i.get("platform").is_none());
    }

    #[test]
    fn event_id_is_uuid_shaped_stable_and_changes_with_the_version() {
        let f = instance_finding(8.0);
        let id = to_event(&f)["id"].as_str().unwrap().to_owned();
        assert_eq!(uuid::Uuid::parse_str(&id).map(|u| u.hyphenated().to_string()), Ok(id.clone()));
        assert_eq!(id.len(), 36);
        assert_eq!(to_event(&f)["id"], id.as_str(), "same finding version, same event id");
        assert_eq!(parse(&f).event_id.as_deref(), Some(id.as_str()));

        let mut newer = f.clone();
        newer.updated_at = Some("2026-11-20T11:00:00.000Z".into());
        assert_ne!(to_event(&newer)["id"], id.as_str());
        let mut other = f;
        other.id = Some("5dd8b2f3ca0e5f7f9b4f6c32e8da1fb5".into());
        assert_ne!(to_event(&other)["id"], id.as_str());
    }

    #[test]
    fn severity_integer_and_fractional_scores_both_work() {
        for (score, level) in
            [(8.0, Level::High), (8.5, Level::High), (2.0, Level::Low), (5.0, Level::Medium), (9.3, Level::Critical)]
        {
            let f = instance_finding(score);
            assert!(to_event(&f)["detail"]["severity"].is_number(), "severity is a JSON number");
            let p = parse(&f);
            assert_eq!(p.severity, score);
            assert_eq!(p.level, level, "severity {score}");
        }
        assert_eq!(to_event(&instance_finding(8.5))["detail"]["severity"].as_f64(), Some(8.5));
    }

    #[test]
    fn access_key_finding() {
        let f = base("8ab9f3c52e7d4a10b6c4e2f1a0d93b57", "Recon:IAMUser/MaliciousIPCaller.Custom", 5.0, 17)
            .resource(
                Resource::builder()
                    .resource_type("AccessKey")
                    .access_key_details(
                        AccessKeyDetails::builder()
                            .access_key_id("AKIAI44QH8DHBEXAMPLE")
                            .principal_id("AIDAJQABLZS4A3QDU576Q")
                            .user_name("alice")
                            .user_type("IAMUser")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let p = parse(&f);
        assert_common(
            &p,
            "8ab9f3c52e7d4a10b6c4e2f1a0d93b57",
            "Recon:IAMUser/MaliciousIPCaller.Custom",
            Level::Medium,
            17,
        );
        assert_eq!(p.resource.kind, "AccessKey");
        assert_eq!(p.resource.summary, "access key AKIAI44QH8DHBEXAMPLE of IAMUser alice");
    }

    fn bucket(name: &str) -> S3BucketDetail {
        S3BucketDetail::builder()
            .name(name)
            .arn(format!("arn:aws:s3:::{name}"))
            .r#type("Destination")
            .created_at(DateTime::from_secs_and_nanos(1_513_612_691, 551_000_000))
            .owner(Owner::builder().id("0123456789abcdef").build())
            .tags(tag("data", "finance"))
            .build()
    }

    #[test]
    fn s3_bucket_finding_writes_its_timestamp_as_iso() {
        let f = base("f2d81c0e6a5b4b3c9e7f1a2d4c6b8e90", "Exfiltration:S3/AnomalousBehavior", 8.0, 5)
            .resource(
                Resource::builder()
                    .resource_type("S3Bucket")
                    .access_key_details(
                        AccessKeyDetails::builder().user_name("data-pipeline-role").user_type("AssumedRole").build(),
                    )
                    .s3_bucket_details(bucket("acme-finance-reports-eu"))
                    .build(),
            )
            .build();
        let p = parse(&f);
        assert_common(&p, "f2d81c0e6a5b4b3c9e7f1a2d4c6b8e90", "Exfiltration:S3/AnomalousBehavior", Level::High, 5);
        assert_eq!(p.resource.kind, "S3Bucket");
        assert_eq!(p.resource.summary, "S3 bucket acme-finance-reports-eu");
        let b = &to_event(&f)["detail"]["resource"]["s3BucketDetails"][0];
        assert_eq!(b["createdAt"], "2017-12-18T15:58:11.551Z");
        assert_eq!(b["type"], "Destination");
        assert_eq!(b["arn"], "arn:aws:s3:::acme-finance-reports-eu");
        assert_eq!(b["owner"]["id"], "0123456789abcdef");
    }

    #[test]
    fn s3_object_finding_nests_objects_in_their_bucket() {
        let mut b = bucket("customer-uploads-prod");
        b.s3_object_details = Some(vec![
            S3ObjectDetail::builder()
                .key("incoming/invoice-8841.pdf.exe")
                .e_tag("9b2cf535f27731c974343645a3985328")
                .build(),
        ]);
        let f = base("0e6c3b9a7f2d45e1a8c4b6d2f0e9a1c3", "Object:S3/MaliciousFile", 8.0, 1)
            .resource(Resource::builder().resource_type("S3Object").s3_bucket_details(b).build())
            .build();
        let p = parse(&f);
        assert_eq!(p.resource.kind, "S3Object");
        assert_eq!(p.resource.summary, "S3 object s3://customer-uploads-prod/incoming/invoice-8841.pdf.exe");
        assert_eq!(p.count, 1);
    }

    #[test]
    fn eks_cluster_finding_with_its_workload() {
        let f = base("b7a2e9c4d1f04863a5e0c7b9d2f41e68", "Policy:Kubernetes/AnonymousAccessGranted", 8.0, 2)
            .resource(
                Resource::builder()
                    .resource_type("EKSCluster")
                    .eks_cluster_details(
                        EksClusterDetails::builder()
                            .name("payments-prod")
                            .arn(format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/payments-prod"))
                            .vpc_id("vpc-0abc")
                            .status("ACTIVE")
                            .created_at(DateTime::from_secs_and_nanos(1_636_625_755, 218_000_000))
                            .build(),
                    )
                    .kubernetes_details(
                        KubernetesDetails::builder()
                            .kubernetes_user_details(
                                KubernetesUserDetails::builder()
                                    .username("kubernetes-admin")
                                    .groups("system:masters")
                                    .build(),
                            )
                            .kubernetes_workload_details(
                                KubernetesWorkloadDetails::builder()
                                    .name("ledger")
                                    .r#type("deployments")
                                    .namespace("payments")
                                    .containers(Container::builder().name("ledger").image("ledger:1.2").build())
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let p = parse(&f);
        assert_common(
            &p,
            "b7a2e9c4d1f04863a5e0c7b9d2f41e68",
            "Policy:Kubernetes/AnonymousAccessGranted",
            Level::High,
            2,
        );
        assert_eq!(p.resource.kind, "EKSCluster");
        assert_eq!(p.resource.summary, "EKS cluster payments-prod, deployments payments/ledger");
        let r = &to_event(&f)["detail"]["resource"];
        assert_eq!(r["eksClusterDetails"]["createdAt"], "2021-11-11T10:15:55.218Z");
        assert_eq!(r["kubernetesDetails"]["kubernetesUserDetails"]["username"], "kubernetes-admin");
        assert_eq!(r["kubernetesDetails"]["kubernetesWorkloadDetails"]["containers"][0]["image"], "ledger:1.2");
    }

    #[test]
    fn lambda_finding() {
        let f = base("6a4d2f8c0e1b47939c5e7a1d3f2b8c06", "CryptoCurrency:Lambda/BitcoinTool.B", 8.0, 6)
            .resource(
                Resource::builder()
                    .resource_type("Lambda")
                    .lambda_details(
                        LambdaDetails::builder()
                            .function_name("thumbnailer-prod")
                            .function_arn(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbnailer-prod"))
                            .function_version("$LATEST")
                            .last_modified_at(DateTime::from_secs(1_763_600_000))
                            .build(),
                    )
                    .build(),
            )
            .build();
        let p = parse(&f);
        assert_common(&p, "6a4d2f8c0e1b47939c5e7a1d3f2b8c06", "CryptoCurrency:Lambda/BitcoinTool.B", Level::High, 6);
        assert_eq!(p.resource.kind, "Lambda");
        assert_eq!(p.resource.summary, "Lambda function thumbnailer-prod");
        assert_eq!(to_event(&f)["detail"]["resource"]["lambdaDetails"]["lastModifiedAt"], "2025-11-20T00:53:20Z");
    }

    #[test]
    fn rds_db_instance_finding() {
        let f =
            base("c5e1a7b3d9f24e80a6c2b4d8e0f1a397", "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", 5.0, 1)
                .resource(
                    Resource::builder()
                        .resource_type("RDSDBInstance")
                        .rds_db_instance_details(
                            RdsDbInstanceDetails::builder()
                                .db_instance_identifier("orders-db-1")
                                .engine("aurora-postgresql")
                                .db_cluster_identifier("orders-aurora")
                                .db_instance_arn(format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db-1"))
                                .build(),
                        )
                        .rds_db_user_details(RdsDbUserDetails::builder().user("app_rw").application("psql").build())
                        .build(),
                )
                .build();
        let p = parse(&f);
        assert_common(
            &p,
            "c5e1a7b3d9f24e80a6c2b4d8e0f1a397",
            "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
            Level::Medium,
            1,
        );
        assert_eq!(p.resource.kind, "RDSDBInstance");
        assert_eq!(p.resource.summary, "RDS DB instance orders-db-1 (aurora-postgresql)");
        let r = &to_event(&f)["detail"]["resource"];
        assert_eq!(r["rdsDbInstanceDetails"]["dbClusterIdentifier"], "orders-aurora");
        assert_eq!(r["rdsDbUserDetails"]["user"], "app_rw");
    }

    #[test]
    fn rds_limitless_container_ecs_and_ebs_findings_are_summarised() {
        let limitless = base("l1", "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", 5.0, 1)
            .resource(
                Resource::builder()
                    .resource_type("RDSLimitlessDB")
                    .rds_limitless_db_details(
                        RdsLimitlessDbDetails::builder()
                            .db_shard_group_identifier("orders-shards")
                            .db_cluster_identifier("orders")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(parse(&limitless).resource.summary, "RDS Limitless database orders-shards");

        let task = EcsTaskDetails::builder()
            .arn("arn:aws:ecs:us-east-1:123456789012:task/orders-cluster/8f4c")
            .task_created_at(DateTime::from_secs(1_763_600_000))
            .started_at(DateTime::from_secs(1_763_600_010))
            .containers(Container::builder().name("orders-worker").image("orders/worker:2026.11.3").build())
            .build();
        let ecs = EcsClusterDetails::builder()
            .name("orders-cluster")
            .arn("arn:aws:ecs:us-east-1:123456789012:cluster/orders-cluster")
            .task_details(task)
            .build();
        let container = base("c1", "CryptoCurrency:Runtime/BitcoinTool.B", 8.0, 9)
            .resource(
                Resource::builder()
                    .resource_type("Container")
                    .ecs_cluster_details(ecs.clone())
                    .container_details(
                        Container::builder().name("orders-worker").image("orders/worker:2026.11.3").build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            parse(&container).resource.summary,
            "container orders-worker (orders/worker:2026.11.3) in ECS cluster orders-cluster"
        );
        let task = &to_event(&container)["detail"]["resource"]["ecsClusterDetails"]["taskDetails"];
        assert_eq!(task["createdAt"], "2025-11-20T00:53:20Z");
        assert_eq!(task["startedAt"], "2025-11-20T00:53:30Z");
        assert_eq!(task["containers"][0]["name"], "orders-worker");

        let cluster = base("e1", "CryptoCurrency:Runtime/BitcoinTool.B", 8.0, 1)
            .resource(Resource::builder().resource_type("ECSCluster").ecs_cluster_details(ecs).build())
            .build();
        assert_eq!(parse(&cluster).resource.summary, "ECS cluster orders-cluster");

        let ebs = base("v1", "Execution:EC2/MaliciousFile", 8.0, 1)
            .resource(
                Resource::builder()
                    .resource_type("EBSVolume")
                    .ebs_volume_details(
                        EbsVolumeDetails::builder()
                            .scanned_volume_details(
                                VolumeDetail::builder()
                                    .volume_arn("arn:aws:ec2:us-east-1:123456789012:volume/vol-0d9c")
                                    .volume_size_in_gb(8)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(parse(&ebs).resource.summary, "EBS volume arn:aws:ec2:us-east-1:123456789012:volume/vol-0d9c");
    }

    #[test]
    fn attack_sequence_lists_its_resources() {
        let sequence = Sequence::builder()
            .uid("seq-1")
            .description("line one\nline two")
            .actors(Actor::builder().id("a1").user(User::builder().name("alice").r#type("IAMUser").build()).build())
            .resources(
                ResourceV2::builder()
                    .uid("arn:aws:s3:::acme-finance-reports")
                    .name("acme-finance-reports")
                    .resource_type(FindingResourceType::S3Bucket)
                    .build(),
            )
            .resources(
                ResourceV2::builder().uid("AKIAI44QH8DHBEXAMPLE").resource_type(FindingResourceType::AccessKey).build(),
            )
            .signals(
                Signal::builder()
                    .uid("s1")
                    .name("Discovery:S3/AnomalousBehavior")
                    .created_at(DateTime::from_secs(1_763_600_000))
                    .severity(5.0)
                    .build(),
            )
            .build();
        let f = base("d8c6b4a2f0e14d3c9b7a5e3c1f0d8b62", "AttackSequence:S3/CompromisedData", 9.3, 1)
            .resource(Resource::builder().resource_type("AttackSequence").build())
            .service(
                Service::builder()
                    .detector_id(DETECTOR)
                    .count(1)
                    .feature_name("Correlation")
                    .detection(Detection::builder().sequence(sequence).build())
                    .build(),
            )
            .build();
        let p = parse(&f);
        assert_eq!(p.level, Level::Critical);
        assert_eq!(p.resource.kind, "AttackSequence");
        assert_eq!(
            p.resource.summary,
            "attack sequence over S3_BUCKET acme-finance-reports, ACCESS_KEY AKIAI44QH8DHBEXAMPLE"
        );
        let s = &to_event(&f)["detail"]["service"]["detection"]["sequence"];
        assert_eq!(s["signals"][0]["createdAt"], "2025-11-20T00:53:20Z");
        assert_eq!(s["actors"][0]["user"]["name"], "alice");
    }

    #[test]
    fn minimal_finding() {
        let f = Finding::builder()
            .id("m1")
            .account_id(ACCOUNT)
            .region("eu-west-1")
            .r#type("Recon:EC2/PortProbeUnprotectedPort")
            .severity(2.0)
            .build();
        let event = to_event(&f);
        assert!(event.get("time").is_none(), "no updatedAt, no time: {event}");
        let p = parse(&f);
        assert_eq!(p.id, "m1");
        assert_eq!(p.region, "eu-west-1");
        assert_eq!(p.level, Level::Low);
        assert_eq!(p.count, 1, "no service.count counts once");
        assert_eq!(p.updated_at, None);
        assert_eq!(p.partition, "aws");
        assert_eq!(p.title, "Recon:EC2/PortProbeUnprotectedPort");
        assert_eq!(p.resource.kind, "Unknown");
        assert_eq!(p.detector_id, None);

        // A finding without a severity is rejected exactly as a queue message would be.
        let mut no_severity = f;
        no_severity.severity = None;
        assert_eq!(finding::parse(&to_body(&no_severity)), Err(finding::Reject::MissingField("detail.severity")));
    }
}
