//! Why the configuration cannot be used: the file, the line when known, the key, the reason.

use std::path::PathBuf;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {}{}: not valid TOML: {reason}", path.display(), line_suffix(*line))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A key is missing, unknown, of the wrong type or out of range.
    #[error("config file {}{}: key `{key}`: {reason}", path.display(), line_suffix(*line))]
    Key {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// Dotted key, e.g. `queue.batch_size`.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Why an override variable cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// The variable's name is not `GD_INCIDENTS__<SECTION>__<KEY>`.
    #[error("expected GD_INCIDENTS__<SECTION>__<KEY>, e.g. GD_INCIDENTS__QUEUE__URL")]
    Shape,
    /// The file gives the section's name to a value, not a table.
    #[error("`{section}` is not a section")]
    NotASection {
        /// The section named.
        section: String,
    },
}
