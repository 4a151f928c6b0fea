//! The AWS clients, built once from one `SdkConfig` (one HTTP connection pool), with the retry and timeout
//! policy every call gets.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::adapters::aws_json::{self, JsonClient};
use crate::adapters::call_log::CallLog;
use crate::adapters::capacity::CapacityMetrics;
use crate::adapters::faults::FaultInjection;
use crate::config::{AwsConfig, ContainmentConfig};
use crate::telemetry::metrics::CallMetrics;

/// The SDK clients the daemon and the CLI use.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The queue and its dead-letter queue.
    pub sqs: aws_sdk_sqs::Client,
    /// The queues' receives and deletes, without the SDK's per-call work (see `aws_json`).
    pub sqs_json: JsonClient,
    /// The incident table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The incident table's per-finding writes, without the SDK's per-call work (see `aws_json`).
    pub dynamodb_json: JsonClient,
    /// The paging topics.
    pub sns: aws_sdk_sns::Client,
    /// The shared configuration, for clients made later (GuardDuty, per region).
    pub shared: SdkConfig,
    /// The test-only interceptors every client gets, when configured.
    hooks: TestHooks,
}

/// The test-only interceptors: fault injection and the call log, each off unless its file is configured.
#[derive(Debug, Clone, Default)]
struct TestHooks {
    faults: Option<std::path::PathBuf>,
    call_log: Option<std::path::PathBuf>,
}

/// The backoff before an AWS call's first retry (doubled at each retry, jittered).
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts of an AWS call.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// An endpoint for the lean client by the SDK's own rules of `$sdk` (region, FIPS, dual stack,
/// partition), with the same override as its SDK client: `AWS_ENDPOINT_URL_<SERVICE>`, else the shared
/// endpoint. `$more` sets what else that service's rules take.
macro_rules! resolved_endpoint {
    ($sdk:ident, $shared:expr, $env:literal, $name:literal, $more:expr) => {{
        use $sdk::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let shared: &SdkConfig = $shared;
        let mut params = Params::builder()
            .set_region(shared.region().map(|r| r.to_string()))
            .use_fips(shared.use_fips().unwrap_or(false))
            .use_dual_stack(shared.use_dual_stack().unwrap_or(false));
        params = $more(params);
        if let Some(url) = service_endpoint($env).or(shared.endpoint_url().map(str::to_owned)) {
            params = params.endpoint(url);
        }
        let region = shared.region().map_or("us-east-1", |r| r.as_ref());
        let fallback = format!("https://{}.{region}.amazonaws.com", $name);
        match params.build() {
            Ok(params) => {
                DefaultResolver::new().resolve_endpoint(&params).await.map_or(fallback, |e| e.url().to_owned())
            }
            Err(_) => fallback,
        }
    }};
}

/// DynamoDB's endpoint for the lean client (regional: the account-based endpoints need the account id).
async fn dynamodb_endpoint(shared: &SdkConfig) -> String {
    resolved_endpoint!(
        aws_sdk_dynamodb,
        shared,
        "DYNAMODB",
        "dynamodb",
        |p: aws_sdk_dynamodb::config::endpoint::ParamsBuilder| p.account_id_endpoint_mode("disabled")
    )
}

/// SQS's endpoint for the lean client.
async fn sqs_endpoint(shared: &SdkConfig) -> String {
    resolved_endpoint!(aws_sdk_sqs, shared, "SQS", "sqs", |p| p)
}

/// Loads the shared SDK configuration: region and endpoint from the config file, credentials from the
/// standard chain, standard retries (throttling and transient faults, exponential backoff with jitter),
/// and a timeout on every attempt and every call.
///
/// Endpoint precedence is the SDK's: `AWS_ENDPOINT_URL_<SERVICE>` beats `[aws] endpoint_url`, which beats
/// `AWS_ENDPOINT_URL`.
pub async fn sdk_config(cfg: &AwsConfig) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(cfg.max_attempts)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(cfg.attempt_timeout())
        .operation_timeout(cfg.operation_timeout())
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(cfg.region.clone()))
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(endpoint) = &cfg.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// `AWS_ENDPOINT_URL_<SERVICE>`, when set: it wins over `[aws] endpoint_url` (which, set in code, would
/// otherwise win over the environment in the SDK).
pub fn service_endpoint(service_env_name: &str) -> Option<String> {
    std::env::var(format!("AWS_ENDPOINT_URL_{service_env_name}")).ok().filter(|v| !v.trim().is_empty())
}

/// A client of one service from a builder of the shared configuration: counted by the metrics interceptor,
/// with the test-only hooks when configured, and `AWS_ENDPOINT_URL_<SERVICE>` winning over the shared
/// endpoint. Every client of the program is made here, so every call gets the same treatment.
macro_rules! service_client {
    ($sdk:ident, $builder:expr, $hooks:expr, $env:literal) => {{
        let hooks: &TestHooks = $hooks;
        let mut b = $builder.interceptor(CallMetrics);
        if let Some(file) = &hooks.faults {
            b = b.interceptor(FaultInjection::new(file.clone()));
        }
        if let Some(file) = &hooks.call_log {
            b = b.interceptor(CallLog::new(file.clone()));
        }
        if let Some(url) = service_endpoint($env) {
            b = b.endpoint_url(url);
        }
        $sdk::Client::from_conf(b.build())
    }};
}

impl Clients {
    /// Builds every client from one shared configuration.
    pub async fn new(cfg: &AwsConfig) -> Clients {
        let shared = sdk_config(cfg).await;
        let hooks = TestHooks { faults: cfg.fault_injection_file.clone(), call_log: cfg.call_log_file.clone() };
        let policy = aws_json::Policy {
            max_attempts: cfg.max_attempts,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
            attempt_timeout: cfg.attempt_timeout(),
            operation_timeout: cfg.operation_timeout(),
        };
        let json_hooks = aws_json::Hooks { faults: hooks.faults.clone(), call_log: hooks.call_log.clone() };
        let json = |service, endpoint: &str| {
            let provider = shared.credentials_provider();
            JsonClient::new(service, endpoint, &cfg.region, provider, policy, json_hooks.clone())
        };
        let (dynamodb_json, sqs_json) = (
            json(aws_json::DYNAMODB, &dynamodb_endpoint(&shared).await),
            json(aws_json::SQS, &sqs_endpoint(&shared).await),
        );
        Clients {
            dynamodb_json,
            sqs_json,
            sqs: service_client!(aws_sdk_sqs, aws_sdk_sqs::config::Builder::from(&shared), &hooks, "SQS"),
            dynamodb: service_client!(
                aws_sdk_dynamodb,
                aws_sdk_dynamodb::config::Builder::from(&shared).interceptor(CapacityMetrics),
                &hooks,
                "DYNAMODB"
            ),
            sns: service_client!(aws_sdk_sns, aws_sdk_sns::config::Builder::from(&shared), &hooks, "SNS"),
            shared,
            hooks,
        }
    }

    /// An EventBridge client (for `sample`).
    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let builder = aws_sdk_eventbridge::config::Builder::from(&self.shared);
        service_client!(aws_sdk_eventbridge, builder, &self.hooks, "EVENTBRIDGE")
    }

    /// An EventBridge client of `region` (coverage of the regions forwarding to this one).
    pub fn eventbridge_in(&self, region: &str) -> aws_sdk_eventbridge::Client {
        let builder = aws_sdk_eventbridge::config::Builder::from(&self.shared).region(Region::new(region.to_owned()));
        service_client!(aws_sdk_eventbridge, builder, &self.hooks, "EVENTBRIDGE")
    }

    /// An STS client (who the caller is).
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let builder = aws_sdk_sts::config::Builder::from(&self.shared);
        service_client!(aws_sdk_sts, builder, &self.hooks, "STS")
    }

    /// The EC2, IAM and STS clients containment acts through: with the credentials of `cfg.role_arn`
    /// (assumed, renewed by the SDK before they expire) when set, else the process's own; and, for
    /// `member` (an account other than the containment role's), of the role `cfg.member_role_name` there,
    /// assumed with the containment role's credentials. Their calls go to call logs of their own
    /// (`<call log>.containment`, `<call log>.member-<account>`), checked against those roles.
    pub async fn containment(&self, cfg: &ContainmentConfig, member: Option<&str>) -> ContainmentClients {
        let assume = |arn: &str, base: &SdkConfig| {
            let mut role = aws_config::sts::AssumeRoleProvider::builder(arn)
                .session_name("gd-incidents-containment")
                .configure(base);
            if !cfg.external_id.is_empty() {
                role = role.external_id(&cfg.external_id);
            }
            role
        };
        let mut shared = self.shared.clone();
        if let Some(arn) = cfg.role() {
            let provider = SharedCredentialsProvider::new(assume(arn, &self.shared).build().await);
            shared = shared.into_builder().credentials_provider(provider).build();
        }
        let mut log = "containment".to_owned();
        if let Some(account) = member {
            let arn = format!("arn:aws:iam::{account}:role/{}", cfg.member_role_name);
            let provider = SharedCredentialsProvider::new(assume(&arn, &shared).build().await);
            shared = shared.clone().into_builder().credentials_provider(provider).build();
            log = format!("member-{account}");
        }
        let hooks = TestHooks {
            faults: self.hooks.faults.clone(),
            call_log: self.hooks.call_log.as_ref().map(|f| f.with_extension(&log)),
        };
        // Buckets by path on an endpoint of one's own (LocalStack): no DNS name per bucket there.
        let s3 = aws_sdk_s3::config::Builder::from(&shared).force_path_style(shared.endpoint_url().is_some());
        ContainmentClients {
            ec2: service_client!(aws_sdk_ec2, aws_sdk_ec2::config::Builder::from(&shared), &hooks, "EC2"),
            iam: service_client!(aws_sdk_iam, aws_sdk_iam::config::Builder::from(&shared), &hooks, "IAM"),
            sts: service_client!(aws_sdk_sts, aws_sdk_sts::config::Builder::from(&shared), &hooks, "STS"),
            s3: service_client!(aws_sdk_s3, s3, &hooks, "S3"),
            shared,
            hooks,
        }
    }

    /// A GuardDuty client of `region` (GuardDuty is regional: one per region swept).
    pub fn guardduty_client(&self, region: &str) -> aws_sdk_guardduty::Client {
        let builder = aws_sdk_guardduty::config::Builder::from(&self.shared).region(Region::new(region.to_owned()));
        service_client!(aws_sdk_guardduty, builder, &self.hooks, "GUARDDUTY")
    }
}

/// The clients containment acts through in one account.
#[derive(Debug, Clone)]
pub struct ContainmentClients {
    /// Instances, groups, volumes, network ACLs.
    pub ec2: aws_sdk_ec2::Client,
    /// Access keys and roles.
    pub iam: aws_sdk_iam::Client,
    /// Which account these credentials are in.
    pub sts: aws_sdk_sts::Client,
    /// Objects found malicious, and the quarantine bucket.
    pub s3: aws_sdk_s3::Client,
    /// The same credentials, for clients of other regions.
    shared: SdkConfig,
    hooks: TestHooks,
}

impl ContainmentClients {
    /// An AWS WAF client of `region` (an IP set's, `us-east-1` for CloudFront's).
    pub fn waf(&self, region: &str) -> aws_sdk_wafv2::Client {
        let builder = aws_sdk_wafv2::config::Builder::from(&self.shared).region(Region::new(region.to_owned()));
        service_client!(aws_sdk_wafv2, builder, &self.hooks, "WAFV2")
    }
}

/// The timeouts of a page's Publish, within `claim` (how long its sender holds the page): one attempt may
/// take most of it, so that an SNS that hangs (or a network that freezes) finishes the first attempt instead
/// of racing a retry, each of which SNS would deliver again; and the whole call ends before the claim lapses
/// and another worker sends the page. At most 50 s (a hung SNS is retried once), at least 5 s.
pub fn publish_timeouts(claim: Duration) -> TimeoutConfig {
    let operation = claim.saturating_sub(Duration::from_secs(5)).clamp(Duration::from_secs(5), Duration::from_secs(50));
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(operation * 4 / 5)
        .operation_timeout(operation)
        .build()
}

/// An AWS SDK error (or another failed call), kept whole as the `source` of this crate's errors.
pub type AwsError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Formats an SDK error with its whole chain of causes, for logs and error messages: the one place that
/// does, so every message shows the same detail.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(err).to_string()
}
