//! The pure core: what a finding says ([`finding`]), what level it is ([`severity`], [`policy`]), what an
//! incident becomes and which pages it owes ([`incident`]), what responders may do to it ([`lifecycle`]),
//! who is told ([`routing`]) and when again ([`escalation`]), the response clock ([`sla`], [`work_hours`]), and
//! the post-incident report ([`postmortem`]).
//!
//! What belongs here is every decision, as a function from values to values: the current time, ids and the
//! configuration's rules come in as arguments (a `Ctx`), and a refused action is a value saying why. Rules it
//! keeps:
//! - no I/O and no async: no tokio, no AWS SDK, no axum (`tests/architecture.rs` fails on any of them);
//! - it imports nothing from the layers above it, not even the configuration;
//! - every change of an incident returns the new incident and the log entry that records it, so the writer
//!   above can store both in one conditional write;
//! - a finding's version never lowers the level its incident reached (only a person's classification may),
//!   and no level is owed a page twice.

pub mod ack_link;
pub mod containment;
pub mod digest;
pub mod escalation;
pub mod evidence;
pub mod finding;
pub mod follow_up;
pub mod incident;
pub mod lifecycle;
pub mod page_text;
pub mod policy;
pub mod postmortem;
pub mod routing;
pub mod settle;
pub mod severity;
pub mod sla;
pub mod stats;
pub mod timestamp;
pub mod work_hours;
