//! One CloudFormation stack of the project's template per test (or bench run), deployed with
//! `deploy/deploy-stack.sh`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::localstack::{ensure_localstack, run_script};

/// The outputs of a deployed stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub outputs: HashMap<String, String>,
}

impl Stack {
    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).unwrap_or_else(|| panic!("stack {} has no output {key}: {:?}", self.name, self.outputs))
    }
    pub fn queue_url(&self) -> &str {
        self.output("QueueUrl")
    }
    /// The queue the template's second rule (`detail.severity >= 7`) feeds, if the template has it.
    pub fn urgent_queue_url(&self) -> Option<&str> {
        self.outputs.get("UrgentQueueUrl").map(String::as_str)
    }
    pub fn dlq_url(&self) -> &str {
        self.output("DeadLetterQueueUrl")
    }
    pub fn table(&self) -> &str {
        self.output("IncidentTableName")
    }
    pub fn confidential_table(&self) -> &str {
        self.output("ConfidentialTableName")
    }
    pub fn oce_topic(&self) -> &str {
        self.output("OceTopicArn")
    }
    pub fn iso_topic(&self) -> &str {
        self.output("IsoTopicArn")
    }
}

/// Deploys the project's template as a stack of its own, named after the test.
pub fn deploy_stack(test: &str) -> Stack {
    deploy_named(&format!("t-{}-{}", test.replace('_', "-"), &uuid::Uuid::new_v4().simple().to_string()[..6]))
}

/// Deploys the project's template for `test`, with parameter overrides `params` (`Key=value ...`).
pub fn deploy_stack_with(test: &str, params: &str) -> Stack {
    deploy_as(&format!("t-{}-{}", test.replace('_', "-"), &uuid::Uuid::new_v4().simple().to_string()[..6]), params)
}

/// Deploys the project's template as the stack `name` (its table deletable).
pub fn deploy_named(name: &str) -> Stack {
    deploy_as(name, "")
}

/// Deploys `gd-incidents-forward.yaml` in `region`, forwarding that region's events to `core`'s bus.
pub fn deploy_forwarding(core: &Stack, region: &str) -> Stack {
    let name = format!("{}-fwd", core.name);
    let params = format!("CentralEventBusArn={}", core.output("EventBusArn"));
    let env =
        [("GD_TEMPLATE", "gd-incidents-forward.yaml"), ("AWS_DEFAULT_REGION", region), ("GD_STACK_PARAMS", &params)];
    let out = run_script(Duration::from_secs(600), "deploy/deploy-stack.sh", &[&name], &env);
    let outputs: HashMap<String, String> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("deploy-stack.sh {name} printed no JSON ({e}):\n{out}"));
    Stack { name, outputs }
}

fn deploy_as(name: &str, params: &str) -> Stack {
    ensure_localstack();
    let started = Instant::now();
    let out = run_script(
        Duration::from_secs(600),
        "deploy/deploy-stack.sh",
        &[name],
        &[("GD_STACK_PARAMS", format!("TableDeletionProtection=false {params}").trim())],
    );
    let outputs: HashMap<String, String> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("deploy-stack.sh {name} printed no JSON ({e}):\n{out}"));
    eprintln!("deployed stack {name} in {:.1}s", started.elapsed().as_secs_f64());
    Stack { name: name.to_owned(), outputs }
}
