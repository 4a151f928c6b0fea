//! Pages on SNS: what a page says (pure) and publishing it.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::describe;
use crate::incident::{Incident, Page, Target};
use crate::severity::Level;
use crate::timestamp;

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

/// Renders the page `page` of `incident`.
pub fn render(incident: &Incident, page: &Page) -> Message {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(timestamp::format).unwrap_or_else(|| "unknown".into());
    let headline = match page.level {
        Level::Critical => "CRITICAL security incident: an attack may have succeeded. Act now.",
        _ => "HIGH security incident: an attack is likely. Start remediation now.",
    };
    let mut headline = headline.to_owned();
    if page.escalation > 0 {
        headline = format!("RE-PAGE {}: nobody has acknowledged this yet. {headline}", page.escalation);
    }
    if incident.confidential {
        headline.push_str("\nCONFIDENTIAL staff report (procedure 3.2): do not discuss it with anyone else.");
    }
    let body = format!(
        "{headline}\n\
         \n\
         Title:          {title}\n\
         Level:          {level} (GuardDuty severity {severity})\n\
         Finding type:   {finding_type}\n\
         Account:        {account}\n\
         Region:         {region}\n\
         Resource:       {resource}\n\
         First seen:     {first_seen}\n\
         Last seen:      {last_seen}\n\
         Count:          {count}\n\
         Incident id:    {incident_id}\n\
         Finding id:     {finding_id}\n\
         Console:        {console}\n\
         \n\
         To acknowledge (stops re-paging) and take it:\n  \
         gd-incidents incidents ack {incident_id} --by <your name> --config <config file>\n\
         Details and timeline:\n  \
         gd-incidents incidents show {incident_id} --config <config file>\n\
         \n\
         Sent to the {who} because the incident reached {level}. Do not delete or alter evidence (procedure 3.6).\n",
        title = incident.title,
        level = page.level,
        severity = incident.max_finding_severity,
        finding_type = incident.finding_type,
        account = incident.account_id,
        region = incident.region,
        resource = incident.resource,
        first_seen = when(incident.first_seen),
        last_seen = when(incident.last_seen),
        count = incident.finding_count,
        incident_id = incident.incident_id,
        finding_id = incident.finding_id,
        console = incident.console_url,
        who = match page.target {
            Target::Oce => "on-call engineer",
            Target::Iso => "information security officer",
        },
    );
    Message {
        subject: subject(&format!(
            "[{}]{} {}: {}",
            page.level,
            if page.escalation > 0 { format!(" RE-PAGE {}", page.escalation) } else { String::new() },
            if incident.confidential { "Confidential report" } else { "GuardDuty" },
            if incident.confidential { "see the message" } else { incident.title.as_str() },
        )),
        body,
        attributes: vec![
            ("severity", page.level.as_str().to_owned()),
            ("incident_id", incident.incident_id.clone()),
            ("finding_type", incident.finding_type.clone()),
            ("account_id", incident.account_id.clone()),
            ("escalation", page.escalation.to_string()),
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

/// Why a page was not published.
#[derive(Debug, thiserror::Error)]
#[error("SNS Publish to {topic} failed: {detail}")]
pub struct PagerError {
    /// The topic ARN.
    pub topic: String,
    /// The SDK error with its causes.
    pub detail: String,
}

/// Publishes pages to the two topics.
#[derive(Debug, Clone)]
pub struct Pager {
    client: Client,
    oce_topic_arn: String,
    iso_topic_arn: String,
}

impl Pager {
    /// A pager for the OCE and ISO topics.
    pub fn new(client: Client, oce_topic_arn: impl Into<String>, iso_topic_arn: impl Into<String>) -> Pager {
        Pager { client, oce_topic_arn: oce_topic_arn.into(), iso_topic_arn: iso_topic_arn.into() }
    }

    /// The topic of a target.
    pub fn topic(&self, target: Target) -> &str {
        match target {
            Target::Oce => &self.oce_topic_arn,
            Target::Iso => &self.iso_topic_arn,
        }
    }

    /// Publishes one page and returns SNS's message id.
    pub async fn publish(&self, incident: &Incident, page: &Page) -> Result<String, PagerError> {
        let topic = self.topic(page.target);
        let message = render(incident, page);
        let mut request = self.client.publish().topic_arn(topic).subject(message.subject).message(message.body);
        for (name, value) in message.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PagerError { topic: topic.to_owned(), detail: e.to_string() })?;
            request = request.message_attributes(name, attr);
        }
        let out = request.send().await.map_err(|e| PagerError { topic: topic.to_owned(), detail: describe(&e) })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::PageState;
    use chrono::Utc;

    fn incident(title: &str) -> Incident {
        let body =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-instance-backdoor.json"));
        let mut finding = crate::finding::parse(body).unwrap();
        finding.title = title.into();
        finding.region = "eu-west-1".into();
        finding.id = "abc123".into();
        finding.count = 17;
        finding.last_seen = None;
        let policy = crate::policy::Policy::default();
        let ctx = crate::incident::Ctx {
            now: Utc::now(),
            claimant: "t",
            claim_for: chrono::Duration::seconds(60),
            policy: &policy,
            escalate_after: None,
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
        }
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
        let iso = render(&incident("t"), &page(Level::High, Target::Iso));
        assert!(iso.body.contains("information security officer"));
        assert!(iso.attributes.contains(&("severity", "HIGH".into())));
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
