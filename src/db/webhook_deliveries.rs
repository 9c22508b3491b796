//! Deliveries (one per event and endpoint) and their attempt log.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notify::DeliveryStatus;

/// A delivery as stored.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The id.
    pub id: Uuid,
    /// The event it carries.
    pub event_id: i64,
    /// Where it goes.
    pub endpoint_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts in this round.
    pub attempts: i32,
    /// The current round (manual retries and recoveries start new ones).
    pub round: i32,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Created with its event.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    event_id: i64,
    endpoint_id: Uuid,
    status: String,
    attempts: i32,
    round: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

fn record(row: Row) -> Result<DeliveryRow, sqlx::Error> {
    let status = DeliveryStatus::parse(&row.status).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown delivery status {:?}", row.status).into())
    })?;
    Ok(DeliveryRow {
        id: row.id,
        event_id: row.event_id,
        endpoint_id: row.endpoint_id,
        status,
        attempts: row.attempts,
        round: row.round,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
    })
}

const COLUMNS: &str =
    "id, event_id, endpoint_id, status, attempts, round, next_attempt_at, last_error, created_at";

/// A delivery, locked for the rest of the transaction (the job's record of its attempt).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(record).transpose()
}

/// A delivery without locking.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(record).transpose()
}

/// One attempt, as logged.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i32,
    /// The HTTP status, when an answer came.
    pub response_status: Option<i32>,
    /// The first 4 KB of the answer.
    pub response_body: Option<String>,
    /// What went wrong, when anything did.
    pub error: Option<String>,
}

/// Logs an attempt.
pub async fn log_attempt(
    conn: &mut PgConnection,
    delivery: Uuid,
    attempt: &Attempt,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, response_status, response_body, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(delivery)
    .bind(attempt.attempted_at)
    .bind(attempt.duration_ms)
    .bind(attempt.response_status)
    .bind(&attempt.response_body)
    .bind(&attempt.error)
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery's attempts, oldest first.
pub async fn attempts_of(
    conn: &mut PgConnection,
    delivery: Uuid,
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attempted_at, duration_ms, response_status, response_body, error
           FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(delivery)
    .fetch_all(conn)
    .await
}

/// Ends a delivery (`succeeded` or `failed`).
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    status: DeliveryStatus,
    attempts: i32,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_error = $4, finished_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(attempts)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt and when the next one is due.
pub async fn reschedule(
    conn: &mut PgConnection,
    id: Uuid,
    attempts: i32,
    delay: std::time::Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = $2, last_error = $4,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
    )
    .bind(id)
    .bind(attempts)
    .bind(delay.as_secs_f64())
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn list_for_endpoint(
    conn: &mut PgConnection,
    endpoint: Uuid,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries
          WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)
          ORDER BY created_at DESC, id LIMIT $3"
    )))
    .bind(endpoint)
    .bind(status.map(DeliveryStatus::as_str))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(record).collect()
}

/// Starts a new round for one delivery of `endpoint` (a manual retry): pending again, its
/// attempts counted afresh, its `webhook-id` unchanged. Returns the new round.
pub async fn start_round(
    conn: &mut PgConnection,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, round = round + 1,
                next_attempt_at = now(), finished_at = NULL
          WHERE id = $1 AND endpoint_id = $2 RETURNING round",
    )
    .bind(delivery)
    .bind(endpoint)
    .fetch_optional(conn)
    .await
}

/// Starts a new round for every delivery of `endpoint` whose event falls in `[since, until)`
/// (recovery after an outage), oldest event first; returns `(delivery, round)` pairs.
pub async fn start_rounds_since(
    conn: &mut PgConnection,
    endpoint: Uuid,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "WITH chosen AS (
            SELECT d.id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.endpoint_id = $1 AND e.created_at >= $2
               AND ($3::timestamptz IS NULL OR e.created_at < $3)
             ORDER BY e.id FOR UPDATE OF d),
              moved AS (
            UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, round = round + 1,
                   next_attempt_at = now(), finished_at = NULL
              FROM chosen WHERE d.id = chosen.id RETURNING d.id, d.round, d.event_id)
         SELECT id, round FROM moved ORDER BY event_id",
    )
    .bind(endpoint)
    .bind(since)
    .bind(until)
    .fetch_all(conn)
    .await
}

/// A delivery as the console lists it: with its event and endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryOverview {
    /// The delivery id.
    pub id: Uuid,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts in the current round.
    pub attempts: i32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was made (with its event).
    pub created_at: DateTime<Utc>,
    /// The event's id (`evt_<id>` is its `webhook-id`).
    pub event_id: i64,
    /// The event's type.
    pub event_type: String,
    /// The intent the event is about, when one.
    pub intent_id: Option<Uuid>,
    /// The endpoint's URL.
    pub url: String,
}

/// The newest deliveries that are `pending` or `failed` (each walks its partial index), across
/// every client.
pub async fn unfinished(
    pool: &sqlx::PgPool,
    status: DeliveryStatus,
    limit: i64,
) -> Result<Vec<DeliveryOverview>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.status, d.attempts, d.last_error, d.created_at, d.event_id, e.type AS event_type,
                e.intent_id, w.url
           FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN webhook_endpoints w ON w.id = d.endpoint_id
          WHERE d.status = $1
          ORDER BY d.created_at DESC LIMIT $2",
    )
    .bind(status.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await
}
