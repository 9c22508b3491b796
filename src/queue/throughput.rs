//! The throughput the operator console draws: jobs finished `done` per minute over the last
//! hour, all queues together. Each minute's count stops at a cap, so the chart costs at most
//! 60 × cap index entries however busy the hour was (a full count is 0.4 s at a million jobs an
//! hour); a capped minute is drawn full and labelled as at least the cap.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Done jobs per minute for the last 60 minutes (oldest first, every minute present), each
/// count stopping at `cap + 1`. Reads the `malipo_jobs_finished` partial index.
pub async fn done_per_minute(
    pool: &PgPool,
    cap: i64,
) -> Result<Vec<(DateTime<Utc>, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT m.minute AS "minute!",
                (SELECT count(*) FROM (SELECT 1 FROM malipo_jobs j
                   WHERE j.state = 'done' AND j.finished_at >= m.minute
                     AND j.finished_at < m.minute + interval '1 minute' LIMIT $1) c) AS "done!"
           FROM generate_series(date_trunc('minute', now()) - interval '59 minutes',
                                date_trunc('minute', now()), interval '1 minute') AS m (minute)
          ORDER BY m.minute"#,
        cap + 1,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|row| (row.minute, row.done)).collect())
}
