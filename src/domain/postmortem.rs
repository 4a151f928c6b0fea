//! The post-incident report (procedure §3.5: cause, effect, mitigation and lessons learned, shared with the
//! management and the appropriate authorities; §3.6 evidence; §3.7 authorities). Pure: built from the
//! incident, its log and its evidence as stored, and rendered as JSON or Markdown.

use chrono::{DateTime, Utc};
use serde::Serialize;

mod markdown;

pub use markdown::markdown;

use crate::domain::containment::record::ActionRecord;
use crate::domain::evidence::Evidence;
use crate::domain::follow_up::FollowUp;
use crate::domain::incident::{Classification, Event, Incident, PageState};
use crate::domain::severity::Level;
use crate::domain::sla::{Breach, GoalClock};
use crate::domain::timestamp;

/// The whole document. Serialised as the report's JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostIncidentReport {
    /// When the document was made.
    pub generated_at: String,
    /// What happened, where, and where it stands.
    pub summary: Summary,
    /// The response clock of its level: when each objective was due and when it was met.
    pub response: Vec<GoalClock>,
    /// The objectives it missed, as recorded.
    pub breaches: Vec<Breach>,
    /// The log, ordered by when each entry happened (a note's `occurred_at`, else when it was recorded).
    pub timeline: Vec<TimelineEntry>,
    /// The root cause, as the closing responder gave it.
    pub cause: Option<String>,
    /// What it did.
    pub effect: Effect,
    /// What was learned.
    pub lessons_learned: Option<String>,
    /// Long-term mitigations recommended.
    pub mitigations: Option<String>,
    /// The estimated cost.
    pub cost: Option<String>,
    /// Corrective and preventive actions (procedure §3.1), with their state when the report was made.
    pub follow_ups: Vec<FollowUpEntry>,
    /// The containment actions: who asked, what was done and when, what it changed (snapshots are
    /// evidence too).
    pub containment: Vec<ActionRecord>,
    /// Every version of the finding kept, with its SHA-256 and whether it still verifies.
    pub evidence: Vec<EvidenceEntry>,
    /// Who was paged or notified, at which level, and when.
    pub pages: Vec<PageEntry>,
    /// Whether a lawyer is involved.
    pub legal_counsel: Option<bool>,
    /// Whether affected customers were, or must be, notified.
    pub customers_notified: Option<bool>,
    /// Whether the authorities must be told of this incident (CRITICAL, procedure §3.7).
    pub authorities_required: bool,
    /// Whether they were, as recorded at closure (`None`: not recorded).
    pub authorities_notified: Option<bool>,
}

/// A follow-up action in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpEntry {
    /// The action.
    #[serde(flatten)]
    pub action: FollowUp,
    /// `open`, `overdue` or `done`.
    pub state: &'static str,
}

/// The report's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The incident id.
    pub incident_id: String,
    /// Its title.
    pub title: String,
    /// Its level.
    pub level: Level,
    /// Its status.
    pub status: String,
    /// `guardduty` or `staff`.
    pub source: String,
    /// A confidential staff report (insider misconduct).
    pub confidential: bool,
    /// The finding's type.
    pub finding_type: String,
    /// The finding's id.
    pub finding_id: String,
    /// The account.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// The affected resource.
    pub resource: String,
    /// What GuardDuty or the reporter said.
    pub description: String,
    /// GuardDuty's highest numeric severity.
    pub max_finding_severity: f64,
    /// How often GuardDuty saw it.
    pub finding_count: u64,
    /// When the activity was first seen.
    pub first_seen: Option<String>,
    /// When it was last seen.
    pub last_seen: Option<String>,
    /// When the incident was created.
    pub created_at: String,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When.
    pub acknowledged_at: Option<String>,
    /// Who handled it.
    pub assignee: Option<String>,
    /// A person's decision on the level, if any.
    pub classification: Option<Classification>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When.
    pub closed_at: Option<String>,
    /// The closure notes: the investigation and corrective actions.
    pub closure_notes: Option<String>,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When it happened: the note's `--at`, else when it was recorded.
    pub at: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Who: the display name, with the identity AWS or the identity provider verified in brackets.
    pub by: String,
    /// What kind of entry.
    pub action: String,
    /// The entry.
    pub summary: String,
}

/// What the incident did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// Data was lost.
    pub data_loss: bool,
    /// Services were impacted.
    pub service_impact: bool,
    /// The affected resource.
    pub affected_resource: String,
}

/// One version of the finding kept as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceEntry {
    /// GuardDuty's `updatedAt` of the version.
    pub finding_updated_at: String,
    /// SHA-256 of the version as received.
    pub sha256: String,
    /// Whether the stored bytes still have that hash.
    pub verified: bool,
    /// Size in bytes.
    pub bytes: usize,
    /// When it was kept.
    pub received_at: String,
}

/// One page or notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageEntry {
    /// Its key on the incident, e.g. `HIGH:oce`.
    pub key: String,
    /// Who: `oce`, `iso`, `route:<name>` or `client:<name>`.
    pub target: String,
    /// The level it announced.
    pub level: Level,
    /// `owed`, `sent` or `superseded`.
    pub state: String,
    /// 0, or the n-th re-page.
    pub escalation: u32,
    /// When it became owed.
    pub owed_at: String,
    /// When it was published.
    pub sent_at: Option<String>,
    /// SNS's message id.
    pub message_id: Option<String>,
}

/// Builds the report of `incident` from its response clock, log and evidence, at `now`.
pub fn build(
    incident: &Incident,
    clock: &[GoalClock],
    timeline: &[Event],
    evidence: &[Evidence],
    now: DateTime<Utc>,
) -> PostIncidentReport {
    let ts = |t: Option<DateTime<Utc>>| t.map(timestamp::format);
    let closure = incident.closure.as_ref();
    let mut entries: Vec<(DateTime<Utc>, TimelineEntry)> = timeline
        .iter()
        .map(|e| {
            let at = e.occurred_at.unwrap_or(e.at);
            let entry = TimelineEntry {
                at: timestamp::format(at),
                recorded_at: timestamp::format(e.at),
                by: e.who(),
                action: e.action.clone(),
                summary: e.summary.clone(),
            };
            (at, entry)
        })
        .collect();
    // Stable: entries that happened at the same time stay in the order they were recorded.
    entries.sort_by_key(|(at, _)| *at);
    PostIncidentReport {
        generated_at: timestamp::format(now),
        summary: Summary {
            incident_id: incident.incident_id.clone(),
            title: incident.title.clone(),
            level: incident.severity,
            status: incident.status.as_str().to_owned(),
            source: match incident.source {
                crate::domain::incident::Source::Guardduty => "guardduty".into(),
                crate::domain::incident::Source::Staff => "staff".into(),
                crate::domain::incident::Source::MalwareScan => "guardduty-malware-scan".into(),
                crate::domain::incident::Source::Health => "aws.health".into(),
            },
            confidential: incident.confidential,
            finding_type: incident.finding_type.clone(),
            finding_id: incident.finding_id.clone(),
            account_id: incident.account_id.clone(),
            region: incident.region.clone(),
            resource: incident.resource.clone(),
            description: incident.description.clone(),
            max_finding_severity: incident.max_finding_severity,
            finding_count: incident.finding_count,
            first_seen: ts(incident.first_seen),
            last_seen: ts(incident.last_seen),
            created_at: timestamp::format(incident.created_at),
            acknowledged_by: incident.acknowledged_by.clone(),
            acknowledged_at: ts(incident.acknowledged_at),
            assignee: incident.assignee.clone(),
            classification: incident.classification.clone(),
            closed_by: closure.map(|c| c.by.clone()),
            closed_at: closure.map(|c| timestamp::format(c.at)),
            closure_notes: closure.map(|c| c.notes.clone()),
        },
        response: clock.to_vec(),
        breaches: incident.breaches.clone(),
        timeline: entries.into_iter().map(|(_, e)| e).collect(),
        cause: closure.and_then(|c| c.root_cause.clone()),
        effect: Effect {
            data_loss: incident.data_loss,
            service_impact: incident.service_impact,
            affected_resource: incident.resource.clone(),
        },
        lessons_learned: closure.and_then(|c| c.lessons_learned.clone()),
        mitigations: closure.and_then(|c| c.mitigations.clone()),
        cost: closure.and_then(|c| c.cost_estimate.clone()),
        follow_ups: incident
            .follow_ups
            .iter()
            .map(|f| FollowUpEntry { action: f.clone(), state: f.state(now) })
            .collect(),
        containment: incident.actions.clone(),
        evidence: evidence
            .iter()
            .map(|e| EvidenceEntry {
                finding_updated_at: e.finding_updated_at.clone(),
                sha256: e.sha256.clone(),
                verified: e.verify(),
                bytes: e.body.len(),
                received_at: timestamp::format(e.received_at),
            })
            .collect(),
        pages: incident
            .pages
            .iter()
            .map(|(key, p)| PageEntry {
                key: key.clone(),
                target: p.target.to_string(),
                level: p.level,
                state: match p.state {
                    PageState::Owed => "owed".into(),
                    PageState::Sent => "sent".into(),
                    PageState::Superseded => "superseded".into(),
                },
                escalation: p.escalation,
                owed_at: timestamp::format(p.owed_at),
                sent_at: ts(p.sent_at),
                message_id: p.message_id.clone(),
            })
            .collect(),
        legal_counsel: closure.and_then(|c| c.legal_counsel),
        customers_notified: closure.and_then(|c| c.customers_notified),
        authorities_required: incident.severity == Level::Critical,
        authorities_notified: closure.and_then(|c| c.authorities_notified),
    }
}

/// Text for a Markdown table cell or line: no line breaks, pipes escaped.
#[cfg(test)]
mod tests;
