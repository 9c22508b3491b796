//! Key management shared by `malipo clients …` and `/ops/clients`: list, rotate (the previous
//! key keeps working for a grace period), revoke (every key of the client stops at once). Each
//! change and its audit row commit in one transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{KeyMode, hash_key, new_key};
pub use crate::db::clients::ClientSummary;
use crate::{
    db,
    ops::{Actor, OpsError, audit},
};

/// A new key for a client, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    /// The client id.
    pub id: Uuid,
    /// The new key; not stored anywhere.
    pub key: String,
    /// The new key's visible start.
    pub key_prefix: String,
    /// Until when the previous key keeps working; `None` when it stopped at once.
    pub previous_key_expires_at: Option<DateTime<Utc>>,
}

/// A revoked client.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// The client id.
    pub id: Uuid,
    /// The revoked key's visible start.
    pub key_prefix: String,
    /// When.
    pub revoked_at: DateTime<Utc>,
}

/// Every client, oldest first (previous keys past their grace are not shown).
pub async fn list(pool: &PgPool) -> Result<Vec<ClientSummary>, OpsError> {
    Ok(db::clients::list(pool).await?)
}

/// Gives client `id` a new key of the same mode; the current one keeps working for `grace`
/// (zero: it stops at once). A key rotated earlier and still in its grace stops now.
pub async fn rotate(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    grace: Duration,
) -> Result<RotatedKey, OpsError> {
    let mut tx = pool.begin().await?;
    let current = db::clients::lock_key_state(&mut tx, id).await?;
    let Some(db::clients::KeyState {
        key_prefix: old_prefix,
        revoked_at,
    }) = current
    else {
        return Err(OpsError::NotFound(format!("no API client with id {id}")));
    };
    if revoked_at.is_some() {
        return Err(OpsError::Conflict(format!(
            "API client {id} is revoked; create a new client instead"
        )));
    }
    let (key, key_prefix) = new_key(KeyMode::of_prefix(&old_prefix));
    let grace_secs = grace.as_secs_f64();
    let previous_key_expires_at =
        db::clients::rotate_key(&mut tx, id, &hash_key(&key), &key_prefix, grace_secs).await?;
    record(
        &mut tx,
        actor,
        "client.rotate",
        json!({
            "client_id": id,
            "key_prefix": key_prefix,
            "previous_key_prefix": old_prefix,
            "previous_key_expires_at": previous_key_expires_at,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(RotatedKey {
        id,
        key,
        key_prefix,
        previous_key_expires_at,
    })
}

/// Revokes client `id`: its current and previous keys stop working at once.
pub async fn revoke(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Revoked, OpsError> {
    let mut tx = pool.begin().await?;
    let revoked = db::clients::revoke(&mut tx, id).await?;
    let Some(db::clients::RevokedRow {
        key_prefix,
        revoked_at,
    }) = revoked
    else {
        let exists = db::clients::exists(&mut tx, id).await?;
        return Err(if exists {
            OpsError::Conflict(format!("API client {id} is already revoked"))
        } else {
            OpsError::NotFound(format!("no API client with id {id}"))
        });
    };
    record(
        &mut tx,
        actor,
        "client.revoke",
        json!({ "client_id": id, "key_prefix": key_prefix }),
    )
    .await?;
    tx.commit().await?;
    Ok(Revoked {
        id,
        key_prefix,
        revoked_at,
    })
}

async fn record(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    action: &'static str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit::record(
        tx,
        &audit::Action {
            actor,
            action,
            job_id: None,
            queue: None,
            filter: json!({}),
            dry_run: false,
            affected: 1,
            detail,
        },
    )
    .await
}
