//! The post-incident report as a Markdown document.

use super::PostIncidentReport;
use crate::domain::sla::missed;
use crate::domain::timestamp;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn or_dash(v: Option<&str>) -> String {
    v.map(cell).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "not recorded".into())
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not recorded",
    }
}

/// The report as a Markdown document.
pub fn markdown(r: &PostIncidentReport) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("# Post-incident report: {}", cell(&s.title)));
    line(String::new());
    line(format!("Incident `{}`, generated {}.", s.incident_id, r.generated_at));
    if s.confidential {
        line(String::new());
        line("**CONFIDENTIAL staff report (procedure 3.2): share with the information security officer only.**".into());
    }
    line(String::new());
    line("## Summary".into());
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    let rows: Vec<(&str, String)> = vec![
        ("Level", s.level.to_string()),
        ("Status", s.status.clone()),
        ("Source", s.source.clone()),
        ("Finding type", cell(&s.finding_type)),
        ("Finding id", cell(&s.finding_id)),
        ("Account / region", format!("{} / {}", cell(&s.account_id), cell(&s.region))),
        ("Affected resource", cell(&s.resource)),
        ("Description", cell(&s.description)),
        ("GuardDuty severity (highest)", s.max_finding_severity.to_string()),
        ("Count", s.finding_count.to_string()),
        (
            "First seen / last seen",
            format!("{} / {}", or_dash(s.first_seen.as_deref()), or_dash(s.last_seen.as_deref())),
        ),
        ("Created", s.created_at.clone()),
        (
            "Acknowledged",
            match (&s.acknowledged_by, &s.acknowledged_at) {
                (Some(by), Some(at)) => format!("by {} at {at}", cell(by)),
                _ => "no".into(),
            },
        ),
        ("Assignee", or_dash(s.assignee.as_deref())),
        (
            "Classification",
            match &s.classification {
                Some(c) => format!(
                    "{} by {} at {} (was {}): {}",
                    c.level,
                    cell(&c.by),
                    timestamp::format(c.at),
                    c.previous,
                    cell(&c.reason)
                ),
                None => "from the finding".into(),
            },
        ),
        (
            "Closed",
            match (&s.closed_by, &s.closed_at) {
                (Some(by), Some(at)) => format!("by {} at {at}", cell(by)),
                _ => "no".into(),
            },
        ),
        ("Closure notes", or_dash(s.closure_notes.as_deref())),
    ];
    for (k, v) in rows {
        line(format!("| {k} | {v} |"));
    }
    if !r.response.is_empty() {
        line(String::new());
        line(format!("## Response times ({} objectives)", s.level));
        line(String::new());
        line("| Objective | Due | Met | In time |".into());
        line("|---|---|---|---|".into());
        for c in &r.response {
            let met = c.met.map(timestamp::format);
            let in_time = if c.breached {
                "**no**"
            } else if c.met.is_some() {
                "yes"
            } else {
                "open"
            };
            line(format!("| {} | {} | {} | {in_time} |", c.goal, timestamp::format(c.due), or_dash(met.as_deref())));
        }
        for b in &r.breaches {
            line(format!(
                "\n- Missed at {}: {} (due {}, recorded {}).",
                b.level,
                missed(b.goal),
                timestamp::format(b.due),
                timestamp::format(b.recorded_at)
            ));
        }
    }
    line(String::new());
    line("## Timeline".into());
    line(String::new());
    line("| Happened | Recorded | By | Action | Entry |".into());
    line("|---|---|---|---|---|".into());
    for e in &r.timeline {
        line(format!(
            "| {} | {} | {} | {} | {} |",
            e.at,
            e.recorded_at,
            cell(&e.by),
            cell(&e.action),
            cell(&e.summary)
        ));
    }
    for (title, value) in [
        ("Cause", &r.cause),
        ("Lessons learned", &r.lessons_learned),
        ("Mitigations", &r.mitigations),
        ("Cost", &r.cost),
    ] {
        line(String::new());
        line(format!("## {title}"));
        line(String::new());
        line(or_dash(value.as_deref()));
        if title == "Mitigations" {
            line(String::new());
            line("## Follow-up actions".into());
            line(String::new());
            line("| # | Action | Owner | Due | State |".into());
            line("|---|---|---|---|---|".into());
            for f in &r.follow_ups {
                let a = &f.action;
                let state = match (&a.done_by, a.done_at) {
                    (Some(by), Some(at)) => format!("done by {} at {}", cell(by), timestamp::format(at)),
                    _ => f.state.to_owned(),
                };
                line(format!(
                    "| {} | {} | {} | {} | {state} |",
                    a.n,
                    cell(&a.text),
                    cell(&a.owner),
                    timestamp::format(a.due)
                ));
            }
            if r.follow_ups.is_empty() {
                line("| - | none recorded | | | |".into());
            }
        }
        if title == "Cause" {
            line(String::new());
            line("## Effect".into());
            line(String::new());
            line(format!("- Data loss: {}", if r.effect.data_loss { "yes" } else { "no" }));
            line(format!("- Service impact: {}", if r.effect.service_impact { "yes" } else { "no" }));
            line(format!("- Affected resource: {}", cell(&r.effect.affected_resource)));
        }
    }
    line(String::new());
    line("## Containment".into());
    line(String::new());
    if r.containment.is_empty() {
        line("No containment action was carried out by gd-incidents.".into());
    } else {
        line("| Action | On | State | Requested by | Requested | Done | Undone | What it did |".into());
        line("|---|---|---|---|---|---|---|---|".into());
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(timestamp::format).unwrap_or_else(|| "-".into());
        for a in &r.containment {
            let detail = a.detail();
            line(format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                a.action,
                cell(&a.target),
                a.state.as_str(),
                cell(&a.requested_by),
                timestamp::format(a.requested_at),
                at(a.done_at),
                at(a.undone_at),
                if detail.is_empty() { "-".into() } else { cell(&detail) }
            ));
        }
    }
    line(String::new());
    line("## Evidence".into());
    line(String::new());
    if r.evidence.is_empty() {
        line("No finding versions kept (staff reports have none).".into());
    } else {
        line("| Finding version (updatedAt) | SHA-256 | Verified | Bytes | Kept |".into());
        line("|---|---|---|---|---|".into());
        for e in &r.evidence {
            line(format!(
                "| {} | `{}` | {} | {} | {} |",
                cell(&e.finding_updated_at),
                e.sha256,
                if e.verified { "yes" } else { "NO: MISMATCH" },
                e.bytes,
                e.received_at
            ));
        }
    }
    line(String::new());
    line("## Who was paged".into());
    line(String::new());
    if r.pages.is_empty() {
        line("Nobody (LOW and MEDIUM never page).".into());
    } else {
        line("| Page | To | Level | State | Sent | SNS message id |".into());
        line("|---|---|---|---|---|---|".into());
        for p in &r.pages {
            line(format!(
                "| {} | {} | {} | {} | {} | {} |",
                cell(&p.key),
                cell(&p.target),
                p.level,
                p.state,
                p.sent_at.as_deref().unwrap_or("-"),
                p.message_id.as_deref().map(cell).unwrap_or_else(|| "-".into())
            ));
        }
    }
    line(String::new());
    line("## Authorities, customers and counsel".into());
    line(String::new());
    if r.authorities_required {
        line(format!(
            "- Authorities notified (required for CRITICAL, procedure 3.7): {}",
            yes_no(r.authorities_notified)
        ));
    } else {
        line(format!("- Authorities notified (not required below CRITICAL): {}", yes_no(r.authorities_notified)));
    }
    line(format!("- Affected customers notified: {}", yes_no(r.customers_notified)));
    line(format!("- Legal counsel involved: {}", yes_no(r.legal_counsel)));
    out
}
