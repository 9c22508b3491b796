//! Locking one job row for an operator action, and refusing states the action does not apply to.

use sqlx::PgConnection;

use super::{JobState, OpsError};

/// Locks job `id` for the rest of the transaction and returns its state if `allowed` has it.
///
/// The row lock makes the check and the update one step: a worker's claim (`SKIP LOCKED`) passes
/// the row by, and a completion in flight waits, so the job cannot change state in between.
pub async fn lock_in_state(
    conn: &mut PgConnection,
    id: i64,
    action: &str,
    allowed: &[JobState],
) -> Result<JobState, OpsError> {
    let state = crate::queue::admin::lock_state(&mut *conn, id).await?;
    let state = state.ok_or_else(|| OpsError::NotFound(format!("no job with id {id}")))?;
    if allowed.contains(&state) {
        return Ok(state);
    }
    let why = match state {
        JobState::Running => "it is running; wait for its run to end (or its lease to expire)",
        JobState::Done => "it is done",
        JobState::Discarded => "it is already discarded",
        JobState::Dead => "it is dead",
        JobState::Pending => "it is pending",
    };
    Err(OpsError::Conflict(format!(
        "cannot {action} job {id}: {why}"
    )))
}
