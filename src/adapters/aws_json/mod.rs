//! A lean client of the AWS JSON protocol, for the calls the daemon makes for every message: SQS's long-poll
//! receive and batched delete, and DynamoDB's conditional `PutItem` of a new incident (and of evidence and
//! log entries).
//!
//! Why not the SDK there: `perf` of the daemon draining LOW findings put a third of its CPU in the SDK's
//! per-call machinery (the orchestrator and its interceptors, type-erased config bags, the general SigV4
//! signer, a request and response model copied in and out of JSON), for a call whose request the store has
//! already built. This client does what that call needs and no more, with the same policy as every SDK client
//! of the program (`adapters::clients`): credentials from the SDK's chain (kept until near their
//! expiry), the endpoint from the SDK's own rules, retries of throttling and transient faults with
//! exponential backoff and jitter up to `[aws] max_attempts`, a timeout on each attempt and on the call, the
//! `aws_*` metrics of every call, and the test hooks (the call log for the permission test, fault injection).
//! Everything else stays on the SDK.

pub mod credentials;
mod error;
pub mod sigv4;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::adapters::call_log;
use crate::adapters::faults::redirect_for;
use crate::telemetry::metrics::{self, CallLabels};
use credentials::CredentialsCache;
pub use error::CallError;
use error::{error_metadata, expired};

/// Largest answer read, in bytes (DynamoDB's largest is a 16 MB `BatchGetItem`).
const ANSWER_MAX: usize = 16 * 1024 * 1024;
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A service spoken to over the protocol.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// Its name in metrics, the call log and the fault file (as the SDK names it).
    pub name: &'static str,
    /// Its SigV4 signing name.
    pub signing_name: &'static str,
    /// The prefix of its `X-Amz-Target` header.
    pub target_prefix: &'static str,
}

/// DynamoDB.
pub const DYNAMODB: Service =
    Service { name: "DynamoDB", signing_name: "dynamodb", target_prefix: "DynamoDB_20120810" };
/// SQS.
pub const SQS: Service = Service { name: "SQS", signing_name: "sqs", target_prefix: "AmazonSQS" };

/// The retry and timeout policy of every call (the SDK clients' own, from `[aws]`).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff before the first retry (doubled at each, jittered).
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
    /// How long the call may take, retries included.
    pub operation_timeout: Duration,
}

/// The test-only hooks, each off unless its file is configured (see `adapters::faults` and
/// `adapters::call_log`).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// The fault file.
    pub faults: Option<PathBuf>,
    /// The call log.
    pub call_log: Option<PathBuf>,
}

/// A client of one service at one endpoint. Cheap to clone: clones share the connection pool and credentials.
#[derive(Debug, Clone)]
pub struct JsonClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: Service,
    /// `scheme://authority`, no trailing slash.
    base: String,
    /// The authority, as the `Host` header signs it.
    host: String,
    region: String,
    credentials: CredentialsCache,
    http: Http,
    policy: Policy,
    hooks: Hooks,
}

/// The connection pool: TLS for an `https` endpoint, plain HTTP for an `http` one (LocalStack).
#[derive(Debug)]
enum Http {
    Tls(Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>),
    Plain(Client<HttpConnector, Full<Bytes>>),
    /// An `https` endpoint without the system's CA certificates: each call fails saying why.
    NoTls(String),
}

impl JsonClient {
    /// A client of `service` at `endpoint` (`scheme://host[:port]`), signing for `region` with credentials
    /// from `provider`.
    pub fn new(
        service: Service,
        endpoint: &str,
        region: &str,
        provider: Option<aws_credential_types::provider::SharedCredentialsProvider>,
        policy: Policy,
        hooks: Hooks,
    ) -> JsonClient {
        let base = endpoint.trim_end_matches('/').to_owned();
        let host = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest).to_owned();
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let builder = Client::builder(TokioExecutor::new());
        // The CA certificates only for an `https` endpoint (LocalStack's is `http`).
        let http = if !base.starts_with("https://") {
            Http::Plain(builder.build(connector))
        } else {
            match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
                Ok(tls) => Http::Tls(builder.build(tls.https_or_http().enable_http1().wrap_connector(connector))),
                Err(e) => Http::NoTls(format!("cannot load the system's CA certificates: {e}")),
            }
        };
        let credentials = CredentialsCache::new(provider);
        JsonClient {
            inner: Arc::new(Inner { service, base, host, region: region.to_owned(), credentials, http, policy, hooks }),
        }
    }

    /// Calls `operation` with the JSON `body`; the answer's body on success. Retried while the failure is
    /// transient, within the policy's attempts and timeouts.
    pub async fn call(&self, operation: &'static str, body: Vec<u8>) -> Result<Bytes, CallError> {
        self.call_waiting(operation, body, Duration::ZERO).await
    }

    /// As [`JsonClient::call`], for a call that waits `wait` on the service's side (a long poll): each
    /// attempt and the call get that on top of their timeouts, so the wait is not cut short, yet a receive
    /// never hangs for ever (aws-sdk-rust#1094).
    pub async fn call_waiting(
        &self,
        operation: &'static str,
        body: Vec<u8>,
        wait: Duration,
    ) -> Result<Bytes, CallError> {
        let labels = CallLabels { service: self.inner.service.name.to_owned(), operation: operation.to_owned() };
        let started = Instant::now();
        let limit = self.inner.policy.operation_timeout + wait;
        let result = tokio::time::timeout(limit, self.attempts(operation, Bytes::from(body), &labels, wait))
            .await
            .unwrap_or(Err(CallError::Timeout(limit)));
        let m = metrics::get();
        m.aws_calls.get_or_create(&labels).inc();
        m.aws_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            m.aws_errors.get_or_create(&labels).inc();
        }
        result
    }

    async fn attempts(
        &self,
        operation: &str,
        body: Bytes,
        labels: &CallLabels,
        wait: Duration,
    ) -> Result<Bytes, CallError> {
        let policy = &self.inner.policy;
        let limit = policy.attempt_timeout + wait;
        let mut attempt = 1;
        loop {
            metrics::get().aws_attempts.get_or_create(labels).inc();
            let outcome = tokio::time::timeout(limit, self.attempt(operation, body.clone()))
                .await
                .unwrap_or(Err(CallError::Timeout(limit)));
            match outcome {
                Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                    if e.code().is_some_and(expired) {
                        self.inner.credentials.forget().await;
                    }
                    tokio::time::sleep(backoff(policy, attempt, jitter())).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn attempt(&self, operation: &str, body: Bytes) -> Result<Bytes, CallError> {
        let i = &self.inner;
        let credentials = i.credentials.get().await.map_err(CallError::Credentials)?;
        let target = format!("{}.{operation}", i.service.target_prefix);
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let request = sigv4::Request {
            host: &i.host,
            target: &target,
            region: &i.region,
            service: i.service.signing_name,
            amz_date: &amz_date,
        };
        let secret = sigv4::Secret {
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        };
        let authorization = sigv4::authorization(&request, &body, &secret);
        let uri = format!("{}/", self.base_now());
        if let Some(log) = &i.hooks.call_log {
            // Test-only: a failed write loses the line (the permission test would miss it), not the call.
            let _ = call_log::append(log, &call_log::line(i.service.name, operation, &uri, Some(&body), None));
        }
        let mut builder = http::Request::post(&uri)
            .header("content-type", sigv4::CONTENT_TYPE)
            .header("host", &i.host)
            .header("x-amz-date", &amz_date)
            .header("x-amz-target", &target)
            .header("authorization", authorization);
        if let Some(token) = secret.session_token {
            builder = builder.header("x-amz-security-token", token.trim());
        }
        let request = builder.body(Full::new(body)).map_err(|e| CallError::Transport(e.into()))?;
        let response = match &i.http {
            Http::Tls(client) => client.request(request).await,
            Http::Plain(client) => client.request(request).await,
            Http::NoTls(why) => return Err(CallError::Unreachable(format!("{uri}: {why}"))),
        }
        .map_err(|e| CallError::Transport(e.into()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, ANSWER_MAX).collect().await.map_err(CallError::Transport)?.to_bytes();
        if parts.status.is_success() {
            return Ok(body);
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let meta = error_metadata(header("x-amzn-query-error").or(header("x-amzn-errortype")), &body);
        Err(CallError::Service { status: parts.status.as_u16(), meta, body })
    }

    /// The endpoint's base, or where the fault file sends this service now.
    fn base_now(&self) -> String {
        let i = &self.inner;
        let redirect = i.hooks.faults.as_ref().and_then(|file| std::fs::read_to_string(file).ok());
        redirect.and_then(|text| redirect_for(&text, i.service.name)).unwrap_or_else(|| i.base.clone())
    }
}

/// The wait before attempt `attempt + 1`: the initial backoff doubled per attempt made, capped, times
/// `jitter` (0 to 1, so that callers throttled together do not retry together).
fn backoff(policy: &Policy, attempt: u32, jitter: f64) -> Duration {
    let doubled = policy.initial_backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    doubled.min(policy.max_backoff).mul_f64(jitter.clamp(0.0, 1.0))
}

fn jitter() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that takes connections, reads, and never answers; counts the connections.
    async fn silent_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        (url, accepted)
    }

    fn client_of(url: &str, policy: Policy) -> JsonClient {
        let keys = aws_credential_types::Credentials::new("AKID", "secret", None, None, "test");
        let provider = Some(aws_credential_types::provider::SharedCredentialsProvider::new(keys));
        JsonClient::new(DYNAMODB, url, "us-east-1", provider, policy, Hooks::default())
    }

    #[tokio::test]
    async fn a_call_never_answered_ends_at_its_attempt_and_call_timeouts() {
        let (url, accepted) = silent_server().await;
        let attempt_timeout = Duration::from_millis(200);
        let policy = Policy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            attempt_timeout,
            operation_timeout: Duration::from_secs(60),
        };
        let err = client_of(&url, policy).call("GetItem", b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(err, CallError::Timeout(t) if t == attempt_timeout), "{err:?}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3, "each attempt cut off, then retried");

        // The call's own limit ends it however many attempts remain.
        let operation_timeout = Duration::from_millis(500);
        let policy = Policy { max_attempts: 1000, operation_timeout, ..policy };
        let err = client_of(&url, policy).call("GetItem", b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(err, CallError::Timeout(t) if t == operation_timeout), "{err:?}");
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_is_jittered() {
        let policy = Policy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        };
        let full: Vec<u128> = (1..=9).map(|a| backoff(&policy, a, 1.0).as_millis()).collect();
        assert_eq!(full, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(backoff(&policy, 3, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 40, 0.0), Duration::ZERO);
        assert!((0.0..=1.0).contains(&jitter()));
    }
}
