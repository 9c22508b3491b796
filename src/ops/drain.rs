//! Draining a queue: this process runs the real handlers on that one queue until nothing in it
//! is runnable, a limit of runs is reached, or a timeout passes, then reports what happened.
//! It needs no worker process, so it works with every worker stopped.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;

use super::{
    Actor, OpsError,
    audit::{self, Action},
    known_queue,
};
use crate::queue::{
    Handlers, QueueSettings, Runner, backend::SHUTDOWN_GRACE, budget::ClaimBudget, pause,
};

/// How far a drain may go.
#[derive(Debug, Clone, Copy)]
pub struct DrainOptions {
    /// Stop after this many runs: no more than this many jobs are ever claimed.
    pub limit: Option<u64>,
    /// Stop claiming after this long.
    pub timeout: Duration,
}

/// Why a drain stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrainStop {
    /// Nothing runnable was left in the queue.
    Empty,
    /// The run limit was reached.
    Limit,
    /// The timeout passed.
    Timeout,
}

/// What a drain did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DrainReport {
    /// The queue.
    pub queue: String,
    /// Runs that finished their job.
    pub done: u64,
    /// Failed runs put back with backoff.
    pub retried: u64,
    /// Runs that asked to run again later.
    pub snoozed: u64,
    /// Runs that left their job dead.
    pub dead: u64,
    /// Why it stopped.
    pub stopped: DrainStop,
    /// Jobs still due now (0 after an `empty` stop unless new ones arrived).
    pub remaining_runnable: i64,
    /// Jobs still pending, due now or later (retries in backoff, delayed jobs).
    pub remaining_pending: i64,
    /// How long it took, in seconds.
    pub elapsed_secs: f64,
}

/// Drains `queue` with `handlers` and state `app`, under `base` settings (queues replaced).
pub async fn drain<C: Clone + Send + Sync + 'static>(
    pool: &PgPool,
    actor: &Actor,
    queue: &str,
    options: DrainOptions,
    base: QueueSettings,
    handlers: Handlers<C>,
    app: C,
) -> Result<DrainReport, OpsError> {
    let queue = known_queue(queue)?;
    if pause::is_paused(pool, queue).await? {
        // The claim skips paused queues, so the drain would only wait out its timeout.
        return Err(OpsError::Conflict(format!(
            "queue `{queue}` is paused; resume it before draining"
        )));
    }
    let settings = QueueSettings {
        queues: vec![queue.to_owned()],
        loops_per_queue: 1,
        // The budget alone keeps claims within the limit (each claim asks for no more than is
        // left), so batch size and concurrency need no cap of their own.
        claim_budget: options.limit.map(ClaimBudget::new),
        ..base
    };
    let started = Instant::now();
    let runner = Runner::start(pool.clone(), settings, handlers, app).await?;
    let tally = runner.tally();
    let worker = runner.worker_id().to_owned();
    let stopped = loop {
        if options
            .limit
            .is_some_and(|limit| tally.snapshot().total() >= limit)
        {
            break DrainStop::Limit;
        }
        if started.elapsed() >= options.timeout {
            break DrainStop::Timeout;
        }
        match left_to_run(pool, queue, &worker).await {
            Ok(0) => break DrainStop::Empty,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "drain progress check failed; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Shutdown lets claimed jobs finish and flushes their completions, so the tally is final.
    runner.shutdown(SHUTDOWN_GRACE).await;
    let counts = tally.snapshot();
    let (remaining_runnable, remaining_pending) =
        crate::queue::admin::pending_counts(pool, queue).await?;
    let report = DrainReport {
        queue: queue.to_owned(),
        done: counts.done,
        retried: counts.retried,
        snoozed: counts.snoozed,
        dead: counts.dead,
        stopped,
        remaining_runnable,
        remaining_pending,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    audit::record(
        pool,
        &Action {
            actor,
            action: "queue.drain",
            job_id: None,
            queue: Some(queue),
            filter: serde_json::json!({
                "limit": options.limit,
                "timeout_secs": options.timeout.as_secs_f64(),
            }),
            dry_run: false,
            affected: i64::try_from(counts.total()).unwrap_or(i64::MAX),
            detail: serde_json::to_value(&report).unwrap_or_default(),
        },
    )
    .await?;
    Ok(report)
}

/// Jobs of `queue` due now, plus those this drain holds (their result is not written yet).
async fn left_to_run(pool: &PgPool, queue: &str, worker: &str) -> Result<i64, sqlx::Error> {
    crate::queue::admin::left_to_run(pool, queue, worker).await
}
