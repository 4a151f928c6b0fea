//! Least privilege, proven where LocalStack cannot prove it (it enforces no IAM): every AWS call the daemon
//! and the portal make here is recorded (`[aws] call_log_file`) and evaluated against the IAM policy of the
//! role each runs under in `deploy/cloudformation`, by an offline IAM policy evaluator (`tests/iam`). What
//! must be denied is asked too: deleting from the table, reading the dead-letter queue, archiving findings
//! when archiving is off, and anything of GuardDuty for the portal. The same for the commands of the people's
//! policies (responder, ISO, operator). Confidential reports are kept where AWS itself keeps responders out:
//! a table of their own whose key only the daemon, the portal and the ISO may use.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use support::guardduty::{FakeGuardDuty, api_finding};
use support::iam::{Ask, Decision, StackSpec, check};
use support::portal::*;
use support::*;

const DETECTOR: &str = "5ec0ffee5ec0ffee5ec0ffee5ec0ffee";

/// Where the stack lives: the account of its queue URL and the region of its topics.
fn account_and_region(stack: &Stack) -> (String, String) {
    let account = stack.queue_url().trim_end_matches('/').rsplit('/').nth(1).unwrap().to_owned();
    let region = stack.oce_topic().split(':').nth(3).unwrap().to_owned();
    (account, region)
}

fn denied(decisions: &[Decision]) -> Vec<&Decision> {
    decisions.iter().filter(|d| !d.allowed()).collect()
}

/// The confidential table's key as the checker names it (`tests/iam/template.mjs`).
fn confidential_key(account: &str, region: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/key-ConfidentialKey")
}

/// Whether `decisions` hold allowed reads and writes through the confidential table's key (the calls reached
/// that table).
fn used_confidential_key(decisions: &[Decision], key: &str) -> bool {
    ["kms:Decrypt", "kms:GenerateDataKey"]
        .iter()
        .all(|action| decisions.iter().any(|d| d.resource == key && d.action == *action && d.allowed()))
}

const NO_ASKS: &[Ask] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_and_the_portal_make_only_calls_their_roles_allow() {
    let fake = FakeGuardDuty::start().await;
    fake.add_detector(DETECTOR);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let swept = "5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f";
    let (account, region) = ("123456789012", "us-east-1");
    let f = api_finding(swept, account, region, "Recon:EC2/Portscan", 8.0, &now, 1, "swept");
    fake.put_finding(DETECTOR, f);
    let stack = deploy_stack("perms");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (daemon_calls, portal_calls) = (dir.path().join("daemon.jsonl"), dir.path().join("portal.jsonl"));
    let alb = Alb::start();
    let addr = free_addr();
    let tail = format!(
        "[guardduty]\nreconcile_interval_secs = 2\narchive_on_close = true\ndetectors = [{{ region = \"{region}\", id = \"{DETECTOR}\" }}]\n\n\
         [escalation]\nack_timeout_secs = 2\nmax_repages = 1\ncheck_interval_secs = 1\n\n{}",
        portal_section(addr, &alb.keys.url())
    );
    let config = config(dir.path(), &stack, "perms", &tail);
    let endpoint = fake.endpoint();
    let daemon_env = [
        ("AWS_ENDPOINT_URL_GUARDDUTY", endpoint.as_str()),
        ("GD_INCIDENTS__AWS__CALL_LOG_FILE", daemon_calls.to_str().unwrap()),
    ];
    let _daemon = Daemon::start_with_env(&config, "d1", &daemon_env);

    // The daemon's work: a finding from the queue (pages, a re-page), one from the sweep, a dead letter.
    aws.send(stack.queue_url(), &FindingEvent::version("9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e91", 1, 1, 8.0).body()).await;
    aws.send(stack.queue_url(), "not json").await;
    let queued = incident_of(&aws, &stack, "9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e91").await;
    let from_sweep = incident_of(&aws, &stack, swept).await;
    eventually("a re-page", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &queued]);
        shown.to_string().contains("\"escalations\":1").then_some(())
    })
    .await;

    // The portal's: a responder acknowledges, notes and closes; staff report.
    let portal_env = [("GD_INCIDENTS__AWS__CALL_LOG_FILE", portal_calls.to_str().unwrap())];
    let portal = PortalProcess::start_with_env(&config, addr, "perms", &portal_env).await;
    let http = Http::default();
    let responder = alb.token(RESPONDER);
    let url = |p: &str| format!("{}{p}", portal.url);
    let csrf = http.get(&url("/report"), Some(&responder)).await.csrf();
    for (action, fields) in [
        ("ack", vec![]),
        ("note", vec![("text", "checked the instance")]),
        ("close", vec![("notes", "a scanner of ours")]),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let a = http.post(&url(&format!("/incidents/{from_sweep}/{action}")), Some(&responder), &form).await;
        assert_eq!(a.status, 303, "{action}: {}", a.body);
    }
    let staff = alb.token(STAFF);
    let csrf = http.get(&url("/report"), Some(&staff)).await.csrf();
    let fields = [("csrf", csrf.as_str()), ("title", "phish"), ("description", "a link"), ("level", "HIGH")];
    assert_eq!(http.post(&url("/report"), Some(&staff), &fields).await.status, 303);
    // A confidential report (its own table), which the ISO reads in the portal and the daemon re-pages.
    let mut fields = fields.to_vec();
    fields.push(("confidential", "on"));
    let secret = redirected_id(&http.post(&url("/report"), Some(&staff), &fields).await);
    assert!(secret.starts_with("confidential-"), "{secret}");
    let iso = alb.token(ISO);
    assert!(http.get(&url("/incidents"), Some(&iso)).await.body.contains(&secret));
    assert_eq!(http.get(&url(&format!("/incidents/{secret}")), Some(&iso)).await.status, 200);
    eventually("the confidential report's re-page", Duration::from_secs(60), || async {
        let shown = gd_json(&config, &["incidents", "show", &secret]);
        shown.to_string().contains("\"escalations\":1").then_some(())
    })
    .await;
    // The daemon archives what the portal closed (the portal may not call GuardDuty).
    eventually("the archive", Duration::from_secs(60), || async {
        fake.archived().contains(&swept.to_owned()).then_some(())
    })
    .await;

    let (account, region) = account_and_region(&stack);
    let table = format!("arn:aws:dynamodb:{region}:{account}:table/{}", stack.table());
    let dlq = format!("arn:aws:sqs:{region}:{account}:{}", stack.dlq_url().rsplit('/').next().unwrap());
    let detector = format!("arn:aws:guardduty:{region}:{account}:detector/{DETECTOR}");
    let core = |archive: &str| StackSpec {
        template: "gd-incidents.yaml",
        name: stack.name.clone(),
        parameters: json!({ "ArchiveOnClose": archive }),
    };

    // Every call of the daemon is allowed by its role (archiving on, as its config says)...
    let made = check(&account, &region, &[core("true")], (0, "DaemonRole"), Some(&daemon_calls), NO_ASKS);
    assert!(denied(&made).is_empty(), "calls of the daemon its role denies: {:#?}", denied(&made));
    let key = confidential_key(&account, &region);
    assert!(used_confidential_key(&made, &key), "the daemon worked the confidential report: {made:#?}");
    let actions: BTreeSet<&str> = made.iter().map(|d| d.action.as_str()).collect();
    for needed in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:SendMessage",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "guardduty:ListFindings",
        "guardduty:GetFindings",
        "guardduty:ArchiveFindings",
    ] {
        assert!(actions.contains(needed), "the test made the daemon call {needed}: {actions:?}");
    }
    // ...and nothing that deletes evidence, reads the dead letters, or archives while archiving is off.
    let asks = [
        ("dynamodb:DeleteItem", table.as_str()),
        ("dynamodb:BatchWriteItem", table.as_str()),
        ("sqs:ReceiveMessage", dlq.as_str()),
        ("sqs:PurgeQueue", dlq.as_str()),
        ("guardduty:ArchiveFindings", detector.as_str()),
    ];
    let refused = check(&account, &region, &[core("false")], (0, "DaemonRole"), None, &asks);
    assert_eq!(refused.len(), asks.len());
    assert!(refused.iter().all(|d| !d.allowed()), "the daemon's role allows: {:#?}", refused);

    // Every call of the portal is allowed by its task role, and no more than the portal needs.
    let stacks = [
        core("true"),
        StackSpec {
            template: "gd-incidents-portal.yaml",
            name: format!("{}-portal", stack.name),
            parameters: json!({ "CoreStackName": stack.name }),
        },
    ];
    let made = check(&account, &region, &stacks, (1, "TaskRole"), Some(&portal_calls), NO_ASKS);
    assert!(denied(&made).is_empty(), "calls of the portal its role denies: {:#?}", denied(&made));
    assert!(used_confidential_key(&made, &key), "the portal filed and showed the confidential report: {made:#?}");
    let actions: BTreeSet<&str> = made.iter().map(|d| d.action.as_str()).collect();
    for needed in ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem", "sns:Publish"] {
        assert!(actions.contains(needed), "the test made the portal call {needed}: {actions:?}");
    }
    let queue = format!("arn:aws:sqs:{region}:{account}:{}", stack.queue_url().rsplit('/').next().unwrap());
    let asks = [
        ("dynamodb:DeleteItem", table.as_str()),
        ("dynamodb:BatchWriteItem", table.as_str()),
        ("guardduty:ArchiveFindings", detector.as_str()),
        ("sqs:ReceiveMessage", queue.as_str()),
    ];
    let refused = check(&account, &region, &stacks, (1, "TaskRole"), None, &asks);
    assert!(refused.iter().all(|d| !d.allowed()), "the portal's role allows: {:#?}", refused);
}

/// Runs a command with its calls recorded into `log`; returns its exit code and output.
fn recorded(config: &std::path::Path, log: &std::path::Path, args: &[&str], endpoint: &str) -> (i32, String, String) {
    let env = [("GD_INCIDENTS__AWS__CALL_LOG_FILE", log.to_str().unwrap()), ("AWS_ENDPOINT_URL_GUARDDUTY", endpoint)];
    gd_env(config, args, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_persons_commands_make_only_calls_their_policy_allows() {
    let fake = FakeGuardDuty::start().await;
    fake.add_detector(DETECTOR);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let swept = "5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f";
    fake.put_finding(
        DETECTOR,
        api_finding(swept, "123456789012", "us-east-1", "Recon:EC2/Portscan", 5.0, &now, 1, "s"),
    );
    let stack = deploy_stack("people");
    let aws = Aws::new().await;
    aws.send(stack.dlq_url(), "a message that was dead-lettered").await;
    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        "[guardduty]\nreconcile_interval_secs = 0\narchive_on_close = true\ndetectors = [{{ region = \"us-east-1\", id = \"{DETECTOR}\" }}]\n"
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let endpoint = fake.endpoint();
    let logs = |who: &str| dir.path().join(format!("{who}.jsonl"));
    let (operator, responder, iso) = (logs("operator"), logs("responder"), logs("iso"));

    // An operator checks, reads and redrives the dead letters, sweeps GuardDuty by hand and sends a sample.
    let run = |log: &std::path::Path, args: &[&str]| {
        let (code, out, err) = recorded(&config, log, args, &endpoint);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        out
    };
    recorded(&config, &operator, &["check"], &endpoint);
    run(&operator, &["dlq", "list"]);
    run(&operator, &["dlq", "redrive", "--all"]);
    run(&operator, &["reconcile", "--since", "1h"]);
    run(&operator, &["sample", "--severity", "LOW"]);

    // A responder works a staff report and the swept finding's incident, closing it (which archives it).
    let made = run(
        &responder,
        &["report", "--by", "dana", "--title", "t", "--description", "d", "--severity", "HIGH", "--json"],
    );
    let reported: serde_json::Value = serde_json::from_str(&made).unwrap();
    let id = reported["incident"]["incident_id"].as_str().unwrap().to_owned();
    let from_sweep = incident_of(&aws, &stack, swept).await;
    run(&responder, &["incidents", "list"]);
    run(&responder, &["incidents", "show", &id]);
    run(&responder, &["incidents", "ack", &id]);
    run(&responder, &["incidents", "note", &id, "looked"]);
    run(&responder, &["incidents", "classify", &id, "MEDIUM", "--reason", "a test"]);
    run(&responder, &["incidents", "status", &id, "contained"]);
    run(&responder, &["incidents", "evidence", &from_sweep]);
    run(&responder, &["incidents", "report", &id]);
    run(&responder, &["incidents", "close", &from_sweep, "--notes", "our scanner"]);
    assert!(fake.archived().contains(&swept.to_owned()));

    // A confidential report filed before the confidential table existed (in the incident table), which
    // the ISO moves, then reads; and the ISO watches both paging topics.
    let before = dir.path().join("before.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&before, text.replace(&format!("confidential_table = \"{}\"", stack.confidential_table()), ""))
        .unwrap();
    let args = [
        "report",
        "--by",
        "dana",
        "--title",
        "my manager",
        "--description",
        "d",
        "--severity",
        "HIGH",
        "--confidential",
        "--json",
    ];
    let (code, out, err) = gd(&before, &args);
    assert_eq!(code, 0, "{out}{err}");
    let old: serde_json::Value = serde_json::from_str(&out).unwrap();
    let old_id = old["incident"]["incident_id"].as_str().unwrap().to_owned();
    let moved = run(&iso, &["incidents", "move-confidential", "--json"]);
    let moved: serde_json::Value = serde_json::from_str(&moved).unwrap();
    // Filed by this version, its id says it is confidential already, and stays (older ones gain the prefix).
    let new_id = old_id.clone();
    assert_eq!(moved["moved"], json!([{ "from": old_id, "to": new_id }]), "{moved}");
    run(&iso, &["incidents", "show", &new_id]);
    assert!(run(&iso, &["incidents", "list", "--confidential"]).contains(&new_id));
    run(&iso, &["pages", "--wait", "1"]);

    let (account, region) = account_and_region(&stack);
    // The ISO's role (holding the responder's and the ISO's policies) as the stack is told of it.
    let iso_role = format!("arn:aws:iam::{account}:role/{}-{region}-iso-holder", stack.name);
    // The people's policies are a stack of their own over the core stack's exports.
    let core = |iso_principals: &str| {
        [
            StackSpec {
                template: "gd-incidents.yaml",
                name: stack.name.clone(),
                parameters: json!({ "ArchiveOnClose": "true", "IsoPrincipalArns": iso_principals }),
            },
            StackSpec {
                template: "gd-incidents-people.yaml",
                name: format!("{}-people", stack.name),
                parameters: json!({ "CoreStackName": stack.name, "ArchiveOnClose": "true" }),
            },
        ]
    };
    let stacks = core(&iso_role);
    let table = format!("arn:aws:dynamodb:{region}:{account}:table/{}", stack.table());
    let secret = format!("arn:aws:dynamodb:{region}:{account}:table/{}", stack.confidential_table());
    let secret_index = format!("{secret}/index/by-listing");
    let key = confidential_key(&account, &region);
    let via_dynamodb = |action: &str| Ask {
        action: action.into(),
        resource: key.clone(),
        via_service: Some(format!("dynamodb.{region}.amazonaws.com")),
        ..Ask::default()
    };
    let finding_partition = Ask {
        leading_key: Some(format!("INC#123456789012#us-east-1#{swept}")),
        ..Ask::from(("dynamodb:DeleteItem", table.as_str()))
    };
    let dlq = format!("arn:aws:sqs:{region}:{account}:{}", stack.dlq_url().rsplit('/').next().unwrap());
    // (policy, its calls, actions those calls must include, requests it must deny)
    type Case<'a> = (&'a str, &'a std::path::Path, &'a [&'a str], Vec<Ask>);
    let cases: [Case; 3] = [
        (
            "OperatorPolicy",
            &operator,
            &[
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "guardduty:ListFindings",
                "events:PutEvents",
                "dynamodb:PutItem",
            ],
            [
                ("dynamodb:DeleteItem", table.as_str()),
                ("guardduty:ArchiveFindings", "*"),
                ("sqs:PurgeQueue", dlq.as_str()),
                ("dynamodb:Query", secret_index.as_str()),
            ]
            .map(Ask::from)
            .to_vec(),
        ),
        (
            "ResponderPolicy",
            &responder,
            &["dynamodb:UpdateItem", "dynamodb:PutItem", "sns:Publish", "guardduty:ArchiveFindings"],
            // Nor may a responder read confidential reports: neither their table nor its key.
            [
                ("dynamodb:DeleteItem", table.as_str()),
                ("dynamodb:BatchWriteItem", table.as_str()),
                ("sqs:ReceiveMessage", dlq.as_str()),
                ("sns:Subscribe", stack.iso_topic()),
                ("dynamodb:GetItem", secret.as_str()),
                ("dynamodb:Query", secret_index.as_str()),
                ("dynamodb:PutItem", secret.as_str()),
            ]
            .map(Ask::from)
            .into_iter()
            .chain([via_dynamodb("kms:Decrypt"), via_dynamodb("kms:GenerateDataKey")])
            .collect(),
        ),
        (
            // The move deletes from the incident table only staff reports' partitions.
            "ResponderPolicy+IsoPolicy",
            &iso,
            &["sns:Subscribe", "sqs:CreateQueue", "sqs:ReceiveMessage", "dynamodb:DeleteItem", "kms:Decrypt"],
            vec![finding_partition, Ask::from(("dynamodb:BatchWriteItem", table.as_str()))],
        ),
    ];
    for (policy, log, needed, asks) in cases {
        let made = check(&account, &region, &stacks, (1, policy), Some(log), NO_ASKS);
        assert!(denied(&made).is_empty(), "{policy} denies calls its commands make: {:#?}", denied(&made));
        let actions: BTreeSet<&str> = made.iter().map(|d| d.action.as_str()).collect();
        for action in needed {
            assert!(actions.contains(action), "{policy}: the test made a call of {action}: {actions:?}");
        }
        let refused = check(&account, &region, &stacks, (1, policy), None, &asks);
        assert!(refused.iter().all(|d| !d.allowed()), "{policy} allows: {refused:#?}");
    }

    // The key's policy decides, not only the ISO's IAM policy: a stack not told of the ISO's role keeps the
    // ISO out of the confidential table whatever IAM policy the ISO holds.
    let untold = check(&account, &region, &core(""), (1, "ResponderPolicy+IsoPolicy"), Some(&iso), NO_ASKS);
    let refused: Vec<_> = untold.iter().filter(|d| d.resource == key).collect();
    assert!(!refused.is_empty() && refused.iter().all(|d| !d.allowed()), "{untold:#?}");
}

/// A DynamoDB that refuses every request on `table` as AWS refuses a caller without permission, and finds
/// nothing anywhere else.
fn dynamodb_denying(table: &'static str) -> support::http::Server {
    use http_body_util::BodyExt;
    use support::http::{Handler, Server, reply};
    let handler: Handler = std::sync::Arc::new(move |req| {
        Box::pin(async move {
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let on_table = String::from_utf8_lossy(&body).contains(&format!("\"{table}\""));
            let (status, answer) = if on_table {
                let message = format!(
                    "User: arn:aws:sts::000000000000:assumed-role/responder/rita is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:000000000000:table/{table}"
                );
                (400, json!({ "__type": "com.amazon.coral.service#AccessDeniedException", "Message": message }))
            } else {
                (200, json!({ "Count": 0, "ScannedCount": 0, "Items": [] }))
            };
            let mut r = reply(hyper::StatusCode::from_u16(status).unwrap(), answer.to_string());
            r.headers_mut().insert("content-type", "application/x-amz-json-1.0".parse().unwrap());
            r
        })
    });
    Server::start("denying-dynamodb", handler)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_denied_a_confidential_report_is_told_whose_it_is() {
    let dynamodb = dynamodb_denying("shared-confidential");
    let outputs = [
        ("QueueUrl", "http://sqs.us-east-1.localhost:4566/000000000000/q"),
        ("IncidentTableName", "shared-incidents"),
        ("ConfidentialTableName", "shared-confidential"),
        ("OceTopicArn", "arn:aws:sns:us-east-1:000000000000:oce"),
        ("IsoTopicArn", "arn:aws:sns:us-east-1:000000000000:iso"),
    ];
    let stack =
        Stack { name: "denied".into(), outputs: outputs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let endpoint = format!("http://{}", dynamodb.addr);
    let env = [("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str())];

    // A confidential report's id goes to its table, which AWS refused: a plain answer, no trace.
    for args in [
        vec!["incidents", "show", "confidential-0b1c"],
        vec!["incidents", "list", "--confidential"],
        vec!["incidents", "evidence", "confidential-0b1c"],
        vec!["incidents", "ack", "confidential-0b1c"],
    ] {
        let (code, out, err) = gd_env(&config, &args, &env);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(err.contains("only the information security officer may read confidential reports"), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{args:?}: {err}");
    }
    // Everything else still works for them; a refusal on the shared table is not mistaken for one.
    let (code, out, err) = gd_env(&config, &["incidents", "list"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let shared = dynamodb_denying("shared-incidents");
    let endpoint = format!("http://{}", shared.addr);
    let (code, _, err) = gd_env(&config, &["incidents", "show", "0b1c"], &[("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)]);
    assert_ne!(code, 0);
    assert!(!err.contains("information security officer") && err.contains("shared-incidents"), "{err}");
    assert!(err.contains("AccessDenied"), "{err}");
}
