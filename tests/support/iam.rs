//! The permission check LocalStack cannot fool: the calls a process recorded (`[aws] call_log_file`) and the
//! requests a test asks about, evaluated offline against the IAM policies of a role in the deployment
//! templates by `tests/iam/check.mjs` (AWS's evaluation logic, from `@cloud-copilot/iam-simulate`). Its
//! packages are installed here, from `tests/iam/package-lock.json`, the first time they are needed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::repo;

static INSTALL: Mutex<()> = Mutex::new(());

/// Installs the checker's packages unless they are there.
fn ensure_installed() -> PathBuf {
    let dir = repo().join("tests/iam");
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("node_modules/@cloud-copilot/iam-simulate").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("run npm (Node.js and npm are needed for the permission check)");
        assert!(out.status.success(), "npm ci in tests/iam failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// One stack of a check: a template of `deploy/cloudformation`, the stack name and its parameters.
pub struct StackSpec {
    pub template: &'static str,
    pub name: String,
    pub parameters: Value,
}

/// One evaluated request.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action: String,
    pub resource: String,
    /// `Allowed`, `ImplicitlyDenied` or `ExplicitlyDenied`.
    pub decision: String,
    /// The call it came from (`DynamoDB.UpdateItem`), or `asked`.
    pub call: String,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.decision == "Allowed"
    }
}

/// A request to evaluate that no call made: an action on a resource, with the partition key a DynamoDB
/// request acts on, or the service a KMS request comes through.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub action: String,
    pub resource: String,
    pub leading_key: Option<String>,
    pub via_service: Option<String>,
    /// The tag keys of a request that tags (`aws:TagKeys`).
    pub tag_keys: Vec<String>,
}

impl From<(&str, &str)> for Ask {
    fn from((action, resource): (&str, &str)) -> Ask {
        Ask { action: action.into(), resource: resource.into(), ..Ask::default() }
    }
}

impl From<&(&str, &str)> for Ask {
    fn from(pair: &(&str, &str)) -> Ask {
        Ask::from(*pair)
    }
}

/// Evaluates the calls of `calls` (a call log, possibly absent) and the `asks` against the role `role` (a
/// logical id; `A+B` for a person holding managed policies A and B) of stack `role_stack` of `stacks`, in
/// `account` and `region`.
pub fn check<A: Into<Ask> + Clone>(
    account: &str,
    region: &str,
    stacks: &[StackSpec],
    (role_stack, role): (usize, &str),
    calls: Option<&Path>,
    asks: &[A],
) -> Vec<Decision> {
    let asks: Vec<Ask> = asks.iter().cloned().map(Into::into).collect();
    let dir = ensure_installed();
    let spec = json!({
        "account": account,
        "region": region,
        "stacks": stacks.iter().map(|s| json!({
            "template": repo().join("deploy/cloudformation").join(s.template),
            "name": s.name,
            "parameters": s.parameters,
        })).collect::<Vec<_>>(),
        "role": { "stack": role_stack, "logical": role },
        "calls": calls,
        "asks": asks.iter().map(|a| json!({
            "action": a.action,
            "resource": a.resource,
            "leadingKey": a.leading_key,
            "viaService": a.via_service,
            "tagKeys": (!a.tag_keys.is_empty()).then_some(&a.tag_keys),
        })).collect::<Vec<_>>(),
    });
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), spec.to_string()).expect("write the check's spec");
    let out = Command::new("node").arg(dir.join("check.mjs")).arg(file.path()).output().expect("run node");
    assert!(out.status.success(), "the IAM check failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).expect("the check prints JSON");
    let errors = &result["errors"];
    assert!(errors.as_array().is_some_and(Vec::is_empty), "requests the evaluator could not evaluate: {errors:#}");
    result["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| Decision {
            action: d["action"].as_str().unwrap_or_default().to_owned(),
            resource: d["resource"].as_str().unwrap_or_default().to_owned(),
            decision: d["decision"].as_str().unwrap_or_default().to_owned(),
            call: d["call"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}
