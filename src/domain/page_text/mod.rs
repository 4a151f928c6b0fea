//! What a page or a client's notice says: subject, body and message attributes, and the short line,
//! next steps and facts that [`formats`] turns into one text per kind of subscriber. Pure; publishing is
//! `adapters::sns`.

mod breach;
mod client;
pub mod formats;

use serde_json::{Value, json};

use crate::domain::incident::{Incident, Page, Source, Target};
use crate::domain::severity::Level;
use crate::domain::timestamp;

pub use client::render_notice;

/// SNS limits a subject to 100 printable ASCII characters.
const MAX_SUBJECT: usize = 100;

/// A page ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Short line for e-mail subscribers (printable ASCII, at most 100 characters).
    pub subject: String,
    /// The text a woken-up engineer acts on.
    pub body: String,
    /// SNS message attributes, `(name, value)`, all of type String.
    pub attributes: Vec<(&'static str, String)>,
    /// One line saying what it is, for a phone or a chat card's title: `[HIGH] <title> on <resource>`.
    pub summary: String,
    /// What a text message ends with: the acknowledgement link, or the incident's id.
    pub reference: String,
    /// What to do next, most direct first: the acknowledgement link, the command.
    pub next_steps: Vec<String>,
    /// Identifies what this message is about for a subscriber that merges repeats (a re-page is the same
    /// alert again): `<incident id>/<LEVEL>` for a page.
    pub dedup_key: String,
    /// The message's content as named values, for machines (`incident_id`, `level`, `resource`, ...).
    pub facts: Vec<(&'static str, Value)>,
}

/// Renders the page `page` of `incident`: a page for the OCE, the ISO or a route, a customer-facing notice
/// for a client.
pub fn render(incident: &Incident, page: &Page) -> Message {
    render_with_link(incident, page, None)
}

/// [`render`], with the portal link that acknowledges the incident in one click after sign-in (pages to the
/// OCE, the ISO and routes; not clients' notices nor objectives' notices).
pub fn render_with_link(incident: &Incident, page: &Page, ack_link: Option<&str>) -> Message {
    if let Target::Client(client) = &page.target {
        return client::render_notice(incident, page, client);
    }
    if let Some(goal) = page.breach {
        return breach::render(incident, page, goal);
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(timestamp::format).unwrap_or_else(|| "unknown".into());
    let headline = match page.level {
        Level::Critical => "CRITICAL security incident: an attack may have succeeded. Act now.",
        Level::High => "HIGH security incident: an attack is likely. Start remediation now.",
        // Only a confidential report pages below HIGH (procedure 3.2: straight to the ISO, whatever its level).
        Level::Medium => "MEDIUM confidential report for the information security officer.",
        Level::Low => "LOW confidential report for the information security officer.",
    };
    let mut headline = headline.to_owned();
    if page.escalation > 0 {
        headline = format!("RE-PAGE {}: nobody has acknowledged this yet. {headline}", page.escalation);
    }
    if page.reopening > 0 {
        headline = format!(
            "REOPENED: the finding recurred after the incident was closed (reopening {}). {headline}",
            page.reopening
        );
    }
    if incident.confidential {
        headline.push_str("\nCONFIDENTIAL staff report (procedure 3.2): do not discuss it with anyone else.");
    }
    let body = format!(
        "{headline}\n\
         \n\
         Title:          {title}\n\
         Level:          {level}{severity}{raised_by}\n\
         Finding type:   {finding_type}\n\
         Account:        {account}\n\
         Region:         {region}\n\
         Resource:       {resource}\n\
         {signals}\
         First seen:     {first_seen}\n\
         Last seen:      {last_seen}\n\
         Count:          {count}\n\
         Incident id:    {incident_id}\n\
         Finding id:     {finding_id}\n\
         Console:        {console}\n\
         \n\
         To acknowledge (stops re-paging) and take it:\n\
         {portal}  \
         gd-incidents incidents ack {incident_id} --by <your name> --config <config file>\n\
         Details and timeline:\n  \
         gd-incidents incidents show {incident_id} --config <config file>\n\
         \n\
         Sent to the {who} because the incident reached {level}. Do not delete or alter evidence (procedure 3.6).\n",
        title = incident.title,
        level = page.level,
        // Only GuardDuty rates its findings; the other sources' levels come from their kind.
        severity = if incident.source == Source::Guardduty {
            format!(" (GuardDuty severity {})", incident.max_finding_severity)
        } else {
            String::new()
        },
        raised_by = incident.raised_by.as_ref().map(|r| format!("\n                raised by {r}")).unwrap_or_default(),
        finding_type = incident.finding_type,
        account = incident.account_id,
        region = incident.region,
        resource = incident.resource,
        signals = if incident.signals.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = incident.signals.iter().take(8).map(|s| s.name.as_str()).collect();
            let more = incident.signals.len().saturating_sub(names.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("Signals:        {}{more} (incidents show lists their incidents)\n", names.join(", "))
        },
        first_seen = when(incident.first_seen),
        last_seen = when(incident.last_seen),
        count = incident.finding_count,
        incident_id = incident.incident_id,
        finding_id = incident.finding_id,
        console = incident.console_url,
        portal =
            ack_link.map(|url| format!("  {url}  (in the portal, one click after sign-in), or\n")).unwrap_or_default(),
        who = match &page.target {
            Target::Oce => "on-call engineer".to_owned(),
            Target::Iso => "information security officer".to_owned(),
            Target::Route(name) => format!("stakeholders of route {name}"),
            Target::Client(name) => format!("client {name}"),
        },
    );
    let ack_command = format!("gd-incidents incidents ack {} --config <config file>", incident.incident_id);
    let what = if incident.confidential { "Confidential report: see the portal" } else { incident.title.as_str() };
    let summary = match (page.escalation, incident.resource.as_str()) {
        _ if incident.confidential => format!("[{}] {what}", page.level),
        (0, "") => format!("[{}] {what}", page.level),
        (0, resource) => format!("[{}] {what} on {resource}", page.level),
        (n, _) => format!("[{}] RE-PAGE {n}: {what}", page.level),
    };
    let mut facts = vec![
        ("incident_id", json!(incident.incident_id)),
        ("level", json!(page.level.as_str())),
        ("escalation", json!(page.escalation)),
        ("reopening", json!(page.reopening)),
        ("confidential", json!(incident.confidential)),
        ("source", json!(incident.source)),
        ("title", json!(incident.title)),
        ("finding_type", json!(incident.finding_type)),
        ("account_id", json!(incident.account_id)),
        ("region", json!(incident.region)),
        ("resource", json!(incident.resource)),
        ("first_seen", json!(incident.first_seen.map(timestamp::format))),
        ("last_seen", json!(incident.last_seen.map(timestamp::format))),
        ("count", json!(incident.finding_count)),
        ("finding_id", json!(incident.finding_id)),
        ("console_url", json!(incident.console_url)),
        ("raised_by", json!(incident.raised_by)),
    ];
    if let Some(url) = ack_link {
        facts.push(("ack_url", json!(url)));
    }
    Message {
        subject: subject(&format!(
            "[{}]{} {}: {}",
            page.level,
            if page.escalation > 0 { format!(" RE-PAGE {}", page.escalation) } else { String::new() },
            match incident.source {
                _ if incident.confidential => "Confidential report",
                Source::Guardduty | Source::MalwareScan => "GuardDuty",
                Source::Health => "AWS Health",
                Source::Staff => "Staff report",
            },
            if incident.confidential { "see the message" } else { incident.title.as_str() },
        )),
        body,
        attributes: vec![
            ("kind", page_kind(page).to_owned()),
            ("severity", page.level.as_str().to_owned()),
            ("incident_id", incident.incident_id.clone()),
            ("finding_type", incident.finding_type.clone()),
            ("account_id", incident.account_id.clone()),
            ("escalation", page.escalation.to_string()),
        ],
        summary,
        reference: ack_link.map(str::to_owned).unwrap_or_else(|| format!("incident {}", incident.incident_id)),
        next_steps: ack_link
            .map(|url| format!("Acknowledge in the portal: {url}"))
            .into_iter()
            .chain([format!("Acknowledge from a shell: `{ack_command}`")])
            .collect(),
        dedup_key: dedup_key(&incident.incident_id, page.level),
        facts,
    }
}

/// The key that identifies the alert for a level of an incident: a re-page or a reopening at the same
/// level is the same alert again.
pub fn dedup_key(incident_id: &str, level: Level) -> String {
    format!("{incident_id}/{}", level.as_str())
}

/// The contract's `kind` of a page to the OCE, the ISO or a route: `page` for the first page at a level,
/// `repage` for an escalation while nobody acknowledged, `notice` for a missed response objective.
pub fn page_kind(page: &Page) -> &'static str {
    if page.breach.is_some() {
        return "notice";
    }
    match (page.escalation, page.reopening) {
        (0, 0) => "page",
        (0, _) => "reopened",
        _ => "repage",
    }
}

/// Printable ASCII only (SNS refuses the rest), at most 100 characters, never empty.
fn subject(text: &str) -> String {
    let ascii: String = text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect();
    let mut s = ascii.trim().to_owned();
    if s.len() > MAX_SUBJECT {
        s.truncate(MAX_SUBJECT - 3);
        s.push_str("...");
    }
    if s.is_empty() { "GuardDuty incident".into() } else { s }
}

#[cfg(test)]
mod tests;
