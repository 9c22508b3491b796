//! Per-queue pause and resume, stored in PostgreSQL and honoured by every worker's claim.

use sqlx::{PgExecutor, PgPool};

/// Pauses or resumes `queue`; workers stop (or restart) claiming from it on their next claim.
///
/// One statement, so it runs on a pool or inside a caller's transaction (the operator actions
/// write their audit row in the same transaction); the resume notification then goes out at
/// commit, when the flag is visible to the workers it wakes.
pub async fn set_paused<'c>(
    executor: impl PgExecutor<'c>,
    queue: &str,
    paused: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH flag AS (
             INSERT INTO malipo_queues (name, paused) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
             RETURNING name
         )
         -- Wake idle workers at once on resume instead of at their next poll.
         SELECT pg_notify($3, name) FROM flag WHERE NOT $2",
        queue,
        paused,
        super::wake::CHANNEL,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Whether `queue` is paused.
pub async fn is_paused(pool: &PgPool, queue: &str) -> Result<bool, sqlx::Error> {
    let paused = sqlx::query_scalar!("SELECT paused FROM malipo_queues WHERE name = $1", queue)
        .fetch_optional(pool)
        .await?;
    Ok(paused.unwrap_or(false))
}
