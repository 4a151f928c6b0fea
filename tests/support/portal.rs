//! Support of the portal tests: the test's own "load balancer" (a P-256 key, the server of its public keys,
//! signed `x-amzn-oidc-data` tokens, and a proxy that signs people in the way an ALB does), and the real
//! `gd-incidents portal` process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

// The portal tests' HTTP names, with the portal's (some binaries use only a few).
use super::config::ConfigText;
use super::http::reply;
#[allow(unused_imports)]
pub use super::http::{Answer, Handler, Http, Server, form, free_addr};
use super::process::Process;
use super::stack::Stack;

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

/// Writes a configuration for `stack` with the `tail` sections, under its own name.
pub fn config(dir: &Path, stack: &Stack, name: &str, tail: &str) -> PathBuf {
    ConfigText::for_tests("", tail).write(dir, stack, name)
}

/// A running `gd-incidents portal`; killed when dropped, its log printed if the test failed.
pub struct PortalProcess {
    pub process: Process,
    pub url: String,
}

impl PortalProcess {
    /// Starts the portal of `config`, listening on `addr`, and waits until it answers `/healthz`.
    pub async fn start(config: &Path, addr: SocketAddr, name: &str) -> PortalProcess {
        PortalProcess::start_with_env(config, addr, name, &[]).await
    }

    /// [`PortalProcess::start`] with extra environment variables.
    pub async fn start_with_env(config: &Path, addr: SocketAddr, name: &str, env: &[(&str, &str)]) -> PortalProcess {
        let mut process = Process::spawn("portal", config, &format!("portal-{name}"), env);
        process.wait_healthy(addr, Duration::from_secs(30)).await;
        PortalProcess { process, url: format!("http://{addr}") }
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited 0, and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (bool, Duration) {
        let (status, took) = self.process.terminate(limit);
        (status.success(), took)
    }

    pub fn log(&self) -> String {
        self.process.log()
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
