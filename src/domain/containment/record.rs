//! The record of each containment action of an incident: requested by a verified person, claimed and
//! carried out by one daemon, retried after a transient failure, done or failed for good, undone. A
//! record knows nothing of incidents; the lifecycle keeps them on the incident and logs each change.
//!
//! States: `requested` -> `done` (or `failed` after [`MAX_ATTEMPTS`], or at once when the resource is
//! gone); `done` -> `undo-requested` -> `undone` (or back to `done`, its undo `failed`, recorded). A record
//! is owed while `requested` or `undo-requested`: the daemon finds its incident in the index of what is
//! due at [`ActionRecord::due_at`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, INCIDENT_TAG};
use crate::domain::timestamp;

/// Attempts at an action (or its undo) before it is given up as failed.
pub const MAX_ATTEMPTS: u32 = 5;
/// The wait before the first retry; doubled after each failure.
const FIRST_RETRY: Duration = Duration::seconds(30);
/// The longest wait between retries.
const LONGEST_RETRY: Duration = Duration::minutes(15);

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Asked for; the daemon carries it out.
    Requested,
    /// Carried out.
    Done,
    /// Given up: the resource is gone, or it failed [`MAX_ATTEMPTS`] times.
    Failed,
    /// Undo asked for; the daemon carries it out.
    UndoRequested,
    /// Reversed.
    Undone,
}

impl State {
    /// Its name in records and output.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Done => "done",
            State::Failed => "failed",
            State::UndoRequested => "undo-requested",
            State::Undone => "undone",
        }
    }
}

/// One containment action of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action.
    pub action: Action,
    /// What it acts on.
    pub target: String,
    /// Where it stands.
    pub state: State,
    /// Who asked for it (verified).
    pub requested_by: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub requested_at: DateTime<Utc>,
    /// The verified identities that asked for it (a second one is the second approver, where one is
    /// needed: [`ActionRecord::approved`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<String>,
    /// Who asked for the undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_requested_by: Option<String>,
    /// The daemon carrying it out now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// Until when its claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub claim_until: Option<DateTime<Utc>>,
    /// Failed attempts at the current step (carrying out or undoing).
    #[serde(default)]
    pub attempts: u32,
    /// After a failure: not before this time.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub retry_at: Option<DateTime<Utc>>,
    /// What the resource was before the action (recorded before anything is changed).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub before: Value,
    /// What it was after the action (or after the undo).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub after: Value,
    /// The AWS request ids of the changing calls, for AWS Support and CloudTrail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<String>,
    /// The last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was carried out.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub done_at: Option<DateTime<Utc>>,
    /// When it was undone.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::optional")]
    pub undone_at: Option<DateTime<Utc>>,
}

impl ActionRecord {
    /// Whether the daemon has work to do on it.
    pub fn owed(&self) -> bool {
        matches!(self.state, State::Requested | State::UndoRequested)
    }

    /// When the daemon should next look at it: now for a fresh request, when a claim lapses, when a retry
    /// is due. `None` when nothing is owed.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.owed().then(|| [Some(self.requested_at), self.claim_until, self.retry_at].into_iter().flatten().max())?
    }

    /// Whether as many different people asked for it as `needed` (1, or 2 where a second approver is
    /// required); only an undo needs no second person.
    pub fn approved(&self, needed: usize) -> bool {
        self.state == State::UndoRequested || self.approvals.len() >= needed.max(1)
    }

    /// Whether `claimant` may carry it out at `now`: owed, not held by another, and any retry due.
    pub fn claimable(&self, claimant: &str, now: DateTime<Utc>) -> bool {
        let free = self.claimed_by.as_deref() == Some(claimant) || self.claim_until.is_none_or(|until| until <= now);
        self.owed() && free && self.retry_at.is_none_or(|at| at <= now)
    }
}

impl ActionRecord {
    /// What it did or found, for responders: the snapshots made, the groups recorded, the key's status, or
    /// the error.
    pub fn detail(&self) -> String {
        let ids = |v: &Value, pointer: &str| -> Vec<String> {
            v.pointer(pointer)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let mut parts = Vec::new();
        match self.action {
            Action::IsolateInstance => {
                let former = ids(&self.before, "/interfaces/0/groups");
                if !former.is_empty() {
                    parts.push(format!("former groups {}", former.join(", ")));
                }
                if let Some(q) = self.after.get("quarantine_group").and_then(Value::as_str) {
                    parts.push(format!("quarantine group {q}"));
                }
            }
            Action::SnapshotVolumes => {
                let snapshots: Vec<String> = self
                    .after
                    .get("snapshots")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|s| {
                                let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                                format!("{} of {}", field("snapshot_id"), field("volume_id"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !snapshots.is_empty() {
                    parts.push(format!("snapshots {}", snapshots.join(", ")));
                }
            }
            Action::DeactivateAccessKey => {
                if let Some(status) = self.after.get("status").and_then(Value::as_str) {
                    parts.push(format!("key status {status}"));
                }
            }
            Action::RevokeSessions => {
                if let Some(at) = self.after.get("revoked_before").and_then(Value::as_str) {
                    parts.push(format!("sessions issued before {at} denied"));
                }
            }
            Action::QuarantineObject => {}
            Action::BlockIp => {
                let rules: Vec<String> = self
                    .after
                    .get("added")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                let way = if e.get("egress") == Some(&Value::Bool(true)) { "out" } else { "in" };
                                let cidr = e.get("cidr").and_then(Value::as_str).unwrap_or("?");
                                format!("{} {cidr} {way}", e.get("rule_number").unwrap_or(&Value::Null))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                // After an undo, `after` is what the undo found: the entries are gone.
                if let Some(acl) = self.after.get("network_acl_id").and_then(Value::as_str)
                    && !rules.is_empty()
                {
                    parts.push(format!("{acl} deny rules {}", rules.join(", ")));
                }
            }
        }
        if let Some(sets) = self.after.get("waf").and_then(Value::as_array) {
            for set in sets {
                let name = set.get("name").and_then(Value::as_str).unwrap_or("?");
                let added = set.get("added").and_then(Value::as_array).map_or(0, Vec::len);
                parts.push(format!("AWS WAF IP set {name}: {added} address(es) added"));
            }
        }
        if self.action == Action::QuarantineObject && !self.after.is_null() {
            parts.push(format!("tagged {INCIDENT_TAG}"));
            if let Some(copy) = self.after.get("copy").filter(|c| c.is_object()) {
                let field = |k: &str| copy.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                parts.push(format!(
                    "evidence copy s3://{}/{} (version {}, ETag {})",
                    field("bucket"),
                    field("key"),
                    field("version_id"),
                    field("etag")
                ));
            }
        }
        if let Some(e) = &self.error {
            parts.push(format!("error: {e}"));
        }
        parts.join("; ")
    }
}

/// What a request changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A new request (or a new attempt after a failure or an undo).
    New,
    /// A second person approved a request waiting for one.
    Approved,
    /// Already requested or done: nothing changed.
    Already(State),
}

/// Why a request or an undo is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `undo` of an action never carried out.
    #[error("{0} was not carried out on this incident: there is nothing to undo")]
    NotDone(Action),
    /// `undo` of an action with no undo.
    #[error("{0} cannot be undone: snapshots are evidence and are never deleted (procedure 3.6)")]
    NotUndoable(Action),
    /// `undo` while the action is still being carried out or undone.
    #[error("{0} is {1}: wait until the daemon has carried it out")]
    Busy(Action, &'static str),
}

/// Records a request for `action` on `target` by `by` at `now`.
pub fn request(
    records: &mut Vec<ActionRecord>,
    action: Action,
    target: &str,
    (by, identity): (&str, &str),
    now: DateTime<Utc>,
) -> Requested {
    let fresh = ActionRecord {
        action,
        target: target.to_owned(),
        state: State::Requested,
        requested_by: by.to_owned(),
        requested_at: now,
        approvals: vec![identity.to_owned()],
        undo_requested_by: None,
        claimed_by: None,
        claim_until: None,
        attempts: 0,
        retry_at: None,
        before: Value::Null,
        after: Value::Null,
        request_ids: Vec::new(),
        error: None,
        done_at: None,
        undone_at: None,
    };
    match records.iter_mut().find(|r| r.action == action) {
        // Carried out only once approved: a second identity's request on a waiting one is that approval.
        Some(r) if r.state == State::Requested && r.done_at.is_none() && !r.approvals.iter().any(|a| a == identity) => {
            r.approvals.push(identity.to_owned());
            Requested::Approved
        }
        Some(r) if matches!(r.state, State::Requested | State::Done | State::UndoRequested) => {
            Requested::Already(r.state)
        }
        Some(r) => {
            *r = fresh;
            Requested::New
        }
        None => {
            records.push(fresh);
            Requested::New
        }
    }
}

/// Records a request to undo `action` by `by` at `now`.
pub fn request_undo(
    records: &mut [ActionRecord],
    action: Action,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Requested, Refused> {
    if !action.undoable() {
        return Err(Refused::NotUndoable(action));
    }
    let record = records.iter_mut().find(|r| r.action == action).ok_or(Refused::NotDone(action))?;
    match record.state {
        State::Done => {
            record.state = State::UndoRequested;
            record.undo_requested_by = Some(by.to_owned());
            record.attempts = 0;
            record.retry_at = None;
            record.error = None;
            record.claimed_by = None;
            record.claim_until = Some(now);
            Ok(Requested::New)
        }
        State::UndoRequested | State::Undone => Ok(Requested::Already(record.state)),
        State::Requested => Err(Refused::Busy(action, "still requested")),
        State::Failed => Err(Refused::NotDone(action)),
    }
}

/// The record of `action`, mutably, if owed and claimable by `claimant` at `now`; claims it until `until`.
pub fn claim<'r>(
    records: &'r mut [ActionRecord],
    action: Action,
    claimant: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<&'r mut ActionRecord> {
    let record = records.iter_mut().find(|r| r.action == action && r.claimable(claimant, now))?;
    record.claimed_by = Some(claimant.to_owned());
    record.claim_until = Some(until);
    Some(record)
}

/// What carrying out (or undoing) an action found and changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The resource after.
    pub after: Value,
    /// The AWS request ids of the changing calls.
    pub request_ids: Vec<String>,
}

/// Records that `record` was carried out (or undone) at `now`.
pub fn succeeded(record: &mut ActionRecord, outcome: Outcome, now: DateTime<Utc>) {
    match record.state {
        State::UndoRequested => {
            record.state = State::Undone;
            record.undone_at = Some(now);
        }
        _ => {
            record.state = State::Done;
            record.done_at = Some(now);
        }
    }
    record.after = outcome.after;
    record.request_ids.extend(outcome.request_ids);
    record.claimed_by = None;
    record.claim_until = None;
    record.retry_at = None;
    record.attempts = 0;
    record.error = None;
}

/// Records a failed attempt at `now`: retried later with backoff, or given up when `permanent` (the
/// resource is gone, the request is invalid) or after [`MAX_ATTEMPTS`]. Returns whether it was given up.
pub fn failed(record: &mut ActionRecord, error: &str, permanent: bool, now: DateTime<Utc>) -> bool {
    record.attempts += 1;
    record.error = Some(error.to_owned());
    record.claimed_by = None;
    record.claim_until = None;
    let give_up = permanent || record.attempts >= MAX_ATTEMPTS;
    if give_up {
        record.retry_at = None;
        // A failed undo leaves the action in force, as it was.
        record.state = if record.state == State::UndoRequested { State::Done } else { State::Failed };
    } else {
        let wait = FIRST_RETRY * 2i32.saturating_pow(record.attempts - 1);
        record.retry_at = Some(now + wait.min(LONGEST_RETRY));
    }
    give_up
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn an_action_goes_from_request_to_done_to_undone_once() {
        let mut records = Vec::new();
        let isolate = Action::IsolateInstance;
        assert_eq!(request(&mut records, isolate, "i-0abc", ("olga", "arn:olga"), t(0)), Requested::New);
        assert_eq!(records[0].due_at(), Some(t(0)), "due at once");
        assert_eq!(
            request(&mut records, isolate, "i-0abc", ("olga", "arn:olga"), t(1)),
            Requested::Already(State::Requested)
        );
        assert_eq!(records[0].requested_by, "olga", "asking again changes nothing");
        assert!(records[0].approved(1) && !records[0].approved(2), "one person");
        assert_eq!(request(&mut records, isolate, "i-0abc", ("ivan", "arn:ivan"), t(1)), Requested::Approved);
        assert!(records[0].approved(2), "a second, different person");
        assert_eq!(
            request(&mut records, isolate, "i-0abc", ("ivan", "arn:ivan"), t(1)),
            Requested::Already(State::Requested)
        );
        assert!(matches!(request_undo(&mut records, isolate, "arn:ivan", t(1)), Err(Refused::Busy(..))));

        let held = claim(&mut records, isolate, "d1", t(2), t(62)).map(|r| r.target.clone());
        assert_eq!(held.as_deref(), Some("i-0abc"));
        assert!(claim(&mut records, isolate, "d2", t(3), t(63)).is_none(), "another daemon waits for the claim");
        assert_eq!(records[0].due_at(), Some(t(62)), "due again when the claim lapses");
        assert!(claim(&mut records, isolate, "d2", t(62), t(122)).is_some(), "a lapsed claim is taken over");

        let outcome = Outcome { after: serde_json::json!({"groups": ["sg-q"]}), request_ids: vec!["req-1".into()] };
        succeeded(&mut records[0], outcome, t(70));
        assert_eq!((records[0].state, records[0].due_at()), (State::Done, None));
        assert_eq!(
            request(&mut records, isolate, "i-0abc", ("ivan", "arn:ivan"), t(80)),
            Requested::Already(State::Done)
        );

        assert_eq!(request_undo(&mut records, isolate, "arn:ivan", t(90)), Ok(Requested::New));
        assert_eq!(records[0].due_at(), Some(t(90)));
        assert_eq!(
            request_undo(&mut records, isolate, "arn:ivan", t(91)),
            Ok(Requested::Already(State::UndoRequested))
        );
        claim(&mut records, isolate, "d1", t(92), t(152));
        succeeded(&mut records[0], Outcome { after: Value::Null, request_ids: vec!["req-2".into()] }, t(95));
        assert_eq!(records[0].state, State::Undone);
        assert_eq!(records[0].request_ids, ["req-1", "req-2"], "every changing call is kept");
        // Isolating again after an undo is a new request.
        assert_eq!(request(&mut records, isolate, "i-0abc", ("olga", "arn:olga"), t(100)), Requested::New);
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn failures_are_retried_with_backoff_then_given_up() {
        let mut records = Vec::new();
        request(&mut records, Action::DeactivateAccessKey, "AKIA", ("olga", "arn:olga"), t(0));
        let mut waits = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let now = records[0].retry_at.unwrap_or(t(0));
            assert!(claim(&mut records, Action::DeactivateAccessKey, "d1", now, now + Duration::seconds(60)).is_some());
            let gave_up = failed(&mut records[0], "throttled", false, now);
            assert_eq!(gave_up, attempt == MAX_ATTEMPTS, "attempt {attempt}");
            if let Some(at) = records[0].retry_at {
                assert!(!records[0].claimable("d1", at - Duration::seconds(1)), "not before the retry is due");
                waits.push((at - now).num_seconds());
            }
        }
        assert_eq!(waits, [30, 60, 120, 240]);
        assert_eq!((records[0].state, records[0].due_at()), (State::Failed, None));
        assert_eq!(records[0].error.as_deref(), Some("throttled"));
        // A failed action may be asked for again.
        assert_eq!(
            request(&mut records, Action::DeactivateAccessKey, "AKIA", ("olga", "arn:olga"), t(999)),
            Requested::New
        );

        // A resource that is gone fails at once; a failed undo leaves the action done.
        let mut records = Vec::new();
        request(&mut records, Action::IsolateInstance, "i-0gone", ("olga", "arn:olga"), t(0));
        assert!(failed(&mut records[0], "instance i-0gone does not exist", true, t(1)));
        assert_eq!(records[0].state, State::Failed);
        let mut records = Vec::new();
        request(&mut records, Action::IsolateInstance, "i-0abc", ("olga", "arn:olga"), t(0));
        succeeded(&mut records[0], Outcome::default(), t(1));
        request_undo(&mut records, Action::IsolateInstance, "arn:olga", t(2)).unwrap();
        assert!(failed(&mut records[0], "the former group sg-1 was deleted", true, t(3)));
        assert_eq!(records[0].state, State::Done);
    }

    #[test]
    fn snapshots_have_no_undo_and_nothing_undoes_what_was_not_done() {
        let mut records = Vec::new();
        request(&mut records, Action::SnapshotVolumes, "i-0abc", ("olga", "arn:olga"), t(0));
        succeeded(&mut records[0], Outcome::default(), t(1));
        assert_eq!(
            request_undo(&mut records, Action::SnapshotVolumes, "arn:olga", t(2)),
            Err(Refused::NotUndoable(Action::SnapshotVolumes))
        );
        assert_eq!(
            request_undo(&mut records, Action::IsolateInstance, "arn:olga", t(2)),
            Err(Refused::NotDone(Action::IsolateInstance))
        );
    }
}
