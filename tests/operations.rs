//! What operators run the daemon with, against LocalStack through the real binary: the health and metrics
//! endpoint, `health`, `check`, `dlq list|redrive`, configuration from the environment, and logs that carry
//! the message, finding and incident ids.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

/// `GET path` on `addr`: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let answer = support::http::Http::default().get(&format!("http://{addr}{path}"), None).await;
    (answer.status, answer.body)
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn finding(id: &str, severity: f64) -> String {
    FindingEvent::from_fixture("ec2-instance-backdoor", id).severity(severity).body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_logs() {
    let stack = deploy_stack("ops");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = support::http::free_addr();
    let config = write_config_with(dir.path(), &stack, "", &format!("[server]\nlisten = \"{addr}\"\n"));
    let mut daemon = Daemon::start(&config, "d1");

    eventually("/healthz", Duration::from_secs(30), || async {
        tokio::net::TcpStream::connect(addr).await.ok().map(|_| ())
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    let (code, body) = get(addr, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let (code, out, err) = gd(&config, &["health"]);
    assert_eq!(code, 0, "{out}{err}");

    aws.send(stack.queue_url(), &finding("0b5e0b5e0b5e0b5e0b5e0b5e0b5e0b50", 8.0)).await;
    aws.send(stack.queue_url(), "not json at all").await;
    let text = eventually("metrics of one incident and one reject", Duration::from_secs(60), || async {
        let (_, text) = get(addr, "/metrics").await;
        let done = metric(&text, "gd_incidents_messages_settled_total{kind=\"processed\"}") >= 1.0
            && metric(&text, "gd_incidents_messages_settled_total{kind=\"dead_lettered\"}") >= 1.0;
        done.then_some(text)
    })
    .await;
    assert_eq!(metric(&text, "gd_incidents_messages_received_total"), 2.0, "{text}");
    assert_eq!(metric(&text, "gd_incidents_incidents_total{change=\"created\",severity=\"HIGH\"}"), 1.0);
    assert_eq!(metric(&text, "gd_incidents_pages_sent_total{target=\"oce\",severity=\"HIGH\"}"), 1.0);
    assert_eq!(metric(&text, "gd_incidents_messages_settled_total{kind=\"processed\"}"), 1.0);
    // One conditional PutItem creates the incident (with its log entry, evidence and claimed pages inline; the
    // reconciler's lease is a PutItem too), one UpdateItem records the pages sent and a PutItem their log entry:
    // no transaction, which DynamoDB bills twice.
    assert!(metric(&text, "gd_incidents_aws_calls_total{service=\"DynamoDB\",operation=\"PutItem\"}") >= 2.0);
    assert!(metric(&text, "gd_incidents_aws_calls_total{service=\"DynamoDB\",operation=\"UpdateItem\"}") >= 1.0);
    assert_eq!(
        metric(&text, "gd_incidents_aws_calls_total{service=\"DynamoDB\",operation=\"TransactWriteItems\"}"),
        0.0
    );
    // What it cost, as DynamoDB reports it: the table's units and the listing index's.
    let units = |target: &str| {
        metric(
            &text,
            &format!("gd_incidents_dynamodb_capacity_units_total{{operation=\"PutItem\",target=\"{target}\"}}"),
        )
    };
    assert!(units("table") >= 1.0 && units("by-listing") >= 1.0, "{text}");
    assert_eq!(metric(&text, "gd_incidents_messages_dead_lettered_total{kind=\"not_json\"}"), 1.0);
    assert!(metric(&text, "gd_incidents_aws_calls_total{service=\"SQS\",operation=\"ReceiveMessage\"}") >= 1.0);
    assert!(metric(&text, "gd_incidents_aws_calls_total{service=\"SNS\",operation=\"Publish\"}") >= 2.0);
    assert!(text.contains("gd_incidents_aws_call_seconds_bucket"), "latencies by operation");
    assert!(text.contains("gd_incidents_messages_in_flight"));
    // The response clock: one message paged, timed from its arrival on the queue.
    assert_eq!(metric(&text, "gd_incidents_page_delay_seconds_count"), 1.0, "{text}");

    // Every log line about the message carries its message, finding and incident ids.
    let log = daemon.log();
    let created: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "page sent")
        .unwrap_or_else(|| panic!("no page log line:\n{log}"));
    for field in ["message_id", "finding_id", "incident_id"] {
        assert!(created["span"][field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {created}");
    }
    assert!(!log.contains("\"body\""), "message bodies are not logged");
    let paged = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "paged")
        .unwrap_or_else(|| panic!("no paged line:\n{log}"));
    let waited = paged["arrival_to_page_ms"].as_i64().unwrap_or(-1);
    assert!((0..60_000).contains(&waited), "milliseconds from the queue to the pages: {paged}");

    // Readiness follows the queue: gone, and /readyz says so.
    aws.sqs.delete_queue().queue_url(stack.queue_url()).send().await.unwrap();
    let (code, body) = eventually("/readyz to fail", Duration::from_secs(30), || async {
        let (code, body) = get(addr, "/readyz").await;
        (code == 503).then_some((code, body))
    })
    .await;
    assert!(body.contains("queue"), "{code} {body}");

    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success());
    let (code, _, err) = gd(&config, &["health"]);
    assert_eq!(code, 1, "health fails when the daemon is gone: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_permission_and_fails_on_a_wrong_topic() {
    let stack = deploy_stack("check");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let (code, out, err) = gd(&config, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "ok    queue",
        "ok    dead-letter queue",
        "ok    table ",
        "ok    table writes",
        "ok    OCE topic",
        "ok    ISO topic",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let bad =
        std::fs::read_to_string(&config).unwrap().replace(stack.oce_topic(), &format!("{}-gone", stack.oce_topic()));
    std::fs::write(&config, bad).unwrap();
    let (code, out, _) = gd(&config, &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL  OCE topic"), "{out}");
    assert!(out.contains("ok    ISO topic"), "the other checks still run: {out}");
    let report = gd(&config, &["check", "--json"]).1;
    let v: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["failed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_with_reasons_and_redriven_after_a_fix() {
    let stack = deploy_stack("dlq");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    // The daemon gets its table from the environment, as in an ECS task definition.
    let without_table = dir.path().join("without-table.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(&format!("table = \"{}\"", stack.table()), "");
    std::fs::write(&without_table, text).unwrap();
    let env_daemon = |name: &str| {
        let log = dir.path().join(format!("{name}.log"));
        Command::new(binary())
            .args(["run", "--config"])
            .arg(&without_table)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("GD_INCIDENTS__INCIDENTS__TABLE", stack.table())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    };
    let mut daemon = env_daemon("d1");
    aws.send(stack.queue_url(), "{\"source\": \"aws.ec2\"}").await;
    let list = eventually("a dead letter", Duration::from_secs(60), || async {
        let mut args = vec!["dlq", "list", "--json"];
        args.push("--limit");
        args.push("5");
        let (code, out, _) = gd(&config, &args);
        let v: Value = serde_json::from_str(&out).ok()?;
        (code == 0 && !v["messages"].as_array()?.is_empty()).then_some(v)
    })
    .await;
    let letter = &list["messages"][0];
    assert_eq!(letter["reason"], "not_guardduty_finding");
    assert!(letter["detail"].as_str().unwrap().contains("aws.ec2"));
    let (code, text, _) = gd(&config, &["dlq", "list"]);
    assert_eq!(code, 0);
    assert!(text.contains("not_guardduty_finding"), "{text}");
    assert_eq!(aws.queue_depth(stack.dlq_url()).await, 1, "listing leaves it in place");
    let _ = daemon.kill();
    let _ = daemon.wait();

    // A valid finding that was dead-lettered (say, during a bug): redriven, it becomes an incident.
    let good = finding("4ed41e4ed41e4ed41e4ed41e4ed41e40", 5.0);
    aws.send(stack.dlq_url(), &good).await;
    let all = gd_json(&config, &["dlq", "list"]);
    let good_id = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == good.as_str())
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .unwrap();
    let (code, _, err) = gd(&config, &["dlq", "redrive", "--id", "no-such-message"]);
    assert_eq!(code, 1);
    assert!(err.contains("not in the dead-letter queue: no-such-message"), "{err}");
    let moved = gd_json(&config, &["dlq", "redrive", "--id", &good_id]);
    assert_eq!(moved["redriven"], json!([good_id]));
    assert_eq!(aws.queue_depth(stack.dlq_url()).await, 1, "only the chosen message moved");
    let mut daemon = env_daemon("d2");
    eventually("the redriven finding's incident", Duration::from_secs(60), || async {
        let items = aws.incidents(stack.table()).await;
        items.iter().any(|i| s(i, "finding_id") == Some("4ed41e4ed41e4ed41e4ed41e4ed41e40")).then_some(())
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let (code, _, err) = gd(&config, &["dlq", "redrive"]);
    assert_eq!(code, 2, "redrive needs --id or --all: {err}");
}

/// The heartbeat lines in a daemon's log, parsed.
fn beats(log: &str) -> Vec<Value> {
    log.lines().filter(|l| l.contains("\"_aws\"")).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_beats_for_cloudwatch_while_it_polls_and_stops_when_it_cannot() {
    let stack = deploy_stack("heartbeat");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let faults = dir.path().join("sqs-down");
    let env = [
        ("GD_INCIDENTS__DAEMON__HEARTBEAT_SECS", "1"),
        ("GD_INCIDENTS__AWS__FAULT_INJECTION_FILE", faults.to_str().unwrap()),
    ];
    let daemon = Daemon::start_with_env(&config, "d1", &env);
    Aws::new().await.send(stack.queue_url(), &finding("bea7bea7bea7bea7bea7bea7bea7bea0", 8.0)).await;
    let first =
        eventually("a heartbeat", Duration::from_secs(30), || async { beats(&daemon.log()).into_iter().next() }).await;
    // CloudWatch's embedded metric format: the metric gd-incidents/Heartbeat, by Table, the alarm's.
    let directive = &first["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "gd-incidents");
    assert_eq!(directive["Metrics"][0]["Name"], "Heartbeat");
    assert_eq!((first["Table"].as_str(), first["Heartbeat"].as_i64()), (Some(stack.table()), Some(1)));
    // The HIGH finding's page delay goes out with the next beat, once.
    let delayed = eventually("a beat with the page delay", Duration::from_secs(30), || async {
        let delays: Vec<f64> = beats(&daemon.log()).iter().filter_map(|b| b["PageDelaySeconds"].as_f64()).collect();
        (!delays.is_empty()).then_some(delays)
    })
    .await;
    assert!(delayed[0] > 0.0 && delayed[0] < 60.0, "seconds from the queue to the page: {delayed:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_delay = beats(&daemon.log()).iter().filter(|b| b.get("PageDelaySeconds").is_some()).count();
    assert_eq!(with_delay, 1, "a beat without pages since the last names no delay");

    // SQS unreachable: the consumer no longer polls, and after a poll's longest time the beats stop.
    std::fs::write(&faults, "SQS http://127.0.0.1:1\n").unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let stopped = beats(&daemon.log()).len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(beats(&daemon.log()).len(), stopped, "no heartbeat while the queue cannot be polled");
    std::fs::remove_file(&faults).unwrap();
    eventually("the heartbeat again", Duration::from_secs(30), || async {
        (beats(&daemon.log()).len() > stopped).then_some(())
    })
    .await;
}
