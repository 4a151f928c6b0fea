//! Fault injection for tests of outages: with `[aws] fault_injection_file` set (never in production), every
//! AWS request of a service listed in that file is sent to the address given there instead, e.g.
//!
//! ```text
//! DynamoDB http://127.0.0.1:1      # refused: the SDK retries with backoff, then the call fails
//! SNS http://127.0.0.1:40123       # a server that never answers: the attempt timeout fires
//! ```
//!
//! The file is read at every attempt, so a test starts and ends an outage by writing and removing it. With
//! the key absent (the default) nothing is installed, and nothing from outside can turn it on.

use std::path::PathBuf;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The interceptor that redirects requests while the fault file names their service.
#[derive(Debug, Clone)]
pub struct FaultInjection {
    file: PathBuf,
}

impl FaultInjection {
    /// Faults as `file` says, while it exists.
    pub fn new(file: PathBuf) -> FaultInjection {
        FaultInjection { file }
    }
}

/// Where the fault file sends requests of `service`, if anywhere.
pub fn redirect_for(file_text: &str, service: &str) -> Option<String> {
    file_text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).find_map(|line| {
        let mut parts = line.split_whitespace();
        let (svc, url) = (parts.next()?, parts.next()?);
        (svc == "*" || svc.eq_ignore_ascii_case(service)).then(|| url.trim_end_matches('/').to_owned())
    })
}

impl Intercept for FaultInjection {
    fn name(&self) -> &'static str {
        "FaultInjection"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(text) = std::fs::read_to_string(&self.file) else { return Ok(()) };
        let service = cfg.load::<Metadata>().map(|m| m.service().to_owned()).unwrap_or_default();
        if let Some(base) = redirect_for(&text, &service) {
            let request = context.request_mut();
            let path = request.uri().splitn(4, '/').nth(3).unwrap_or("").to_owned();
            request.set_uri(format!("{base}/{path}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fault_file_names_services_and_addresses() {
        let text = "# outage\nDynamoDB http://127.0.0.1:1/\nsns   http://127.0.0.1:2 # slow\n";
        assert_eq!(redirect_for(text, "DynamoDB").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(redirect_for(text, "SNS").as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(redirect_for(text, "SQS"), None);
        assert_eq!(redirect_for("* http://x", "SQS").as_deref(), Some("http://x"));
        assert_eq!(redirect_for("", "SQS"), None);
    }
}
