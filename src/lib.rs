//! gd-incidents: turns AWS GuardDuty findings into tracked security incidents and pages the right people.
//!
//! The domain is pure and the I/O thin: [`finding`] parses a message, [`severity`] maps GuardDuty's score to
//! the procedure's levels, [`incident`] decides what an incident becomes and which pages it owes; [`store`]
//! (DynamoDB), [`pager`] (SNS) and [`consumer`] (SQS) do the I/O, [`ingest`] ties one finding's path
//! together, and [`daemon`] wires it all for `gd-incidents run`.

pub mod archive;
pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod daemon;
pub mod dispatch;
pub mod dlq;
pub mod faults;
pub mod finding;
pub mod guardduty;
pub mod incident;
pub mod ingest;
pub mod lifecycle;
pub mod metrics;
pub mod pager;
pub mod policy;
pub mod portal;
pub mod postmortem;
pub mod reconcile;
pub mod routing;
pub mod sample;
pub mod server;
pub mod severity;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod watch;
