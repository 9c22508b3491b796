//! `poll_lightning_invoice`: polls an LNbits invoice until it is paid or lapses, on a schedule
//! that starts fast and slows down, snoozing between polls (no attempt spent). A webhook that
//! arrives first settles the intent and the next poll simply ends.

use std::time::Duration;

use chrono::Utc;
use malipo_jobs::PollLightningInvoice;

use super::{
    WorkerState,
    verify_deposit::{self, Verified},
};
use crate::{
    domain::IntentStatus,
    escrow::deposit::DepositEffect,
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
    // The poll asks LNbits exactly as a webhook's verification does (expiry included), and
    // goes on only while the invoice is unpaid and open.
    match verify_deposit::verify(state, job.intent_id).await? {
        Verified::Answered(intent, _, DepositEffect::Pending)
            if intent.status == IntentStatus::AwaitingPayment =>
        {
            let open_for = (Utc::now() - intent.created_at)
                .to_std()
                .unwrap_or_default();
            Err(JobError::Snooze(verify_deposit::capped_at_expiry(
                &intent,
                next_poll(open_for),
            )))
        }
        _ => Ok(()),
    }
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
