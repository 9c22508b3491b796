//! `payout`: sends one payout through its provider, at most once per payout id.
//!
//! The protocol: the payout is marked `in_flight` (with its ledger posting) and committed
//! *before* the provider is called; only the run that made that move initiates. Every later run
//! — after a timeout, a crash, a retry — only asks the provider where the transfer stands, and
//! initiates again only if the provider has never seen the reference (which the provider's own
//! reference dedupe makes safe). Results also arrive by webhook; whichever comes first applies,
//! the other finds the payout settled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_jobs::Payout;

use super::{WorkerState, calls};
use crate::{
    db::payouts::{self, PayoutRecord, PayoutTarget},
    domain::{PayoutDestination, PayoutStatus},
    escrow::payout::{self as effects, PayoutEffect},
    providers::{
        Destination, ProviderError, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
    },
    queue::{JobContext, JobError},
};

/// How often an in-flight payout is re-checked when no webhook has settled it.
const CHECK_AGAIN: Duration = Duration::from_secs(15);
/// How long after a payout's initiation a provider's "never seen" is taken at its word.
const UNSEEN_GRACE: Duration = Duration::from_secs(30);
/// After this long in flight a payout goes to an operator instead of being polled forever.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

enum Answer {
    Transfer(TransferStatus),
    Refund(RefundStatus),
}

/// Sends or checks the payout.
#[tracing::instrument(skip_all, fields(payout_id = %job.payout_id))]
pub async fn run(job: Payout, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    // The copy the job carries is the row as written, `pending`: the run tries to send it, and
    // reads the row only when that is not its to do (every later run of the job, such as the
    // in-flight checks, pays that one refused move before its read).
    let copied = job.copy.map(|copy| payouts::from_copy(job.payout_id, copy));
    let payout = match copied {
        Some(Ok(payout)) => payout,
        Some(Err(error)) => {
            tracing::warn!(%error, "the job's copy of its payout does not read; reading the row");
            stored(state, job.payout_id).await?
        }
        None => stored(state, job.payout_id).await?,
    };
    let (answer, initiated_now, payout) = match payout.status {
        PayoutStatus::Pending => {
            // One statement, so no transaction: the move, its posting and its notification
            // (with its deliveries' jobs) commit together, before the provider is called.
            let mut conn = state.pool.acquire().await?;
            let mine = effects::begin(&mut conn, &payout).await?;
            drop(conn);
            if mine {
                (initiate(state, &payout).await, true, payout)
            } else {
                // Another run sent it (a run before a crash, or a concurrent one): the row
                // says where it stands, and when it went in flight.
                let payout = stored(state, job.payout_id).await?;
                if !matches!(
                    payout.status,
                    PayoutStatus::Pending | PayoutStatus::InFlight
                ) {
                    return Ok(());
                }
                (check(state, &payout).await, false, payout)
            }
        }
        PayoutStatus::InFlight => (check(state, &payout).await, false, payout),
        _ => return Ok(()),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(ProviderError::Permanent { reason }) if initiated_now => {
            // Refused at initiation: nothing moved.
            Answer::Transfer(TransferStatus::Failed { reason })
        }
        Err(ProviderError::Permanent { reason }) => {
            return Err(JobError::permanent(format!(
                "provider refused to report on payout {}: {reason}",
                payout.reference
            )));
        }
        Err(error) => {
            super::fincra::alert_if_underfunded(state, &payout, &error).await;
            return Err(calls::ask_again_later(error));
        }
    };
    if let Answer::Transfer(TransferStatus::Pending | TransferStatus::NotFound) = answer {
        // "Accepted, result to follow" (every B2C initiation) changes nothing, so it needs no
        // transaction: the webhook or the next check applies the result.
        return check_again_later(&payout);
    }
    let mut tx = state.pool.begin().await?;
    let Some(current) = payouts::lock(&mut tx, payout.id).await? else {
        return Err(JobError::permanent("payout vanished"));
    };
    let effect = match &answer {
        Answer::Transfer(status) => effects::apply_transfer(&mut tx, &current, status).await?,
        Answer::Refund(status) => effects::apply_refund(&mut tx, &current, status).await?,
    };
    if effect != PayoutEffect::Pending {
        context.complete_within(&mut tx).await?;
    }
    tx.commit().await?;
    match effect {
        PayoutEffect::Pending => check_again_later(&current),
        PayoutEffect::Settled | PayoutEffect::Unchanged | PayoutEffect::Contradicted => Ok(()),
    }
}

/// Payout `id` as its row holds it now.
async fn stored(state: &WorkerState, id: uuid::Uuid) -> Result<PayoutRecord, JobError> {
    let mut conn = state.pool.acquire().await?;
    payouts::load(&mut conn, id)
        .await?
        .ok_or_else(|| JobError::permanent(format!("payout {id} does not exist")))
}

/// Snoozes an in-flight payout until its next check, or hands it to an operator after 24 h.
fn check_again_later(payout: &PayoutRecord) -> Result<(), JobError> {
    // A payout initiated by this very run was loaded before `initiated_at` was set.
    let in_flight_since = payout.initiated_at.unwrap_or_else(Utc::now);
    if Utc::now() - in_flight_since > GIVE_UP_AFTER {
        return Err(JobError::permanent(format!(
            "payout {} still not conclusive after 24 h; check it with the provider",
            payout.reference
        )));
    }
    Err(JobError::Snooze(CHECK_AGAIN))
}

async fn initiate(state: &WorkerState, payout: &PayoutRecord) -> Result<Answer, ProviderError> {
    match &payout.target {
        PayoutTarget::Refund { refund_of } => {
            let request = RefundRequest {
                reference: payout.reference.clone(),
                deposit_ref: refund_of.clone(),
                amount: payout.amount,
                // Paystack keeps it as the refund's merchant note: how malipo recognises its
                // own refund when the answer carrying the refund's id was lost.
                reason: format!("malipo refund {}", payout.reference),
            };
            calls::refund(&state.providers, payout.provider, &request)
                .await
                .map(Answer::Refund)
        }
        PayoutTarget::Destination(destination) => {
            let request = transfer_request(payout, destination)?;
            calls::initiate_transfer(&state.providers, payout.provider, &request)
                .await
                .map(Answer::Transfer)
        }
    }
}

async fn check(state: &WorkerState, payout: &PayoutRecord) -> Result<Answer, ProviderError> {
    match &payout.target {
        PayoutTarget::Refund { refund_of } => {
            let Some(provider_ref) = &payout.provider_ref else {
                return check_lost_refund(state, payout, refund_of).await;
            };
            calls::check_refund(&state.providers, payout.provider, provider_ref)
                .await
                .map(Answer::Refund)
        }
        PayoutTarget::Destination(destination) => {
            let request = transfer_request(payout, destination)?;
            let status = calls::check_transfer(&state.providers, payout.provider, &request).await?;
            match status {
                // Never seen by the provider: the earlier initiation did not arrive. The same
                // reference makes a second attempt safe (the provider rejects duplicates).
                TransferStatus::NotFound => {
                    calls::initiate_transfer(&state.providers, payout.provider, &request)
                        .await
                        .map(Answer::Transfer)
                }
                other => Ok(Answer::Transfer(other)),
            }
        }
    }
}

/// A refund whose initiation answer (and so its id) was lost: looked up by the transaction it
/// refunds. Found nowhere once [`UNSEEN_GRACE`] has passed, it never reached Paystack and is
/// asked for again; a refusal then (Paystack will not refund more than the transaction, so one
/// that exists after all is refused) only means "look again later".
async fn check_lost_refund(
    state: &WorkerState,
    payout: &PayoutRecord,
    refund_of: &str,
) -> Result<Answer, ProviderError> {
    let found = calls::find_paystack_refund(&state.providers, refund_of, &payout.reference).await?;
    let sent_long_ago = payout.initiated_at.is_some_and(|at| {
        Utc::now() - at > chrono::Duration::from_std(UNSEEN_GRACE).unwrap_or_default()
    });
    match found {
        RefundStatus::NotFound if sent_long_ago => match initiate(state, payout).await {
            Err(ProviderError::Permanent { reason }) => {
                tracing::warn!(%reason, "refund asked again and refused; checking again later");
                Ok(Answer::Refund(RefundStatus::NotFound))
            }
            answer => answer,
        },
        other => Ok(Answer::Refund(other)),
    }
}

/// Sends an M-Pesa payout again when Daraja says it never received it (the B2C was lost on
/// the way), answering with the new initiation's status — or `None` when the payout is not in
/// flight, or the "never seen" answer arrived within [`UNSEEN_GRACE`] of the last send (a B2C
/// can still be in Daraja's queue when a status query overtakes it; an answer from before a
/// re-send says nothing about it). Setting `resent_at` claims the re-send, so concurrent
/// answers send it once per grace window; Daraja's own duplicate check on the
/// OriginatorConversationID guards each re-send, and `initiated_at` keeps counting toward the
/// 24 h give-up.
pub async fn resend_unseen(
    state: &WorkerState,
    reference: &str,
    answered_at: DateTime<Utc>,
) -> Result<Option<TransferStatus>, JobError> {
    let mut conn = state.pool.acquire().await?;
    let claimed = payouts::claim_mpesa_resend(
        &mut conn,
        reference,
        answered_at,
        UNSEEN_GRACE.as_secs_f64(),
    )
    .await?;
    let Some(id) = claimed else {
        return Ok(None);
    };
    let Some(payout) = payouts::load(&mut conn, id).await? else {
        return Ok(None);
    };
    drop(conn);
    let PayoutTarget::Destination(destination) = &payout.target else {
        return Err(JobError::permanent(
            "a refund has no transfer to send again",
        ));
    };
    tracing::warn!(
        reference,
        "provider never received the payout; sending it again"
    );
    let request = transfer_request(&payout, destination)
        .map_err(|error| JobError::permanent(error.to_string()))?;
    match calls::initiate_transfer(&state.providers, payout.provider, &request).await {
        Ok(status) => Ok(Some(status)),
        // Not proof that nothing moves (the first send may yet surface): the payout stays in
        // flight for its checks, and this event's job records why it stopped.
        Err(ProviderError::Permanent { reason }) => Err(JobError::permanent(format!(
            "re-send of {reference} refused: {reason}"
        ))),
        Err(error) => Err(calls::ask_again_later(error)),
    }
}

/// Where a transfer payout stands at its provider, by the provider's own query (Transaction
/// Status for M-Pesa answers later, at the status result URL, so it reads `Pending` here).
pub(super) async fn check_transfer(
    state: &WorkerState,
    payout: &PayoutRecord,
) -> Result<TransferStatus, ProviderError> {
    let PayoutTarget::Destination(destination) = &payout.target else {
        return Err(ProviderError::permanent("a refund is not a transfer"));
    };
    let request = transfer_request(payout, destination)?;
    calls::check_transfer(&state.providers, payout.provider, &request).await
}

/// Where a refund payout stands: fetched by its id, or found by its transaction (among
/// malipo's own refunds only) when the id was never learned.
pub(super) async fn check_refund(
    state: &WorkerState,
    payout: &PayoutRecord,
) -> Result<RefundStatus, ProviderError> {
    let PayoutTarget::Refund { refund_of } = &payout.target else {
        return Err(ProviderError::permanent("a transfer is not a refund"));
    };
    match &payout.provider_ref {
        Some(provider_ref) => {
            calls::check_refund(&state.providers, payout.provider, provider_ref).await
        }
        None => calls::find_paystack_refund(&state.providers, refund_of, &payout.reference).await,
    }
}

fn transfer_request(
    payout: &PayoutRecord,
    destination: &PayoutDestination,
) -> Result<TransferRequest, ProviderError> {
    let destination = match destination {
        PayoutDestination::Mpesa { msisdn } => Destination::Mpesa {
            msisdn: msisdn.as_str().to_owned(),
        },
        PayoutDestination::Paystack { recipient_code } => Destination::Paystack {
            recipient_code: recipient_code.clone(),
        },
        PayoutDestination::Lightning {
            bolt11: Some(bolt11),
        } => Destination::Lightning {
            bolt11: bolt11.clone(),
        },
        PayoutDestination::Lightning { bolt11: None } => {
            return Err(ProviderError::permanent("no Lightning invoice to pay"));
        }
        PayoutDestination::Fincra(destination) => super::fincra::destination(destination),
    };
    Ok(TransferRequest {
        reference: payout.reference.clone(),
        amount: payout.amount,
        destination,
        reason: format!("malipo {} payout", payout.kind),
    })
}
