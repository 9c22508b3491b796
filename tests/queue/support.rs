//! Helpers shared by the queue tests.

use std::time::Duration;

use malipo::{
    queue::{QueueSettings, Runner},
    worker::{self, WorkerState},
};
use sqlx::PgPool;

/// A job row's state, attempts and last error.
pub async fn job_state(pool: &PgPool, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM malipo_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("job row")
}

/// Polls until `check` holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Workers for the bench queue with the production handlers and a short lease.
pub async fn bench_runner(pool: &PgPool, lease: Duration) -> Runner {
    let settings = QueueSettings {
        queues: vec![malipo_jobs::queues::BENCH.to_owned()],
        lease,
        heartbeat: lease / 6,
        poll_interval: Duration::from_millis(100),
        ..QueueSettings::default()
    };
    Runner::start(
        pool.clone(),
        settings,
        worker::handlers(),
        WorkerState::new(pool.clone(), Default::default(), Default::default()),
    )
    .await
    .expect("workers start")
}
