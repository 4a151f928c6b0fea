//! Services: the domain's decisions carried out through the adapters.

pub mod archive;
pub mod check;
pub mod dispatch;
pub mod ingest;
pub mod reconcile;
pub mod sample;
pub mod schedule;

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
