//! The work-hours digest (procedure §3.3: LOW and MEDIUM incidents "do not require someone to be paged or
//! woken up beyond normal work hours"): what the OCE is told of them, at the start of work hours and at a
//! cadence during them, and nothing outside, with the follow-up actions that are overdue. Pure; when it is sent is [`WorkHours::digest_slot`].
//!
//! [`WorkHours::digest_slot`]: crate::domain::work_hours::WorkHours::digest_slot

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::finding::truncate;
use crate::domain::follow_up::FollowUp;
use crate::domain::incident::Incident;
use crate::domain::page_text::Message;
use crate::domain::timestamp;

/// Incidents listed in one digest, at most; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// The digest of `waiting` (LOW and MEDIUM incidents nobody acknowledged, newest first, each with its
/// response clock in a few words), for the slot `slot`. `kind` = `digest`; no `incident_id`: it is not a
/// page.
/// `overdue`: follow-up actions past their due time, with their incident's id.
pub fn render(waiting: &[(Incident, String)], overdue: &[(String, FollowUp)], slot: DateTime<Utc>) -> Message {
    let late = waiting.iter().filter(|(_, clock)| clock.starts_with("LATE")).count();
    let mut body = format!(
        "{} LOW or MEDIUM incident(s) await acknowledgement ({late} past their response objective), as of {}.\n\
         They do not page anyone outside work hours (procedure 3.3); take them during work hours.\n\n",
        waiting.len(),
        timestamp::format(slot)
    );
    for (i, clock) in waiting.iter().take(MAX_LISTED) {
        body.push_str(&format!(
            "{:<6}  {}  {:<28}  {}\n        {} in {} {}\n",
            i.severity.as_str(),
            i.incident_id,
            clock,
            truncate(&i.title, 90),
            i.finding_type,
            i.account_id,
            i.region,
        ));
    }
    if waiting.len() > MAX_LISTED {
        body.push_str(&format!(
            "... and {} more: gd-incidents incidents list --status open\n",
            waiting.len() - MAX_LISTED
        ));
    }
    if !overdue.is_empty() {
        body.push_str(&format!("\n{} follow-up action(s) overdue (procedure 3.1):\n", overdue.len()));
        for (id, f) in overdue.iter().take(MAX_LISTED) {
            body.push_str(&format!(
                "  {id} #{}  due {}  {}: {}\n",
                f.n,
                timestamp::format(f.due),
                truncate(&f.owner, 40),
                truncate(&f.text, 90)
            ));
        }
    }
    body.push_str("\nTo take one: gd-incidents incidents ack <id> --config <config file>\n");
    if !overdue.is_empty() {
        body.push_str("When an action is done: gd-incidents incidents action done <id> <n> --config <config file>\n");
    }
    Message {
        subject: format!(
            "[DIGEST] {} LOW/MEDIUM incident(s) await acknowledgement, {} follow-up action(s) overdue",
            waiting.len(),
            overdue.len()
        ),
        body,
        attributes: vec![
            ("kind", "digest".to_owned()),
            ("count", waiting.len().to_string()),
            ("overdue", overdue.len().to_string()),
        ],
        summary: format!(
            "[DIGEST] {} LOW/MEDIUM incident(s) await acknowledgement ({late} late), {} follow-up action(s) overdue",
            waiting.len(),
            overdue.len()
        ),
        reference: String::new(),
        next_steps: vec!["Take one: `gd-incidents incidents ack <id> --config <config file>`".to_owned()],
        dedup_key: format!("digest/{}", timestamp::format(slot)),
        facts: vec![
            ("slot", json!(timestamp::format(slot))),
            ("waiting", json!(waiting.len())),
            ("late", json!(late)),
            ("overdue", json!(overdue.len())),
            (
                "incidents",
                json!(
                    waiting
                        .iter()
                        .take(MAX_LISTED)
                        .map(|(i, clock)| json!({
                            "incident_id": i.incident_id,
                            "level": i.severity.as_str(),
                            "clock": clock,
                            "title": i.title,
                        }))
                        .collect::<Vec<_>>()
                ),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::Level;

    #[test]
    fn a_digest_lists_what_waits_and_is_no_page() {
        let now = Utc::now();
        let waiting: Vec<(Incident, String)> = (0..52)
            .map(|n| {
                let mut i = Incident::open(now);
                i.incident_id = format!("inc-{n}");
                i.severity = if n % 2 == 0 { Level::Low } else { Level::Medium };
                i.title = format!("finding {n}");
                (i, if n == 0 { "LATE ack".to_owned() } else { "ack by 2026-12-07 17:00Z".to_owned() })
            })
            .collect();
        let overdue = vec![(
            "inc-9".to_owned(),
            FollowUp {
                n: 2,
                text: "rotate the CI keys".into(),
                owner: "infra-ops".into(),
                due: now - chrono::Duration::days(1),
                added_by: "olga".into(),
                added_at: now - chrono::Duration::days(9),
                done_by: None,
                done_at: None,
            },
        )];
        let m = render(&waiting, &overdue, now);
        assert!(m.body.contains("1 follow-up action(s) overdue") && m.body.contains("inc-9 #2"), "{}", m.body);
        assert!(m.subject.contains("52 LOW/MEDIUM"), "{}", m.subject);
        assert!(m.body.contains("(1 past their response objective)"), "{}", m.body);
        assert!(m.body.contains("inc-0") && m.body.contains("LATE ack") && m.body.contains("finding 49"));
        assert!(!m.body.contains("inc-50 "), "at most {MAX_LISTED} listed");
        assert!(m.body.contains("... and 2 more"));
        assert!(m.attributes.contains(&("kind", "digest".into())));
        assert!(!m.attributes.iter().any(|(k, _)| *k == "incident_id"), "not a page (CONTRACT.md)");
    }
}
