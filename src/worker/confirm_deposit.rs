//! `confirm_deposit`: asks the provider whether the buyer paid, checks amount and currency,
//! and moves the funds into escrow.

use std::time::Duration;

use malipo_jobs::ConfirmDeposit;

use super::{WorkerState, calls};
use crate::{
    db::intents,
    escrow::{
        deposit::{self, DepositEffect},
        deposit_reference,
    },
    providers::DepositCheck,
    queue::{JobContext, JobError},
};

/// Runs while the intent is `awaiting_payment`; a second run finds it settled and ends.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: ConfirmDeposit, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let Some(intent) = super::job_intent::still(state, job.intent_id, "awaiting_payment").await?
    else {
        return Ok(());
    };
    let check = DepositCheck {
        // Paystack verifies by the reference its checkout was opened with.
        reference: intent
            .provider_reference
            .clone()
            .unwrap_or_else(|| deposit_reference(intent.id)),
        provider_handle: intent.provider_reference.clone(),
        expected: intent.amount,
        expires_at: intent.deposit_expires_at,
    };
    let status = calls::check_deposit(&state.providers, intent.provider, &check)
        .await
        .map_err(calls::retry)?;
    let mut tx = state.pool.begin().await?;
    let Some(locked) = intents::load(&mut tx, intent.id, true).await? else {
        return Err(JobError::permanent("intent vanished"));
    };
    let effect = deposit::apply(&mut tx, &locked, &status).await?;
    tx.commit().await?;
    match effect {
        DepositEffect::Pending => Err(JobError::Retry(
            anyhow::anyhow!("deposit still pending at {}", intent.provider),
            Some(Duration::from_secs(5)),
        )),
        DepositEffect::Mismatch(reason) => Err(JobError::permanent(reason)),
        DepositEffect::Held | DepositEffect::Closed | DepositEffect::AlreadySettled => Ok(()),
    }
}
