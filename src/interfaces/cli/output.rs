//! What the commands print: text for people, JSON for scripts.

use serde_json::json;

use crate::adapters::dynamodb::Listing;
use crate::domain::containment::record::State;
use crate::domain::evidence::Evidence;
use crate::domain::finding::truncate;
use crate::domain::incident::{Event, Incident, PageState};
use crate::domain::sla::{self, GoalClock};
use crate::domain::timestamp;

/// Prints a JSON value on one line.
pub fn json(value: &serde_json::Value) {
    println!("{value}");
}

/// `incidents list`, with each incident's response clock in a few words (`clock`).
pub fn listing(listing: &Listing, clock: &dyn Fn(&Incident) -> Vec<GoalClock>, as_json: bool) {
    if as_json {
        let clocks: serde_json::Map<String, serde_json::Value> =
            listing.incidents.iter().map(|i| (i.incident_id.clone(), json!(clock(i)))).collect();
        json(&json!({ "incidents": listing.incidents, "clocks": clocks, "next": listing.next }));
        return;
    }
    if listing.incidents.is_empty() {
        println!("no incidents");
    } else {
        println!("{:<36}  {:<8}  {:<13}  {:<24}  {:<27}  TITLE", "ID", "LEVEL", "STATUS", "CREATED", "SLA");
    }
    for i in &listing.incidents {
        println!(
            "{:<36}  {:<8}  {:<13}  {:<24}  {:<27}  {}",
            i.incident_id,
            i.severity.as_str(),
            i.status.as_str(),
            timestamp::format(i.created_at),
            sla::summary(&clock(i)),
            truncate(&i.title, 80)
        );
    }
    if let Some(next) = &listing.next {
        println!("more: --next {next}");
    }
}

/// `incidents show`.
/// The incidents an incident is linked to: the attack sequences it is part of, and for an attack sequence
/// the incidents of its signals (by signal uid) that exist.
#[derive(Debug, Default)]
pub struct Related {
    /// Attack sequences this incident's finding is part of.
    pub sequences: Vec<crate::adapters::dynamodb::SequenceLink>,
    /// For an attack sequence: its signals' incidents.
    pub signals: Vec<(String, Incident)>,
    /// Other open incidents about the same resource.
    pub same_resource: Vec<Incident>,
}

/// An incident, its response clock, its log and what it is linked to, as text or JSON.
pub fn incident(
    incident: &Incident,
    clock: &[GoalClock],
    timeline: &[Event],
    evidence: usize,
    related: &Related,
    as_json: bool,
) {
    if as_json {
        let signals: Vec<_> = related
            .signals
            .iter()
            .map(|(uid, i)| json!({"finding_id": uid, "incident_id": i.incident_id, "status": i.status.as_str()}))
            .collect();
        json(&json!({
            "incident": incident,
            "clock": clock,
            "timeline": timeline,
            "evidence_versions": evidence,
            "part_of_sequences": related.sequences,
            "signal_incidents": signals,
            "same_resource": related.same_resource.iter().map(|i| json!({
                "incident_id": i.incident_id, "severity": i.severity, "status": i.status.as_str(),
                "finding_type": i.finding_type, "title": i.title,
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    let t = |v: Option<chrono::DateTime<chrono::Utc>>| v.map(timestamp::format).unwrap_or_else(|| "-".into());
    println!("Incident {}  {}  {}", incident.incident_id, incident.severity, incident.status);
    if incident.confidential {
        println!("CONFIDENTIAL staff report: share with the information security officer only");
    }
    println!("Title:        {}", incident.title);
    if !incident.description.is_empty() {
        println!("Description:  {}", incident.description);
    }
    println!("Finding:      {} ({})", incident.finding_type, incident.finding_id);
    println!("Account:      {}  Region: {}", incident.account_id, incident.region);
    println!("Resource:     {}", incident.resource);
    println!(
        "First seen:   {}  Last seen: {}  Count: {}",
        t(incident.first_seen),
        t(incident.last_seen),
        incident.finding_count
    );
    println!(
        "Created:      {}  Updated: {}",
        timestamp::format(incident.created_at),
        timestamp::format(incident.updated_at)
    );
    if let Some(by) = &incident.reported_by {
        println!("Reported by:  {by}");
    }
    for s in &related.sequences {
        println!("Part of:      attack sequence {} ({})", s.sequence_incident_id, s.sequence_type);
    }
    if !incident.signals.is_empty() {
        println!("Signals:");
        for s in &incident.signals {
            let linked = related.signals.iter().find(|(uid, _)| uid == &s.uid);
            let incident = match linked {
                Some((_, i)) => format!("incident {} ({})", i.incident_id, i.status.as_str()),
                None if s.is_finding() => "no incident yet".into(),
                None => String::new(),
            };
            println!("  {:<16} {}  {}  {incident}", s.kind, s.name, s.uid);
        }
    }
    if !related.same_resource.is_empty() {
        println!("Same resource, also open:");
        for i in &related.same_resource {
            println!("  {}  {:<8} {:<13} {}", i.incident_id, i.severity.as_str(), i.status.as_str(), i.title);
        }
    }
    if let Some(rule) = &incident.raised_by {
        println!("Raised by:    {rule}");
    }
    if let Some(reason) = &incident.suppressed_reason {
        println!("Suppressed:   {reason}");
    }
    println!(
        "Acknowledged: {}",
        match (&incident.acknowledged_by, incident.acknowledged_at) {
            (Some(by), at) => format!("by {by} at {}", t(at)),
            _ => "no".into(),
        }
    );
    println!("Assignee:     {}", incident.assignee.as_deref().unwrap_or("-"));
    if let Some(c) = &incident.classification {
        println!(
            "Classified:   {} by {} at {} (was {}; finding severity then {}): {}",
            c.level,
            c.by,
            timestamp::format(c.at),
            c.previous,
            c.finding_severity,
            c.reason
        );
    }
    if incident.data_loss || incident.service_impact {
        println!("Impact:       data loss: {}, service impact: {}", incident.data_loss, incident.service_impact);
    }
    if let Some(at) = incident.escalate_at {
        println!("Re-page due:  {} (re-pages so far: {})", timestamp::format(at), incident.escalations);
    }
    if !clock.is_empty() {
        println!(
            "Response clock ({} objectives, from {}):",
            incident.severity,
            t(incident.level_since.or(Some(incident.created_at)))
        );
        for c in clock {
            let state = match (c.met, c.breached) {
                (Some(m), false) => format!("met {}", timestamp::format(m)),
                (Some(m), true) => format!("met LATE {}", timestamp::format(m)),
                (None, true) => "LATE".into(),
                (None, false) => "open".into(),
            };
            println!("  {:<12} due {}  {state}", c.goal.as_str(), timestamp::format(c.due));
        }
    }
    for b in &incident.breaches {
        println!(
            "Missed:       {} {} (due {}, recorded {})",
            b.level,
            sla::missed(b.goal),
            timestamp::format(b.due),
            timestamp::format(b.recorded_at)
        );
    }
    if !incident.console_url.is_empty() {
        println!("Console:      {}", incident.console_url);
    }
    println!("Evidence:     {evidence} version(s) kept (gd-incidents incidents evidence {})", incident.incident_id);
    if !incident.pages.is_empty() {
        println!("Pages:");
        for (key, p) in &incident.pages {
            let state = match p.state {
                PageState::Sent => format!("sent {}", t(p.sent_at)),
                PageState::Owed => "owed".into(),
                PageState::Superseded => "superseded".into(),
            };
            println!("  {key:<22} {state}  {}", p.message_id.as_deref().unwrap_or(""));
        }
    }
    if !incident.actions.is_empty() {
        println!("Containment:");
        for a in &incident.actions {
            let when = match a.state {
                State::Undone => format!(" {}", t(a.undone_at)),
                State::Done => format!(" {}", t(a.done_at)),
                _ => String::new(),
            };
            println!(
                "  {:<22} {:<20} {}{when}  requested by {}",
                a.action.as_str(),
                a.target,
                a.state.as_str(),
                a.requested_by
            );
            let detail = a.detail();
            if !detail.is_empty() {
                println!("  {:<22} {detail}", "");
            }
        }
    }
    if !incident.follow_ups.is_empty() {
        println!("Follow-up actions:");
        for f in &incident.follow_ups {
            let state = if f.done_at.is_some() { "done" } else { "open" };
            println!("  {:>3}  {state:<5} due {}  {}: {}", f.n, timestamp::format(f.due), f.owner, f.text);
        }
    }
    if let Some(c) = &incident.closure {
        println!("Closed by {} at {}: {}", c.by, timestamp::format(c.at), c.notes);
        let yes_no = |b: Option<bool>| b.map(|b| if b { "yes" } else { "no" }).unwrap_or("-");
        for (name, value) in [
            ("Root cause", c.root_cause.as_deref()),
            ("Lessons learned", c.lessons_learned.as_deref()),
            ("Mitigations", c.mitigations.as_deref()),
            ("Cost estimate", c.cost_estimate.as_deref()),
        ] {
            if let Some(v) = value {
                println!("  {name}: {v}");
            }
        }
        if c.legal_counsel.is_some() || c.customers_notified.is_some() || c.authorities_notified.is_some() {
            println!(
                "  Legal counsel: {}  Customers notified: {}  Authorities notified: {}",
                yes_no(c.legal_counsel),
                yes_no(c.customers_notified),
                yes_no(c.authorities_notified)
            );
        }
    }
    println!("Timeline:");
    for e in timeline {
        let occurred = e.occurred_at.map(|o| format!(" [happened {}]", timestamp::format(o))).unwrap_or_default();
        println!("  {}  {:<14} {:<18} {}{occurred}", timestamp::format(e.at), e.who(), e.action, e.summary);
    }
}

/// `incidents action list`: the follow-up actions, open, overdue or done at `now`.
pub fn follow_ups(incident: &Incident, now: chrono::DateTime<chrono::Utc>, as_json: bool) {
    if as_json {
        let list: Vec<_> = incident.follow_ups.iter().map(|f| json!({ "action": f, "state": f.state(now) })).collect();
        json(&json!({ "incident_id": incident.incident_id, "follow_ups": list }));
        return;
    }
    if incident.follow_ups.is_empty() {
        println!(
            "no follow-up actions (gd-incidents incidents action add {} TEXT --owner NAME --due 14d)",
            incident.incident_id
        );
    }
    for f in &incident.follow_ups {
        let done =
            f.done_at.map(|at| format!(" by {} at {}", f.done_by.as_deref().unwrap_or("?"), timestamp::format(at)));
        println!(
            "{:>3}  {:<8} due {}  {:<16} {}{}",
            f.n,
            f.state(now),
            timestamp::format(f.due),
            truncate(&f.owner, 16),
            f.text,
            done.unwrap_or_default()
        );
    }
}

/// The result of a responder's action.
pub fn changed(incident: &Incident, as_json: bool) {
    if as_json {
        json(&json!({ "incident": incident }));
    } else {
        println!(
            "incident {}: {} {}{}",
            incident.incident_id,
            incident.severity,
            incident.status,
            incident.assignee.as_deref().map(|a| format!(", assigned to {a}")).unwrap_or_default()
        );
    }
}

/// `incidents evidence`.
pub fn evidence(incident: &Incident, evidence: &[Evidence], print: bool, as_json: bool) {
    if as_json {
        let versions: Vec<serde_json::Value> = evidence
            .iter()
            .map(|e| {
                let mut v = json!({
                    "finding_updated_at": e.finding_updated_at,
                    "sha256": e.sha256,
                    "verified": e.verify(),
                    "bytes": e.body.len(),
                    "received_at": timestamp::format(e.received_at),
                });
                if print {
                    v["body"] = json!(e.body);
                }
                v
            })
            .collect();
        json(&json!({ "incident_id": incident.incident_id, "evidence": versions }));
        return;
    }
    println!("Evidence of incident {}: {} version(s)", incident.incident_id, evidence.len());
    for e in evidence {
        println!(
            "  {}  sha256 {}  {}  {} bytes, kept {}",
            e.finding_updated_at,
            e.sha256,
            if e.verify() { "verified" } else { "MISMATCH" },
            e.body.len(),
            timestamp::format(e.received_at)
        );
        if print {
            println!("{}", e.body);
        }
    }
}
