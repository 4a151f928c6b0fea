//! An incident's page (what the reporter sees, and the responders' work view with its actions) and one
//! version of its evidence.

use super::{Chrome, Problem, layout};
use super::{POST_MORTEM_FIELDS, csrf_field, level, problem_box, source, status, when, when_opt};
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident, Status};
use crate::domain::incident::{PageState, Source};
use crate::domain::lifecycle;
use crate::domain::severity::LEVELS;
use crate::interfaces::portal::access::Access;
use crate::interfaces::portal::forms::ActionForm;
use maud::{Markup, html};

/// Everything the incident page shows.
#[derive(Debug)]
pub struct IncidentPage<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// What the person may do with it.
    pub access: Access,
    /// Its response clock (empty for a reporter).
    pub clock: &'a [crate::domain::sla::GoalClock],
    /// Its log, oldest first (empty for a reporter).
    pub timeline: &'a [Event],
    /// The versions of its finding (empty for a reporter).
    pub evidence: &'a [Evidence],
    /// The attack sequences its finding is part of (empty for a reporter).
    pub sequences: &'a [crate::adapters::dynamodb::SequenceLink],
    /// For an attack sequence: the incidents of its signals, by signal uid (empty for a reporter).
    pub signal_incidents: &'a [(String, Incident)],
    /// Other open incidents about the same resource (empty for a reporter).
    pub same_resource: &'a [Incident],
    /// What the daemon's `[containment]` settings add to containment plans.
    pub reach: crate::domain::containment::Reach<'a>,
    /// What the last action did.
    pub notice: Option<String>,
    /// Why the last action was refused.
    pub problem: Option<Problem>,
    /// The refused form's values, to fill in again.
    pub draft: ActionForm,
    /// The action the problem is about.
    pub failed_action: Option<String>,
}

/// The incident page.
pub fn incident_page(chrome: &Chrome<'_>, page: &IncidentPage<'_>) -> Markup {
    let i = page.incident;
    layout(
        Some(chrome),
        chrome.dev,
        &i.title,
        html! {
            h1 { (level(i.severity)) " " (i.title) }
            @if i.confidential {
                p.confidential { "CONFIDENTIAL staff report: for the information security officer only. Do not discuss it with other staff (procedure §3.2)." }
            }
            @if let Some(n) = &page.notice { div.notice role="status" { (n) } }
            (problem_box(page.problem.as_ref()))
            @match page.access {
                Access::Reporter => (reporter_view(i)),
                Access::Work => (work_view(chrome, page)),
            }
        },
    )
}

pub(super) fn reporter_view(i: &Incident) -> Markup {
    html! {
        div.card {
            p.hint { "You reported this incident. The responders' working notes are not shown here." }
            dl.details {
                dt { "Status" } dd { (status(i.status)) }
                dt { "Level" } dd { (level(i.severity)) }
                dt { "Reported" } dd { (when(i.created_at)) }
                dt { "Description" } dd { (i.description) }
                dt { "Acknowledged" } dd { @if i.acknowledged_at.is_some() { "yes, " (when_opt(i.acknowledged_at)) } @else { "not yet" } }
                dt { "Incident id" } dd.mono { (i.incident_id) }
                @if let Some(c) = &i.closure { dt { "Closed" } dd { (when(c.at)) } }
            }
        }
    }
}

pub(super) fn work_view(chrome: &Chrome<'_>, page: &IncidentPage<'_>) -> Markup {
    let i = page.incident;
    let required = lifecycle::post_mortem_required(i);
    html! {
        div.card {
            dl.details {
                dt { "Status" } dd { (status(i.status)) }
                dt { "Level" } dd { (level(i.severity)) @if i.source == Source::Guardduty { " (GuardDuty severity " (i.finding_severity) ", highest " (i.max_finding_severity) ")" } }
                dt { "Incident id" } dd.mono { (i.incident_id) }
                dt { "Source" } dd { (source(i)) ": " span.mono { (i.finding_type) } }
                @if i.source == Source::Guardduty {
                    dt { "Finding" } dd.mono { (i.finding_id) }
                    dt { "Account / region" } dd { (i.account_id) " / " (i.region) }
                }
                dt { "Affected resource" } dd { (i.resource) @if !i.resource_type.is_empty() { " (" (i.resource_type) ")" } }
                dt { "Description" } dd { (i.description) }
                dt { "First seen / last seen" } dd { (when_opt(i.first_seen)) " / " (when_opt(i.last_seen)) }
                dt { "Count" } dd { (i.finding_count) }
                dt { "Created / updated" } dd { (when(i.created_at)) " / " (when(i.updated_at)) }
                @if let Some(by) = &i.reported_by { dt { "Reported by" } dd { (by) } }
                @if let Some(rule) = &i.raised_by { dt { "Level raised by" } dd { (rule) } }
                @for s in page.sequences {
                    dt { "Part of attack sequence" }
                    dd { a href=(format!("/incidents/{}", s.sequence_incident_id)) { (s.sequence_type) } }
                }
                @if !i.signals.is_empty() {
                    dt { "Attack sequence signals" }
                    dd { ul { @for s in &i.signals {
                        li {
                            span.mono { (s.kind) } " " (s.name) " " span.mono { (s.uid) }
                            @if let Some((_, linked)) = page.signal_incidents.iter().find(|(uid, _)| uid == &s.uid) {
                                " · " a href=(format!("/incidents/{}", linked.incident_id)) { "its incident" } " (" (linked.status.as_str()) ")"
                            }
                        }
                    } } }
                }
                @if !page.same_resource.is_empty() {
                    dt { "Same resource, also open" }
                    dd { ul { @for other in page.same_resource {
                        li {
                            a href=(format!("/incidents/{}", other.incident_id)) { (other.severity.as_str()) " " (other.status.as_str()) }
                            " · " (other.title)
                        }
                    } } }
                }
                @if let Some(reason) = &i.suppressed_reason { dt { "Suppressed" } dd { (reason) } }
                dt { "Acknowledged" } dd {
                    @if let Some(by) = &i.acknowledged_by { "by " (by) " at " (when_opt(i.acknowledged_at)) } @else { "no" }
                }
                dt { "Assignee" } dd { (i.assignee.as_deref().unwrap_or("-")) }
                @if let Some(c) = &i.classification {
                    dt { "Classified" } dd { (c.level.as_str()) " by " (c.by) " at " (when(c.at)) " (was " (c.previous.as_str()) "): " (c.reason) }
                }
                dt { "Impact" } dd {
                    "data loss: " (if i.data_loss { "yes" } else { "no" }) ", service impact: " (if i.service_impact { "yes" } else { "no" })
                }
                @if let Some(at) = i.escalate_at { dt { "Re-page due" } dd { (when(at)) " (re-pages so far: " (i.escalations) ")" } }
                @if i.console_url.starts_with("https://") {
                    dt { "Console" } dd { a href=(i.console_url) rel="noreferrer noopener" { "the finding in the GuardDuty console" } }
                }
            }
        }
        @if !page.clock.is_empty() {
            h2 { "Response clock" }
            p.hint { (i.severity.as_str()) " objectives, counted from " (when(i.level_since.unwrap_or(i.created_at))) "." }
            table {
                thead { tr { th { "Objective" } th { "Due" } th { "Met" } th { "" } } }
                tbody {
                    @for c in page.clock {
                        tr {
                            td { (c.goal.as_str()) }
                            td { (when(c.due)) }
                            td { (when_opt(c.met)) }
                            @if c.breached { td.late { "LATE" } } @else if c.met.is_some() { td { "in time" } } @else { td { "open" } }
                        }
                    }
                }
            }
        }
        @if let Some(c) = &i.closure {
            h2 { "Closure" }
            div.card {
                dl.details {
                    dt { "Closed by" } dd { (c.by) " at " (when(c.at)) }
                    dt { "Closure notes" } dd { (c.notes) }
                    @for (name, value) in [("Root cause", &c.root_cause), ("Lessons learned", &c.lessons_learned), ("Long-term mitigations", &c.mitigations), ("Cost estimate", &c.cost_estimate)] {
                        @if let Some(v) = value { dt { (name) } dd { (v) } }
                    }
                    @if let Some(v) = c.legal_counsel { dt { "Legal counsel involved" } dd { (if v { "yes" } else { "no" }) } }
                    @if let Some(v) = c.customers_notified { dt { "Affected customers notified" } dd { (if v { "yes" } else { "no" }) } }
                    @if let Some(v) = c.authorities_notified { dt { "Authorities notified" } dd { (if v { "yes" } else { "no" }) } }
                }
            }
        }
        @if !i.follow_ups.is_empty() {
            h2 { "Follow-up actions" }
            table {
                thead { tr { th { "#" } th { "Action" } th { "Owner" } th { "Due" } th { "State" } } }
                tbody {
                    @for f in &i.follow_ups {
                        tr {
                            td { (f.n) }
                            td { (f.text) }
                            td { (f.owner) }
                            td { (when(f.due)) }
                            td {
                                @if let (Some(by), Some(at)) = (&f.done_by, f.done_at) { "done by " (by) " at " (when(at)) }
                                @else if page.access == Access::Work {
                                    form.inline method="post" action={ "/incidents/" (i.incident_id) "/follow-up-done" } {
                                        (csrf_field(chrome.csrf))
                                        input type="hidden" name="n" value=(f.n);
                                        button type="submit" { "Mark done" }
                                    }
                                } @else { "open" }
                            }
                        }
                    }
                }
            }
        }
        (containment(chrome, page))
        h2 { "Actions" }
        (actions(chrome, page, required.as_deref()))
        h2 { "Pages sent" }
        table {
            thead { tr { th { "Page" } th { "Level" } th { "To" } th { "State" } th { "Sent" } th { "SNS message id" } } }
            tbody {
                @for (key, p) in &i.pages {
                    tr {
                        td.mono { (key) }
                        td { (level(p.level)) }
                        td { (match &p.target { crate::domain::incident::Target::Oce => "on-call engineer".to_owned(), crate::domain::incident::Target::Iso => "security officer".to_owned(), crate::domain::incident::Target::Route(name) => format!("route {name}"), crate::domain::incident::Target::Client(name) => format!("client {name}") }) }
                        td { (match p.state { PageState::Sent => "sent", PageState::Owed => "owed", PageState::Superseded => "superseded" }) }
                        td { (when_opt(p.sent_at)) }
                        td.mono { (p.message_id.as_deref().unwrap_or("-")) }
                    }
                }
                @if i.pages.is_empty() { tr { td colspan="6" { "No pages (LOW and MEDIUM never page)." } } }
            }
        }
        h2 { "Timeline" }
        table {
            thead { tr { th { "Recorded" } th { "By" } th { "Action" } th { "Happened" } th { "Entry" } } }
            tbody {
                @for e in page.timeline {
                    tr {
                        td { (when(e.at)) }
                        td { (e.who()) }
                        td.mono.nowrap { (e.action) }
                        td { (when_opt(e.occurred_at)) }
                        td { (e.summary) }
                    }
                }
            }
        }
        h2 { "Evidence" }
        p.hint { "Every version of the finding exactly as received, with its SHA-256 (procedure §3.6). Nothing here can be changed or deleted." }
        table {
            thead { tr { th { "Finding version" } th { "SHA-256" } th { "Check" } th { "Size" } th { "Kept" } } }
            tbody {
                @for e in page.evidence {
                    tr {
                        td { a href={ "/incidents/" (i.incident_id) "/evidence/" (e.sha256) } { (e.finding_updated_at) } }
                        td.mono { (e.sha256) }
                        td { @if e.verify() { "verified" } @else { strong { "MISMATCH" } } }
                        td { (e.body.len()) " bytes" }
                        td { (when(e.received_at)) }
                    }
                }
                @if page.evidence.is_empty() { tr { td colspan="5" { "No finding versions (staff reports have none)." } } }
            }
        }
    }
}

/// The containment actions carried out or asked for, and the plan of each that applies with the button that
/// asks the daemon to carry it out (a person who may work the incident; not once it is closed).
fn containment(chrome: &Chrome<'_>, page: &IncidentPage<'_>) -> Markup {
    use crate::domain::containment::{self, record::State};
    let i = page.incident;
    let work = page.access == Access::Work && i.status != crate::domain::incident::Status::Closed;
    let asked: Vec<containment::Action> =
        i.actions.iter().filter(|a| a.state != State::Failed && a.state != State::Undone).map(|a| a.action).collect();
    let plans: Vec<containment::Plan> =
        containment::applicable(i.subject(), page.reach).into_iter().filter(|p| !asked.contains(&p.action)).collect();
    let manual = containment::manual_steps(&i.targets);
    let form = |name: &str, action: containment::Action, label: String| {
        html! {
            form.inline method="post" action={ "/incidents/" (i.incident_id) "/" (name) } {
                (csrf_field(chrome.csrf))
                input type="hidden" name="containment" value=(action.as_str());
                button type="submit" { (label) }
            }
        }
    };
    html! {
        @if !i.actions.is_empty() || (work && !plans.is_empty()) || !manual.is_empty() {
            h2 { "Containment" }
        }
        @if !i.actions.is_empty() {
            table #containment {
                thead { tr { th { "Action" } th { "On" } th { "State" } th { "Requested by" } th { "What it did" } th {} } }
                tbody {
                    @for a in &i.actions {
                        tr {
                            td.mono { (a.action.as_str()) }
                            td.mono { (a.target) }
                            td { (a.state.as_str()) }
                            td { (a.requested_by) " at " (when(a.requested_at)) }
                            td { (a.detail()) }
                            td {
                                @if work && a.state == State::Done && a.action.undoable() {
                                    (form("undo", a.action, "Undo".into()))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if work {
            @for p in &plans {
                section.plan {
                    h3 { (p.action.as_str()) " on " span.mono { (p.target) } }
                    ol { @for step in &p.steps { li { (step) } } }
                    p { "Undo: " (p.undo) }
                    (form("contain", p.action, format!("Request {}", p.action.as_str())))
                }
            }
        }
        @if !manual.is_empty() {
            p { "By hand (not run by gd-incidents):" }
            ul { @for step in &manual { li { (step) } } }
        }
    }
}

pub(super) fn actions(chrome: &Chrome<'_>, page: &IncidentPage<'_>, required: Option<&str>) -> Markup {
    let i = page.incident;
    let base = format!("/incidents/{}", i.incident_id);
    let closed = i.status == Status::Closed;
    let mine = |action: &str| page.failed_action.as_deref() == Some(action);
    let draft = |action: &str| if mine(action) { page.draft.clone() } else { ActionForm::default() };
    let marked =
        |action: &str, field: &str| mine(action) && page.problem.as_ref().is_some_and(|p| p.fields.contains(&field));
    let close = draft("close");
    // A refused classification keeps the level chosen; otherwise the current one is offered.
    let chosen = if mine("classify") { page.draft.level.parse().ok() } else { None }.unwrap_or(i.severity);
    html! {
        div.actions {
            @if !closed && i.acknowledged_by.is_none() {
                form method="post" action={ (base) "/ack" } {
                    h3 { "Acknowledge" }
                    p.hint { "You take the incident; re-paging stops." }
                    (csrf_field(chrome.csrf))
                    button type="submit" { "Acknowledge" }
                }
            }
            @if !closed {
                form method="post" action={ (base) "/assign" } {
                    h3 { "Assign" }
                    (csrf_field(chrome.csrf))
                    label.field.missing[marked("assign", "to")] for="to" { "Assign to (person or team)" }
                    input #to type="text" name="to" value=(draft("assign").to);
                    button type="submit" { "Assign" }
                }
                form method="post" action={ (base) "/status" } {
                    h3 { "Status" }
                    (csrf_field(chrome.csrf))
                    label.field for="status" { "New status" }
                    select #status name="status" {
                        @for s in [Status::Investigating, Status::Contained, Status::Resolved] {
                            option value=(s.as_str()) selected[i.status == s] { (s.as_str()) }
                        }
                    }
                    button type="submit" { "Set status" }
                }
                form method="post" action={ (base) "/classify" } {
                    h3 { "Classify" }
                    p.hint { "Your decision on the level (procedure §3.3). Raising to HIGH or CRITICAL pages at once." }
                    (csrf_field(chrome.csrf))
                    label.field.missing[marked("classify", "level")] for="classify-level" { "Level" }
                    select #classify-level name="level" {
                        @for l in LEVELS {
                            option value=(l.as_str()) selected[chosen == l] { (l.as_str()) }
                        }
                    }
                    label.field.missing[marked("classify", "reason")] for="classify-reason" { "Reason" }
                    input #classify-reason type="text" name="reason" required value=(draft("classify").reason);
                    button type="submit" { "Classify" }
                }
                form method="post" action={ (base) "/mark" } {
                    h3 { "Impact" }
                    p.hint { "Data loss or service impact makes the post-mortem required at closure." }
                    (csrf_field(chrome.csrf))
                    label { input type="checkbox" name="data_loss" value="on" checked[i.data_loss] disabled[i.data_loss]; " Data was lost" } br;
                    label { input type="checkbox" name="service_impact" value="on" checked[i.service_impact] disabled[i.service_impact]; " Services were impacted" } br;
                    button type="submit" { "Record impact" }
                }
            }
            form method="post" action={ (base) "/note" } {
                h3 { "Timeline note" }
                (csrf_field(chrome.csrf))
                label.field.missing[marked("note", "text")] for="text" { "What happened, what was done" }
                textarea #text name="text" { (draft("note").text) }
                label.field.missing[marked("note", "at")] for="at" { "When it happened (UTC, optional)" }
                input #at type="datetime-local" name="at" value=(draft("note").at);
                button type="submit" { "Add note" }
            }
            form method="post" action={ (base) "/follow-up" } {
                h3 { "Follow-up action" }
                p.hint { "A corrective or preventive action someone owns, tracked to closure (procedure §3.1)." }
                (csrf_field(chrome.csrf))
                label.field.missing[marked("follow-up", "text")] for="follow-text" { "What is to be done" }
                input #follow-text type="text" name="text" value=(draft("follow-up").text);
                label.field.missing[marked("follow-up", "owner")] for="follow-owner" { "Owner (person or team)" }
                input #follow-owner type="text" name="owner" value=(draft("follow-up").owner);
                label.field.missing[marked("follow-up", "due")] for="follow-due" { "Due (a date, or 14d)" }
                input #follow-due type="text" name="due" value=(draft("follow-up").due) placeholder="2026-12-31";
                button type="submit" { "Add the action" }
            }
            @if closed {
                form method="post" action={ (base) "/reopen" } {
                    h3 { "Reopen" }
                    (csrf_field(chrome.csrf))
                    label.field for="reason" { "Why" }
                    input #reason type="text" name="reason" value=(draft("reopen").reason);
                    button type="submit" { "Reopen" }
                }
            }
        }
        @if !closed {
            form.card #close method="post" action={ (base) "/close" } {
                h3 { "Close" }
                (csrf_field(chrome.csrf))
                label.field.missing[marked("close", "notes")] for="notes" { "Closure notes: the investigation and the corrective actions taken" }
                textarea #notes name="notes" { (close.notes) }
                @if let Some(why) = required {
                    p.required-note { "The post-mortem is required to close this incident (" (why) "): cause, effect, mitigation and lessons learned (procedure §3.5)." }
                } @else {
                    p.hint { "The post-mortem is optional for this incident." }
                }
                @for (_, field, label) in &POST_MORTEM_FIELDS[..4] {
                    label.field.missing[marked("close", field)] for=(field) { (label) }
                    textarea id=(field) name=(field) rows="2" { (close.text_of(field)) }
                }
                @for (_, field, label) in &POST_MORTEM_FIELDS[4..] {
                    fieldset.missing[marked("close", field)] {
                        legend { (label) }
                        label { input type="radio" name=(field) value="yes" checked[close.text_of(field) == "yes"]; " yes" } " "
                        label { input type="radio" name=(field) value="no" checked[close.text_of(field) == "no"]; " no" }
                    }
                }
                button type="submit" { "Close the incident" }
            }
        }
    }
}

/// What a page's acknowledgement link opens: the incident in a few words and one button.
pub fn ack_confirm(chrome: &Chrome<'_>, incident: &Incident, paged: crate::domain::severity::Level) -> Markup {
    let base = format!("/incidents/{}", incident.incident_id);
    layout(
        Some(chrome),
        chrome.dev,
        "Acknowledge",
        html! {
            h1 { "Acknowledge this incident?" }
            div.card {
                dl.details {
                    dt { "Level" } dd { (level(incident.severity)) " (paged at " (paged.as_str()) ")" }
                    dt { "Title" } dd { (incident.title) }
                    dt { "Status" } dd { (status(incident.status)) }
                    dt { "Resource" } dd { (incident.resource) }
                }
            }
            @if let Some(by) = &incident.acknowledged_by {
                p { "Already acknowledged by " (by) " at " (when_opt(incident.acknowledged_at)) ". " a href=(base) { "Open the incident" } }
            } @else if incident.status == Status::Closed {
                p { "The incident is closed. " a href=(base) { "Open the incident" } }
            } @else {
                form method="post" action={ (base) "/ack" } {
                    p.hint { "You take the incident; re-paging stops." }
                    (csrf_field(chrome.csrf))
                    button #acknowledge type="submit" { "Acknowledge" }
                }
                p { a href=(base) { "Open the incident instead" } }
            }
        },
    )
}

/// One version of a finding, as received.
pub fn evidence_page(chrome: &Chrome<'_>, incident: &Incident, evidence: &Evidence) -> Markup {
    let pretty = serde_json::from_str::<serde_json::Value>(&evidence.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| evidence.body.clone());
    layout(
        Some(chrome),
        chrome.dev,
        "Evidence",
        html! {
            h1 { "Evidence of " a href={ "/incidents/" (incident.incident_id) } { (incident.title) } }
            div.card {
                dl.details {
                    dt { "Finding version" } dd { (evidence.finding_updated_at) }
                    dt { "SHA-256" } dd.mono { (evidence.sha256) }
                    dt { "Check" } dd { @if evidence.verify() { "verified: the stored body has this hash" } @else { strong { "MISMATCH: the stored body does not have this hash" } } }
                    dt { "Kept" } dd { (when(evidence.received_at)) }
                }
                p.hint { "Shown indented; the hash is of the body exactly as received." }
            }
            pre.evidence { (pretty) }
        },
    )
}
