//! Starting and stopping a process's workers: apalis loops per queue, the notification
//! listener, the completion writer, heartbeats with lease rescue, and retention.

use std::{sync::Arc, time::Duration};

use apalis::prelude::WorkerBuilderExt;
use apalis_core::worker::{builder::WorkerBuilder, context::WorkerContext};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::{
    QueueSettings,
    backend::MalipoBackend,
    claim,
    complete::CompletionSink,
    handlers::{Dispatcher, Handlers},
    persistence::PgPersistence,
    retention,
    wake::Wakers,
};

/// A running set of workers in this process.
pub struct Runner {
    worker_id: Arc<str>,
    pool: PgPool,
    contexts: Vec<WorkerContext>,
    loops: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    sink: CompletionSink,
}

/// A worker id unique to this process, so a restart under any name never inherits leases.
pub fn unique_worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &nonce[..8])
}

impl Runner {
    /// Starts workers for `settings.queues`, dispatching to `handlers` with state `app`.
    pub async fn start<C: Clone + Send + Sync + 'static>(
        pool: PgPool,
        settings: QueueSettings,
        handlers: Handlers<C>,
        app: C,
    ) -> anyhow::Result<Self> {
        // Job metrics are recorded from here on; without a recorder they would be dropped.
        crate::telemetry::metrics::install();
        let worker_id: Arc<str> = Arc::from(unique_worker_id());
        let wakers = Wakers::new(&settings.queues);
        let sink = CompletionSink::spawn(pool.clone(), 512, Duration::from_millis(10));
        let mut background = vec![wakers.spawn_listener(pool.clone())];
        background.push(spawn_heartbeat(
            pool.clone(),
            worker_id.clone(),
            settings.clone(),
        ));
        background.push(spawn_retention(pool.clone(), settings.retention));

        let mut contexts = Vec::new();
        let mut loops = Vec::new();
        let shared_settings = Arc::new(settings.clone());
        for queue in &settings.queues {
            let loop_queue: Arc<str> = Arc::from(queue.as_str());
            for n in 0..settings.loops_per_queue.max(1) {
                let persistence = PgPersistence::new(
                    pool.clone(),
                    shared_settings.clone(),
                    loop_queue.clone(),
                    worker_id.clone(),
                );
                let backend = MalipoBackend::new(
                    persistence,
                    shared_settings.clone(),
                    wakers.subscribe(queue),
                    sink.clone(),
                    worker_id.clone(),
                );
                let context = WorkerContext::new(&format!("{worker_id}/{queue}/{n}"));
                let worker = WorkerBuilder::new(&context)
                    .backend(backend)
                    .concurrency(settings.concurrency)
                    .build(Dispatcher::new(handlers.clone(), app.clone()));
                let name = context.name().to_owned();
                loops.push(tokio::spawn(async move {
                    if let Err(error) = worker.run().await {
                        error!(worker = %name, %error, "worker loop stopped with an error");
                    }
                }));
                contexts.push(context);
            }
        }
        info!(worker = %worker_id, queues = ?settings.queues, "workers started");
        Ok(Self {
            worker_id,
            pool,
            contexts,
            loops,
            background,
            sink,
        })
    }

    /// The outcomes these workers have written so far.
    pub fn tally(&self) -> Arc<super::tally::Tally> {
        self.sink.tally()
    }

    /// This process's worker id (the `locked_by` of the jobs it holds).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Stops claiming, lets in-flight jobs finish within `grace`, releases claimed but unstarted
    /// jobs, and writes every pending completion. Jobs still running after `grace` keep their
    /// lease and are rescued by another worker when it expires.
    pub async fn shutdown(self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        for context in &self.contexts {
            stop_loop(context, deadline).await;
        }
        let aborts: Vec<_> = self.loops.iter().map(JoinHandle::abort_handle).collect();
        let finished =
            tokio::time::timeout_at(deadline, futures::future::join_all(self.loops)).await;
        if finished.is_err() {
            warn!(
                ?grace,
                "in-flight jobs did not finish in time; their leases will expire"
            );
            // A loop left running would go on claiming after its owner has moved on.
            for abort in aborts {
                abort.abort();
            }
        }
        self.sink.flush().await;
        if finished.is_ok() {
            // Every handler has returned and its completion is written, so anything this worker
            // still holds was claimed and never started — e.g. by a claim apalis abandoned in
            // flight when the loop stopped. Hand it back now rather than at lease expiry.
            match claim::release_all(&self.pool, &self.worker_id).await {
                Ok(0) => {}
                Ok(count) => info!(count, "released claimed but unstarted jobs"),
                Err(error) => {
                    warn!(%error, "could not release held jobs; their leases will expire")
                }
            }
        }
        for task in &self.background {
            task.abort();
        }
        if let Err(error) =
            sqlx::query!("DELETE FROM malipo_workers WHERE id = $1", &*self.worker_id)
                .execute(&self.pool)
                .await
        {
            warn!(%error, "could not deregister worker");
        }
        info!(worker = %self.worker_id, "workers stopped");
    }
}

/// Stops one apalis loop. A loop whose task has not been polled yet refuses `stop` (apalis
/// starts the context on the first poll) and would then run forever, so wait for it to start —
/// a drain of an empty queue stops its runner within microseconds of starting it.
async fn stop_loop(context: &WorkerContext, deadline: tokio::time::Instant) {
    loop {
        match context.stop() {
            Ok(()) => return,
            Err(_) if context.is_pending() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(error) => {
                warn!(worker = %context.name(), %error, "worker loop could not be stopped");
                return;
            }
        }
    }
}

fn spawn_heartbeat(pool: PgPool, worker_id: Arc<str>, settings: QueueSettings) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = claim::heartbeat(&pool, &worker_id, settings.lease).await {
                warn!(%error, "heartbeat failed");
                continue;
            }
            match claim::rescue_expired(&pool).await {
                Ok(0) => {}
                Ok(count) => warn!(count, "rescued jobs whose lease expired"),
                Err(error) => warn!(%error, "lease rescue failed"),
            }
            let _ = claim::forget_stale_workers(&pool, settings.lease * 10).await;
        }
    })
}

fn spawn_retention(pool: PgPool, retention_period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match retention::prune_all_done(&pool, retention_period, 5_000).await {
                Ok(0) => {}
                Ok(count) => info!(count, "pruned done jobs past retention"),
                Err(error) => warn!(%error, "pruning done jobs failed"),
            }
        }
    })
}
