//! Support of the portal tests: the test's own "load balancer" (a P-256 key, the server of its public keys,
//! signed `x-amzn-oidc-data` tokens, and a proxy that signs people in the way an ALB does), the real
//! `gd-incidents portal` process, and a small HTTP client.
//!
//! Use it from a test file with `mod common; mod portal_common;`.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::common::{Stack, spawn_gd, write_config_with};

/// The load balancer the portals under test trust.
pub const ALB_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/gd-portal-test/50dc6c495c0c9188";
/// Its key id.
pub const KID: &str = "5f0e9a2c-6c1d-4f7b-9a51-0c2f7e3d8b14";

/// The people of the tests: configured as `[portal] responders` and `iso`, or not (staff).
pub const STAFF: &str = "sam.staff@example.com";
pub const OTHER_STAFF: &str = "olga.staff@example.com";
pub const RESPONDER: &str = "rita.responder@example.com";
pub const ISO: &str = "ivy.iso@example.com";

/// A handler of a test server.
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// An HTTP/1 server on 127.0.0.1 on a thread of its own with its own runtime (it keeps answering whatever
/// the test thread does); stops when dropped.
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
                                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                                });
                            }
                        }
                    }
                });
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

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// The test's load balancer: its signing key, and the server of its public keys (as
/// `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>` serves them: a PEM public key).
pub struct Alb {
    pub key: SigningKey,
    pub keys: Server,
    /// Requests per path the key server answered.
    pub hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Alb {
    pub fn start() -> Alb {
        let key = SigningKey::generate();
        let pem = key.verifying_key().to_public_key_pem(LineEnding::LF).expect("PEM of the public key");
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = Arc::clone(&hits);
        let handler: Handler = Arc::new(move |req| {
            let path = req.uri().path().to_owned();
            *counted.lock().unwrap().entry(path.clone()).or_default() += 1;
            let pem = pem.clone();
            Box::pin(async move {
                if req.method() == Method::GET && path == format!("/{KID}") {
                    reply(StatusCode::OK, pem)
                } else {
                    reply(StatusCode::NOT_FOUND, "no such key")
                }
            })
        });
        Alb { key, keys: Server::start("alb-keys", handler), hits }
    }

    /// How often the portal fetched a key.
    pub fn key_fetches(&self, kid: &str) -> usize {
        self.hits.lock().unwrap().get(&format!("/{kid}")).copied().unwrap_or_default()
    }

    /// A valid token for `email`, as the load balancer makes it (padded base64url).
    pub fn token(&self, email: &str) -> String {
        sign(&self.key, &header(), &claims(email, 120))
    }
}

/// The load balancer's JWT header.
pub fn header() -> Value {
    json!({"typ": "JWT", "kid": KID, "alg": "ES256", "iss": "https://idp.example.com", "client": "portal",
           "signer": ALB_ARN, "exp": now() + 120})
}

/// The load balancer's claims for `email`, expiring `secs` from now (negative: in the past).
pub fn claims(email: &str, secs: i64) -> Value {
    json!({"sub": format!("sub-{email}"), "email": email, "email_verified": "true", "exp": now() + secs,
           "iss": "https://idp.example.com"})
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// base64url with `=` padding, as the load balancer writes its tokens.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// An ES256 token of `header` and `claims` signed with `key`.
pub fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
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
    pub async fn send(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Option<String>) -> Answer {
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
        let resp = tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
            .unwrap_or_else(|_| panic!("{method} {url}: no answer in 60 s"))
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
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

/// The `[portal]` section of the tests: ALB mode with the test's key server.
pub fn portal_section(listen: SocketAddr, keys: &str) -> String {
    format!(
        r#"[portal]
listen = "{listen}"
alb_arn = "{ALB_ARN}"
public_key_url = "{keys}"
responders = ["{RESPONDER}"]
iso = ["{ISO}"]
"#
    )
}

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Writes a configuration for `stack` with the `tail` sections, under its own name.
pub fn config(dir: &Path, stack: &Stack, name: &str, tail: &str) -> PathBuf {
    let written = write_config_with(dir, stack, "", tail);
    let path = dir.join(format!("{name}.toml"));
    std::fs::rename(&written, &path).expect("rename config");
    path
}

/// A running `gd-incidents portal`; killed when dropped, its log printed if the test failed.
pub struct PortalProcess {
    child: Option<Child>,
    log: PathBuf,
    pub url: String,
    pub name: String,
}

impl PortalProcess {
    /// Starts the portal of `config`, listening on `addr`, and waits until it answers `/healthz`.
    pub async fn start(config: &Path, addr: SocketAddr, name: &str) -> PortalProcess {
        let log = config.with_extension(format!("{name}.log"));
        let child = spawn_gd("portal", config, &log, &[]);
        let mut p = PortalProcess { child: Some(child), log, url: format!("http://{addr}"), name: name.into() };
        let http = Http::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = p.child.as_mut().map(|c| c.try_wait()) {
                panic!("portal {name} exited with {status}:\n{}", p.log());
            }
            let up = tokio::net::TcpStream::connect(addr).await.is_ok();
            if up && http.get(&format!("{}/healthz", p.url), None).await.status == 200 {
                return p;
            }
            assert!(Instant::now() < deadline, "portal {name} did not answer within 30 s:\n{}", p.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited 0, and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (bool, Duration) {
        let child = self.child.as_mut().expect("running");
        let started = Instant::now();
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM").success();
        assert!(ok, "could not signal the portal");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return (status.success(), started.elapsed());
            }
            assert!(started.elapsed() < limit, "the portal did not exit within {limit:?} of SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- log of portal {} ----\n{}", self.name, self.log());
        }
    }
}

/// What the load balancer does for a signed-in person, in front of a portal: drops any
/// `x-amzn-oidc-data` the client sent and adds a freshly signed one for `email`. A browser pointed at
/// [`Proxy::url`] is that person.
pub struct Proxy {
    pub server: Server,
    pub email: String,
}

impl Proxy {
    pub fn start(alb: &Alb, email: &str, upstream: &str) -> Proxy {
        let key = alb.key.clone();
        let who = email.to_owned();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let handler: Handler = Arc::new(move |req: Request<Incoming>| {
            let (key, who, upstream, client) = (key.clone(), who.clone(), upstream.clone(), client.clone());
            Box::pin(async move {
                let (mut parts, body) = req.into_parts();
                let body = match body.collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) => return reply(StatusCode::BAD_GATEWAY, format!("proxy: {e}")),
                };
                let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
                parts.uri = match format!("{upstream}{path}").parse() {
                    Ok(u) => u,
                    Err(e) => return reply(StatusCode::BAD_GATEWAY, format!("proxy: {e}")),
                };
                parts.headers.remove("x-amzn-oidc-data");
                parts.headers.remove("host");
                let token = sign(&key, &header(), &claims(&who, 120));
                parts.headers.insert("x-amzn-oidc-data", HeaderValue::from_str(&token).expect("token header"));
                match client.request(Request::from_parts(parts, Full::new(body))).await {
                    Ok(resp) => {
                        let (parts, body) = resp.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        Response::from_parts(parts, Full::new(body))
                    }
                    Err(e) => reply(StatusCode::BAD_GATEWAY, format!("proxy: {e}")),
                }
            })
        });
        Proxy { server: Server::start("alb-proxy", handler), email: email.into() }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// The incident id of a `/incidents/<id>?done=...` redirect.
pub fn redirected_id(answer: &Answer) -> String {
    assert_eq!(answer.status, 303, "expected a redirect: {}\n{}", answer.status, answer.body);
    let location = answer.header("location");
    let rest = location.strip_prefix("/incidents/").unwrap_or_else(|| panic!("redirect to {location}"));
    rest.split('?').next().unwrap_or_default().to_owned()
}
