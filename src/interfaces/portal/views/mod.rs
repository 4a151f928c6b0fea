//! The pages, rendered on the server with maud: every value from a finding or a person is escaped by
//! maud (`(value)` never emits raw HTML), no page has a script, and the only style is the static sheet.
//!
//! `lists` holds the incident lists, `incident` an incident's page and its evidence, `report` the staff
//! report form, `problem` how a refused form is explained, `stats` the figures; this module the page around
//! them.

mod incident;
mod lists;
mod problem;
mod report;
mod stats;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::access::User;
use crate::domain::incident::{Incident, Source, Status};
use crate::domain::severity::Level;

pub use incident::{IncidentPage, ack_confirm, evidence_page, incident_page};
pub use lists::{incident_list, my_reports};
use problem::problem_box;
pub use problem::{POST_MORTEM_FIELDS, Problem, explain};
pub use report::report_form;
pub use stats::stats_page;

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

pub(super) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_else(|| "-".into())
}

/// A level: its colour and its word (never colour alone).
pub fn level(level: Level) -> Markup {
    let class = format!("level level-{}", level.as_str().to_lowercase());
    html! { span class=(class) title={ "Level " (level.as_str()) } { (level.as_str()) } }
}

pub(super) fn status(status: Status) -> Markup {
    let class = format!("status status-{}", status.as_str());
    html! { span class=(class) { (status.as_str()) } }
}

pub(super) fn source(incident: &Incident) -> &'static str {
    match incident.source {
        Source::Guardduty => "GuardDuty",
        Source::Staff => "Staff report",
        Source::MalwareScan => "GuardDuty Malware Protection",
        Source::Health => "AWS Health",
    }
}

pub(super) fn csrf_field(token: &str) -> Markup {
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
                            @if c.user.lists_incidents() { a href="/incidents" { "Incidents" } a href="/stats" { "Figures" } }
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
mod tests;
