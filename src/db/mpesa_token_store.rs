//! The Daraja token shared across processes through PostgreSQL (`mpesa_tokens`, migration
//! 0050). A refresh runs inside a transaction holding an advisory lock on the credential set, so
//! only one process fetches; the others wait on the lock and then read the stored token.

use chrono::Utc;
use futures::future::BoxFuture;
use sqlx::PgPool;

use super::mpesa_tokens;
use crate::providers::{
    ProviderError, Secret,
    mpesa::{CachedToken, TokenFetch, TokenStore},
};

/// Advisory-lock class for M-Pesa token refreshes (the first key of the two-key form), so the
/// lock cannot collide with other advisory locks in the database.
const LOCK_CLASS: i32 = 0x6d70_7361; // "mpsa"

/// A [`TokenStore`] over the `mpesa_tokens` table.
#[derive(Debug, Clone)]
pub struct PgTokenStore {
    pool: PgPool,
}

impl PgTokenStore {
    /// A store using `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn refresh(
        &self,
        key: &str,
        stale: Option<&str>,
        fetch: TokenFetch<'_>,
    ) -> Result<CachedToken, ProviderError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A process stuck holding the lock is bounded by its HTTP timeouts; this bounds the
        // waiters too.
        mpesa_tokens::set_lock_timeout_30s(&mut tx)
            .await
            .map_err(db_error)?;
        // Locks the credential set even before its row exists (first fetch ever).
        mpesa_tokens::lock(&mut tx, LOCK_CLASS, key)
            .await
            .map_err(db_error)?;
        let row = mpesa_tokens::get(&mut tx, key).await.map_err(db_error)?;
        if let Some(row) = row {
            let stored = CachedToken {
                access_token: Secret::new(row.access_token),
                expires_at: row.expires_at,
            };
            if stored.usable(Utc::now(), stale) {
                tx.commit().await.map_err(db_error)?;
                return Ok(stored);
            }
        }
        // On a fetch error the transaction drops, rolling back and releasing the lock.
        let token = fetch().await?;
        mpesa_tokens::put(&mut tx, key, token.access_token.expose(), token.expires_at)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(token)
    }
}

impl TokenStore for PgTokenStore {
    fn fresh_token<'a>(
        &'a self,
        key: &'a str,
        stale: Option<&'a str>,
        fetch: TokenFetch<'a>,
    ) -> BoxFuture<'a, Result<CachedToken, ProviderError>> {
        Box::pin(self.refresh(key, stale, fetch))
    }
}

fn db_error(error: sqlx::Error) -> ProviderError {
    // The database being away is temporary from a job's point of view; nothing was sent.
    ProviderError::retryable(format!("token store: {error}"))
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use super::*;

    /// Two pools on one migrated test database stand for two processes.
    #[tokio::test]
    async fn single_flight_across_pools() {
        let db = malipo_testing::test_database()
            .await
            .expect("test database");
        let url = db.url.clone();
        let key = format!("test-{}", uuid::Uuid::new_v4());
        // Two pools stand for two processes.
        let stores = [
            PgTokenStore::new(PgPool::connect(&url).await.expect("connect")),
            PgTokenStore::new(PgPool::connect(&url).await.expect("connect")),
        ];
        let fetches = Arc::new(AtomicUsize::new(0));
        fn fetch<'a>(fetches: Arc<AtomicUsize>) -> TokenFetch<'a> {
            Box::new(move || {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
                    Ok(CachedToken {
                        access_token: Secret::new(format!("t{n}")),
                        expires_at: Utc::now() + chrono::Duration::seconds(3599),
                    })
                })
            })
        }
        let results = futures::future::join_all(
            (0..6).map(|i| stores[i % 2].fresh_token(&key, None, fetch(Arc::clone(&fetches)))),
        )
        .await;
        for result in results {
            assert_eq!(result.expect("token").access_token.expose(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let renewed = stores[1]
            .fresh_token(&key, Some("t1"), fetch(Arc::clone(&fetches)))
            .await
            .expect("token");
        assert_eq!(renewed.access_token.expose(), "t2");
        let shared = stores[0]
            .fresh_token(&key, Some("t1"), fetch(Arc::clone(&fetches)))
            .await
            .expect("token");
        assert_eq!(
            shared.access_token.expose(),
            "t2",
            "the other process takes the stored token"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
