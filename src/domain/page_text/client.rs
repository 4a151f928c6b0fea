//! The customer-facing notice to a client.

use serde_json::json;

use super::{Message, dedup_key, subject};
use crate::domain::incident::{Incident, Page, Status};
use crate::domain::timestamp;

/// What a finding type's threat purpose means, in words for a customer.
fn plain_kind(finding_type: &str) -> &'static str {
    let purpose = finding_type.split([':', '/']).next().unwrap_or_default();
    match purpose {
        "Backdoor" => "a resource that may be under an attacker's control",
        "Trojan" | "Execution" | "Malware" => "malicious software on a resource",
        "CryptoCurrency" | "Cryptocurrency" => "unauthorised cryptocurrency mining",
        "UnauthorizedAccess" | "InitialAccess" | "CredentialAccess" => "unauthorised access",
        "Exfiltration" => "data possibly copied out without authorisation",
        "Impact" => "activity that may affect the availability or integrity of a service",
        "PrivilegeEscalation" | "Persistence" | "DefenseEvasion" | "Stealth" => {
            "an attempt to gain or keep unauthorised privileges"
        }
        "Recon" | "Discovery" => "reconnaissance against your environment",
        "AttackSequence" => "a sequence of related suspicious activities",
        _ => "suspicious activity",
    }
}

/// What the team is doing, by where the incident stands.
fn being_done(update: Option<Status>) -> &'static str {
    match update {
        Some(Status::Contained) => {
            "The incident is contained: the affected systems are isolated and the malicious activity is stopped. \
             We continue to investigate and to remediate."
        }
        Some(Status::Open) => {
            "The activity came back after we had closed the incident: we have reopened it and are investigating \
             again."
        }
        Some(Status::Resolved) => "The incident is remediated. We are completing our review before we close it.",
        Some(Status::Closed) => {
            "The incident is closed. A post-incident review captures the root cause and the improvements made. \
             Please contact us if you see anything related to it."
        }
        _ => "Our security team is investigating and will contain the activity as needed.",
    }
}

/// The customer-facing notice to client `client` (the client procedure's "prompt notification" and "regular
/// updates"): what is affected and what is being done, in plain words. By design it holds nothing internal:
/// no notes, assignee, closure notes, raw finding, title or description, and no account but the incident's
/// own (which is the client's).
pub fn render_notice(incident: &Incident, page: &Page, client: &str) -> Message {
    let status = match page.update {
        Some(s) => s.as_str(),
        None => "under investigation",
    };
    let headline = match page.update {
        None => format!("We have detected a {} security incident affecting your environment.", page.level),
        Some(s) => format!("Update on security incident {}: it is now {s}.", incident.incident_id),
    };
    let kind = plain_kind(&incident.finding_type);
    // What was actually done, never a canned claim (containment actions carried out and still in force).
    let done: Vec<&str> = incident
        .actions
        .iter()
        .filter(|a| a.state == crate::domain::containment::record::State::Done)
        .map(|a| a.action.in_plain_words())
        .collect();
    let doing = if done.is_empty() {
        being_done(page.update).to_owned()
    } else {
        format!("{} So far: {}.", being_done(page.update), done.join("; "))
    };
    let detected = incident.first_seen.unwrap_or(incident.created_at);
    let resource = if incident.resource.is_empty() { "a resource" } else { incident.resource.as_str() };
    let body = format!(
        "Security incident notice for {client}\n\
         \n\
         {headline}\n\
         \n\
         Reference:      {incident_id}\n\
         Level:          {level}\n\
         Status:         {status}\n\
         Detected:       {detected}\n\
         What happened:  {kind}\n\
         Affected:       {resource} in your AWS account {account} ({region})\n\
         \n\
         What we are doing: {doing}\n\
         \n\
         We will keep you updated as the investigation progresses. Please quote the reference above in any \
         correspondence about this incident.\n",
        incident_id = incident.incident_id,
        level = page.level,
        detected = timestamp::format(detected),
        kind = kind,
        account = incident.account_id,
        region = incident.region,
        doing = doing,
    );
    let what = match page.update {
        None => "Security incident affecting your environment".to_owned(),
        Some(s) => format!("Security incident update: {s}"),
    };
    Message {
        subject: subject(&format!("[{}] {what} (ref {})", page.level, incident.incident_id)),
        body,
        attributes: vec![
            ("severity", page.level.as_str().to_owned()),
            ("incident_id", incident.incident_id.clone()),
            ("account_id", incident.account_id.clone()),
            ("notice", page.update.map_or("incident", |s| s.as_str()).to_owned()),
            ("kind", if page.update.is_some() { "update" } else { "notice" }.to_owned()),
        ],
        summary: format!("[{}] {what} (ref {})", page.level, incident.incident_id),
        reference: format!("ref {}", incident.incident_id),
        next_steps: vec![format!("Quote reference {} in any correspondence about it", incident.incident_id)],
        dedup_key: format!("{}/{status}", dedup_key(&incident.incident_id, page.level)),
        facts: vec![
            ("reference", json!(incident.incident_id)),
            ("level", json!(page.level.as_str())),
            ("status", json!(status)),
            ("detected", json!(timestamp::format(detected))),
            ("what_happened", json!(kind)),
            ("affected", json!(resource)),
            ("account_id", json!(incident.account_id)),
            ("region", json!(incident.region)),
            ("done", json!(done)),
        ],
    }
}
