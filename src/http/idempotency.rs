//! Stripe-style idempotency keys: the first response per (client, key) is stored and replayed.
//!
//! The key row is claimed in its own short transaction, so a concurrent request with the same
//! key sees it in flight (409) instead of racing; the response is stored by the business
//! transaction itself, so the stored answer and the effect commit together or not at all.

use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::problem::ApiError;

/// An in-flight claim older than this is presumed abandoned (its process died) and taken over.
const ABANDONED_AFTER_SECS: f64 = 60.0;

/// A stored key: method, path, request hash, and the response once there is one.
type StoredKey = (String, String, String, Option<i32>, Option<Vec<u8>>);

/// What the key says about this request.
pub enum Claim {
    /// First use: go ahead, and store the response with [`store_response`].
    Proceed,
    /// Seen before with the same request: answer with the stored response.
    Replay(Response),
}

/// Identity of a request under a key: method, path and the exact body bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Claims `key` for this request, or explains why it cannot proceed.
pub async fn claim(
    pool: &PgPool,
    client: Uuid,
    key: &str,
    method: &str,
    path: &str,
    hash: &str,
) -> Result<Claim, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (client_id, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client_id, key) DO UPDATE
            SET method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash, created_at = now()
          WHERE idempotency_keys.response_status IS NULL
            AND idempotency_keys.created_at < now() - make_interval(secs => $6)",
    )
    .bind(client)
    .bind(key)
    .bind(method)
    .bind(path)
    .bind(hash)
    .bind(ABANDONED_AFTER_SECS)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Proceed);
    }
    let existing: Option<StoredKey> = sqlx::query_as(
        "SELECT method, path, request_hash, response_status, response_body FROM idempotency_keys WHERE client_id = $1 AND key = $2",
    )
    .bind(client)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some((stored_method, stored_path, stored_hash, status, body)) = existing else {
        // Released between our insert and select (the first request failed): try once more.
        return Err(ApiError::IdempotencyInFlight);
    };
    if stored_method != method || stored_path != path || stored_hash != hash {
        return Err(ApiError::IdempotencyMismatch);
    }
    match (status, body) {
        (Some(status), Some(body)) => Ok(Claim::Replay(replay(status, body))),
        _ => Err(ApiError::IdempotencyInFlight),
    }
}

/// Stores the response inside the business transaction that produced it.
pub async fn store_response(
    conn: &mut PgConnection,
    client: Uuid,
    key: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4, completed_at = now()
          WHERE client_id = $1 AND key = $2",
    )
    .bind(client)
    .bind(key)
    .bind(i32::from(status.as_u16()))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees the key after a request that changed nothing (a 4xx or an error), so it can be reused.
pub async fn release(pool: &PgPool, client: Uuid, key: &str) {
    let released = sqlx::query("DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND response_status IS NULL")
        .bind(client)
        .bind(key)
        .execute(pool)
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, "could not release an idempotency key; it frees itself after 60 s");
    }
}

/// Deletes keys older than `ttl`, in bounded batches.
pub async fn prune(pool: &PgPool, ttl: std::time::Duration) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE ctid IN (
             SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT 5000)",
    )
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

fn replay(status: i32, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Runs a POST once per (client, key): a repeat replays the stored answer; otherwise the key is
/// claimed, `work` runs (storing its answer with [`commit_answer`] in its own transaction), and
/// the key is freed again if `work` fails, so a refused request leaves nothing behind.
pub async fn once<Fut>(
    pool: &PgPool,
    client: Uuid,
    key: &str,
    path: &str,
    raw_body: &[u8],
    work: impl FnOnce() -> Fut,
) -> Result<Response, ApiError>
where
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    let hash = request_hash("POST", path, raw_body);
    if let Claim::Replay(response) = claim(pool, client, key, "POST", path, &hash).await? {
        return Ok(response);
    }
    let result = work().await;
    if result.is_err() {
        release(pool, client, key).await;
    }
    result
}

/// Stores `answer` as the key's response inside `tx`, commits, and returns it: the effect and
/// its stored answer commit together or not at all.
pub async fn commit_answer(
    mut tx: Transaction<'_, Postgres>,
    client: Uuid,
    key: &str,
    status: StatusCode,
    answer: &impl serde::Serialize,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(answer).map_err(anyhow::Error::from)?;
    store_response(&mut tx, client, key, status, &body).await?;
    tx.commit().await?;
    Ok((
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}
