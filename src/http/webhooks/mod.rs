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
    let inserted =
        crate::db::inbox::insert_received(&mut *tx, provider, endpoint, event_key, subject, body)
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
    store_inert_about(pool, provider, endpoint, (status, reason), None, body).await
}

/// [`store_inert`] for a delivery whose handle is known (`subject`), so a later lookup by that
/// handle is a column match rather than a scan of raw bodies.
pub async fn store_inert_about(
    pool: impl sqlx::PgExecutor<'_>,
    provider: &str,
    endpoint: &str,
    (status, reason): (&str, &str),
    subject: Option<&str>,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    let key = format!("{status}:{}", hex::encode(Sha256::digest(body)));
    crate::db::inbox::insert_inert(
        pool,
        crate::db::inbox::InertDelivery {
            provider,
            endpoint,
            event_key: &key,
            status,
            reason,
            subject,
        },
        body,
    )
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
