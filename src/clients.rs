//! API clients and their keys: a random key shown once with a visible prefix (`mlp_live_…`,
//! `mlp_test_…`), its SHA-256 stored; listing, rotation with a grace period and revocation
//! live in [`manage`].

pub mod manage;

use anyhow::Context;
use rand::RngCore;
use sqlx::PgPool;
use uuid::Uuid;

use sha2::{Digest, Sha256};

pub use crate::domain::client_role::{KeyMode, Role, UnknownRole};

/// The stored form of an API key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Characters of the secret part kept in the stored, displayable prefix.
const SHOWN_SECRET_CHARS: usize = 6;

/// A newly created client and the only copy of its key.
pub struct CreatedClient {
    /// The client id.
    pub id: Uuid,
    /// The API key; not stored anywhere.
    pub key: String,
}

/// A fresh key of `mode`, and the prefix stored to recognise it (`mlp_live_3fa9c1`).
pub(crate) fn new_key(mode: KeyMode) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{}{}", mode.prefix(), hex::encode(secret));
    let shown = key[..mode.prefix().len() + SHOWN_SECRET_CHARS].to_owned();
    (key, shown)
}

/// Creates a live client with `role` named as stored (`client` or `operator`).
pub async fn create(
    pool: &PgPool,
    name: &str,
    role: &str,
    commission_bps: i32,
) -> anyhow::Result<CreatedClient> {
    let role = Role::try_from(role)?;
    create_with(pool, name, role, KeyMode::Live, commission_bps).await
}

/// Creates a client with `role` and a key of `mode`.
pub async fn create_with(
    pool: &PgPool,
    name: &str,
    role: Role,
    mode: KeyMode,
    commission_bps: i32,
) -> anyhow::Result<CreatedClient> {
    let (key, prefix) = new_key(mode);
    let id = Uuid::now_v7();
    crate::db::clients::insert(
        pool,
        crate::db::clients::NewClient {
            id,
            name,
            role,
            key_hash: &hash_key(&key),
            key_prefix: &prefix,
            commission_bps,
        },
    )
    .await
    .context("failed to create the API client")?;
    Ok(CreatedClient { id, key })
}
