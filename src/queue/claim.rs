//! Claiming jobs under a fenced lease, extending leases, rescuing expired ones, releasing on shutdown.

use std::time::Duration;

use sqlx::PgPool;

/// A job this worker holds: its payload and the lease token that fences its completion.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job row.
    pub id: i64,
    /// Its queue.
    pub queue: String,
    /// Its kind (the payload's type).
    pub kind: String,
    /// The JSON payload.
    pub payload: serde_json::Value,
    /// Runs so far, this one included.
    pub attempts: i32,
    /// Runs allowed in total.
    pub max_attempts: i32,
    /// The fencing token of this claim.
    pub lease_token: i64,
}

/// Claims up to `limit` runnable jobs of `queue` for `worker`, skipping rows other workers lock.
///
/// Paused queues are filtered here, in the claim itself, so a pause is honoured by every worker
/// on its next claim without any cache to go stale. The claim is `malipo_claim` (migration
/// 0051): planned once per connection, and `queue = $1` lets PostgreSQL read the
/// `(queue, run_at)` index in order and stop after `limit` rows (under `queue = ANY($1)`
/// PostgreSQL 15 fetched and sorted every due job first: 8 ms per claim with ~1,500 due payouts
/// in `bench e2e`).
pub async fn claim(
    pool: &PgPool,
    queue: &str,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    sqlx::query_as!(
        ClaimedJob,
        r#"SELECT id AS "id!", queue AS "queue!", kind AS "kind!", payload AS "payload!",
                  attempts AS "attempts!", max_attempts AS "max_attempts!", lease_token AS "lease_token!"
           FROM malipo_claim($1, $2, $3, $4)"#,
        queue,
        limit,
        worker,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await
}

/// Extends the leases of `worker`'s running jobs that are past half their lease, and records
/// that the worker is alive.
///
/// Jobs that finish within half a lease are never touched, and rows locked by a completion in
/// flight are skipped (`SKIP LOCKED`): a heartbeat must never queue behind — or block — the
/// completion writer, which at thousands of jobs per second would convoy both.
pub async fn heartbeat(pool: &PgPool, worker: &str, lease: Duration) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "UPDATE malipo_workers SET last_seen_at = now() WHERE id = $1",
        worker
    )
    .execute(pool)
    .await?;
    // Job states stay literals in the queue's statements: each must match its partial index.
    let extended = sqlx::query!(
        "UPDATE malipo_jobs SET locked_until = now() + make_interval(secs => $2::float8)
          WHERE id IN (
              SELECT id FROM malipo_jobs
               WHERE state = 'running' AND locked_by = $1 AND locked_until < now() + make_interval(secs => $2::float8 / 2)
               FOR UPDATE SKIP LOCKED
          )",
        worker,
        lease.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(extended.rows_affected())
}

/// Puts jobs whose lease expired (their worker died or stalled) back to pending, or to dead
/// when that run was their last allowed attempt. Any live worker may run this.
pub async fn rescue_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let rescued = sqlx::query!(
        "WITH expired AS (
             SELECT id FROM malipo_jobs
             WHERE state = 'running' AND locked_until < now()
             LIMIT 1000
             FOR UPDATE SKIP LOCKED
         ), moved AS (
             UPDATE malipo_jobs AS j
                SET state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,
                    last_error = 'lease expired: worker ' || coalesce(j.locked_by, '?') || ' stopped answering',
                    finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
                    run_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
               FROM expired
              WHERE j.id = expired.id
             RETURNING j.id, j.attempts, j.last_error
         )
         INSERT INTO malipo_job_attempts (job_id, attempt, outcome, error)
         SELECT id, attempts, 'lease_expired', last_error FROM moved",
    )
    .execute(pool)
    .await?;
    Ok(rescued.rows_affected())
}

/// Returns claimed but unstarted jobs to pending without spending their attempt (shutdown path).
pub async fn release(pool: &PgPool, worker: &str, jobs: &[(i64, i64)]) -> Result<u64, sqlx::Error> {
    let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id).collect();
    let tokens: Vec<i64> = jobs.iter().map(|(_, token)| *token).collect();
    let released = sqlx::query!(
        "UPDATE malipo_jobs AS j
            SET state = 'pending', attempts = greatest(j.attempts - 1, 0), locked_by = NULL,
                locked_until = NULL, updated_at = now()
           FROM unnest($2::bigint[], $3::bigint[]) AS r(id, token)
          WHERE j.id = r.id AND j.lease_token = r.token AND j.locked_by = $1",
        worker,
        &ids,
        &tokens,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Returns every job `worker` still holds to pending without spending an attempt. Only for a
/// worker that has stopped running handlers (end of graceful shutdown).
pub async fn release_all(pool: &PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    let released = sqlx::query!(
        "UPDATE malipo_jobs SET state = 'pending', attempts = greatest(attempts - 1, 0), locked_by = NULL,
                locked_until = NULL, updated_at = now()
          WHERE state = 'running' AND locked_by = $1",
        worker,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Records a worker as alive for the queues it serves.
pub async fn register_worker(
    pool: &PgPool,
    worker: &str,
    queues: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO malipo_workers (id, queues) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET queues = EXCLUDED.queues, last_seen_at = now()",
        worker,
        queues,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets workers not seen for `older_than`; their jobs are rescued by lease expiry anyway.
pub async fn forget_stale_workers(pool: &PgPool, older_than: Duration) -> Result<u64, sqlx::Error> {
    let removed = sqlx::query!(
        "DELETE FROM malipo_workers WHERE last_seen_at < now() - make_interval(secs => $1)",
        older_than.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(removed.rows_affected())
}
