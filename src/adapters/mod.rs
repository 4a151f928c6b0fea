//! Thin adapters for AWS: each module turns the calls of one service into typed results ([`dynamodb`],
//! [`sns`], [`sqs`], [`guardduty`]), builds the clients with their retry and timeout policy ([`clients`]:
//! the SDK's, and for the calls made for every message a lean client of the AWS JSON protocol,
//! [`aws_json`]) and counts what DynamoDB says each call cost ([`capacity`]),
//! or is test-only machinery ([`faults`], the outage injection; [`call_log`], the calls made, for the
//! permission test) and the `pages` command's watcher
//! ([`topic_watch`]).
//!
//! What belongs here is how to talk to a service, not what to do: an adapter decides nothing about
//! incidents, levels or pages. Rules it keeps:
//! - it uses the domain, the configuration and telemetry, never the services, interfaces or app above it;
//! - every DynamoDB write is conditional, and nothing here deletes an incident, a log entry or evidence;
//! - errors are typed (thiserror) and keep the SDK's error as their source; a lost conditional write is an
//!   error variant the caller can re-apply on, not a failure;
//! - every call goes through the shared clients, so it has the configured retries, timeouts and metrics.

pub mod aws_json;
pub mod call_log;
pub mod capacity;
pub mod clients;
pub mod containment;
pub mod dynamodb;
pub mod faults;
pub mod guardduty;
pub mod identity;
pub mod sns;
pub mod sqs;
pub mod topic_watch;
