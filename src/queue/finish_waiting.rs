//! Ending a waiting job whose reason is gone, in the transaction that removed the reason: a
//! Lightning invoice's next poll once a webhook has confirmed the deposit. Its run could only
//! have found nothing to do — a claim, a load and a completion spent on a no-op. (A payout's
//! status check ends the same way inside the statement that settles the payout,
//! `db::payouts::set_status`.)

use malipo_jobs::Job;
use sqlx::PgConnection;

use super::enqueue::JobRow;

/// The note a job ended this way carries (`last_error`), wherever the statement that ends it is.
pub const FINISHED_EARLY: &str = "finished early: its reason was settled elsewhere";

/// Marks `job` done if it is waiting (pending: snoozed, or not yet run), found by its dedupe
/// key; whether it was. A running job is left alone: its run finds nothing to do and completes
/// as usual. A job without a dedupe key cannot be named and is left alone too.
pub async fn finish_waiting<J: Job>(conn: &mut PgConnection, job: &J) -> Result<bool, sqlx::Error> {
    let row = JobRow::of(job)?;
    let Some(key) = row.dedupe_key else {
        return Ok(false);
    };
    let finished = sqlx::query!(
        // The job is found through its key's unique index, and its state checked on the row
        // found. Any `state = 'pending'` would let the planner use the claim index (pending
        // jobs only), which statistics from a quiet moment make look empty and cheapest: it
        // then read every waiting job of the queue (or of all queues) to end one.
        // `IS NOT DISTINCT FROM` means the same here (`state` is never null) and matches no
        // index's predicate.
        "UPDATE malipo_jobs
            SET state = 'done', finished_at = now(), updated_at = now(),
                last_error = $3
          WHERE id = (SELECT id FROM malipo_jobs WHERE queue = $1 AND dedupe_key = $2)
            AND state IS NOT DISTINCT FROM 'pending'",
        row.queue,
        key,
        FINISHED_EARLY,
    )
    .execute(conn)
    .await?;
    Ok(finished.rows_affected() > 0)
}
