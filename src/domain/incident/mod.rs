//! What an incident becomes when a version of its finding arrives, and which pages it then owes. Pure:
//! no I/O and no clock; the caller passes `now` and the ids.
//!
//! The paging rule (CONTRACT.md): each time an incident first reaches HIGH, and again when it first reaches
//! CRITICAL, one page goes to each target. Because a level never goes down, "first reaches" is simply "is
//! raised to". A page is recorded as *owed* in the same conditional write that raises the level, *claimed*
//! by the worker that will publish it, and marked *sent* after the publish. A worker that finds a page owed
//! and unclaimed (or whose claim ran out, because its claimant died) claims it and publishes it; a page
//! claimed by someone else is left to them, and the message waits until the claim runs out.

mod pages;
mod types;
mod versions;

pub use crate::domain::routing::{PAGE_TARGETS, Routing, Target};
pub use pages::{PagePlan, claim, drop_pages, escalate, mark_sent, page_key, page_plan};
pub use types::*;
pub use versions::apply;

#[cfg(test)]
mod tests;
