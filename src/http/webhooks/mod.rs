//! Provider webhooks: verify the raw bytes, store the event in the inbox (unique per provider
//! event key) with its processing job in one transaction, and answer what the provider expects.
//! The effect runs later in `process_webhook`, so a duplicate is acknowledged and does nothing.

pub mod fincra;
pub mod lnbits;
pub mod mpesa;
pub mod paystack;

use malipo_jobs::ProcessWebhook;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::queue::{EnqueueOptions, enqueue};

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New event, queued for processing.
    Queued,
    /// Seen before; acknowledged, nothing done.
    Duplicate,
    /// Kept for the record, no effect (unknown id, malformed body).
    Recorded,
}

/// Stores a verified event and queues its processing, atomically.
pub async fn store_event(
    pool: &PgPool,
    provider: &str,
    endpoint: &str,
    event_key: &str,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    store_with_subject(pool, provider, endpoint, event_key, None, body).await
}

/// [`store_event`] for an event whose callback URL named what it is about (`subject`), which
/// its body does not say.
pub async fn store_event_about(
    pool: &PgPool,
    provider: &str,
    endpoint: &str,
    event_key: &str,
    subject: &str,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    store_with_subject(pool, provider, endpoint, event_key, Some(subject), body).await
}

async fn store_with_subject(
    pool: &PgPool,
    provider: &str,
    endpoint: &str,
    event_key: &str,
    subject: Option<&str>,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stored = store_in(&mut tx, provider, endpoint, event_key, subject, body).await?;
    tx.commit().await?;
    record(provider, stored);
    Ok(stored)
}

/// [`store_event`] inside the caller's transaction (which must commit it); counted by the
/// caller with [`record`].
pub async fn store_in(
    tx: &mut PgConnection,
    provider: &str,
    endpoint: &str,
    event_key: &str,
    subject: Option<&str>,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    let id = Uuid::now_v7();
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO webhook_inbox (id, provider, endpoint, event_key, subject, body, status) VALUES ($1, $2, $3, $4, $5, $6, 'received')
         ON CONFLICT (provider, event_key) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(provider)
    .bind(endpoint)
    .bind(event_key)
    .bind(subject)
    .bind(body)
    .fetch_optional(&mut *tx)
    .await?;
    let stored = match inserted {
        Some(id) => {
            enqueue(
                &mut *tx,
                &ProcessWebhook { inbox_id: id },
                EnqueueOptions::default(),
            )
            .await?;
            Stored::Queued
        }
        None => Stored::Duplicate,
    };
    Ok(stored)
}

/// Stores an authenticated delivery that will have no effect (`rejected` or `ignored`), with
/// the reason; identical deliveries are stored once.
pub async fn store_inert(
    pool: impl sqlx::PgExecutor<'_>,
    provider: &str,
    endpoint: &str,
    status: &str,
    reason: &str,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    let key = format!("{status}:{}", hex::encode(Sha256::digest(body)));
    sqlx::query(
        "INSERT INTO webhook_inbox (id, provider, endpoint, event_key, body, status, reason, processed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (provider, event_key) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(provider)
    .bind(endpoint)
    .bind(key)
    .bind(body)
    .bind(status)
    .bind(reason)
    .execute(pool)
    .await?;
    record(provider, Stored::Recorded);
    tracing::info!(
        provider,
        endpoint,
        status,
        reason,
        "webhook stored without effect"
    );
    Ok(Stored::Recorded)
}

/// Counts a delivery by provider and outcome (also for refused ones, which store nothing).
pub fn record(provider: &str, stored: Stored) {
    let outcome = match stored {
        Stored::Queued => "queued",
        Stored::Duplicate => "duplicate",
        Stored::Recorded => "recorded",
    };
    count(provider, outcome);
}

/// Counts a webhook event outcome.
pub fn count(provider: &str, outcome: &str) {
    tracing::debug!(provider, outcome, "webhook");
    crate::ops::metrics::webhook_event(provider, outcome);
}
