//! One message, several readers. A message is published with SNS `MessageStructure=json`, which gives each
//! kind of subscriber its own text ([`envelope`]):
//!
//! | key       | who gets it                                     | what                                       |
//! |-----------|-------------------------------------------------|--------------------------------------------|
//! | `sms`     | phones                                          | [`sms`]: one line, under 140 characters where it can be |
//! | `email`   | e-mail                                          | the subject and the whole text             |
//! | `sqs`     | queues                                          | [`machine`]: the facts as JSON, the dedup key, the text |
//! | `default` | everyone else: HTTPS, Lambda, e-mail-JSON, chat | [`chat_card`]: an Amazon Q Developer custom notification |
//!
//! HTTPS has no key of its own because Amazon Q Developer in chat applications (formerly AWS Chatbot)
//! subscribes to a topic over HTTPS: a topic wired to Slack or Teams shows the card, and any other HTTPS
//! subscriber gets the same structured JSON, the dedup key in `metadata.additionalContext`.

use serde_json::{Map, Value, json};

use super::Message;

/// The `schema` of the JSON queues receive ([`machine`]); a change that breaks readers changes it.
pub const SCHEMA: &str = "gd-incidents.message/1";
/// The length a text message aims at: one SMS, and a phone's preview.
pub const SMS_LEN: usize = 140;
/// What a text message keeps of the summary when the reference alone fills it (a long portal link).
pub const SMS_MIN_SUMMARY: usize = 40;
/// Amazon Q Developer cuts a card's title; longer ones are shortened here, with an ellipsis.
const CHAT_TITLE_LEN: usize = 250;
/// Amazon Q Developer's limit on a card's description is 8,000 characters; the digest stays well below.
const CHAT_DESCRIPTION_LEN: usize = 4_000;

/// The document SNS takes with `MessageStructure=json`: one text per kind of subscriber.
pub fn envelope(message: &Message) -> String {
    json!({
        "default": chat_card(message).to_string(),
        "email": message.body,
        "sms": sms(message),
        "sqs": machine(message).to_string(),
    })
    .to_string()
}

/// The text message: the summary, shortened so that the reference (the acknowledgement link or the
/// incident's id) fits whole within [`SMS_LEN`]; a link too long for that still goes whole, after the
/// first [`SMS_MIN_SUMMARY`] characters of the summary.
pub fn sms(message: &Message) -> String {
    let reference = message.reference.trim();
    if reference.is_empty() {
        return shorten(&message.summary, SMS_LEN);
    }
    let room = SMS_LEN.saturating_sub(reference.chars().count() + 1).max(SMS_MIN_SUMMARY);
    format!("{} {reference}", shorten(&message.summary, room))
}

/// The message for machines (SQS): its kind, the dedup key, every fact, the next steps and the whole text.
pub fn machine(message: &Message) -> Value {
    let mut out = Map::new();
    out.insert("schema".into(), json!(SCHEMA));
    out.insert("kind".into(), json!(attribute(message, "kind")));
    out.insert("dedup_key".into(), json!(message.dedup_key));
    out.insert("subject".into(), json!(message.subject));
    out.insert("summary".into(), json!(message.summary));
    for (name, value) in &message.facts {
        out.insert((*name).into(), value.clone());
    }
    out.insert("next_steps".into(), json!(message.next_steps));
    out.insert("text".into(), json!(message.body));
    Value::Object(out)
}

/// The custom notification of Amazon Q Developer in chat applications: the summary as the title, the
/// headline and the facts as the description, the next steps, and in the metadata the thread (one per
/// incident), the kind and the dedup key.
pub fn chat_card(message: &Message) -> Value {
    let kind = attribute(message, "kind");
    let fact = |name: &str| message.facts.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_str());
    let thread = fact("incident_id").or_else(|| fact("reference")).unwrap_or(&message.dedup_key);
    let mut context = Map::new();
    context.insert("dedup_key".into(), json!(message.dedup_key));
    context.insert("kind".into(), json!(kind));
    for name in ["incident_id", "level", "reference"] {
        if let Some(value) = fact(name) {
            context.insert(name.into(), json!(value));
        }
    }
    let keywords: Vec<&str> = [fact("level"), Some(kind)].into_iter().flatten().filter(|k| !k.is_empty()).collect();
    let resources: Vec<&str> = fact("resource").filter(|r| !r.is_empty()).into_iter().collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": shorten(&message.summary, CHAT_TITLE_LEN),
            "description": shorten(&description(message), CHAT_DESCRIPTION_LEN),
            "nextSteps": message.next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": thread,
            "summary": message.subject,
            "eventType": kind,
            "relatedResources": resources,
            "additionalContext": context,
        },
    })
}

/// The headline (the text's first paragraph), then each fact on a line of its own.
fn description(message: &Message) -> String {
    let headline = message.body.split("\n\n").next().unwrap_or_default().trim();
    let mut out = String::from(headline);
    for (name, value) in &message.facts {
        let shown = match value {
            Value::Null | Value::Bool(false) => continue,
            Value::String(s) if s.is_empty() => continue,
            Value::Number(n) if n.as_u64() == Some(0) && matches!(*name, "escalation" | "reopening") => continue,
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(|item| format!("\n  • {}", inline(item))).collect(),
            other => other.to_string(),
        };
        out.push_str(&format!("\n*{}*: {shown}", label(name)));
    }
    out
}

/// A list item on one line: an object's values joined.
fn inline(value: &Value) -> String {
    match value {
        Value::Object(fields) => fields.values().map(inline).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" · "),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `finding_type` -> `Finding type`.
fn label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn attribute<'m>(message: &'m Message, name: &str) -> &'m str {
    message.attributes.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
}

/// At most `max` characters, the last three `...` when it was cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}
