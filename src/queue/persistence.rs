//! apalis-core's `Persistence` over our tables: register, heartbeat, fetch, release, push.
//!
//! `Persisted` (apalis) marks the worker dead on the first error any of these returns, so each
//! one absorbs database failures itself — it logs, backs off and answers "nothing this time" —
//! which is what lets workers ride out a PostgreSQL restart instead of dying with it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use apalis_core::{
    backend::persistence::{Persistence, TaskEvent},
    task::{Task, builder::TaskBuilder, task_id::TaskId},
    worker::context::WorkerContext,
};
use sqlx::PgPool;
use tracing::{info, warn};

use super::{
    QueueSettings,
    claim::{self, ClaimedJob},
    outcome::JobOutcome,
};

/// The error type `Persistence` requires; our methods absorb failures and never return it.
#[derive(Debug, thiserror::Error)]
#[error("queue persistence: {0}")]
pub struct PersistenceError(#[from] sqlx::Error);

/// Our queue tables, as apalis sees them, for one worker loop.
#[derive(Clone)]
pub struct PgPersistence {
    pool: PgPool,
    /// The process's settings: every queue it serves, for its registration.
    settings: Arc<QueueSettings>,
    /// The one queue this loop claims from.
    queue: Arc<str>,
    /// The process's worker id: leases are held per process, so one heartbeat covers them all.
    worker_id: Arc<str>,
    /// Consecutive failed fetches, for backoff while the database is away.
    failures: u32,
    /// Whether the last claim came back short of its limit: the queue had nothing more at that
    /// moment, so the loop waits for a wake-up instead of claiming again at once (shared with
    /// the backend, which does the waiting; apalis clones this struct for every fetch).
    drained: Arc<AtomicBool>,
}

impl PgPersistence {
    /// Persistence for one worker loop of this process, claiming from `queue`.
    pub fn new(
        pool: PgPool,
        settings: Arc<QueueSettings>,
        queue: Arc<str>,
        worker_id: Arc<str>,
    ) -> Self {
        Self {
            pool,
            settings,
            queue,
            worker_id,
            failures: 0,
            drained: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag set when a claim came back short (see the field).
    pub fn drained_flag(&self) -> Arc<AtomicBool> {
        self.drained.clone()
    }

    async fn back_off(&mut self, what: &str, error: &sqlx::Error) {
        self.failures = self.failures.saturating_add(1);
        let pause = Duration::from_millis(100 * 2u64.saturating_pow(self.failures.min(6)))
            .min(Duration::from_secs(5));
        warn!(%error, worker = %self.worker_id, ?pause, "queue {what} failed; retrying");
        tokio::time::sleep(pause).await;
    }
}

impl Persistence for PgPersistence {
    type Compact = ClaimedJob;
    type Response = JobOutcome;
    type Error = PersistenceError;

    async fn register(&mut self, _worker: &WorkerContext) -> Result<(), Self::Error> {
        loop {
            match claim::register_worker(&self.pool, &self.worker_id, &self.settings.queues).await {
                Ok(()) => {
                    self.failures = 0;
                    return Ok(());
                }
                Err(error) => self.back_off("worker registration", &error).await,
            }
        }
    }

    async fn heartbeat(&mut self, _worker: &WorkerContext) -> Result<(), Self::Error> {
        // The process-wide heartbeat task is the primary one (it runs even while every slot is
        // busy); this one is a cheap extra and must never fail the worker.
        if let Err(error) = claim::heartbeat(&self.pool, &self.worker_id, self.settings.lease).await
        {
            warn!(%error, "heartbeat failed; leases may expire and be rescued");
        }
        Ok(())
    }

    async fn fetch_next(
        &mut self,
        _worker: &WorkerContext,
    ) -> Result<Vec<Task<ClaimedJob>>, Self::Error> {
        let budget = self.settings.claim_budget.as_ref();
        let limit = budget.map_or(self.settings.batch_size, |b| {
            b.reserve(self.settings.batch_size)
        });
        if limit == 0 {
            self.drained.store(true, Ordering::Relaxed);
            return Ok(Vec::new());
        }
        let claimed = claim::claim(
            &self.pool,
            &self.queue,
            &self.worker_id,
            limit,
            self.settings.lease,
        )
        .await;
        if let Some(budget) = budget {
            let got = claimed.as_ref().map_or(0, |jobs| jobs.len() as i64);
            budget.refund(limit - got);
        }
        match claimed {
            Ok(jobs) => {
                if self.failures > 0 {
                    info!(worker = %self.worker_id, "queue reachable again");
                }
                self.failures = 0;
                let short = i64::try_from(jobs.len()).unwrap_or(i64::MAX) < limit;
                self.drained.store(short, Ordering::Relaxed);
                Ok(jobs.into_iter().map(into_task).collect())
            }
            Err(error) => {
                self.back_off("claim", &error).await;
                self.drained.store(true, Ordering::Relaxed);
                Ok(Vec::new())
            }
        }
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<ClaimedJob>>,
        _worker: &WorkerContext,
    ) -> Result<u64, Self::Error> {
        let held: Vec<(i64, i64)> = tasks
            .iter()
            .map(|task| (task.args.id, task.args.lease_token))
            .collect();
        for _ in 0..5 {
            match claim::release(&self.pool, &self.worker_id, &held).await {
                Ok(count) => return Ok(count),
                Err(error) => self.back_off("release", &error).await,
            }
        }
        // Unreleased jobs keep their lease; it expires and any worker rescues them.
        Ok(0)
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<JobOutcome>>,
        _worker: &WorkerContext,
    ) -> Result<(), Self::Error> {
        // Completions travel through the fenced `CompletionSink` (they need the lease token,
        // which apalis' events do not carry); nothing else needs persisting.
        if !events.is_empty() {
            tracing::trace!(count = events.len(), "apalis task events ignored");
        }
        Ok(())
    }

    async fn push_tasks(&mut self, tasks: Vec<Task<ClaimedJob>>) -> Result<(), Self::Error> {
        let queues: Vec<String> = tasks.iter().map(|t| t.args.queue.clone()).collect();
        let kinds: Vec<String> = tasks.iter().map(|t| t.args.kind.clone()).collect();
        let payloads: Vec<serde_json::Value> =
            tasks.iter().map(|t| t.args.payload.clone()).collect();
        let max_attempts: Vec<i32> = tasks.iter().map(|t| t.args.max_attempts).collect();
        sqlx::query!(
            "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts)
             SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[])",
            &queues,
            &kinds,
            &payloads,
            &max_attempts,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn into_task(job: ClaimedJob) -> Task<ClaimedJob> {
    let id = u64::try_from(job.id).unwrap_or_default();
    // apalis counts the run it is about to start, so it gets the attempts before this claim.
    let previous = usize::try_from(job.attempts.saturating_sub(1)).unwrap_or_default();
    let max_attempts = usize::try_from(job.max_attempts).unwrap_or(1);
    TaskBuilder::new(job)
        .task_id(TaskId::Int(id))
        .attempt(previous)
        .max_attempts(max_attempts)
        .build()
}
