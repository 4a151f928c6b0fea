//! A wire-compatible AWS WAF (wafv2) endpoint holding IP sets, for `block-ip` (LocalStack's free edition has
//! no WAF): GetIPSet and UpdateIPSet over JSON 1.1, with lock tokens checked as WAF checks them, so a
//! change made with a stale token is refused (`WAFOptimisticLockException`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::http::{Handler, Server, reply};

/// One IP set: its addresses and the token its next change must present.
#[derive(Debug, Clone, Default)]
struct IpSet {
    version: String,
    addresses: Vec<String>,
    lock_token: u64,
}

/// The fake and the IP sets it holds, by name.
pub struct FakeWaf {
    server: Server,
    sets: Arc<Mutex<BTreeMap<String, IpSet>>>,
    account: String,
    region: String,
}

impl FakeWaf {
    /// A fake holding one regional IPv4 set, `name`, with `addresses`, in `account` and `region`.
    pub fn start(name: &str, addresses: &[&str], account: &str, region: &str) -> FakeWaf {
        let sets: Arc<Mutex<BTreeMap<String, IpSet>>> = Arc::default();
        sets.lock().unwrap().insert(
            name.to_owned(),
            IpSet {
                version: "IPV4".into(),
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                lock_token: 1,
            },
        );
        let held = Arc::clone(&sets);
        let handler: Handler = Arc::new(move |req| {
            let sets = Arc::clone(&held);
            Box::pin(async move {
                let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                let (status, answer) = answer(&sets, &target, &request);
                let mut r = reply(status, answer.to_string());
                r.headers_mut().insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
                r
            })
        });
        FakeWaf { server: Server::start("fake-waf", handler), sets, account: account.into(), region: region.into() }
    }

    /// Its address, for `AWS_ENDPOINT_URL_WAFV2`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The ARN of set `name`.
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:wafv2:{}:{}:regional/ipset/{name}/{}", self.region, self.account, id_of(name))
    }

    /// The addresses of set `name` now.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        self.sets.lock().unwrap().get(name).map(|s| s.addresses.clone()).unwrap_or_default()
    }
}

/// Every set's id: derived from its name, as stable as WAF's.
fn id_of(name: &str) -> String {
    format!("{name}-0123456789ab")
}

fn answer(sets: &Mutex<BTreeMap<String, IpSet>>, target: &str, request: &Value) -> (StatusCode, Value) {
    let fault = |kind: &str, message: &str| (StatusCode::BAD_REQUEST, json!({ "__type": kind, "Message": message }));
    let name = request["Name"].as_str().unwrap_or_default();
    let mut sets = sets.lock().unwrap();
    let Some(set) = sets.get_mut(name).filter(|_| request["Id"] == id_of(name).as_str()) else {
        return fault(
            "WAFNonexistentItemException",
            "AWS WAF couldn't perform the operation because your resource doesn't exist.",
        );
    };
    if request["Scope"] != "REGIONAL" {
        return fault("WAFInvalidParameterException", "Scope");
    }
    match target.rsplit('.').next() {
        Some("GetIPSet") => (
            StatusCode::OK,
            json!({
                "IPSet": { "Name": name, "Id": id_of(name), "ARN": "arn", "IPAddressVersion": set.version, "Addresses": set.addresses },
                "LockToken": set.lock_token.to_string(),
            }),
        ),
        Some("UpdateIPSet") => {
            if request["LockToken"] != set.lock_token.to_string().as_str() {
                return fault(
                    "WAFOptimisticLockException",
                    "AWS WAF couldn't save your changes because someone changed the resource after you started to edit it.",
                );
            }
            set.addresses = request["Addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            set.lock_token += 1;
            (StatusCode::OK, json!({ "NextLockToken": set.lock_token.to_string() }))
        }
        _ => fault("UnknownOperationException", target),
    }
}
