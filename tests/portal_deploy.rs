//! The portal's deployment template, checked without AWS: it passes cfn-lint; its container runs a real
//! subcommand; its environment names real configuration keys and, over the config file baked into the image,
//! makes a valid portal configuration; and its listener rule authenticates before it forwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use gd_incidents::config::Config;

const TEMPLATE: &str = "deploy/cloudformation/gd-incidents-portal.yaml";
const BAKED_CONFIG: &str = "config/aws.toml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> String {
    std::fs::read_to_string(repo().join(TEMPLATE)).expect("read the portal template")
}

/// cfn-lint from the virtualenv that deploy/start-localstack.sh installs; the script is run when it is missing.
fn cfn_lint() -> PathBuf {
    let home = std::env::var_os("LS_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/localstack-host")
    });
    let bin = home.join("venv/bin/cfn-lint");
    if !bin.exists() {
        let out = Command::new("bash").arg(repo().join("deploy/start-localstack.sh")).output().expect("run the script");
        assert!(out.status.success(), "deploy/start-localstack.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(bin.exists(), "no cfn-lint at {} (see tests/deploy_files.rs for how to install it)", bin.display());
    bin
}

#[test]
fn the_portal_template_passes_cfn_lint() {
    let out = Command::new(cfn_lint()).current_dir(repo()).arg(TEMPLATE).output().expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_container_runs_the_portal_subcommand() {
    assert!(template().contains(r#"Command: ["portal"]"#));
    let out = Command::new(env!("CARGO_BIN_EXE_gd-incidents")).args(["portal", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--config"));
}

#[test]
fn the_environment_makes_a_valid_portal_configuration_over_the_baked_file() {
    let names: Vec<String> = template()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- Name: ").map(|n| n.trim().trim_matches('"').to_owned()))
        .filter(|n| n.starts_with("GD_INCIDENTS__"))
        .collect();
    for want in [
        "GD_INCIDENTS__PORTAL__LISTEN",
        "GD_INCIDENTS__PORTAL__ALB_ARN",
        "GD_INCIDENTS__PORTAL__CSRF_KEY",
        "GD_INCIDENTS__PAGING__PORTAL_URL",
        "GD_INCIDENTS__PAGING__ACK_LINK_KEY",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} is set: {names:?}");
    }
    // What ECS gives the container, with values like the template's.
    let value = |name: &str| -> String {
        match name {
            "GD_INCIDENTS__AWS__REGION" => "eu-west-1".into(),
            "GD_INCIDENTS__QUEUE__URL" => "https://sqs.eu-west-1.amazonaws.com/123456789012/gd-findings".into(),
            "GD_INCIDENTS__INCIDENTS__TABLE" => "gd-incidents-incidents".into(),
            "GD_INCIDENTS__INCIDENTS__CONFIDENTIAL_TABLE" => "gd-incidents-confidential".into(),
            "GD_INCIDENTS__PAGING__OCE_TOPIC_ARN" => "arn:aws:sns:eu-west-1:123456789012:oce".into(),
            "GD_INCIDENTS__PAGING__ISO_TOPIC_ARN" => "arn:aws:sns:eu-west-1:123456789012:iso".into(),
            "GD_INCIDENTS__LOG__FORMAT" => "json".into(),
            "GD_INCIDENTS__PORTAL__LISTEN" => "0.0.0.0:8080".into(),
            "GD_INCIDENTS__PORTAL__ALB_ARN" => {
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/portal/50dc6c495c0c9188".into()
            }
            // The !Join of the CommaDelimitedList parameters.
            "GD_INCIDENTS__PORTAL__RESPONDERS" => r#"["oce@example.com", "infra@example.com"]"#.into(),
            "GD_INCIDENTS__PORTAL__ISO" => r#"["iso@example.com"]"#.into(),
            "GD_INCIDENTS__PORTAL__GROUPS_CLAIM" => "cognito:groups".into(),
            "GD_INCIDENTS__PORTAL__RESPONDER_GROUPS" => r#"["oce", "infra-ops"]"#.into(),
            "GD_INCIDENTS__PORTAL__ISO_GROUPS" => r#"["security-officers"]"#.into(),
            "GD_INCIDENTS__PORTAL__CSRF_KEY" => "A".repeat(64),
            "GD_INCIDENTS__PAGING__PORTAL_URL" => "https://incidents.example.com".into(),
            "GD_INCIDENTS__PAGING__ACK_LINK_KEY" => "B".repeat(64),
            other => panic!("{other}: add a sample value to this test"),
        }
    };
    let env: Vec<(String, String)> = names.iter().map(|n| (n.clone(), value(n))).collect();
    let text = std::fs::read_to_string(repo().join(BAKED_CONFIG)).unwrap();
    let config = Config::parse_with_env(&text, Path::new(BAKED_CONFIG), env)
        .unwrap_or_else(|e| panic!("the portal's environment over {BAKED_CONFIG}: {e}"));
    let portal = config.portal.expect("a [portal] section from the environment");
    assert_eq!(portal.listen.port(), 8080);
    assert_eq!(portal.responders, vec!["oce@example.com", "infra@example.com"]);
    assert_eq!(portal.iso, vec!["iso@example.com"]);
    assert_eq!(portal.responder_groups, vec!["oce", "infra-ops"]);
    assert_eq!(portal.iso_groups, vec!["security-officers"]);
    assert!(portal.dev_user.is_none(), "never development mode on ECS");
}

#[test]
fn the_listener_rule_authenticates_before_it_forwards() {
    let t = template();
    let auth = t.find("- Type: authenticate-oidc").expect("an authenticate-oidc action");
    let forward = t.find("- Type: forward").expect("a forward action");
    assert!(auth < forward);
    assert!(t[auth..forward].contains("Order: 1") && t[forward..].contains("Order: 2"));
    assert!(t.contains("OnUnauthenticatedRequest: authenticate"));
    assert!(t.contains("HealthCheckPath: /healthz"), "the health check needs no sign-in");
    assert!(
        t.contains("SourceSecurityGroupId: !Ref LoadBalancerSecurityGroup"),
        "only the load balancer reaches the tasks"
    );
}
