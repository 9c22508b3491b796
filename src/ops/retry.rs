//! Retrying jobs: one job (dead, discarded, or pending in backoff), or every dead job matching
//! a filter. A retried job runs now with its attempts reset to 0, so its retry policy applies
//! afresh; its attempt log and last error stay as history.

use serde::Serialize;
use sqlx::PgPool;

use super::{
    Actor, JobFilter, JobState, OpsError,
    audit::{self, Action},
    row,
};

/// What a bulk action did, or would do on a dry run.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    /// Jobs changed, or that would be changed on a dry run.
    pub affected: i64,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// Puts job `id` back to run now.
pub async fn retry_job(pool: &PgPool, actor: &Actor, id: i64) -> Result<(), OpsError> {
    let mut tx = pool.begin().await?;
    let from = row::lock_in_state(
        &mut tx,
        id,
        "retry",
        &[JobState::Dead, JobState::Discarded, JobState::Pending],
    )
    .await?;
    crate::queue::admin::retry(&mut tx, id).await?;
    audit::record(&mut *tx, &Action::on_job(actor, "job.retry", id, from)).await?;
    tx.commit().await?;
    Ok(())
}

/// Retries every dead job matching `filter` (whose state, if given, must be `dead`), or only
/// counts them when `dry_run`.
pub async fn retry_dead(
    pool: &PgPool,
    actor: &Actor,
    filter: &JobFilter,
    dry_run: bool,
) -> Result<BulkOutcome, OpsError> {
    if filter.state.is_some_and(|state| state != JobState::Dead) {
        return Err(OpsError::Invalid(
            "bulk retry applies to dead jobs only: give state=dead or leave state out".to_owned(),
        ));
    }
    let filter = JobFilter {
        state: Some(JobState::Dead),
        ..filter.clone()
    };
    let mut tx = pool.begin().await?;
    let affected = if dry_run {
        crate::queue::admin::count_matching(&mut tx, &filter).await?
    } else {
        crate::queue::admin::retry_matching(&mut tx, &filter).await? as i64
    };
    let action = Action::on_matching(actor, "jobs.retry", &filter, dry_run, affected);
    audit::record(&mut *tx, &action).await?;
    tx.commit().await?;
    Ok(BulkOutcome { affected, dry_run })
}
