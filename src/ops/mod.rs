//! Operator actions on the queue — list, inspect, retry, discard, pause, resume, drain, overview —
//! with one implementation shared by the `/ops` HTTP routes and the `malipo jobs|queues|audit`
//! commands. Every action that changes something writes an audit row in the same transaction.

pub mod actor;
pub mod audit;
pub mod capped;
pub mod cursor;
pub mod discard;
pub mod disputes;
pub mod drain;
pub mod error;
pub mod filter;
pub mod fincra_banks;
pub mod inspect;
pub mod list;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod payouts;
pub mod queues;
pub mod retry;
pub mod row;
pub mod table;

pub use actor::Actor;
pub use error::OpsError;
pub use filter::{JobFilter, JobFilterInput, JobState};

/// Rows per page when the caller names no limit.
pub const DEFAULT_PAGE: i64 = 50;
/// The largest page a caller may ask for.
pub const MAX_PAGE: i64 = 500;

/// The page size for `limit`, or an error naming the allowed range.
pub fn page_size(limit: Option<i64>) -> Result<i64, OpsError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(OpsError::Invalid(format!(
            "limit must be between 1 and {MAX_PAGE}, got {n}"
        ))),
    }
}

/// Queues operators may name: the production queues and the bench queue.
pub fn known_queues() -> Vec<&'static str> {
    let mut queues = malipo_jobs::queues::ALL.to_vec();
    queues.push(malipo_jobs::queues::BENCH);
    queues
}

/// `queue` if it is one malipo knows, else an error listing the known ones.
pub fn known_queue(queue: &str) -> Result<&str, OpsError> {
    if known_queues().contains(&queue) {
        Ok(queue)
    } else {
        Err(OpsError::NotFound(format!(
            "no queue named `{queue}`; known queues: {}",
            known_queues().join(", ")
        )))
    }
}
