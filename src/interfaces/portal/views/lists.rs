//! The incident list of responders and the ISO, and "my reports" of staff.

use super::{Chrome, layout, urlencode};
use super::{level, source, status, when};
use crate::domain::incident::Incident;
use crate::domain::incident::STATUSES;
use crate::domain::severity::LEVELS;
use crate::interfaces::portal::access::Role;
use crate::interfaces::portal::forms::ListQuery;
use maud::{Markup, html};

/// The incident list of a responder or the ISO.
pub fn incident_list(
    chrome: &Chrome<'_>,
    query: &ListQuery,
    incidents: &[Incident],
    clocks: &[String],
    next: Option<&str>,
    limit: usize,
) -> Markup {
    let filters = format!(
        "/incidents?status={}&level={}&q={}&limit={limit}",
        urlencode(&query.status),
        urlencode(&query.level),
        urlencode(&query.q),
    );
    let paged = !query.after.trim().is_empty();
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
                @if paged { " on this page" } ", newest first"
                @if next.is_some() && incidents.len() < limit { " (more to look through)" }
            }
            (incident_table(incidents, Some(clocks)))
            nav.pages {
                @if paged { a href=(filters) { "Newest" } }
                @if let Some(next) = next { a href={ (filters) "&after=" (urlencode(next)) } rel="next" { "Next page" } }
            }
        },
    )
}

/// The incidents as a table; for responders (`clocks`: each one's response clock in a few words) with the
/// assignee and the clock.
pub(super) fn incident_table(incidents: &[Incident], clocks: Option<&[String]>) -> Markup {
    html! {
        table.incidents {
            thead { tr {
                th { "Level" } th { "Title" } th { "Status" } th { "Source" } th { "Created" }
                @if clocks.is_some() { th { "Assignee" } th { "Response clock" } }
            } }
            tbody {
                @for (n, i) in incidents.iter().enumerate() {
                    tr {
                        td { (level(i.severity)) }
                        td.title {
                            a href={ "/incidents/" (i.incident_id) } title=(i.title) { (i.title) }
                            @if i.confidential { " " span.tag-confidential { "CONFIDENTIAL" } }
                        }
                        td { (status(i.status)) }
                        td { (source(i)) }
                        td { (when(i.created_at)) }
                        @if let Some(clocks) = clocks {
                            td { (i.assignee.as_deref().unwrap_or("-")) }
                            @let clock = clocks.get(n).map_or("-", String::as_str);
                            @if clock.starts_with("LATE") { td.late { (clock) } } @else { td { (clock) } }
                        }
                    }
                }
                @if incidents.is_empty() {
                    tr { td colspan="7" { "No incidents." } }
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
            (incident_table(incidents, None))
        },
    )
}
