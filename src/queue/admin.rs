//! The operator's statements on the queue's tables (`ops::*` decides, this module reads and
//! writes): listings and bulk actions by [`JobFilter`], one job's row, attempts and payload,
//! per-state counts, and what a drain waits for. (The audit log of these actions is
//! `db::ops_audit`.)
//!
//! A filter is applied as one fixed `WHERE` fragment over `$1`–`$6`, spelt once in
//! [`filtered!`] and pasted into each statement at compile time, so every statement here is a
//! literal the query macros check.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::filter::{JobFilter, JobState};

/// One job as listings show it (no payload; `ops::inspect` adds it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobSummary {
    /// The job id.
    pub id: i64,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// `pending`, `running`, `done`, `dead` or `discarded`.
    pub state: String,
    /// Runs so far since it was enqueued or last retried by an operator.
    pub attempts: i32,
    /// Runs allowed before it is dead.
    pub max_attempts: i32,
    /// When it may run next (pending jobs).
    pub run_at: DateTime<Utc>,
    /// The intent it works on, when it has one.
    pub intent_id: Option<Uuid>,
    /// The last failure's error.
    pub last_error: Option<String>,
    /// The worker holding it (running jobs).
    pub locked_by: Option<String>,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Done, dead or discarded at.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A failed run (or a lease rescue), as `malipo_job_attempts` records it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    /// Which run (1-based; restarts at 1 after an operator retry).
    pub attempt: i32,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// `retry`, `exhausted`, `permanent`, `lease_expired`.
    pub outcome: String,
    /// The error.
    pub error: String,
    /// The worker that ran it.
    pub worker: Option<String>,
}

/// Runs `$kind!` (`query`, `query_scalar`, or `query_as` with a row type) over
/// `$head + <filter fragment> + $tail`, binding the filter's six parameters then `$extra`.
macro_rules! filtered {
    ($kind:ident $(($row:ty))?, $head:literal, $tail:literal, $filter:expr $(, $extra:expr)* $(,)?) => {
        sqlx::$kind!(
            $($row,)?
            $head
                + "($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR kind = $2)
                   AND ($3::text IS NULL OR state = $3) AND ($4::uuid IS NULL OR intent_id = $4)
                   AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)"
                + $tail,
            $filter.queue.as_deref(),
            $filter.kind.as_deref(),
            $filter.state as Option<JobState>,
            $filter.intent_id,
            $filter.from,
            $filter.to
            $(, $extra)*
        )
    };
}

/// The jobs matching `filter` with ids below `before`, newest first, at most `limit`.
pub async fn list(
    executor: impl PgExecutor<'_>,
    filter: &JobFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<JobSummary>, sqlx::Error> {
    filtered!(
        query_as(JobSummary),
        "SELECT id, queue, kind, state, attempts, max_attempts, run_at, intent_id, last_error, locked_by,
                created_at, updated_at, finished_at
           FROM malipo_jobs WHERE ",
        " AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
        filter,
        before,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// How many jobs match `filter`, counting no further than `stop_at`.
pub async fn count_capped(
    pool: &PgPool,
    filter: &JobFilter,
    stop_at: i64,
) -> Result<i64, sqlx::Error> {
    filtered!(
        query_scalar,
        r#"SELECT count(*) AS "count!" FROM (SELECT 1 FROM malipo_jobs WHERE "#,
        " LIMIT $7) AS capped",
        filter,
        stop_at,
    )
    .fetch_one(pool)
    .await
}

/// How many pending or dead jobs match `filter`.
pub async fn count_discardable(
    conn: &mut PgConnection,
    filter: &JobFilter,
) -> Result<i64, sqlx::Error> {
    filtered!(
        query_scalar,
        r#"SELECT count(*) AS "count!" FROM malipo_jobs WHERE state IN ('pending', 'dead') AND "#,
        "",
        filter,
    )
    .fetch_one(conn)
    .await
}

/// Discards every pending or dead job matching `filter`; a job a worker is claiming right now
/// (`SKIP LOCKED`) is left to run. Returns how many.
pub async fn discard_matching(
    conn: &mut PgConnection,
    filter: &JobFilter,
) -> Result<u64, sqlx::Error> {
    let done = filtered!(
        query,
        "UPDATE malipo_jobs
            SET state = 'discarded', finished_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id IN (SELECT id FROM malipo_jobs WHERE state IN ('pending', 'dead') AND ",
        " FOR UPDATE SKIP LOCKED)",
        filter,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Discards job `id` (locked by the caller, in a state that allows it).
pub async fn discard(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE malipo_jobs
            SET state = 'discarded', finished_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1",
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many jobs match `filter` (a bulk retry's dry run).
pub async fn count_matching(
    conn: &mut PgConnection,
    filter: &JobFilter,
) -> Result<i64, sqlx::Error> {
    filtered!(
        query_scalar,
        r#"SELECT count(*) AS "count!" FROM malipo_jobs WHERE "#,
        "",
        filter,
    )
    .fetch_one(conn)
    .await
}

/// Puts every job matching `filter` back to run now, attempts from 0. Returns how many.
pub async fn retry_matching(
    conn: &mut PgConnection,
    filter: &JobFilter,
) -> Result<u64, sqlx::Error> {
    let done = filtered!(
        query,
        "UPDATE malipo_jobs
            SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL,
                locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE ",
        "",
        filter,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Puts job `id` (locked by the caller) back to run now, attempts from 0.
pub async fn retry(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE malipo_jobs
            SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL,
                locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1",
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Job `id`'s state, locking its row for the rest of the transaction.
pub async fn lock_state(conn: &mut PgConnection, id: i64) -> Result<Option<JobState>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT state AS "state: JobState" FROM malipo_jobs WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Job `id` as listings show it.
pub async fn summary(pool: &PgPool, id: i64) -> Result<Option<JobSummary>, sqlx::Error> {
    sqlx::query_as!(
        JobSummary,
        "SELECT id, queue, kind, state, attempts, max_attempts, run_at, intent_id, last_error, locked_by,
                created_at, updated_at, finished_at
           FROM malipo_jobs WHERE id = $1",
        id,
    )
    .fetch_optional(pool)
    .await
}

/// A job's payload and dedupe key.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The payload as stored.
    pub payload: serde_json::Value,
    /// The dedupe key, when the job has one.
    pub dedupe_key: Option<String>,
}

/// Job `id`'s payload and dedupe key.
pub async fn payload(pool: &PgPool, id: i64) -> Result<Payload, sqlx::Error> {
    sqlx::query_as!(
        Payload,
        "SELECT payload, dedupe_key FROM malipo_jobs WHERE id = $1",
        id,
    )
    .fetch_one(pool)
    .await
}

/// Job `id`'s recorded attempts, oldest first.
pub async fn attempts(pool: &PgPool, id: i64) -> Result<Vec<AttemptRecord>, sqlx::Error> {
    sqlx::query_as!(
        AttemptRecord,
        "SELECT attempt, at, outcome, error, worker FROM malipo_job_attempts
          WHERE job_id = $1 ORDER BY at, attempt",
        id,
    )
    .fetch_all(pool)
    .await
}

/// Records a run of the `noop` test job, so tests can count executions per job.
pub async fn record_noop_run(
    executor: impl sqlx::PgExecutor<'_>,
    job_id: i64,
    attempt: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO malipo_job_attempts (job_id, attempt, outcome, error) VALUES ($1, $2, 'noop_ran', '')",
        job_id,
        attempt,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// One queue's jobs in one state.
#[derive(Debug, Clone)]
pub struct StateCount {
    /// The queue.
    pub queue: String,
    /// The state.
    pub state: JobState,
    /// How many.
    pub count: i64,
    /// Of them, pending and due now.
    pub runnable: i64,
    /// Seconds the oldest due one has waited.
    pub oldest_runnable_secs: Option<f64>,
}

/// Every queue's jobs per state (a full count: right for the CLI and `/ops`).
pub async fn state_counts(pool: &PgPool) -> Result<Vec<StateCount>, sqlx::Error> {
    sqlx::query_as!(
        StateCount,
        r#"SELECT queue, state AS "state: JobState", count(*) AS "count!",
                count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS "runnable!",
                extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'pending' AND run_at <= now()))::float8
                  AS oldest_runnable_secs
           FROM malipo_jobs GROUP BY queue, state"#,
    )
    .fetch_all(pool)
    .await
}

/// A queue's pause flag.
#[derive(Debug, Clone)]
pub struct PauseFlag {
    /// The queue.
    pub name: String,
    /// Whether it is paused.
    pub paused: bool,
}

/// Every queue's pause flag that was ever set.
pub async fn pause_flags(pool: &PgPool) -> Result<Vec<PauseFlag>, sqlx::Error> {
    sqlx::query_as!(PauseFlag, "SELECT name, paused FROM malipo_queues")
        .fetch_all(pool)
        .await
}

/// Pending jobs of `queue`: due now, and in all.
pub async fn pending_counts(pool: &PgPool, queue: &str) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE run_at <= now()) AS "runnable!", count(*) AS "pending!"
           FROM malipo_jobs WHERE queue = $1 AND state = 'pending'"#,
        queue,
    )
    .fetch_one(pool)
    .await?;
    Ok((row.runnable, row.pending))
}

/// Jobs of `queue` due now, plus those `worker` holds.
pub async fn left_to_run(pool: &PgPool, queue: &str, worker: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM malipo_jobs
          WHERE queue = $1 AND ((state = 'pending' AND run_at <= now()) OR (state = 'running' AND locked_by = $2))"#,
        queue,
        worker,
    )
    .fetch_one(pool)
    .await
}
