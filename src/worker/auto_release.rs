//! `auto_release`: releases a held, undisputed intent at its automatic release time.

use malipo_jobs::AutoRelease;

use super::WorkerState;
use crate::{
    escrow::auto_release::{self, Fired},
    queue::{JobContext, JobError},
};

/// Runs at the intent's `auto_release_at`; a run that finds it no longer due ends.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: AutoRelease, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let mut tx = state.pool.begin().await?;
    let intent = super::job_intent::load(&mut tx, job.intent_id, true).await?;
    match auto_release::fire(&mut tx, &intent, job.at_unix).await? {
        Fired::Released(_) | Fired::NotDue => {
            context.complete_within(&mut tx).await?;
            tx.commit().await?;
        }
        Fired::Early(wait) => return Err(JobError::Snooze(wait)),
        Fired::Refused(refusal) => {
            drop(tx);
            super::attention::flag(
                &state.pool,
                intent.id,
                &format!("the automatic release was refused: {refusal}"),
            )
            .await?;
        }
    }
    Ok(())
}
