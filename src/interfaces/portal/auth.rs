//! Who is asking: the `x-amzn-oidc-data` header that an AWS Application Load Balancer adds after it has
//! signed the person in with OIDC, verified here; or, for local development only, one fixed person.
//!
//! The header is a JWT signed by the load balancer with ES256. Its header names the key (`kid`) and the
//! load balancer (`signer`, its ARN); the key is a PEM public key at `<public_key_url>/<kid>`, fetched once
//! and cached. A token is accepted only if `alg` is exactly `ES256`, `signer` is the configured load
//! balancer, the signature verifies (RustCrypto `p256`), `exp` has not passed, and it carries an `email`
//! claim. The load balancer's base64url may carry `=` padding, which is accepted. Anything else is a 401:
//! there is never a default user.

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Deserialize;

use super::keys::KeyStore;
pub use super::keys::{NoTlsRoots, default_key_url};

/// The header the load balancer signs.
pub const OIDC_DATA_HEADER: &str = "x-amzn-oidc-data";
/// The only algorithm accepted.
pub const ALGORITHM: &str = "ES256";
/// Longer headers are refused before any work (the load balancer's are well under 4 KiB).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// base64url, with or without `=` padding (the load balancer pads).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request is not signed in. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No header at all.
    #[error("no {OIDC_DATA_HEADER} header")]
    Missing,
    /// Not a JWT of the expected shape.
    #[error("the {OIDC_DATA_HEADER} header is not a valid token: {0}")]
    Malformed(&'static str),
    /// `alg` is not ES256 (e.g. `none` or `HS256`).
    #[error("the token's alg is `{0}`, only ES256 is accepted")]
    Algorithm(String),
    /// Signed by another load balancer, or by none.
    #[error("the token's signer is `{0}`, not the configured load balancer")]
    Signer(String),
    /// No usable `kid`.
    #[error("the token has no valid key id")]
    KeyId,
    /// The key could not be fetched or read.
    #[error("the load balancer's key {kid} is not available: {why}")]
    KeyUnavailable {
        /// The key id.
        kid: String,
        /// What went wrong.
        why: String,
    },
    /// The signature does not verify with the load balancer's key.
    #[error("the token's signature does not verify")]
    Signature,
    /// `exp` has passed.
    #[error("the token expired at {0} (Unix time)")]
    Expired(i64),
    /// No `exp` claim.
    #[error("the token has no exp claim")]
    NoExpiry,
    /// No `email` claim.
    #[error("the token has no email claim")]
    NoEmail,
    /// The identity provider does not vouch for the address (`email_verified` is not true).
    #[error("the identity provider has not verified the e-mail address")]
    Unverified,
    /// An address that is not plain ASCII (or holds spaces or control characters): refused rather than
    /// folded, so that no look-alike (U+212A KELVIN SIGN for `k`) can become another person.
    #[error("the e-mail address is not a plain ASCII address")]
    BadEmail,
}

impl AuthError {
    /// The status a request gets for it.
    pub fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }
}

#[derive(Debug, Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    signer: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    email: Option<String>,
    /// A boolean, or the string `"true"` (Amazon Cognito's user info sends strings).
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<f64>,
    /// The rest, where a groups claim may be.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// Groups read from one token, at most.
const MAX_GROUPS: usize = 100;
/// Longest group name read.
const MAX_GROUP_LEN: usize = 256;

/// Who the load balancer signed in: the address, and the groups of the configured claim (none without one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedIn {
    /// The e-mail address, as the identity provider sent it (plain ASCII).
    pub email: String,
    /// The identity provider's groups for the person, when `[portal] groups_claim` names the claim.
    pub groups: Vec<String>,
}

/// What sign-in requires and reads beyond the signature.
#[derive(Debug, Clone, Default)]
pub struct SignInRules {
    /// Refuse addresses the identity provider did not verify (`email_verified`).
    pub verified_email: bool,
    /// The claim holding the person's groups (`groups`, `cognito:groups`), if roles come from groups too.
    pub groups_claim: Option<String>,
}

/// The group names of a claim: an array of strings, or one string of names separated by commas or spaces;
/// anything else is no group. Bounded: [`MAX_GROUPS`] names of at most [`MAX_GROUP_LEN`] bytes.
fn group_names(claim: Option<&serde_json::Value>) -> Vec<String> {
    let names: Vec<&str> = match claim {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(serde_json::Value::as_str).collect(),
        Some(serde_json::Value::String(s)) => s.split(|c: char| c == ',' || c.is_whitespace()).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(str::trim)
        .filter(|g| !g.is_empty() && g.len() <= MAX_GROUP_LEN)
        .take(MAX_GROUPS)
        .map(str::to_owned)
        .collect()
}

/// A token split and decoded, not yet verified.
#[derive(Debug)]
pub struct Token<'a> {
    header: JwtHeader,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Splits and decodes a token; checks nothing yet.
pub fn parse(token: &str) -> Result<Token<'_>, AuthError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(AuthError::Malformed("expected three dot-separated parts"));
    };
    let decode = |part: &str, what: &'static str| B64URL.decode(part).map_err(|_| AuthError::Malformed(what));
    let header: JwtHeader = serde_json::from_slice(&decode(head, "the header is not base64url")?)
        .map_err(|_| AuthError::Malformed("the header is not a JSON object with an alg"))?;
    Ok(Token {
        header,
        signing_input: &token[..head.len() + 1 + body.len()],
        payload: decode(body, "the payload is not base64url")?,
        signature: decode(sig, "the signature is not base64url")?,
    })
}

/// Checks what can be checked before the key is fetched: the algorithm, the signer and the key id.
/// Returns the key id.
pub fn check_header<'t>(token: &'t Token<'_>, signer: &str) -> Result<&'t str, AuthError> {
    if token.header.alg != ALGORITHM {
        return Err(AuthError::Algorithm(token.header.alg.clone()));
    }
    match token.header.signer.as_deref() {
        Some(s) if s == signer => {}
        other => return Err(AuthError::Signer(other.unwrap_or("(none)").to_owned())),
    }
    let kid = token.header.kid.as_deref().unwrap_or_default();
    let valid = !kid.is_empty() && kid.len() <= 128 && kid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid { Ok(kid) } else { Err(AuthError::KeyId) }
}

/// Verifies the signature with `key`, then the claims at `now` (Unix seconds): not expired, a plain ASCII
/// e-mail address, and, when `rules` require it, `email_verified` true. Returns the address, with the
/// groups of the claim `rules` name.
pub fn verify_with(
    token: &Token<'_>,
    key: &VerifyingKey,
    now: i64,
    rules: &SignInRules,
) -> Result<SignedIn, AuthError> {
    let signature = Signature::from_slice(&token.signature).map_err(|_| AuthError::Signature)?;
    key.verify(token.signing_input.as_bytes(), &signature).map_err(|_| AuthError::Signature)?;
    let claims: Claims =
        serde_json::from_slice(&token.payload).map_err(|_| AuthError::Malformed("the claims are not valid JSON"))?;
    let exp = claims.exp.ok_or(AuthError::NoExpiry)?;
    if !exp.is_finite() || exp <= now as f64 {
        return Err(AuthError::Expired(exp as i64));
    }
    let email = claims.email.map(|e| e.trim().to_owned()).filter(|e| e.contains('@')).ok_or(AuthError::NoEmail)?;
    if !plain_address(&email) {
        return Err(AuthError::BadEmail);
    }
    let vouched = matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    if rules.verified_email && !vouched {
        return Err(AuthError::Unverified);
    }
    let groups = rules.groups_claim.as_ref().map(|c| group_names(claims.other.get(c))).unwrap_or_default();
    Ok(SignedIn { email, groups })
}

/// Whether `email` is an address of printable ASCII without spaces, of a sane length.
pub fn plain_address(email: &str) -> bool {
    email.len() <= 254 && email.bytes().all(|b| b.is_ascii_graphic())
}

/// Verifies the load balancer's header.
#[derive(Debug)]
pub struct AlbVerifier {
    signer: String,
    keys: KeyStore,
    rules: SignInRules,
}

impl AlbVerifier {
    /// Accepts tokens signed by the load balancer `alb_arn` with the keys under `key_url`, as `rules` say.
    pub fn new(alb_arn: &str, key_url: &str, rules: SignInRules) -> Result<AlbVerifier, NoTlsRoots> {
        Ok(AlbVerifier { signer: alb_arn.to_owned(), keys: KeyStore::new(key_url)?, rules })
    }

    /// Who a header value signs in, if it is a valid token of this load balancer.
    pub async fn verify(&self, value: &str, now: i64) -> Result<SignedIn, AuthError> {
        let token = parse(value)?;
        let kid = check_header(&token, &self.signer)?;
        let key = self.keys.key(kid).await?;
        verify_with(&token, &key, now, &self.rules)
    }
}

/// How the portal learns who is asking.
#[derive(Debug)]
pub enum Identity {
    /// Behind the load balancer: its signed header.
    Alb(Box<AlbVerifier>),
    /// Local development: everyone is this person, unauthenticated (loopback only; every page says so).
    Dev(String),
}

impl Identity {
    /// Whoever sent `headers`.
    pub async fn who(&self, headers: &HeaderMap) -> Result<SignedIn, AuthError> {
        match self {
            Identity::Dev(email) => Ok(SignedIn { email: email.clone(), groups: Vec::new() }),
            Identity::Alb(verifier) => {
                let mut values = headers.get_all(OIDC_DATA_HEADER).iter();
                let (Some(value), None) = (values.next(), values.next()) else {
                    return Err(if headers.contains_key(OIDC_DATA_HEADER) {
                        AuthError::Malformed("more than one header")
                    } else {
                        AuthError::Missing
                    });
                };
                let value = value.to_str().map_err(|_| AuthError::Malformed("not ASCII"))?;
                verifier.verify(value, chrono::Utc::now().timestamp()).await
            }
        }
    }

    /// Whether this is the unauthenticated development mode.
    pub fn is_dev(&self) -> bool {
        matches!(self, Identity::Dev(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::elliptic_curve::Generate;

    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/portal/50dc6c495c0c9188";

    fn b64(bytes: &[u8], padded: bool) -> String {
        if padded {
            base64::engine::general_purpose::URL_SAFE.encode(bytes)
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }
    }

    fn token(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value, padded: bool) -> String {
        let input =
            format!("{}.{}", b64(header.to_string().as_bytes(), padded), b64(claims.to_string().as_bytes(), padded));
        let sig: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes(), padded))
    }

    fn header() -> serde_json::Value {
        serde_json::json!({"alg": "ES256", "kid": "0b8f5a4c-8d2e-4a51-9c1e-2f3b4c5d6e7f", "signer": ARN, "typ": "JWT"})
    }

    fn check(t: &str, key: &VerifyingKey, now: i64) -> Result<String, AuthError> {
        let parsed = parse(t)?;
        check_header(&parsed, ARN)?;
        let rules = SignInRules { verified_email: true, groups_claim: None };
        verify_with(&parsed, key, now, &rules).map(|s| s.email)
    }

    #[test]
    fn accepts_the_load_balancers_tokens_padded_or_not() {
        let key = SigningKey::generate();
        let claims = serde_json::json!({"email": "sam@example.com", "email_verified": true, "exp": 2_000, "sub": "x"});
        // A payload whose length is not a multiple of 3 gets `=` padding, as the load balancer sends it.
        let padded = token(&key, header(), claims.clone(), true);
        assert!(padded.contains('='), "{padded}");
        assert_eq!(check(&padded, key.verifying_key(), 1_000).unwrap(), "sam@example.com");
        assert_eq!(
            check(&token(&key, header(), claims, false), key.verifying_key(), 1_000).unwrap(),
            "sam@example.com"
        );
    }

    #[test]
    fn refuses_everything_else() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let good = serde_json::json!({"email": "sam@example.com", "email_verified": "true", "exp": 2_000});
        let vk = key.verifying_key();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut h = header();
            f(&mut h);
            token(&key, h, good.clone(), true)
        };
        assert_eq!(check(&token(&other, header(), good.clone(), true), vk, 1_000), Err(AuthError::Signature));
        assert_eq!(
            check(&token(&key, header(), good.clone(), true), vk, 2_000),
            Err(AuthError::Expired(2_000)),
            "exp is the last second that is not valid"
        );
        assert_eq!(check(&with(&|h| h["alg"] = "none".into()), vk, 1_000), Err(AuthError::Algorithm("none".into())));
        assert_eq!(check(&with(&|h| h["alg"] = "HS256".into()), vk, 1_000), Err(AuthError::Algorithm("HS256".into())));
        assert!(matches!(
            check(&with(&|h| h["signer"] = "arn:aws:elasticloadbalancing:x".into()), vk, 1_000),
            Err(AuthError::Signer(_))
        ));
        assert_eq!(
            check(
                &with(&|h| {
                    h.as_object_mut().unwrap().remove("signer");
                }),
                vk,
                1_000
            ),
            Err(AuthError::Signer("(none)".into()))
        );
        assert_eq!(check(&with(&|h| h["kid"] = "../../etc/passwd".into()), vk, 1_000), Err(AuthError::KeyId));
        assert_eq!(
            check(&token(&key, header(), serde_json::json!({"email": "a@b"}), true), vk, 1_000),
            Err(AuthError::NoExpiry)
        );
        assert_eq!(
            check(&token(&key, header(), serde_json::json!({"exp": 2_000}), true), vk, 1_000),
            Err(AuthError::NoEmail)
        );

        // A valid token with its payload swapped for another person's: the signature no longer matches.
        let t = token(&key, header(), good, true);
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims =
            b64(serde_json::json!({"email": "iso@example.com", "exp": 2_000}).to_string().as_bytes(), true);
        assert_eq!(check(&format!("{}.{forged_claims}.{}", parts[0], parts[2]), vk, 1_000), Err(AuthError::Signature));
        // `alg: none` with an empty signature.
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#, false), parts[1]);
        assert_eq!(check(&none, vk, 1_000), Err(AuthError::Algorithm("none".into())));
        for junk in ["", "abc", "a.b", "a.b.c.d", "!!!.b.c", "e30.e30.e30"] {
            assert!(matches!(check(junk, vk, 1_000), Err(AuthError::Malformed(_))), "{junk}");
        }
    }

    #[test]
    fn only_verified_plain_addresses_sign_in() {
        let key = SigningKey::generate();
        let vk = key.verifying_key();
        let with = |claims: serde_json::Value| token(&key, header(), claims, true);
        let table = [
            (serde_json::json!({"email": "kate@x.io", "email_verified": true, "exp": 2_000}), Ok("kate@x.io".into())),
            (serde_json::json!({"email": "kate@x.io", "email_verified": "true", "exp": 2_000}), Ok("kate@x.io".into())),
            (serde_json::json!({"email": "kate@x.io", "exp": 2_000}), Err(AuthError::Unverified)),
            (
                serde_json::json!({"email": "kate@x.io", "email_verified": false, "exp": 2_000}),
                Err(AuthError::Unverified),
            ),
            (
                serde_json::json!({"email": "kate@x.io", "email_verified": "yes", "exp": 2_000}),
                Err(AuthError::Unverified),
            ),
            // U+212A KELVIN SIGN lowercases to `k` by Unicode rules: it would have been the ISO kate@x.io.
            (
                serde_json::json!({"email": "\u{212A}ate@x.io", "email_verified": true, "exp": 2_000}),
                Err(AuthError::BadEmail),
            ),
            // Full-width letters, and a space or a control character inside.
            (
                serde_json::json!({"email": "ｋate@x.io", "email_verified": true, "exp": 2_000}),
                Err(AuthError::BadEmail),
            ),
            (
                serde_json::json!({"email": "ka te@x.io", "email_verified": true, "exp": 2_000}),
                Err(AuthError::BadEmail),
            ),
            (serde_json::json!({"email": "kate@x.io\n", "email_verified": true, "exp": 2_000}), Ok("kate@x.io".into())),
            (
                serde_json::json!({"email": "ka\u{7}te@x.io", "email_verified": true, "exp": 2_000}),
                Err(AuthError::BadEmail),
            ),
        ];
        for (claims, want) in table {
            assert_eq!(check(&with(claims.clone()), vk, 1_000), want, "{claims}");
        }
        // An identity provider that never sends the claim, configured so: the address alone.
        let parsed_token = with(serde_json::json!({"email": "kate@x.io", "exp": 2_000}));
        let parsed = parse(&parsed_token).unwrap();
        let lax = SignInRules { verified_email: false, groups_claim: None };
        assert_eq!(verify_with(&parsed, vk, 1_000, &lax).map(|s| s.email), Ok("kate@x.io".into()));
    }

    #[test]
    fn groups_come_from_the_configured_claim_only_and_are_bounded() {
        let key = SigningKey::generate();
        let vk = key.verifying_key();
        let rules = SignInRules { verified_email: true, groups_claim: Some("cognito:groups".into()) };
        let groups = |claim: serde_json::Value| {
            let claims = serde_json::json!({"email": "kate@x.io", "email_verified": true, "exp": 2_000, "cognito:groups": claim, "groups": ["iso"]});
            let t = token(&key, header(), claims, true);
            verify_with(&parse(&t).unwrap(), vk, 1_000, &rules).unwrap().groups
        };
        assert_eq!(groups(serde_json::json!(["oce", "infra-ops"])), ["oce", "infra-ops"]);
        assert_eq!(groups(serde_json::json!("oce, infra-ops  sec")), ["oce", "infra-ops", "sec"]);
        assert_eq!(groups(serde_json::json!([1, "oce", null])), ["oce"]);
        assert!(groups(serde_json::json!({"oce": true})).is_empty());
        assert!(groups(serde_json::json!(["x".repeat(300)])).is_empty(), "over-long names are not read");
        let many: Vec<String> = (0..500).map(|n| format!("g{n}")).collect();
        assert_eq!(groups(serde_json::json!(many)).len(), MAX_GROUPS);
        // Without a configured claim, no groups, whatever the token holds ("groups" above is not read).
        let t = token(
            &key,
            header(),
            serde_json::json!({"email": "k@x.io", "email_verified": true, "exp": 2_000, "groups": ["iso"]}),
            true,
        );
        let plain = SignInRules { verified_email: true, groups_claim: None };
        assert!(verify_with(&parse(&t).unwrap(), vk, 1_000, &plain).unwrap().groups.is_empty());
    }

    #[test]
    fn the_default_key_url_is_in_the_load_balancers_region() {
        assert_eq!(default_key_url(ARN), "https://public-keys.auth.elb.eu-west-1.amazonaws.com");
    }
}
