use super::*;
use crate::domain::lifecycle::{self, Refusal};

#[test]
fn refusals_name_the_missing_post_mortem_fields_as_the_form_does() {
    let input = lifecycle::CloseInput { notes: "n".into(), root_cause: Some("x".into()), ..Default::default() };
    let missing = lifecycle::missing_post_mortem(&input);
    let p = explain(&Refusal::MissingPostMortem { id: "i".into(), why: "CRITICAL".into(), missing });
    assert_eq!(
        p.missing,
        vec![
            "Lessons learned",
            "Long-term mitigations",
            "Cost estimate",
            "Legal counsel involved",
            "Affected customers notified"
        ]
    );
    assert_eq!(
        p.fields,
        vec!["lessons_learned", "mitigations", "cost_estimate", "legal_counsel", "customers_notified"]
    );
    assert!(p.message.contains("CRITICAL"));
    // Every flag the rules can name has a field here, but the follow-up action, which has a form of its own.
    let mut critical = crate::domain::incident::Incident::open(Utc::now());
    critical.severity = Level::Critical;
    let (_, all) = lifecycle::missing_at_close(&critical, &lifecycle::CloseInput::default()).unwrap();
    let fields: Vec<&&str> = all.iter().filter(|f| **f != lifecycle::FOLLOW_UP_NEEDED).collect();
    assert_eq!(fields.len(), POST_MORTEM_FIELDS.len());
    assert!(fields.iter().all(|f| POST_MORTEM_FIELDS.iter().any(|(flag, _, _)| flag == *f)));
    let p = explain(&Refusal::MissingPostMortem { id: "i".into(), why: "CRITICAL".into(), missing: all });
    assert_eq!(p.missing.last(), Some(&"A follow-up action (add one above)"));
}

#[test]
fn values_are_escaped() {
    let m = html! { td { ("<script>alert(1)</script>\"'&") } a href=("\"><img src=x onerror=alert(1)>") {} };
    let s = m.into_string();
    assert!(!s.contains("<script>") && !s.contains("<img"), "{s}");
    assert!(s.contains("&lt;script&gt;"), "{s}");
}

#[test]
fn query_values_are_percent_encoded() {
    assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}
