//! The post-incident report (procedure §3.5: cause, effect, mitigation and lessons learned, shared with the
//! management and the appropriate authorities; §3.6 evidence; §3.7 authorities). Pure: built from the
//! incident, its log and its evidence as stored, and rendered as JSON or Markdown.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::evidence::Evidence;
use crate::domain::follow_up::FollowUp;
use crate::domain::incident::{Classification, Event, Incident, PageState};
use crate::domain::severity::Level;
use crate::domain::sla::{Breach, GoalClock, missed};
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
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn or_dash(v: Option<&str>) -> String {
    v.map(cell).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "not recorded".into())
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not recorded",
    }
}

/// The report as a Markdown document.
pub fn markdown(r: &PostIncidentReport) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("# Post-incident report: {}", cell(&s.title)));
    line(String::new());
    line(format!("Incident `{}`, generated {}.", s.incident_id, r.generated_at));
    if s.confidential {
        line(String::new());
        line("**CONFIDENTIAL staff report (procedure 3.2): share with the information security officer only.**".into());
    }
    line(String::new());
    line("## Summary".into());
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    let rows: Vec<(&str, String)> = vec![
        ("Level", s.level.to_string()),
        ("Status", s.status.clone()),
        ("Source", s.source.clone()),
        ("Finding type", cell(&s.finding_type)),
        ("Finding id", cell(&s.finding_id)),
        ("Account / region", format!("{} / {}", cell(&s.account_id), cell(&s.region))),
        ("Affected resource", cell(&s.resource)),
        ("Description", cell(&s.description)),
        ("GuardDuty severity (highest)", s.max_finding_severity.to_string()),
        ("Count", s.finding_count.to_string()),
        (
            "First seen / last seen",
            format!("{} / {}", or_dash(s.first_seen.as_deref()), or_dash(s.last_seen.as_deref())),
        ),
        ("Created", s.created_at.clone()),
        (
            "Acknowledged",
            match (&s.acknowledged_by, &s.acknowledged_at) {
                (Some(by), Some(at)) => format!("by {} at {at}", cell(by)),
                _ => "no".into(),
            },
        ),
        ("Assignee", or_dash(s.assignee.as_deref())),
        (
            "Classification",
            match &s.classification {
                Some(c) => format!(
                    "{} by {} at {} (was {}): {}",
                    c.level,
                    cell(&c.by),
                    timestamp::format(c.at),
                    c.previous,
                    cell(&c.reason)
                ),
                None => "from the finding".into(),
            },
        ),
        (
            "Closed",
            match (&s.closed_by, &s.closed_at) {
                (Some(by), Some(at)) => format!("by {} at {at}", cell(by)),
                _ => "no".into(),
            },
        ),
        ("Closure notes", or_dash(s.closure_notes.as_deref())),
    ];
    for (k, v) in rows {
        line(format!("| {k} | {v} |"));
    }
    if !r.response.is_empty() {
        line(String::new());
        line(format!("## Response times ({} objectives)", s.level));
        line(String::new());
        line("| Objective | Due | Met | In time |".into());
        line("|---|---|---|---|".into());
        for c in &r.response {
            let met = c.met.map(timestamp::format);
            let in_time = if c.breached {
                "**no**"
            } else if c.met.is_some() {
                "yes"
            } else {
                "open"
            };
            line(format!("| {} | {} | {} | {in_time} |", c.goal, timestamp::format(c.due), or_dash(met.as_deref())));
        }
        for b in &r.breaches {
            line(format!(
                "\n- Missed at {}: {} (due {}, recorded {}).",
                b.level,
                missed(b.goal),
                timestamp::format(b.due),
                timestamp::format(b.recorded_at)
            ));
        }
    }
    line(String::new());
    line("## Timeline".into());
    line(String::new());
    line("| Happened | Recorded | By | Action | Entry |".into());
    line("|---|---|---|---|---|".into());
    for e in &r.timeline {
        line(format!(
            "| {} | {} | {} | {} | {} |",
            e.at,
            e.recorded_at,
            cell(&e.by),
            cell(&e.action),
            cell(&e.summary)
        ));
    }
    for (title, value) in [
        ("Cause", &r.cause),
        ("Lessons learned", &r.lessons_learned),
        ("Mitigations", &r.mitigations),
        ("Cost", &r.cost),
    ] {
        line(String::new());
        line(format!("## {title}"));
        line(String::new());
        line(or_dash(value.as_deref()));
        if title == "Mitigations" {
            line(String::new());
            line("## Follow-up actions".into());
            line(String::new());
            line("| # | Action | Owner | Due | State |".into());
            line("|---|---|---|---|---|".into());
            for f in &r.follow_ups {
                let a = &f.action;
                let state = match (&a.done_by, a.done_at) {
                    (Some(by), Some(at)) => format!("done by {} at {}", cell(by), timestamp::format(at)),
                    _ => f.state.to_owned(),
                };
                line(format!(
                    "| {} | {} | {} | {} | {state} |",
                    a.n,
                    cell(&a.text),
                    cell(&a.owner),
                    timestamp::format(a.due)
                ));
            }
            if r.follow_ups.is_empty() {
                line("| - | none recorded | | | |".into());
            }
        }
        if title == "Cause" {
            line(String::new());
            line("## Effect".into());
            line(String::new());
            line(format!("- Data loss: {}", if r.effect.data_loss { "yes" } else { "no" }));
            line(format!("- Service impact: {}", if r.effect.service_impact { "yes" } else { "no" }));
            line(format!("- Affected resource: {}", cell(&r.effect.affected_resource)));
        }
    }
    line(String::new());
    line("## Evidence".into());
    line(String::new());
    if r.evidence.is_empty() {
        line("No finding versions kept (staff reports have none).".into());
    } else {
        line("| Finding version (updatedAt) | SHA-256 | Verified | Bytes | Kept |".into());
        line("|---|---|---|---|---|".into());
        for e in &r.evidence {
            line(format!(
                "| {} | `{}` | {} | {} | {} |",
                cell(&e.finding_updated_at),
                e.sha256,
                if e.verified { "yes" } else { "NO: MISMATCH" },
                e.bytes,
                e.received_at
            ));
        }
    }
    line(String::new());
    line("## Who was paged".into());
    line(String::new());
    if r.pages.is_empty() {
        line("Nobody (LOW and MEDIUM never page).".into());
    } else {
        line("| Page | To | Level | State | Sent | SNS message id |".into());
        line("|---|---|---|---|---|---|".into());
        for p in &r.pages {
            line(format!(
                "| {} | {} | {} | {} | {} | {} |",
                cell(&p.key),
                cell(&p.target),
                p.level,
                p.state,
                p.sent_at.as_deref().unwrap_or("-"),
                p.message_id.as_deref().map(cell).unwrap_or_else(|| "-".into())
            ));
        }
    }
    line(String::new());
    line("## Authorities, customers and counsel".into());
    line(String::new());
    if r.authorities_required {
        line(format!(
            "- Authorities notified (required for CRITICAL, procedure 3.7): {}",
            yes_no(r.authorities_notified)
        ));
    } else {
        line(format!("- Authorities notified (not required below CRITICAL): {}", yes_no(r.authorities_notified)));
    }
    line(format!("- Affected customers notified: {}", yes_no(r.customers_notified)));
    line(format!("- Legal counsel involved: {}", yes_no(r.legal_counsel)));
    out
}

#[cfg(test)]
mod tests;
