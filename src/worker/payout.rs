//! `payout`: sends one payout through its provider, at most once per payout id.
//!
//! The protocol: the payout is marked `in_flight` (with its ledger posting) and committed
//! *before* the provider is called; only the run that made that move initiates. Every later run
//! — after a timeout, a crash, a retry — only asks the provider where the transfer stands, and
//! initiates again only if the provider has never seen the reference (which the provider's own
//! reference dedupe makes safe). Results also arrive by webhook; whichever comes first applies,
//! the other finds the payout settled.

use std::time::Duration;

use chrono::Utc;
use malipo_jobs::Payout;

use super::{WorkerState, calls};
use crate::{
    db::payouts::{self, PayoutRecord, PayoutTarget},
    domain::PayoutDestination,
    escrow::payout::{self as effects, PayoutEffect},
    providers::{
        Destination, ProviderError, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
    },
    queue::{JobContext, JobError},
};

/// How often an in-flight payout is re-checked when no webhook has settled it.
const CHECK_AGAIN: Duration = Duration::from_secs(15);
/// How long after a payout's (re)initiation a provider's "never seen" is taken at its word.
const UNSEEN_GRACE: Duration = Duration::from_secs(20);
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
    let mut conn = state.pool.acquire().await?;
    let Some(payout) = payouts::load(&mut conn, job.payout_id, false).await? else {
        return Err(JobError::permanent(format!(
            "payout {} does not exist",
            job.payout_id
        )));
    };
    drop(conn);
    let (answer, initiated_now) = match payout.status.as_str() {
        "pending" => {
            let mut tx = state.pool.begin().await?;
            let mine = effects::begin(&mut tx, &payout).await?;
            tx.commit().await?;
            if mine {
                (initiate(state, &payout).await, true)
            } else {
                (check(state, &payout).await, false)
            }
        }
        "in_flight" => (check(state, &payout).await, false),
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
        Err(error) => return Err(calls::retry(error)),
    };
    let mut tx = state.pool.begin().await?;
    let Some(current) = payouts::load(&mut tx, payout.id, true).await? else {
        return Err(JobError::permanent("payout vanished"));
    };
    let effect = match &answer {
        Answer::Transfer(status) => effects::apply_transfer(&mut tx, &current, status).await?,
        Answer::Refund(status) => effects::apply_refund(&mut tx, &current, status).await?,
    };
    tx.commit().await?;
    match effect {
        PayoutEffect::Pending => {
            let in_flight_since = current.initiated_at.unwrap_or_else(Utc::now);
            if Utc::now() - in_flight_since > GIVE_UP_AFTER {
                return Err(JobError::permanent(format!(
                    "payout {} still not conclusive after 24 h; check it with the provider",
                    current.reference
                )));
            }
            Err(JobError::Snooze(CHECK_AGAIN))
        }
        PayoutEffect::Settled | PayoutEffect::Unchanged => Ok(()),
    }
}

async fn initiate(state: &WorkerState, payout: &PayoutRecord) -> Result<Answer, ProviderError> {
    match &payout.target {
        PayoutTarget::Refund { refund_of } => {
            let request = RefundRequest {
                reference: payout.reference.clone(),
                deposit_ref: refund_of.clone(),
                amount: payout.amount,
                reason: "escrow refund".to_owned(),
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
            let status = match &payout.provider_ref {
                Some(provider_ref) => {
                    calls::check_refund(&state.providers, payout.provider, provider_ref).await?
                }
                // The refund call's answer was lost, so its id is unknown: look it up by the
                // transaction it refunds.
                None => calls::find_paystack_refund(&state.providers, refund_of).await?,
            };
            match status {
                // Never reached Paystack: ask again. Paystack refuses to refund more than the
                // transaction's amount, so this cannot refund twice.
                RefundStatus::NotFound => initiate(state, payout).await,
                other => Ok(Answer::Refund(other)),
            }
        }
        PayoutTarget::Destination(destination) => {
            let request = transfer_request(payout, destination)?;
            let status = if payout.provider == crate::domain::ProviderKind::Mpesa {
                calls::query_mpesa_transfer(&state.providers, &payout.reference).await?
            } else {
                calls::check_transfer(&state.providers, payout.provider, &request).await?
            };
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

/// Sends again a payout whose provider says it never received it (its initiation was lost on
/// the way), answering with the new initiation's status — or `None` when the payout is not in
/// flight or was (re)sent within [`UNSEEN_GRACE`]: a B2C can still be in Daraja's queue when a
/// status query overtakes it. Moving `initiated_at` forward claims the re-send, so concurrent
/// "never seen" answers send it once; the provider's dedupe on the reference guards the rest.
pub async fn resend_unseen(
    state: &WorkerState,
    reference: &str,
) -> Result<Option<TransferStatus>, JobError> {
    let mut conn = state.pool.acquire().await?;
    let claimed: Option<uuid::Uuid> = sqlx::query_scalar(
        "UPDATE payouts SET initiated_at = now()
          WHERE reference = $1 AND status = 'in_flight' AND initiated_at < now() - make_interval(secs => $2)
          RETURNING id",
    )
    .bind(reference)
    .bind(UNSEEN_GRACE.as_secs_f64())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = claimed else {
        return Ok(None);
    };
    let Some(payout) = payouts::load(&mut conn, id, false).await? else {
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
    let request = transfer_request(&payout, destination).map_err(calls::retry)?;
    match calls::initiate_transfer(&state.providers, payout.provider, &request).await {
        Ok(status) => Ok(Some(status)),
        Err(ProviderError::Permanent { reason }) => Ok(Some(TransferStatus::Failed { reason })),
        Err(error) => Err(calls::retry(error)),
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
    };
    Ok(TransferRequest {
        reference: payout.reference.clone(),
        amount: payout.amount,
        destination,
        reason: format!("malipo {} payout", payout.kind),
    })
}
