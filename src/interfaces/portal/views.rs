//! The pages, rendered on the server with maud: every value from a finding or a person is escaped by
//! maud (`(value)` never emits raw HTML), no page has a script, and the only style is the static sheet.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::access::{Access, Role, User};
use super::forms::{ActionForm, ListQuery, ReportForm};
use crate::domain::evidence::Evidence;
use crate::domain::incident::{Event, Incident, PageState, STATUSES, Source, Status};
use crate::domain::lifecycle::{self, Refusal};
use crate::domain::severity::{LEVELS, Level};

/// What every page shows around its content.
#[derive(Debug)]
pub struct Chrome<'a> {
    /// Who is signed in.
    pub user: &'a User,
    /// Development mode (unauthenticated): said on every page.
    pub dev: bool,
    /// The CSRF token for this person's forms.
    pub csrf: &'a str,
}

/// The post-mortem's fields: the command line's flag (as [`lifecycle::missing_post_mortem`] names it), the
/// form field, and its label.
pub const POST_MORTEM_FIELDS: [(&str, &str, &str); 7] = [
    ("--root-cause", "root_cause", "Root cause"),
    ("--lessons-learned", "lessons_learned", "Lessons learned"),
    ("--mitigations", "mitigations", "Long-term mitigations"),
    ("--cost-estimate", "cost_estimate", "Cost estimate"),
    ("--legal-counsel", "legal_counsel", "Legal counsel involved"),
    ("--customers-notified", "customers_notified", "Affected customers notified"),
    (lifecycle::AUTHORITIES_FLAG, "authorities_notified", "Authorities notified (required for CRITICAL)"),
];

/// What went wrong with a form: a message, and the fields to mark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problem {
    /// For people.
    pub message: String,
    /// Labels of what is missing, listed under the message.
    pub missing: Vec<&'static str>,
    /// Form fields to mark.
    pub fields: Vec<&'static str>,
}

impl Problem {
    /// A problem with a message only.
    pub fn say(message: impl Into<String>) -> Problem {
        Problem { message: message.into(), ..Problem::default() }
    }
}

/// The label of a command-line flag that a refusal names, as the forms call it.
fn label_of(flag: &str) -> &str {
    POST_MORTEM_FIELDS.iter().find(|(f, _, _)| *f == flag).map(|(_, _, label)| *label).unwrap_or(match flag {
        "--to" => "Assign to",
        "the note" => "The note",
        "--notes (closure notes)" => "Closure notes",
        "--title" => "Title",
        "--description" => "Description",
        "--by" => "Your e-mail address",
        other => other,
    })
}

/// A refusal of the lifecycle rules, said for the portal (the same refusal as the command line's).
pub fn explain(refusal: &Refusal) -> Problem {
    match refusal {
        Refusal::MissingPostMortem { why, missing, .. } => Problem {
            message: format!(
                "Refused: closing this incident requires the post-mortem ({why}, procedure §3.4-3.5). Nothing was changed. Missing:"
            ),
            missing: missing.iter().map(|flag| label_of(flag)).map(static_label).collect(),
            fields: missing
                .iter()
                .filter_map(|flag| POST_MORTEM_FIELDS.iter().find(|(f, _, _)| f == flag).map(|(_, field, _)| *field))
                .collect(),
        },
        Refusal::Empty(what) => {
            let fields = match *what {
                "--notes (closure notes)" => vec!["notes"],
                "--to" => vec!["to"],
                "the note" => vec!["text"],
                "--title" => vec!["title"],
                "--description" => vec!["description"],
                _ => vec![],
            };
            Problem { message: format!("Refused: {} must not be empty.", label_of(what)), missing: vec![], fields }
        }
        Refusal::Closed(_) => Problem::say("Refused: this incident is closed. Reopen it first."),
        other => Problem::say(format!("Refused: {other}.")),
    }
}

fn static_label(label: &str) -> &'static str {
    POST_MORTEM_FIELDS.iter().find(|(_, _, l)| *l == label).map(|(_, _, l)| *l).unwrap_or("a required field")
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_else(|| "-".into())
}

/// A level: its colour and its word (never colour alone).
pub fn level(level: Level) -> Markup {
    let class = format!("level level-{}", level.as_str().to_lowercase());
    html! { span class=(class) title={ "Level " (level.as_str()) } { (level.as_str()) } }
}

fn status(status: Status) -> Markup {
    let class = format!("status status-{}", status.as_str());
    html! { span class=(class) { (status.as_str()) } }
}

fn source(incident: &Incident) -> &'static str {
    match incident.source {
        Source::Guardduty => "GuardDuty",
        Source::Staff => "Staff report",
    }
}

fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// The page around `body`.
pub fn layout(chrome: Option<&Chrome<'_>>, dev: bool, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Incident portal" }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                @if dev {
                    div.devmode role="alert" {
                        "DEVELOPMENT MODE: no authentication. Everyone who reaches this address is signed in as "
                        @if let Some(c) = chrome { (c.user.email) } @else { "the development user" }
                        ". Never expose this server."
                    }
                }
                header.top {
                    a.brand href="/" { "Incident portal" }
                    @if let Some(c) = chrome {
                        nav {
                            @if c.user.lists_incidents() { a href="/incidents" { "Incidents" } }
                            a href="/report" { "Report an incident" }
                            a href="/reports/mine" { "My reports" }
                        }
                        span.who { (c.user.email) " · " (c.user.role.as_str()) }
                    }
                }
                main { (body) }
                footer {
                    "Information security incidents are handled under the Incident Management Procedure (§3.2-3.6). "
                    "Suspect a colleague or partner of misconduct? Report it as confidential: only the information security officer sees it."
                }
            }
        }
    }
}

/// An error page (401, 403, 404, 400, 503).
pub fn error_page(chrome: Option<&Chrome<'_>>, dev: bool, title: &str, message: &str) -> Markup {
    layout(
        chrome,
        dev,
        title,
        html! {
            h1 { (title) }
            div.card { p { (message) } }
        },
    )
}

/// The incident list of a responder or the ISO.
pub fn incident_list(
    chrome: &Chrome<'_>,
    query: &ListQuery,
    incidents: &[Incident],
    more: bool,
    limit: usize,
) -> Markup {
    let more_link = format!(
        "/incidents?status={}&level={}&q={}&limit={}",
        urlencode(&query.status),
        urlencode(&query.level),
        urlencode(&query.q),
        (limit * 2).min(super::MAX_LIST)
    );
    layout(
        Some(chrome),
        chrome.dev,
        "Incidents",
        html! {
            h1 { "Incidents" }
            @if chrome.user.role == Role::Iso {
                p.hint { "You see every incident, confidential staff reports included." }
            }
            form.filters method="get" action="/incidents" {
                label { "Status"
                    select name="status" {
                        option value="" selected[query.status.is_empty()] { "any" }
                        @for s in STATUSES {
                            option value=(s.as_str()) selected[query.status == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
                label { "Level"
                    select name="level" {
                        option value="" selected[query.level.is_empty()] { "any" }
                        @for l in LEVELS.iter().rev() {
                            option value=(l.as_str()) selected[query.level.eq_ignore_ascii_case(l.as_str())] { (l.as_str()) }
                        }
                    }
                }
                label { "Search"
                    input type="text" name="q" value=(query.q) placeholder="title, id, type, resource, person";
                }
                button type="submit" { "Filter" }
            }
            p.count {
                (incidents.len()) @if incidents.len() == 1 { " incident" } @else { " incidents" }
                @if more { ", the newest shown" } @else { "" }
                ", newest first"
            }
            (incident_table(incidents, true))
            @if more && limit < super::MAX_LIST {
                p { a href=(more_link) { "Show more" } }
            }
        },
    )
}

fn incident_table(incidents: &[Incident], with_assignee: bool) -> Markup {
    html! {
        table {
            thead { tr { th { "Level" } th { "Title" } th { "Status" } th { "Source" } th { "Created" } @if with_assignee { th { "Assignee" } } } }
            tbody {
                @for i in incidents {
                    tr {
                        td { (level(i.severity)) }
                        td {
                            a href={ "/incidents/" (i.incident_id) } { (i.title) }
                            @if i.confidential { " " span.tag-confidential { "CONFIDENTIAL" } }
                        }
                        td { (status(i.status)) }
                        td { (source(i)) }
                        td { (when(i.created_at)) }
                        @if with_assignee { td { (i.assignee.as_deref().unwrap_or("-")) } }
                    }
                }
                @if incidents.is_empty() {
                    tr { td colspan="6" { "No incidents." } }
                }
            }
        }
    }
}

/// "My reports".
pub fn my_reports(chrome: &Chrome<'_>, incidents: &[Incident]) -> Markup {
    layout(
        Some(chrome),
        chrome.dev,
        "My reports",
        html! {
            h1 { "My reports" }
            a.big-link href="/report" { "Report an incident" }
            p.count { (incidents.len()) @if incidents.len() == 1 { " report" } @else { " reports" } ", newest first" }
            (incident_table(incidents, false))
        },
    )
}

/// The report form (procedure §3.2).
pub fn report_form(chrome: &Chrome<'_>, draft: &ReportForm, problem: Option<&Problem>) -> Markup {
    let marked = |field: &str| problem.is_some_and(|p| p.fields.contains(&field));
    let descriptions = [
        (Level::Low, "No immediate remediation needed (e.g. a partial service outage with a workaround)."),
        (Level::Medium, "Suspicious e-mail, unusual activity on a staff laptop."),
        (Level::High, "An attack is likely: backdoor, malware, malicious access to business data. Pages at once."),
        (Level::Critical, "An attack succeeded and something important was lost or damaged. Pages at once."),
    ];
    layout(
        Some(chrome),
        chrome.dev,
        "Report an incident",
        html! {
            h1 { "Report an incident" }
            (problem_box(problem))
            form.card method="post" action="/report" {
                (csrf_field(chrome.csrf))
                label.field.missing[marked("title")] for="title" { "Title" }
                input #title type="text" name="title" value=(draft.title) maxlength="300" placeholder="One line: what happened";
                label.field.missing[marked("description")] for="description" { "Description" }
                textarea #description name="description" rows="6" placeholder="What you observed, where and when" { (draft.description) }
                fieldset.missing[marked("level")] {
                    legend { "Level (your assessment; the on-call engineer may revise it)" }
                    @for (l, says) in descriptions {
                        label {
                            input type="radio" name="level" value=(l.as_str()) checked[draft.level.eq_ignore_ascii_case(l.as_str())];
                            " " (level(l)) " " (says)
                        }
                        br;
                    }
                }
                label {
                    input type="checkbox" name="confidential" value="on" checked[draft.confidential.is_some()];
                    " Confidential: it concerns a colleague's or a partner's misconduct. Only the information security officer is told and can see it."
                }
                br;
                button type="submit" { "Send the report" }
            }
        },
    )
}

fn problem_box(problem: Option<&Problem>) -> Markup {
    html! {
        @if let Some(p) = problem {
            div.error role="alert" {
                (p.message)
                @if !p.missing.is_empty() {
                    ul { @for m in &p.missing { li { (m) } } }
                }
            }
        }
    }
}

/// Everything the incident page shows.
#[derive(Debug)]
pub struct IncidentPage<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// What the person may do with it.
    pub access: Access,
    /// Its log, oldest first (empty for a reporter).
    pub timeline: &'a [Event],
    /// The versions of its finding (empty for a reporter).
    pub evidence: &'a [Evidence],
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

fn reporter_view(i: &Incident) -> Markup {
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

fn work_view(chrome: &Chrome<'_>, page: &IncidentPage<'_>) -> Markup {
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
                        td { (e.by) }
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

fn actions(chrome: &Chrome<'_>, page: &IncidentPage<'_>, required: Option<&str>) -> Markup {
    let i = page.incident;
    let base = format!("/incidents/{}", i.incident_id);
    let closed = i.status == Status::Closed;
    let mine = |action: &str| page.failed_action.as_deref() == Some(action);
    let draft = |action: &str| if mine(action) { page.draft.clone() } else { ActionForm::default() };
    let marked =
        |action: &str, field: &str| mine(action) && page.problem.as_ref().is_some_and(|p| p.fields.contains(&field));
    let close = draft("close");
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

/// Percent-encodes a query value.
pub fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_missing_post_mortem_fields_as_the_form_does() {
        let input = lifecycle::CloseInput { notes: "n".into(), root_cause: Some("x".into()), ..Default::default() };
        let missing = lifecycle::missing_post_mortem(&input);
        let p = explain(&Refusal::MissingPostMortem { id: "i".into(), why: "CRITICAL".into(), missing });
        assert_eq!(
            p.missing,
            vec![
                "Lessons learned",
                "Long-term mitigations",
                "Cost estimate",
                "Legal counsel involved",
                "Affected customers notified"
            ]
        );
        assert_eq!(
            p.fields,
            vec!["lessons_learned", "mitigations", "cost_estimate", "legal_counsel", "customers_notified"]
        );
        assert!(p.message.contains("CRITICAL"));
        // Every flag the rules can name has a field here.
        let mut critical = crate::domain::incident::Incident::open(Utc::now());
        critical.severity = Level::Critical;
        let (_, all) = lifecycle::missing_at_close(&critical, &lifecycle::CloseInput::default()).unwrap();
        assert_eq!(all.len(), POST_MORTEM_FIELDS.len());
        assert!(all.iter().all(|f| POST_MORTEM_FIELDS.iter().any(|(flag, _, _)| flag == f)));
    }

    #[test]
    fn values_are_escaped() {
        let m = html! { td { ("<script>alert(1)</script>\"'&") } a href=("\"><img src=x onerror=alert(1)>") {} };
        let s = m.into_string();
        assert!(!s.contains("<script>") && !s.contains("<img"), "{s}");
        assert!(s.contains("&lt;script&gt;"), "{s}");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
