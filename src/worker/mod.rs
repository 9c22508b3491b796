//! Job handlers, one job per file, and the state they share.

mod noop;

use sqlx::PgPool;

use crate::queue::Handlers;

/// What every handler can reach.
#[derive(Clone)]
pub struct WorkerState {
    /// The database.
    pub pool: PgPool,
}

impl WorkerState {
    /// The state every handler needs, built from the environment (provider configuration).
    pub async fn from_env(pool: PgPool) -> anyhow::Result<Self> {
        Ok(Self { pool })
    }
}

/// Every job kind's handler.
pub fn handlers() -> Handlers<WorkerState> {
    Handlers::default().register(noop::run)
}
