//! Evidence (procedure 3.6: "necessary evidence/information is not destroyed"): each version of a finding
//! kept exactly as received, with its SHA-256 so that any later change to it shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::timestamp;

/// One version of a finding exactly as received: the evidence the procedure says must not be destroyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The incident it belongs to.
    pub incident_id: String,
    /// GuardDuty's `updatedAt` of this version (`unknown` when absent).
    pub finding_updated_at: String,
    /// SHA-256 of `body`, hex.
    pub sha256: String,
    /// The message body as received (the EventBridge event with the finding).
    pub body: String,
    /// When it was first kept.
    #[serde(with = "timestamp::required")]
    pub received_at: DateTime<Utc>,
}

impl Evidence {
    /// The evidence of a message body.
    pub fn of(
        incident_id: &str,
        finding_updated_at: Option<DateTime<Utc>>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Evidence {
        Evidence {
            incident_id: incident_id.to_owned(),
            finding_updated_at: finding_updated_at.map(timestamp::format).unwrap_or_else(|| "unknown".into()),
            sha256: sha256_hex(body),
            body: body.to_owned(),
            received_at: now,
        }
    }

    /// Whether the stored body still has the stored hash.
    pub fn verify(&self) -> bool {
        sha256_hex(&self.body) == self.sha256
    }

    /// Its sort key: the same for the same version received again byte for byte.
    pub fn sk(&self) -> String {
        format!("EVIDENCE#{}#{}", self.finding_updated_at, self.sha256)
    }
}

/// SHA-256 of a text, as lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    lower_hex(&Sha256::digest(text.as_bytes()))
}

/// `bytes` as lowercase hex (a digest as AWS and this program write it).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}
