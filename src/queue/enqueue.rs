//! Transactional enqueue: a job row written by the caller's own transaction.

use malipo_jobs::Job;
use sqlx::PgConnection;
use uuid::Uuid;

use super::bell::Wake;

/// Where a job was enqueued: the new row, or the existing row with the same dedupe key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id.
    pub id: i64,
    /// False when the dedupe key matched an existing job and nothing was inserted.
    pub created: bool,
}

/// Options beyond the job's own contract.
#[derive(Debug, Clone)]
pub struct EnqueueOptions {
    /// Run no earlier than this many seconds from now.
    pub delay_secs: Option<f64>,
    /// The intent the job works on, for operator filters.
    pub intent_id: Option<Uuid>,
    /// Who wakes the workers: the notification trigger, unless the caller rings the job bell
    /// for the job's queue once its transaction committed (`queue::bell`).
    pub wake: Wake,
}

impl Default for EnqueueOptions {
    fn default() -> Self {
        Self {
            delay_secs: None,
            intent_id: None,
            wake: Wake::Trigger,
        }
    }
}

/// A job's row as [`enqueue`] writes it, for a statement that stores it together with the row
/// that calls for it (a webhook's inbox row: `db::inbox::insert_received`; a payout:
/// `db::payouts::insert_all`; a new intent: `db::intents::insert`).
#[derive(Debug, Clone)]
pub struct JobRow {
    /// `Job::QUEUE`.
    pub queue: &'static str,
    /// `Job::KIND`.
    pub kind: &'static str,
    /// The serialized job.
    pub payload: serde_json::Value,
    /// `Job::POLICY.max_attempts`.
    pub max_attempts: i32,
    /// `Job::dedupe_key`.
    pub dedupe_key: Option<String>,
}

impl JobRow {
    /// The row for `job`.
    pub fn of<J: Job>(job: &J) -> Result<Self, sqlx::Error> {
        Ok(Self {
            queue: J::QUEUE,
            kind: J::KIND,
            payload: serde_json::to_value(job)
                .map_err(|error| sqlx::Error::Encode(Box::new(error)))?,
            max_attempts: i32::try_from(J::POLICY.max_attempts).unwrap_or(i32::MAX),
            dedupe_key: job.dedupe_key(),
        })
    }
}

/// Enqueues `job` inside the caller's transaction (pass `&mut *tx`).
///
/// A job whose dedupe key is already present returns the existing id: `ON CONFLICT DO NOTHING`
/// never raises, so the caller's transaction stays usable (a raised unique violation would abort it).
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    options: EnqueueOptions,
) -> Result<Enqueued, sqlx::Error> {
    let row = JobRow::of(job)?;
    let dedupe_key = row.dedupe_key;
    let inserted = sqlx::query_scalar!(
        "WITH quiet AS (SELECT set_config('malipo.rings_itself', $8, true))
         INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key, intent_id, run_at)
         SELECT $1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7) FROM quiet
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
         RETURNING id",
        row.queue,
        row.kind,
        row.payload,
        row.max_attempts,
        dedupe_key.as_deref(),
        options.intent_id,
        options.delay_secs.unwrap_or(0.0),
        options.wake.quiet_about(row.queue),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok(Enqueued { id, created: true });
    }
    // The conflict waited for the other writer to commit, so the row is visible to this statement.
    let id = sqlx::query_scalar!(
        "SELECT id FROM malipo_jobs WHERE queue = $1 AND dedupe_key = $2",
        J::QUEUE,
        dedupe_key.as_deref(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Enqueued { id, created: false })
}

/// Enqueues many jobs of one kind in one statement; duplicates by dedupe key are skipped.
///
/// Returns how many rows were inserted.
pub async fn enqueue_batch<J: Job>(
    conn: &mut PgConnection,
    jobs: &[J],
) -> Result<u64, sqlx::Error> {
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut keys = Vec::with_capacity(jobs.len());
    for job in jobs {
        payloads
            .push(serde_json::to_value(job).map_err(|error| sqlx::Error::Encode(Box::new(error)))?);
        keys.push(job.dedupe_key());
    }
    let result = sqlx::query!(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key)
         SELECT $1, $2, p, $3, k FROM unnest($4::jsonb[], $5::text[]) AS t(p, k)
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
        J::QUEUE,
        J::KIND,
        J::POLICY.max_attempts as i32,
        &payloads,
        &keys as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}

/// Brings the pending jobs of `kind` about `intent` forward to now, in the caller's
/// transaction: a follow-up job whose wait lost its reason (a verification snoozing on an intent
/// that was just cancelled) asks once more at once instead of holding the queue open.
pub async fn run_now_for_intent(
    conn: &mut PgConnection,
    intent: uuid::Uuid,
    kind: &str,
) -> Result<u64, sqlx::Error> {
    // Found through the intent's index; `IS NOT DISTINCT FROM` keeps the planner off the claim
    // index, for the reason `finish_waiting` gives.
    let moved = sqlx::query!(
        "UPDATE malipo_jobs SET run_at = now()
          WHERE intent_id = $1 AND kind = $2 AND state IS NOT DISTINCT FROM 'pending'
            AND run_at > now()",
        intent,
        kind,
    )
    .execute(conn)
    .await?;
    Ok(moved.rows_affected())
}
