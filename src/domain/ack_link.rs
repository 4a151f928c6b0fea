//! The link in a page that acknowledges the incident from the portal in one click after sign-in: signed
//! (HMAC-SHA256 with `[paging] ack_link_key`, shared by the daemon and the portal), bound to the incident and
//! the level paged, and expiring. The link proves nothing about the person: the portal still signs them in
//! through the load balancer, checks they may work the incident, and asks for the click (a POST with its
//! CSRF token), so a forwarded or leaked link lets nobody else acknowledge. Pure.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{KeyInit, Mac};

use crate::domain::severity::Level;

type HmacSha256 = hmac::Hmac<sha2_11::Sha256>;

/// How long a link stays valid.
pub const LIFETIME: Duration = Duration::hours(24);
/// Shortest key accepted.
pub const MIN_KEY_LEN: usize = 32;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a valid link stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckLink {
    /// The incident.
    pub incident_id: String,
    /// The level paged.
    pub level: Level,
    /// Until when the link is valid.
    pub expires: DateTime<Utc>,
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link this program made (or altered).
    #[error("the link is not valid")]
    Invalid,
    /// Valid, but too old.
    #[error("the link expired at {0}")]
    Expired(String),
}

fn mac(key: &[u8], payload: &str) -> HmacSha256 {
    // Any key length is valid for HMAC; the fallback is unreachable.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(b"gd-incidents ack link\0");
    mac.update(payload.as_bytes());
    mac
}

/// The token of a link for `incident_id` paged at `level`, valid from `now` for [`LIFETIME`].
pub fn sign(key: &[u8], incident_id: &str, level: Level, now: DateTime<Utc>) -> String {
    let payload = format!("{incident_id}|{}|{}", level.as_str(), (now + LIFETIME).timestamp());
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{}.{}", B64.encode(payload), B64.encode(tag))
}

/// What the token `token` stands for, if this program made it with `key` and it has not expired at `now`.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<AckLink, LinkError> {
    if token.len() > 512 {
        return Err(LinkError::Invalid);
    }
    let (payload, tag) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let payload =
        String::from_utf8(B64.decode(payload).map_err(|_| LinkError::Invalid)?).map_err(|_| LinkError::Invalid)?;
    let tag = B64.decode(tag).map_err(|_| LinkError::Invalid)?;
    mac(key, &payload).verify_slice(&tag).map_err(|_| LinkError::Invalid)?;
    let mut parts = payload.split('|');
    let (Some(id), Some(level), Some(expires), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Invalid);
    };
    let level = level.parse::<Level>().map_err(|_| LinkError::Invalid)?;
    let expires = expires.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)).ok_or(LinkError::Invalid)?;
    if expires <= now {
        return Err(LinkError::Expired(crate::domain::timestamp::format(expires)));
    }
    Ok(AckLink { incident_id: id.to_owned(), level, expires })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_link_is_bound_to_its_incident_and_level_and_expires() {
        let now = Utc::now();
        let token = sign(KEY, "inc-1", Level::Critical, now);
        let link = verify(KEY, &token, now + Duration::hours(23)).unwrap();
        assert_eq!((link.incident_id.as_str(), link.level), ("inc-1", Level::Critical));
        assert!(matches!(verify(KEY, &token, now + Duration::hours(25)), Err(LinkError::Expired(_))));
        assert_eq!(verify(b"another key of thirty-two bytes!!", &token, now), Err(LinkError::Invalid));
        // Another incident's id put in: the signature no longer holds.
        let (_, tag) = token.split_once('.').unwrap();
        let forged = format!("{}.{tag}", B64.encode(format!("inc-2|CRITICAL|{}", (now + LIFETIME).timestamp())));
        assert_eq!(verify(KEY, &forged, now), Err(LinkError::Invalid));
        for junk in ["", ".", "abc", "a.b", &"x".repeat(600)] {
            assert_eq!(verify(KEY, junk, now), Err(LinkError::Invalid), "{junk}");
        }
    }
}
