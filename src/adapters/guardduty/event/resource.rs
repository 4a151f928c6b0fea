//! The finding's `resource` member: the affected resource's details, by resource type.

use aws_sdk_guardduty::types::{
    AccessKeyDetails, Container, EbsVolumeDetails, EcsClusterDetails, EcsTaskDetails, EksClusterDetails,
    InstanceDetails, KubernetesDetails, LambdaDetails, NetworkInterface, RdsDbInstanceDetails, RdsDbUserDetails,
    RdsLimitlessDbDetails, Resource, S3BucketDetail, S3ObjectDetail, VolumeDetail,
};
use serde_json::Value;

use super::json::Obj;

pub(super) fn resource(r: &Resource) -> Value {
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

pub(super) fn instance(i: &InstanceDetails) -> Value {
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

pub(super) fn network_interface(n: &NetworkInterface) -> Value {
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

pub(super) fn access_key(a: &AccessKeyDetails) -> Value {
    Obj::new()
        .str("accessKeyId", a.access_key_id())
        .str("principalId", a.principal_id())
        .str("userName", a.user_name())
        .str("userType", a.user_type())
        .build()
}

pub(super) fn s3_bucket(b: &S3BucketDetail) -> Value {
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

pub(super) fn s3_object(o: &S3ObjectDetail) -> Value {
    Obj::new()
        .str("objectArn", o.object_arn())
        .str("key", o.key())
        .str("eTag", o.e_tag())
        .str("hash", o.hash())
        .str("versionId", o.version_id())
        .build()
}

pub(super) fn eks_cluster(e: &EksClusterDetails) -> Value {
    Obj::new()
        .str("name", e.name())
        .str("arn", e.arn())
        .str("vpcId", e.vpc_id())
        .str("status", e.status())
        .tags("tags", e.tags.as_deref())
        .time("createdAt", e.created_at())
        .build()
}

pub(super) fn kubernetes(k: &KubernetesDetails) -> Value {
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

pub(super) fn container(c: &Container) -> Value {
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

pub(super) fn ecs_cluster(e: &EcsClusterDetails) -> Value {
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

pub(super) fn ecs_task(t: &EcsTaskDetails) -> Value {
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

pub(super) fn rds_db_instance(r: &RdsDbInstanceDetails) -> Value {
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

pub(super) fn rds_limitless_db(r: &RdsLimitlessDbDetails) -> Value {
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

pub(super) fn rds_db_user(u: &RdsDbUserDetails) -> Value {
    Obj::new()
        .str("user", u.user())
        .str("application", u.application())
        .str("database", u.database())
        .str("ssl", u.ssl())
        .str("authMethod", u.auth_method())
        .build()
}

pub(super) fn lambda(l: &LambdaDetails) -> Value {
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

pub(super) fn ebs_volumes(e: &EbsVolumeDetails) -> Value {
    Obj::new()
        .list("scannedVolumeDetails", e.scanned_volume_details.as_deref(), volume)
        .list("skippedVolumeDetails", e.skipped_volume_details.as_deref(), volume)
        .build()
}

pub(super) fn volume(v: &VolumeDetail) -> Value {
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
