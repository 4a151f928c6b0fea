//! Test support: LocalStack (started if it is not running; never skipped), one CloudFormation stack per test,
//! the real `gd-incidents` binary, and capture queues subscribed to the paging topics.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;

/// LocalStack's gateway, as `deploy/start-localstack.sh` starts it.
pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", std::env::var("LS_PORT").unwrap_or_else(|_| "4566".into()))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts LocalStack once per test binary (the script is idempotent and locks against concurrent starts).
pub fn ensure_localstack() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("deploy/start-localstack.sh"))
            .output()
            .expect("run deploy/start-localstack.sh");
        assert!(
            out.status.success(),
            "LocalStack could not be started:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The outputs of a deployed stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub outputs: HashMap<String, String>,
}

impl Stack {
    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).unwrap_or_else(|| panic!("stack {} has no output {key}: {:?}", self.name, self.outputs))
    }
    pub fn queue_url(&self) -> &str {
        self.output("QueueUrl")
    }
    pub fn dlq_url(&self) -> &str {
        self.output("DeadLetterQueueUrl")
    }
    pub fn table(&self) -> &str {
        self.output("IncidentTableName")
    }
    pub fn oce_topic(&self) -> &str {
        self.output("OceTopicArn")
    }
    pub fn iso_topic(&self) -> &str {
        self.output("IsoTopicArn")
    }
}

/// Deploys the project's template as a stack of its own, named after the test.
pub fn deploy_stack(test: &str) -> Stack {
    ensure_localstack();
    let name = format!("t-{}-{}", test.replace('_', "-"), &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(repo().join("deploy/deploy-stack.sh"))
        .arg(&name)
        .env("GD_STACK_PARAMS", "TableDeletionProtection=false")
        .output()
        .expect("run deploy/deploy-stack.sh");
    assert!(out.status.success(), "deploying stack {name} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let outputs: HashMap<String, String> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("deploy-stack.sh printed no JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    eprintln!("deployed stack {name} in {:.1}s", started.elapsed().as_secs_f64());
    Stack { name, outputs }
}

/// SDK configuration for LocalStack, with its test credentials.
pub async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// The SDK clients a test uses to drive and inspect LocalStack.
#[derive(Clone)]
pub struct Aws {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Aws {
    pub async fn new() -> Aws {
        let c = sdk().await;
        Aws {
            sqs: aws_sdk_sqs::Client::new(&c),
            sns: aws_sdk_sns::Client::new(&c),
            dynamodb: aws_sdk_dynamodb::Client::new(&c),
        }
    }

    pub async fn send(&self, queue_url: &str, body: &str) {
        self.sqs.send_message().queue_url(queue_url).message_body(body).send().await.expect("send to the work queue");
    }

    /// A queue subscribed to `topic` with raw delivery, so that a page's attributes arrive as message
    /// attributes: what a subscriber of the topic receives.
    pub async fn capture(&self, topic: &str, name: &str) -> String {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create capture queue")
            .queue_url
            .expect("queue url");
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("capture queue arn")
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .expect("arn");
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .expect("subscribe capture queue");
        url
    }

    /// Receives everything currently on `queue_url` (deleting it), waiting up to `wait` for at least
    /// `at_least` messages, then `quiet` more for stragglers (a duplicate would show up there).
    pub async fn drain(&self, queue_url: &str, at_least: usize, wait: Duration, quiet: Duration) -> Vec<Received> {
        let mut got = Vec::new();
        let deadline = Instant::now() + wait;
        let mut quiet_until: Option<Instant> = None;
        loop {
            if got.len() >= at_least && quiet_until.is_none() {
                quiet_until = Some(Instant::now() + quiet);
            }
            if let Some(q) = quiet_until {
                if Instant::now() >= q {
                    break;
                }
            } else if Instant::now() >= deadline {
                break;
            }
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            for m in out.messages.unwrap_or_default() {
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
                got.push(Received {
                    body: m.body.clone().unwrap_or_default(),
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                        .collect(),
                });
            }
        }
        got
    }

    /// Visible plus in-flight messages on a queue.
    pub async fn queue_depth(&self, queue_url: &str) -> u64 {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        attrs.values().filter_map(|v| v.parse::<u64>().ok()).sum()
    }

    /// Every item of the table with `record_type = "incident"`, as JSON-like maps.
    pub async fn incidents(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(
                out.items
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|i| i.get("record_type") == Some(&AttributeValue::S("incident".into()))),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items
    }
}

/// A message taken off a queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub attributes: HashMap<String, String>,
}

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Writes a configuration for `stack` into `dir`, with `queue_extra` added to `[queue]`.
pub fn write_config(dir: &Path, stack: &Stack, queue_extra: &str) -> PathBuf {
    write_config_with(dir, stack, queue_extra, "")
}

/// Like [`write_config`], with `tail` (more sections) appended.
pub fn write_config_with(dir: &Path, stack: &Stack, queue_extra: &str, tail: &str) -> PathBuf {
    let text = format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"
attempt_timeout_secs = 5
max_attempts = 3

[queue]
url = "{queue}"
wait_time_secs = 1
{queue_extra}

[incidents]
table = "{table}"

[paging]
oce_topic_arn = "{oce}"
iso_topic_arn = "{iso}"

[log]
format = "json"
level = "gd_incidents=debug,info"

{tail}
"#,
        endpoint = endpoint(),
        queue = stack.queue_url(),
        table = stack.table(),
        oce = stack.oce_topic(),
        iso = stack.iso_topic(),
    );
    let path = dir.join(format!("{}.toml", stack.name));
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs a `gd-incidents` command with LocalStack's credentials: (exit code, stdout, stderr).
pub fn gd(config: &Path, args: &[&str]) -> (i32, String, String) {
    gd_env(config, args, &[])
}

/// Like [`gd`], with extra environment variables.
pub fn gd_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run gd-incidents");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed with `--json`, and returns its output.
pub fn gd_json(config: &Path, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let (code, out, err) = gd(config, &all);
    assert_eq!(code, 0, "gd-incidents {args:?} failed:\n{err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("gd-incidents {args:?} printed no JSON ({e}): {out}"))
}

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gd-incidents")
}

/// Starts `gd-incidents COMMAND --config CONFIG` with LocalStack's credentials, its stderr (the logs) in `log`.
pub fn spawn_gd(command: &str, config: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let file = std::fs::File::create(log).expect("create the process's log file");
    Command::new(binary())
        .args([command, "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap_or_else(|e| panic!("start gd-incidents {command}: {e}"))
}

/// A running `gd-incidents run`; killed when dropped, and its log printed if the test failed.
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
    pub name: String,
}

impl Daemon {
    pub fn start(config: &Path, name: &str) -> Daemon {
        Daemon::start_with_env(config, name, &[])
    }

    /// Starts with extra environment variables (e.g. `AWS_ENDPOINT_URL_GUARDDUTY`).
    pub fn start_with_env(config: &Path, name: &str, env: &[(&str, &str)]) -> Daemon {
        let log = config.with_extension(format!("{name}.log"));
        let child = spawn_gd("run", config, &log, env);
        Daemon { child: Some(child), log, name: name.into() }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let child = self.child.as_mut().expect("running");
        let started = Instant::now();
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM").success();
        assert!(ok, "could not signal the daemon");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < limit, "daemon did not exit within {limit:?} of SIGTERM; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("wait").is_none(),
            None => false,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- log of daemon {} ----\n{}", self.name, self.log());
        }
    }
}

/// A fixture from tests/fixtures/findings.
pub fn fixture(name: &str) -> Value {
    let path = repo().join("tests/fixtures/findings").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read fixture")).expect("fixture is JSON")
}

/// An attribute as a string, if it is one.
pub fn s<'a>(item: &'a HashMap<String, AttributeValue>, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// An attribute as a number, if it is one.
pub fn n(item: &HashMap<String, AttributeValue>, key: &str) -> Option<f64> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}
