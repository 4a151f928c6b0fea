//! The records: an incident, its pages, its closure and classification, its log entries, and the context
//! the pure functions take.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::containment::record::ActionRecord;
use crate::domain::finding::targets::Targets;
use crate::domain::policy::Policy;
use crate::domain::routing::{Routing, Target};
use crate::domain::severity::Level;
use crate::domain::timestamp;

/// Where an incident is in its lifecycle (procedure §3.3-3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created; nobody has acknowledged it yet.
    Open,
    /// A responder has taken it (stops escalation).
    Acknowledged,
    /// Being investigated.
    Investigating,
    /// The exploitation is contained.
    Contained,
    /// Remediated; awaiting closure notes.
    Resolved,
    /// Closed with notes (and, where required, the post-mortem).
    Closed,
    /// Recorded but never paged: a suppression rule matched.
    Suppressed,
}

/// Every status, in lifecycle order.
pub const STATUSES: [Status; 7] = [
    Status::Open,
    Status::Acknowledged,
    Status::Investigating,
    Status::Contained,
    Status::Resolved,
    Status::Closed,
    Status::Suppressed,
];

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Investigating => "investigating",
            Status::Contained => "contained",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Suppressed => "suppressed",
        }
    }

    /// Whether responders still work it (not closed, not suppressed).
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Closed | Status::Suppressed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        STATUSES.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            let all: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).collect();
            format!("`{s}` is not a status: expected one of {}", all.join(", "))
        })
    }
}

/// Where an incident came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A GuardDuty finding.
    #[default]
    Guardduty,
    /// Reported by a member of staff (procedure §3.2).
    Staff,
    /// A GuardDuty Malware Protection scan result that found threats (no GuardDuty finding to archive).
    #[serde(rename = "guardduty-malware-scan")]
    MalwareScan,
    /// An AWS Health event.
    #[serde(rename = "aws.health")]
    Health,
}

/// The state of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageState {
    /// Due, not yet published (or published and not yet recorded).
    Owed,
    /// Published.
    Sent,
    /// Never published: a higher level's page to the same target replaced it before it went out.
    Superseded,
}

/// One page an incident owes or has sent, stored on the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The level the page announces.
    pub level: Level,
    /// Who receives it.
    pub target: Target,
    /// Owed, sent or superseded.
    pub state: PageState,
    /// When it became owed.
    #[serde(with = "timestamp::required")]
    pub owed_at: DateTime<Utc>,
    /// The worker that will publish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// Until when that claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub claim_until: Option<DateTime<Utc>>,
    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub sent_at: Option<DateTime<Utc>>,
    /// SNS's message id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// 0 for the page of reaching the level; n for the n-th re-page of an unacknowledged incident.
    #[serde(default)]
    pub escalation: u32,
    /// For a client's update notice: the status it announces (`contained`, `resolved`, `closed`); `None`
    /// for the page or notice of reaching the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Status>,
    /// n for the pages of the n-th reopening (the finding recurred after close) and their re-pages; 0 else.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopening: u32,
    /// For a notice of a missed response objective: which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<crate::domain::sla::Goal>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The post-mortem and closure of an incident (procedure §3.4-3.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    /// Who closed it.
    pub by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// The investigation and the corrective actions taken.
    pub notes: String,
    /// What caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// What was learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lessons_learned: Option<String>,
    /// Long-term mitigations recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigations: Option<String>,
    /// What it cost, as the responders estimate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_estimate: Option<String>,
    /// Whether a lawyer is involved (attorney-client privilege).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_counsel: Option<bool>,
    /// Whether affected customers were, or must be, notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers_notified: Option<bool>,
    /// Whether the appropriate authorities were notified (procedure §3.7); required for CRITICAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities_notified: Option<bool>,
}

/// A person's decision on an incident's level (procedure §3.3: the OCE identifies the severity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Who decided.
    pub by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// The level decided.
    pub level: Level,
    /// The level before the decision.
    pub previous: Level,
    /// Why, in the person's words.
    pub reason: String,
    /// The highest numeric severity of the finding when the person decided: a later version raises the level
    /// again only with a severity above this.
    pub finding_severity: f64,
}

/// A tracked security incident: the contract's attributes and what a responder needs to see.
///
/// Serialised with the contract's attribute names; the store adds its keys and `record_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Never changes once created.
    pub incident_id: String,
    /// Account of the finding.
    pub account_id: String,
    /// Region of the finding.
    pub region: String,
    /// GuardDuty's finding id.
    pub finding_id: String,
    /// Type of the latest version.
    pub finding_type: String,
    /// The highest level any version had (never lowered by a finding).
    pub severity: Level,
    /// Lifecycle state.
    pub status: Status,
    /// Title of the latest version.
    pub title: String,
    /// Description of the latest version.
    #[serde(default)]
    pub description: String,
    /// When the incident was created.
    #[serde(with = "timestamp::required")]
    pub created_at: DateTime<Utc>,
    /// When the incident was last changed.
    #[serde(with = "timestamp::required")]
    pub updated_at: DateTime<Utc>,
    /// GuardDuty's `service.count` of the latest version.
    pub finding_count: u64,
    /// GuardDuty's numeric severity of the latest version.
    pub finding_severity: f64,
    /// The highest numeric severity any version had.
    pub max_finding_severity: f64,
    /// `updatedAt` of the latest version: with `finding_count`, orders versions.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub finding_updated_at: Option<DateTime<Utc>>,
    /// When the activity was first seen (earliest over versions).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the activity was last seen (latest over versions).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub last_seen: Option<DateTime<Utc>>,
    /// GuardDuty's resource type (`Instance`, `AccessKey`, ...).
    pub resource_type: String,
    /// One line about the affected resource.
    pub resource: String,
    /// What containment can act on, from the latest version of the finding.
    #[serde(default, skip_serializing_if = "Targets::is_empty")]
    pub targets: Targets,
    /// Containment actions requested, carried out and undone (see [`crate::domain::containment`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
    /// The finding in the GuardDuty console.
    pub console_url: String,
    /// The detector that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_id: Option<String>,
    /// For an attack sequence: the signals it was built from (the `FINDING` ones are incidents here too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<crate::domain::finding::Signal>,
    /// Pages owed and sent, by [`page_key`](super::page_key).
    #[serde(default)]
    pub pages: BTreeMap<String, Page>,
    /// A finding, or a person.
    #[serde(default)]
    pub source: Source,
    /// Insider misconduct (procedure §3.2): pages the ISO only, hidden from ordinary lists.
    #[serde(default)]
    pub confidential: bool,
    /// Who reported it, for staff reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
    /// The policy rule that raised the level above what GuardDuty's severity maps to, and why (the
    /// procedure's clause), when one did; cleared when a person classifies the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_by: Option<String>,
    /// Why it is suppressed, when a rule matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_reason: Option<String>,
    /// Who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The person or team handling it (procedure §3.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Data was lost: closing requires the post-mortem.
    #[serde(default)]
    pub data_loss: bool,
    /// Services were impacted: closing requires the post-mortem.
    #[serde(default)]
    pub service_impact: bool,
    /// Set when closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<Closure>,
    /// The latest manual classification, if a person set the level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// The highest level the incident ever had, when a person's classification lowered it since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_severity: Option<Level>,
    /// How often the finding recurred after close and reopened the incident.
    #[serde(default)]
    pub reopenings: u32,
    /// Re-pages sent at the current level because nobody acknowledged.
    #[serde(default)]
    pub escalations: u32,
    /// When the next re-page is due, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub escalate_at: Option<DateTime<Utc>>,
    /// When it reached its current level: its response clock (SLAs) counts from then. `None`: since it was
    /// created.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub level_since: Option<DateTime<Utc>>,
    /// When it was contained (or resolved or closed, if that came first), since it was last (re)opened.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub contained_at: Option<DateTime<Utc>>,
    /// When it was resolved (or closed), since it was last (re)opened.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The response objectives it missed, each recorded once (see [`crate::domain::sla`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<crate::domain::sla::Breach>,
    /// Follow-up actions (procedure §3.1), numbered from 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<crate::domain::follow_up::FollowUp>,
    /// The next response deadline still watched, so the daemon finds the incident then in the index of
    /// what is due ([`Incident::due_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub sla_due_at: Option<DateTime<Utc>>,
    /// Bumped by every write; writes are conditional on it (optimistic concurrency).
    pub version: u64,
}

/// One entry of an incident's append-only log: who did what, when, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it was recorded.
    #[serde(with = "timestamp::required")]
    pub at: DateTime<Utc>,
    /// Who: a person's name, `guardduty`, or `gd-incidents` for the daemon.
    pub by: String,
    /// The verified identity behind `by`, for a person's change: the caller's AWS identity (command line,
    /// from STS `GetCallerIdentity`) or the address the load balancer signed in (portal). `by` is only a
    /// display name; this is who AWS or the identity provider saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What, e.g. `finding.created`, `ack`, `note`, `close`.
    pub action: String,
    /// One line for people.
    pub summary: String,
    /// For timeline notes: when what is described happened (e.g. what the attacker did, and when).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The changed fields before.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub before: serde_json::Value,
    /// The changed fields after.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub after: serde_json::Value,
}

impl Event {
    /// An event with no field changes recorded.
    pub fn new(at: DateTime<Utc>, by: &str, action: &str, summary: impl Into<String>) -> Event {
        Event {
            at,
            by: by.to_owned(),
            actor: None,
            action: action.to_owned(),
            summary: summary.into(),
            occurred_at: None,
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
        }
    }

    /// Who, for people: the display name, and the verified identity in brackets when it says more.
    pub fn who(&self) -> String {
        match &self.actor {
            Some(actor) if actor != &self.by => format!("{} [{actor}]", self.by),
            _ => self.by.clone(),
        }
    }

    /// The same entry, made by the verified identity `actor`.
    pub fn acted_by(mut self, actor: &str) -> Event {
        self.actor = Some(actor.to_owned());
        self
    }

    /// Records the fields that differ between two versions of an incident.
    pub fn with_diff(mut self, before: &Incident, after: &Incident) -> Event {
        let (b, a) = diff(before, after);
        self.before = b;
        self.after = a;
        self
    }
}

/// The fields that differ between two incidents (bookkeeping fields left out), as two JSON objects.
pub fn diff(before: &Incident, after: &Incident) -> (serde_json::Value, serde_json::Value) {
    const SKIP: [&str; 5] = ["version", "updated_at", "pages", "escalate_at", "sla_due_at"];
    let (Ok(serde_json::Value::Object(b)), Ok(serde_json::Value::Object(a))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return (serde_json::Value::Null, serde_json::Value::Null);
    };
    let mut was = serde_json::Map::new();
    let mut now = serde_json::Map::new();
    for key in a.keys().chain(b.keys()) {
        if SKIP.contains(&key.as_str()) || was.contains_key(key) || now.contains_key(key) {
            continue;
        }
        let (old, new) = (b.get(key), a.get(key));
        if old != new {
            was.insert(key.clone(), old.cloned().unwrap_or(serde_json::Value::Null));
            now.insert(key.clone(), new.cloned().unwrap_or(serde_json::Value::Null));
        }
    }
    (serde_json::Value::Object(was), serde_json::Value::Object(now))
}

/// What the caller supplies to the pure functions: the time, and who is acting.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The current time.
    pub now: DateTime<Utc>,
    /// A unique id of this processing attempt: it claims the pages it will publish.
    pub claimant: &'a str,
    /// How long a claim holds before another worker may take over the page.
    pub claim_for: Duration,
    /// Floors and suppressions.
    pub policy: &'a Policy,
    /// Who is re-paged, and when, while nobody acknowledges a HIGH or CRITICAL incident.
    pub escalation: &'a crate::domain::escalation::Escalation,
    /// The response objectives of each level.
    pub slas: &'a crate::domain::sla::Slas,
    /// Work hours, in which LOW and MEDIUM objectives are counted.
    pub hours: &'a crate::domain::work_hours::WorkHours,
    /// Stakeholder routes and clients, besides the OCE and the ISO.
    pub routing: &'a Routing,
}

impl Incident {
    /// An open incident created at `now` with nothing known yet: the base that findings and staff reports fill.
    pub fn open(now: DateTime<Utc>) -> Incident {
        Incident {
            incident_id: String::new(),
            account_id: String::new(),
            region: String::new(),
            finding_id: String::new(),
            finding_type: String::new(),
            severity: Level::Low,
            status: Status::Open,
            title: String::new(),
            description: String::new(),
            created_at: now,
            updated_at: now,
            finding_count: 0,
            finding_severity: 0.0,
            max_finding_severity: 0.0,
            finding_updated_at: None,
            first_seen: None,
            last_seen: None,
            resource_type: String::new(),
            resource: String::new(),
            targets: Targets::default(),
            actions: Vec::new(),
            console_url: String::new(),
            detector_id: None,
            signals: Vec::new(),
            pages: BTreeMap::new(),
            source: Source::Guardduty,
            confidential: false,
            reported_by: None,
            raised_by: None,
            suppressed_reason: None,
            acknowledged_by: None,
            acknowledged_at: None,
            assignee: None,
            data_loss: false,
            service_impact: false,
            closure: None,
            classification: None,
            highest_severity: None,
            reopenings: 0,
            escalations: 0,
            escalate_at: None,
            level_since: None,
            contained_at: None,
            resolved_at: None,
            breaches: Vec::new(),
            follow_ups: Vec::new(),
            sla_due_at: None,
            version: 0,
        }
    }

    /// What containment knows of it.
    pub fn subject(&self) -> crate::domain::containment::Subject<'_> {
        crate::domain::containment::Subject {
            incident_id: &self.incident_id,
            resource: &self.resource,
            confidential: self.confidential,
            targets: &self.targets,
        }
    }

    /// What it is about, while it is open (not closed or suppressed): other open incidents with the same
    /// key concern the same resource. `<account>/ec2/<instance>`, `<account>/s3/<bucket>`,
    /// `<account>/iam/<user or role>`, else `<account>/<resource>`; none for a staff report or an unknown
    /// resource.
    pub fn open_resource_key(&self) -> Option<String> {
        if matches!(self.status, Status::Closed | Status::Suppressed) || self.confidential || self.account_id.is_empty()
        {
            return None;
        }
        let t = &self.targets;
        let what = if let Some(instance) = &t.instance_id {
            format!("ec2/{instance}")
        } else if let Some(object) = &t.object {
            format!("s3/{}", object.bucket)
        } else if let Some(principal) = &t.principal {
            format!("iam/{principal}")
        } else if !self.resource.is_empty() && self.resource != "unknown" && self.source != Source::Staff {
            self.resource.clone()
        } else {
            return None;
        };
        // Index keys hold 2,048 bytes: a longer resource line is cut on a character boundary.
        let mut key = format!("{}/{what}", self.account_id);
        while key.len() > 1_024 {
            key.pop();
        }
        Some(key)
    }

    /// Its follow-up actions overdue at `now`.
    pub fn overdue_follow_ups(&self, now: DateTime<Utc>) -> Vec<&crate::domain::follow_up::FollowUp> {
        self.follow_ups.iter().filter(|f| f.overdue(now)).collect()
    }

    /// Keeps the next response deadline (see [`Incident::sla_due_at`]) after a change.
    pub fn wind_clock(&mut self, ctx: &Ctx) {
        self.sla_due_at = super::clock::next_deadline(self, ctx.slas, ctx.hours);
    }

    /// Notes when the incident became contained or resolved, after its status changed from `before` at
    /// `now`; reopening it starts those over.
    pub fn note_status(&mut self, before: Status, now: DateTime<Utc>) {
        match self.status {
            Status::Contained => {
                self.contained_at.get_or_insert(now);
            }
            Status::Resolved | Status::Closed => {
                self.contained_at.get_or_insert(now);
                self.resolved_at.get_or_insert(now);
            }
            Status::Open | Status::Acknowledged | Status::Investigating if before == Status::Closed => {
                self.contained_at = None;
                self.resolved_at = None;
                self.level_since = Some(now);
            }
            _ => {}
        }
    }

    /// The highest level in the incident's history: a classification down does not lower it (procedure
    /// §3.5: the post-mortem of an incident that was CRITICAL stays required).
    pub fn highest_level(&self) -> Level {
        let previous = self.classification.as_ref().map_or(self.severity, |c| c.previous);
        self.severity.max(self.highest_severity.unwrap_or(self.severity)).max(previous)
    }

    /// The order key of the version last applied.
    pub fn finding_version(&self) -> crate::domain::finding::Version {
        crate::domain::finding::Version { updated_at: self.finding_updated_at, count: self.finding_count }
    }
}
