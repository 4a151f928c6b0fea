//! Finding events as EventBridge puts them on the queue, made from a fixture: one builder for every version
//! of a finding a test or the bench sends.

use serde_json::{Value, json};

use super::fixture;

/// A GuardDuty finding event; each setter changes one field of its `detail`.
#[derive(Debug, Clone)]
pub struct FindingEvent(pub Value);

impl FindingEvent {
    /// The event of fixture `name` with the finding id `id`.
    pub fn from_fixture(name: &str, id: &str) -> FindingEvent {
        let mut event = fixture(name);
        event["detail"]["id"] = json!(id);
        FindingEvent(event)
    }

    /// A version of finding `id` made from the EC2 backdoor fixture: updated at minute `minute` of
    /// 2026-11-20T10:00Z, seen `count` times, at `severity`.
    pub fn version(id: &str, minute: u32, count: u64, severity: f64) -> FindingEvent {
        FindingEvent::from_fixture("ec2-instance-backdoor", id).minute(minute).count(count).severity(severity)
    }

    /// `updatedAt` at minute `minute` of 2026-11-20T10:00Z.
    pub fn minute(self, minute: u32) -> FindingEvent {
        self.updated_at(&format!("2026-11-20T10:{minute:02}:00.000Z"))
    }

    pub fn updated_at(self, at: &str) -> FindingEvent {
        self.set("updatedAt", json!(at))
    }

    pub fn created_at(self, at: &str) -> FindingEvent {
        self.set("createdAt", json!(at))
    }

    /// `service.count`.
    pub fn count(mut self, count: u64) -> FindingEvent {
        self.0["detail"]["service"]["count"] = json!(count);
        self
    }

    pub fn severity(self, severity: f64) -> FindingEvent {
        self.set("severity", json!(severity))
    }

    pub fn title(self, title: &str) -> FindingEvent {
        self.set("title", json!(title))
    }

    pub fn finding_type(self, finding_type: &str) -> FindingEvent {
        self.set("type", json!(finding_type))
    }

    pub fn account(self, account: &str) -> FindingEvent {
        self.set("accountId", json!(account))
    }

    pub fn arn(self, arn: &str) -> FindingEvent {
        self.set("arn", json!(arn))
    }

    /// Any other member of `detail`.
    pub fn set(mut self, member: &str, value: Value) -> FindingEvent {
        self.0["detail"][member] = value;
        self
    }

    /// The finding's id.
    pub fn id(&self) -> &str {
        self.0["detail"]["id"].as_str().unwrap_or_default()
    }

    /// The message body.
    pub fn body(&self) -> String {
        self.0.to_string()
    }
}
