//! Idempotency keys (`idempotency_keys`): claimed before a request's work, completed with its
//! response in the same transaction, released when the work failed without committing.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A key's stored request and, once completed, its response.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// The request body's hash.
    pub request_hash: String,
    /// The response's status, once completed.
    pub response_status: Option<i32>,
    /// The response's body, once completed.
    pub response_body: Option<Vec<u8>>,
}

/// Claims `key` for this request: a new key, or one abandoned (never completed) for longer than
/// `abandoned_after_secs`. Returns whether the claim is ours.
pub async fn claim(
    pool: &PgPool,
    client: Uuid,
    key: &str,
    request: (&str, &str, &str),
    abandoned_after_secs: f64,
) -> Result<bool, sqlx::Error> {
    let (method, path, hash) = request;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (client_id, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client_id, key) DO UPDATE
            SET method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash, created_at = now()
          WHERE idempotency_keys.response_status IS NULL
            AND idempotency_keys.created_at < now() - make_interval(secs => $6)",
        client,
        key,
        method,
        path,
        hash,
        abandoned_after_secs,
    )
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The stored request and response of `key`.
pub async fn stored(
    pool: &PgPool,
    client: Uuid,
    key: &str,
) -> Result<Option<StoredKey>, sqlx::Error> {
    sqlx::query_as!(
        StoredKey,
        "SELECT method, path, request_hash, response_status, response_body FROM idempotency_keys WHERE client_id = $1 AND key = $2",
        client,
        key,
    )
    .fetch_optional(pool)
    .await
}

/// Stores the response of `key`, in the caller's transaction.
pub async fn complete(
    conn: &mut PgConnection,
    client: Uuid,
    key: &str,
    status: i32,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4, completed_at = now()
          WHERE client_id = $1 AND key = $2",
        client,
        key,
        status,
        body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees an uncompleted `key`.
pub async fn release(pool: &PgPool, client: Uuid, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND response_status IS NULL",
        client,
        key,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes up to 5,000 keys older than `ttl_secs`; returns how many.
pub async fn prune(pool: &PgPool, ttl_secs: f64) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query!(
        "DELETE FROM idempotency_keys WHERE ctid IN (
             SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT 5000)",
        ttl_secs,
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}
