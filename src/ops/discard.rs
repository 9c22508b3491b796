//! Discarding jobs an operator gives up on: one job, or every pending or dead job matching a
//! filter. The row stays (state `discarded`) as the record, with its attempt log.

use sqlx::PgPool;

use super::{
    Actor, JobFilter, JobState, OpsError,
    audit::{self, Action},
    retry::BulkOutcome,
    row,
};

/// Discards job `id` (pending or dead).
pub async fn discard_job(pool: &PgPool, actor: &Actor, id: i64) -> Result<(), OpsError> {
    let mut tx = pool.begin().await?;
    let from =
        row::lock_in_state(&mut tx, id, "discard", &[JobState::Pending, JobState::Dead]).await?;
    crate::queue::admin::discard(&mut tx, id).await?;
    audit::record(&mut *tx, &Action::on_job(actor, "job.discard", id, from)).await?;
    tx.commit().await?;
    Ok(())
}

/// Discards every pending or dead job matching `filter` (or counts them when `dry_run`).
///
/// An empty filter is refused: discarding every waiting job in every queue is never what an
/// operator means by leaving the filter out.
pub async fn discard_matching(
    pool: &PgPool,
    actor: &Actor,
    filter: &JobFilter,
    dry_run: bool,
) -> Result<BulkOutcome, OpsError> {
    if filter.is_empty() {
        return Err(OpsError::Invalid(
            "refusing to discard every job: give at least one of queue, kind, state, intent_id, from, to".to_owned(),
        ));
    }
    if filter
        .state
        .is_some_and(|state| !matches!(state, JobState::Pending | JobState::Dead))
    {
        return Err(OpsError::Invalid(
            "only pending or dead jobs can be discarded: give state=pending, state=dead or leave state out"
                .to_owned(),
        ));
    }
    let mut tx = pool.begin().await?;
    let affected = if dry_run {
        crate::queue::admin::count_discardable(&mut tx, filter).await?
    } else {
        crate::queue::admin::discard_matching(&mut tx, filter).await? as i64
    };
    let action = Action::on_matching(actor, "jobs.discard", filter, dry_run, affected);
    audit::record(&mut *tx, &action).await?;
    tx.commit().await?;
    Ok(BulkOutcome { affected, dry_run })
}
