//! The automatic release: a time at which a held, undisputed intent is released by itself (a
//! marketplace's "buyer did not complain within 7 days"). One scheduled `auto_release` job per
//! time set; it acts only while the intent is `held` with that same time, and what it does is an
//! ordinary release of everything left, so it happens once whatever the number of workers.

use chrono::{DateTime, Utc};
use malipo_jobs::AutoRelease;
use serde_json::json;
use sqlx::PgConnection;

use super::release::{self, Refusal, ReleaseAsk, Requested};
use crate::{
    db::{
        intents::{self, IntentRecord},
        releases::{self, ReleaseSource},
    },
    domain::{IntentNote, IntentStatus, PayoutDestination},
    queue::{EnqueueOptions, enqueue},
};

/// Enqueues the job that releases `intent` at `at` (at once when `at` has passed).
pub async fn schedule(
    conn: &mut PgConnection,
    intent: uuid::Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let wait = (at - Utc::now()).num_milliseconds().max(0);
    #[allow(clippy::cast_precision_loss)] // milliseconds of a wait: far below 2^53
    let delay_secs = wait as f64 / 1000.0;
    enqueue(
        conn,
        &AutoRelease {
            intent_id: intent,
            at_unix: at.timestamp(),
        },
        EnqueueOptions {
            delay_secs: Some(delay_secs),
            intent_id: Some(intent),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// Why the time cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetRefusal {
    /// Only a held intent has a release to schedule.
    #[error("the automatic release can be set only while the intent is `held` (it is `{0}`)")]
    NotHeld(IntentStatus),
    /// A Lightning payee is paid by an invoice nobody would give at that time.
    #[error("a Lightning payee without an invoice on file cannot be released automatically")]
    NeedsInvoice,
    /// A collection has nobody to release to.
    #[error("the intent was captured into your balance; it has no payee to release to")]
    NoPayee,
}

/// Sets (or with `None` clears) when `intent` (locked by the caller) releases by itself.
pub async fn set(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<Result<(), SetRefusal>> {
    if intent.status != IntentStatus::Held {
        return Ok(Err(SetRefusal::NotHeld(intent.status)));
    }
    match intent
        .payee
        .as_ref()
        .map(|payee| payee.payout.destination())
    {
        None => return Ok(Err(SetRefusal::NoPayee)),
        Some(Some(PayoutDestination::Lightning { bolt11: None })) if at.is_some() => {
            return Ok(Err(SetRefusal::NeedsInvoice));
        }
        Some(_) => {}
    }
    releases::set_auto_release(conn, intent.id, at).await?;
    intents::record_event(
        &mut *conn,
        intent.id,
        IntentNote::AutoReleaseSet,
        json!({"auto_release_at": at}),
    )
    .await?;
    if let Some(at) = at {
        schedule(conn, intent.id, at).await?;
    }
    Ok(Ok(()))
}

/// What the scheduled job found.
#[derive(Debug)]
pub enum Fired {
    /// Released everything left.
    Released(Requested),
    /// Not due any more: released, refunded, disputed, or moved to another time.
    NotDue,
    /// Due in this long.
    Early(std::time::Duration),
    /// Due, but the release was refused (e.g. a Lightning payee whose invoice cannot pay
    /// what is left): for an operator.
    Refused(Refusal),
}

/// Runs the automatic release of `intent` (locked by the caller) scheduled for `at_unix`.
pub async fn fire(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    at_unix: i64,
) -> anyhow::Result<Fired> {
    let Some(at) = intent
        .auto_release_at
        .filter(|at| intent.status == IntentStatus::Held && at.timestamp() == at_unix)
    else {
        return Ok(Fired::NotDue);
    };
    // The job's run time comes from the database's clock: a run a moment early waits.
    if let Ok(early) = (at - Utc::now()).to_std() {
        return Ok(Fired::Early(early + std::time::Duration::from_millis(100)));
    }
    Ok(
        match release::request(
            conn,
            intent,
            &ReleaseAsk::default(),
            ReleaseSource::AutoRelease,
        )
        .await?
        {
            Ok(requested) => Fired::Released(requested),
            Err(refusal) => Fired::Refused(refusal),
        },
    )
}
