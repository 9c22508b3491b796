//! Transfer claims and answers. A claim makes the payout be checked with its provider (now, or
//! by a question whose answer comes back as its own event); the provider's answer is applied
//! through `escrow::payout::apply_transfer`, which decides, or, for a delivered share in
//! flight, settled in one call that makes the same moves (`apply_answer`).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Effect, Note, Outcome};
use crate::{
    db::{
        payouts::{self, PayoutRecord, PayoutTarget},
        share_settlement::{self, DeliveredShare, ShareSettled},
    },
    domain::ProviderKind,
    escrow::payout::{self as effects, PayoutEffect},
    providers::{TransferCheck, TransferStatus},
    queue::{JobError, Lease},
    worker::{WorkerState, calls, payout},
};

/// A transfer callback's claim: the payout it names is checked with its provider, and only
/// the answer applies — events come out of order (a reversal after a success, or before it),
/// and may lie.
pub(super) async fn claim(
    state: &WorkerState,
    provider: ProviderKind,
    reference: &str,
    claim: Option<&TransferStatus>,
    next: TransferCheck,
) -> Result<Outcome, JobError> {
    let Some(payout) = payout_by_reference(state, reference).await? else {
        return Ok(Note::Ignored(format!("no payout with reference {reference}")).into());
    };
    if payout.provider != provider {
        return Ok(
            Note::Ignored(format!("{provider} event for a payout of another provider")).into(),
        );
    }
    let status = payout::check_transfer(state, &payout)
        .await
        .map_err(calls::ask_again_later)?;
    match next {
        TransferCheck::CheckNow => apply_answer(state, Some(&payout), reference, &status).await,
        // The question is asked; its answer, a `TransferAnswer` event, decides.
        TransferCheck::AskAndAwait => Ok(Note::Ignored(format!(
            "claimed {} while malipo has it {}; asked {provider}, whose answer decides",
            claim.map_or_else(|| "an outcome".to_owned(), |claim| format!("{claim:?}")),
            payout.status
        ))
        .into()),
    }
}

/// The provider's answer to malipo's own question about payout `reference`. "Never received"
/// may send the payout again (within the payout job's rules); any other answer is applied.
pub(super) async fn answer(
    state: &WorkerState,
    reference: &str,
    status: &TransferStatus,
    received_at: DateTime<Utc>,
) -> Result<Outcome, JobError> {
    if let TransferStatus::Succeeded { .. } = status {
        let read = payout_by_reference(state, reference).await?;
        return apply_answer(state, read.as_ref(), reference, status).await;
    }
    if *status != TransferStatus::NotFound {
        return apply_transfer_by_reference(state, reference, status).await;
    }
    match payout::resend_unseen(state, reference, received_at).await? {
        Some(status) => {
            // The payout went out again, and a run after this one would not send it again to
            // learn the answer: it commits now, whatever becomes of this run's lease.
            let mut outcome = apply_transfer_by_reference(state, reference, &status).await?;
            if let Some(Effect::Open(effect)) = outcome.effect.take() {
                effect.commit().await?;
            }
            Ok(outcome)
        }
        None => Ok(Note::Ignored(
            "the provider does not know the payout yet; too early to send it again".to_owned(),
        )
        .into()),
    }
}

/// Applies the provider's `status` for payout `reference`, whose row was `read` (locked by
/// nobody) when the caller holds it. A delivered payee or commission share that was in flight
/// is settled with the callback's own finish, in one call (`settle_delivered`); every other
/// answer, and a share that has moved since it was read, goes the locked way.
async fn apply_answer(
    state: &WorkerState,
    read: Option<&PayoutRecord>,
    reference: &str,
    status: &TransferStatus,
) -> Result<Outcome, JobError> {
    if let (Some(payout), TransferStatus::Succeeded { provider_ref }) = (read, status)
        && let Some(share) = effects::delivered_share(payout, provider_ref)?
    {
        return Ok(Outcome {
            note: Note::Applied,
            effect: Some(Effect::DeliveredShare(Box::new(share))),
        });
    }
    apply_transfer_by_reference(state, reference, status).await
}

/// The transfer payout with `reference` (refunds excluded).
async fn payout_by_reference(
    state: &WorkerState,
    reference: &str,
) -> Result<Option<PayoutRecord>, JobError> {
    let mut conn = state.pool.acquire().await?;
    let payout = payouts::by_reference(&mut conn, reference).await?;
    Ok(payout.filter(|p| matches!(p.target, PayoutTarget::Destination(_))))
}

/// Applies `status` to payout `reference` in a transaction left open for the callback's own
/// outcome and completion.
async fn apply_transfer_by_reference(
    state: &WorkerState,
    reference: &str,
    status: &TransferStatus,
) -> Result<Outcome, JobError> {
    let (note, open) = apply_locked(state, reference, status).await?;
    Ok(Outcome {
        note,
        effect: open.map(Effect::Open),
    })
}

/// [`apply_transfer_by_reference`]'s note and open transaction (none when there is no such
/// payout).
async fn apply_locked(
    state: &WorkerState,
    reference: &str,
    status: &TransferStatus,
) -> Result<(Note, Option<Transaction<'static, Postgres>>), JobError> {
    let mut tx = state.pool.begin().await?;
    let Some(payout) = payouts::lock_by_reference(&mut tx, reference).await? else {
        let note = Note::Ignored(format!("no payout with reference {reference}"));
        return Ok((note, None));
    };
    let effect = effects::apply_transfer(&mut tx, &payout, status).await?;
    let note = match effect {
        PayoutEffect::Settled => Note::Applied,
        PayoutEffect::Contradicted => Note::Ignored(format!(
            "the provider's answer contradicts the payout's recorded `{}`: discrepancy recorded",
            payout.status
        )),
        PayoutEffect::Pending => Note::Ignored("transfer not conclusive yet".to_owned()),
        PayoutEffect::Unchanged => Note::Ignored(format!("payout already {}", payout.status)),
    };
    Ok((note, Some(tx)))
}

/// What settling a delivered share with its callback's finish came to.
pub(super) enum Settlement {
    /// Done in one call; whether the run still held its lease (and so wrote it).
    Finished(bool),
    /// The payout left `in_flight` after it was read: the answer's note, applied the locked way
    /// in a transaction left open for the callback's finish.
    Locked(Note, Option<Transaction<'static, Postgres>>),
}

/// Settles `share` and finishes callback `inbox_id` with its job, in one call
/// (`share_settlement::settle_finishing`).
pub(super) async fn settle_delivered(
    state: &WorkerState,
    share: Box<DeliveredShare>,
    inbox_id: Uuid,
    lease: Lease,
) -> Result<Settlement, JobError> {
    match share_settlement::settle_finishing(&state.pool, &share, inbox_id, lease).await? {
        ShareSettled::Settled => Ok(Settlement::Finished(true)),
        ShareSettled::LeaseLost => Ok(Settlement::Finished(false)),
        ShareSettled::NotMoved => {
            let status = TransferStatus::Succeeded {
                provider_ref: share.provider_ref,
            };
            let (note, open) = apply_locked(state, &share.reference, &status).await?;
            Ok(Settlement::Locked(note, open))
        }
    }
}
