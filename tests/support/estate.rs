//! A small estate on LocalStack for containment to act on: a VPC with a subnet, a web security group, an
//! instance with an EBS volume, an IAM user with an access key.

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, InstanceType, IpPermission, IpRange, ResourceType, Tag,
    TagSpecification,
};
use serde_json::{Value, json};

use super::localstack::Aws;

/// What was made.
pub struct Estate {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub vpc_id: String,
    pub subnet_id: String,
    /// The group the instance had: port 443 open.
    pub web_group: String,
    pub instance_id: String,
    pub interface_id: String,
    pub user: String,
    pub access_key_id: String,
    /// A role a service assumes.
    pub role: String,
}

impl Aws {
    /// Makes an estate whose names start with `name`.
    pub async fn estate(&self, name: &str) -> Estate {
        self.estate_in(name, None).await
    }

    /// Makes an estate in `account` (LocalStack's account of an access key that is an account id), or in
    /// the tests' own.
    pub async fn estate_in(&self, name: &str, account: Option<&str>) -> Estate {
        let (ec2, iam) = match account {
            None => (self.ec2().await, self.iam().await),
            Some(account) => {
                let c = super::localstack::sdk().await;
                let creds = aws_credential_types::Credentials::new(account, "test", None, None, "estate");
                let at = super::localstack::endpoint();
                (
                    aws_sdk_ec2::Client::from_conf(
                        aws_sdk_ec2::config::Builder::from(&c)
                            .endpoint_url(&at)
                            .credentials_provider(creds.clone())
                            .build(),
                    ),
                    aws_sdk_iam::Client::from_conf(
                        aws_sdk_iam::config::Builder::from(&c).endpoint_url(&at).credentials_provider(creds).build(),
                    ),
                )
            }
        };
        let vpc_id = ec2
            .create_vpc()
            .cidr_block("10.7.0.0/16")
            .send()
            .await
            .expect("vpc")
            .vpc
            .and_then(|v| v.vpc_id)
            .expect("vpc id");
        let subnet_id = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.7.1.0/24")
            .send()
            .await
            .expect("subnet")
            .subnet
            .and_then(|s| s.subnet_id)
            .expect("subnet id");
        let web_group = ec2
            .create_security_group()
            .group_name(format!("{name}-web"))
            .description("web")
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("web group")
            .group_id
            .expect("group id");
        ec2.authorize_security_group_ingress()
            .group_id(&web_group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .expect("open 443");
        let image = ec2
            .describe_images()
            .send()
            .await
            .expect("images")
            .images
            .unwrap_or_default()
            .into_iter()
            .find_map(|i| i.image_id)
            .expect("an AMI");
        let instance = ec2
            .run_instances()
            .image_id(image)
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnet_id)
            .security_group_ids(&web_group)
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/sdf")
                    .ebs(EbsBlockDevice::builder().volume_size(8).build())
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("Name").value(format!("{name}-web-1")).build())
                    .build(),
            )
            .send()
            .await
            .expect("run instance")
            .instances
            .unwrap_or_default()
            .into_iter()
            .next()
            .expect("an instance");
        let instance_id = instance.instance_id.clone().expect("instance id");
        let interface_id = instance
            .network_interfaces()
            .first()
            .and_then(|n| n.network_interface_id.clone())
            .expect("a network interface");
        let user = format!("{name}-deploy-bot");
        iam.create_user().user_name(&user).send().await.expect("user");
        let access_key_id = iam
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .expect("access key")
            .access_key
            .map(|k| k.access_key_id)
            .expect("key id");
        let role = format!("{name}-app");
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        iam.create_role().role_name(&role).assume_role_policy_document(trust.to_string()).send().await.expect("role");
        Estate { ec2, iam, vpc_id, subnet_id, web_group, instance_id, interface_id, user, access_key_id, role }
    }
}

impl Estate {
    /// The `resource` of a GuardDuty finding about the instance.
    pub fn instance_resource(&self) -> Value {
        json!({
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": self.instance_id,
                "instanceType": "t3.micro",
                "networkInterfaces": [{
                    "networkInterfaceId": self.interface_id,
                    "subnetId": self.subnet_id,
                    "vpcId": self.vpc_id,
                    "securityGroups": [{"groupId": self.web_group, "groupName": "web"}]
                }]
            }
        })
    }

    /// The `resource` of a GuardDuty finding about the access key.
    pub fn key_resource(&self) -> Value {
        json!({
            "resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": self.access_key_id, "userName": self.user, "userType": "IAMUser"}
        })
    }

    /// The `resource` of a GuardDuty finding about the role's temporary credentials.
    pub fn role_resource(&self) -> Value {
        json!({
            "resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "ASIAQEXAMPLETEMPKEY1", "userName": self.role, "userType": "AssumedRole"}
        })
    }

    /// The inline policy gd-incidents put on the role, decoded.
    pub async fn revoke_policy(&self) -> Option<Value> {
        let out = self
            .iam
            .get_role_policy()
            .role_name(&self.role)
            .policy_name("gd-incidents-revoke-older-sessions")
            .send()
            .await
            .ok()?;
        let decoded = percent_encoding::percent_decode_str(out.policy_document()).decode_utf8_lossy().into_owned();
        serde_json::from_str(&decoded).ok()
    }

    /// The deny entries of the subnet's network ACL: (cidr, egress).
    pub async fn denied(&self) -> Vec<(String, bool)> {
        let out = self
            .ec2
            .describe_network_acls()
            .filters(Filter::builder().name("association.subnet-id").values(&self.subnet_id).build())
            .send()
            .await
            .expect("network ACLs");
        out.network_acls()
            .iter()
            .flat_map(|a| a.entries())
            .filter(|e| e.rule_action().map(|r| r.as_str()) == Some("deny") && e.rule_number() != Some(32767))
            .map(|e| (e.cidr_block().unwrap_or_default().to_owned(), e.egress().unwrap_or_default()))
            .collect()
    }

    /// The security groups of the instance now.
    pub async fn groups(&self) -> Vec<String> {
        let out = self.ec2.describe_instances().instance_ids(&self.instance_id).send().await.expect("describe");
        let instance = out.reservations().iter().flat_map(|r| r.instances()).next().expect("the instance").clone();
        let mut groups: Vec<String> = instance.security_groups().iter().filter_map(|g| g.group_id.clone()).collect();
        groups.sort();
        groups
    }

    /// The inbound rules of group `id`.
    pub async fn inbound_rules(&self, id: &str) -> usize {
        let out = self.ec2.describe_security_groups().group_ids(id).send().await.expect("group");
        out.security_groups().iter().map(|g| g.ip_permissions().len()).sum()
    }

    /// The snapshots tagged with incident `id`, as (volume, snapshot).
    pub async fn snapshots_of(&self, incident_id: &str) -> Vec<(String, String)> {
        let out = self
            .ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(Filter::builder().name("tag:gd-incidents:incident-id").values(incident_id).build())
            .send()
            .await
            .expect("snapshots");
        out.snapshots()
            .iter()
            .map(|s| (s.volume_id.clone().unwrap_or_default(), s.snapshot_id.clone().unwrap_or_default()))
            .collect()
    }

    /// The volumes attached to the instance.
    pub async fn volumes(&self) -> Vec<String> {
        let out = self
            .ec2
            .describe_volumes()
            .filters(Filter::builder().name("attachment.instance-id").values(&self.instance_id).build())
            .send()
            .await
            .expect("volumes");
        out.volumes().iter().filter_map(|v| v.volume_id.clone()).collect()
    }

    /// The access key's status.
    pub async fn key_status(&self) -> String {
        let out = self.iam.list_access_keys().user_name(&self.user).send().await.expect("keys");
        out.access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(self.access_key_id.as_str()))
            .and_then(|k| k.status().map(|s| s.as_str().to_owned()))
            .unwrap_or_default()
    }
}
