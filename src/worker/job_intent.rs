//! Loading the intent a job is about: the shared first step of the intent jobs.

use sqlx::PgConnection;
use uuid::Uuid;

use super::WorkerState;
use crate::{
    db::intents::{self, IntentRecord},
    queue::JobError,
};

/// Loads intent `id` (row-locked for the transaction when `lock`); a job naming an intent that
/// does not exist fails for good.
pub async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<IntentRecord, JobError> {
    intents::load(conn, id, lock)
        .await?
        .ok_or_else(|| JobError::permanent(format!("intent {id} does not exist")))
}

/// The intent when it is still `status`; `None` when another run has already moved it on.
pub async fn still(
    state: &WorkerState,
    id: Uuid,
    status: crate::domain::IntentStatus,
) -> Result<Option<IntentRecord>, JobError> {
    let mut conn = state.pool.acquire().await?;
    let intent = load(&mut conn, id, false).await?;
    Ok((intent.status == status).then_some(intent))
}
