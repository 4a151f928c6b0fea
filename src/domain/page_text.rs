//! What a page or a client's notice says: subject, body and message attributes. Pure; publishing is
//! `adapters::sns`.

use crate::domain::incident::{Incident, Page, Source, Status, Target};
use crate::domain::severity::Level;
use crate::domain::sla::Goal;
use crate::domain::timestamp;

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
        return render_notice(incident, page, client);
    }
    if let Some(goal) = page.breach {
        return render_breach(incident, page, goal);
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
    }
}

/// The notice to the ISO or the OCE that a HIGH or CRITICAL incident missed a response objective. Not a
/// page of the incident (`kind` = `notice`, no `incident_id` attribute, as the contract has it for the
/// paging topics); the text names the incident.
fn render_breach(incident: &Incident, page: &Page, goal: Goal) -> Message {
    let due = incident
        .breaches
        .iter()
        .rev()
        .find(|b| b.goal == goal)
        .map(|b| format!(" (due {})", timestamp::format(b.due)))
        .unwrap_or_default();
    let body = format!(
        "RESPONSE OBJECTIVE MISSED: {level} incident {id} was {missed}{due}.\n\
         \n\
         Title:          {title}\n\
         Status:         {status}\n\
         Acknowledged:   {ack}\n\
         Assigned to:    {assignee}\n\
         \n\
         Details, the response clock and the timeline:\n  \
         gd-incidents incidents show {id} --config <config file>\n",
        level = page.level,
        id = incident.incident_id,
        missed = crate::domain::sla::missed(goal),
        title = if incident.confidential { "(confidential report)" } else { incident.title.as_str() },
        status = incident.status,
        ack = incident.acknowledged_by.as_deref().unwrap_or("nobody"),
        assignee = incident.assignee.as_deref().unwrap_or("nobody"),
    );
    Message {
        subject: subject(&format!(
            "[{}] Response objective missed: {} ({})",
            page.level,
            crate::domain::sla::missed(goal),
            incident.incident_id
        )),
        body,
        attributes: vec![
            ("kind", "notice".to_owned()),
            ("severity", page.level.as_str().to_owned()),
            ("notice", format!("sla-{goal}")),
        ],
    }
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
        _ => {
            "Our security team is investigating and has started containment and remediation (isolating affected \
             systems, rotating credentials, blocking malicious addresses as needed)."
        }
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
        kind = plain_kind(&incident.finding_type),
        account = incident.account_id,
        region = incident.region,
        doing = being_done(page.update),
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
mod tests {
    use super::*;
    use crate::domain::incident::PageState;
    use chrono::Utc;

    fn incident(title: &str) -> Incident {
        let body =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-instance-backdoor.json"));
        let mut finding = crate::domain::finding::parse(body).unwrap();
        finding.title = title.into();
        finding.region = "eu-west-1".into();
        finding.id = "abc123".into();
        finding.count = 17;
        finding.last_seen = None;
        let policy = crate::domain::policy::Policy::default();
        let ctx = crate::domain::incident::Ctx {
            now: Utc::now(),
            claimant: "t",
            claim_for: chrono::Duration::seconds(60),
            policy: &policy,
            escalation: &crate::domain::escalation::NONE,
            slas: &crate::domain::sla::DEFAULT_SLAS,
            hours: &crate::domain::work_hours::DEFAULT_HOURS,
            routing: &crate::domain::routing::EMPTY,
        };
        let (mut incident, _) = Incident::create("0d9c6f3e-1111-4a4a-9b9b-222233334444".into(), &finding, &ctx);
        incident.severity = Level::Critical;
        incident
    }

    fn page(level: Level, target: Target) -> Page {
        Page {
            level,
            target,
            state: PageState::Owed,
            owed_at: Utc::now(),
            claimed_by: None,
            claim_until: None,
            sent_at: None,
            message_id: None,
            escalation: 0,
            update: None,
            reopening: 0,
            breach: None,
        }
    }

    #[test]
    fn a_page_carries_the_portal_link_when_there_is_one() {
        let i = incident("EC2 instance i-0abc is querying a C&C domain.");
        let with = render_with_link(&i, &page(Level::High, Target::Oce), Some("https://p.example.com/ack/t0k"));
        assert!(with.body.contains("https://p.example.com/ack/t0k  (in the portal"), "{}", with.body);
        assert!(with.body.contains("gd-incidents incidents ack"), "the command stays: {}", with.body);
        assert!(!render(&i, &page(Level::High, Target::Oce)).body.contains("/ack/"));
    }

    #[test]
    fn a_page_says_what_a_responder_needs() {
        let m = render(&incident("EC2 instance i-0abc is querying a C&C domain."), &page(Level::Critical, Target::Oce));
        for needle in [
            "CRITICAL",
            "EC2 instance i-0abc is querying a C&C domain.",
            "Backdoor:EC2/C&CActivity.B!DNS",
            "123456789012",
            "eu-west-1",
            "EC2 instance i-0a1b2c3d4e5f67890",
            "First seen:",
            "Last seen:      unknown",
            "Count:          17",
            "0d9c6f3e-1111-4a4a-9b9b-222233334444",
            "incidents ack 0d9c6f3e-1111-4a4a-9b9b-222233334444",
            "console.aws.amazon.com",
            "on-call engineer",
        ] {
            assert!(m.body.contains(needle), "missing {needle:?} in\n{}", m.body);
        }
        assert!(m.attributes.contains(&("severity", "CRITICAL".into())));
        assert!(m.attributes.contains(&("incident_id", "0d9c6f3e-1111-4a4a-9b9b-222233334444".into())));
        let mut raised = incident("t");
        raised.raised_by = Some("policy rule backdoors: backdoors are High (procedure §3.3)".into());
        let m = render(&raised, &page(Level::High, Target::Oce));
        assert!(m.body.contains("raised by policy rule backdoors: backdoors are High (procedure §3.3)"), "{}", m.body);
        let iso = render(&incident("t"), &page(Level::High, Target::Iso));
        assert!(iso.body.contains("information security officer"));
        assert!(iso.attributes.contains(&("severity", "HIGH".into())));
        assert!(iso.attributes.contains(&("kind", "page".into())));
        let repage = render(&incident("t"), &Page { escalation: 2, ..page(Level::High, Target::Oce) });
        assert!(repage.attributes.contains(&("kind", "repage".into())));
    }

    #[test]
    fn every_message_carries_its_kind() {
        let i = incident("t");
        let client = Target::Client("acme".into());
        let kind = |p: &Page| render(&i, p).attributes.into_iter().find(|(k, _)| *k == "kind").map(|(_, v)| v);
        let table = [
            (page(Level::High, Target::Oce), "page"),
            (page(Level::Critical, Target::Route("infra".into())), "page"),
            (Page { escalation: 1, ..page(Level::High, Target::Iso) }, "repage"),
            (Page { target: client.clone(), ..page(Level::High, Target::Oce) }, "notice"),
            (Page { target: client, update: Some(Status::Closed), ..page(Level::High, Target::Oce) }, "update"),
        ];
        for (p, want) in table {
            assert_eq!(kind(&p).as_deref(), Some(want), "{p:?}");
        }
    }

    #[test]
    fn a_confidential_report_below_high_says_what_it_is() {
        let mut i = incident("t");
        i.confidential = true;
        let m = render(&i, &page(Level::Medium, Target::Iso));
        assert!(m.body.starts_with("MEDIUM confidential report"), "{}", m.body);
        assert!(m.attributes.contains(&("severity", "MEDIUM".into())));
        assert!(m.subject.starts_with("[MEDIUM] Confidential report"), "{}", m.subject);
    }

    #[test]
    fn a_client_notice_is_written_for_a_customer_and_holds_nothing_internal() {
        let mut i = incident("Secret internal title with 10.0.0.1");
        i.description = "raw GuardDuty description".into();
        i.assignee = Some("olga".into());
        let client = Target::Client("acme".into());
        let m = render(&i, &Page { target: client.clone(), ..page(Level::High, Target::Oce) });
        for needle in [
            "Security incident notice for acme",
            "HIGH security incident affecting your environment",
            "0d9c6f3e-1111-4a4a-9b9b-222233334444",
            "a resource that may be under an attacker's control",
            "EC2 instance i-0a1b2c3d4e5f67890",
            "your AWS account 123456789012 (eu-west-1)",
            "Our security team is investigating",
        ] {
            assert!(m.body.contains(needle), "missing {needle:?} in\n{}", m.body);
        }
        for secret in
            ["Secret internal", "raw GuardDuty", "olga", "Backdoor:", "abc123", "console.aws", "incidents ack"]
        {
            assert!(!m.body.contains(secret) && !m.subject.contains(secret), "{secret:?} leaked:\n{}", m.body);
        }
        assert!(m.attributes.contains(&("severity", "HIGH".into())));
        assert!(m.attributes.contains(&("notice", "incident".into())));
        let update =
            render(&i, &Page { target: client, update: Some(Status::Contained), ..page(Level::High, Target::Oce) });
        assert!(update.body.contains("it is now contained") && update.body.contains("isolated"), "{}", update.body);
        assert!(update.attributes.contains(&("notice", "contained".into())));
        let route = render(&i, &page(Level::Critical, Target::Route("infra-ops".into())));
        assert!(route.body.contains("Sent to the stakeholders of route infra-ops"), "{}", route.body);
        assert!(
            route.attributes.contains(&("finding_type", i.finding_type.clone())),
            "routes carry a page's attributes"
        );
    }

    #[test]
    fn subjects_are_short_printable_ascii() {
        let m = render(&incident(&format!("Ünïcode 攻撃 🚨 {}", "x".repeat(300))), &page(Level::High, Target::Oce));
        assert!(m.subject.len() <= MAX_SUBJECT, "{}", m.subject.len());
        assert!(m.subject.chars().all(|c| (' '..='~').contains(&c)), "{}", m.subject);
        assert!(m.subject.starts_with("[HIGH] GuardDuty: ?n?code"));
        assert!(m.body.contains("Ünïcode 攻撃 🚨"), "the body keeps the real title");
        assert_eq!(subject("   "), "GuardDuty incident");
    }
}
