//! CSRF tokens of the forms: `<expiry>.<HMAC-SHA256(key, email, expiry)>`, put in every form as a hidden
//! field and checked on every POST before anything else.
//!
//! Why this defeats cross-site request forgery: another site can make a signed-in person's browser send a
//! POST (the load balancer's session cookie goes with it), but it cannot read the portal's pages (no CORS,
//! `frame-ancestors 'none'`), so it cannot learn a token, and it cannot compute one without the key. A token
//! is bound to the person it was made for, so one person's token is useless in another's session, and it
//! expires. No cookie of our own is needed. The key is random per process unless `[portal] csrf_key` is set,
//! which several portal tasks behind one load balancer must share (a restart with a random key only means
//! that forms opened before it must be reloaded).

use base64::Engine;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2_11::Sha256>;

/// How long a form's token stays valid, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// Makes and checks tokens.
pub struct Csrf {
    key: Vec<u8>,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf { key: (secret) }")
    }
}

impl Csrf {
    /// With the configured key, or 32 random bytes.
    pub fn new(configured: Option<&str>) -> Result<Csrf, getrandom::Error> {
        let key = match configured {
            Some(k) => k.as_bytes().to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key)?;
                key
            }
        };
        Ok(Csrf { key })
    }

    fn mac(&self, email: &str, expires: i64) -> HmacSha256 {
        // Any key length is valid for HMAC; `new_from_slice` cannot fail here, the fallback is unreachable.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(b"gd-incidents portal csrf\0");
        mac.update(email.as_bytes());
        mac.update(b"\0");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A token for `email`, valid from `now` (Unix seconds) for [`TOKEN_LIFETIME_SECS`].
    pub fn token(&self, email: &str, now: i64) -> String {
        let expires = now + TOKEN_LIFETIME_SECS;
        let tag = self.mac(email, expires).finalize().into_bytes();
        format!("{expires}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `token` was made by this key for `email` and has not expired at `now`.
    pub fn check(&self, email: &str, token: &str, now: i64) -> bool {
        let Some((expires, tag)) = token.trim().split_once('.') else {
            return false;
        };
        let (Ok(expires), Ok(tag)) =
            (expires.parse::<i64>(), base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag))
        else {
            return false;
        };
        // Constant-time comparison.
        expires > now && self.mac(email, expires).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_person_the_key_and_the_time() {
        let csrf = Csrf::new(None).unwrap();
        let t = csrf.token("sam@example.com", 1_000);
        assert!(csrf.check("sam@example.com", &t, 1_000));
        assert!(csrf.check("sam@example.com", &t, 1_000 + TOKEN_LIFETIME_SECS - 1));
        assert!(!csrf.check("sam@example.com", &t, 1_000 + TOKEN_LIFETIME_SECS), "expired");
        assert!(!csrf.check("rita@example.com", &t, 1_000), "another person's token");
        assert!(!Csrf::new(None).unwrap().check("sam@example.com", &t, 1_000), "another process's key");
        let (exp, tag) = t.split_once('.').unwrap();
        let later = format!("{}.{tag}", exp.parse::<i64>().unwrap() + 100_000);
        assert!(!csrf.check("sam@example.com", &later, 1_000), "a stretched expiry");
        for junk in ["", "x", "1.", ".abc", "99999999999.AAAA", "abc.def"] {
            assert!(!csrf.check("sam@example.com", junk, 1_000), "{junk}");
        }
        let shared = "0123456789abcdef0123456789abcdef";
        let a = Csrf::new(Some(shared)).unwrap();
        assert!(Csrf::new(Some(shared)).unwrap().check("sam@example.com", &a.token("sam@example.com", 5), 5));
    }
}
