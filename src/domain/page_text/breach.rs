//! The notice that an incident missed a response objective.

use serde_json::json;

use super::{Message, dedup_key, subject};
use crate::domain::incident::{Incident, Page};
use crate::domain::sla::Goal;
use crate::domain::timestamp;

/// The notice to the ISO or the OCE that a HIGH or CRITICAL incident missed a response objective. Not a
/// page of the incident (`kind` = `notice`, no `incident_id` attribute, as the contract has it for the
/// paging topics); the text names the incident.
pub(super) fn render(incident: &Incident, page: &Page, goal: Goal) -> Message {
    let due_at = incident.breaches.iter().rev().find(|b| b.goal == goal).map(|b| timestamp::format(b.due));
    let due = due_at.as_ref().map(|d| format!(" (due {d})")).unwrap_or_default();
    let missed = crate::domain::sla::missed(goal);
    let show = format!("gd-incidents incidents show {} --config <config file>", incident.incident_id);
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
        summary: format!("[{}] Response objective missed: {missed} ({})", page.level, incident.incident_id),
        reference: format!("incident {}", incident.incident_id),
        next_steps: vec![format!("See the response clock: `{show}`")],
        dedup_key: format!("{}/sla-{goal}", dedup_key(&incident.incident_id, page.level)),
        facts: vec![
            ("notice", json!(format!("sla-{goal}"))),
            ("incident_id", json!(incident.incident_id)),
            ("level", json!(page.level.as_str())),
            ("missed", json!(missed)),
            ("due", json!(due_at)),
            ("status", json!(incident.status.as_str())),
            ("acknowledged_by", json!(incident.acknowledged_by)),
            ("assignee", json!(incident.assignee)),
        ],
    }
}
