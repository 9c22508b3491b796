//! Deliveries (one per event and endpoint) and their attempt log.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::DeliveryStatus;

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

/// A [`DeliveryRow`] query: the column list then `$tail`, checked as one statement.
macro_rules! delivery_query {
    ($tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            DeliveryRow,
            r#"SELECT id, event_id, endpoint_id, status AS "status: DeliveryStatus", attempts, round,
                      next_attempt_at, last_error, created_at FROM webhook_deliveries "# + $tail
            $(, $arg)*
        )
    };
}

/// A delivery, locked for the rest of the transaction (the job's record of its attempt).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    delivery_query!("WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(conn)
        .await
}

/// A delivery without locking.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    delivery_query!("WHERE id = $1", id)
        .fetch_optional(conn)
        .await
}

/// One attempt, as logged.
#[derive(Debug, Clone)]
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
    sqlx::query!(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, response_status, response_body, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
        delivery,
        attempt.attempted_at,
        attempt.duration_ms,
        attempt.response_status,
        attempt.response_body.as_deref(),
        attempt.error.as_deref(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery's attempts, oldest first.
pub async fn attempts_of(
    conn: &mut PgConnection,
    delivery: Uuid,
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as!(
        Attempt,
        "SELECT attempted_at, duration_ms, response_status, response_body, error
           FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
        delivery,
    )
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
    sqlx::query!(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_error = $4, finished_at = now()
          WHERE id = $1",
        id,
        status as DeliveryStatus,
        attempts,
        error,
    )
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
    sqlx::query!(
        "UPDATE webhook_deliveries SET attempts = $2, last_error = $4,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
        id,
        attempts,
        delay.as_secs_f64(),
        error,
    )
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
    delivery_query!(
        "WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)
          ORDER BY created_at DESC, id LIMIT $3",
        endpoint,
        status as Option<DeliveryStatus>,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Starts a new round for one delivery of `endpoint` (a manual retry): pending again, its
/// attempts counted afresh, its `webhook-id` unchanged. Returns the new round.
pub async fn start_round(
    conn: &mut PgConnection,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE webhook_deliveries SET status = $3, attempts = 0, round = round + 1,
                next_attempt_at = now(), finished_at = NULL
          WHERE id = $1 AND endpoint_id = $2 RETURNING round",
        delivery,
        endpoint,
        DeliveryStatus::Pending as DeliveryStatus,
    )
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
    let rows = sqlx::query!(
        "WITH chosen AS (
            SELECT d.id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.endpoint_id = $1 AND e.created_at >= $2
               AND ($3::timestamptz IS NULL OR e.created_at < $3)
             ORDER BY e.id FOR UPDATE OF d),
              moved AS (
            UPDATE webhook_deliveries d SET status = $4, attempts = 0, round = round + 1,
                   next_attempt_at = now(), finished_at = NULL
              FROM chosen WHERE d.id = chosen.id RETURNING d.id, d.round, d.event_id)
         SELECT id, round FROM moved ORDER BY event_id",
        endpoint,
        since,
        until,
        DeliveryStatus::Pending as DeliveryStatus,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.round)).collect())
}

/// A delivery as the console lists it: with its event and endpoint.
#[derive(Debug, Clone)]
pub struct DeliveryOverview {
    /// The delivery id.
    pub id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
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
    sqlx::query_as!(
        DeliveryOverview,
        r#"SELECT d.id, d.status AS "status: DeliveryStatus", d.attempts, d.last_error, d.created_at, d.event_id, e.type AS event_type,
                e.intent_id, w.url
           FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN webhook_endpoints w ON w.id = d.endpoint_id
          WHERE d.status = $1
          ORDER BY d.created_at DESC LIMIT $2"#,
        status as DeliveryStatus,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The notification gauges' readings.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    /// Deliveries pending.
    pub pending: i64,
    /// Deliveries failed for good.
    pub failed: i64,
    /// Seconds the oldest pending delivery has waited.
    pub oldest_pending_secs: f64,
    /// Endpoints enabled.
    pub enabled: i64,
    /// Endpoints disabled.
    pub disabled: i64,
    /// Enabled endpoints whose attempts are failing.
    pub failing: i64,
}

/// Reads the gauges; pending and failed deliveries through their partial indexes.
pub async fn gauges(pool: &sqlx::PgPool) -> Result<Gauges, sqlx::Error> {
    sqlx::query_as!(
        Gauges,
        r#"SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS "pending!",
                (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed') AS "failed!",
                coalesce((SELECT extract(epoch FROM now() - min(created_at))::float8
                            FROM webhook_deliveries WHERE status = 'pending'), 0) AS "oldest_pending_secs!",
                (SELECT count(*) FROM webhook_endpoints WHERE deleted_at IS NULL AND enabled) AS "enabled!",
                (SELECT count(*) FROM webhook_endpoints WHERE deleted_at IS NULL AND NOT enabled) AS "disabled!",
                (SELECT count(*) FROM webhook_endpoints
                  WHERE deleted_at IS NULL AND enabled AND failing_since IS NOT NULL) AS "failing!""#,
    )
    .fetch_one(pool)
    .await
}
