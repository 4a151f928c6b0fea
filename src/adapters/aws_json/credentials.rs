//! The credentials that sign, from the SDK's provider chain (environment, profile, ECS task role, instance
//! role, assumed role), kept until five minutes before they expire, as the SDK's own cache keeps them.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::Mutex;

/// How long before their expiry credentials are fetched anew.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Credentials fetched once and again when they near their expiry (or when AWS says they expired).
#[derive(Debug)]
pub struct CredentialsCache {
    provider: Option<SharedCredentialsProvider>,
    current: Mutex<Option<Credentials>>,
}

impl CredentialsCache {
    /// A cache over `provider` (`None`: no credentials configured, every call fails saying so).
    pub fn new(provider: Option<SharedCredentialsProvider>) -> CredentialsCache {
        CredentialsCache { provider, current: Mutex::new(None) }
    }

    /// Credentials valid for a while yet, fetched if the kept ones are missing or about to expire.
    pub async fn get(&self) -> Result<Credentials, CredentialsError> {
        let mut current = self.current.lock().await;
        if let Some(kept) = current.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(kept.clone());
        }
        let Some(provider) = &self.provider else {
            return Err(CredentialsError::not_loaded("no credentials provider is configured"));
        };
        let fetched = provider.provide_credentials().await?;
        *current = Some(fetched.clone());
        Ok(fetched)
    }

    /// Forgets the kept credentials (AWS refused them as expired): the next call fetches new ones.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }
}

/// Whether `credentials` are good for more than [`REFRESH_BEFORE`] after `now` (those without expiry are).
fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials.expiry().is_none_or(|expiry| expiry > now + REFRESH_BEFORE)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::future;

    use super::*;

    /// A provider that counts its fetches and hands out credentials expiring `lifetime` after now.
    #[derive(Debug)]
    struct Counting {
        fetches: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            let expiry = self.lifetime.map(|l| SystemTime::now() + l);
            future::ProvideCredentials::ready(Ok(Credentials::new(format!("AKID{n}"), "secret", None, expiry, "t")))
        }
    }

    fn cache(lifetime: Option<Duration>) -> (CredentialsCache, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let provider = Counting { fetches: Arc::clone(&fetches), lifetime };
        (CredentialsCache::new(Some(SharedCredentialsProvider::new(provider))), fetches)
    }

    #[tokio::test]
    async fn credentials_are_fetched_once_until_they_near_expiry_or_are_refused() {
        let (lasting, fetches) = cache(Some(Duration::from_secs(3600)));
        for _ in 0..3 {
            assert_eq!(lasting.get().await.unwrap().access_key_id(), "AKID0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        lasting.forget().await;
        assert_eq!(lasting.get().await.unwrap().access_key_id(), "AKID1", "fetched again once refused");

        // Four minutes left is too little: every call fetches anew rather than sign with them.
        let (expiring, fetches) = cache(Some(Duration::from_secs(240)));
        expiring.get().await.unwrap();
        expiring.get().await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        let (keys, fetches) = cache(None);
        keys.get().await.unwrap();
        keys.get().await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "credentials without expiry are kept");

        let none = CredentialsCache::new(None);
        assert!(none.get().await.is_err());
    }
}
