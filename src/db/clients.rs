//! API clients (`api_clients`): their keys (stored as hashes), roles and default commission.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Role;

/// A new client's row.
#[derive(Debug, Clone, Copy)]
pub struct NewClient<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: &'a str,
    /// Its one role.
    pub role: Role,
    /// The key's hash.
    pub key_hash: &'a str,
    /// The key's visible start.
    pub key_prefix: &'a str,
    /// Default commission, in basis points.
    pub commission_bps: i32,
}

/// Inserts a client.
pub async fn insert(pool: &PgPool, new: NewClient<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO api_clients (id, name, role, key_hash, key_prefix, commission_bps) VALUES ($1, $2, $3, $4, $5, $6)",
        new.id,
        new.name,
        new.role as Role,
        new.key_hash,
        new.key_prefix,
        new.commission_bps,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A caller found by its key.
#[derive(Debug, Clone, Copy)]
pub struct KeyHolder {
    /// The client id.
    pub id: Uuid,
    /// Its role.
    pub role: Role,
    /// Its default commission.
    pub commission_bps: i32,
}

/// The live client whose current key, or previous key still in its grace, hashes to `key_hash`.
pub async fn by_key_hash(pool: &PgPool, key_hash: &str) -> Result<Option<KeyHolder>, sqlx::Error> {
    sqlx::query_as!(
        KeyHolder,
        r#"SELECT id, role AS "role: Role", commission_bps FROM api_clients
          WHERE revoked_at IS NULL
            AND (key_hash = $1 OR (previous_key_hash = $1 AND previous_key_expires_at > now()))"#,
        key_hash,
    )
    .fetch_optional(pool)
    .await
}

/// An API client as operators see it: never a key, only the prefixes that identify them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ClientSummary {
    /// The client id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its one role.
    pub role: Role,
    /// The current key's visible start (`mlp_live_3fa9c1`).
    pub key_prefix: String,
    /// Default commission, in basis points.
    pub commission_bps: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its key was last rotated.
    pub rotated_at: Option<DateTime<Utc>>,
    /// The previous key's visible start, while it still works.
    pub previous_key_prefix: Option<String>,
    /// When the previous key stops working.
    pub previous_key_expires_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked client's keys never work again.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every client, oldest first (previous keys past their grace are not shown).
pub async fn list(pool: &PgPool) -> Result<Vec<ClientSummary>, sqlx::Error> {
    sqlx::query_as!(
        ClientSummary,
        r#"SELECT id, name, role AS "role: Role", key_prefix, commission_bps, created_at, rotated_at,
                CASE WHEN previous_key_expires_at > now() THEN previous_key_prefix END AS previous_key_prefix,
                CASE WHEN previous_key_expires_at > now() THEN previous_key_expires_at END AS previous_key_expires_at,
                revoked_at
           FROM api_clients ORDER BY created_at, id"#,
    )
    .fetch_all(pool)
    .await
}

/// A client's current key prefix and revocation, locked for the transaction.
#[derive(Debug, Clone)]
pub struct KeyState {
    /// The current key's visible start.
    pub key_prefix: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Client `id`'s key state, locking its row.
pub async fn lock_key_state(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<KeyState>, sqlx::Error> {
    sqlx::query_as!(
        KeyState,
        "SELECT key_prefix, revoked_at FROM api_clients WHERE id = $1 FOR UPDATE",
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Replaces client `id`'s key; with `grace_secs > 0` the old one keeps working that long.
/// Returns until when the previous key works.
pub async fn rotate_key(
    conn: &mut PgConnection,
    id: Uuid,
    key_hash: &str,
    key_prefix: &str,
    grace_secs: f64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // SET expressions read the row as it was, so the old hash moves to `previous_key_hash`.
    sqlx::query_scalar!(
        "UPDATE api_clients
            SET previous_key_hash = CASE WHEN $4::float8 > 0 THEN key_hash END,
                previous_key_prefix = CASE WHEN $4 > 0 THEN key_prefix END,
                previous_key_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
                key_hash = $2, key_prefix = $3, rotated_at = now()
          WHERE id = $1
      RETURNING previous_key_expires_at",
        id,
        key_hash,
        key_prefix,
        grace_secs,
    )
    .fetch_one(conn)
    .await
}

/// A revoked client's key prefix and when.
#[derive(Debug, Clone)]
pub struct RevokedRow {
    /// The revoked key's visible start.
    pub key_prefix: String,
    /// When.
    pub revoked_at: DateTime<Utc>,
}

/// Revokes client `id` unless it was already; every key of it stops at once.
pub async fn revoke(conn: &mut PgConnection, id: Uuid) -> Result<Option<RevokedRow>, sqlx::Error> {
    sqlx::query_as!(
        RevokedRow,
        r#"UPDATE api_clients
            SET revoked_at = now(), previous_key_hash = NULL, previous_key_prefix = NULL,
                previous_key_expires_at = NULL
          WHERE id = $1 AND revoked_at IS NULL
      RETURNING key_prefix, revoked_at AS "revoked_at!""#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Whether client `id` exists.
pub async fn exists(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM api_clients WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(conn)
    .await
}
