//! A refused form, explained: the message and the fields to mark, in the words of the form.

use crate::domain::lifecycle::{self, Refusal};
use maud::{Markup, html};

/// The post-mortem's fields: the command line's flag (as [`lifecycle::missing_post_mortem`] names it), the
/// form field, and its label.
pub const POST_MORTEM_FIELDS: [(&str, &str, &str); 7] = [
    ("--root-cause", "root_cause", "Root cause"),
    ("--lessons-learned", "lessons_learned", "Lessons learned"),
    ("--mitigations", "mitigations", "Long-term mitigations"),
    ("--cost-estimate", "cost_estimate", "Cost estimate"),
    ("--legal-counsel", "legal_counsel", "Legal counsel involved"),
    ("--customers-notified", "customers_notified", "Affected customers notified"),
    (lifecycle::AUTHORITIES_FLAG, "authorities_notified", "Authorities notified (required for CRITICAL)"),
];

/// What went wrong with a form: a message, and the fields to mark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problem {
    /// For people.
    pub message: String,
    /// Labels of what is missing, listed under the message.
    pub missing: Vec<&'static str>,
    /// Form fields to mark.
    pub fields: Vec<&'static str>,
}

impl Problem {
    /// A problem with a message only.
    pub fn say(message: impl Into<String>) -> Problem {
        Problem { message: message.into(), ..Problem::default() }
    }
}

/// The label of a command-line flag that a refusal names, as the forms call it.
pub(super) fn label_of(flag: &str) -> &str {
    POST_MORTEM_FIELDS.iter().find(|(f, _, _)| *f == flag).map(|(_, _, label)| *label).unwrap_or(match flag {
        "--to" => "Assign to",
        "the note" => "The note",
        "--notes (closure notes)" => "Closure notes",
        "--title" => "Title",
        "--description" => "Description",
        "--by" => "Your e-mail address",
        "--reason" => "The reason",
        "--owner" => "Owner",
        "the action" => "What is to be done",
        crate::domain::lifecycle::FOLLOW_UP_NEEDED => "A follow-up action (add one above)",
        other => other,
    })
}

/// A refusal of the lifecycle rules, said for the portal (the same refusal as the command line's).
pub fn explain(refusal: &Refusal) -> Problem {
    match refusal {
        Refusal::MissingPostMortem { why, missing, .. } => Problem {
            message: format!(
                "Refused: closing this incident requires the post-mortem ({why}, procedure §3.4-3.5). Nothing was changed. Missing:"
            ),
            missing: missing.iter().map(|flag| label_of(flag)).collect(),
            fields: missing
                .iter()
                .filter_map(|flag| POST_MORTEM_FIELDS.iter().find(|(f, _, _)| f == flag).map(|(_, field, _)| *field))
                .collect(),
        },
        Refusal::Empty(what) => {
            let fields = match *what {
                "--notes (closure notes)" => vec!["notes"],
                "--to" => vec!["to"],
                "the note" => vec!["text"],
                "--title" => vec!["title"],
                "--description" => vec!["description"],
                "--reason" => vec!["reason"],
                "--owner" => vec!["owner"],
                "the action" => vec!["text"],
                _ => vec![],
            };
            Problem { message: format!("Refused: {} must not be empty.", label_of(what)), missing: vec![], fields }
        }
        Refusal::Closed(_) => Problem::say("Refused: this incident is closed. Reopen it first."),
        other => Problem::say(format!("Refused: {other}.")),
    }
}

pub(super) fn problem_box(problem: Option<&Problem>) -> Markup {
    html! {
        @if let Some(p) = problem {
            div.error role="alert" {
                (p.message)
                @if !p.missing.is_empty() {
                    ul { @for m in &p.missing { li { (m) } } }
                }
            }
        }
    }
}
