//! Credentials that outlive a short-lived role: the SDK's chain (or given keys), replaced by a
//! re-assumption ahead of their expiry or after AWS calls them expired.
//!
//! How to re-assume is injected by the caller (`auth` builds it once), so this layer never calls
//! up into a command.

use aws_credential_types::provider::{
    self, error::CredentialsError, ProvideCredentials, SharedCredentialsProvider,
};
use aws_credential_types::Credentials;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use stevedore_base::config;

/// A way to get fresh credentials: `Ok(None)` when there is none (no role, no token).
pub type Reassume =
    Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<Option<Credentials>>> + Send + Sync>;

/// Re-assume when the credentials in hand expire within this.
const AHEAD: Duration = Duration::from_secs(300);

/// The credentials to sign with, refreshed through [`Reassume`] when they are about to expire.
pub struct Refreshing {
    chain: SharedCredentialsProvider,
    reassume: Option<Reassume>,
    /// Credentials from a re-assumption, replacing the chain's once they exist.
    refreshed: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Refreshing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshing")
            .field("reassume", &self.reassume.is_some())
            .finish_non_exhaustive()
    }
}

impl Refreshing {
    pub fn new(chain: SharedCredentialsProvider, reassume: Option<Reassume>) -> Refreshing {
        Refreshing {
            chain,
            reassume,
            refreshed: tokio::sync::Mutex::new(None),
        }
    }

    /// The credentials in hand; re-assumes first when they expire within five minutes (and
    /// keeps them when re-assumption is not possible).
    pub async fn current(&self) -> Result<Credentials, CredentialsError> {
        let mut refreshed = self.refreshed.lock().await;
        let current = match refreshed.clone() {
            Some(c) => c,
            None => self.chain.provide_credentials().await?,
        };
        if expires_soon(current.expiry(), SystemTime::now()) {
            if let Some(c) = self.reassume_now().await {
                *refreshed = Some(c.clone());
                return Ok(c);
            }
        }
        Ok(current)
    }

    /// Re-assume now (AWS answered that the credentials expired); whether new ones came.
    pub async fn refresh(&self) -> bool {
        match self.reassume_now().await {
            Some(c) => {
                *self.refreshed.lock().await = Some(c);
                true
            }
            None => false,
        }
    }

    async fn reassume_now(&self) -> Option<Credentials> {
        let reassume = self.reassume.as_ref()?;
        reassume().await.ok().flatten()
    }
}

impl ProvideCredentials for Refreshing {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.current())
    }
}

/// Whether credentials expiring at `expiry` (or at `AWS_CREDENTIAL_EXPIRATION`, which
/// `stevedore auth` exports, when they carry none) should be replaced at `now`.
fn expires_soon(expiry: Option<SystemTime>, now: SystemTime) -> bool {
    let expiry = expiry.or_else(|| {
        config::env_var(stevedore_base::handoff::CREDENTIAL_EXPIRATION)
            .and_then(|t| {
                aws_smithy_types::DateTime::from_str(
                    &t,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .ok()
            })
            .and_then(|d| SystemTime::try_from(d).ok())
    });
    expiry.is_some_and(|e| e < now + AHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn keys(id: &str, expiry: Option<SystemTime>) -> Credentials {
        Credentials::new(id, "secret", Some("token".into()), expiry, "test")
    }

    #[tokio::test]
    async fn expiring_credentials_are_replaced_through_the_injected_reassumption() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let reassume: Reassume = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(Some(keys("fresh", None))) })
        });
        let soon = SystemTime::now() + Duration::from_secs(60);
        let creds = Refreshing::new(
            SharedCredentialsProvider::new(keys("old", Some(soon))),
            Some(reassume),
        );
        assert_eq!(creds.current().await.unwrap().access_key_id(), "fresh");
        // Once replaced, the fresh ones stay: no second re-assumption.
        assert_eq!(creds.current().await.unwrap().access_key_id(), "fresh");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn without_a_way_to_reassume_the_chain_is_kept() {
        let soon = SystemTime::now() + Duration::from_secs(60);
        let creds = Refreshing::new(
            SharedCredentialsProvider::new(keys("old", Some(soon))),
            None,
        );
        assert_eq!(creds.current().await.unwrap().access_key_id(), "old");
        assert!(!creds.refresh().await);
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert!(!expires_soon(Some(later), SystemTime::now()));
    }
}
