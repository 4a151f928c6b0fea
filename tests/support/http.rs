//! One small HTTP/1 server for the fakes (GuardDuty, the load balancer's key server and proxy) and one small
//! client for what the tests and the bench ask the processes under test.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A handler of a test server.
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// An HTTP/1 server on 127.0.0.1 on a thread of its own with its own runtime, so it keeps answering whatever
/// the test thread does (blocking on a child process, a current-thread runtime, ...); stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(name: &str, handler: Handler) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a Tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let handler = Arc::clone(&handler);
                                tokio::spawn(async move {
                                    let service = service_fn(move |req| {
                                        let reply = handler(req);
                                        async move { Ok::<_, Infallible>(reply.await) }
                                    });
                                    // A client closing its connection mid-request is not the test's concern.
                                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                                });
                            }
                        }
                    }
                });
                // Dropping the runtime here cancels the connections still open.
            })
            .expect("spawn a server thread");
        Server { addr, shutdown: Some(shutdown), thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A plain answer of a handler.
pub fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// A free port on 127.0.0.1 (free when asked; the process under test binds it a moment later).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let at = self.body.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end of the token")].to_owned()
    }
}

/// A small HTTP/1 client.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http { client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()) }
    }
}

/// `application/x-www-form-urlencoded`.
pub fn form(fields: &[(&str, &str)]) -> String {
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl Http {
    /// One request, or what went wrong (no answer within `limit` included).
    pub async fn try_send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
        limit: Duration,
    ) -> Result<Answer, String> {
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).map_err(|e| e.to_string())?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| format!("{method} {url}: {e}"))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.map_err(|e| format!("{method} {url}: {e}"))?.to_bytes();
            Ok(Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
        };
        tokio::time::timeout(limit, exchange).await.map_err(|_| format!("{method} {url}: no answer in {limit:?}"))?
    }

    /// One request that must be answered within 60 s.
    pub async fn send(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Option<String>) -> Answer {
        self.try_send(method, url, headers, body, Duration::from_secs(60)).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// GET with the load balancer's header `token` (none: no header).
    pub async fn get(&self, url: &str, token: Option<&str>) -> Answer {
        let headers: Vec<(&str, &str)> = token.map(|t| ("x-amzn-oidc-data", t)).into_iter().collect();
        self.send(Method::GET, url, &headers, None).await
    }

    /// POST a form with the load balancer's header `token`.
    pub async fn post(&self, url: &str, token: Option<&str>, fields: &[(&str, &str)]) -> Answer {
        let headers: Vec<(&str, &str)> = token.map(|t| ("x-amzn-oidc-data", t)).into_iter().collect();
        self.send(Method::POST, url, &headers, Some(form(fields))).await
    }
}

/// A proxy to `upstream` that answers 503 to each request whose body contains `failing` while `refusals`
/// (counted down by each) is above zero: an AWS service failing one operation for a while in the middle of
/// a sequence of calls.
pub fn failing_proxy(upstream: String, failing: &'static str, refusals: Arc<AtomicUsize>) -> Server {
    let handler: Handler = Arc::new(move |req: Request<Incoming>| {
        let (upstream, refusals) = (upstream.clone(), Arc::clone(&refusals));
        Box::pin(async move {
            let (parts, text) = read(req).await;
            if text.contains(failing) && refusals.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
                let xml = "<Response><Errors><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error></Errors></Response>";
                return reply(StatusCode::SERVICE_UNAVAILABLE, xml);
            }
            forward(&upstream, &parts, text, |answer| answer).await
        })
    });
    Server::start("failing-proxy", handler)
}

/// Changes an answer: (the request's headers, the answer's body) -> the body to give instead.
pub type Edit = Arc<dyn Fn(&hyper::http::HeaderMap, String) -> String + Send + Sync>;

/// A proxy to `upstream` that passes every answer's body through `edit`: an AWS service answering as the
/// real one does only under load (DynamoDB leaving keys of a batch unprocessed, say).
pub fn editing_proxy(upstream: String, edit: Edit) -> Server {
    let handler: Handler = Arc::new(move |req: Request<Incoming>| {
        let (upstream, edit) = (upstream.clone(), Arc::clone(&edit));
        Box::pin(async move {
            let (parts, text) = read(req).await;
            forward(&upstream, &parts, text, |answer| edit(&parts.headers, answer)).await
        })
    });
    Server::start("editing-proxy", handler)
}

/// A request's head and its body as text.
async fn read(req: Request<Incoming>) -> (hyper::http::request::Parts, String) {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    (parts, String::from_utf8_lossy(&body).into_owned())
}

/// Sends a request on to `upstream` with its headers (signature included) and answers with what came back,
/// its body passed through `edit`. Checksum headers are left behind, since the body may change.
async fn forward(
    upstream: &str,
    parts: &hyper::http::request::Parts,
    text: String,
    edit: impl FnOnce(String) -> String,
) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length"))
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let uri = format!("{upstream}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    match Http::default().try_send(parts.method.clone(), &uri, &headers, Some(text), Duration::from_secs(30)).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = answer.headers.get("content-type").cloned();
            let mut r = reply(status, edit(answer.body));
            if let Some(ct) = content_type {
                r.headers_mut().insert("content-type", ct);
            }
            r
        }
        Err(e) => reply(StatusCode::BAD_GATEWAY, e),
    }
}
