//! Which actions apply to which resources, and what their plans say.

use super::*;
use crate::domain::finding::targets::{Interface, S3Object, Targets};

fn subject<'a>(targets: &'a Targets, resource: &'a str) -> Subject<'a> {
    Subject { incident_id: "0d9c", resource, confidential: false, targets }
}

#[test]
fn each_resource_type_gets_the_actions_that_apply_to_it() {
    let instance = Targets {
        instance_id: Some("i-0a1b2c3d4e5f67890".into()),
        interfaces: vec![Interface {
            id: "eni-0123456789abcdef0".into(),
            subnet_id: None,
            vpc_id: Some("vpc-0123abcd".into()),
        }],
        ..Targets::default()
    };
    let user_key = Targets {
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal: Some("deploy-bot".into()),
        principal_type: Some("IAMUser".into()),
        ..Targets::default()
    };
    let role_key = Targets { principal_type: Some("AssumedRole".into()), ..user_key.clone() };
    let eks = Targets { cluster: Some("EKS".into()), ..Targets::default() };
    let none = Targets::default();
    let attacked = Targets {
        interfaces: vec![Interface { subnet_id: Some("subnet-0123abcd".into()), ..instance.interfaces[0].clone() }],
        remote_ips: vec!["198.51.100.7".into()],
        ..instance.clone()
    };
    let caller = Targets { remote_ips: vec!["198.51.100.7".into()], ..user_key.clone() };
    let object = Targets { object: S3Object::new("uploads", "in/x.exe", Some("v1")), ..Targets::default() };
    use Action::*;
    let cases: [(&Targets, &[Action]); 8] = [
        (&instance, &[SnapshotVolumes, IsolateInstance]),
        (&attacked, &[SnapshotVolumes, IsolateInstance, BlockIp]),
        (&caller, &[DeactivateAccessKey]),
        (&user_key, &[DeactivateAccessKey]),
        (&role_key, &[RevokeSessions]),
        (&eks, &[]),
        (&none, &[]),
        (&object, &[QuarantineObject]),
    ];
    for (targets, want) in cases {
        let got: Vec<Action> =
            applicable(subject(targets, "r"), Reach::default()).into_iter().map(|p| p.action).collect();
        assert_eq!(got, want, "{targets:?}");
    }
    assert_eq!(manual_steps(&eks).len(), 4);
    assert!(manual_steps(&instance).is_empty());

    let isolate = plan(subject(&instance, "EC2 instance i-0a1b2c3d4e5f67890"), IsolateInstance).unwrap();
    assert_eq!(isolate.target, "i-0a1b2c3d4e5f67890");
    assert!(isolate.steps.iter().any(|s| s.contains("gd-incidents-quarantine in vpc-0123abcd")), "{isolate:?}");
    assert!(isolate.steps.iter().any(|s| s.contains("gd-incidents:incident-id=0d9c")), "{isolate:?}");
    let snapshot = plan(subject(&instance, "x"), SnapshotVolumes).unwrap();
    assert!(snapshot.undo.contains("never deleted"), "{snapshot:?}");

    let refused = plan(subject(&user_key, "IAM access key AKIA..."), IsolateInstance).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "isolate-instance does not apply to incident 0d9c: its resource is IAM access key AKIA..., not an EC2 instance"
    );
    let temporary = plan(subject(&role_key, "r"), DeactivateAccessKey).unwrap_err();
    assert!(temporary.why.contains("temporary key of a AssumedRole"), "{temporary}");
    let block = plan(subject(&attacked, "r"), BlockIp).unwrap();
    assert_eq!(block.target, "198.51.100.7");
    assert!(block.steps[0].contains("subnet-0123abcd"), "{block:?}");
    let revoke = plan(subject(&role_key, "r"), RevokeSessions).unwrap();
    assert_eq!(revoke.target, "deploy-bot");
    assert!(revoke.steps[0].contains("aws:TokenIssueTime"), "{revoke:?}");
    let confidential = Subject { confidential: true, ..subject(&instance, "r") };
    assert!(plan(confidential, IsolateInstance).is_err(), "a staff report names no resource");
}

#[test]
fn the_settings_say_where_a_plan_reaches_beyond_the_resource() {
    let object = Targets { object: S3Object::new("uploads", "in/x.exe", Some("v1")), ..Targets::default() };
    let attacked = Targets {
        interfaces: vec![Interface {
            id: "eni-0123456789abcdef0".into(),
            subnet_id: Some("subnet-0123abcd".into()),
            vpc_id: None,
        }],
        remote_ips: vec!["198.51.100.7".into()],
        ..Targets::default()
    };
    let sets = ["arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked/abc".to_owned()];
    let reach = Reach { quarantine_bucket: "evidence-q", waf_ip_sets: &sets };
    let plans = applicable(subject(&object, "r"), Reach::default());
    assert_eq!(plans[0].target, "s3://uploads/in/x.exe?versionId=v1");
    assert!(plans[0].steps.iter().all(|s| !s.contains("Copy")), "{plans:?}");
    let plans = applicable(subject(&object, "r"), reach);
    assert!(plans[0].steps.last().unwrap().contains("s3://evidence-q/0d9c/uploads/in/x.exe"), "{plans:?}");
    let block = &applicable(subject(&attacked, "r"), reach)[0];
    assert!(block.steps.last().unwrap().contains("IP set arn:aws:wafv2:"), "{block:?}");
    assert!(block.undo.contains("IP set addresses"), "{block:?}");
    // A key too long to sit under the incident and bucket is named by its hash.
    let long = S3Object::new("uploads", &"k".repeat(1020), None).unwrap();
    let key = quarantine_key("0d9c", &long);
    assert!(key.starts_with("0d9c/uploads/sha256-") && key.len() < 1024, "{key}");
}

#[test]
fn action_names_read_as_the_contract_spells_them() {
    for action in Action::ALL {
        assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
    }
    let err = "isolate".parse::<Action>().unwrap_err();
    assert!(
        err.contains(
            "expected one of snapshot-volumes, quarantine-object, isolate-instance, block-ip, deactivate-access-key, \
             revoke-sessions"
        ),
        "{err}"
    );
}

#[test]
fn automatic_actions_follow_their_rules_once() {
    use crate::domain::severity::Level;
    let instance = Targets { instance_id: Some("i-0a1b2c3d4e5f67890".into()), ..Targets::default() };
    let rules: Vec<AutoRule> = toml::from_str::<std::collections::BTreeMap<String, Vec<AutoRule>>>(
        r#"
        r = [
          { action = "snapshot-volumes" },
          { action = "isolate-instance", levels = ["CRITICAL"], types = ["Backdoor:*"] },
          { action = "deactivate-access-key" },
        ]
        "#,
    )
    .unwrap()
    .remove("r")
    .unwrap();
    use Action::*;
    let cases: [(Level, &str, &[Action], &[Action]); 5] = [
        (Level::High, "Backdoor:EC2/Spambot", &[], &[SnapshotVolumes]),
        (Level::Critical, "Backdoor:EC2/Spambot", &[], &[SnapshotVolumes, IsolateInstance]),
        (Level::Critical, "CryptoCurrency:EC2/BitcoinTool.B", &[], &[SnapshotVolumes]),
        (Level::Medium, "Backdoor:EC2/Spambot", &[], &[]),
        // Recorded once (done, or undone by a person): never asked for again.
        (Level::Critical, "Backdoor:EC2/Spambot", &[SnapshotVolumes, IsolateInstance], &[]),
    ];
    for (level, finding_type, recorded, want) in cases {
        assert_eq!(
            automatic(&rules, subject(&instance, "r"), level, finding_type, recorded),
            want,
            "{level} {finding_type}"
        );
    }
}

#[test]
fn a_second_approver_is_needed_where_configured_except_for_evidence() {
    use crate::domain::severity::Level;
    let critical = [Level::Critical];
    assert_eq!(approvals_needed(&critical, Level::Critical, Action::IsolateInstance), 2);
    assert_eq!(approvals_needed(&critical, Level::Critical, Action::SnapshotVolumes), 1);
    assert_eq!(approvals_needed(&critical, Level::High, Action::IsolateInstance), 1);
    assert_eq!(approvals_needed(&[], Level::Critical, Action::RevokeSessions), 1);
}
