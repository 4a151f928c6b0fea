//! LocalStack: started once per binary with `deploy/start-localstack.sh`, and the SDK clients that drive it.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

use gd_incidents::adapters::aws_json::{self, JsonClient};
use gd_incidents::adapters::dynamodb::Store;

use super::repo;

/// The region of every stack and finding.
pub const REGION: &str = "us-east-1";

/// LocalStack's gateway, as `deploy/start-localstack.sh` starts it.
pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", std::env::var("LS_PORT").unwrap_or_else(|_| "4566".into()))
}

/// Runs a script of `deploy/` under coreutils `timeout`, with LocalStack's credentials and no real-AWS
/// settings in its environment; panics unless it succeeds. Returns stdout.
pub fn run_script(limit: Duration, script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("timeout")
        .arg(limit.as_secs().to_string())
        .arg("bash")
        .arg(repo().join(script))
        .args(args)
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", REGION)
        .env_remove("GD_REAL_AWS")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}; 124 = timed out after {limit:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts LocalStack once per binary (the script is idempotent and locks against concurrent starts).
pub fn ensure_localstack() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        run_script(Duration::from_secs(900), "deploy/start-localstack.sh", &[], &[]);
    });
}

/// SDK configuration for LocalStack, with its test credentials; bounded, so that a stuck call fails.
pub async fn sdk() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .timeout_config(timeouts)
        .load()
        .await
}

/// The SDK clients that drive and inspect LocalStack. The endpoint is set per client as well, so that
/// nothing in the environment (`AWS_ENDPOINT_URL_SQS`, ...) can redirect these calls.
#[derive(Clone)]
pub struct Aws {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// The lean DynamoDB client at `at`, with the same credentials, region and bounds as [`sdk`], and `hooks`.
pub fn dynamodb_json(at: &str, hooks: aws_json::Hooks) -> JsonClient {
    let credentials = Credentials::new("test", "test", None, None, "tests");
    let policy = aws_json::Policy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(20),
        operation_timeout: Duration::from_secs(60),
    };
    let provider = Some(aws_credential_types::provider::SharedCredentialsProvider::new(credentials));
    JsonClient::new(aws_json::DYNAMODB, at, REGION, provider, policy, hooks)
}

impl Aws {
    pub async fn new() -> Aws {
        let c = sdk().await;
        let at = endpoint();
        Aws {
            sqs: aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&c).endpoint_url(&at).build()),
            sns: aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(&c).endpoint_url(&at).build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&c).endpoint_url(&at).build(),
            ),
        }
    }

    /// A store on `table` (and `confidential`), through these clients.
    pub fn store(&self, table: &str, confidential: Option<String>) -> Store {
        Store::new(self.dynamodb.clone(), dynamodb_json(&endpoint(), Default::default()), table, confidential)
    }

    /// An EventBridge client: events put on the default bus, as AWS services put theirs.
    pub async fn events(&self) -> aws_sdk_eventbridge::Client {
        let c = sdk().await;
        aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&c).endpoint_url(endpoint()).build(),
        )
    }

    /// An EC2 client: the instances, groups and volumes containment acts on.
    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        let c = sdk().await;
        aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::config::Builder::from(&c).endpoint_url(endpoint()).build())
    }

    /// An IAM client: the users and access keys containment acts on.
    pub async fn iam(&self) -> aws_sdk_iam::Client {
        let c = sdk().await;
        aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&c).endpoint_url(endpoint()).build())
    }

    /// An STS client: who the tests' credentials are.
    pub async fn sts(&self) -> aws_sdk_sts::Client {
        let c = sdk().await;
        aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(&c).endpoint_url(endpoint()).build())
    }
}
