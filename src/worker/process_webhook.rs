//! `process_webhook`: applies one verified inbox event. The raw body was verified and stored by
//! the webhook endpoint; here its adapter reads it again into a [`ProviderEvent`] — and, since a
//! callback is a claim and not a fact, the provider is asked (deposit verification, transfer
//! and refund checks) and only its answer is applied, through the same guarded transitions as
//! the polling jobs. The inbox row records `processed` only when the answer changed something,
//! `ignored` with the reason otherwise. This job knows no provider's wire format.

mod deposit;
mod off_channel;
mod refund;
mod transfer;

use chrono::{DateTime, Utc};
use malipo_jobs::{ProcessWebhook, WebhookDelivery};

use super::WorkerState;
use crate::{
    db::inbox::{self, InboxRow, InboxStatus},
    providers::{InboxEndpoint, ProviderEvent, interpret_webhook},
    queue::{JobContext, JobError},
};

/// How long a callback whose provider still calls the matter pending keeps being re-asked
/// before the row is closed (the polling jobs and reconciliation keep asking after that).
const ASK_AGAIN_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// Applies the event once; the inbox row's status records what happened.
#[tracing::instrument(skip_all, fields(inbox_id = %job.inbox_id))]
pub async fn run(job: ProcessWebhook, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let Some(row) = delivery(state, job.inbox_id, job.delivery).await? else {
        return Ok(());
    };
    let outcome = match InboxEndpoint::parse(&row.endpoint) {
        Some(endpoint) => {
            // An unreadable body stays unreadable: a permanent failure, not a retry.
            let event = interpret_webhook(endpoint, &row.body, row.subject.as_deref())
                .map_err(|error| JobError::permanent(error.to_string()))?;
            apply(state, event, row.received_at).await?
        }
        None => Note::Ignored(format!("unknown endpoint {}", row.endpoint)).into(),
    };
    let lease = context.lease();
    let (note, open) = match outcome.effect {
        Some(Effect::DeliveredShare(share)) => {
            match transfer::settle_delivered(state, share, job.inbox_id, lease).await? {
                transfer::Settlement::Finished(done) => return context.completed_with_effect(done),
                transfer::Settlement::Locked(note, open) => (note, open),
            }
        }
        Some(Effect::Open(open)) => (outcome.note, Some(open)),
        None => (outcome.note, None),
    };
    let (status, reason) = match note {
        Note::Applied => (InboxStatus::Processed, None),
        Note::Ignored(reason) => (InboxStatus::Ignored, Some(reason)),
        Note::AskAgain(reason) => {
            if Utc::now() - row.received_at < ASK_AGAIN_FOR {
                // What the answer wrote stands; the callback is asked about again.
                if let Some(effect) = open {
                    effect.commit().await?;
                }
                return Err(JobError::Snooze(std::time::Duration::from_secs(5)));
            }
            (
                InboxStatus::Ignored,
                Some(format!(
                    "{reason}; stopped asking after 10 minutes (polls and reconciliation go on)"
                )),
            )
        }
    };
    // The row's outcome and the job's completion commit together (one statement, no batch),
    // and with the effect when it was left open for them; a run that lost its lease rolls the
    // effect back.
    let done = match open {
        Some(mut effect) => {
            let done = inbox::finish_completing(
                &mut *effect,
                job.inbox_id,
                status,
                reason.as_deref(),
                lease,
            )
            .await?;
            if done {
                effect.commit().await?;
            }
            done
        }
        None => {
            inbox::finish_completing(&state.pool, job.inbox_id, status, reason.as_deref(), lease)
                .await?
        }
    };
    context.completed_with_effect(done)
}

/// The delivery to apply: the copy the job carries, or else the row, read; `None` when the
/// row was already finished.
///
/// The copy is as good as the row: a `process_webhook` job exists only while its row is
/// `received` (the row and its job are written by one statement, or put back to `received` in
/// the transaction that queues a new job), and the row leaves `received` only by
/// [`inbox::finish_completing`], which completes the job in the same statement, fenced by its
/// lease. A run that finds its row finished is therefore a run that lost its lease, and its
/// finish changes nothing.
async fn delivery(
    state: &WorkerState,
    inbox_id: uuid::Uuid,
    carried: Option<WebhookDelivery>,
) -> Result<Option<InboxRow>, JobError> {
    if let Some(carried) = carried {
        return Ok(Some(InboxRow {
            endpoint: carried.endpoint,
            status: InboxStatus::Received,
            subject: carried.subject,
            body: carried.body.into_bytes(),
            received_at: carried.received_at,
        }));
    }
    let Some(row) = inbox::load(&state.pool, inbox_id).await? else {
        return Err(JobError::permanent(format!(
            "inbox row {inbox_id} does not exist"
        )));
    };
    Ok((row.status == InboxStatus::Received).then_some(row))
}

/// What an event came to.
enum Note {
    /// The provider's answer changed something.
    Applied,
    /// Nothing changed, and why.
    Ignored(String),
    /// The provider's answer is not conclusive yet: ask again shortly (bounded).
    AskAgain(String),
}

/// What an event came to, with its effect when that is left for the callback's finish: the
/// row's outcome and the job's completion then commit with the effect (transactional
/// completion), so no crash can leave an applied answer with its callback still to process.
struct Outcome {
    note: Note,
    effect: Option<Effect>,
}

/// An effect that commits with its callback's finish.
enum Effect {
    /// Written in this transaction, left open.
    Open(sqlx::Transaction<'static, sqlx::Postgres>),
    /// Not written yet: a delivered share, settled with the finish in one call.
    DeliveredShare(Box<crate::db::share_settlement::DeliveredShare>),
}

impl From<Note> for Outcome {
    /// A note whose effect, if any, committed by itself.
    fn from(note: Note) -> Self {
        Self { note, effect: None }
    }
}

/// Applies what a delivery stored at `received_at` means.
async fn apply(
    state: &WorkerState,
    event: ProviderEvent,
    received_at: DateTime<Utc>,
) -> Result<Outcome, JobError> {
    Ok(match event {
        ProviderEvent::DepositClaim {
            provider,
            handle,
            claim,
        } => deposit::claim(state, provider, &handle, &claim)
            .await?
            .into(),
        ProviderEvent::TransferClaim {
            provider,
            reference,
            claim,
            next,
        } => transfer::claim(state, provider, &reference, claim.as_ref(), next).await?,
        ProviderEvent::TransferAnswer { reference, status } => {
            transfer::answer(state, &reference, &status, received_at).await?
        }
        ProviderEvent::RefundClaim {
            provider,
            transaction_reference,
            refund_id,
        } => {
            refund::claim(
                state,
                provider,
                &transaction_reference,
                refund_id.as_deref(),
            )
            .await?
        }
        ProviderEvent::OffChannelPayment {
            provider,
            receipt,
            amount,
            account_reference,
        } => off_channel::record(state, provider, &receipt, amount, &account_reference)
            .await?
            .into(),
        ProviderEvent::NoAction(reason) => Note::Ignored(reason).into(),
    })
}
