//! The daemon's configuration file (TOML): typed, every unknown key refused, every optional key with a safe
//! default. Errors name the file, the key and what is wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::policy::Policy;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How to reach AWS.
    pub aws: AwsConfig,
    /// The work queue the EventBridge rule feeds.
    pub queue: QueueConfig,
    /// Where incidents are kept.
    pub incidents: IncidentsConfig,
    /// Who is paged.
    pub paging: PagingConfig,
    /// How the daemon logs.
    #[serde(default)]
    pub log: LogConfig,
    /// Process-wide behaviour.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// Re-paging of unacknowledged incidents.
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// Level floors and suppressions; none by default (the contract's plain mapping).
    #[serde(default)]
    pub policy: Policy,
    /// The health and metrics endpoint.
    #[serde(default)]
    pub server: ServerConfig,
    /// Reconciliation with the GuardDuty API, and archiving on close.
    #[serde(default)]
    pub guardduty: GuardDutyConfig,
    /// The incident portal (`gd-incidents portal`); absent when no portal runs.
    #[serde(default)]
    pub portal: Option<PortalConfig>,
    /// `[[clients]]`: accounts whose incidents are announced to a client's contacts; none by default.
    #[serde(default)]
    pub clients: Vec<crate::domain::routing::Client>,
}

/// `[guardduty]`: findings missed on the queue are read from the GuardDuty API; closed incidents may
/// archive their finding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDutyConfig {
    /// Regions whose detectors are swept; default: `[aws] region`.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The detectors to sweep; when empty, each region's detectors are found with ListDetectors.
    #[serde(default)]
    pub detectors: Vec<DetectorConfig>,
    /// Seconds between sweeps (the first runs at start); 0 turns reconciliation off.
    #[serde(default = "default_reconcile_interval_secs")]
    pub reconcile_interval_secs: u64,
    /// Days back the first sweep looks, when no watermark is stored yet.
    #[serde(default = "default_initial_lookback_days")]
    pub initial_lookback_days: u32,
    /// Archive the finding in GuardDuty when its incident is closed (retried until it succeeds).
    #[serde(default)]
    pub archive_on_close: bool,
}

/// `[[guardduty.detectors]]`: one detector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// Its region.
    pub region: String,
    /// Its id.
    pub id: String,
}

impl Default for GuardDutyConfig {
    fn default() -> Self {
        GuardDutyConfig {
            regions: Vec::new(),
            detectors: Vec::new(),
            reconcile_interval_secs: default_reconcile_interval_secs(),
            initial_lookback_days: default_initial_lookback_days(),
            archive_on_close: false,
        }
    }
}

impl Config {
    /// The regions reconciliation covers: `[guardduty] regions`, those of configured detectors, or
    /// `[aws] region`.
    pub fn guardduty_regions(&self) -> Vec<String> {
        let mut regions = self.guardduty.regions.clone();
        for d in &self.guardduty.detectors {
            if !regions.contains(&d.region) {
                regions.push(d.region.clone());
            }
        }
        if regions.is_empty() {
            regions.push(self.aws.region.clone());
        }
        regions
    }
}

fn default_reconcile_interval_secs() -> u64 {
    900
}
fn default_initial_lookback_days() -> u32 {
    30
}

/// `[server]`: health and metrics over HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to serve `/healthz`, `/readyz` and `/metrics` on, e.g. `127.0.0.1:9090`; off when absent.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
}

/// `[escalation]`: a HIGH or CRITICAL incident nobody acknowledges is paged again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Seconds after a page before an unacknowledged incident is paged again; 0 turns re-paging off.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: u64,
    /// Re-pages per level, at most.
    #[serde(default = "default_max_repages")]
    pub max_repages: u32,
    /// Seconds between two looks for due re-pages.
    #[serde(default = "default_check_interval_secs")]
    pub check_interval_secs: u64,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            ack_timeout_secs: default_ack_timeout_secs(),
            max_repages: default_max_repages(),
            check_interval_secs: default_check_interval_secs(),
        }
    }
}

fn default_ack_timeout_secs() -> u64 {
    900
}
fn default_max_repages() -> u32 {
    3
}
fn default_check_interval_secs() -> u64 {
    30
}

/// `[aws]`: region, endpoint and the retry and timeout policy of every AWS call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// AWS region of the queue, table and topics, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint for every service (LocalStack: `http://127.0.0.1:4566`); absent on real AWS.
    /// `AWS_ENDPOINT_URL_<SERVICE>` still wins for that service.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call, the first included, with exponential backoff and jitter between them.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds one attempt of an AWS call may take before it is abandoned and retried
    /// (a receive gets the long-poll wait on top of this).
    #[serde(default = "default_attempt_timeout_secs")]
    pub attempt_timeout_secs: u64,
    /// Seconds an AWS call may take in all, retries included (a receive gets the long-poll wait on top).
    #[serde(default = "default_operation_timeout_secs")]
    pub operation_timeout_secs: u64,
    /// Tests only, never in production: while this file exists, requests of the services it lists go to the
    /// addresses it gives (an outage). See `src/faults.rs`.
    #[serde(default)]
    pub fault_injection_file: Option<PathBuf>,
}

/// `[queue]`: the SQS work queue and how it is consumed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// URL of the work queue.
    pub url: String,
    /// URL of the dead-letter queue; when absent, read from the work queue's redrive policy at start.
    #[serde(default)]
    pub dead_letter_url: Option<String>,
    /// Seconds a receive long-polls for messages (0 to 20).
    #[serde(default = "default_wait_time_secs")]
    pub wait_time_secs: u32,
    /// Messages asked for per receive (1 to 10).
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// Messages of the work queue processed at once, at most (1 to 1000). More than the table keeps up with
    /// only makes each write slower.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// URL of the urgent queue, which the template's second rule feeds with copies of the HIGH and CRITICAL
    /// findings (severity 7 and up), so that they are paged at once even behind a backlog on the work queue.
    /// Consumed alongside the work queue, with its own bound on messages in flight; its copies and the work
    /// queue's are one incident and one page. Absent: only the work queue is consumed.
    #[serde(default)]
    pub urgent_url: Option<String>,
    /// Messages of the urgent queue processed at once, at most (1 to 1000), in addition to `max_in_flight`.
    #[serde(default = "default_urgent_max_in_flight")]
    pub urgent_max_in_flight: usize,
    /// Seconds a received message stays hidden from other consumers; extended while work runs long
    /// (1 to 43200).
    #[serde(default = "default_visibility_timeout_secs")]
    pub visibility_timeout_secs: u32,
    /// Seconds before a message that failed for a passing reason comes back, doubled on each further
    /// failure up to 900.
    #[serde(default = "default_retry_delay_secs")]
    pub retry_delay_secs: u32,
    /// After this many receives of a message that keeps failing for passing reasons, it is sent again as a
    /// fresh message (and the old one deleted), so that SQS's redrive policy never dead-letters it for an
    /// outage. Keep it below the redrive policy's `maxReceiveCount` (the template's is 10).
    #[serde(default = "default_requeue_after_receives")]
    pub requeue_after_receives: u32,
}

/// `[incidents]`: the DynamoDB table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Name of the incident table.
    pub table: String,
}

/// `[paging]`: the SNS topics that are paged for HIGH and CRITICAL incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingConfig {
    /// ARN of the on-call engineer's topic.
    pub oce_topic_arn: String,
    /// ARN of the information security officer's topic.
    pub iso_topic_arn: String,
    /// Seconds a worker's claim on a page it is publishing holds; after that another worker may publish it.
    #[serde(default = "default_claim_timeout_secs")]
    pub claim_timeout_secs: u64,
    /// `[[paging.routes]]`: more topics paged by level and account (Infra Operations, management...); none
    /// by default.
    #[serde(default)]
    pub routes: Vec<crate::domain::routing::Route>,
}

/// `[log]`: log format and level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (JSON unless standard error is a terminal), `json` or `text`.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `gd_incidents=debug,info`; `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal (CloudWatch, journald), text when it is.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// `[daemon]`: process-wide behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Seconds in-flight work may take to finish after SIGTERM/SIGINT before it is released back to the
    /// queue (ECS allows 30 in all; keep well under it).
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Auto, level: default_log_level() }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig { shutdown_grace_secs: default_shutdown_grace_secs() }
    }
}

fn default_max_attempts() -> u32 {
    5
}
fn default_attempt_timeout_secs() -> u64 {
    10
}
fn default_operation_timeout_secs() -> u64 {
    60
}
fn default_wait_time_secs() -> u32 {
    20
}
fn default_batch_size() -> u32 {
    10
}
fn default_max_in_flight() -> usize {
    20
}
fn default_urgent_max_in_flight() -> usize {
    30
}
fn default_visibility_timeout_secs() -> u32 {
    60
}
fn default_retry_delay_secs() -> u32 {
    15
}
fn default_requeue_after_receives() -> u32 {
    5
}
fn default_claim_timeout_secs() -> u64 {
    60
}
fn default_log_level() -> String {
    "info".into()
}
fn default_shutdown_grace_secs() -> u64 {
    15
}

impl AwsConfig {
    /// [`AwsConfig::attempt_timeout_secs`] as a duration.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_secs(self.attempt_timeout_secs)
    }
    /// [`AwsConfig::operation_timeout_secs`] as a duration.
    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }
}

/// `[portal]`: the incident portal, a web server of its own (`gd-incidents portal`) behind an AWS Application
/// Load Balancer that signs people in with OIDC. Checked by [`PortalConfig::validate`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Address the portal listens on, e.g. `0.0.0.0:8080` behind the load balancer.
    pub listen: std::net::SocketAddr,
    /// ARN of the load balancer whose signed `x-amzn-oidc-data` header identifies people (required unless
    /// `dev_user` is set).
    #[serde(default)]
    pub alb_arn: Option<String>,
    /// Base URL of the load balancer's public keys (`<url>/<kid>`); default
    /// `https://public-keys.auth.elb.<region of alb_arn>.amazonaws.com`. Plain `http://` only on loopback.
    #[serde(default)]
    pub public_key_url: Option<String>,
    /// E-mail addresses of the responders (OCE, Infra Operations): they see and work every incident but
    /// confidential staff reports.
    #[serde(default)]
    pub responders: Vec<String>,
    /// E-mail addresses of the information security officers: they see and work every incident.
    #[serde(default)]
    pub iso: Vec<String>,
    /// Local development only: everyone is this e-mail address, unauthenticated. Refused unless `listen` is
    /// a loopback address.
    #[serde(default)]
    pub dev_user: Option<String>,
    /// Key of the forms' CSRF tokens (at least 32 characters), shared by every portal task behind one load
    /// balancer; set it from a secret with `GD_INCIDENTS__PORTAL__CSRF_KEY`. Default: random per process.
    #[serde(default)]
    pub csrf_key: Option<String>,
}

impl PortalConfig {
    /// What serde cannot check: the key and the reason.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let email = |key: &'static str, v: &str| {
            let v = v.trim();
            match v.split_once('@') {
                Some((user, domain)) if !user.is_empty() && !domain.is_empty() && !v.contains(char::is_whitespace) => {
                    Ok(())
                }
                _ => Err((key, format!("`{v}` is not an e-mail address"))),
            }
        };
        match (&self.dev_user, &self.alb_arn) {
            (Some(dev), None) => {
                email("portal.dev_user", dev)?;
                if !self.listen.ip().is_loopback() {
                    return Err((
                        "portal.dev_user",
                        format!(
                            "development mode signs everyone in as {dev} without authentication, so it is allowed \
                             only when portal.listen is a loopback address (127.0.0.1 or [::1]), not {}",
                            self.listen
                        ),
                    ));
                }
            }
            (Some(_), Some(_)) => {
                return Err(("portal.dev_user", "cannot be combined with portal.alb_arn: remove one of them".into()));
            }
            (None, None) => {
                return Err((
                    "portal.alb_arn",
                    "missing: the ARN of the load balancer that signs x-amzn-oidc-data (or portal.dev_user for \
                     local development on a loopback address)"
                        .into(),
                ));
            }
            (None, Some(arn)) => {
                let parts: Vec<&str> = arn.split(':').collect();
                if parts.len() < 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" || parts[3].is_empty() {
                    return Err((
                        "portal.alb_arn",
                        format!(
                            "`{arn}` is not a load balancer ARN: expected \
                             arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>"
                        ),
                    ));
                }
            }
        }
        if let Some(url) = &self.public_key_url {
            let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://[::1]:"];
            if !url.starts_with("https://") && !loopback.iter().any(|p| url.starts_with(p)) {
                return Err((
                    "portal.public_key_url",
                    format!("`{url}` must be an https:// URL (plain http:// only on a loopback address, for tests)"),
                ));
            }
        }
        for v in &self.responders {
            email("portal.responders", v)?;
        }
        for v in &self.iso {
            email("portal.iso", v)?;
        }
        if let Some(key) = &self.csrf_key
            && key.len() < 32
        {
            return Err(("portal.csrf_key", format!("is {} characters long: use at least 32", key.len())));
        }
        Ok(())
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {}{}: not valid TOML: {reason}", path.display(), line_suffix(*line))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A key is missing, unknown, of the wrong type or out of range.
    #[error("config file {}{}: key `{key}`: {reason}", path.display(), line_suffix(*line))]
    Key {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// Dotted key, e.g. `queue.batch_size`.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Environment variables with this prefix override keys of the file: `GD_INCIDENTS__QUEUE__URL` sets
/// `[queue] url`. Values are read as TOML (`20`, `true`, `["a", "b"]`), and as text when they are not TOML.
pub const ENV_PREFIX: &str = "GD_INCIDENTS__";

impl Config {
    /// Reads, parses and validates the file, with the overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse_with_env(&text, path, std::env::vars())
    }

    /// Parses and validates `text`; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, path, std::iter::empty())
    }

    /// Parses `text`, applies the `GD_INCIDENTS__SECTION__KEY` overrides among `env`, and validates.
    pub fn parse_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        };
        let key_error = |e: serde_path_to_error::Error<toml::de::Error>, overridden: &[(String, String)]| {
            let mut key = e.path().to_string();
            let inner = e.into_inner();
            let mut reason = inner.message().trim().to_owned();
            // serde reports a missing or unknown key at its table; name the key itself.
            for prefix in ["missing field `", "unknown field `"] {
                if let Some(field) = reason.strip_prefix(prefix).and_then(|r| r.split('`').next())
                    && key.rsplit('.').next() != Some(field)
                {
                    key = if key == "." { field.to_owned() } else { format!("{key}.{field}") };
                }
            }
            if let Some((var, _)) = overridden.iter().find(|(_, k)| *k == key) {
                reason.push_str(&format!(" (from environment variable {var})"));
            }
            ConfigError::Key { path: path.to_owned(), line: line_of(inner.span()), key, reason }
        };
        let overrides: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        let config: Config = if overrides.is_empty() {
            let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                line: line_of(e.span()),
                reason: e.message().trim().to_owned(),
            })?;
            serde_path_to_error::deserialize(de).map_err(|e| key_error(e, &[]))?
        } else {
            let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: path.to_owned(),
                line: line_of(e.span()),
                reason: e.message().trim().to_owned(),
            })?;
            let mut applied = Vec::new();
            for (var, value) in &overrides {
                let key = apply_override(&mut table, var, value).map_err(|reason| ConfigError::Key {
                    path: path.to_owned(),
                    line: None,
                    key: var.clone(),
                    reason,
                })?;
                applied.push((var.clone(), key));
            }
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| key_error(e, &applied))?
        };
        config.validate().map_err(|(key, reason)| ConfigError::Key {
            path: path.to_owned(),
            line: None,
            key,
            reason,
        })?;
        Ok(config)
    }

    /// Range and shape checks serde cannot express: the key and the reason.
    fn validate(&self) -> Result<(), (String, String)> {
        self.validate_ranges().map_err(|(key, reason)| (key.to_owned(), reason))?;
        self.policy.validate()?;
        self.routing().validate()
    }

    /// The stakeholder routes and the clients.
    pub fn routing(&self) -> crate::domain::routing::Routing {
        crate::domain::routing::Routing { routes: self.paging.routes.clone(), clients: self.clients.clone() }
    }

    fn validate_ranges(&self) -> Result<(), (&'static str, String)> {
        fn non_empty(key: &'static str, v: &str) -> Result<(), (&'static str, String)> {
            if v.trim().is_empty() { Err((key, "must not be empty".into())) } else { Ok(()) }
        }
        fn within<T: PartialOrd + std::fmt::Display>(
            key: &'static str,
            v: T,
            lo: T,
            hi: T,
        ) -> Result<(), (&'static str, String)> {
            if v < lo || v > hi { Err((key, format!("{v} is out of range: expected {lo} to {hi}"))) } else { Ok(()) }
        }
        fn url(key: &'static str, v: &str) -> Result<(), (&'static str, String)> {
            non_empty(key, v)?;
            if v.starts_with("http://") || v.starts_with("https://") {
                Ok(())
            } else {
                Err((key, format!("`{v}` is not a URL: expected http:// or https://")))
            }
        }
        fn arn(key: &'static str, v: &str, service: &str) -> Result<(), (&'static str, String)> {
            let parts: Vec<&str> = v.split(':').collect();
            if parts.len() >= 6 && parts[0] == "arn" && parts[2] == service {
                Ok(())
            } else {
                Err((
                    key,
                    format!(
                        "`{v}` is not an {service} ARN: expected arn:<partition>:{service}:<region>:<account>:<name>"
                    ),
                ))
            }
        }
        non_empty("aws.region", &self.aws.region)?;
        if let Some(endpoint) = &self.aws.endpoint_url {
            url("aws.endpoint_url", endpoint)?;
        }
        within("aws.max_attempts", self.aws.max_attempts, 1, 20)?;
        within("aws.attempt_timeout_secs", self.aws.attempt_timeout_secs, 1, 300)?;
        within("aws.operation_timeout_secs", self.aws.operation_timeout_secs, 1, 900)?;
        if self.aws.operation_timeout_secs < self.aws.attempt_timeout_secs {
            return Err(("aws.operation_timeout_secs", "must be at least aws.attempt_timeout_secs".into()));
        }
        url("queue.url", &self.queue.url)?;
        if let Some(dlq) = &self.queue.dead_letter_url {
            url("queue.dead_letter_url", dlq)?;
        }
        within("queue.wait_time_secs", self.queue.wait_time_secs, 0, 20)?;
        within("queue.batch_size", self.queue.batch_size, 1, 10)?;
        within("queue.max_in_flight", self.queue.max_in_flight, 1, 1000)?;
        if let Some(urgent) = &self.queue.urgent_url {
            url("queue.urgent_url", urgent)?;
            if *urgent == self.queue.url {
                return Err(("queue.urgent_url", "must not be the work queue (queue.url)".into()));
            }
        }
        within("queue.urgent_max_in_flight", self.queue.urgent_max_in_flight, 1, 1000)?;
        within("queue.visibility_timeout_secs", self.queue.visibility_timeout_secs, 1, 43_200)?;
        within("queue.retry_delay_secs", self.queue.retry_delay_secs, 0, 900)?;
        within("queue.requeue_after_receives", self.queue.requeue_after_receives, 1, 1000)?;
        non_empty("incidents.table", &self.incidents.table)?;
        arn("paging.oce_topic_arn", &self.paging.oce_topic_arn, "sns")?;
        arn("paging.iso_topic_arn", &self.paging.iso_topic_arn, "sns")?;
        within("paging.claim_timeout_secs", self.paging.claim_timeout_secs, 5, 3600)?;
        within("daemon.shutdown_grace_secs", self.daemon.shutdown_grace_secs, 0, 60)?;
        within("guardduty.reconcile_interval_secs", self.guardduty.reconcile_interval_secs, 0, 86_400)?;
        within("guardduty.initial_lookback_days", self.guardduty.initial_lookback_days, 0, 90)?;
        within("escalation.ack_timeout_secs", self.escalation.ack_timeout_secs, 0, 86_400)?;
        within("escalation.max_repages", self.escalation.max_repages, 0, 100)?;
        within("escalation.check_interval_secs", self.escalation.check_interval_secs, 1, 3600)?;
        if let Some(portal) = &self.portal {
            portal.validate()?;
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(("log.level", format!("`{}` is not a log filter: {e}", self.log.level)));
        }
        Ok(())
    }
}

/// Sets the key an override variable names; returns the dotted key.
fn apply_override(table: &mut toml::Table, var: &str, value: &str) -> Result<String, String> {
    let name = var.strip_prefix(ENV_PREFIX).unwrap_or(var).to_ascii_lowercase();
    let parts: Vec<&str> = name.split("__").collect();
    let [section, key] = parts[..] else {
        return Err("expected GD_INCIDENTS__<SECTION>__<KEY>, e.g. GD_INCIDENTS__QUEUE__URL".into());
    };
    if section.is_empty() || key.is_empty() {
        return Err("expected GD_INCIDENTS__<SECTION>__<KEY>, e.g. GD_INCIDENTS__QUEUE__URL".into());
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, toml::Value::Datetime(_)))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let entry = table.entry(section.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = entry else {
        return Err(format!("`{section}` is not a section"));
    };
    section_table.insert(key.to_owned(), parsed);
    Ok(format!("{section}.{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_variables_override_and_complete_the_file() {
        let without_table = MINIMAL.replace("table = \"gd-incidents\"", "");
        let env = vars(&[
            ("GD_INCIDENTS__INCIDENTS__TABLE", "from-env"),
            ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "5"),
            ("GD_INCIDENTS__QUEUE__URL", "https://sqs.eu-west-1.amazonaws.com/1/q"),
            ("GD_INCIDENTS__AWS__REGION", "eu-west-1"),
            ("GD_INCIDENTS__LOG__FORMAT", "json"),
            ("GD_INCIDENTS__DAEMON__SHUTDOWN_GRACE_SECS", "10"),
            ("OTHER", "ignored"),
        ]);
        let c = Config::parse_with_env(&without_table, Path::new("gd.toml"), env).unwrap();
        assert_eq!(c.incidents.table, "from-env");
        assert_eq!(c.queue.batch_size, 5);
        assert_eq!(c.queue.url, "https://sqs.eu-west-1.amazonaws.com/1/q");
        assert_eq!(c.aws.region, "eu-west-1");
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.daemon.shutdown_grace_secs, 10);
    }

    #[test]
    fn bad_environment_overrides_name_the_variable() {
        let cases = [
            ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "ten", "queue.batch_size", "GD_INCIDENTS__QUEUE__BATCH_SIZE"),
            ("GD_INCIDENTS__QUEUE__URLL", "x", "queue.urll", "GD_INCIDENTS__QUEUE__URLL"),
            ("GD_INCIDENTS__QUEUE", "x", "GD_INCIDENTS__QUEUE", "expected GD_INCIDENTS__<SECTION>__<KEY>"),
            ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "11", "queue.batch_size", "out of range"),
        ];
        for (var, value, key, says) in cases {
            let err = Config::parse_with_env(MINIMAL, Path::new("gd.toml"), vars(&[(var, value)])).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("key `{key}`")), "{var}: {msg}");
            assert!(msg.contains(says), "{var}: {msg}");
        }
    }

    const MINIMAL: &str = r#"
[aws]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:4566"

[queue]
url = "http://127.0.0.1:4566/000000000000/gd-findings"

[incidents]
table = "gd-incidents"

[paging]
oce_topic_arn = "arn:aws:sns:us-east-1:000000000000:oce"
iso_topic_arn = "arn:aws:sns:us-east-1:000000000000:iso"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("gd.toml"))
    }

    #[test]
    fn minimal_config_gets_safe_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.queue.wait_time_secs, 20);
        assert_eq!(c.queue.batch_size, 10);
        assert_eq!(c.queue.visibility_timeout_secs, 60);
        assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(c.log.format, LogFormat::Auto);
        assert_eq!(c.daemon.shutdown_grace_secs, 15);
        let c = parse(&MINIMAL.replace("endpoint_url = \"http://127.0.0.1:4566\"\n", "")).unwrap();
        assert_eq!(c.aws.endpoint_url, None);
    }

    #[test]
    fn examples_in_config_dir_parse() {
        for file in ["config/localstack.toml", "config/aws.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            Config::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_reason() {
        let cases: &[(&str, String, &str, &str)] = &[
            ("missing key", MINIMAL.replace("table = \"gd-incidents\"", ""), "incidents.table", "missing field"),
            (
                "missing section",
                MINIMAL.replace("[incidents]\ntable = \"gd-incidents\"", ""),
                "incidents",
                "missing field",
            ),
            ("unknown key", MINIMAL.replace("[queue]", "[queue]\nurll = \"x\""), "queue", "unknown field `urll`"),
            ("unknown section", format!("{MINIMAL}\n[extra]\na = 1\n"), "", "unknown field `extra`"),
            (
                "wrong type",
                MINIMAL.replace("[queue]", "[queue]\nbatch_size = \"ten\""),
                "queue.batch_size",
                "invalid type",
            ),
            (
                "out of range",
                MINIMAL.replace("[queue]", "[queue]\nbatch_size = 11"),
                "queue.batch_size",
                "out of range",
            ),
            (
                "negative",
                MINIMAL.replace("[queue]", "[queue]\nwait_time_secs = -1"),
                "queue.wait_time_secs",
                "invalid value",
            ),
            (
                "bad url",
                MINIMAL.replace("url = \"http://127.0.0.1:4566/000000000000/gd-findings\"", "url = \"gd-findings\""),
                "queue.url",
                "not a URL",
            ),
            (
                "bad arn",
                MINIMAL.replace("arn:aws:sns:us-east-1:000000000000:oce", "oce"),
                "paging.oce_topic_arn",
                "not an sns ARN",
            ),
            (
                "bad format",
                MINIMAL.replace("[queue]", "[log]\nformat = \"xml\"\n[queue]"),
                "log.format",
                "unknown variant",
            ),
            (
                "empty table",
                MINIMAL.replace("table = \"gd-incidents\"", "table = \"\""),
                "incidents.table",
                "must not be empty",
            ),
        ];
        for (name, text, key, reason) in cases {
            let err = parse(text).expect_err(name);
            let msg = err.to_string();
            assert!(msg.starts_with("config file gd.toml"), "{name}: {msg}");
            assert!(msg.contains(reason), "{name}: {msg}");
            if !key.is_empty() {
                assert!(
                    msg.contains(&format!("key `{key}`")) || msg.contains(&format!("key `{key}.")),
                    "{name}: {msg}"
                );
            }
        }
    }

    #[test]
    fn routes_and_clients_parse_and_bad_ones_name_the_entry() {
        let routes = r#"
[[paging.routes]]
name = "infra-ops"
topic_arn = "arn:aws:sns:us-east-1:000000000000:infra"
min_level = "HIGH"

[[paging.routes]]
name = "management"
topic_arn = "arn:aws:sns:us-east-1:000000000000:mgmt"
min_level = "CRITICAL"
accounts = ["123456789012"]

[[clients]]
name = "acme"
accounts = ["210987654321"]
topic_arn = "arn:aws:sns:us-east-1:000000000000:acme"
"#;
        let c = parse(&format!("{MINIMAL}{routes}")).unwrap();
        assert_eq!(c.paging.routes.len(), 2);
        assert_eq!(c.paging.routes[1].accounts, vec!["123456789012"]);
        assert_eq!(c.clients[0].min_level, crate::domain::severity::Level::High, "clients default to HIGH");
        let bad = format!("{MINIMAL}{}", routes.replace("min_level = \"CRITICAL\"", "min_level = \"MEDIUM\""));
        let msg = parse(&bad).unwrap_err().to_string();
        assert!(msg.starts_with("config file gd.toml"), "{msg}");
        assert!(msg.contains("key `paging.routes[1].min_level`") && msg.contains("never pages"), "{msg}");
        let bad = format!("{MINIMAL}{}", routes.replace("name = \"acme\"", "name = \"acme\"\ncolour = 1"));
        let msg = parse(&bad).unwrap_err().to_string();
        assert!(msg.contains("clients") && msg.contains("unknown field `colour`"), "{msg}");
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let err = parse("[aws]\nregion = \"us-east-1\"\nthis is not toml\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3") && msg.contains("not valid TOML"), "{msg}");
    }

    #[test]
    fn unreadable_file_names_the_file() {
        let err = Config::load(Path::new("/nonexistent/gd.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/gd.toml"), "{err}");
    }
}
