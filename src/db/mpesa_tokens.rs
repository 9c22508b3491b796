//! The shared Daraja access tokens (`mpesa_tokens`, migration 0050), read and refreshed under an
//! advisory lock per credential set (see `mpesa_token_store`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A stored token.
#[derive(Debug, Clone)]
pub struct StoredToken {
    /// The bearer token.
    pub access_token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Bounds how long this transaction waits for a lock (a stuck refresher must not hold every
/// waiter forever).
pub async fn set_lock_timeout_30s(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SET LOCAL lock_timeout = '30s'")
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the transaction-scoped advisory lock `(class, hashtext(key))`.
pub async fn lock(conn: &mut PgConnection, class: i32, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1, hashtext($2))", class, key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The token stored for credential set `key`.
pub async fn get(conn: &mut PgConnection, key: &str) -> Result<Option<StoredToken>, sqlx::Error> {
    sqlx::query_as!(
        StoredToken,
        "SELECT access_token, expires_at FROM mpesa_tokens WHERE credential_key = $1",
        key,
    )
    .fetch_optional(conn)
    .await
}

/// Stores (or replaces) the token of credential set `key`.
pub async fn put(
    conn: &mut PgConnection,
    key: &str,
    access_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO mpesa_tokens (credential_key, access_token, expires_at)
         VALUES ($1, $2, $3)
         ON CONFLICT (credential_key) DO UPDATE
         SET access_token = EXCLUDED.access_token, expires_at = EXCLUDED.expires_at,
             refreshed_at = now()",
        key,
        access_token,
        expires_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
