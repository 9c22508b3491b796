//! Stripe-style idempotency keys: the first answer per (client, key) is stored and replayed.
//!
//! The key row is claimed in its own short transaction, so a concurrent request with the same
//! key sees it in flight (409) instead of racing; a success is stored by the business
//! transaction itself, so the stored answer and the effect commit together or not at all.
//!
//! What is stored: every answer of a request that started executing on an existing resource —
//! successes and 4xx alike (a 409 for an intent in the wrong state, a 422 that depends on the
//! intent) — so a repeat gets the same answer even if the state has changed since. Not stored:
//! refusals before execution (malformed body, validation, missing key, rate limit: the key is
//! never claimed), a 404 (nothing to act on: the key is freed and nothing is written), and 5xx
//! (nothing was committed; the key is freed so a retry runs again). Requests are the
//! same when method, path and canonical JSON body (keys sorted, whitespace dropped) are.

use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::problem::ApiError;
use crate::db;

/// An in-flight claim older than this is presumed abandoned (its process died) and taken over.
const ABANDONED_AFTER_SECS: f64 = 60.0;

/// What the key says about this request.
pub enum Claim {
    /// First use: go ahead, and store the response with [`store_response`].
    Proceed,
    /// Seen before with the same request: answer with the stored response.
    Replay(Response),
}

/// Identity of a request under a key: method, path and the body's canonical JSON, so the same
/// object re-serialized (other key order, other whitespace) is the same request. A body that is
/// not JSON (never the case behind [`super::extract::JsonBody`]) counts by its bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            let mut canonical = Vec::with_capacity(body.len());
            write_canonical(&mut canonical, &value);
            digest(method, path, &canonical)
        }
        Err(_) => digest(method, path, body),
    }
}

/// The identity keys stored before requests were compared by canonical JSON: by their bytes.
/// Still accepted so a retry across the upgrade is not refused; such keys are gone once
/// `MALIPO_IDEMPOTENCY_TTL` has passed, and this with them.
fn legacy_request_hash(method: &str, path: &str, body: &[u8]) -> String {
    digest(method, path, body)
}

fn digest(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// `value` as JSON with object keys sorted at every depth and no whitespace. Explicit rather
/// than relying on `serde_json::Map`'s order, which a feature elsewhere in the build can change.
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(out, &Value::String(key.clone()));
                out.push(b':');
                write_canonical(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_scalar(out: &mut Vec<u8>, value: &Value) {
    // Serializing a string, number, bool or null cannot fail.
    if let Ok(text) = serde_json::to_vec(value) {
        out.extend_from_slice(&text);
    }
}

/// Claims `key` for this request, or explains why it cannot proceed.
pub async fn claim(
    pool: &PgPool,
    client: Uuid,
    key: &str,
    method: &str,
    path: &str,
    hash: &str,
    legacy_hash: Option<&str>,
) -> Result<Claim, ApiError> {
    let claimed = db::idempotency::claim(
        pool,
        client,
        key,
        (method, path, hash),
        ABANDONED_AFTER_SECS,
    )
    .await?;
    if claimed {
        return Ok(Claim::Proceed);
    }
    let existing = db::idempotency::stored(pool, client, key).await?;
    let Some(db::idempotency::StoredKey {
        method: stored_method,
        path: stored_path,
        request_hash: stored_hash,
        response_status: status,
        response_body: body,
    }) = existing
    else {
        // Released between our insert and select (the first request failed): try once more.
        return Err(ApiError::IdempotencyInFlight);
    };
    let same_request =
        stored_hash == hash || legacy_hash.is_some_and(|legacy| stored_hash == legacy);
    if stored_method != method || stored_path != path || !same_request {
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
    db::idempotency::complete(conn, client, key, i32::from(status.as_u16()), body).await
}

/// Frees the key after a request that failed without committing anything, so it can be reused.
pub async fn release(pool: &PgPool, client: Uuid, key: &str) {
    let released = db::idempotency::release(pool, client, key).await;
    if let Err(error) = released {
        tracing::warn!(%error, "could not release an idempotency key; it frees itself after 60 s");
    }
}

/// Deletes keys older than `ttl`, in bounded batches.
pub async fn prune(pool: &PgPool, ttl: std::time::Duration) -> Result<u64, sqlx::Error> {
    db::idempotency::prune(pool, ttl.as_secs_f64()).await
}

fn replay(status: i32, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let media = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(media),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Runs a POST once per (client, key): a repeat replays the stored answer; otherwise the key is
/// claimed and `work` runs, storing a success with [`commit_answer`] in its own transaction. A
/// 4xx from `work` is stored as well (the request executed and was refused on the state it
/// found), except a 404; a 404 or 5xx frees the key, since nothing was committed.
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
    let legacy = legacy_request_hash("POST", path, raw_body);
    let claimed = claim(pool, client, key, "POST", path, &hash, Some(&legacy)).await?;
    if let Claim::Replay(response) = claimed {
        return Ok(response);
    }
    let result = work().await;
    match &result {
        Ok(_) => {}
        Err(error) if is_stored(error) => {
            let stored = async {
                let mut conn = pool.acquire().await?;
                store_response(
                    &mut conn,
                    client,
                    key,
                    error.status(),
                    &error.problem_body(),
                )
                .await
            };
            if let Err(failure) = stored.await {
                tracing::warn!(error = %failure, "could not store a refusal under its idempotency key");
                release(pool, client, key).await;
            }
        }
        Err(_) => release(pool, client, key).await,
    }
    result
}

/// Whether a refusal from a request that started executing is kept under its key.
fn is_stored(error: &ApiError) -> bool {
    error.status().is_client_error()
        && !matches!(error, ApiError::NotFound(_) | ApiError::AlreadyExists(_))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> &[u8] {
        text.as_bytes()
    }

    #[test]
    fn the_same_object_reserialized_is_the_same_request() {
        let compact =
            object(r#"{"amount":"10.00","buyer":{"msisdn":"2547","name":"A"},"tags":[1,2]}"#);
        let spaced = object(
            "{ \"tags\" : [1, 2],\n \"buyer\": {\"name\":\"A\", \"msisdn\":\"2547\"}, \"amount\": \"10.00\" }",
        );
        assert_eq!(
            request_hash("POST", "/v1/intents", compact),
            request_hash("POST", "/v1/intents", spaced)
        );
        let other =
            object(r#"{"amount":"10.01","buyer":{"msisdn":"2547","name":"A"},"tags":[1,2]}"#);
        assert_ne!(
            request_hash("POST", "/v1/intents", compact),
            request_hash("POST", "/v1/intents", other)
        );
        let reordered_array =
            object(r#"{"amount":"10.00","buyer":{"msisdn":"2547","name":"A"},"tags":[2,1]}"#);
        assert_ne!(
            request_hash("POST", "/v1/intents", compact),
            request_hash("POST", "/v1/intents", reordered_array)
        );
    }
}
