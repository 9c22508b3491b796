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

/// Every job kind's handler.
pub fn handlers() -> Handlers<WorkerState> {
    Handlers::default().register(noop::run)
}
