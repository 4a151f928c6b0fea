//! Why a command failed, and what it means for the exit code.

use crate::adapters::dynamodb::StoreError;
use crate::config::ConfigError;
use crate::domain::lifecycle::Refusal;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No such incident.
    #[error("no incident with id {0} (see `gd-incidents incidents list`)")]
    NotFound(String),
    /// The rules refuse the action; nothing changed.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recorded, but a page could not be sent yet.
    #[error("incident {id} is recorded, but its pages are not all sent yet: {reason} (the daemon retries them)")]
    PagesPending {
        /// The incident.
        id: String,
        /// Why.
        reason: String,
    },
    /// An operator check or command failed.
    #[error("{0}")]
    Failed(String),
    /// A stored finding no longer has its recorded hash.
    #[error("evidence of incident {id} does not verify: {bad} of {total} versions do not match their SHA-256")]
    Tampered {
        /// The incident.
        id: String,
        /// Versions that do not match.
        bad: usize,
        /// Versions kept.
        total: usize,
    },
}
