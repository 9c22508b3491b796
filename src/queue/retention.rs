//! Pruning finished jobs after the retention period, in bounded batches.

use std::time::Duration;

use sqlx::PgPool;

/// Deletes up to `batch` done jobs finished more than `retention` ago; returns how many.
///
/// Bounded batches keep each delete short, so pruning a backlog never holds long locks or
/// bloats one transaction. Dead and discarded jobs are kept until an operator acts.
pub async fn prune_done(
    pool: &PgPool,
    retention: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query!(
        "DELETE FROM malipo_jobs WHERE id IN (
             SELECT id FROM malipo_jobs
             WHERE state = 'done' AND finished_at < now() - make_interval(secs => $1)
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )",
        retention.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Prunes until fewer than a full batch remains.
pub async fn prune_all_done(
    pool: &PgPool,
    retention: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = prune_done(pool, retention, batch).await?;
        total += deleted;
        if deleted < batch as u64 {
            return Ok(total);
        }
    }
}
