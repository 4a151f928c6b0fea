use aws_sdk_guardduty::types::builders::FindingBuilder;
use aws_sdk_guardduty::types::{
    DnsRequestAction, FindingResourceType, IamInstanceProfile, KubernetesUserDetails, KubernetesWorkloadDetails, Owner,
    ServiceAdditionalInfo, ThreatIntelligenceDetail, User,
};
use chrono::{TimeZone, Utc};

use aws_sdk_guardduty::primitives::DateTime;
use aws_sdk_guardduty::types::{
    AccessKeyDetails, Action, Actor, Container, Detection, EbsVolumeDetails, EcsClusterDetails, EcsTaskDetails,
    EksClusterDetails, Evidence, InstanceDetails, KubernetesDetails, LambdaDetails, NetworkInterface,
    RdsDbInstanceDetails, RdsDbUserDetails, RdsLimitlessDbDetails, Resource, ResourceV2, S3BucketDetail,
    S3ObjectDetail, Sequence, Service, Signal, Tag, VolumeDetail,
};

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
    assert_common(&p, "8ab9f3c52e7d4a10b6c4e2f1a0d93b57", "Recon:IAMUser/MaliciousIPCaller.Custom", Level::Medium, 17);
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
    assert_common(&p, "b7a2e9c4d1f04863a5e0c7b9d2f41e68", "Policy:Kubernetes/AnonymousAccessGranted", Level::High, 2);
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
    let f = base("c5e1a7b3d9f24e80a6c2b4d8e0f1a397", "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", 5.0, 1)
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
                .container_details(Container::builder().name("orders-worker").image("orders/worker:2026.11.3").build())
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
