//! Intent status transitions: a guarded UPDATE and its event row, in one statement of the
//! caller's transaction.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Moves intent `id` from one of `from` to `to`, recording `event`; returns the previous status,
/// or `None` (and changes nothing) when the intent was not in any of `from` — the guard that
/// makes concurrent and repeated runs harmless.
pub async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[&str],
    to: &str,
    event: &str,
    detail: Value,
) -> Result<Option<String>, sqlx::Error> {
    // One round trip: the event is written from the UPDATE's result, so only a transition
    // that happened is recorded.
    sqlx::query_scalar(
        "WITH current AS (SELECT status FROM intents WHERE id = $1 FOR UPDATE),
              moved AS (
                UPDATE intents AS i SET status = $3, updated_at = now()
                  FROM current
                 WHERE i.id = $1 AND current.status = ANY($2)
                RETURNING current.status AS previous),
              recorded AS (
                INSERT INTO intent_events (intent_id, type, from_status, to_status, detail)
                SELECT $1, $4, previous, $3, $5 FROM moved)
         SELECT previous FROM moved",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(event)
    .bind(detail)
    .fetch_optional(&mut *conn)
    .await
}

/// The intent's current status, locking its row for the rest of the transaction.
pub async fn lock_status(conn: &mut PgConnection, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT status FROM intents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}
