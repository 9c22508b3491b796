//! `refund`: returns a refunding intent's escrow to the buyer through a refund payout row,
//! which the `payout` job then sends at most once.

use malipo_jobs::Refund;

use super::WorkerState;
use crate::{
    db::payouts::{self, NewPayout, PayoutTarget},
    domain::{Buyer, PayoutDestination, PayoutKind, ProviderKind},
    escrow::deposit_reference,
    queue::{JobContext, JobError},
};

/// Runs while the intent is `refunding`.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: Refund, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let mut tx = state.pool.begin().await?;
    // The failed refunds this one will follow are locked before the intent. Locked after it, a
    // late answer about one of them (holding that payout, waiting for the intent) and this job
    // (holding the intent, waiting to link that payout) would deadlock, and PostgreSQL would
    // abort one of them. An intent is asked to refund again only once its last refund failed,
    // so none is in flight to fail meanwhile: these are all the rows the link below touches.
    payouts::lock_failed_of_kind(&mut tx, job.intent_id, PayoutKind::Refund).await?;
    let intent = super::job_intent::load(&mut tx, job.intent_id, true).await?;
    if intent.status != crate::domain::IntentStatus::Refunding {
        return Ok(());
    }
    let target = match (intent.provider, &intent.buyer) {
        (ProviderKind::Paystack, _) => PayoutTarget::Refund {
            refund_of: intent
                .provider_reference
                .clone()
                .unwrap_or_else(|| deposit_reference(intent.id)),
        },
        (ProviderKind::Mpesa, Buyer::Msisdn { msisdn }) => {
            PayoutTarget::Destination(PayoutDestination::Mpesa {
                msisdn: msisdn.clone(),
            })
        }
        (ProviderKind::Lightning, _) => match &intent.refund_bolt11 {
            Some(bolt11) => PayoutTarget::Destination(PayoutDestination::Lightning {
                bolt11: Some(bolt11.clone()),
            }),
            None => {
                return Err(JobError::permanent(
                    "a Lightning refund needs the buyer's invoice",
                ));
            }
        },
        (ProviderKind::Mpesa, _) => {
            return Err(JobError::permanent("M-Pesa intent without a buyer MSISDN"));
        }
        // Unreachable while `NewIntent::parse` refuses Fincra deposits.
        (ProviderKind::Fincra, _) => {
            return Err(JobError::permanent("Fincra deposits cannot be refunded"));
        }
    };
    // What is left after any releases in parts is what goes back.
    let payout = payouts::insert(
        &mut tx,
        &NewPayout {
            intent: intent.id,
            release_seq: 1,
            kind: PayoutKind::Refund,
            amount: intent.remaining(),
            provider: intent.provider,
            target: &target,
        },
        crate::queue::bell::Wake::Trigger,
    )
    .await?
    .id;
    // An earlier refund whose failure the provider confirmed is followed by this one.
    payouts::supersede_failed(&mut tx, intent.id, PayoutKind::Refund, payout).await?;
    context.complete_within(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
