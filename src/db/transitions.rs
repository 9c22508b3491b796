//! Intent status transitions: a guarded UPDATE plus an event row, in the caller's transaction.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::intents::record_event;

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
    let previous: Option<String> = sqlx::query_scalar(
        "WITH current AS (SELECT status FROM intents WHERE id = $1 FOR UPDATE)
         UPDATE intents AS i SET status = $3, updated_at = now()
           FROM current
          WHERE i.id = $1 AND current.status = ANY($2)
         RETURNING current.status",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(previous) = &previous {
        record_event(&mut *conn, id, event, Some(previous), Some(to), detail).await?;
    }
    Ok(previous)
}

/// The intent's current status, locking its row for the rest of the transaction.
pub async fn lock_status(conn: &mut PgConnection, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT status FROM intents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}
