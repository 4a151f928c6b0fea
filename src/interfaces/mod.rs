//! What faces queues and people: the SQS consumer ([`consumer`]), the command line ([`cli`]), the incident
//! portal ([`portal`]) and the operator's HTTP endpoint ([`http`]: `/healthz`, `/readyz`, `/metrics`).
//!
//! What belongs here is turning an outside request into a call of a service and its result into what the
//! outside expects: a settled message (deleted, dead-lettered, retried), a line of text or JSON and an exit
//! code, a web page. Rules it keeps:
//! - no incident rule lives here: the command line and the portal change incidents through the same
//!   service calls, so they refuse the same things with the same reasons;
//! - it uses the services, adapters, domain and configuration, never the app above it;
//! - input from outside (message bodies, arguments, forms, headers) is checked before use, and a refusal
//!   changes nothing.

pub mod cli;
pub mod consumer;
pub mod http;
pub mod portal;
