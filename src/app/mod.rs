//! The composition roots: the one place that turns a loaded [`Config`] into connected clients, store and
//! dispatcher ([`connect`]), and starts the daemon ([`daemon::run`]) or the portal ([`portal::run`]) on them.
//! `main.rs` loads the configuration and sets up telemetry once, then calls one of these.
//!
//! What belongs here is wiring and process lifetime: which tasks run, how they share a shutdown token
//! ([`signals`]), and what must fail at start rather than later. Rules it keeps:
//! - it is the top layer: it may use every other, and nothing in the library imports it;
//! - it decides nothing about incidents and handles no message itself;
//! - everything that can fail at start fails before the first message is received.

pub mod daemon;
pub mod portal;
pub mod signals;

use crate::adapters::clients::Clients;
use crate::adapters::dynamodb::Store;
use crate::config::Config;
use crate::services::Context;
use crate::services::dispatch::Dispatcher;

/// Builds the AWS clients (one HTTP connection pool), the incident store and the dispatcher from `config`:
/// the same wiring for the daemon, the portal and every command. Makes no AWS call.
pub async fn connect(config: Config) -> Context {
    let clients = Clients::new(&config.aws).await;
    let store = Store::new(
        clients.dynamodb.clone(),
        clients.dynamodb_json.clone(),
        &config.incidents.table,
        config.incidents.confidential_table.clone(),
    );
    let dispatch = Dispatcher::from_config(store, clients.sns.clone(), &config);
    Context { config, clients, dispatch }
}
