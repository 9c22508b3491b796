//! Helpers shared by the queue tests.

use sqlx::PgPool;

pub use malipo_testing::{bench_runner, eventually};

/// A job row's state, attempts and last error.
pub async fn job_state(pool: &PgPool, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM malipo_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("job row")
}
