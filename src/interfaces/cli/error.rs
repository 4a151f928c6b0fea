//! Why a command failed, and what it means for the exit code.

use crate::adapters::dynamodb::StoreError;
use crate::adapters::sqs::StartError;
use crate::adapters::sqs::dead_letters::DlqError;
use crate::adapters::topic_watch::WatchError;
use crate::config::ConfigError;
use crate::domain::lifecycle::Refusal;
use crate::services::archive::ArchiveError;
use crate::services::reconcile::ReconcileError;
use crate::services::sample::SampleError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Who is acting could not be verified, so nothing was changed.
    #[error("cannot verify who you are with STS GetCallerIdentity, so nothing was changed: {}", crate::adapters::clients::describe(.0.as_ref()))]
    Identity(#[source] crate::adapters::clients::AwsError),
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
    /// Closed, but GuardDuty has not archived the finding yet.
    #[error("incident {id} is closed, but archiving its finding in GuardDuty failed: {source} (the daemon retries it)")]
    ArchivePending {
        /// The incident.
        id: String,
        /// Why the archive failed.
        source: ArchiveError,
    },
    /// Sample findings could not be sent.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// Pages could not be watched.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The dead-letter queue cannot be found.
    #[error(transparent)]
    NoDeadLetters(#[from] StartError),
    /// The dead-letter queue cannot be read or drained.
    #[error(transparent)]
    DeadLetters(#[from] DlqError),
    /// GuardDuty could not be swept.
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    /// The daemon's health endpoint did not answer.
    #[error(transparent)]
    Probe(#[from] crate::interfaces::http::ProbeError),
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
