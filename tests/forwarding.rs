//! The whole organisation into one deployment, through the real binary against LocalStack: another region's
//! events forwarded to the core stack's bus by `gd-incidents-forward.yaml`, and `check`'s coverage of each
//! region. A file of its own: the finding it puts on the buses reaches every stack's rules, so no other test
//! of the same binary may run beside it.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

/// The whole organisation into one deployment: `gd-incidents-forward.yaml` in another region sends that
/// region's findings to the core stack's bus (LocalStack forwards between regions as AWS does), and `check`
/// reports each swept region's coverage: its detector and the rule forwarding to the central bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_regions_findings_reach_the_central_stack_through_the_forwarding_stack() {
    let stack = deploy_stack("forward");
    let forward = deploy_forwarding(&stack, "us-west-2");
    assert!(forward.output("ForwardRuleArn").contains(":us-west-2:"), "{:?}", forward.outputs);
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let fake = support::guardduty::FakeGuardDuty::start().await;
    fake.add_detector("5ec0ffee5ec0ffee5ec0ffee5ec0ffee");
    let tail = "[guardduty]\nregions = [\"us-east-1\", \"us-west-2\"]\nreconcile_interval_secs = 0\n";
    let config = write_config_with(dir.path(), &stack, "", tail);
    let _daemon = Daemon::start(&config, "d1");

    let id = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    let finding = FindingEvent::version(id, 1, 1, 8.0).set("region", json!("us-west-2"));
    let event: Value = serde_json::from_str(&finding.body()).unwrap();
    // LocalStack forwards within the PutEvents call, to every stack's rules on the central bus (a suite
    // leaves dozens): time enough for that.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(170))
        .operation_timeout(Duration::from_secs(180))
        .build();
    let west = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&support::sdk().await)
            .region(aws_sdk_eventbridge::config::Region::new("us-west-2"))
            .timeout_config(timeouts)
            .build(),
    );
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("aws.guardduty")
        .detail_type("GuardDuty Finding")
        .detail(event["detail"].to_string())
        .build();
    let out = west.put_events().entries(entry).send().await.expect("PutEvents in us-west-2");
    assert_eq!(out.failed_entry_count, 0, "{out:?}");
    let incident = incident_of(&aws, &stack, id).await;
    let shown = gd_json(&config, &["incidents", "show", &incident]);
    assert_eq!(shown["incident"]["region"], "us-west-2", "{shown}");

    let endpoint = fake.endpoint();
    let (code, out, err) = gd_env(&config, &["check"], &[("AWS_ENDPOINT_URL_GUARDDUTY", endpoint.as_str())]);
    assert_eq!(code, 0, "{out}{err}");
    let coverage: Vec<&str> = out.lines().filter(|l| l.contains("coverage")).collect();
    assert_eq!(coverage.len(), 2, "a line per region: {out}");
    let west_line = coverage.iter().find(|l| l.contains("us-west-2")).expect("us-west-2's coverage");
    let rule = forward.output("ForwardRuleArn").rsplit('/').next().unwrap();
    assert!(west_line.contains("detector 5ec0ffee") && west_line.contains(rule), "{west_line}");
    assert!(west_line.contains("forwarding to arn:aws:events:us-east-1:"), "{west_line}");
    let home = coverage.iter().find(|l| l.contains("us-east-1:")).expect("us-east-1's coverage");
    assert!(home.contains("to the work queue") && home.contains(&format!("{}-findings", stack.name)), "{home}");

    // A region swept but not forwarding: check fails and says what to deploy there.
    let text = std::fs::read_to_string(&config).unwrap().replace("\"us-west-2\"]", "\"us-west-2\", \"eu-west-1\"]");
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = gd_env(&config, &["check"], &[("AWS_ENDPOINT_URL_GUARDDUTY", endpoint.as_str())]);
    assert_eq!(code, 1, "{out}");
    let uncovered = out.lines().find(|l| l.contains("eu-west-1:") && l.starts_with("FAIL")).expect("eu-west-1 fails");
    assert!(uncovered.contains("deploy gd-incidents-forward.yaml in eu-west-1"), "{uncovered}");
}
