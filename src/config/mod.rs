//! The daemon's configuration file (TOML): typed, every unknown key refused, every optional key with a safe
//! default. Errors name the file, the key and what is wrong.

mod aws;
mod containment;
mod error;
mod guardduty;
mod paging;
mod portal;
mod process;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde::Deserialize;

pub use self::aws::{AwsConfig, IncidentsConfig, QueueConfig};
pub use self::containment::ContainmentConfig;
pub use self::error::{ConfigError, OverrideError};
pub use self::guardduty::{DetectorConfig, GuardDutyConfig};
pub use self::paging::{EscalationConfig, PagingConfig};
pub use self::portal::PortalConfig;
pub use self::process::{DaemonConfig, LogConfig, LogFormat, ServerConfig};
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
    /// Level floors (the procedure's High list by default), suppressions, types kept closed.
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
    /// `[sla]`: how soon each level must be acknowledged, contained and resolved.
    #[serde(default)]
    pub sla: crate::domain::sla::Slas,
    /// `[work_hours]`: when people work (LOW and MEDIUM objectives count work time only).
    #[serde(default)]
    pub work_hours: crate::domain::work_hours::WorkHours,
    /// `[containment]`: the role containment actions run under.
    #[serde(default)]
    pub containment: ContainmentConfig,
    /// `[test_hooks]`: for tests only.
    #[serde(default)]
    pub test_hooks: TestHooks,
}

/// `[test_hooks]`: what tests use to drive the program; never set in production.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestHooks {
    /// A file holding seconds to add to the system clock, read at every use (`src/services/clock.rs`).
    #[serde(default)]
    pub clock_offset_file: Option<std::path::PathBuf>,
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
                    reason: reason.to_string(),
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

    /// The escalation path of every level: `[[escalation.paths]]`, else the default path of
    /// `ack_timeout_secs` and `max_repages`. Checked when the configuration is loaded.
    pub fn escalation_paths(&self) -> Result<crate::domain::escalation::Escalation, String> {
        let every = match self.escalation.ack_timeout_secs {
            0 => None,
            s => Some(chrono::Duration::seconds(i64::try_from(s).unwrap_or(86_400))),
        };
        crate::domain::escalation::Escalation::new(
            &self.escalation.paths,
            every,
            self.escalation.max_repages,
            &self.routing(),
        )
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
        if let Some(confidential) = &self.incidents.confidential_table {
            non_empty("incidents.confidential_table", confidential)?;
            if *confidential == self.incidents.table {
                return Err((
                    "incidents.confidential_table",
                    "must not be the incident table (incidents.table)".into(),
                ));
            }
        }
        arn("paging.oce_topic_arn", &self.paging.oce_topic_arn, "sns")?;
        arn("paging.iso_topic_arn", &self.paging.iso_topic_arn, "sns")?;
        within("paging.claim_timeout_secs", self.paging.claim_timeout_secs, 5, 3600)?;
        match (&self.paging.portal_url, &self.paging.ack_link_key) {
            (Some(u), Some(key)) => {
                url("paging.portal_url", u)?;
                if key.len() < crate::domain::ack_link::MIN_KEY_LEN {
                    return Err(("paging.ack_link_key", format!("is {} characters long: use at least 32", key.len())));
                }
            }
            (Some(_), None) => return Err(("paging.ack_link_key", "missing: portal_url needs the links' key".into())),
            (None, Some(_)) => {
                return Err(("paging.portal_url", "missing: ack_link_key needs the portal's address".into()));
            }
            (None, None) => {}
        }
        within("daemon.shutdown_grace_secs", self.daemon.shutdown_grace_secs, 0, 60)?;
        within("daemon.heartbeat_secs", self.daemon.heartbeat_secs, 0, 3600)?;
        within("daemon.figures_interval_secs", self.daemon.figures_interval_secs, 0, 86_400)?;
        within("daemon.worker_threads", self.daemon.worker_threads, 1, 64)?;
        within("guardduty.reconcile_interval_secs", self.guardduty.reconcile_interval_secs, 0, 86_400)?;
        within("guardduty.initial_lookback_days", self.guardduty.initial_lookback_days, 0, 90)?;
        within("escalation.ack_timeout_secs", self.escalation.ack_timeout_secs, 0, 86_400)?;
        within("escalation.max_repages", self.escalation.max_repages, 0, 100)?;
        within("escalation.check_interval_secs", self.escalation.check_interval_secs, 1, 3600)?;
        within("containment.check_interval_secs", self.containment.check_interval_secs, 0, 3600)?;
        self.containment.validate()?;
        self.escalation_paths().map_err(|e| ("escalation.paths", e))?;
        self.sla.validate().map_err(|e| ("sla", e))?;
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
fn apply_override(table: &mut toml::Table, var: &str, value: &str) -> Result<String, OverrideError> {
    let name = var.strip_prefix(ENV_PREFIX).unwrap_or(var).to_ascii_lowercase();
    let parts: Vec<&str> = name.split("__").collect();
    let [section, key] = parts[..] else {
        return Err(OverrideError::Shape);
    };
    if section.is_empty() || key.is_empty() {
        return Err(OverrideError::Shape);
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, toml::Value::Datetime(_)))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let entry = table.entry(section.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = entry else {
        return Err(OverrideError::NotASection { section: section.to_owned() });
    };
    section_table.insert(key.to_owned(), parsed);
    Ok(format!("{section}.{key}"))
}
