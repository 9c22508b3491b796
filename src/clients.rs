//! Creating API clients: a random key shown once, its SHA-256 stored.

use anyhow::Context;
use rand::RngCore;
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::auth::hash_key;

/// A newly created client and the only copy of its key.
pub struct CreatedClient {
    /// The client id.
    pub id: Uuid,
    /// The API key; not stored anywhere.
    pub key: String,
}

/// Creates a client with `role` (`client` or `operator`).
pub async fn create(
    pool: &PgPool,
    name: &str,
    role: &str,
    commission_bps: i32,
) -> anyhow::Result<CreatedClient> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let prefix = if role == "operator" {
        "mlp_op_"
    } else {
        "mlp_live_"
    };
    let key = format!("{prefix}{}", hex::encode(secret));
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO api_clients (id, name, role, key_hash, key_prefix, commission_bps) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(hash_key(&key))
        .bind(&key[..prefix.len() + 6])
        .bind(commission_bps)
        .execute(pool)
        .await
        .context("failed to create the API client")?;
    Ok(CreatedClient { id, key })
}
