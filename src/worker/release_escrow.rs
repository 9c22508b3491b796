//! `release_escrow`: splits a releasing intent into payee share and commission and creates
//! its payouts, all in one transaction with the `releasing → released` transition.

use malipo_jobs::ReleaseEscrow;

use super::WorkerState;
use crate::{
    escrow::release,
    queue::{JobContext, JobError},
};

/// Posts whatever releases of the intent are not yet posted (nothing: ends).
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: ReleaseEscrow, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let mut tx = state.pool.begin().await?;
    let intent = super::job_intent::load(&mut tx, job.intent_id, true).await?;
    // `release::release` left the wake-up for the payouts it writes to this ring, which goes out
    // once the commit below is over, however this run ends.
    let _ring = state
        .bell
        .ring_when_dropped(<malipo_jobs::Payout as malipo_jobs::Job>::QUEUE);
    release::release(&mut tx, &intent, &state.commission).await?;
    context.complete_within(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
