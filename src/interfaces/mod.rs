//! What faces queues and people: the SQS consumer, the command line, the portal, the operator's HTTP endpoint.

pub mod cli;
pub mod consumer;
pub mod http;
pub mod portal;
