//! `confirm_deposit`: asks the provider whether the buyer paid, checks amount and currency,
//! and moves the funds into escrow (see `verify_deposit`).

use std::time::Duration;

use chrono::Utc;
use malipo_jobs::ConfirmDeposit;
use serde_json::json;

use super::{
    WorkerState,
    verify_deposit::{self, Verified},
};
use crate::{
    domain::{IntentMove, IntentStatus, ProviderKind},
    escrow::deposit::{self, DepositEffect},
    queue::{JobContext, JobError},
};

/// A deposit the provider still calls pending after this long goes to an operator.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// Runs while the intent awaits payment; a run that finds it settled ends.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: ConfirmDeposit, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    match verify_deposit::verify(state, job.intent_id).await? {
        Verified::Answered(intent, _, DepositEffect::Pending) => {
            let open_for = Utc::now() - intent.created_at;
            if open_for > GIVE_UP_AFTER {
                super::attention::flag(
                    &state.pool,
                    intent.id,
                    "the provider has called this deposit pending for 24 h; ask it by hand",
                )
                .await?;
                return Err(JobError::permanent(
                    "deposit still pending after 24 h; handed to an operator",
                ));
            }
            Err(JobError::Snooze(verify_deposit::capped_at_expiry(
                &intent,
                next_check(intent.provider, open_for.to_std().unwrap_or_default()),
            )))
        }
        Verified::NoHandle(intent) if intent.status == IntentStatus::AwaitingPayment => {
            // Only a Paybill payment to the account number can fund it now (reconciliation
            // matches those too); at the deadline Pull is asked once more, then it expires, and
            // a payment after that is a late payment for an operator, never lost.
            match intent.deposit_expires_at {
                Some(deadline) if deadline > Utc::now() => Err(JobError::Snooze(
                    (deadline - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1),
                )),
                _ => {
                    // Before giving up, ask Daraja itself: Pull lists Paybill payments by
                    // account number, the STK push's own included.
                    if crate::reconcile::mpesa::pull_for_intent(state, &intent).await? {
                        return Ok(());
                    }
                    let mut tx = state.pool.begin().await?;
                    deposit::fail(
                        &mut tx,
                        intent.id,
                        IntentMove::DepositExpired,
                        "no answer to the STK push and no payment to the intent's account number before the deadline",
                    )
                    .await?;
                    tx.commit().await?;
                    tracing::info!(detail = %json!({"intent": intent.id}), "in-doubt deposit expired");
                    Ok(())
                }
            }
        }
        _ => Ok(()),
    }
}

/// Asks often while a buyer is likely paying, then less. A Paystack or Fincra checkout
/// (verified even without a webhook) stays open for a long time and counts against the
/// provider's rate limit, so it is asked less often.
fn next_check(provider: ProviderKind, open_for: Duration) -> Duration {
    let secs = match (provider, open_for.as_secs()) {
        (ProviderKind::Paystack | ProviderKind::Fincra, 0..=600) => 30,
        (ProviderKind::Paystack | ProviderKind::Fincra, 601..=3600) => 120,
        (ProviderKind::Paystack | ProviderKind::Fincra, _) => 600,
        (_, 0..=120) => 5,
        (_, 121..=1800) => 30,
        _ => 300,
    };
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_slow_down_as_a_deposit_ages_and_paystack_is_asked_least() {
        let at = |provider, secs| next_check(provider, Duration::from_secs(secs)).as_secs();
        assert_eq!(
            [
                at(ProviderKind::Mpesa, 10),
                at(ProviderKind::Mpesa, 600),
                at(ProviderKind::Mpesa, 7200)
            ],
            [5, 30, 300]
        );
        assert_eq!(
            [
                at(ProviderKind::Paystack, 10),
                at(ProviderKind::Paystack, 1200),
                at(ProviderKind::Paystack, 7200)
            ],
            [30, 120, 600]
        );
    }
}
