//! What a version of a finding does to its incident: the version ordering rules (`updatedAt`, then
//! `service.count`), the level that only rises, and the pages a raise owes.

use chrono::{DateTime, Utc};

use super::{Ctx, Event, Incident, Source, Status};
use crate::domain::finding::{Finding, Origin};
use crate::domain::severity::Level;

impl Incident {
    /// The incident a finding seen for the first time becomes, owing its pages, and the log entry.
    pub fn create(incident_id: String, f: &Finding, ctx: &Ctx) -> (Incident, Event) {
        let rated = ctx.policy.rate(f);
        let level = rated.level;
        let suppressed = ctx.policy.suppression(&f.finding_type, &f.account_id).map(str::to_owned);
        let mut incident = Incident {
            incident_id,
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            finding_id: f.id.clone(),
            finding_type: f.finding_type.clone(),
            severity: level,
            status: if suppressed.is_some() { Status::Suppressed } else { Status::Open },
            title: f.title.clone(),
            description: f.description.clone(),
            finding_count: f.count,
            finding_severity: f.severity,
            max_finding_severity: f.severity,
            finding_updated_at: f.updated_at,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            resource_type: f.resource.kind.clone(),
            resource: f.resource.summary.clone(),
            targets: f.targets.clone(),
            actions: Vec::new(),
            console_url: f.console_url(),
            detector_id: f.detector_id.clone(),
            signals: f.signals.clone(),
            source: match f.origin {
                Origin::GuardDuty => Source::Guardduty,
                Origin::MalwareScan => Source::MalwareScan,
                Origin::Health => Source::Health,
            },
            suppressed_reason: suppressed,
            raised_by: rated.raised_by,
            ..Incident::open(ctx.now)
        };
        incident.owe_pages(level, 0, ctx);
        incident.wind_clock(ctx);
        let from = match f.origin {
            Origin::GuardDuty => "GuardDuty finding",
            Origin::MalwareScan => "GuardDuty Malware Protection scan result",
            Origin::Health => "AWS Health event",
        };
        let mut summary = format!("{level} incident from {from} {} (severity {})", f.finding_type, f.severity);
        if let Some(rule) = &incident.raised_by {
            summary.push_str(&format!("; raised by {rule}"));
        }
        if let Some(reason) = &incident.suppressed_reason {
            summary.push_str(&format!("; suppressed: {reason}"));
        }
        let event = Event::new(ctx.now, "guardduty", "finding.created", summary);
        (incident, event)
    }
}

/// What a version of a finding does to its incident: `None` when nothing changes (a redelivery, or an
/// older version at the same or a lower level), else the incident to write and its log entry.
///
/// A newer version (by `updatedAt`, then `service.count`) replaces the details; any version may raise the
/// level, and raising to HIGH or CRITICAL makes pages owed. A level is never lowered. After a person
/// classified the incident, only a version whose severity is above the finding's severity at that time may
/// raise it: the person's decision stands against the evidence they already weighed.
pub fn apply(existing: &Incident, f: &Finding, ctx: &Ctx) -> Option<(Incident, Event)> {
    let rated = ctx.policy.rate(f);
    let level = rated.level;
    let newer = f.version() > existing.finding_version();
    let beyond_decision = existing.classification.as_ref().is_none_or(|c| f.severity > c.finding_severity);
    let raised = level > existing.severity && beyond_decision;
    // An older version may still carry a higher numeric severity than any seen: keep the maximum exact.
    let higher_score = f.severity > existing.max_finding_severity;
    if !newer && !raised && !higher_score {
        return None;
    }
    let mut next = existing.clone();
    if newer {
        next.finding_type = f.finding_type.clone();
        next.title = f.title.clone();
        next.description = f.description.clone();
        next.finding_count = f.count;
        next.finding_severity = f.severity;
        next.finding_updated_at = f.updated_at;
        next.resource_type = f.resource.kind.clone();
        next.resource = f.resource.summary.clone();
        if !f.targets.is_empty() {
            next.targets = f.targets.clone();
        }
        if f.detector_id.is_some() {
            next.detector_id = f.detector_id.clone();
        }
        if !f.signals.is_empty() {
            next.signals = f.signals.clone();
        }
    }
    next.max_finding_severity = next.max_finding_severity.max(f.severity);
    next.first_seen = earliest(next.first_seen, f.first_seen);
    next.last_seen = latest(next.last_seen, f.last_seen);
    if raised {
        next.raised_by = rated.raised_by;
    }
    if existing.status == Status::Closed {
        return Some(closed(existing, next, f, level, raised, newer, ctx));
    }
    let summary = if raised {
        next.severity = level;
        next.level_since = Some(ctx.now);
        next.owe_pages(level, 0, ctx);
        let why = next.raised_by.as_ref().map(|r| format!("; {r}")).unwrap_or_default();
        format!(
            "raised {} -> {level} by a version with severity {} (count {}){why}",
            existing.severity, f.severity, f.count
        )
    } else if newer && f.source_closed {
        "AWS closed the event; the incident stays open until a person closes it".to_owned()
    } else if newer {
        format!("newer version: severity {}, count {}", f.severity, f.count)
    } else {
        format!("an older version with a higher severity ({}) arrived late", f.severity)
    };
    next.updated_at = ctx.now;
    next.wind_clock(ctx);
    let action = if raised { "finding.raised" } else { "finding.updated" };
    let event = Event::new(ctx.now, "guardduty", action, summary).with_diff(existing, &next);
    Some((next, event))
}

/// A version of the finding of a closed incident. One that raises the level (even an older one that arrived
/// late) reopens the incident and owes the pages of the level reached: the closure never weighed that level,
/// and a CRITICAL one owes a post-mortem. Else a newer one is a recurrence: the activity came back. It
/// reopens the incident and owes the pages of that reopening, unless a policy rule keeps the type closed
/// (known-benign activity), which the timeline then says. An older one reopens nothing and pages no one.
fn closed(
    existing: &Incident,
    mut next: Incident,
    f: &Finding,
    level: Level,
    raised: bool,
    newer: bool,
    ctx: &Ctx,
) -> (Incident, Event) {
    next.updated_at = ctx.now;
    let version = format!(
        "version of {}, count {}",
        f.updated_at.map(crate::domain::timestamp::format).unwrap_or_else(|| "unknown time".into()),
        f.count
    );
    let reopen = |next: &mut Incident| {
        next.status = if next.suppressed_reason.is_some() { Status::Suppressed } else { Status::Open };
        next.closure = None;
        next.acknowledged_by = None;
        next.acknowledged_at = None;
        next.note_status(Status::Closed, ctx.now);
    };
    let (action, summary) = if raised {
        reopen(&mut next);
        next.severity = level;
        next.owe_pages(level, 0, ctx);
        let was = existing.severity;
        (
            "reopened",
            format!("reopened: a version ({version}, severity {}) raised it {was} -> {level} after close", f.severity),
        )
    } else if !newer {
        (
            "finding.updated",
            format!("an older version ({version}, severity {}) arrived after close; not reopened", f.severity),
        )
    } else if let Some(reason) = ctx.policy.keep_closed(&f.finding_type) {
        ("finding.recurred", format!("recurred after close ({version}); kept closed by policy: {reason}"))
    } else {
        reopen(&mut next);
        next.reopenings += 1;
        next.owe_reopening(ctx);
        (
            "reopened",
            format!("reopened: the finding recurred after close ({version}, was count {})", existing.finding_count),
        )
    };
    next.wind_clock(ctx);
    let event = Event::new(ctx.now, "guardduty", action, summary).with_diff(existing, &next);
    (next, event)
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}
