//! Provider webhooks: verify the raw bytes, store the event in the inbox (unique per provider
//! event key) with its processing job in one transaction, and answer what the provider expects.
//! The effect runs later in `process_webhook`, so a duplicate is acknowledged and does nothing.

pub mod fincra;
pub mod lnbits;
pub mod mpesa;
pub mod paystack;

use malipo_jobs::{Job, ProcessWebhook};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use super::AppState;
use crate::queue::bell::RingOnDrop;
use crate::{
    db::inbox::{Admission, InboxStatus, Received, Reception, insert_received},
    domain::ProviderKind,
    providers::InboxEndpoint,
};

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

/// Stores a verified event and queues its processing, atomically, and wakes the workers.
pub async fn store_event(
    state: &AppState,
    provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    body: &[u8],
) -> Result<Stored, sqlx::Error> {
    // Admitting any delivery, nothing is refused as not ours.
    let stored = store_now(
        state,
        provider,
        endpoint,
        event_key,
        None,
        body,
        Admission::Any,
    )
    .await?;
    Ok(stored.unwrap_or(Stored::Duplicate))
}

/// [`store_event`] for a result about the payout `reference` (its subject): `None`, with nothing
/// stored, when this provider has no payout with that reference.
pub async fn store_payout_event(
    state: &AppState,
    provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    reference: &str,
    body: &[u8],
) -> Result<Option<Stored>, sqlx::Error> {
    let admit = Admission::PayoutReference(reference);
    store_now(
        state,
        provider,
        endpoint,
        event_key,
        Some(reference),
        body,
        admit,
    )
    .await
}

/// [`store_admitted`] in a statement of its own, with the ring for its job armed before it and
/// let go (counted) after, or disarmed when nothing was stored.
async fn store_now(
    state: &AppState,
    provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    subject: Option<&str>,
    body: &[u8],
    admit: Admission<'_>,
) -> Result<Option<Stored>, sqlx::Error> {
    let ring = ring_for_callback(state);
    let stored = store_admitted(
        &state.pool,
        provider,
        endpoint,
        event_key,
        subject,
        body,
        admit,
    )
    .await?;
    match stored {
        Some(stored) => committed(provider, stored, ring),
        None => ring.disarm(),
    }
    Ok(stored)
}

/// [`store_deposit_event`] in a statement of its own, with its ring, as [`store_now`] does.
pub async fn store_deposit_now(
    state: &AppState,
    inbox_provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    (provider, handle): (ProviderKind, &str),
    body: &[u8],
) -> Result<Option<Stored>, sqlx::Error> {
    let admit = Admission::DepositHandle(provider, handle);
    store_now(
        state,
        inbox_provider,
        endpoint,
        event_key,
        None,
        body,
        admit,
    )
    .await
}

/// A claim about the deposit whose handle is `handle` at `provider`, stored on `conn` (a pool,
/// or the caller's transaction, which must commit it): `None`, with nothing stored, when malipo
/// recorded no such handle. The caller arms [`ring_for_callback`] before the statement (or its
/// commit) and hands it to [`committed`] after, or disarms it when nothing was stored.
pub async fn store_deposit_event(
    conn: impl PgExecutor<'_>,
    inbox_provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    (provider, handle): (ProviderKind, &str),
    body: &[u8],
) -> Result<Option<Stored>, sqlx::Error> {
    let admit = Admission::DepositHandle(provider, handle);
    store_admitted(conn, inbox_provider, endpoint, event_key, None, body, admit).await
}

/// Stores a verified delivery with its job when `admit` lets it in; `None` (nothing stored)
/// when it is not ours. The check, the inbox row and its job are one statement.
async fn store_admitted(
    conn: impl PgExecutor<'_>,
    provider: &str,
    endpoint: InboxEndpoint,
    event_key: &str,
    subject: Option<&str>,
    body: &[u8],
    admit: Admission<'_>,
) -> Result<Option<Stored>, sqlx::Error> {
    let delivery = Received {
        provider,
        endpoint,
        event_key,
        subject,
        body,
        admit,
    };
    Ok(match insert_received(conn, &delivery).await? {
        Reception::Queued => Some(Stored::Queued),
        Reception::Duplicate => Some(Stored::Duplicate),
        Reception::NotOurs => None,
    })
}

/// The ring for a callback's `process_webhook` job, armed before the statement (or the commit)
/// that stores it: it goes out however the handler ends, once its statement kept the
/// notification trigger quiet.
pub fn ring_for_callback(state: &AppState) -> RingOnDrop {
    state.bell.ring_when_dropped(ProcessWebhook::QUEUE)
}

/// After the commit of what a store returned: counts the delivery, and lets `ring` wake the
/// workers for a queued one (a duplicate queued nothing: no ring).
pub fn committed(provider: &str, stored: Stored, ring: RingOnDrop) {
    record(provider, stored);
    if stored != Stored::Queued {
        ring.disarm();
    }
}

/// Stores an authenticated delivery that will have no effect (`Rejected` or `Ignored`), with
/// the reason; identical deliveries are stored once.
pub async fn store_inert(
    pool: impl sqlx::PgExecutor<'_>,
    provider: &str,
    endpoint: InboxEndpoint,
    status: InboxStatus,
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
    endpoint: InboxEndpoint,
    (status, reason): (InboxStatus, &str),
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
        endpoint = endpoint.as_str(),
        status = status.as_str(),
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
