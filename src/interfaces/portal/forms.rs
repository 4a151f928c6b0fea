//! What the forms send, and how it becomes the lifecycle's actions. Every field is optional text, so that a
//! form with a field missing is still read and answered by the rules (and a missing CSRF token by a 403),
//! never by a deserialisation error.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::views::Problem;
use crate::domain::incident::{Ctx, Event, Incident, Status};
use crate::domain::lifecycle::{self, Action, CloseInput, Refusal};
use crate::domain::severity::Level;

/// Longest title accepted, in characters.
pub const MAX_TITLE: usize = 300;
/// Longest text of any other field, in characters (an incident item must stay well under DynamoDB's 400 KB).
pub const MAX_TEXT: usize = 20_000;

/// The responder actions, by the last segment of their URL.
pub const ACTIONS: [&str; 12] = [
    "ack",
    "assign",
    "note",
    "status",
    "classify",
    "mark",
    "close",
    "reopen",
    "follow-up",
    "follow-up-done",
    "contain",
    "undo",
];

/// What a responder's form asks the rules for: one of the lifecycle's actions, or a classification, which
/// has its own rule ([`lifecycle::classify`]: it may owe pages) but the same road through the portal.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// [`lifecycle::act`] with this action.
    Act(Action),
    /// [`lifecycle::classify`] to this level, for this reason.
    Classify {
        /// The person's decision.
        level: Level,
        /// Why (required by the rules).
        reason: String,
    },
}

impl Change {
    /// The rules applied to `incident` by `by`: the command line's, for each kind of change.
    pub fn apply(&self, incident: &Incident, by: &str, ctx: &Ctx) -> Result<(Incident, Event), Refusal> {
        match self {
            Change::Act(action) => lifecycle::act(incident, action, by, ctx),
            Change::Classify { level, reason } => lifecycle::classify(incident, *level, reason, by, ctx),
        }
    }
}

/// The fields of every action form (each form sends the ones it has).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    /// The CSRF token.
    pub csrf: String,
    /// assign: to whom.
    pub to: String,
    /// note: the text.
    pub text: String,
    /// note: when it happened (`datetime-local` in UTC, or RFC 3339, or an age).
    pub at: String,
    /// status: the new status.
    pub status: String,
    /// mark: data was lost (checkbox).
    pub data_loss: Option<String>,
    /// mark: services were impacted (checkbox).
    pub service_impact: Option<String>,
    /// close: the closure notes.
    pub notes: String,
    /// close: post-mortem.
    pub root_cause: String,
    /// close: post-mortem.
    pub lessons_learned: String,
    /// close: post-mortem.
    pub mitigations: String,
    /// close: post-mortem.
    pub cost_estimate: String,
    /// close: `yes`, `no` or empty.
    pub legal_counsel: String,
    /// close: `yes`, `no` or empty.
    pub customers_notified: String,
    /// close: `yes`, `no` or empty (required for CRITICAL).
    pub authorities_notified: String,
    /// reopen and classify: why.
    pub reason: String,
    /// classify: the new level.
    pub level: String,
    /// follow-up: who owns it.
    pub owner: String,
    /// follow-up: by when (a date, RFC 3339 or a time from now).
    pub due: String,
    /// follow-up-done: the action's number.
    pub n: String,
    /// contain and undo: the containment action's name.
    pub containment: String,
}

impl ActionForm {
    /// A text field by its form name (for filling a refused form in again).
    pub fn text_of(&self, field: &str) -> &str {
        match field {
            "root_cause" => &self.root_cause,
            "lessons_learned" => &self.lessons_learned,
            "mitigations" => &self.mitigations,
            "cost_estimate" => &self.cost_estimate,
            "legal_counsel" => &self.legal_counsel,
            "customers_notified" => &self.customers_notified,
            "authorities_notified" => &self.authorities_notified,
            "notes" => &self.notes,
            _ => "",
        }
    }

    fn too_long(&self) -> Option<Problem> {
        let fields = [
            ("to", &self.to, MAX_TITLE),
            ("text", &self.text, MAX_TEXT),
            ("notes", &self.notes, MAX_TEXT),
            ("root_cause", &self.root_cause, MAX_TEXT),
            ("lessons_learned", &self.lessons_learned, MAX_TEXT),
            ("mitigations", &self.mitigations, MAX_TEXT),
            ("cost_estimate", &self.cost_estimate, MAX_TEXT),
            ("reason", &self.reason, MAX_TEXT),
            ("owner", &self.owner, MAX_TITLE),
            ("due", &self.due, MAX_TITLE),
        ];
        fields.into_iter().find(|(_, v, max)| v.chars().count() > *max).map(|(field, _, max)| Problem {
            message: format!("Refused: a field is longer than {max} characters."),
            missing: vec![],
            fields: vec![field],
        })
    }

    /// The change the form `name` asks for with this form's values, or what is wrong with them.
    pub fn change(&self, name: &str) -> Result<Change, Problem> {
        if name != "classify" {
            return self.action(name).map(Change::Act);
        }
        if let Some(p) = self.too_long() {
            return Err(p);
        }
        let level = self
            .level
            .parse::<Level>()
            .map_err(|_| Problem { fields: vec!["level"], ..Problem::say("Refused: choose a level.") })?;
        // Trimmed and checked by the rules, so that an empty reason is refused as the command line refuses it.
        Ok(Change::Classify { level, reason: self.reason.clone() })
    }

    /// The lifecycle action `name` with this form's values, or what is wrong with them.
    pub fn action(&self, name: &str) -> Result<Action, Problem> {
        if let Some(p) = self.too_long() {
            return Err(p);
        }
        let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(match name {
            "ack" => Action::Ack,
            "assign" => Action::Assign { to: self.to.trim().to_owned() },
            "note" => Action::Note { text: self.text.trim().to_owned(), occurred_at: parse_at(&self.at)? },
            "status" => Action::SetStatus(
                self.status.parse::<Status>().map_err(|e| Problem { fields: vec!["status"], ..Problem::say(e) })?,
            ),
            "mark" => {
                Action::Mark { data_loss: self.data_loss.is_some(), service_impact: self.service_impact.is_some() }
            }
            "close" => Action::Close(CloseInput {
                notes: self.notes.trim().to_owned(),
                root_cause: opt(&self.root_cause),
                lessons_learned: opt(&self.lessons_learned),
                mitigations: opt(&self.mitigations),
                cost_estimate: opt(&self.cost_estimate),
                legal_counsel: yes_no(&self.legal_counsel, "legal_counsel")?,
                customers_notified: yes_no(&self.customers_notified, "customers_notified")?,
                authorities_notified: yes_no(&self.authorities_notified, "authorities_notified")?,
            }),
            "reopen" => Action::Reopen { reason: opt(&self.reason) },
            "follow-up" => Action::AddFollowUp {
                text: self.text.trim().to_owned(),
                owner: self.owner.trim().to_owned(),
                due: crate::domain::follow_up::parse_due(&self.due, chrono::Utc::now())
                    .map_err(|e| Problem { fields: vec!["due"], ..Problem::say(e) })?,
            },
            "follow-up-done" => Action::FollowUpDone {
                n: self
                    .n
                    .trim()
                    .parse()
                    .map_err(|_| Problem { fields: vec!["n"], ..Problem::say("Refused: which action?") })?,
            },
            "contain" | "undo" => {
                let action = self
                    .containment
                    .trim()
                    .parse::<crate::domain::containment::Action>()
                    .map_err(|e| Problem { fields: vec!["containment"], ..Problem::say(e) })?;
                if name == "contain" { Action::Contain { action, identity: None } } else { Action::Undo(action) }
            }
            other => return Err(Problem::say(format!("`{other}` is not an action"))),
        })
    }
}

fn yes_no(v: &str, field: &'static str) -> Result<Option<bool>, Problem> {
    match v.trim() {
        "" => Ok(None),
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        other => Err(Problem { fields: vec![field], ..Problem::say(format!("`{other}` is neither yes nor no")) }),
    }
}

/// When a note's event happened: empty (now), a browser's `datetime-local` value taken as UTC, or what the
/// command line's `--at` takes (RFC 3339 or an age such as `2h`).
fn parse_at(v: &str) -> Result<Option<DateTime<Utc>>, Problem> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    for shape in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, shape) {
            return Ok(Some(t.and_utc()));
        }
    }
    crate::domain::timestamp::parse_time_or_age(v, chrono::Utc::now())
        .map(Some)
        .map_err(|e| Problem { fields: vec!["at"], ..Problem::say(e) })
}

/// The report form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReportForm {
    /// The CSRF token.
    pub csrf: String,
    /// One line.
    pub title: String,
    /// What was observed.
    pub description: String,
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub level: String,
    /// Checkbox: insider misconduct.
    pub confidential: Option<String>,
}

impl ReportForm {
    /// What is too long, if anything.
    pub fn too_long(&self) -> Option<Problem> {
        if self.title.chars().count() > MAX_TITLE {
            return Some(Problem {
                fields: vec!["title"],
                ..Problem::say(format!("Refused: the title is longer than {MAX_TITLE} characters."))
            });
        }
        (self.description.chars().count() > MAX_TEXT).then(|| Problem {
            fields: vec!["description"],
            ..Problem::say(format!("Refused: the description is longer than {MAX_TEXT} characters."))
        })
    }
}

/// The incident list's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Only this status (empty: any).
    pub status: String,
    /// Only this level (empty: any).
    pub level: String,
    /// Text to look for.
    pub q: String,
    /// How many to show.
    pub limit: String,
    /// Where the page begins: the cursor the page before ended at (empty: the newest).
    pub after: String,
}

/// The incident page's query: what the action before the redirect did.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// The action, or `reported`.
    pub done: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_the_same_actions_as_the_command_line() {
        let f = ActionForm {
            notes: " rebuilt ".into(),
            root_cause: "key".into(),
            legal_counsel: "no".into(),
            ..Default::default()
        };
        let Action::Close(input) = f.action("close").unwrap() else { panic!() };
        assert_eq!(input.notes, "rebuilt");
        assert_eq!(input.root_cause.as_deref(), Some("key"));
        assert_eq!(input.lessons_learned, None, "empty is absent, so the rules see it missing");
        assert_eq!((input.legal_counsel, input.customers_notified), (Some(false), None));
        assert!(ActionForm { legal_counsel: "maybe".into(), ..Default::default() }.action("close").is_err());
        let note = ActionForm { text: "shell".into(), at: "2026-11-20T09:55".into(), ..Default::default() };
        let Action::Note { occurred_at, .. } = note.action("note").unwrap() else { panic!() };
        assert_eq!(occurred_at.map(crate::domain::timestamp::format).as_deref(), Some("2026-11-20T09:55:00.000Z"));
        assert!(ActionForm { at: "yesterday".into(), ..Default::default() }.action("note").is_err());
        assert!(ActionForm { status: "bogus".into(), ..Default::default() }.action("status").is_err());
        assert!(ActionForm { text: "x".repeat(MAX_TEXT + 1), ..Default::default() }.action("note").is_err());
    }

    #[test]
    fn the_classify_form_becomes_the_command_lines_classification() {
        let f = ActionForm { level: "high".into(), reason: "exfiltration confirmed".into(), ..Default::default() };
        assert_eq!(
            f.change("classify").unwrap(),
            Change::Classify { level: Level::High, reason: "exfiltration confirmed".into() }
        );
        let bogus = ActionForm { level: "URGENT".into(), reason: "r".into(), ..Default::default() };
        assert_eq!(bogus.change("classify").unwrap_err().fields, vec!["level"]);
        assert_eq!(ActionForm::default().change("ack").unwrap(), Change::Act(Action::Ack));
    }
}
