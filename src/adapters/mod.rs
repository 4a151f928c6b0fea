//! Thin adapters for AWS: each turns calls of one service into typed results, and decides nothing.

pub mod clients;
pub mod dynamodb;
pub mod faults;
pub mod guardduty;
pub mod sns;
pub mod sqs;
pub mod topic_watch;
