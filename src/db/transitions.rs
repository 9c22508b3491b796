//! Intent status transitions: a guarded UPDATE and its event row, in one statement of the
//! caller's transaction. Which statuses a move starts from, where it ends and what it records
//! are [`IntentMove`]'s, not the caller's.

use malipo_jobs::{DeliverEvent, Job};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::ledger::{AccountKind, Posting, PostingError, TransactionKind};
use crate::domain::{IntentMove, IntentStatus, PayoutKind, PayoutStatus};

/// The payouts an intent's money leaves in when it is released: the shares a move that
/// [needs every share delivered](IntentMove::needs_every_share_delivered) waits for.
pub(super) const SHARE_KINDS: [PayoutKind; 2] = [PayoutKind::Payee, PayoutKind::Commission];

/// Makes `movement` on intent `id`, recording its event with `detail`; returns the previous
/// status, or `None` (and changes nothing) when the intent was not in any of the move's `from`
/// statuses — the guard that makes concurrent and repeated runs harmless — or, for a move that
/// [needs every share delivered](IntentMove::needs_every_share_delivered), when one is not.
pub async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    movement: IntentMove,
    detail: Value,
) -> Result<Option<IntentStatus>, sqlx::Error> {
    let moved = make_move(conn, id, movement, detail, None).await?;
    Ok(moved.map(|moved| moved.previous))
}

/// What [`make_move`] did: the status moved from, and what the posting's call answered.
struct Moved {
    previous: IntentStatus,
    inserted: Option<i64>,
    written: Option<i64>,
}

/// [`transition`], with `posting` (the money the move moves) written by the same statement
/// only when the move happened; returns the previous status as `transition` does. A posting
/// whose key was posted before is refused: a move that happens now cannot have moved money
/// already, so that is a bug, not a repeat.
pub async fn transition_posting(
    conn: &mut PgConnection,
    id: Uuid,
    movement: IntentMove,
    detail: Value,
    posting: Option<&Posting>,
) -> Result<Option<IntentStatus>, PostingError> {
    let Some(moved) = make_move(conn, id, movement, detail, posting).await? else {
        return Ok(None);
    };
    if let Some(posting) = posting
        && !posting.outcome(moved.inserted.unwrap_or(0), moved.written.unwrap_or(0))?
    {
        return Err(PostingError::AlreadyPosted {
            key: posting.key.clone(),
        });
    }
    Ok(Some(moved.previous))
}

/// The one statement behind [`transition`] and [`transition_posting`].
async fn make_move(
    conn: &mut PgConnection,
    id: Uuid,
    movement: IntentMove,
    detail: Value,
    posting: Option<&Posting>,
) -> Result<Option<Moved>, sqlx::Error> {
    // One round trip (`malipo_move_intent`, migration 0131, which `malipo_settle_share` calls
    // too): the event rows (the intent's history and the client's notification, with its
    // deliveries and their jobs) and the posting are written from the UPDATE's result, so only
    // a transition that happened is recorded, and a rolled-back one leaves no event.
    sqlx::query_as!(
        Moved,
        r#"SELECT moved_from AS "previous!: IntentStatus", posted_inserted AS inserted,
                  posted_written AS written
             FROM malipo_move_intent($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                     $15, $16, $17, $18, $19, $20, $21)"#,
        id,
        movement.from() as &[IntentStatus],
        movement.to() as IntentStatus,
        movement.event(),
        detail,
        crate::domain::event_type::of_intent(movement.to()),
        movement.needs_every_share_delivered(),
        &SHARE_KINDS as &[PayoutKind],
        PayoutStatus::Succeeded as PayoutStatus,
        posting.map(|p| p.key.as_str()),
        posting.map(|p| p.kind) as Option<TransactionKind>,
        posting.and_then(|p| p.intent),
        posting.map(|p| p.memo.as_str()),
        posting.map(|p| p.codes.as_slice()),
        posting.map(|p| p.kinds.as_slice()) as Option<&[AccountKind]>,
        posting.map(|p| p.currencies.as_slice()) as Option<&[&str]>,
        posting.map(|p| p.intents.as_slice()) as Option<&[Option<Uuid>]>,
        posting.map(|p| p.amounts.as_slice()),
        DeliverEvent::QUEUE,
        DeliverEvent::KIND,
        DeliverEvent::POLICY.max_attempts as i32,
    )
    .fetch_optional(&mut *conn)
    .await
}
