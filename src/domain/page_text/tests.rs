//! What pages, notices and their formats say.

use super::*;
use crate::domain::incident::{PageState, Status};
use chrono::Utc;

fn incident(title: &str) -> Incident {
    let body = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/findings/ec2-instance-backdoor.json"));
    let mut finding = crate::domain::finding::parse(body).unwrap();
    finding.title = title.into();
    finding.region = "eu-west-1".into();
    finding.id = "abc123".into();
    finding.count = 17;
    finding.last_seen = None;
    let policy = crate::domain::policy::Policy::default();
    let ctx = crate::domain::incident::Ctx::defaults(Utc::now(), &policy);
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
    for secret in ["Secret internal", "raw GuardDuty", "olga", "Backdoor:", "abc123", "console.aws", "incidents ack"] {
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
    assert!(route.attributes.contains(&("finding_type", i.finding_type.clone())), "routes carry a page's attributes");
}

#[test]
fn a_client_hears_what_was_actually_done_and_nothing_more() {
    use crate::domain::containment::{Action, record};
    let mut i = incident("t");
    let client = Page { target: Target::Client("acme".into()), ..page(Level::High, Target::Oce) };
    let before = render(&i, &client);
    assert!(!before.body.contains("isolat") && !before.body.contains("rotating"), "no canned claim: {}", before.body);
    record::request(&mut i.actions, Action::IsolateInstance, "i-0abc", ("olga", "olga"), Utc::now());
    record::request(&mut i.actions, Action::DeactivateAccessKey, "AKIA", ("olga", "olga"), Utc::now());
    assert!(!render(&i, &client).body.contains("isolated"), "requested is not done");
    record::succeeded(&mut i.actions[0], record::Outcome::default(), Utc::now());
    let after = render(&i, &client);
    assert!(after.body.contains("So far: the affected server was isolated from the network."), "{}", after.body);
    assert!(!after.body.contains("access key"), "only what was done: {}", after.body);
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

mod formats {
    use super::*;
    use crate::domain::page_text::formats::{SCHEMA, SMS_LEN, chat_card, envelope, machine, sms};

    const LINK: &str =
        "https://portal.example.com/ack/MGQ5YzZmM2UtMTExMS00YTRhLTliOWItMjIyMjMzMzM0NDQ0fEhJR0h8MTc2NDU3NjAwMA.q6Xv";

    #[test]
    fn a_text_message_fits_one_sms_and_keeps_its_link_whole() {
        let long = "EC2 instance i-0abc is communicating with a remote host that is a known command and control server";
        let cases = [
            // (title, link, whole link kept, fits in SMS_LEN)
            ("C&C domain queried.", None, false, true),
            (long, None, false, true),
            ("C&C domain queried.", Some("https://p.example.com/ack/t0k"), true, true),
            (long, Some("https://p.example.com/ack/t0k"), true, true),
            // A link longer than the budget goes whole, after the start of the summary.
            (long, Some(LINK), true, false),
        ];
        for (title, link, keeps_link, fits) in cases {
            let m = render_with_link(&incident(title), &page(Level::High, Target::Oce), link);
            let text = sms(&m);
            assert!(text.starts_with("[HIGH] "), "{text}");
            assert_eq!(text.chars().count() <= SMS_LEN, fits, "{} chars: {text}", text.chars().count());
            if keeps_link {
                assert!(text.ends_with(link.unwrap_or_default()), "{text}");
            } else {
                assert!(text.contains("0d9c6f3e") || text.ends_with("..."), "{text}");
            }
        }
        let m = render(&incident("C&C domain queried."), &page(Level::High, Target::Oce));
        let text = sms(&m);
        assert!(text.starts_with("[HIGH] C&C domain queried. on EC2 instance i-0a1b2c3d4e5f67890"), "{text}");
        assert!(text.ends_with(" incident 0d9c6f3e-1111-4a4a-9b9b-222233334444"), "{text}");
        assert!(text.chars().count() <= SMS_LEN, "{text}");
        let mut confidential = incident("Olga copies the customer list");
        confidential.confidential = true;
        let text = sms(&render(&confidential, &page(Level::High, Target::Iso)));
        assert!(!text.contains("Olga") && text.contains("Confidential report"), "no detail on a phone: {text}");
    }

    #[test]
    fn every_subscriber_gets_its_own_text() {
        let m = render_with_link(&incident("C&C domain queried."), &page(Level::High, Target::Oce), Some(LINK));
        let doc: serde_json::Value = serde_json::from_str(&envelope(&m)).unwrap();
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["default", "email", "sms", "sqs"]);
        assert_eq!(doc["email"], m.body);
        assert_eq!(doc["sms"], sms(&m));
        let queue: serde_json::Value = serde_json::from_str(doc["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(queue, machine(&m));
        let card: serde_json::Value = serde_json::from_str(doc["default"].as_str().unwrap()).unwrap();
        assert_eq!(card, chat_card(&m));
    }

    #[test]
    fn a_queue_gets_the_facts_a_dedup_key_and_the_text() {
        let i = incident("C&C domain queried.");
        let first = machine(&render_with_link(&i, &page(Level::High, Target::Oce), Some(LINK)));
        assert_eq!(first["schema"], SCHEMA);
        assert_eq!(first["kind"], "page");
        assert_eq!(first["dedup_key"], "0d9c6f3e-1111-4a4a-9b9b-222233334444/HIGH");
        assert_eq!(first["incident_id"], "0d9c6f3e-1111-4a4a-9b9b-222233334444");
        assert_eq!(first["level"], "HIGH");
        assert_eq!(first["count"], 17);
        assert_eq!(first["resource"], i.resource);
        assert!(i.resource.starts_with("EC2 instance i-0a1b2c3d4e5f67890"));
        assert_eq!(first["last_seen"], serde_json::Value::Null);
        assert_eq!(first["ack_url"], LINK);
        assert!(first["text"].as_str().unwrap().contains("To acknowledge"));
        // A re-page is the same alert again; the next level is a new one; a missed objective is its own.
        let repage = machine(&render(&i, &Page { escalation: 1, ..page(Level::High, Target::Oce) }));
        assert_eq!((repage["kind"].as_str(), &repage["dedup_key"]), (Some("repage"), &first["dedup_key"]));
        let critical = machine(&render(&i, &page(Level::Critical, Target::Oce)));
        assert_eq!(critical["dedup_key"], "0d9c6f3e-1111-4a4a-9b9b-222233334444/CRITICAL");
        let mut late = i.clone();
        late.breaches.push(crate::domain::sla::Breach {
            goal: crate::domain::sla::Goal::Acknowledge,
            level: Level::High,
            due: Utc::now(),
            recorded_at: Utc::now(),
            reopening: 0,
        });
        let notice = machine(&render(
            &late,
            &Page { breach: Some(crate::domain::sla::Goal::Acknowledge), ..page(Level::High, Target::Iso) },
        ));
        assert_eq!(notice["kind"], "notice");
        assert_eq!(notice["dedup_key"], "0d9c6f3e-1111-4a4a-9b9b-222233334444/HIGH/sla-acknowledge");
        // A client's notice has nothing internal in its facts either.
        let mut secret = i.clone();
        secret.title = "Secret internal title".into();
        let client = machine(&render(
            &secret,
            &Page { target: Target::Client("acme".into()), ..page(Level::High, Target::Oce) },
        ));
        assert!(
            !client.to_string().contains("Secret internal") && !client.to_string().contains("Backdoor"),
            "{client}"
        );
        assert_eq!(client["reference"], "0d9c6f3e-1111-4a4a-9b9b-222233334444");
    }

    #[test]
    fn a_chat_card_is_an_amazon_q_custom_notification() {
        let m = render_with_link(&incident("C&C domain queried."), &page(Level::Critical, Target::Oce), Some(LINK));
        let card = chat_card(&m);
        assert_eq!((card["version"].as_str(), card["source"].as_str()), (Some("1.0"), Some("custom")));
        assert_eq!(card["content"]["textType"], "client-markdown");
        assert_eq!(
            card["content"]["title"],
            format!("[CRITICAL] C&C domain queried. on {}", m.facts[10].1.as_str().unwrap())
        );
        let description = card["content"]["description"].as_str().unwrap();
        assert!(description.starts_with("CRITICAL security incident"), "{description}");
        assert!(description.contains("*Finding type*: Backdoor:EC2/C&CActivity.B!DNS"), "{description}");
        assert!(!description.contains("*Escalation*"), "zero re-pages is not news: {description}");
        assert_eq!(card["content"]["nextSteps"][0], format!("Acknowledge in the portal: {LINK}"));
        assert_eq!(card["content"]["keywords"], serde_json::json!(["CRITICAL", "page"]));
        assert_eq!(card["metadata"]["threadId"], "0d9c6f3e-1111-4a4a-9b9b-222233334444");
        assert_eq!(card["metadata"]["additionalContext"]["dedup_key"], "0d9c6f3e-1111-4a4a-9b9b-222233334444/CRITICAL");
        assert_eq!(card["metadata"]["relatedResources"][0], m.facts[10].1);
        assert_eq!(m.facts[10].0, "resource");
    }
}
