//! The request handlers: who is asking, may they, then the store and the lifecycle rules, then a page.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::Markup;
use tracing::{info, warn};
use uuid::Uuid;

use super::access::{Access, User};
use super::forms::{ACTIONS, ActionForm, ListQuery, MAX_TITLE, PageQuery, ReportForm};
use super::views::{self, Chrome, IncidentPage, Problem};
use super::{MAX_LIST, Portal};
use crate::adapters::dynamodb::{ListFilter, Store, StoreError};
use crate::domain::incident::clock;
use crate::domain::incident::{Incident, Status};
use crate::domain::lifecycle::{self, Report};
use crate::domain::severity::Level;
use crate::domain::sla;

type Shared = State<Arc<Portal>>;

const DEFAULT_LIST: usize = 50;

impl FromRequestParts<Arc<Portal>> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, portal: &Arc<Portal>) -> Result<Self, Self::Rejection> {
        match portal.identity.who(&parts.headers).await {
            Ok(signed_in) => Ok(portal.roles.member(&signed_in.email, &signed_in.groups)),
            Err(why) => {
                warn!(error = %why, path = %parts.uri.path(), "request refused: not signed in");
                let page = views::error_page(
                    None,
                    false,
                    "Sign-in required",
                    "This portal is reached through the company's load balancer, which signs you in. Open it \
                     from its usual address; if you did, your session may have expired: reload the page.",
                );
                Err((why.status(), Html(page.into_string())).into_response())
            }
        }
    }
}

/// 403 for staff asking for what is the responders' and the ISO's: `what` "is" (or "are") for them.
fn responders_only(portal: &Portal, user: &User, what: &str) -> Response {
    let why = format!(
        "{what} for responders and the information security officer. You can report an incident and follow your \
         own reports."
    );
    error(portal, user, StatusCode::FORBIDDEN, "Not for you", &why)
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn chrome<'a>(portal: &Portal, user: &'a User, csrf: &'a str) -> Chrome<'a> {
    Chrome { user, dev: portal.identity.is_dev(), csrf }
}

fn token(portal: &Portal, user: &User) -> String {
    portal.csrf.token(&user.email, Utc::now().timestamp())
}

fn error(portal: &Portal, user: &User, status: StatusCode, title: &str, message: &str) -> Response {
    let csrf = token(portal, user);
    page(status, views::error_page(Some(&chrome(portal, user, &csrf)), portal.identity.is_dev(), title, message))
}

/// 404 for an unknown id and for an incident the person may not know of alike.
fn no_incident(portal: &Portal, user: &User) -> Response {
    error(portal, user, StatusCode::NOT_FOUND, "Not found", "There is no incident with this id.")
}

fn unavailable(portal: &Portal, user: &User, e: &StoreError) -> Response {
    warn!(error = %e, "incident table unavailable");
    error(
        portal,
        user,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "The incident table cannot be reached right now. Nothing was changed; try again in a moment.",
    )
}

fn csrf_refused(portal: &Portal, user: &User) -> Response {
    warn!(user = %user.email, "form refused: missing or invalid CSRF token");
    error(
        portal,
        user,
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form has expired or did not come from this portal. Nothing was changed: reload the page and try again.",
    )
}

fn bad_request(portal: &Portal, user: &User, what: &str) -> Response {
    error(portal, user, StatusCode::BAD_REQUEST, "Bad request", what)
}

/// `/`: the list for responders and the ISO, "my reports" for staff.
pub async fn home(user: User) -> Response {
    Redirect::to(if user.lists_incidents() { "/incidents" } else { "/reports/mine" }).into_response()
}

/// The stylesheet (no authentication: it holds nothing but style).
pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("portal.css"),
    )
        .into_response()
}

/// Unknown paths.
pub async fn not_found(State(portal): Shared, user: User) -> Response {
    error(&portal, &user, StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

/// Reads incidents newest first from `after` (a listing cursor; none: the newest), keeping those `keep`
/// accepts, until `want` are kept or the end. The store filters and searches on its index and looks at no
/// more than [`SCAN_BUDGET`](crate::adapters::dynamodb::SCAN_BUDGET) entries a call; the cursor goes on from
/// there. `keep` checks again on the whole incident what this person may see.
async fn collect(
    store: &Store,
    filter: &ListFilter,
    keep: impl Fn(&Incident) -> bool,
    want: usize,
    after: Option<String>,
) -> Result<(Vec<Incident>, Option<String>), StoreError> {
    let listing = store.list(filter, want, after.as_deref()).await?;
    Ok((listing.incidents.into_iter().filter(|i| keep(i)).collect(), listing.next))
}

/// The incident list (responders and the ISO).
pub async fn list(State(portal): Shared, user: User, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let Ok(Query(query)) = query else {
        return bad_request(&portal, &user, "The filters are not valid.");
    };
    if !user.lists_incidents() {
        return responders_only(&portal, &user, "The incident list is");
    }
    let status = match query.status.trim() {
        "" => None,
        s => match s.parse::<Status>() {
            Ok(s) => Some(s),
            Err(e) => return bad_request(&portal, &user, &e),
        },
    };
    let level = match query.level.trim() {
        "" => None,
        l => match l.parse::<Level>() {
            Ok(l) => Some(l),
            Err(e) => return bad_request(&portal, &user, &e.to_string()),
        },
    };
    if query.q.len() > MAX_TITLE {
        return bad_request(&portal, &user, &format!("A search is at most {MAX_TITLE} characters."));
    }
    let limit = query.limit.trim().parse::<usize>().unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    let filter = ListFilter {
        statuses: status.iter().map(|s| s.as_str().to_owned()).collect(),
        severities: level.iter().map(|l| l.as_str().to_owned()).collect(),
        since: None,
        confidential: user.sees_confidential(),
        text: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        reporter: None,
    };
    // `user.lists` again, whatever the store's filter did: a confidential incident never reaches a responder.
    let keep = |i: &Incident| user.lists(i);
    let after = Some(query.after.trim().to_owned()).filter(|a| !a.is_empty());
    match collect(portal.dispatch.store(), &filter, keep, limit, after).await {
        Ok((incidents, more)) => {
            let csrf = token(&portal, &user);
            let rules = portal.dispatch.rules();
            let now = rules.now();
            let clocks: Vec<String> =
                incidents.iter().map(|i| sla::summary(&clock::clock(i, &rules.slas, &rules.hours, now))).collect();
            let chrome = chrome(&portal, &user, &csrf);
            page(StatusCode::OK, views::incident_list(&chrome, &query, &incidents, &clocks, more.as_deref(), limit))
        }
        Err(e) => unavailable(&portal, &user, &e),
    }
}

/// A page's acknowledgement link: once signed in, one click acknowledges the incident (a POST with the
/// person's CSRF token, so the link alone changes nothing).
pub async fn ack_link(State(portal): Shared, user: User, Path(link): Path<String>) -> Response {
    let Some(key) = &portal.ack_link_key else {
        return error(
            &portal,
            &user,
            StatusCode::NOT_FOUND,
            "Not found",
            "This portal does not take acknowledgement links.",
        );
    };
    let link = match crate::domain::ack_link::verify(key, &link, portal.dispatch.rules().now()) {
        Ok(link) => link,
        Err(e) => {
            let why = format!("{e}. Open the incident from the incident list instead.");
            return error(&portal, &user, StatusCode::BAD_REQUEST, "This link cannot be used", &why);
        }
    };
    let (incident, access) = match visible(&portal, &user, &link.incident_id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if access != Access::Work {
        return responders_only(&portal, &user, "Working incidents is");
    }
    let csrf = token(&portal, &user);
    page(StatusCode::OK, views::ack_confirm(&chrome(&portal, &user, &csrf), &incident, link.level))
}

/// The figures page's query: the period, in days (7, 30 or 90).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct StatsQuery {
    days: String,
}

/// The figures (responders and the ISO; the ISO's count confidential reports).
pub async fn stats(State(portal): Shared, user: User, query: Result<Query<StatsQuery>, QueryRejection>) -> Response {
    if !user.lists_incidents() {
        return responders_only(&portal, &user, "The figures are");
    }
    let days = query
        .ok()
        .and_then(|Query(q)| q.days.trim().parse::<i64>().ok())
        .filter(|d| [7, 30, 90].contains(d))
        .unwrap_or(30);
    let now = portal.dispatch.rules().now();
    let since = now - chrono::Duration::days(days);
    match crate::services::stats::gather(portal.dispatch.store(), since, user.sees_confidential(), now).await {
        Ok(figures) => {
            let csrf = token(&portal, &user);
            page(StatusCode::OK, views::stats_page(&chrome(&portal, &user, &csrf), &figures, days))
        }
        Err(e) => unavailable(&portal, &user, &e),
    }
}

/// "My reports": what this person reported, confidential reports included.
pub async fn my_reports(State(portal): Shared, user: User) -> Response {
    let filter = ListFilter { confidential: true, reporter: Some(user.email.clone()), ..ListFilter::default() };
    match collect(portal.dispatch.store(), &filter, |i| user.reported(i), MAX_LIST, None).await {
        Ok((incidents, _)) => {
            let csrf = token(&portal, &user);
            page(StatusCode::OK, views::my_reports(&chrome(&portal, &user, &csrf), &incidents))
        }
        Err(e) => unavailable(&portal, &user, &e),
    }
}

/// The incident, if this person may know of it.
async fn visible(portal: &Portal, user: &User, id: &str) -> Result<(Incident, Access), Response> {
    let id = id.trim();
    let plausible = !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !plausible {
        return Err(no_incident(portal, user));
    }
    match portal.dispatch.store().find(id).await {
        Ok(Some(incident)) => match user.access(&incident) {
            Some(access) => Ok((incident, access)),
            None => Err(no_incident(portal, user)),
        },
        Ok(None) => Err(no_incident(portal, user)),
        Err(e) => Err(unavailable(portal, user, &e)),
    }
}

fn notice(done: &str, incident: &Incident) -> Option<String> {
    Some(
        match done {
            "ack" => "Acknowledged: the incident is yours, and re-paging has stopped.",
            "assign" => "Assigned.",
            "note" => "Note added to the timeline.",
            "status" => "Status changed.",
            "classify" => return Some(format!("Classified {}.", incident.severity)),
            "mark" => "Impact recorded.",
            "close" => "Closed.",
            "close-archive-pending" => {
                "Closed. Archiving the finding in GuardDuty could not be requested; archive it in the console."
            }
            "reopen" => "Reopened.",
            "follow-up" => "Follow-up action added.",
            "follow-up-done" => "Follow-up action marked done.",
            "contain" => "Requested: the daemon carries it out under its containment role; this page shows the outcome.",
            "undo" => "Undo requested: the daemon carries it out; this page shows the outcome.",
            "reported" => {
                return Some(if incident.pages.is_empty() {
                    format!("Your report is recorded. {} does not page anyone; the responders will see it.", incident.severity)
                } else if incident.confidential {
                    "Your confidential report is recorded and the information security officer has been paged.".into()
                } else {
                    "Your report is recorded; the on-call engineer and the information security officer have been paged."
                        .into()
                });
            }
            "reported-pages-pending" => "Your report is recorded, but paging failed for now; it is retried.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn render_incident(
    portal: &Portal,
    user: &User,
    incident: &Incident,
    access: Access,
    status: StatusCode,
    extra: (Option<String>, Option<Problem>, ActionForm, Option<String>),
) -> Response {
    let (notice, problem, draft, failed_action) = extra;
    let (timeline, evidence, sequences, signals, same_resource) = if access == Access::Work {
        let store = portal.dispatch.store();
        let read = tokio::try_join!(
            store.timeline(incident),
            store.evidence(incident),
            store.links(incident),
            store.signal_incidents(incident),
            store.on_same_resource(incident)
        );
        match read {
            Ok(all) => all,
            Err(e) => return unavailable(portal, user, &e),
        }
    } else {
        Default::default()
    };
    let csrf = token(portal, user);
    let rules = portal.dispatch.rules();
    let clock = match access {
        Access::Work => clock::clock(incident, &rules.slas, &rules.hours, rules.now()),
        Access::Reporter => Vec::new(),
    };
    let view = IncidentPage {
        incident,
        access,
        clock: &clock,
        timeline: &timeline,
        evidence: &evidence,
        sequences: &sequences,
        signal_incidents: &signals,
        same_resource: &same_resource,
        reach: rules.containment.reach(),
        notice,
        problem,
        draft,
        failed_action,
    };
    page(status, views::incident_page(&chrome(portal, user, &csrf), &view))
}

/// An incident's page.
pub async fn show(
    State(portal): Shared,
    user: User,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let done = query.map(|Query(q)| q.done).unwrap_or_default();
    let (incident, access) = match visible(&portal, &user, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let notice = notice(&done, &incident);
    render_incident(&portal, &user, &incident, access, StatusCode::OK, (notice, None, ActionForm::default(), None))
        .await
}

/// One version of a finding as received.
pub async fn evidence(State(portal): Shared, user: User, Path((id, sha256)): Path<(String, String)>) -> Response {
    let (incident, access) = match visible(&portal, &user, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if access != Access::Work {
        return no_incident(&portal, &user);
    }
    match portal.dispatch.store().evidence(&incident).await {
        Ok(all) => match all.iter().find(|e| e.sha256 == sha256) {
            Some(e) => {
                let csrf = token(&portal, &user);
                page(StatusCode::OK, views::evidence_page(&chrome(&portal, &user, &csrf), &incident, e))
            }
            None => error(&portal, &user, StatusCode::NOT_FOUND, "Not found", "This incident has no such evidence."),
        },
        Err(e) => unavailable(&portal, &user, &e),
    }
}

/// A responder's action (POST only): CSRF, then who may, then the lifecycle rules through the store.
pub async fn act(
    State(portal): Shared,
    user: User,
    Path((id, name)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_request(&portal, &user, "The form could not be read.");
    };
    // First, before the id is even looked up: a forged request learns nothing.
    if !portal.csrf.check(&user.email, &form.csrf, Utc::now().timestamp()) {
        return csrf_refused(&portal, &user);
    }
    if !ACTIONS.contains(&name.as_str()) {
        return error(&portal, &user, StatusCode::NOT_FOUND, "Not found", "There is no such action.");
    }
    let (incident, access) = match visible(&portal, &user, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if access != Access::Work {
        return responders_only(&portal, &user, "Working incidents is");
    }
    let refused = |incident: Incident, problem: Problem, form: ActionForm| {
        let portal = &portal;
        let user = &user;
        let name = name.clone();
        async move {
            let extra = (None, Some(problem), form, Some(name));
            render_incident(portal, user, &incident, Access::Work, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
    };
    let change = match form.change(&name) {
        Ok(change) => change,
        Err(problem) => return refused(incident, problem, form).await,
    };
    let claimant = Uuid::new_v4().to_string();
    let applied = portal
        .dispatch
        .apply(incident, &claimant, |current, ctx| {
            change.apply(current, &user.email, ctx).map(|(i, e)| (i, signed(&portal, &user, e)))
        })
        .await;
    let applied = match applied {
        Ok(applied) => applied,
        Err(e) => return unavailable(&portal, &user, &e),
    };
    let stored = applied.incident;
    if let Some(r) = applied.refusal {
        return refused(stored, views::explain(&r), form).await;
    }
    if let Some(e) = &applied.pending {
        warn!(incident_id = %stored.incident_id, error = %e, "action recorded, notices not sent yet (the daemon sends them)");
    }
    info!(incident_id = %stored.incident_id, action = %name, by = %user.email, "portal action");
    let mut done = name.clone();
    if name == "close"
        && portal.archive_on_close
        && let Err(why) = crate::services::archive::request(portal.dispatch.store(), &stored).await
    {
        warn!(incident_id = %stored.incident_id, error = %why, "closed, but archiving the finding could not be requested");
        done = "close-archive-pending".into();
    }
    Redirect::to(&format!("/incidents/{}?done={done}", stored.incident_id)).into_response()
}

/// A person's log entry, made by the address the load balancer signed in (not in development mode, where
/// nobody is verified).
fn signed(portal: &Portal, user: &User, event: crate::domain::incident::Event) -> crate::domain::incident::Event {
    if portal.identity.is_dev() { event } else { event.acted_by(&user.email) }
}

/// The report form.
pub async fn report_form(State(portal): Shared, user: User) -> Response {
    let csrf = token(&portal, &user);
    page(StatusCode::OK, views::report_form(&chrome(&portal, &user, &csrf), &ReportForm::default(), None))
}

/// A report (POST): CSRF, then [`lifecycle::report`], the store, and the pages it owes, as the command line.
pub async fn file_report(State(portal): Shared, user: User, form: Result<Form<ReportForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return bad_request(&portal, &user, "The form could not be read.");
    };
    if !portal.csrf.check(&user.email, &form.csrf, Utc::now().timestamp()) {
        return csrf_refused(&portal, &user);
    }
    let again = |problem: Problem| {
        let csrf = token(&portal, &user);
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            views::report_form(&chrome(&portal, &user, &csrf), &form, Some(&problem)),
        )
    };
    if let Some(problem) = form.too_long() {
        return again(problem);
    }
    let Ok(level) = form.level.parse::<Level>() else {
        return again(Problem { fields: vec!["level"], ..Problem::say("Refused: choose a level.") });
    };
    if !portal.reports.admit(&user.email, std::time::Instant::now()) {
        let csrf = token(&portal, &user);
        let problem = Problem::say(format!(
            "Refused: you have filed {} reports in the last hour, the most one person may. If this is urgent, \
             call the on-call engineer.",
            portal.reports.per_hour()
        ));
        let form_page = views::report_form(&chrome(&portal, &user, &csrf), &form, Some(&problem));
        return page(StatusCode::TOO_MANY_REQUESTS, form_page);
    }
    let report = Report {
        by: user.email.clone(),
        title: form.title.trim().to_owned(),
        description: form.description.trim().to_owned(),
        level,
        confidential: form.confidential.is_some(),
    };
    let claimant = Uuid::new_v4().to_string();
    let made = lifecycle::report(Uuid::new_v4().to_string(), &report, &portal.dispatch.rules().ctx(&claimant));
    let (incident, event) = match made {
        Ok((incident, event)) => (incident, signed(&portal, &user, event)),
        Err(refusal) => return again(views::explain(&refusal)),
    };
    let (stored, pending) = match portal.dispatch.create(&incident, event, &claimant).await {
        Ok(made) => made,
        Err(e) => return unavailable(&portal, &user, &e),
    };
    // A confidential report's reporter is a whistleblower: never in a log.
    if report.confidential {
        info!(incident_id = %stored.incident_id, level = %level, confidential = true, "portal report");
    } else {
        info!(incident_id = %stored.incident_id, by = %user.email, level = %level, confidential = false, "portal report");
    }
    let id = stored.incident_id.clone();
    let done = match pending {
        None => "reported",
        Some(e) => {
            warn!(incident_id = %id, error = %e, "report recorded, pages not sent yet");
            "reported-pages-pending"
        }
    };
    Redirect::to(&format!("/incidents/{id}?done={done}")).into_response()
}
