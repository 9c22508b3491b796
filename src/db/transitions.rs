//! Intent status transitions: a guarded UPDATE and its event row, in one statement of the
//! caller's transaction. Which statuses a move starts from, where it ends and what it records
//! are [`IntentMove`]'s, not the caller's.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{IntentMove, IntentStatus};

/// Makes `movement` on intent `id`, recording its event with `detail`; returns the previous
/// status, or `None` (and changes nothing) when the intent was not in any of the move's `from`
/// statuses — the guard that makes concurrent and repeated runs harmless.
pub async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    movement: IntentMove,
    detail: Value,
) -> Result<Option<IntentStatus>, sqlx::Error> {
    let from: Vec<&str> = movement.from().iter().map(|s| s.as_str()).collect();
    // One round trip: the event is written from the UPDATE's result, so only a transition
    // that happened is recorded.
    let previous: Option<String> = sqlx::query_scalar(
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
    .bind(&from)
    .bind(movement.to().as_str())
    .bind(movement.event())
    .bind(detail)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(previous.as_deref().and_then(IntentStatus::parse))
}

/// The intent's current status, locking its row for the rest of the transaction.
pub async fn lock_status(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<IntentStatus>, sqlx::Error> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM intents WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(status.as_deref().and_then(IntentStatus::parse))
}
