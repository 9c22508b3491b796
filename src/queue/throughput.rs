//! Queue figures the operator console draws that the claim path never needs: jobs finished per
//! minute over the last hour.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Jobs that finished `done` per queue and minute over the last hour (minutes without any are
/// absent), oldest first. Reads the `malipo_jobs_finished` partial index.
pub async fn done_per_minute(
    pool: &PgPool,
) -> Result<Vec<(String, DateTime<Utc>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT queue, date_trunc('minute', finished_at) AS minute, count(*)
           FROM malipo_jobs
          WHERE state = 'done' AND finished_at > now() - interval '1 hour'
          GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}
