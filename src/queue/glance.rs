//! Every queue at a glance for the operator console, at a cost that does not grow with the
//! table: each count stops at a cap and walks a partial index (`malipo_jobs_claim`,
//! `malipo_jobs_leases`, `malipo_jobs_state_queue`). `ops::queues::overview` counts every row
//! (right for the CLI and `/ops`, 0.5 s at a million jobs).

use sqlx::PgPool;

/// One queue's capped counts.
#[derive(Debug, Clone)]
pub struct QueueGlance {
    /// The queue.
    pub queue: String,
    /// Whether workers are told not to claim from it.
    pub paused: bool,
    /// Pending jobs (due now or later), up to the cap + 1.
    pub pending: i64,
    /// Pending jobs due now, up to the cap + 1.
    pub runnable: i64,
    /// Jobs held by a worker, up to the cap + 1.
    pub running: i64,
    /// Dead jobs, up to the cap + 1.
    pub dead: i64,
    /// Discarded jobs, up to the cap + 1.
    pub discarded: i64,
    /// Seconds the oldest due job has waited; 0 when none waits.
    pub oldest_runnable_secs: f64,
}

/// `queues`, in the given order, with counts that stop above `cap`.
pub async fn glance(
    pool: &PgPool,
    queues: &[&str],
    cap: i64,
) -> Result<Vec<QueueGlance>, sqlx::Error> {
    // State names stay literals: each count walks the partial index whose predicate it spells.
    sqlx::query_as!(
        QueueGlance,
        r#"SELECT q.name AS "queue!", coalesce(p.paused, false) AS "paused!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'pending' AND j.queue = q.name LIMIT $2) c) AS "pending!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= now() LIMIT $2) c) AS "runnable!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'running' AND j.queue = q.name LIMIT $2) c) AS "running!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'dead' AND j.queue = q.name LIMIT $2) c) AS "dead!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'discarded' AND j.queue = q.name LIMIT $2) c) AS "discarded!",
                coalesce((SELECT greatest(extract(epoch FROM now() - min(j.run_at)), 0)::float8 FROM malipo_jobs j
                   WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= now()), 0) AS "oldest_runnable_secs!"
           FROM unnest($1::text[]) WITH ORDINALITY AS q (name, position)
           LEFT JOIN malipo_queues p ON p.name = q.name
          ORDER BY q.position"#,
        queues as &[&str],
        cap + 1,
    )
    .fetch_all(pool)
    .await
}
