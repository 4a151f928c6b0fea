//! What a finding names that containment can act on: the instance and its network interfaces, the access
//! key and who holds it, the remote addresses of the activity, the S3 object found malicious. Read from the finding's `resource` and
//! `service.action`; anything that does not look like what AWS would send (an instance id that is not
//! `i-` and hex, an address that does not parse) is left out, so no action is ever planned on it.

use std::net::IpAddr;

use super::tree::Node;
use serde::{Deserialize, Serialize};

/// Network interfaces kept, at most (an instance has at most a few dozen).
const MAX_INTERFACES: usize = 32;
/// Remote addresses kept, at most (a port probe lists many).
const MAX_REMOTE_IPS: usize = 16;

/// What containment can act on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// The EC2 instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Its network interfaces, as the finding saw them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// The IAM access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The user (for `IAMUser`) or role (for `AssumedRole`) the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// `IAMUser`, `AssumedRole`, `Role`, `Root`, `FederatedUser`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    /// Remote addresses of the activity (connection, probe, API call, login).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_ips: Vec<String>,
    /// The kind of cluster (`EKS`, `ECS`) when the resource is one: containment there is manual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The S3 object (malware found in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<S3Object>,
}

/// An S3 object, one version of it when the bucket keeps versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Object {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The version scanned, when the bucket is versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl S3Object {
    /// The object, if every part looks like what S3 accepts: a bucket name (3 to 63 of `a-z0-9.-`), a key
    /// of 1 to 1,024 bytes without control characters, a version id of printable ASCII.
    pub fn new(bucket: &str, key: &str, version_id: Option<&str>) -> Option<S3Object> {
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let key_ok = (1..=1024).contains(&key.len()) && !key.chars().any(char::is_control);
        let version = version_id.map(str::trim).filter(|v| !v.is_empty() && *v != "null");
        let version_ok = version.is_none_or(|v| v.len() <= 1024 && v.bytes().all(|b| b.is_ascii_graphic()));
        (bucket_ok && key_ok && version_ok).then(|| S3Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version.map(str::to_owned),
        })
    }

    /// `s3://bucket/key` (with `?versionId=` when known).
    pub fn location(&self) -> String {
        match &self.version_id {
            Some(v) => format!("s3://{}/{}?versionId={v}", self.bucket, self.key),
            None => format!("s3://{}/{}", self.bucket, self.key),
        }
    }
}

/// A network interface of the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// `eni-...`.
    pub id: String,
    /// Its subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Its VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

impl Targets {
    /// True when nothing can be acted on.
    pub fn is_empty(&self) -> bool {
        *self == Targets::default()
    }
}

/// The targets of a finding with `resource` and `service.action`.
pub fn read(resource: &Node, action: &Node) -> Targets {
    let kind = resource.text("/resourceType").unwrap_or_default();
    let instance_id = resource.text("/instanceDetails/instanceId").filter(|id| aws_id(id, "i-")).map(str::to_owned);
    let interfaces = resource
        .at("/instanceDetails/networkInterfaces")
        .and_then(Node::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|eni| {
                    let id = eni.text("/networkInterfaceId").filter(|id| aws_id(id, "eni-"))?;
                    Some(Interface {
                        id: id.to_owned(),
                        subnet_id: eni.text("/subnetId").filter(|s| aws_id(s, "subnet-")).map(str::to_owned),
                        vpc_id: eni.text("/vpcId").filter(|s| aws_id(s, "vpc-")).map(str::to_owned),
                    })
                })
                .take(MAX_INTERFACES)
                .collect()
        })
        .unwrap_or_default();
    let access_key_id = resource
        .text("/accessKeyDetails/accessKeyId")
        .filter(|k| (16..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        .map(str::to_owned);
    let principal = resource.text("/accessKeyDetails/userName").filter(|n| iam_name(n)).map(str::to_owned);
    let principal_type = resource.text("/accessKeyDetails/userType").filter(|t| iam_name(t)).map(str::to_owned);
    let cluster = match kind {
        "EKSCluster" => Some("EKS"),
        "ECSCluster" | "Container" if resource.at("/ecsClusterDetails").is_some() => Some("ECS"),
        _ => None,
    }
    .map(str::to_owned);
    // A finding about an object (malware in it) names it under its bucket; GuardDuty's key is not trimmed.
    let object = (kind == "S3Object")
        .then(|| {
            let bucket = resource.text("/s3BucketDetails/0/name")?;
            let details = resource.at("/s3BucketDetails/0/s3ObjectDetails/0")?;
            let key = details.get("key").and_then(Node::as_str)?;
            S3Object::new(bucket, key, details.get("versionId").and_then(Node::as_str))
        })
        .flatten();
    Targets {
        instance_id,
        interfaces,
        access_key_id,
        principal,
        principal_type,
        remote_ips: remote_ips(action),
        cluster,
        object,
    }
}

/// The remote addresses in every kind of action, deduplicated, in the order found.
fn remote_ips(action: &Node) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |v: Option<&str>| {
        if let Some(ip) = v.and_then(|s| s.parse::<IpAddr>().ok()).map(|ip| ip.to_string())
            && !found.contains(&ip)
            && found.len() < MAX_REMOTE_IPS
        {
            found.push(ip);
        }
    };
    for member in ["networkConnectionAction", "awsApiCallAction", "kubernetesApiCallAction", "rdsLoginAttemptAction"] {
        let remote = action.get(member).and_then(|m| m.get("remoteIpDetails"));
        add(remote.and_then(|r| r.text("/ipAddressV4")));
        add(remote.and_then(|r| r.text("/ipAddressV6")));
    }
    if let Some(probes) = action.at("/portProbeAction/portProbeDetails").and_then(Node::as_array) {
        for probe in probes {
            add(probe.text("/remoteIpDetails/ipAddressV4"));
        }
    }
    found
}

/// `prefix` then 8 or 17 hex digits, as EC2 ids are.
fn aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// IAM's name characters: letters, digits and `+=,.@_-`, at most 128.
fn iam_name(name: &str) -> bool {
    name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn only_what_s3_would_accept_names_an_object() {
        let ok = |b: &str, k: &str, v: Option<&str>| S3Object::new(b, k, v).is_some();
        assert!(ok("my-bucket.logs", "a/b c.txt", None));
        assert!(ok("abc", &"k".repeat(1024), Some("null"))); // "null": an unversioned bucket's version
        assert_eq!(S3Object::new("abc", "k", Some("null")).map(|o| o.location()), Some("s3://abc/k".into()));
        assert!(!ok("ab", "k", None));
        assert!(!ok("Upper", "k", None));
        assert!(!ok("abc", "", None));
        assert!(!ok("abc", &"k".repeat(1025), None));
        assert!(!ok("abc", "line\nbreak", None));
        assert!(!ok("abc", "k", Some("v 1")));
    }

    #[test]
    fn every_resource_type_names_what_can_be_acted_on() {
        let instance = json!({"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0a1b2c3d4e5f67890",
            "networkInterfaces": [{"networkInterfaceId": "eni-0123456789abcdef0", "subnetId": "subnet-0123abcd",
                "vpcId": "vpc-0123abcd"}, {"networkInterfaceId": "not-an-eni"}]}});
        let key = json!({"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": "deploy-bot", "userType": "IAMUser"}});
        let role = json!({"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "userName": "app-role", "userType": "AssumedRole"}});
        let forged = json!({"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc; rm -rf /"},
            "accessKeyDetails": {"accessKeyId": "akia lower", "userName": "bad name*"}});
        let eks = json!({"resourceType": "EKSCluster", "eksClusterDetails": {"name": "prod"}});
        let ecs = json!({"resourceType": "ECSCluster", "ecsClusterDetails": {"name": "web"}});
        let bucket = json!({"resourceType": "S3Bucket", "s3BucketDetails": [{"name": "b"}]});
        let object = json!({"resourceType": "S3Object", "s3BucketDetails": [{"name": "uploads-prod",
            "s3ObjectDetails": [{"key": "in/report 1.pdf", "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}]}]});
        let bad_object = json!({"resourceType": "S3Object", "s3BucketDetails": [{"name": "Not_A_Bucket",
            "s3ObjectDetails": [{"key": "k"}]}]});
        let probe = json!({"portProbeAction": {"portProbeDetails": [
            {"remoteIpDetails": {"ipAddressV4": "198.51.100.7"}}, {"remoteIpDetails": {"ipAddressV4": "198.51.100.7"}},
            {"remoteIpDetails": {"ipAddressV4": "999.1.1.1"}}]}});
        let call = json!({"awsApiCallAction": {"remoteIpDetails": {"ipAddressV4": "203.0.113.9"}}});
        let cases: [(&Value, &Value, Targets); 9] = [
            (
                &instance,
                &probe,
                Targets {
                    instance_id: Some("i-0a1b2c3d4e5f67890".into()),
                    interfaces: vec![Interface {
                        id: "eni-0123456789abcdef0".into(),
                        subnet_id: Some("subnet-0123abcd".into()),
                        vpc_id: Some("vpc-0123abcd".into()),
                    }],
                    remote_ips: vec!["198.51.100.7".into()],
                    ..Targets::default()
                },
            ),
            (
                &key,
                &call,
                Targets {
                    access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                    principal: Some("deploy-bot".into()),
                    principal_type: Some("IAMUser".into()),
                    remote_ips: vec!["203.0.113.9".into()],
                    ..Targets::default()
                },
            ),
            (
                &role,
                &Value::Null,
                Targets {
                    access_key_id: Some("ASIAIOSFODNN7EXAMPLE".into()),
                    principal: Some("app-role".into()),
                    principal_type: Some("AssumedRole".into()),
                    ..Targets::default()
                },
            ),
            (&forged, &Value::Null, Targets::default()),
            (&eks, &Value::Null, Targets { cluster: Some("EKS".into()), ..Targets::default() }),
            (&ecs, &Value::Null, Targets { cluster: Some("ECS".into()), ..Targets::default() }),
            (&bucket, &Value::Null, Targets::default()),
            (
                &object,
                &Value::Null,
                Targets {
                    object: Some(S3Object {
                        bucket: "uploads-prod".into(),
                        key: "in/report 1.pdf".into(),
                        version_id: Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into()),
                    }),
                    ..Targets::default()
                },
            ),
            (&bad_object, &Value::Null, Targets::default()),
        ];
        for (resource, action, want) in cases {
            let (resource_text, action_text) = (resource.to_string(), action.to_string());
            let node = |text| serde_json::from_str::<Node>(text).unwrap();
            assert_eq!(read(&node(&resource_text), &node(&action_text)), want, "{resource}");
        }
    }
}
