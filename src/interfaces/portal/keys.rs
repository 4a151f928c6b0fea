//! The load balancer's public keys: fetched from `<public_key_url>/<kid>` on first use (over hyper with the
//! AWS SDK's rustls, bounded in time and size), kept, and a failure remembered for a while so that unknown
//! `kid`s in forged tokens cannot make every request a request to the key server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;

use super::auth::AuthError;

const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_KEY_BYTES: usize = 16 * 1024;
/// A key that could not be fetched is not asked for again before this long (unknown `kid`s would
/// otherwise turn every forged request into a request to the key server).
const FAILED_KEY_RETRY: Duration = Duration::from_secs(30);
const MAX_CACHED_KEYS: usize = 256;

/// The default base URL of the load balancer's public keys, in the region of its ARN.
pub fn default_key_url(alb_arn: &str) -> String {
    let region = alb_arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or("us-east-1");
    format!("https://public-keys.auth.elb.{region}.amazonaws.com")
}

enum Fetcher {
    Plain(Client<HttpConnector, Empty<Bytes>>),
    Tls(Client<HttpsConnector<HttpConnector>, Empty<Bytes>>),
}

enum Cached {
    Key(Box<VerifyingKey>),
    Failed { at: Instant, why: String },
}

/// The load balancer's public keys, fetched on first use and kept.
pub struct KeyStore {
    base: String,
    fetcher: Fetcher,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("base", &self.base).finish_non_exhaustive()
    }
}

/// The system's CA certificates, needed to fetch the load balancer's keys over HTTPS, cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the system's CA certificates to fetch keys from {base}: {source}")]
pub struct NoTlsRoots {
    /// Where the keys are.
    pub base: String,
    /// Why.
    pub source: std::io::Error,
}

impl KeyStore {
    /// Keys under `base` (`https://...`, or `http://` for tests), over hyper with the AWS SDK's rustls.
    pub fn new(base: &str) -> Result<KeyStore, NoTlsRoots> {
        let fetcher = if base.starts_with("https://") {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|source| NoTlsRoots { base: base.to_owned(), source })?
                .https_only()
                .enable_http1()
                .build();
            Fetcher::Tls(Client::builder(TokioExecutor::new()).build(connector))
        } else {
            Fetcher::Plain(Client::builder(TokioExecutor::new()).build(HttpConnector::new()))
        };
        Ok(KeyStore { base: base.trim_end_matches('/').to_owned(), fetcher, cache: Mutex::new(HashMap::new()) })
    }

    /// The key `kid`, from the cache or fetched.
    pub async fn key(&self, kid: &str) -> Result<VerifyingKey, AuthError> {
        let unavailable = |why: String| AuthError::KeyUnavailable { kid: kid.to_owned(), why };
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(kid) {
                Some(Cached::Key(key)) => return Ok(**key),
                Some(Cached::Failed { at, why }) if at.elapsed() < FAILED_KEY_RETRY => {
                    return Err(unavailable(why.clone()));
                }
                _ => {}
            }
        }
        let result = self.fetch(&format!("{}/{kid}", self.base)).await;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_KEYS {
            cache.retain(|_, c| matches!(c, Cached::Key(_)));
        }
        match result {
            Ok(key) => {
                cache.insert(kid.to_owned(), Cached::Key(Box::new(key)));
                Ok(key)
            }
            Err(why) => {
                tracing::warn!(kid, error = %why, "cannot fetch the load balancer's public key");
                if cache.len() < MAX_CACHED_KEYS {
                    cache.insert(kid.to_owned(), Cached::Failed { at: Instant::now(), why: why.clone() });
                }
                Err(unavailable(why))
            }
        }
    }

    /// Fetches and parses one key; the error is kept as text because a failure is cached and shown again.
    async fn fetch(&self, url: &str) -> Result<VerifyingKey, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad key URL {url}: {e}"))?;
        let request = Request::get(uri)
            .header(header::USER_AGENT, concat!("gd-incidents-portal/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad key request {url}: {e}"))?;
        let exchange = async {
            let response = match &self.fetcher {
                Fetcher::Plain(c) => c.request(request).await,
                Fetcher::Tls(c) => c.request(request).await,
            }
            .map_err(|e| format!("GET {url}: {e}"))?;
            if response.status() != StatusCode::OK {
                return Err(format!("GET {url}: HTTP {}", response.status()));
            }
            Limited::new(response.into_body(), MAX_KEY_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| format!("GET {url}: {e}"))
        };
        let body = tokio::time::timeout(KEY_FETCH_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("GET {url}: no answer within {KEY_FETCH_TIMEOUT:?}"))??;
        let pem = std::str::from_utf8(&body).map_err(|_| format!("{url} is not a PEM text"))?;
        VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| format!("{url} is not a P-256 public key: {e}"))
    }
}
