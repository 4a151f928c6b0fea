//! Services: the domain's decisions carried out through the adapters. [`ingest`] takes one finding to its
//! incident and pages; [`dispatch`] owns the store, the pager and the rules, applies a person's change and
//! sends what an incident owes; [`reconcile`] sweeps the GuardDuty API; [`archive`] archives a closed
//! incident's finding; [`schedule`] runs the periodic round (owed pages, re-pages); [`containment`] carries
//! out the actions people asked for; [`check`] (with [`coverage`] of an organisation's regions) and
//! [`sample`] back the commands of the same names. [`Context`] is what each process works with.
//!
//! What belongs here is a use case: read, let the domain decide, write conditionally, publish. Rules it
//! keeps:
//! - decisions are made by the domain; a service only orders calls, re-applies a change after a lost race,
//!   and reports what happened;
//! - every step is idempotent, so a message or a command can be retried after any crash, by any process;
//! - a page is owed in the same write as the change that owes it, claimed before it is published, and
//!   recorded after, so it is sent once however many processes run (only a crash between a publish and
//!   its record can send it twice);
//! - it knows nothing of how it was asked (queue, command line, portal): those are the interfaces above.

pub mod archive;
pub mod check;
pub mod clock;
pub mod containment;
pub mod coverage;
pub mod digest;
pub mod dispatch;
pub mod ingest;
pub mod reconcile;
pub mod sample;
pub mod schedule;
pub mod stats;

use crate::adapters::clients::Clients;
use crate::config::Config;
use crate::services::dispatch::Dispatcher;

/// What every process works with once connected (`app::connect`): the configuration, the AWS clients, and
/// the dispatcher with its store, pager and rules.
#[derive(Debug, Clone)]
pub struct Context {
    /// The configuration, loaded once.
    pub config: Config,
    /// The AWS clients.
    pub clients: Clients,
    /// Store, pager and rules.
    pub dispatch: Dispatcher,
}
