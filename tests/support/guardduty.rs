//! A wire-compatible fake of the GuardDuty API for tests (GuardDuty is emulated neither by LocalStack's free
//! edition nor by moto). It speaks restJson1 as aws-sdk-guardduty 1.154 expects: point the SDK at
//! [`FakeGuardDuty::endpoint`] (`endpoint_url`, or `AWS_ENDPOINT_URL_GUARDDUTY` for a child process).
//!
//! Operations: ListDetectors `GET /detector`, ListFindings `POST /detector/{id}/findings`, GetFindings
//! `POST /detector/{id}/findings/get`, ArchiveFindings `POST /detector/{id}/findings/archive` and
//! UnarchiveFindings `POST /detector/{id}/findings/unarchive`. Anything else answers 404.
//!
//! Findings are stored in their API JSON form, which differs from the EventBridge form in one way that matters:
//! members the model types as `Timestamp` (`resource.s3BucketDetails[].createdAt`, `eksClusterDetails.createdAt`,
//! `lambdaDetails.lastModifiedAt`, `ecsClusterDetails.taskDetails.createdAt/startedAt`, detection signals, ...)
//! are epoch-second numbers; the SDK fails the whole GetFindings call on an ISO string there.
//! [`FakeGuardDuty::put_finding`] refuses such a finding. Finding-level `createdAt`/`updatedAt`,
//! `service.eventFirstSeen`/`eventLastSeen` and `instanceDetails.launchTime` are strings in the model.
//!
//! It is served by the tests' [`Server`], which keeps answering whatever the test thread does. It stops when
//! dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::http::{Handler, Server};

/// The detector id [`api_finding`] writes into the finding's ARN; [`FakeGuardDuty::put_finding`] replaces it
/// with the detector the finding is put into.
pub const PLACEHOLDER_DETECTOR: &str = "00000000000000000000000000000000";

/// GuardDuty's limit on `maxResults` and on the ids of one GetFindings/ArchiveFindings call.
pub const MAX_PAGE: usize = 50;

/// Members the GuardDuty model types as `Timestamp` anywhere inside a finding (aws-sdk-guardduty 1.154:
/// every `expect_timestamp_or_null` reachable from `de_finding`). Nested below the finding's top level they
/// must be numbers; the only same-named string members are the finding's own `createdAt`/`updatedAt`.
const TIMESTAMP_MEMBERS: &[&str] = &[
    "createdAt",
    "updatedAt",
    "lastModifiedAt",
    "startedAt",
    "startTime",
    "endTime",
    "scanStartedAt",
    "scanCompletedAt",
    "firstSeenAt",
    "lastSeenAt",
    "modifiedAt",
    "createdTime",
];

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET /detector`, `POST /detector/d1/findings`, ... (no query string).
    pub request: String,
    /// The query string, if any (`maxResults=2&nextToken=...`).
    pub query: Option<String>,
    /// The JSON body (`null` when there was none).
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Detector ids, in the order they were added.
    detectors: Vec<String>,
    /// Per detector, its findings in the order they were first put.
    findings: HashMap<String, Vec<Value>>,
    /// Every id passed to ArchiveFindings, in call order.
    archived: Vec<String>,
    /// Every ArchiveFindings call's ids.
    archive_calls: Vec<Vec<String>>,
    /// ArchiveFindings calls still to fail with an access error (to test retries).
    failing_archives: usize,
    calls: Vec<Call>,
}

/// The fake GuardDuty endpoint. See the module documentation.
pub struct FakeGuardDuty {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeGuardDuty {
    /// Starts the server on `127.0.0.1` and a free port.
    pub async fn start() -> FakeGuardDuty {
        let state = Arc::new(Mutex::new(State::default()));
        let served = Arc::clone(&state);
        let handler: Handler = Arc::new(move |req| Box::pin(handle(Arc::clone(&served), req)));
        FakeGuardDuty { server: Server::start("fake-guardduty", handler), state }
    }

    /// `http://127.0.0.1:<port>`, for `endpoint_url` or `AWS_ENDPOINT_URL_GUARDDUTY`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Adds a detector (idempotent).
    pub fn add_detector(&self, id: &str) {
        let mut state = self.state();
        if !state.detectors.iter().any(|d| d == id) {
            state.detectors.push(id.to_owned());
            state.findings.entry(id.to_owned()).or_default();
        }
    }

    /// Stores `finding` (API JSON form) under `detector`, adding the detector if needed; a finding with the same
    /// id replaces the stored one (a new version) and keeps its place. Sets `service.detectorId` and the
    /// detector in the ARN to `detector`.
    ///
    /// Panics if a nested `Timestamp` member is a string: the SDK would fail the whole GetFindings call.
    pub fn put_finding(&self, detector: &str, mut finding: Value) {
        check_timestamps(&finding, "", 0);
        let id = finding["id"].as_str().filter(|s| !s.is_empty()).expect("the finding has an `id`").to_owned();
        if let Some(arn) = finding["arn"].as_str() {
            let arn = arn.replace(&format!("detector/{PLACEHOLDER_DETECTOR}/"), &format!("detector/{detector}/"));
            finding["arn"] = Value::String(arn);
        }
        if !finding["service"].is_object() {
            finding["service"] = json!({});
        }
        finding["service"]["detectorId"] = Value::String(detector.to_owned());
        self.add_detector(detector);
        let mut state = self.state();
        let findings = state.findings.entry(detector.to_owned()).or_default();
        match findings.iter_mut().find(|f| f["id"] == id.as_str()) {
            Some(stored) => *stored = finding,
            None => findings.push(finding),
        }
    }

    /// The stored version of a finding, as GetFindings would return it.
    pub fn finding(&self, detector: &str, id: &str) -> Option<Value> {
        self.state().findings.get(detector)?.iter().find(|f| f["id"] == id).cloned()
    }

    /// Every finding id passed to ArchiveFindings, in call order.
    pub fn archived(&self) -> Vec<String> {
        self.state().archived.clone()
    }

    /// Makes the next `calls` ArchiveFindings calls fail with AccessDeniedException.
    pub fn fail_archives(&self, calls: usize) {
        self.state().failing_archives = calls;
    }

    /// Every ArchiveFindings call's ids (those that failed included).
    pub fn archive_calls(&self) -> Vec<Vec<String>> {
        self.state().archive_calls.clone()
    }

    /// Every request as `METHOD path` (no query string), in order.
    pub fn requests(&self) -> Vec<String> {
        self.state().calls.iter().map(|c| c.request.clone()).collect()
    }

    /// Every request with its query and JSON body, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A realistic `Instance` finding (`Backdoor:EC2/C&CActivity.B!DNS`-like, DNS request action) in the form
/// GetFindings returns. `updated_at` is RFC 3339 (`2026-11-20T10:15:30.123Z`); `createdAt` is `count - 1`
/// minutes earlier. An instance finding has no `Timestamp`-typed members (`launchTime` is a string in the
/// model); see [`with_s3_bucket`] for one that has.
#[allow(clippy::too_many_arguments)] // the shape tests ask for, spelled out
pub fn api_finding(
    id: &str,
    account: &str,
    region: &str,
    finding_type: &str,
    severity: f64,
    updated_at: &str,
    count: u64,
    title: &str,
) -> Value {
    let updated = chrono::DateTime::parse_from_rfc3339(updated_at).expect("updated_at is RFC 3339").to_utc();
    let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let created = updated - chrono::Duration::minutes(count.saturating_sub(1).min(1_000_000) as i64);
    let first_seen = created - chrono::Duration::seconds(8);
    let last_seen = updated - chrono::Duration::seconds(43);
    let instance = format!("i-{}", &hex(id)[..17]);
    json!({
        "accountId": account,
        "arn": format!("arn:aws:guardduty:{region}:{account}:detector/{PLACEHOLDER_DETECTOR}/finding/{id}"),
        "createdAt": iso(created),
        "description": format!("EC2 instance {instance} is querying a domain name associated with a known Command & Control server."),
        "id": id,
        "partition": "aws",
        "region": region,
        "resource": {
            "instanceDetails": {
                "availabilityZone": format!("{region}a"),
                "iamInstanceProfile": {
                    "arn": format!("arn:aws:iam::{account}:instance-profile/web-frontend-profile"),
                    "id": "AIPAQZBSMEXAMPLE7T2XQ"
                },
                "imageDescription": "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2023-12-07",
                "imageId": "ami-0c7217cdde317cfec",
                "instanceId": instance,
                "instanceState": "running",
                "instanceType": "m5.large",
                "launchTime": "2026-10-02T07:41:19.000Z",
                "networkInterfaces": [{
                    "ipv6Addresses": [],
                    "networkInterfaceId": "eni-0f1e2d3c4b5a69788",
                    "privateDnsName": "ip-10-20-1-37.ec2.internal",
                    "privateIpAddress": "10.20.1.37",
                    "privateIpAddresses": [{"privateDnsName": "ip-10-20-1-37.ec2.internal", "privateIpAddress": "10.20.1.37"}],
                    "publicDnsName": "ec2-198-51-100-18.compute-1.amazonaws.com",
                    "publicIp": "198.51.100.18",
                    "securityGroups": [{"groupId": "sg-0d4c3b2a190817263", "groupName": "web-frontend-sg"}],
                    "subnetId": "subnet-0a9b8c7d6e5f40312",
                    "vpcId": "vpc-0123456789abcdef0"
                }],
                "productCodes": [],
                "tags": [{"key": "Name", "value": "web-frontend-01"}, {"key": "env", "value": "prod"}]
            },
            "resourceType": "Instance"
        },
        "schemaVersion": "2.0",
        "service": {
            "action": {
                "actionType": "DNS_REQUEST",
                "dnsRequestAction": {
                    "blocked": false,
                    "domain": "update.cdn-telemetry.example",
                    "domainWithSuffix": "cdn-telemetry.example",
                    "protocol": "UDP"
                }
            },
            "additionalInfo": {
                "type": "default",
                "value": "{\"threatListName\":\"ProofPoint\",\"threatName\":\"Backdoor\"}"
            },
            "archived": false,
            "count": count,
            "detectorId": PLACEHOLDER_DETECTOR,
            "eventFirstSeen": iso(first_seen),
            "eventLastSeen": iso(last_seen.max(first_seen)),
            "evidence": {"threatIntelligenceDetails": [{"threatListName": "ProofPoint", "threatNames": ["Backdoor"]}]},
            "resourceRole": "TARGET",
            "serviceName": "guardduty"
        },
        "severity": severity,
        "title": title,
        "type": finding_type,
        "updatedAt": updated_at
    })
}

/// Turns a finding into an `S3Bucket` finding on `bucket`, whose `s3BucketDetails[0].createdAt` is
/// `created_at_epoch_secs` (a JSON number, as the API sends it; fractional seconds allowed).
pub fn with_s3_bucket(mut finding: Value, bucket: &str, created_at_epoch_secs: f64) -> Value {
    finding["resource"] = json!({
        "accessKeyDetails": {
            "accessKeyId": "ASIAQZBSMEXAMPLE3XYZ",
            "principalId": "AROAQZBSMEXAMPLEROLE:session",
            "userName": "data-pipeline-role",
            "userType": "AssumedRole"
        },
        "resourceType": "S3Bucket",
        "s3BucketDetails": [{
            "arn": format!("arn:aws:s3:::{bucket}"),
            "createdAt": created_at_epoch_secs,
            "defaultServerSideEncryption": {"encryptionType": "AES256"},
            "name": bucket,
            "owner": {"id": "4d5a0b6c0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b"},
            "publicAccess": {"effectivePermission": "NOT_PUBLIC"},
            "tags": [{"key": "data", "value": "finance"}],
            "type": "Destination"
        }]
    });
    finding["service"]["action"] = json!({
        "actionType": "AWS_API_CALL",
        "awsApiCallAction": {
            "api": "GetObject",
            "callerType": "Remote IP",
            "remoteIpDetails": {"ipAddressV4": "203.0.113.7", "organization": {"asn": "64500", "asnOrg": "EXAMPLE-NET"}},
            "serviceName": "s3.amazonaws.com"
        }
    });
    finding
}

/// Hex digits derived from a finding id (any text), for plausible resource ids.
fn hex(seed: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(seed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Panics at the first `Timestamp` member nested in the finding that is not a number (or null).
fn check_timestamps(value: &Value, path: &str, depth: usize) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                // `additionalInfo` is an open map the SDK does not model beyond `value`/`type`.
                if depth == 1 && key == "additionalInfo" {
                    continue;
                }
                if depth > 0 && TIMESTAMP_MEMBERS.contains(&key.as_str()) && !(member.is_number() || member.is_null()) {
                    panic!(
                        "`{at}` is {member}: the GuardDuty API sends nested Timestamp members as epoch-second numbers \
                         (aws-sdk-guardduty fails GetFindings otherwise)"
                    );
                }
                check_timestamps(member, &at, depth + 1);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_timestamps(item, &format!("{path}[{i}]"), depth + 1);
            }
        }
        _ => {}
    }
}

// ---- HTTP ---------------------------------------------------------------------------------------------------

type Reply = Response<Full<Bytes>>;

/// An error answer: GuardDuty's status, code and message.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "BadRequestException", message: message.into() }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let bytes = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => return respond(Err(bad_request(format!("unreadable body: {err}")))),
    };
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => v,
            Err(err) => return respond(Err(bad_request(format!("the body is not JSON: {err}")))),
        }
    };
    let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    state.calls.push(Call { request: format!("{method} {path}"), query: query.clone(), body: body.clone() });
    let segments: Vec<String> = path.trim_matches('/').split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let not_found = || ApiError {
        status: StatusCode::NOT_FOUND,
        code: "UnknownOperationException",
        message: format!("the fake GuardDuty does not serve {method} {path}"),
    };
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["detector"]) => list_detectors(&state, query.as_deref()),
        (&Method::POST, ["detector", detector, "findings", rest @ ..]) => {
            if !state.detectors.iter().any(|d| d == detector) {
                Err(bad_request(
                    "The request is rejected because the input detectorId is not owned by the current account.",
                ))
            } else {
                match rest {
                    [] => list_findings(&state, detector, &body),
                    ["get"] => get_findings(&state, detector, &body),
                    ["archive"] => set_archived(&mut state, detector, &body, true),
                    ["unarchive"] => set_archived(&mut state, detector, &body, false),
                    _ => Err(not_found()),
                }
            }
        }
        _ => Err(not_found()),
    };
    respond(result)
}

/// A JSON answer. Errors take GuardDuty's shape: the SDK reads the code from the `x-amzn-ErrorType` header
/// first (then the body's `code`, then `__type`) and the message from `message`.
fn respond(result: Result<Value, ApiError>) -> Reply {
    let (status, body, code) = match result {
        Ok(body) => (StatusCode::OK, body, None),
        Err(e) => (e.status, json!({"__type": e.code, "message": e.message}), Some(e.code)),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert("x-amzn-RequestId", request_id());
    if let Some(code) = code {
        response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    }
    response
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a header value")
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = segment.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

/// `maxResults` (1 to 50, default 50) and the offset a `nextToken` stands for.
fn page(max_results: Option<&Value>, next_token: Option<&Value>) -> Result<(usize, usize), ApiError> {
    let size = match max_results {
        None | Some(Value::Null) => MAX_PAGE,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=50) => n as usize,
            _ => return Err(bad_request(format!("maxResults {v} is not between 1 and {MAX_PAGE}."))),
        },
    };
    let offset = match next_token {
        None | Some(Value::Null) => 0,
        Some(Value::String(t)) if t.is_empty() => 0,
        Some(Value::String(t)) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Err(bad_request(format!("The nextToken {t} is invalid."))),
        },
        Some(other) => return Err(bad_request(format!("The nextToken {other} is invalid."))),
    };
    Ok((size, offset))
}

/// A page of `items` and the token of the next one (absent on the last page).
fn paginate<T: Clone>(items: &[T], size: usize, offset: usize) -> (Vec<T>, Option<String>) {
    let end = offset.saturating_add(size).min(items.len());
    let page = items.get(offset.min(items.len())..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| format!("page-{end}"));
    (page, next)
}

fn list_detectors(state: &State, query: Option<&str>) -> Result<Value, ApiError> {
    let max = query_param(query, "maxResults").map(|m| m.parse::<u64>().map(Value::from).unwrap_or(Value::Bool(false)));
    let token = query_param(query, "nextToken").map(|t| Value::String(percent_decode(t)));
    let (size, offset) = page(max.as_ref(), token.as_ref())?;
    let (ids, next) = paginate(&state.detectors, size, offset);
    let mut body = json!({"detectorIds": ids});
    if let Some(next) = next {
        body["nextToken"] = Value::String(next);
    }
    Ok(body)
}

fn list_findings(state: &State, detector: &str, body: &Value) -> Result<Value, ApiError> {
    let criteria = match body.pointer("/findingCriteria/criterion") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(other) => return Err(bad_request(format!("findingCriteria.criterion {other} is not an object."))),
    };
    let mut matching = Vec::new();
    for finding in state.findings.get(detector).into_iter().flatten() {
        let mut all = true;
        for (attribute, condition) in &criteria {
            all &= matches(finding, attribute, condition)?;
        }
        if all {
            matching.push(finding);
        }
    }
    sort(&mut matching, body.get("sortCriteria"))?;
    let (size, offset) = page(body.get("maxResults"), body.get("nextToken"))?;
    let (findings, next) = paginate(&matching, size, offset);
    let ids: Vec<&Value> = findings.iter().map(|f| &f["id"]).collect();
    let mut reply = json!({"findingIds": ids});
    if let Some(next) = next {
        reply["nextToken"] = Value::String(next);
    }
    Ok(reply)
}

fn get_findings(state: &State, detector: &str, body: &Value) -> Result<Value, ApiError> {
    let ids = finding_ids(body)?;
    let stored = state.findings.get(detector).map(Vec::as_slice).unwrap_or_default();
    let mut found: Vec<&Value> = ids.iter().filter_map(|id| stored.iter().find(|f| f["id"] == id.as_str())).collect();
    sort(&mut found, body.get("sortCriteria"))?;
    Ok(json!({"findings": found}))
}

fn set_archived(state: &mut State, detector: &str, body: &Value, archived: bool) -> Result<Value, ApiError> {
    let ids = finding_ids(body)?;
    if archived && state.failing_archives > 0 {
        state.failing_archives -= 1;
        state.archive_calls.push(ids);
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "AccessDeniedException",
            message: "not authorized to perform guardduty:ArchiveFindings (injected by the test)".into(),
        });
    }
    if let Some(findings) = state.findings.get_mut(detector) {
        for finding in findings.iter_mut().filter(|f| f["id"].as_str().is_some_and(|id| ids.iter().any(|i| i == id))) {
            finding["service"]["archived"] = Value::Bool(archived);
        }
    }
    if archived {
        state.archived.extend(ids.iter().cloned());
        state.archive_calls.push(ids);
    }
    Ok(json!({}))
}

/// `findingIds`: 1 to 50 strings.
fn finding_ids(body: &Value) -> Result<Vec<String>, ApiError> {
    let ids: Option<Vec<String>> = body
        .get("findingIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    match ids {
        None => Err(bad_request("The request is missing the required parameter findingIds.")),
        Some(ids) if ids.is_empty() || ids.len() > MAX_PAGE => Err(bad_request(format!(
            "The request is rejected because findingIds has {} ids; it must have 1 to {MAX_PAGE}.",
            ids.len()
        ))),
        Some(ids) => Ok(ids),
    }
}

/// The value a criterion or sort attribute refers to: a dotted path into the finding; timestamps written as
/// strings (`updatedAt`, `createdAt`, `service.eventFirstSeen`, ...) compare as epoch milliseconds, the unit of
/// the API's criteria.
fn attribute(finding: &Value, name: &str) -> Option<Value> {
    let pointer = format!("/{}", name.replace('.', "/"));
    let value = finding.pointer(&pointer)?;
    match (name, value) {
        ("updatedAt" | "createdAt" | "service.eventFirstSeen" | "service.eventLastSeen", Value::String(t)) => {
            chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| Value::from(t.timestamp_millis()))
        }
        _ => Some(value.clone()),
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `finding` meets one criterion's condition (all the operators in it).
fn matches(finding: &Value, name: &str, condition: &Value) -> Result<bool, ApiError> {
    let Some(condition) = condition.as_object() else {
        return Err(bad_request(format!("The condition of {name} is not an object.")));
    };
    let value = attribute(finding, name);
    let mut result = true;
    for (operator, operand) in condition {
        let holds = match operator.as_str() {
            "eq" | "equals" | "neq" | "notEquals" => {
                let Some(options) = operand.as_array() else {
                    return Err(bad_request(format!("{name}.{operator} is not a list of strings.")));
                };
                let equal = value.as_ref().is_some_and(|v| options.iter().any(|o| as_text(o) == as_text(v)));
                if matches!(operator.as_str(), "eq" | "equals") { equal } else { !equal }
            }
            "matches" | "notMatches" => {
                let Some(patterns) = operand.as_array() else {
                    return Err(bad_request(format!("{name}.{operator} is not a list of strings.")));
                };
                let matched = value.as_ref().is_some_and(|v| patterns.iter().any(|p| glob(&as_text(p), &as_text(v))));
                if operator == "matches" { matched } else { !matched }
            }
            "gt" | "greaterThan" | "gte" | "greaterThanOrEqual" | "lt" | "lessThan" | "lte" | "lessThanOrEqual" => {
                let Some(bound) = operand.as_f64() else {
                    return Err(bad_request(format!("{name}.{operator} is not a number.")));
                };
                match value.as_ref().and_then(Value::as_f64) {
                    None => false,
                    Some(v) => match operator.as_str() {
                        "gt" | "greaterThan" => v > bound,
                        "gte" | "greaterThanOrEqual" => v >= bound,
                        "lt" | "lessThan" => v < bound,
                        _ => v <= bound,
                    },
                }
            }
            other => {
                return Err(bad_request(format!("{name}: the fake GuardDuty does not know the operator {other}.")));
            }
        };
        result &= holds;
    }
    Ok(result)
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (head.len()..=text.len()).any(|i| text.is_char_boundary(i) && glob(tail, &text[i..]))
        }
    }
}

/// Orders by `sortCriteria` (`attributeName`, `orderBy` `ASC`/`DESC`); stable, so ties keep insertion order.
fn sort(findings: &mut [&Value], criteria: Option<&Value>) -> Result<(), ApiError> {
    let Some(criteria) = criteria.filter(|c| !c.is_null()) else { return Ok(()) };
    let Some(name) = criteria.get("attributeName").and_then(Value::as_str) else { return Ok(()) };
    let descending = match criteria.get("orderBy").and_then(Value::as_str) {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => return Err(bad_request(format!("orderBy {other} is not ASC or DESC."))),
    };
    findings.sort_by(|a, b| {
        let (a, b) = (attribute(a, name), attribute(b, name));
        let order = match (a.as_ref().and_then(Value::as_f64), b.as_ref().and_then(Value::as_f64)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => a.as_ref().map(as_text).cmp(&b.as_ref().map(as_text)),
        };
        if descending { order.reverse() } else { order }
    });
    Ok(())
}
