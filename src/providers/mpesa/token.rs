//! Daraja OAuth tokens. Issuing a new token invalidates the previous one, so every process
//! using one credential set must share a single cached token: one refresh at a time in a
//! process (a `tokio::sync::Mutex`), and across processes through a [`TokenStore`] whose refresh
//! is single-flight (PostgreSQL: `db::mpesa_token_store::PgTokenStore`).

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::providers::{ProviderError, Secret};

/// Tokens are replaced this long before Daraja's expiry, so none expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A token and when Daraja said it expires.
#[derive(Debug, Clone)]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: Secret,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl CachedToken {
    /// Whether it is still worth using at `now` (more than [`REFRESH_MARGIN`] left).
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        chrono::Duration::from_std(REFRESH_MARGIN)
            .ok()
            .and_then(|margin| now.checked_add_signed(margin))
            .is_some_and(|deadline| deadline < self.expires_at)
    }

    /// Whether this is the token `stale` (one Daraja rejected).
    fn is(&self, stale: Option<&str>) -> bool {
        stale.is_some_and(|stale| self.access_token.expose() == stale)
    }

    /// Usable: fresh, and not the one that was just rejected.
    pub fn usable(&self, now: DateTime<Utc>, stale: Option<&str>) -> bool {
        self.is_fresh(now) && !self.is(stale)
    }
}

/// Fetches a new token from Daraja (invalidating the previous one).
pub type TokenFetch<'a> =
    Box<dyn FnOnce() -> BoxFuture<'a, Result<CachedToken, ProviderError>> + Send + 'a>;

/// Where the shared token lives. Dyn-compatible (boxed futures) so a client can hold any store.
pub trait TokenStore: Send + Sync {
    /// A usable token for the credential set `key`: the stored one if it is fresh and not
    /// `stale`, else the result of `fetch`, stored. Implementations must let at most one
    /// `fetch` per key run at a time among everyone sharing the store, and have the others
    /// wait and then take the stored result.
    fn fresh_token<'a>(
        &'a self,
        key: &'a str,
        stale: Option<&'a str>,
        fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<CachedToken, ProviderError>>;
}

/// Tokens shared by the clients of one process.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn fresh_token<'a>(
        &'a self,
        key: &'a str,
        stale: Option<&'a str>,
        fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<CachedToken, ProviderError>> {
        Box::pin(async move {
            // Held across the fetch: that is what makes the refresh single-flight.
            let mut tokens = self.tokens.lock().await;
            if let Some(token) = tokens.get(key).filter(|t| t.usable(Utc::now(), stale)) {
                return Ok(token.clone());
            }
            let token = fetch().await?;
            tokens.insert(key.to_owned(), token.clone());
            Ok(token)
        })
    }
}

/// The store key for a credential set: a digest, so the consumer key is never stored.
pub fn credential_key(base_url: &str, consumer_key: &Secret) -> String {
    let digest = Sha256::digest(format!("{base_url}\n{}", consumer_key.expose()));
    hex::encode(digest)
}

/// One client's view of the shared token: a local copy for the fast path, refreshed through
/// the store one task at a time.
pub(super) struct TokenManager {
    store: Arc<dyn TokenStore>,
    key: String,
    current: Mutex<Option<CachedToken>>,
}

impl TokenManager {
    pub fn new(store: Arc<dyn TokenStore>, key: String) -> Self {
        Self {
            store,
            key,
            current: Mutex::new(None),
        }
    }

    /// A usable token; with `stale`, one other than that rejected token.
    pub async fn token<'a>(
        &'a self,
        stale: Option<&'a Secret>,
        fetch: TokenFetch<'a>,
    ) -> Result<Secret, ProviderError> {
        let stale = stale.map(Secret::expose);
        // Holding this across the store call keeps a process to one refresh at a time; tasks
        // queued behind it then find the new token in `current`.
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| t.usable(Utc::now(), stale)) {
            return Ok(token.access_token.clone());
        }
        let token = self.store.fresh_token(&self.key, stale, fetch).await?;
        let access_token = token.access_token.clone();
        *current = Some(token);
        Ok(access_token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn token(value: &str, seconds: i64) -> CachedToken {
        CachedToken {
            access_token: Secret::new(value),
            expires_at: Utc::now() + chrono::Duration::seconds(seconds),
        }
    }

    #[test]
    fn freshness_keeps_a_margin() {
        let now = Utc::now();
        assert!(token("a", 3599).is_fresh(now));
        assert!(!token("a", 30).is_fresh(now));
        assert!(!token("a", 3599).usable(now, Some("a")));
        assert!(token("a", 3599).usable(now, Some("b")));
    }

    #[tokio::test]
    async fn one_fetch_for_many_waiters_and_a_new_one_past_a_stale_token() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
        let manager = Arc::new(TokenManager::new(store, "k".into()));
        let fetches = Arc::new(AtomicUsize::new(0));
        fn fetcher<'a>(fetches: Arc<AtomicUsize>) -> TokenFetch<'a> {
            Box::new(move || {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
                    Ok(token(&format!("t{n}"), 3599))
                })
            })
        }
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let manager = Arc::clone(&manager);
                let fetches = Arc::clone(&fetches);
                tokio::spawn(async move { manager.token(None, fetcher(fetches)).await })
            })
            .collect();
        for task in tasks {
            let token = task.await.expect("joined").expect("token");
            assert_eq!(token.expose(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let renewed = manager
            .token(Some(&Secret::new("t1")), fetcher(Arc::clone(&fetches)))
            .await
            .expect("token");
        assert_eq!(renewed.expose(), "t2");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn credential_keys_hide_the_consumer_key() {
        let key = credential_key("https://sandbox.safaricom.co.ke", &Secret::new("ck_secret"));
        assert_eq!(key.len(), 64);
        assert!(!key.contains("ck_secret"));
    }
}
