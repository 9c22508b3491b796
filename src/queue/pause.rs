//! Per-queue pause and resume, stored in PostgreSQL and honoured by every worker's claim.

use sqlx::PgPool;

/// Pauses or resumes `queue`; workers stop (or restart) claiming from it on their next claim.
pub async fn set_paused(pool: &PgPool, queue: &str, paused: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO malipo_queues (name, paused) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()",
    )
    .bind(queue)
    .bind(paused)
    .execute(pool)
    .await?;
    if !paused {
        // Wake idle workers at once instead of at their next poll.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::wake::CHANNEL)
            .bind(queue)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Whether `queue` is paused.
pub async fn is_paused(pool: &PgPool, queue: &str) -> Result<bool, sqlx::Error> {
    let paused: Option<bool> =
        sqlx::query_scalar("SELECT paused FROM malipo_queues WHERE name = $1")
            .bind(queue)
            .fetch_optional(pool)
            .await?;
    Ok(paused.unwrap_or(false))
}
