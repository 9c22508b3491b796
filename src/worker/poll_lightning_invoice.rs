//! `poll_lightning_invoice`: polls an LNbits invoice until it is paid or lapses, on a schedule
//! that starts fast and slows down, snoozing between polls (no attempt spent). A webhook that
//! arrives first settles the intent and the next poll simply ends.

use std::time::Duration;

use chrono::Utc;
use malipo_jobs::PollLightningInvoice;

use super::{WorkerState, calls};
use crate::{
    db::intents,
    escrow::{deposit, deposit_reference},
    providers::{DepositCheck, DepositStatus},
    queue::{JobContext, JobError},
};

/// The wait before the next poll, given how long the invoice has been open: 2 s, 5 s, 10 s,
/// 30 s, then every minute.
pub fn next_poll(open_for: Duration) -> Duration {
    let secs = match open_for.as_secs() {
        0..10 => 2,
        10..30 => 5,
        30..120 => 10,
        120..300 => 30,
        _ => 60,
    };
    Duration::from_secs(secs)
}

/// One poll.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(
    job: PollLightningInvoice,
    context: JobContext<WorkerState>,
) -> Result<(), JobError> {
    let state = &context.app;
    let Some(intent) = super::job_intent::still(
        state,
        job.intent_id,
        crate::domain::IntentStatus::AwaitingPayment,
    )
    .await?
    else {
        return Ok(());
    };
    let check = DepositCheck {
        reference: deposit_reference(intent.id),
        provider_handle: intent.provider_reference.clone(),
        expected: intent.amount,
        expires_at: intent.deposit_expires_at,
    };
    let mut status = calls::check_deposit(&state.providers, intent.provider, &check)
        .await
        .map_err(calls::retry)?;
    // LNbits may keep an unpaid invoice "pending" forever; past its expiry it is expired for us.
    if status == DepositStatus::Pending
        && intent
            .deposit_expires_at
            .is_some_and(|expiry| expiry < Utc::now())
    {
        status = DepositStatus::Expired;
    }
    if status == DepositStatus::Pending {
        let open_for = (Utc::now() - intent.created_at)
            .to_std()
            .unwrap_or_default();
        return Err(JobError::Snooze(next_poll(open_for)));
    }
    let mut tx = state.pool.begin().await?;
    let Some(locked) = intents::load(&mut tx, intent.id, true).await? else {
        return Err(JobError::permanent("intent vanished"));
    };
    let effect = deposit::apply(&mut tx, &locked, &status).await?;
    tx.commit().await?;
    // A mismatch is a discrepancy now (the money waits in suspense for an operator): the poll
    // has done its work either way.
    tracing::debug!(?effect, "invoice poll applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_fast_and_slow_down() {
        let waits: Vec<u64> = [0, 15, 60, 200, 900]
            .into_iter()
            .map(|s| next_poll(Duration::from_secs(s)).as_secs())
            .collect();
        assert_eq!(waits, [2, 5, 10, 30, 60]);
    }
}
