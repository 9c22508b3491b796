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
    domain::{IntentMove, IntentStatus},
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
            Err(JobError::Snooze(next_check(
                open_for.to_std().unwrap_or_default(),
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

/// Asks often while a buyer is likely paying, then less.
fn next_check(open_for: Duration) -> Duration {
    match open_for.as_secs() {
        0..=120 => Duration::from_secs(5),
        121..=1800 => Duration::from_secs(30),
        _ => Duration::from_secs(300),
    }
}
