//! The staff report form (procedure §3.2).

use super::{Chrome, Problem, layout};
use super::{csrf_field, level, problem_box};
use crate::domain::severity::Level;
use crate::interfaces::portal::forms::ReportForm;
use maud::{Markup, html};

/// The report form (procedure §3.2).
pub fn report_form(chrome: &Chrome<'_>, draft: &ReportForm, problem: Option<&Problem>) -> Markup {
    let marked = |field: &str| problem.is_some_and(|p| p.fields.contains(&field));
    let descriptions = [
        (Level::Low, "No immediate remediation needed (e.g. a partial service outage with a workaround)."),
        (Level::Medium, "Suspicious e-mail, unusual activity on a staff laptop."),
        (Level::High, "An attack is likely: backdoor, malware, malicious access to business data. Pages at once."),
        (Level::Critical, "An attack succeeded and something important was lost or damaged. Pages at once."),
    ];
    layout(
        Some(chrome),
        chrome.dev,
        "Report an incident",
        html! {
            h1 { "Report an incident" }
            (problem_box(problem))
            form.card method="post" action="/report" {
                (csrf_field(chrome.csrf))
                label.field.missing[marked("title")] for="title" { "Title" }
                input #title type="text" name="title" value=(draft.title) maxlength="300" placeholder="One line: what happened";
                label.field.missing[marked("description")] for="description" { "Description" }
                textarea #description name="description" rows="6" placeholder="What you observed, where and when" { (draft.description) }
                fieldset.missing[marked("level")] {
                    legend { "Level (your assessment; the on-call engineer may revise it)" }
                    @for (l, says) in descriptions {
                        label {
                            input type="radio" name="level" value=(l.as_str()) checked[draft.level.eq_ignore_ascii_case(l.as_str())];
                            " " (level(l)) " " (says)
                        }
                        br;
                    }
                }
                label {
                    input type="checkbox" name="confidential" value="on" checked[draft.confidential.is_some()];
                    " Confidential: it concerns a colleague's or a partner's misconduct. Only the information security officer is told and can see it."
                }
                br;
                button type="submit" { "Send the report" }
            }
        },
    )
}
