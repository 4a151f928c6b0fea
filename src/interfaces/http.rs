//! The operator's HTTP endpoint (`[server] listen`): `/healthz` (the process is alive), `/readyz` (it can
//! reach its queue and table), `/metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::adapters::clients::describe;
use crate::telemetry::metrics;

/// How long a readiness answer is reused: load balancers poll often, AWS need not be asked each time.
const READY_CACHE: Duration = Duration::from_secs(5);

/// What `/readyz` checks.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The work queue's client.
    pub sqs: aws_sdk_sqs::Client,
    /// The table's client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The work queue.
    pub queue_url: String,
    /// The incident table.
    pub table: String,
}

impl Readiness {
    /// `Ok` if the queue and the table answer, else what does not.
    pub async fn check(&self) -> Result<(), NotReady> {
        let queue = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send();
        let table = self.dynamodb.describe_table().table_name(&self.table).send();
        let (queue, table) = tokio::join!(queue, table);
        let mut problems = Vec::new();
        if let Err(e) = queue {
            problems.push(format!("queue {}: {}", self.queue_url, describe(&e)));
        }
        if let Err(e) = table {
            problems.push(format!("table {}: {}", self.table, describe(&e)));
        }
        if problems.is_empty() { Ok(()) } else { Err(NotReady(problems)) }
    }
}

/// What the readiness check found unusable: one line per resource, with the SDK error's whole chain.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct NotReady(pub Vec<String>);

/// Why `gd-incidents health` got no status code.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing listens there.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The exchange broke off.
    #[error("talking to {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Something answered, but not HTTP.
    #[error("not an HTTP answer from {addr}: {line:?}")]
    NotHttp {
        /// The address.
        addr: SocketAddr,
        /// The first line it sent.
        line: String,
    },
    /// No answer in time.
    #[error("no answer from {addr} within {limit:?}")]
    Timeout {
        /// The address.
        addr: SocketAddr,
        /// The time given.
        limit: Duration,
    },
}

struct AppState {
    readiness: Readiness,
    last: Mutex<Option<(Instant, Result<(), NotReady>)>>,
}

/// Binds `listen` now (so that a taken port stops the start) and serves until `shutdown`.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, readiness: Readiness, shutdown: CancellationToken) -> std::io::Result<()> {
    let state = Arc::new(AppState { readiness, last: Mutex::new(None) });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut last = state.last.lock().await;
    let fresh = last.as_ref().filter(|(at, _)| at.elapsed() < READY_CACHE).map(|(_, r)| r.clone());
    let result = match fresh {
        Some(r) => r,
        None => {
            let r = state.readiness.check().await;
            *last = Some((Instant::now(), r.clone()));
            r
        }
    };
    match result {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}

async fn metrics_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics::get().encode())
}

/// `GET http://<addr><path>` with a timeout; returns the status code. For `gd-incidents health`, in images
/// without curl.
pub async fn probe(addr: SocketAddr, path: &str, limit: Duration) -> Result<u16, ProbeError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A wildcard listen address is reached on loopback.
    let addr = if addr.ip().is_unspecified() {
        SocketAddr::new(
            if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() },
            addr.port(),
        )
    } else {
        addr
    };
    let exchange = async {
        let mut stream =
            tokio::net::TcpStream::connect(addr).await.map_err(|source| ProbeError::Connect { addr, source })?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|source| ProbeError::Io { addr, source })?;
        // The status line may arrive in pieces: read until it is whole (or the peer closes).
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream.read(&mut buf).await.map_err(|source| ProbeError::Io { addr, source })?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
        line.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or(ProbeError::NotHttp { addr, line })
    };
    tokio::time::timeout(limit, exchange).await.map_err(|_| ProbeError::Timeout { addr, limit })?
}
