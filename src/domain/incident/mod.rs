//! What an incident becomes when a version of its finding arrives, and which pages it then owes. Pure:
//! no I/O and no clock; the caller passes `now` and the ids.
//!
//! The paging rule (CONTRACT.md): each time an incident first reaches HIGH, and again when it first reaches
//! CRITICAL, one page goes to each target. Because a level never goes down, "first reaches" is simply "is
//! raised to". A page is recorded as *owed* in the same conditional write that raises the level, *claimed*
//! by the worker that will publish it, and marked *sent* after the publish. A worker that finds a page owed
//! and unclaimed (or whose claim ran out, because its claimant died) claims it and publishes it; a page
//! claimed by someone else is left to them, and the message waits until the claim runs out.
//!
//! What the procedure requires, and how this module keeps it:
//! - §3.2, insider misconduct goes straight to the ISO: a confidential incident pages the ISO alone (never
//!   the OCE, a route or a client) once for each level it reaches, LOW and MEDIUM included
//!   ([`Incident::page_targets`], `owe_pages`).
//! - Recurrence after close: a newer version of a closed incident's finding (by `updatedAt`, then
//!   `service.count`) reopens it, logs `reopened` with the version and count, and owes the pages of that
//!   reopening (`kind` = `reopened`, keys `LEVEL:target:reopenN`, so each reopening pages anew) to the OCE
//!   and the ISO at HIGH or CRITICAL and to every route and client told before. A redelivery or an older
//!   version reopens nothing, unless it raises the level (the closure never weighed that level: reopened,
//!   paged at it); a `[[policy.keep_closed]]` rule records the recurrence (`finding.recurred`) and leaves
//!   the incident closed.
//! - §3.3, the High list: [`crate::domain::policy`] floors raise backdoors, malware and data theft to HIGH
//!   (`[policy] high_list`, on in every shipped config), and `raised_by` says which rule did.
//! - §3.5, the post-mortem of a CRITICAL incident: [`Incident::highest_level`] keeps the highest level in
//!   the incident's history, so a classification down does not remove the obligation
//!   (`lifecycle::post_mortem_required`).

pub mod clock;
mod pages;
mod types;
mod versions;

pub use crate::domain::routing::{PAGE_TARGETS, Routing, Target};
pub use pages::{PagePlan, claim, drop_pages, escalate, mark_sent, page_key, page_plan};
pub use types::*;
pub use versions::apply;

#[cfg(test)]
mod tests;

impl<'a> Ctx<'a> {
    /// The shipped defaults at `now` under `policy`: no escalation or routing, a 60 s claim by `t`. For tests,
    /// benches and tools; the daemon builds its context from the configuration.
    pub fn defaults(now: chrono::DateTime<chrono::Utc>, policy: &'a crate::domain::policy::Policy) -> Ctx<'a> {
        Ctx {
            now,
            claimant: "t",
            claim_for: chrono::Duration::seconds(60),
            policy,
            escalation: &crate::domain::escalation::NONE,
            slas: &crate::domain::sla::DEFAULT_SLAS,
            hours: &crate::domain::work_hours::DEFAULT_HOURS,
            routing: &crate::domain::routing::EMPTY,
        }
    }
}
